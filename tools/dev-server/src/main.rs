//! `make dev`: the whole system on one machine. Every function runs in this process behind
//! API Gateway-shaped routes, the decision queue feeds the worker like Lambda's event source
//! mapping, and the Slack sandbox and a demo host stand in for Slack and the host.

use std::io::IsTerminal as _;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use approvals_api::ApprovalsApi;
use approvals_core::outbox::Backoff;
use approvals_core::usecases::install::{InstallSettings, DEFAULT_BOT_SCOPES};
use approvals_lambda::env::{required_env, retry_horizon_hours};
use approvals_outbound::slack_api::RetryPolicy;
use decision_worker::DecisionWorker;
use devserver::demo_host::{DemoHost, HostApiClient};
use devserver::{esm, gateway};
use oauth_callback::OAuthCallback;
use sandbox::host::HostStandIn;
use sandbox::slack::{SandboxConfig, SlackSandbox};
use slack_events::SlackEventsEndpoint;
use slack_interactions::SlackInteractions;
use tokio::net::TcpListener;

const DEMO_TENANT: &str = "demo";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn listen(port: u16) -> Result<(TcpListener, String), BoxError> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        format!("cannot listen on 127.0.0.1:{port}: {e} (set DEV_PORTS=auto for free ports)")
    })?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        // Colour only for a person at a terminal: `make dev > dev.log` stays plain text.
        .with_ansi(std::io::stdout().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_target(false)
        .init();
    // Fixed ports for people, free ones for the browser test.
    let auto = std::env::var("DEV_PORTS").is_ok_and(|v| v == "auto");
    let port = |fixed: u16| if auto { 0 } else { fixed };
    let (api_listener, api_base) = listen(port(3000)).await?;
    let (slack_listener, slack_base) = listen(port(3001)).await?;
    let (host_listener, host_base) = listen(port(3002)).await?;
    let (scheduler_listener, scheduler_base) = listen(port(3003)).await?;

    let aws = approvals_aws::aws_config().await;
    let secrets = approvals_aws::secrets::load(&aws, &required_env("APP_SECRET_ID")?).await?;
    let table = required_env("APP_TABLE")?;
    let queue_url = required_env("DECISION_QUEUE_URL")?;
    let slack_api_base_url = format!("{slack_base}/api");
    let install = InstallSettings {
        public_base_url: api_base.clone(),
        authorize_url: format!("{slack_base}/oauth/v2/authorize"),
        client_id: secrets.slack_client_id.clone(),
        bot_scopes: DEFAULT_BOT_SCOPES.into(),
    };

    let slack = SlackSandbox::new(SandboxConfig {
        signing_secret: secrets.slack_signing_secret.clone(),
        client_id: secrets.slack_client_id.clone(),
        client_secret: secrets.slack_client_secret.clone(),
        interactivity_url: Some(format!("{api_base}/slack/interactions")),
        events_url: Some(format!("{api_base}/slack/events")),
        links: vec![
            (
                "Demo host: connect Slack".into(),
                format!("{host_base}/settings"),
            ),
            ("Host webhook log".into(), format!("{host_base}/")),
        ],
        demo_request_url: Some(format!("{host_base}/demo/request")),
        reminders_url: Some(format!("{scheduler_base}/_dev/run-reminders")),
        ..SandboxConfig::default()
    });
    slack.set_base_url(&slack_base);
    let slack_router = slack.router();
    tokio::spawn(async move { axum::serve(slack_listener, slack_router).await });

    let host = HostStandIn::new(secrets.host_webhook_secret.clone());
    // The sample purchase order the demo's requests attach, at {host}/files/sample-po.pdf.
    devserver::demo_host::serve_sample_pdf(&host);
    let demo = Arc::new(DemoHost {
        api: HostApiClient::new(&api_base, &secrets.host_api_secret),
        tenant_id: DEMO_TENANT.into(),
        base: host_base.clone(),
        sandbox_page: format!("{slack_base}/?channel=C0APPROVALS"),
        next_request: AtomicU64::new(1),
        webhooks: host,
        posted_comments: Default::default(),
    });
    let host_router = devserver::demo_host::router(demo);
    tokio::spawn(async move { axum::serve(host_listener, host_router).await });

    let api = Arc::new(ApprovalsApi::new(
        &aws,
        approvals_api::Settings {
            table: table.clone(),
            queue_url: queue_url.clone(),
            slack_api_base_url: slack_api_base_url.clone(),
            slack_retry: RetryPolicy::default(),
            install: install.clone(),
            // The demo host serves its documents (a sample purchase order) here.
            file_urls: approvals_core::files::AllowedFileUrls::parse(&format!(
                "{host_base}/files/"
            ))?,
        },
        &secrets,
    )?);
    let interactions = Arc::new(SlackInteractions::wire(
        &aws,
        slack_interactions::Settings {
            table: table.clone(),
            queue_url: queue_url.clone(),
            slack_api_base_url: slack_api_base_url.clone(),
        },
        &secrets,
    )?);
    let oauth = Arc::new(OAuthCallback::new(
        &aws,
        oauth_callback::Settings {
            table: table.clone(),
            queue_url: queue_url.clone(),
            slack_api_base_url: slack_api_base_url.clone(),
            install,
        },
        &secrets,
    )?);
    let events = Arc::new(SlackEventsEndpoint::new(
        &aws,
        slack_events::Settings {
            table: table.clone(),
            queue_url: queue_url.clone(),
        },
        &secrets,
    )?);
    let routes = gateway::template_routes(
        api.clone().router(),
        interactions.router(),
        oauth.router(),
        events.router(),
    );
    let gateway_router = gateway::router(routes);
    tokio::spawn(async move { axum::serve(api_listener, gateway_router).await });

    let reminders = Arc::new(daily_reminders::DailyReminders::new(
        &aws,
        daily_reminders::Settings {
            table: table.clone(),
            queue_url: queue_url.clone(),
        },
    )?);
    let scheduler_router = devserver::scheduler::router(reminders.clone());
    tokio::spawn(async move { axum::serve(scheduler_listener, scheduler_router).await });
    tokio::spawn(devserver::scheduler::every_quarter_hour(reminders));

    let worker = Arc::new(DecisionWorker::new(
        &aws,
        decision_worker::Settings {
            table,
            queue_url: queue_url.clone(),
            slack_api_base_url,
            slack_retry: RetryPolicy::default(),
            webhook_url: format!("{host_base}/webhooks"),
            backoff: Backoff::with_horizon_hours(retry_horizon_hours()?),
            dead_letter_queue_url: std::env::var("DECISION_DLQ_URL").ok(),
            max_visibility_secs: decision_worker::MAX_VISIBILITY_SECS,
            file_urls: approvals_core::files::AllowedFileUrls::parse(&format!(
                "{host_base}/files/"
            ))?,
        },
        &secrets,
    )?);
    tokio::spawn(esm::run(
        aws_sdk_sqs::Client::new(&aws),
        queue_url.clone(),
        worker,
    ));

    // The demo tenant routes deal registrations to #approvals; connecting is the user's click.
    api.tenants
        .set_channel(DEMO_TENANT, "deal_registration", "C0APPROVALS")
        .await?;

    println!();
    println!("  Slack sandbox   {slack_base}/?channel=C0APPROVALS");
    println!("  Demo host       {host_base}/settings   (Connect Slack, then request approvals from the sandbox)");
    println!("  Webhook log     {host_base}/");
    println!("  API base        {api_base}   (Slack interactivity: {api_base}/slack/interactions)");
    println!("  Reminder runs   every 15 minutes, or POST {scheduler_base}/_dev/run-reminders {{\"scheduled_time\": …}}");
    println!();
    println!("  Everything is kept in memory: after a restart, connect Slack again.");
    println!();
    println!(
        "ready {}",
        serde_json::json!({"slack": slack_base, "host": host_base, "api": api_base,
                           "scheduler": scheduler_base})
    );

    shutdown_signal().await;
    println!("stopping");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler installs");
    tokio::select! {
        _ = interrupt => {},
        _ = terminate.recv() => {},
    }
}
