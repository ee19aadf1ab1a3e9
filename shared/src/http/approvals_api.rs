//! The host's HTTP API: signed requests to create approvals, read them, and route channels.

use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde_json::{json, Value};

use super::{error_response, header, json_response, path_and_query, raw_body};
use crate::adapters::dynamo::DynamoStore;
use crate::adapters::slack_http::SlackHttpClient;
use crate::config::{required_env, slack_api_base_url, ConfigError};
use crate::crypto::TokenCipher;
use crate::domain::{Approval, ApprovalRequest};
use crate::ports::{ApprovalStore, SlackApi, TenantStore};
use crate::signing::verify_host_request;
use crate::usecases::create_approval::{CreateApproval, CreateApprovalError, Created};
use crate::usecases::decide::rfc3339;
use crate::usecases::set_channel::{set_channel, SetChannelError};

pub struct ApprovalsApi {
    pub approvals: Arc<dyn ApprovalStore>,
    pub tenants: Arc<dyn TenantStore>,
    pub slack: Arc<dyn SlackApi>,
    pub host_api_secret: String,
}

impl ApprovalsApi {
    /// Cold-start wiring: SDK clients, the secret and the Slack client, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let table = required_env("APP_TABLE")?;
        let aws = crate::adapters::aws_config().await;
        let secrets = crate::adapters::secrets::load_app_secrets(
            &aws_sdk_secretsmanager::Client::new(&aws),
            &required_env("APP_SECRET_ID")?,
        )
        .await?;
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table,
            TokenCipher::new(secrets.encryption_key()?),
        ));
        Ok(Self {
            approvals: store.clone(),
            tenants: store,
            slack: Arc::new(SlackHttpClient::new(slack_api_base_url())),
            host_api_secret: secrets.host_api_secret,
        })
    }

    pub async fn handle(&self, event: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let Ok(body) = raw_body(event) else {
            return error_response(400, "invalid_body", "body: not valid base64");
        };
        let method = event.request_context.http.method.as_str();
        if let Err(error) = verify_host_request(
            self.host_api_secret.as_bytes(),
            header(event, "x-approvals-timestamp"),
            header(event, "x-approvals-signature"),
            method,
            &path_and_query(event),
            &body,
            crate::unix_now(),
        ) {
            return error_response(401, "invalid_signature", error.to_string());
        }
        let path = event.raw_path.as_deref().unwrap_or("/");
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["v1", "approvals"]) => self.create(&body).await,
            ("GET", ["v1", "approvals", id]) => {
                let tenant = event.query_string_parameters.first("tenant_id");
                self.get(id, tenant).await
            }
            ("PUT", ["v1", "tenants", tenant_id, "channels", kind]) => {
                match set_channel(self.tenants.as_ref(), tenant_id, kind, &body).await {
                    Ok(channel_id) => json_response(
                        200,
                        &json!({"tenant_id": tenant_id, "kind": kind, "channel_id": channel_id}),
                    ),
                    Err(SetChannelError::Invalid(error)) => {
                        error_response(400, "invalid_request", error.to_string())
                    }
                    Err(SetChannelError::Store(error)) => internal(&error),
                }
            }
            (
                _,
                ["v1", "approvals"] | ["v1", "approvals", _] | ["v1", "tenants", _, "channels", _],
            ) => error_response(
                405,
                "method_not_allowed",
                format!("{method} is not allowed on {path}"),
            ),
            _ => error_response(404, "not_found", format!("no route for {method} {path}")),
        }
    }

    async fn create(&self, body: &[u8]) -> ApiGatewayV2httpResponse {
        let request = match ApprovalRequest::from_json(body) {
            Ok(request) => request,
            Err(error) => return error_response(400, "invalid_request", error.to_string()),
        };
        let use_case = CreateApproval {
            approvals: self.approvals.as_ref(),
            tenants: self.tenants.as_ref(),
            slack: self.slack.as_ref(),
        };
        match use_case.run(request, crate::unix_now()).await {
            Ok(Created::New(approval)) => json_response(201, &approval_body(&approval)),
            Ok(Created::Existing(approval)) => json_response(200, &approval_body(&approval)),
            Err(error) => create_error_response(error),
        }
    }

    async fn get(&self, id: &str, tenant_id: Option<&str>) -> ApiGatewayV2httpResponse {
        let Some(tenant_id) = tenant_id.filter(|t| !t.is_empty()) else {
            return error_response(
                400,
                "invalid_request",
                "tenant_id: query parameter is required",
            );
        };
        match self.approvals.get(id).await {
            // Another tenant's approval is reported exactly like a missing one.
            Ok(Some(approval)) if approval.request.tenant_id == tenant_id => {
                json_response(200, &approval_body(&approval))
            }
            Ok(_) => error_response(
                404,
                "not_found",
                format!("no approval {id} for tenant {tenant_id}"),
            ),
            Err(error) => internal(&error),
        }
    }
}

fn create_error_response(error: CreateApprovalError) -> ApiGatewayV2httpResponse {
    let message = error.to_string();
    match error {
        CreateApprovalError::Invalid(_) => error_response(400, "invalid_request", message),
        CreateApprovalError::NotConnected => error_response(409, "slack_not_connected", message),
        CreateApprovalError::NoChannel(_) => {
            error_response(400, "invalid_request", format!("channel_id: {message}"))
        }
        CreateApprovalError::Conflict => error_response(409, "conflict", message),
        CreateApprovalError::ChannelUnavailable(_) => {
            error_response(400, "invalid_request", format!("channel_id: {message}"))
        }
        CreateApprovalError::SlackRejected(_) => error_response(502, "slack_error", message),
        CreateApprovalError::SlackUnavailable(_) => {
            error_response(503, "slack_unavailable", message)
        }
        CreateApprovalError::Store(error) => internal(&error),
    }
}

fn internal(error: &dyn std::error::Error) -> ApiGatewayV2httpResponse {
    tracing::error!(%error, "request failed on our side");
    error_response(
        500,
        "internal_error",
        "the request could not be completed; retry it",
    )
}

/// The approval as the host sees it.
pub fn approval_body(approval: &Approval) -> Value {
    let decision = approval.decision.as_ref();
    json!({
        "id": approval.id,
        "tenant_id": approval.request.tenant_id,
        "external_id": approval.request.external_id,
        "kind": approval.request.kind,
        "status": approval.status,
        "created_at": rfc3339(approval.created_at),
        "decided_by": decision.map(|d| d.decided_by.clone()),
        "decided_at": decision.map(|d| rfc3339(d.decided_at)),
        "slack": {
            "team_id": approval.installation_id,
            "channel_id": approval.message.as_ref().map(|m| m.channel_id.clone()),
            "message_ts": approval.message.as_ref().map(|m| m.message_ts.clone()),
        },
    })
}
