//! Test wiring: the real AWS SDK against the moto server `make test` started, the Slack
//! sandbox and the host stand-in on loopback, and the handlers under test.

pub mod oauth;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use approvals_api::ApprovalsApi;
use approvals_core::config::AppSecrets;
use approvals_core::domain::{Installation, TenantLink};
use approvals_core::outbox::Backoff;
use approvals_core::ports::TenantStore;
use approvals_core::secret::SecretToken;
use approvals_core::signing::sign_host_request;
use approvals_core::usecases::install::InstallSettings;
use approvals_outbound::slack_api::RetryPolicy;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use axum::Router;
use base64::Engine as _;
use decision_worker::DecisionWorker;
use oauth_callback::OAuthCallback;
use sandbox::host::HostStandIn;
use sandbox::slack::{SandboxConfig, SlackSandbox, User, Workspace};
use serde_json::{json, Value};
use slack_events::SlackEventsEndpoint;
use slack_interactions::SlackInteractions;

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the integration tests through `make test`, which starts moto"
        )
    })
}

pub struct Stack {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    pub secrets: AppSecrets,
    pub slack: Arc<SlackSandbox>,
    pub slack_base: String,
    pub host: Arc<HostStandIn>,
    pub queue_url: String,
    pub api: Arc<ApprovalsApi>,
    /// The functions' routers, as their Lambda binaries run them.
    pub api_router: Router,
    pub interactions_router: Router,
    pub events_router: Router,
    pub oauth_router: Router,
    pub worker: DecisionWorker,
    /// Seconds added to the worker's clock: tests let hours pass without waiting them.
    pub clock_offset: Arc<AtomicI64>,
    pub aws: aws_config::SdkConfig,
    pub host_base: String,
    /// The functions behind API Gateway-shaped routes on loopback (`PUBLIC_BASE_URL`).
    pub gateway: String,
    /// This test's own tenant and workspace, so tests share the table without meeting.
    pub tenant_id: String,
    pub team_id: String,
    pub channel_id: String,
}

pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10]
    )
    .to_uppercase()
}

/// A host request as signed: method, path and query, body, timestamp.
type SignedAt = (String, String, Vec<u8>, i64);

/// How the sandbox for a stack is set up.
#[derive(Default)]
pub struct Options {
    pub token_rotation: bool,
    /// Set the stack's workspace inside this enterprise (Enterprise Grid).
    pub enterprise_id: Option<String>,
    /// Leave the tenant unconnected (install tests connect through OAuth).
    pub not_connected: bool,
    /// A table of the stack's own, like the provisioned one: what it does there can be told
    /// apart from the other tests' (the cost test counts it).
    pub own_table: bool,
}

/// Slack retries back off in milliseconds here, so fault tests finish quickly.
fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        first_backoff: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

/// The worker's settings for a test: the real backoff, records hidden as the backoff says
/// (tests that compress time set `max_visibility_secs` to 0).
pub fn worker_settings(
    table: &str,
    queue_url: &str,
    slack_base: &str,
    host_base: &str,
) -> decision_worker::Settings {
    decision_worker::Settings {
        table: table.to_owned(),
        queue_url: queue_url.to_owned(),
        slack_api_base_url: format!("{slack_base}/api"),
        slack_retry: fast_retry(),
        webhook_url: format!("{host_base}/webhooks"),
        backoff: Backoff::default(),
        dead_letter_queue_url: None,
        max_visibility_secs: decision_worker::MAX_VISIBILITY_SECS,
        file_urls: approvals_core::files::AllowedFileUrls::parse(&format!("{host_base}/files/"))
            .expect("the stand-in's files are allowed"),
    }
}

/// The real clock plus an offset the test moves.
pub fn offset_clock(offset: Arc<AtomicI64>) -> decision_worker::Clock {
    Arc::new(move || approvals_core::time::unix_now() + offset.load(Ordering::SeqCst))
}

impl Stack {
    /// Lets `secs` pass for the worker: retries due by then are tried on its next run.
    pub fn time_passes(&self, secs: i64) {
        self.clock_offset.fetch_add(secs, Ordering::SeqCst);
    }

    /// A connected tenant with a fresh workspace, queue, sandbox and host.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Self {
        capture_logs();
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let secrets_client = aws_sdk_secretsmanager::Client::new(&aws);
        let secrets =
            approvals_aws::secrets::load_app_secrets(&secrets_client, &env("APP_SECRET_ID"))
                .await
                .expect("the provisioned secret loads");
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        let sqs = aws_sdk_sqs::Client::new(&aws);

        let slack = SlackSandbox::new(SandboxConfig {
            signing_secret: secrets.slack_signing_secret.clone(),
            client_id: secrets.slack_client_id.clone(),
            client_secret: secrets.slack_client_secret.clone(),
            token_rotation: options.token_rotation,
            workspaces: Vec::new(),
            ..SandboxConfig::default()
        });
        let slack_base = slack.start().await.expect("sandbox starts");
        let host = HostStandIn::new(secrets.host_webhook_secret.clone());
        let host_base = host.start().await.expect("host stand-in starts");

        let queue_url = sqs
            .create_queue()
            .queue_name(unique("decisions-"))
            .send()
            .await
            .expect("a test queue is created")
            .queue_url
            .unwrap();

        // The gateway's address is the public base URL, so bind it first.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let gateway = format!("http://{}", listener.local_addr().unwrap());
        let install = InstallSettings {
            public_base_url: gateway.clone(),
            authorize_url: format!("{slack_base}/oauth/v2/authorize"),
            client_id: secrets.slack_client_id.clone(),
            bot_scopes: approvals_core::usecases::install::DEFAULT_BOT_SCOPES.into(),
        };
        let table = if options.own_table {
            copy_of_table(&dynamodb, &env("APP_TABLE")).await
        } else {
            env("APP_TABLE")
        };
        let slack_api_base_url = format!("{slack_base}/api");
        let api = Arc::new(
            ApprovalsApi::new(
                &aws,
                approvals_api::Settings {
                    table: table.clone(),
                    queue_url: queue_url.clone(),
                    slack_api_base_url: slack_api_base_url.clone(),
                    slack_retry: fast_retry(),
                    install: install.clone(),
                    file_urls: approvals_core::files::AllowedFileUrls::parse(&format!(
                        "{host_base}/files/"
                    ))
                    .expect("the stand-in's files are allowed"),
                },
                &secrets,
            )
            .expect("the API wires up"),
        );
        let oauth = Arc::new(
            OAuthCallback::new(
                &aws,
                oauth_callback::Settings {
                    table: table.clone(),
                    queue_url: queue_url.clone(),
                    slack_api_base_url: slack_api_base_url.clone(),
                    install,
                },
                &secrets,
            )
            .expect("the install routes wire up"),
        );
        let events = Arc::new(
            SlackEventsEndpoint::new(
                &aws,
                slack_events::Settings {
                    table: table.clone(),
                    queue_url: queue_url.clone(),
                },
                &secrets,
            )
            .expect("the events endpoint wires up"),
        );
        let interactions = Arc::new(
            SlackInteractions::wire(
                &aws,
                slack_interactions::Settings {
                    table: table.clone(),
                    queue_url: queue_url.clone(),
                    slack_api_base_url: slack_api_base_url.clone(),
                },
                &secrets,
            )
            .expect("the interactions endpoint wires up"),
        );
        let clock_offset = Arc::new(AtomicI64::new(0));
        let mut worker = DecisionWorker::new(
            &aws,
            worker_settings(&table, &queue_url, &slack_base, &host_base),
            &secrets,
        )
        .expect("the worker wires up");
        worker.clock = offset_clock(clock_offset.clone());
        let api_router = api.clone().router();
        let interactions_router = interactions.router();
        let events_router = events.router();
        let oauth_router = oauth.router();
        let routes = devserver::gateway::template_routes(
            api_router.clone(),
            interactions_router.clone(),
            oauth_router.clone(),
            events_router.clone(),
        );
        let app = devserver::gateway::router(routes);
        tokio::spawn(async move { axum::serve(listener, app).await });

        let team_id = unique("T");
        let mut workspace = Workspace::named(&team_id, options.enterprise_id.as_deref());
        workspace.users.extend((0..25).map(|i| User {
            id: format!("U{i:03}{team_id}"),
            name: format!("approver{i}"),
            real_name: format!("Approver {i}"),
            email: format!("approver{i}@sandbox.example"),
            tz: "UTC".into(),
            tz_offset: 0,
            ..User::default()
        }));
        slack.add_workspace(workspace);
        let stack = Self {
            tenant_id: unique("tenant-").to_lowercase(),
            channel_id: "C0APPROVALS".into(),
            team_id,
            dynamodb,
            sqs,
            table,
            secrets,
            slack,
            slack_base,
            host,
            queue_url,
            api,
            api_router,
            interactions_router,
            events_router,
            oauth_router,
            worker,
            clock_offset,
            aws,
            host_base,
            gateway,
        };
        if !options.not_connected {
            stack
                .connect(&stack.tenant_id.clone(), &stack.team_id.clone())
                .await;
        }
        stack
    }

    pub fn store(&self) -> &dyn TenantStore {
        self.api.tenants.as_ref()
    }

    /// Another workspace of the same enterprise, with its own channel `C0ORGB` and user `U0BORG`.
    pub async fn add_org_workspace(&self, enterprise_id: &str) -> String {
        let team_id = unique("T");
        let mut workspace = Workspace::named(&team_id, Some(enterprise_id));
        workspace.channels.retain(|c| c.id == "C0GENERAL");
        workspace.channels[0].id = "C0ORGB".into();
        workspace.users = vec![User {
            id: "U0BORG".into(),
            name: "borg".into(),
            real_name: "Bo Org".into(),
            email: "bo@sandbox.example".into(),
            tz: "UTC".into(),
            tz_offset: 0,
            ..User::default()
        }];
        self.slack.add_workspace(workspace);
        team_id
    }

    async fn raw_item(
        &self,
        pk: &str,
        sk: &str,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
    }

    /// The installation item exactly as stored.
    pub async fn raw_installation(&self, installation_id: &str) -> String {
        let item = self
            .raw_item(&format!("INSTALLATION#{installation_id}"), "INSTALLATION")
            .await;
        format!("{:?}", item.expect("the installation is stored"))
    }

    /// No item of the whole table holds a Slack token in clear (a Scan, in a test only).
    pub async fn assert_no_plaintext_tokens(&self) {
        let mut pages = self
            .dynamodb
            .scan()
            .table_name(&self.table)
            .into_paginator()
            .items()
            .send();
        let mut seen = 0;
        while let Some(item) = pages.next().await {
            let text = format!("{:?}", item.unwrap());
            for prefix in ["xoxb-", "xoxe-", "xoxp-"] {
                assert!(
                    !text.contains(prefix),
                    "a {prefix} token is stored in clear: {text}"
                );
            }
            seen += 1;
        }
        assert!(seen > 0);
    }

    /// Installs the stack's workspace for its tenant through the real OAuth flow.
    pub async fn connect_via_oauth(&self) {
        let landing = oauth::install(self, &self.tenant_id, &self.team_id, false).await;
        assert!(landing.contains("slack=connected"), "{landing}");
    }

    /// Sets a rotating token's stored expiry, as time passing would.
    pub async fn move_token_expiry(&self, installation_id: &str, expires_at: i64) {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!(
                    "INSTALLATION#{installation_id}"
                )),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("INSTALLATION".into()),
            )
            .update_expression("SET bot_token_expires_at = :at")
            .expression_attribute_values(
                ":at",
                aws_sdk_dynamodb::types::AttributeValue::N(expires_at.to_string()),
            )
            .send()
            .await
            .unwrap();
    }

    /// Moves an OAuth state's expiry into the past, as ten minutes would.
    pub async fn expire_state(&self, state: &str) {
        self.dynamodb
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("OAUTH_STATE#{state}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("OAUTH_STATE".into()),
            )
            .update_expression("SET state_expires_at = :past")
            .expression_attribute_values(
                ":past",
                aws_sdk_dynamodb::types::AttributeValue::N(
                    (approvals_core::time::unix_now() - 1).to_string(),
                ),
            )
            .send()
            .await
            .unwrap();
    }

    /// Runs the worker over everything queued and returns what the host received.
    pub async fn host_events(&self) -> Vec<Value> {
        let records = self.drain_queue().await;
        let answer = self.worker.handle(sqs_event(records)).await;
        assert!(answer.batch_item_failures.is_empty());
        self.host
            .received()
            .into_iter()
            .inspect(|h| assert!(h.signature_valid))
            .map(|h| h.body)
            .collect()
    }

    /// Stores an installation the way the OAuth callback will, and links the tenant.
    pub async fn connect(&self, tenant_id: &str, team_id: &str) {
        let token = self.slack.issue_bot_token(team_id);
        let installation = installation_of(team_id, token);
        self.store().save_installation(&installation).await.unwrap();
        self.store()
            .save_link(&TenantLink::active(tenant_id, &installation))
            .await
            .unwrap();
    }

    pub fn approval_body(&self, external_id: &str) -> Value {
        json!({
            "tenant_id": self.tenant_id, "external_id": external_id, "kind": "deal_registration",
            "title": "Deal registration: Initech, $48,000",
            "fields": [{"label": "Account", "value": "Initech"}, {"label": "Deal value", "value": "$48,000"},
                       {"label": "Expected close", "value": "2026-12-15"}],
            "notes": "Partner notes…", "link": "https://host.example/deals/1042",
            "requester": {"name": "Pat Partner", "email": "pat@reseller.example"},
            "channel_id": self.channel_id,
            // Reject decides on the click here; the people tests cover the reason modal.
            "reject_reason": "none",
        })
    }

    /// Calls the host API with a correctly signed request.
    pub async fn host_call(
        &self,
        method: &str,
        path_and_query: &str,
        body: &Value,
    ) -> (u16, Value) {
        let raw = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        // Each call is a new request, signed anew: the same request twice under one
        // timestamp would carry the same signature, which the API refuses as a replay. So
        // each (method, path, body) gets a timestamp of its own, a little before now.
        static USED: std::sync::Mutex<BTreeSet<SignedAt>> = std::sync::Mutex::new(BTreeSet::new());
        let timestamp = {
            let mut used = USED.lock().unwrap();
            let now = approvals_core::time::unix_now();
            let signed_at = |at: i64| {
                (
                    method.to_owned(),
                    path_and_query.to_owned(),
                    raw.clone(),
                    at,
                )
            };
            // From a second ago: a test signing a request by hand signs it at `now`.
            let timestamp = (1..241)
                .map(|earlier| now - earlier)
                .find(|at| !used.contains(&signed_at(*at)))
                .expect("fewer than 240 identical requests in four minutes");
            used.insert(signed_at(timestamp));
            timestamp
        };
        let signature = sign_host_request(
            self.secrets.host_api_secret.as_bytes(),
            timestamp,
            method,
            path_and_query,
            &raw,
        );
        let event = http_event(
            method,
            path_and_query,
            &[
                ("X-Approvals-Timestamp", &timestamp.to_string()),
                ("X-Approvals-Signature", &signature),
            ],
            &raw,
            false,
        );
        invoke(&self.api_router, event).await
    }

    /// Creates an approval and returns (id, channel, ts).
    pub async fn create_approval(&self, external_id: &str) -> (String, String, String) {
        let (status, body) = self
            .host_call("POST", "/v1/approvals", &self.approval_body(external_id))
            .await;
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().unwrap().into(),
            body["slack"]["channel_id"].as_str().unwrap().into(),
            body["slack"]["message_ts"].as_str().unwrap().into(),
        )
    }

    /// Clicks a button as a sandbox user and posts it, signed, to the interactions handler.
    pub async fn click(&self, channel: &str, ts: &str, action_id: &str, user_id: &str) -> u16 {
        let body = self
            .slack
            .click_payload(channel, ts, action_id, user_id)
            .unwrap();
        self.interact(&body).await.0
    }

    /// Posts a form body, signed as Slack signs it, to the interactions handler.
    pub async fn interact(&self, body: &str) -> (u16, Value) {
        let (timestamp, signature) = self.slack.sign(body);
        let event = http_event(
            "POST",
            "/slack/interactions",
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("X-Slack-Request-Timestamp", &timestamp),
                ("X-Slack-Signature", &signature),
            ],
            body.as_bytes(),
            false,
        );
        invoke(&self.interactions_router, event).await
    }

    /// Everything waiting in this test's queue (a bounded number of receives).
    pub async fn drain_queue(&self) -> Vec<SqsMessage> {
        let mut drained = Vec::new();
        for _ in 0..20 {
            let answer = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .unwrap();
            let messages = answer.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            drained.extend(messages.into_iter().map(|m| {
                let mut record = SqsMessage::default();
                record.message_id = m.message_id;
                record.receipt_handle = m.receipt_handle;
                record.body = m.body;
                record
            }));
        }
        drained
    }

    pub async fn approval_item(&self, approval_id: &str) -> Value {
        let item = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(
                "pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("APPROVAL#{approval_id}")),
            )
            .key(
                "sk",
                aws_sdk_dynamodb::types::AttributeValue::S("APPROVAL".into()),
            )
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap_or_default();
        serde_dynamo::from_item(item).unwrap()
    }
}

/// A fresh queue to dead-letter into: (URL, ARN).
pub async fn dead_letter_queue(sqs: &aws_sdk_sqs::Client) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq = sqs
        .create_queue()
        .queue_name(unique("dlq-"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&QueueAttributeName::QueueArn]
        .clone();
    (dlq, dlq_arn)
}

/// A fresh queue whose redrive policy moves a message to a fresh dead-letter queue after
/// `max_receives`, with the queue `attributes` given; returns (queue URL, DLQ URL).
pub async fn queue_with_dlq(
    sqs: &aws_sdk_sqs::Client,
    max_receives: u64,
    attributes: &[(aws_sdk_sqs::types::QueueAttributeName, &str)],
) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let (dlq, dlq_arn) = dead_letter_queue(sqs).await;
    let mut create = sqs.create_queue().queue_name(unique("queue-")).attributes(
        QueueAttributeName::RedrivePolicy,
        json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}).to_string(),
    );
    for (name, value) in attributes {
        create = create.attributes(name.clone(), *value);
    }
    let queue = create.send().await.unwrap().queue_url.unwrap();
    (queue, dlq)
}

/// Whether every outbox entry of a stored approval whose key starts with `prefix`
/// (`copy:`, `event:`, `tell:`) is done, and there is at least one.
pub fn effects_done(item: &Value, prefix: &str) -> bool {
    let entries: Vec<&Value> = item["outbox"]
        .as_object()
        .map(|outbox| {
            outbox
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .map(|(_, entry)| entry)
                .collect()
        })
        .unwrap_or_default();
    !entries.is_empty() && entries.iter().all(|entry| entry["done"] == true)
}

pub fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

/// An API Gateway HTTP API (v2) event, as Lambda receives it.
pub fn http_event(
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    base64_body: bool,
) -> Value {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query_parameters: serde_json::Map<String, Value> = url_pairs(query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let body = if base64_body {
        base64::engine::general_purpose::STANDARD.encode(body)
    } else {
        String::from_utf8(body.to_vec()).expect("text body")
    };
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "queryStringParameters": query_parameters,
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                     "sourceIp": "127.0.0.1", "userAgent": "test"},
                           "requestId": "test", "routeKey": "$default", "stage": "$default",
                           "timeEpoch": 0},
        "body": body,
        "isBase64Encoded": base64_body,
    })
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_default()
}

/// Invokes a function's router with a Lambda HTTP event, as `lambda_http` does on Lambda,
/// and returns the status and the JSON body (or the text, as a JSON string).
pub async fn invoke(router: &Router, event: Value) -> (u16, Value) {
    let answer = approvals_lambda::http::invoke(router, event)
        .await
        .expect("the function takes the event");
    let status = answer["statusCode"].as_u64().expect("a status code") as u16;
    let text = match &answer["body"] {
        Value::String(text) if answer["isBase64Encoded"] == true => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("a base64 body"),
        )
        .expect("a text body"),
        Value::String(text) => text.clone(),
        _ => return (status, Value::Null),
    };
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// Every test's logs, as the functions write them, in `build/logs/integration.jsonl`:
/// `scripts/check-logs.sh` then looks there for any secret or token.
fn capture_logs() {
    static CAPTURED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CAPTURED.get_or_init(|| {
        let folder = format!("{}/../build/logs", env!("CARGO_MANIFEST_DIR"));
        std::fs::create_dir_all(&folder).expect("build/logs can be made");
        let file = std::fs::File::create(format!("{folder}/integration.jsonl"))
            .expect("the log file can be made");
        approvals_lambda::telemetry::init_to(std::sync::Mutex::new(file));
    });
}

/// A new, empty table with the keys and indexes of `source`.
async fn copy_of_table(dynamodb: &aws_sdk_dynamodb::Client, source: &str) -> String {
    use aws_sdk_dynamodb::types::{BillingMode, GlobalSecondaryIndex, Projection};
    let described = dynamodb
        .describe_table()
        .table_name(source)
        .send()
        .await
        .expect("the provisioned table is described")
        .table
        .expect("a table");
    let name = unique("table-");
    let indexes = described
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.index_name().unwrap())
                .set_key_schema(Some(index.key_schema().to_vec()))
                .projection(
                    index
                        .projection()
                        .cloned()
                        .unwrap_or_else(|| Projection::builder().build()),
                )
                .build()
                .unwrap()
        })
        .collect::<Vec<_>>();
    dynamodb
        .create_table()
        .table_name(&name)
        .set_key_schema(Some(described.key_schema().to_vec()))
        .set_attribute_definitions(Some(described.attribute_definitions().to_vec()))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("the copy is created");
    name
}

/// A sandbox workspace's installation as the OAuth callback stores it, with `bot_token`.
pub fn installation_of(team_id: &str, bot_token: String) -> Installation {
    Installation {
        team_id: Some(team_id.into()),
        team_name: Some(format!("Workspace {team_id}")),
        enterprise_id: None,
        enterprise_name: None,
        is_enterprise_install: false,
        bot_user_id: "U0BOT".into(),
        app_id: "A0SANDBOX".into(),
        scopes: vec!["chat:write".into()],
        installed_by: Some("U0ANA".into()),
        installed_at: approvals_core::time::unix_now(),
        bot_token: SecretToken::new(bot_token),
        bot_refresh_token: None,
        bot_token_expires_at: None,
    }
}

/// The `decision-worker` binary `make test` builds (`cargo build -p decision-worker`), or the
/// one `DECISION_WORKER_BIN` names (`make load` uses the release build).
pub fn worker_binary() -> std::path::PathBuf {
    if let Ok(path) = std::env::var("DECISION_WORKER_BIN") {
        return path.into();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    let path = std::path::PathBuf::from(target).join("debug/decision-worker");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p decision-worker` first (make test does)",
        path.display()
    );
    path
}

/// The real worker binary as its own process on `queue`, configured as the template
/// configures it, against this stack's table, sandbox and host; its log lines go to
/// `build/logs/<log_name>.log`, which `make test` checks for secrets.
pub async fn worker_process(
    stack: &Stack,
    queue: &str,
    dlq: &str,
    log_name: &str,
) -> devserver::runtime_api::FunctionProcess {
    let folder = format!("{}/../build/logs", env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(&folder).expect("build/logs can be made");
    let vars = [
        ("APP_TABLE", stack.table.clone()),
        ("APP_SECRET_ID", env("APP_SECRET_ID")),
        ("DECISION_QUEUE_URL", queue.to_owned()),
        ("DEAD_LETTER_QUEUE_URL", dlq.to_owned()),
        ("SLACK_API_BASE_URL", format!("{}/api", stack.slack_base)),
        ("HOST_WEBHOOK_URL", format!("{}/webhooks", stack.host_base)),
        (
            "HOST_FILE_URL_PREFIXES",
            format!("{}/files/", stack.host_base),
        ),
        ("RUST_LOG", "info".to_owned()),
    ];
    devserver::runtime_api::FunctionProcess::start(
        worker_binary(),
        vars.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        Some(format!("{folder}/{log_name}.log").into()),
    )
    .await
    .expect("the worker binary starts and asks for its first event")
}
