//! The OAuth install as a browser does it: install link → /slack/install → Slack's
//! authorize page → callback, each hop looked at.

use reqwest::header::LOCATION;
use serde_json::json;

use super::Stack;

pub const RETURN_URL: &str = "https://host.example/settings/integrations";

/// A browser: keeps cookies, and lets each redirect be looked at.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn location(answer: &reqwest::Response) -> String {
    answer
        .headers()
        .get(LOCATION)
        .expect("a redirect")
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

fn next_link_request() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Asks the host API for a one-time install link.
pub async fn install_link(stack: &Stack, tenant_id: &str) -> String {
    let path = format!("/v1/tenants/{tenant_id}/slack/install-links");
    let (status, body) = stack
        // Each link request differs, as a host's would: two identical signed requests in
        // one second are one request to the replay guard.
        .host_call(
            "POST",
            &path,
            &json!({"return_url": format!("{RETURN_URL}?request={}", next_link_request())}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["expires_at"].is_string());
    body["url"].as_str().unwrap().to_owned()
}

/// Follows the link to Slack's authorize page; returns the authorize URL's query.
pub async fn start(
    browser: &reqwest::Client,
    link: &str,
) -> std::collections::HashMap<String, String> {
    let answer = browser.get(link).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let set_cookie = answer
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let authorize = location(&answer);
    let page = browser.get(&authorize).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Allow"));
    query(&authorize)
}

/// Clicks Allow (or Cancel) on the authorize page; returns the callback URL Slack sends to.
pub async fn decide(
    stack: &Stack,
    browser: &reqwest::Client,
    authorize: &std::collections::HashMap<String, String>,
    team_id: &str,
    allow: bool,
    org_wide: bool,
) -> String {
    let mut form = vec![
        ("client_id", authorize["client_id"].clone()),
        ("scope", authorize["scope"].clone()),
        ("redirect_uri", authorize["redirect_uri"].clone()),
        ("state", authorize["state"].clone()),
        ("team_id", team_id.to_owned()),
        ("user_id", "U0ANA".to_owned()),
        (
            "decision",
            if allow { "allow" } else { "cancel" }.to_owned(),
        ),
    ];
    if org_wide {
        form.push(("org_wide", "true".to_owned()));
    }
    let answer = browser
        .post(format!("{}/oauth/v2/authorize", stack.slack_base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 302, "Slack redirects back to the app");
    location(&answer)
}

/// The whole install; returns where the browser lands on the host.
pub async fn install(stack: &Stack, tenant_id: &str, team_id: &str, org_wide: bool) -> String {
    let browser = browser();
    let link = install_link(stack, tenant_id).await;
    let authorize = start(&browser, &link).await;
    let callback = decide(stack, &browser, &authorize, team_id, true, org_wide).await;
    let landing = browser.get(&callback).send().await.unwrap();
    assert_eq!(landing.status(), 302);
    location(&landing)
}
