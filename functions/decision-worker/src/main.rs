//! Lambda entrypoint for the SQS decision worker (partial batch failures).

use decision_worker::DecisionWorker;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    approvals_lambda::telemetry::init();
    let worker = &DecisionWorker::from_env().await?;
    let emf = approvals_lambda::emf::Emf::install("decision-worker");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        let deadline =
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
        let answer = worker.handle_until(event.payload, Some(deadline)).await;
        emf.flush();
        Ok::<_, Error>(answer)
    }))
    .await
}
