//! API Gateway (HTTP API, payload v2) entrypoints and the helpers they share.

pub mod approvals_api;
pub mod oauth_callback;
pub mod slack_events;
pub mod slack_interactions;

use std::borrow::Cow;

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::http::HeaderValue;
use base64::Engine as _;
use serde_json::{json, Value};

/// The body exactly as the client sent it: base64 bodies are decoded to bytes, never
/// round-tripped through text, because signatures cover the raw bytes.
pub fn raw_body(event: &ApiGatewayV2httpRequest) -> Result<Cow<'_, [u8]>, base64::DecodeError> {
    let body = event.body.as_deref().unwrap_or_default();
    if event.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(body.as_bytes()))
    }
}

/// Header lookup; `HeaderMap` names are case-insensitive.
pub fn header<'a>(event: &'a ApiGatewayV2httpRequest, name: &str) -> Option<&'a str> {
    event
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// The path (and `?query` when present) the host signed.
pub fn path_and_query(event: &ApiGatewayV2httpRequest) -> String {
    let path = event
        .raw_path
        .as_deref()
        .or(event.request_context.http.path.as_deref())
        .unwrap_or("/");
    match event.raw_query_string.as_deref() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    }
}

pub fn response(
    status: u16,
    content_type: Option<&str>,
    body: Option<String>,
) -> ApiGatewayV2httpResponse {
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(status);
    if let Some(content_type) = content_type {
        answer.headers.insert(
            "content-type",
            HeaderValue::from_str(content_type).expect("static content type"),
        );
    }
    answer.body = body.map(Body::Text);
    answer
}

pub fn json_response(status: u16, body: &Value) -> ApiGatewayV2httpResponse {
    response(status, Some("application/json"), Some(body.to_string()))
}

/// Every API error has this shape: `{"error": "<code>", "message": "…"}`.
pub fn error_response(
    status: u16,
    code: &str,
    message: impl Into<String>,
) -> ApiGatewayV2httpResponse {
    json_response(status, &json!({"error": code, "message": message.into()}))
}

pub fn empty_response(status: u16) -> ApiGatewayV2httpResponse {
    response(status, None, None)
}
