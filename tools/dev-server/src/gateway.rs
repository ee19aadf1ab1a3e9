//! An API Gateway HTTP API stand-in: turns HTTP requests into payload-v2 events, invokes the
//! function whose route matches exactly as `lambda_http` does on Lambda, and turns its
//! answer back into HTTP.

use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use aws_lambda_events::encodings::Body;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Map, Value};

/// A route as `template.yaml` declares it: a method (`ANY` for all) and a path, where a
/// trailing `{proxy+}` matches the rest.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Router,
}

impl Route {
    fn matches(&self, method: &Method, path: &str) -> bool {
        let method_ok = self.method == "ANY" || self.method == method.as_str();
        let path_ok = match self.path.strip_suffix("{proxy+}") {
            Some(prefix) => path.starts_with(prefix) && path.len() > prefix.len(),
            None => path == self.path,
        };
        method_ok && path_ok
    }
}

/// The routes of `template.yaml`'s HttpApi.
pub fn template_routes(
    api: Router,
    interactions: Router,
    oauth: Router,
    events: Router,
) -> Vec<Route> {
    vec![
        Route {
            method: "ANY",
            path: "/v1/{proxy+}",
            function: api,
        },
        Route {
            method: "POST",
            path: "/slack/interactions",
            function: interactions,
        },
        Route {
            method: "GET",
            path: "/slack/install",
            function: oauth.clone(),
        },
        Route {
            method: "GET",
            path: "/slack/oauth/callback",
            function: oauth,
        },
        Route {
            method: "POST",
            path: "/slack/events",
            function: events,
        },
    ]
}

pub fn router(routes: Vec<Route>) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(Arc::new(routes))
}

/// Serves on a free loopback port; returns the base URL.
pub async fn start(routes: Vec<Route>) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = router(routes);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

async fn dispatch(
    State(routes): State<Arc<Vec<Route>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(route) = routes.iter().find(|r| r.matches(&method, uri.path())) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Not Found"})),
        )
            .into_response();
    };
    let event = to_event(&method, &uri, &headers, &body);
    match approvals_lambda::http::invoke(&route.function, event)
        .await
        .and_then(|answer| {
            serde_json::from_value::<ApiGatewayV2httpResponse>(answer)
                .map_err(approvals_lambda::http::InvokeError::Response)
        }) {
        Ok(answer) => to_response(answer),
        Err(error) => (
            StatusCode::BAD_GATEWAY,
            axum::Json(json!({"message": error.to_string()})),
        )
            .into_response(),
    }
}

fn is_text(content_type: &str) -> bool {
    content_type.starts_with("application/json") || content_type.starts_with("text/")
}

/// Builds the payload-v2 event. Like API Gateway, only JSON and text bodies stay text;
/// everything else (form posts included) arrives base64-encoded.
pub fn to_event(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> Value {
    let mut header_map = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in headers {
        let value = value.to_str().unwrap_or_default().to_owned();
        if name == "cookie" {
            cookies.extend(value.split(';').map(|c| Value::String(c.trim().to_owned())));
            continue;
        }
        match header_map.get_mut(name.as_str()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                header_map.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let (body, base64_encoded) = if body.is_empty() {
        (Value::Null, false)
    } else if is_text(content_type) {
        (
            Value::String(String::from_utf8_lossy(body).into_owned()),
            false,
        )
    } else {
        (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    };
    let query = uri.query().unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut parameters = Map::new();
    for (key, value) in pairs {
        parameters.insert(key, Value::String(value));
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": uri.path(),
        "rawQueryString": query,
        "headers": header_map,
        "queryStringParameters": parameters,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "localhost", "domainPrefix": "local",
            "http": {"method": method.as_str(), "path": uri.path(), "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or_default()},
            "requestId": format!("local-{now_ms}"), "routeKey": "$default", "stage": "$default", "timeEpoch": now_ms,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    event
}

pub fn to_response(answer: ApiGatewayV2httpResponse) -> Response {
    let status = StatusCode::from_u16(answer.status_code as u16).unwrap_or(StatusCode::BAD_GATEWAY);
    let body: Vec<u8> = match answer.body {
        Some(Body::Text(text)) if answer.is_base64_encoded => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .unwrap_or_default()
        }
        Some(Body::Text(text)) => text.into_bytes(),
        Some(Body::Binary(bytes)) => bytes,
        _ => Vec::new(),
    };
    let mut response = (status, body).into_response();
    for (name, value) in &answer.headers {
        response.headers_mut().insert(name, value.clone());
    }
    for cookie in &answer.cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            response.headers_mut().append("set-cookie", value);
        }
    }
    response
}
