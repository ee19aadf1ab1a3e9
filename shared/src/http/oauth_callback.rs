//! The install routes the admin's browser visits: `GET /slack/install` and
//! `GET /slack/oauth/callback`. Never a 500 for the user's mistake; refusals store nothing.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::http::HeaderValue;

use super::response;
use crate::backend::Backend;
use crate::config::ConfigError;
use crate::usecases::install::{
    BeginInstall, CallbackOutcome, CallbackParams, InstallError, InstallSettings, FLOW_TTL_SECS,
    STATE_COOKIE,
};

pub struct OAuthCallback {
    pub backend: Backend,
    pub install: InstallSettings,
}

impl OAuthCallback {
    pub async fn from_env() -> Result<Self, ConfigError> {
        let backend = Backend::from_env().await?;
        let install = backend.install_settings_from_env()?;
        Ok(Self { backend, install })
    }

    pub async fn handle(&self, event: &ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
        let now = crate::unix_now();
        let path = event.raw_path.as_deref().unwrap_or("/");
        let query = &event.query_string_parameters;
        match (event.request_context.http.method.as_str(), path) {
            ("GET", "/slack/install") => {
                let token = query.first("t").unwrap_or_default();
                match self
                    .backend
                    .install_flow(&self.install)
                    .begin(token, now)
                    .await
                {
                    Ok(BeginInstall::ToSlack {
                        authorize_url,
                        cookie_value,
                    }) => {
                        let mut answer = redirect(&authorize_url);
                        answer.cookies.push(format!(
                            "{STATE_COOKIE}={cookie_value}; Path=/slack; Max-Age={FLOW_TTL_SECS}; Secure; HttpOnly; SameSite=Lax"
                        ));
                        answer
                    }
                    Ok(BeginInstall::Refused(CallbackOutcome::Redirect(url))) => redirect(&url),
                    Ok(BeginInstall::Refused(CallbackOutcome::ErrorPage(message))) => {
                        error_page(400, &message)
                    }
                    Err(InstallError::Store(error)) => {
                        tracing::error!(%error, "install start failed");
                        error_page(
                            503,
                            "Slack install is unavailable right now. Try again in a minute.",
                        )
                    }
                    Err(error) => error_page(400, &error.to_string()),
                }
            }
            ("GET", "/slack/oauth/callback") => {
                let params = CallbackParams {
                    code: query.first("code").map(str::to_owned),
                    state: query.first("state").map(str::to_owned),
                    error: query.first("error").map(str::to_owned),
                };
                let cookie = request_cookie(event, STATE_COOKIE);
                let mut answer = match self
                    .backend
                    .install_flow(&self.install)
                    .complete(&params, cookie.as_deref(), now)
                    .await
                {
                    Ok(CallbackOutcome::Redirect(url)) => redirect(&url),
                    Ok(CallbackOutcome::ErrorPage(message)) => error_page(400, &message),
                    Err(error) => {
                        tracing::error!(%error, "install callback failed");
                        error_page(503, "Slack install could not be completed. Start again from your settings page.")
                    }
                };
                answer.cookies.push(format!(
                    "{STATE_COOKIE}=; Path=/slack; Max-Age=0; Secure; HttpOnly; SameSite=Lax"
                ));
                answer
            }
            _ => error_page(404, "Not found."),
        }
    }
}

/// A cookie's value from the v2 payload's `cookies` (or a raw `Cookie` header).
fn request_cookie(event: &ApiGatewayV2httpRequest, name: &str) -> Option<String> {
    let from_header =
        super::header(event, "cookie").map(|h| h.split(';').map(str::to_owned).collect::<Vec<_>>());
    event
        .cookies
        .clone()
        .or(from_header)
        .unwrap_or_default()
        .iter()
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn redirect(location: &str) -> ApiGatewayV2httpResponse {
    let mut answer = response(302, None, None);
    if let Ok(value) = HeaderValue::from_str(location) {
        answer.headers.insert("location", value);
    }
    answer
        .headers
        .insert("cache-control", HeaderValue::from_static("no-store"));
    answer
}

fn error_page(status: u16, message: &str) -> ApiGatewayV2httpResponse {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    response(
        status,
        Some("text/html; charset=utf-8"),
        Some(format!(
            "<!doctype html><html lang=en><meta charset=utf-8><title>Slack install</title>\
             <body style='font-family:system-ui;max-width:40rem;margin:3rem auto'>\
             <h1>Slack install did not complete</h1><p>{escaped}</p></body></html>"
        )),
    )
}
