//! The host's HTTP API: signed requests to create approvals, read them, and route channels.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use serde_json::{json, Value};

use super::{error_response, header, json_response, path_and_query, raw_body};
use crate::backend::Backend;
use crate::config::ConfigError;
use crate::domain::{check_identifier, looks_like_approval_id, Approval, ApprovalRequest};
use crate::signing::verify_host_request;
use crate::usecases::connection::{disconnect_tenant, status_body};
use crate::usecases::create_approval::{CreateApproval, CreateApprovalError, Created};
use crate::usecases::decide::rfc3339;
use crate::usecases::install::{InstallError, InstallSettings};
use crate::usecases::set_channel::{set_channel, SetChannelError};

pub struct ApprovalsApi {
    pub backend: Backend,
    pub install: InstallSettings,
}

impl ApprovalsApi {
    /// Cold-start wiring: SDK clients, the secret and the Slack client, built once.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let backend = Backend::from_env().await?;
        let install = backend.install_settings_from_env()?;
        Ok(Self { backend, install })
    }

    pub async fn handle(&self, event: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let Ok(body) = raw_body(event) else {
            return error_response(400, "invalid_body", "body: not valid base64");
        };
        let method = event.request_context.http.method.as_str();
        if let Err(error) = verify_host_request(
            self.backend.secrets.host_api_secret.as_bytes(),
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
        if let ["v1", "tenants", tenant_id, ..] = segments.as_slice() {
            if let Err(error) = check_identifier("tenant_id", tenant_id) {
                return error_response(400, "invalid_request", error.to_string());
            }
        }
        match (method, segments.as_slice()) {
            ("POST", ["v1", "approvals"]) => self.create(&body).await,
            ("GET", ["v1", "approvals", id]) => {
                let tenant = event.query_string_parameters.first("tenant_id");
                self.get(id, tenant).await
            }
            ("PUT", ["v1", "tenants", tenant_id, "channels", kind]) => {
                match set_channel(self.backend.tenants.as_ref(), tenant_id, kind, &body).await {
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
            ("POST", ["v1", "tenants", tenant_id, "slack", "install-links"]) => {
                match self
                    .backend
                    .install_flow(&self.install)
                    .create_link(tenant_id, &body, crate::unix_now())
                    .await
                {
                    Ok((url, expires_at)) => {
                        json_response(201, &json!({"url": url, "expires_at": rfc3339(expires_at)}))
                    }
                    Err(InstallError::Invalid(error)) => {
                        error_response(400, "invalid_request", error.to_string())
                    }
                    Err(error) => internal(&error),
                }
            }
            ("GET", ["v1", "tenants", tenant_id, "slack"]) => {
                match self.backend.tenants.link(tenant_id).await {
                    Ok(link) => json_response(200, &status_body(tenant_id, link.as_ref())),
                    Err(error) => internal(&error),
                }
            }
            ("DELETE", ["v1", "tenants", tenant_id, "slack"]) => {
                let disconnected = disconnect_tenant(
                    self.backend.tenants.as_ref(),
                    self.backend.oauth.as_ref(),
                    self.backend.tokens.as_ref(),
                    self.backend.notifier.as_ref(),
                    tenant_id,
                    crate::unix_now(),
                )
                .await;
                match disconnected {
                    Ok(Some(link)) => json_response(200, &status_body(tenant_id, Some(&link))),
                    Ok(None) => error_response(
                        404,
                        "not_connected",
                        format!("tenant {tenant_id} never connected Slack"),
                    ),
                    Err(error) => internal(&error),
                }
            }
            (
                _,
                ["v1", "approvals"]
                | ["v1", "approvals", _]
                | ["v1", "tenants", _, "channels", _]
                | ["v1", "tenants", _, "slack"]
                | ["v1", "tenants", _, "slack", "install-links"],
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
            approvals: self.backend.approvals.as_ref(),
            tenants: self.backend.tenants.as_ref(),
            slack: self.backend.slack.as_ref(),
            tokens: self.backend.tokens.as_ref(),
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
        if !looks_like_approval_id(id) {
            return error_response(404, "not_found", format!("no approval {id}"));
        }
        match self.backend.approvals.get(id).await {
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
        CreateApprovalError::InProgress => error_response(409, "in_progress", message),
        CreateApprovalError::ChannelUnavailable(_) => {
            error_response(400, "invalid_request", format!("channel_id: {message}"))
        }
        CreateApprovalError::SlackRejected(_) => error_response(502, "slack_error", message),
        CreateApprovalError::SlackUnavailable(_) | CreateApprovalError::TokenUnavailable(_) => {
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
