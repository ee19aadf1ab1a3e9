//! An EventBridge Scheduler stand-in for the reminder run: a tick every 15 minutes of wall
//! time with that quarter hour as `scheduled_time`, and a loopback endpoint that runs it for
//! any time (the sandbox's "Run reminders at…" control posts there).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use daily_reminders::DailyReminders;
use serde_json::{json, Value};

use approvals_core::reminders::SLOT_SECS;
use approvals_core::time::{rfc3339, unix_now};

/// `POST /_dev/run-reminders` with `{"scheduled_time": "…"}`: what the schedule's
/// invocation would do then; answers the run's summary, or 400 naming the field.
pub fn router(reminders: Arc<DailyReminders>) -> Router {
    Router::new()
        .route("/_dev/run-reminders", post(run))
        .with_state(reminders)
}

async fn run(State(reminders): State<Arc<DailyReminders>>, Json(input): Json<Value>) -> Response {
    match reminders.handle(&input).await {
        Ok(summary) => Json(json!(summary)).into_response(),
        Err(daily_reminders::ReminderRunError::Input(error)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
    }
}

/// Invokes the run at every quarter hour of wall time, as `cron(0/15 * * * ? *)` does.
pub async fn every_quarter_hour(reminders: Arc<DailyReminders>) {
    loop {
        let now = unix_now();
        let next = (now / SLOT_SECS + 1) * SLOT_SECS;
        tokio::time::sleep(Duration::from_secs((next - now).max(1) as u64)).await;
        let input = json!({"scheduled_time": rfc3339(next)});
        if let Err(error) = reminders.handle(&input).await {
            tracing::error!(%error, "scheduled reminder run failed");
        }
    }
}
