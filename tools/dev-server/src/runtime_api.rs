//! A Lambda execution environment stand-in: a function's own binary runs as a process of its
//! own against a local Runtime API, takes one event at a time and answers it, and can be
//! killed in the middle of an invocation and started again, cold, as Lambda does after a
//! crash or a timeout. The load test and the killed-worker test run the real worker this way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{oneshot, Notify};

/// Why an invocation has no answer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("the function process was killed or exited during the invocation")]
    Killed,
    #[error("the function answered with an error: {0}")]
    Failed(String),
    #[error("the function gave no answer within {0:?}")]
    TimedOut(Duration),
    #[error("the function process could not be started: {0}")]
    Start(#[from] std::io::Error),
    #[error("the function process exited or stalled before asking for its first event")]
    InitFailed,
}

/// How long a process may take from exec to its first `next`: Lambda's own init limit.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

type Answer = Result<Value, String>;

/// One invocation waiting to be taken by `next`.
struct Invocation {
    request_id: String,
    event: Value,
    deadline_ms: u128,
    answer: oneshot::Sender<Answer>,
}

/// The invocations of one process, under one lock: a process found gone never takes a new
/// one, so no caller waits on a sender that outlived its process.
#[derive(Default)]
struct Slots {
    pending: Option<Invocation>,
    in_flight: HashMap<String, oneshot::Sender<Answer>>,
    /// Set when the process is gone, killed or exited.
    gone: bool,
}

/// What one process (one generation of the environment) shares with its Runtime API.
#[derive(Default)]
struct Environment {
    slots: Mutex<Slots>,
    arrived: Notify,
    /// Notified when the process asks for an event: its init is over.
    polled: Notify,
}

impl Environment {
    /// Marks the process gone and drops every unanswered invocation: their callers learn
    /// it at once.
    fn abandon(&self) {
        let mut slots = self.slots.lock().unwrap();
        slots.gone = true;
        slots.pending.take();
        slots.in_flight.clear();
    }

    fn is_gone(&self) -> bool {
        self.slots.lock().unwrap().gone
    }
}

/// A running generation: its process's kill switch and its Runtime API server.
struct Generation {
    environment: Arc<Environment>,
    kill: Option<oneshot::Sender<()>>,
    exited: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Generation {
    /// A generation let go of takes its process and its Runtime API with it.
    fn drop(&mut self) {
        if let Some(kill) = self.kill.take() {
            let _ = kill.send(());
        }
        self.server.abort();
    }
}

/// A function binary run as Lambda runs it, one invocation at a time.
pub struct FunctionProcess {
    binary: PathBuf,
    env: Vec<(String, String)>,
    /// Where the process's stdout and stderr go (appended), as CloudWatch Logs would keep them.
    log: Option<PathBuf>,
    current: Mutex<Option<Generation>>,
    /// One invocation at a time, as in one execution environment.
    turn: tokio::sync::Mutex<()>,
    next_request: AtomicU64,
    starts: AtomicU64,
}

impl FunctionProcess {
    /// Starts `binary` with `env` (besides the Lambda variables), its output appended to
    /// `log` (or dropped), and waits until it asks for its first event, so its init is over
    /// when this returns.
    pub async fn start(
        binary: impl AsRef<Path>,
        env: Vec<(String, String)>,
        log: Option<PathBuf>,
    ) -> Result<Self, InvokeError> {
        let process = Self {
            binary: binary.as_ref().to_owned(),
            env,
            log,
            current: Mutex::new(None),
            turn: tokio::sync::Mutex::new(()),
            next_request: AtomicU64::new(1),
            starts: AtomicU64::new(0),
        };
        process.launch().await?;
        Ok(process)
    }

    /// How many processes were started: 1 plus the restarts after kills and exits.
    pub fn starts(&self) -> u64 {
        self.starts.load(Ordering::SeqCst)
    }

    fn command(&self, runtime_api: &str) -> Result<tokio::process::Command, std::io::Error> {
        let name = self
            .binary
            .file_name()
            .map_or_else(|| "function".into(), |n| n.to_string_lossy().into_owned());
        let mut command = tokio::process::Command::new(&self.binary);
        command
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        match &self.log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?;
                command.stdout(file.try_clone()?).stderr(file);
            }
            None => {
                command
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null());
            }
        }
        Ok(command)
    }

    async fn launch(&self) -> Result<(), InvokeError> {
        let environment = Arc::new(Environment::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let mut command = self.command(&address.to_string())?;
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(environment.clone());
        let polled = environment.polled.notified();
        let exited = Arc::new(Notify::new());
        let exited_during_init = exited.notified();
        let mut child = command.spawn()?;
        self.starts.fetch_add(1, Ordering::SeqCst);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let (kill, killed) = oneshot::channel::<()>();
        let supervisor_environment = environment.clone();
        let supervisor_exited = exited.clone();
        tokio::spawn(async move {
            tokio::select! {
                status = child.wait() => {
                    tracing::warn!(?status, "function process exited on its own");
                }
                _ = killed => {
                    let _ = child.kill().await;
                }
            }
            supervisor_environment.abandon();
            supervisor_exited.notify_waiters();
        });
        let generation = Generation {
            environment: environment.clone(),
            kill: Some(kill),
            exited: exited.clone(),
            server,
        };
        let ready = tokio::time::timeout(INIT_TIMEOUT, async {
            tokio::select! {
                () = polled => true,
                () = exited_during_init => false,
            }
        })
        .await;
        if ready != Ok(true) {
            // Dropping the generation kills the process and stops its Runtime API.
            return Err(InvokeError::InitFailed);
        }
        *self.current.lock().unwrap() = Some(generation);
        Ok(())
    }

    /// Hands the process one event and waits for its answer, at most `timeout` (also its
    /// deadline in the Lambda context). A process killed or gone meanwhile is started again
    /// by the next invocation, cold.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Value, InvokeError> {
        let _turn = self.turn.lock().await;
        let environment = match self.environment() {
            Some(environment) => environment,
            None => {
                self.launch().await?;
                self.environment().ok_or(InvokeError::Killed)?
            }
        };
        let (answer, answered) = oneshot::channel();
        let deadline = SystemTime::now() + timeout;
        {
            let mut slots = environment.slots.lock().unwrap();
            if slots.gone {
                return Err(InvokeError::Killed);
            }
            slots.pending = Some(Invocation {
                request_id: format!("local-{}", self.next_request.fetch_add(1, Ordering::SeqCst)),
                event,
                deadline_ms: deadline
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis(),
                answer,
            });
        }
        environment.arrived.notify_one();
        match tokio::time::timeout(timeout, answered).await {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(error))) => Err(InvokeError::Failed(error)),
            Ok(Err(_)) => Err(InvokeError::Killed),
            Err(_) => {
                // Lambda ends a timed-out environment: the next invocation starts cold.
                self.kill().await;
                Err(InvokeError::TimedOut(timeout))
            }
        }
    }

    fn environment(&self) -> Option<Arc<Environment>> {
        let mut current = self.current.lock().unwrap();
        if current.as_ref().is_some_and(|g| g.environment.is_gone()) {
            current.take();
        }
        current.as_ref().map(|g| g.environment.clone())
    }

    /// Kills the process (SIGKILL) wherever it is; its invocation, if any, ends as
    /// [`InvokeError::Killed`]. The next invocation starts a new process.
    pub async fn kill(&self) {
        let generation = self.current.lock().unwrap().take();
        let Some(mut generation) = generation else {
            return;
        };
        let exited = generation.exited.notified();
        // Once the process exited on its own, its supervisor has dropped the receiving end:
        // nothing to wait for.
        if let Some(kill) = generation.kill.take() {
            if kill.send(()).is_ok() {
                exited.await;
            }
        }
    }

    /// Starts a fresh process now if none runs (after [`FunctionProcess::kill`]).
    pub async fn restart_if_gone(&self) -> Result<(), InvokeError> {
        let _turn = self.turn.lock().await;
        if self.environment().is_none() {
            self.launch().await?;
        }
        Ok(())
    }
}

async fn next(State(environment): State<Arc<Environment>>) -> Response {
    environment.polled.notify_waiters();
    loop {
        let arrived = environment.arrived.notified();
        let taken = {
            let mut slots = environment.slots.lock().unwrap();
            // The answer's sender waits in `in_flight`; the event goes to the process.
            slots.pending.take().map(|invocation| {
                slots
                    .in_flight
                    .insert(invocation.request_id.clone(), invocation.answer);
                (
                    invocation.request_id,
                    invocation.event,
                    invocation.deadline_ms,
                )
            })
        };
        if let Some((request_id, event, deadline_ms)) = taken {
            let mut headers = HeaderMap::new();
            let mut set = |name: &'static str, value: String| {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(name, value);
                }
            };
            set("lambda-runtime-aws-request-id", request_id);
            set("lambda-runtime-deadline-ms", deadline_ms.to_string());
            set(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:local".into(),
            );
            set(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".into(),
            );
            set("content-type", "application/json".into());
            return (StatusCode::OK, headers, event.to_string()).into_response();
        }
        arrived.await;
    }
}

fn answer(environment: &Environment, request_id: &str, answer: Answer) -> StatusCode {
    let waiting = environment
        .slots
        .lock()
        .unwrap()
        .in_flight
        .remove(request_id);
    match waiting {
        Some(waiting) => {
            let _ = waiting.send(answer);
            StatusCode::ACCEPTED
        }
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(environment): State<Arc<Environment>>,
    UrlPath(request_id): UrlPath<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    let value =
        serde_json::from_slice(&body).map_err(|error| format!("the answer is not JSON: {error}"));
    answer(&environment, &request_id, value)
}

async fn error(
    State(environment): State<Arc<Environment>>,
    UrlPath(request_id): UrlPath<String>,
    body: axum::body::Bytes,
) -> StatusCode {
    answer(
        &environment,
        &request_id,
        Err(String::from_utf8_lossy(&body).into_owned()),
    )
}

async fn init_error(body: axum::body::Bytes) -> StatusCode {
    tracing::error!(error = %String::from_utf8_lossy(&body), "the function failed its init");
    StatusCode::ACCEPTED
}
