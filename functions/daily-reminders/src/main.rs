//! Lambda entrypoint for the 15-minute reminder run (EventBridge Scheduler, `ScheduleV2`).

use daily_reminders::DailyReminders;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    approvals_lambda::telemetry::init();
    let reminders = &DailyReminders::from_env().await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            Ok::<_, Error>(reminders.handle(&event.payload).await?)
        },
    ))
    .await
}
