//! HTTP plumbing of the API Gateway functions: one error shape, the request target the
//! client signed, and an axum `Router` run on `lambda_http` behind any HTTP event source
//! (HTTP API payload v2, REST API payload v1, Lambda Function URL).

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use lambda_http::request::RequestContext;
use serde_json::{json, Value};
use tower::ServiceExt as _;

/// Runs the router as the function's handler until Lambda stops the process, printing each
/// invocation's counters after it.
pub async fn run(router: Router, emf: crate::emf::Emf) -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(
        move |request: lambda_http::Request| {
            let router = router.clone();
            async move {
                let answer = serve(router, request).await;
                emf.flush();
                answer
            }
        },
    ))
    .await
}

/// One request through the router, after [`RequestTarget`] is recorded and the stage
/// prefix is taken off the path so routes read the same behind every event source.
pub async fn serve(router: Router, request: lambda_http::Request) -> Result<Response, Infallible> {
    let (mut parts, body) = request.into_parts();
    let stage = match parts.extensions.get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV1(context)) => context.stage.clone(),
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        _ => None,
    };
    let target = RequestTarget::new(&parts.uri, stage.as_deref());
    if let Ok(uri) = target.routed().parse() {
        parts.uri = uri;
    }
    parts.extensions.insert(target);
    router
        .oneshot(Request::from_parts(parts, Body::new(body)))
        .await
}

/// Invokes the router with a Lambda HTTP event exactly as [`run`] would: the event's JSON
/// in (any HTTP shape `lambda_http` accepts), the Lambda response's JSON out. The local
/// gateway and the tests drive the functions through it.
pub async fn invoke(router: &Router, event: Value) -> Result<Value, InvokeError> {
    use lambda_http::Service as _;
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_value(event).map_err(InvokeError::Event)?;
    let router = router.clone();
    // The adapter itself is not `Send`; only its future is kept across the await.
    let response = {
        let mut adapter = lambda_http::Adapter::from(lambda_http::service_fn(
            move |request: lambda_http::Request| serve(router.clone(), request),
        ));
        let context = lambda_http::Context::default();
        adapter.call(lambda_http::LambdaEvent::new(request, context))
    }
    .await
    .map_err(|never| match never {})?;
    serde_json::to_value(response).map_err(InvokeError::Response)
}

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the event is not an HTTP event lambda_http accepts: {0}")]
    Event(serde_json::Error),
    #[error("the response did not serialise: {0}")]
    Response(serde_json::Error),
}

/// The path and query as the client sent them, and the same without the API stage.
///
/// On a REST API or a named HTTP API stage the client calls `/{stage}/v1/…` (and signs
/// that), while behind a custom domain it calls `/v1/…`. Routes always see the second;
/// signatures are checked against what the client could have signed.
#[derive(Clone, Debug)]
pub struct RequestTarget {
    pub as_sent: String,
    pub stage_relative: String,
}

impl RequestTarget {
    fn new(uri: &axum::http::Uri, stage: Option<&str>) -> Self {
        let path = uri.path();
        let routed_path = match stage.filter(|s| !s.is_empty() && *s != "$default") {
            Some(stage) => match path.strip_prefix(&format!("/{stage}")) {
                Some("") => "/",
                Some(rest) if rest.starts_with('/') => rest,
                _ => path,
            },
            None => path,
        };
        let with_query = |path: &str| match uri.query() {
            Some(query) if !query.is_empty() => format!("{path}?{query}"),
            _ => path.to_owned(),
        };
        Self {
            as_sent: with_query(path),
            stage_relative: with_query(routed_path),
        }
    }

    fn routed(&self) -> &str {
        &self.stage_relative
    }

    /// The forms a client may have signed: as sent first, then relative to the stage.
    pub fn signable(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.as_sent.as_str())
            .chain((self.stage_relative != self.as_sent).then_some(self.stage_relative.as_str()))
    }
}

/// The request's target as recorded by [`serve`]; derived from the URI when the router
/// is called directly.
pub fn request_target(parts: &axum::http::request::Parts) -> RequestTarget {
    parts
        .extensions
        .get::<RequestTarget>()
        .cloned()
        .unwrap_or_else(|| RequestTarget::new(&parts.uri, None))
}

/// Unknown routes and methods answer in the API's error shape, not with an empty body.
pub fn with_json_fallbacks<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .fallback(|method: Method, uri: Uri| async move {
            error_response(
                404,
                "not_found",
                format!("no route for {method} {}", uri.path()),
            )
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            error_response(
                405,
                "method_not_allowed",
                format!("{method} is not allowed on {}", uri.path()),
            )
        })
}

/// Slack's v0 signature over the raw body, by the current signing secret or a previous one
/// (a rotation under way: let through, with a warning). The refusal is the 401 to answer.
pub async fn verify_slack_request(
    secrets: &dyn approvals_core::config::LiveSecrets,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Response> {
    use approvals_core::signing::{verify_slack_with, SignatureError, SignedWith};
    let verify = |keys: &approvals_core::config::RequestSecrets| {
        verify_slack_with(
            &keys.slack_signing.all(),
            header(headers, "x-slack-request-timestamp"),
            header(headers, "x-slack-signature"),
            body,
            now,
        )
    };
    let mut verified = verify(secrets.request_secrets().await.as_ref());
    if verified == Err(SignatureError::Mismatch) {
        // Regenerated in Slack a moment ago? Read it now rather than refuse until the
        // cache expires.
        if let Some(fresh) = secrets.reread_after_refusal().await {
            verified = verify(&fresh);
        }
    }
    match verified {
        Ok(SignedWith::Current) => Ok(()),
        Ok(SignedWith::Previous(n)) => {
            tracing::warn!(previous = n,
                "a Slack request was signed with a previous signing secret; finish the rotation in Slack");
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, "refused an unsigned or badly signed Slack request");
            Err(error_response(401, "invalid_signature", error.to_string()))
        }
    }
}

/// Header lookup; `HeaderMap` names are case-insensitive.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

pub fn json_response(status: u16, body: &Value) -> Response {
    with_status(
        status,
        ([("content-type", "application/json")], body.to_string()).into_response(),
    )
}

/// Every API error has this shape: `{"error": "<code>", "message": "…"}`.
pub fn error_response(status: u16, code: &str, message: impl Into<String>) -> Response {
    json_response(status, &json!({"error": code, "message": message.into()}))
}

/// A refusal a handler returns with `?`; it becomes [`error_response`] once, at the edge.
#[derive(Debug)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// A 400 `invalid_request` whose message names the field.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "invalid_request",
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(self.status, self.code, self.message)
    }
}

pub fn empty_response(status: u16) -> Response {
    with_status(status, Response::new(Body::empty()))
}

/// A 500 whose cause is logged, never shown: the caller may retry, and learns nothing
/// about our insides.
pub fn internal_error(error: &dyn std::error::Error) -> Response {
    tracing::error!(%error, "request failed on our side");
    error_response(
        500,
        "internal_error",
        "the request could not be completed; retry it",
    )
}

/// An HTML page (the install routes' refusals).
pub fn html_response(status: u16, html: String) -> Response {
    with_status(
        status,
        ([("content-type", "text/html; charset=utf-8")], html).into_response(),
    )
}

/// A 302 to `location`, never cached.
pub fn redirect(location: &str) -> Response {
    let mut answer = empty_response(302);
    if let Ok(value) = HeaderValue::from_str(location) {
        answer.headers_mut().insert("location", value);
    }
    answer
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    answer
}

fn with_status(status: u16, mut response: Response) -> Response {
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str, stage: Option<&str>) -> RequestTarget {
        RequestTarget::new(&uri.parse().unwrap(), stage)
    }

    #[test]
    fn a_named_stage_is_taken_off_the_routed_path_only() {
        let target = target(
            "https://x.example/Prod/v1/approvals?tenant_id=a",
            Some("Prod"),
        );
        assert_eq!(target.routed(), "/v1/approvals?tenant_id=a");
        assert_eq!(
            target.signable().collect::<Vec<_>>(),
            [
                "/Prod/v1/approvals?tenant_id=a",
                "/v1/approvals?tenant_id=a"
            ]
        );
    }

    #[test]
    fn the_default_stage_and_no_stage_leave_the_path_alone() {
        for stage in [None, Some("$default")] {
            let target = target("https://x.example/v1/approvals", stage);
            assert_eq!(target.routed(), "/v1/approvals");
            assert_eq!(target.signable().count(), 1);
        }
    }

    #[test]
    fn a_path_that_merely_starts_like_the_stage_is_kept() {
        let target = target("https://x.example/Production/v1", Some("Prod"));
        assert_eq!(target.routed(), "/Production/v1");
    }
}
