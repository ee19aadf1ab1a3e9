//! One handler behind every HTTP event source Lambda offers: an HTTP API (payload v2), a REST
//! API (payload v1, with its stage in the path) and a Function URL. Each test sends the same
//! request in the three shapes and expects the same answer, in the shape of its source.

use serde_json::{json, Map, Value};

use crate::common::{invoke, Stack};

#[derive(Clone, Copy, Debug)]
enum Source {
    HttpApi,
    RestApi,
    FunctionUrl,
}

const SOURCES: [Source; 3] = [Source::HttpApi, Source::RestApi, Source::FunctionUrl];

/// The REST API's stage: clients call `/Prod/…` on its default domain.
const STAGE: &str = "Prod";

struct Call<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a [(&'a str, &'a str)],
    headers: &'a [(&'a str, &'a str)],
    cookies: &'a [&'a str],
    body: Option<(&'a [u8], bool)>,
}

impl Call<'_> {
    /// The event `source` hands Lambda for this request.
    fn event(&self, source: Source) -> Value {
        let query_string = serde_urlencoded::to_string(self.query).unwrap();
        let mut headers: Map<String, Value> = self
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let (body, base64) = match self.body {
            Some((bytes, true)) => (
                json!(base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    bytes
                )),
                true,
            ),
            Some((bytes, false)) => (json!(String::from_utf8(bytes.to_vec()).unwrap()), false),
            None => (Value::Null, false),
        };
        match source {
            Source::RestApi => {
                if !self.cookies.is_empty() {
                    headers.insert("Cookie".into(), json!(self.cookies.join("; ")));
                }
                let single: Map<String, Value> = self
                    .query
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                let multi: Map<String, Value> = self
                    .query
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!([v])))
                    .collect();
                let multi_headers: Map<String, Value> = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), json!([v])))
                    .collect();
                json!({
                    "resource": "/{proxy+}", "path": self.path, "httpMethod": self.method,
                    "headers": headers, "multiValueHeaders": multi_headers,
                    "queryStringParameters": if single.is_empty() { Value::Null } else { json!(single) },
                    "multiValueQueryStringParameters": if multi.is_empty() { Value::Null } else { json!(multi) },
                    "pathParameters": {"proxy": self.path.trim_start_matches('/')},
                    "stageVariables": null,
                    "requestContext": {
                        "accountId": "123456789012", "resourceId": "abc123", "stage": STAGE,
                        "requestId": "rest-1", "requestTimeEpoch": 0, "httpMethod": self.method,
                        "path": format!("/{STAGE}{}", self.path), "resourcePath": "/{proxy+}",
                        "protocol": "HTTP/1.1", "apiId": "restapi",
                        "identity": {"sourceIp": "127.0.0.1", "userAgent": "test"},
                    },
                    "body": body, "isBase64Encoded": base64,
                })
            }
            Source::HttpApi | Source::FunctionUrl => {
                let (domain, api_id) = match source {
                    Source::FunctionUrl => ("abc.lambda-url.us-east-1.on.aws", "abc"),
                    _ => ("api.execute-api.us-east-1.amazonaws.com", "httpapi"),
                };
                let mut event = json!({
                    "version": "2.0", "routeKey": "$default", "rawPath": self.path,
                    "rawQueryString": query_string, "headers": headers,
                    "requestContext": {
                        "accountId": "123456789012", "apiId": api_id, "domainName": domain,
                        "domainPrefix": api_id,
                        "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1",
                                 "sourceIp": "127.0.0.1", "userAgent": "test"},
                        "requestId": "v2-1", "routeKey": "$default", "stage": "$default",
                        "timeEpoch": 0,
                    },
                    "body": body, "isBase64Encoded": base64,
                });
                if !self.cookies.is_empty() {
                    event["cookies"] = json!(self.cookies);
                }
                if !self.query.is_empty() {
                    let single: Map<String, Value> = self
                        .query
                        .iter()
                        .map(|(k, v)| (k.to_string(), json!(v)))
                        .collect();
                    event["queryStringParameters"] = json!(single);
                }
                event
            }
        }
    }
}

/// The path a host signs on `source`: on a REST API's default domain, the stage is part of it.
fn signed_path(source: Source, path_and_query: &str) -> String {
    match source {
        Source::RestApi => format!("/{STAGE}{path_and_query}"),
        Source::HttpApi | Source::FunctionUrl => path_and_query.to_owned(),
    }
}

#[tokio::test]
async fn the_host_api_answers_alike_behind_each_source() {
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-SOURCES").await;
    let path = format!("/v1/approvals/{id}");
    let path_and_query = format!("{path}?tenant_id={}", stack.tenant_id);
    for source in SOURCES {
        let now = approvals_core::time::unix_now();
        let timestamp = now.to_string();
        let signature = approvals_core::signing::sign_host_request(
            stack.secrets.host_api_secret.as_bytes(),
            now,
            "GET",
            &signed_path(source, &path_and_query),
            b"",
        );
        let call = Call {
            method: "GET",
            path: &path,
            query: &[("tenant_id", &stack.tenant_id)],
            headers: &[
                ("x-approvals-timestamp", &timestamp),
                ("x-approvals-signature", &signature),
            ],
            cookies: &[],
            body: None,
        };
        let (status, body) = invoke(&stack.api_router, call.event(source)).await;
        assert_eq!(status, 200, "{source:?}: {body}");
        assert_eq!(body["id"], id.as_str(), "{source:?}");
        assert_eq!(body["slack"]["channel_id"], channel.as_str());
        assert_eq!(body["slack"]["message_ts"], ts.as_str());

        // A signature over another path is refused behind every source.
        let forged = approvals_core::signing::sign_host_request(
            stack.secrets.host_api_secret.as_bytes(),
            now,
            "GET",
            &format!("/v1/approvals/apr_other?tenant_id={}", stack.tenant_id),
            b"",
        );
        let call = Call {
            headers: &[
                ("x-approvals-timestamp", &timestamp),
                ("x-approvals-signature", &forged),
            ],
            ..call
        };
        let (status, body) = invoke(&stack.api_router, call.event(source)).await;
        assert_eq!(status, 401, "{source:?}: {body}");
        assert_eq!(body["error"], "invalid_signature");
    }
}

#[tokio::test]
async fn a_rest_api_host_may_sign_the_path_without_the_stage() {
    let stack = Stack::start().await;
    let body = stack.approval_body("DR-CUSTOM-DOMAIN").to_string();
    let now = approvals_core::time::unix_now();
    let signature = approvals_core::signing::sign_host_request(
        stack.secrets.host_api_secret.as_bytes(),
        now,
        "POST",
        "/v1/approvals",
        body.as_bytes(),
    );
    let timestamp = now.to_string();
    let call = Call {
        method: "POST",
        path: "/v1/approvals",
        query: &[],
        headers: &[
            ("content-type", "application/json"),
            ("x-approvals-timestamp", &timestamp),
            ("x-approvals-signature", &signature),
        ],
        cookies: &[],
        body: Some((body.as_bytes(), false)),
    };
    let (status, answer) = invoke(&stack.api_router, call.event(Source::RestApi)).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["external_id"], "DR-CUSTOM-DOMAIN");
}

#[tokio::test]
async fn a_click_is_queued_behind_each_source() {
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("DR-CLICKS").await;
    for source in SOURCES {
        let form = stack
            .slack
            .click_payload(&channel, &ts, "approve", &format!("U000{}", stack.team_id))
            .unwrap();
        let (timestamp, signature) = stack.slack.sign(&form);
        let call = Call {
            method: "POST",
            path: "/slack/interactions",
            query: &[],
            headers: &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-slack-request-timestamp", &timestamp),
                ("x-slack-signature", &signature),
            ],
            cookies: &[],
            // API Gateway and Function URLs hand form posts over base64-encoded.
            body: Some((form.as_bytes(), true)),
        };
        let (status, body) = invoke(&stack.interactions_router, call.event(source)).await;
        assert_eq!(status, 200, "{source:?}: {body}");
    }
    let queued = stack.drain_queue().await;
    assert_eq!(queued.len(), SOURCES.len());
    for record in queued {
        assert!(record.body.unwrap().contains(&id));
    }
}

#[tokio::test]
async fn cookies_travel_in_each_sources_own_shape() {
    let stack = Stack::start().await;
    let oauth = stack.oauth_router.clone();
    for source in SOURCES {
        let call = Call {
            method: "GET",
            path: "/slack/oauth/callback",
            query: &[("state", "unknown"), ("code", "c")],
            headers: &[],
            cookies: &["slack_oauth_state=not-ours", "other=1"],
            body: None,
        };
        let answer = approvals_lambda::http::invoke(&oauth, call.event(source))
            .await
            .unwrap();
        assert_eq!(answer["statusCode"], 400, "{source:?}: {answer}");
        // The state cookie is cleared whatever happened, in the shape the source reads.
        let cleared = match source {
            Source::RestApi => answer["multiValueHeaders"]["set-cookie"][0].clone(),
            Source::HttpApi | Source::FunctionUrl => answer["cookies"][0].clone(),
        };
        let cleared = cleared.as_str().unwrap_or_default();
        assert!(
            cleared.starts_with("slack_oauth_state=;") && cleared.contains("Max-Age=0"),
            "{source:?}: {answer}"
        );
        assert!(
            answer["body"]
                .as_str()
                .unwrap()
                .contains("did not complete"),
            "{source:?}: {answer}"
        );
    }
}

#[tokio::test]
async fn the_state_cookie_is_scoped_to_the_stage_the_browser_sees() {
    let stack = Stack::start().await;
    let behind_rest_api = std::sync::Arc::new(oauth_callback::OAuthCallback {
        flow: stack.api.install_flow.clone(),
        tenants: stack.api.tenants.clone(),
        oauth: stack.api.oauth.clone(),
        notifier: stack.api.notifier.clone(),
        follow_up: stack.api.follow_up.clone(),
        install: approvals_core::usecases::install::InstallSettings {
            public_base_url: format!("https://restapi.execute-api.us-east-1.amazonaws.com/{STAGE}"),
            ..stack.api.install.clone()
        },
    })
    .router();
    let call = Call {
        method: "GET",
        path: "/slack/oauth/callback",
        query: &[("error", "access_denied")],
        headers: &[],
        cookies: &[],
        body: None,
    };
    let answer = approvals_lambda::http::invoke(&behind_rest_api, call.event(Source::RestApi))
        .await
        .unwrap();
    let cookie = answer["multiValueHeaders"]["set-cookie"][0]
        .as_str()
        .unwrap_or_default();
    // The browser calls /Prod/slack/…: a cookie scoped to /slack would never come back.
    assert!(cookie.contains("Path=/Prod/slack;"), "{answer}");
}
