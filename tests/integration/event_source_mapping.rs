//! The local SQS event source mapping behaves as Lambda's: batches to the worker, deletes
//! what succeeded, leaves reported failures on the queue, and SQS dead-letters a message
//! after the redrive policy's max receives.

use crate::common::Stack;
use aws_sdk_sqs::types::QueueAttributeName;

#[tokio::test]
async fn failures_stay_on_the_queue_until_redrive_moves_them_to_the_dlq() {
    // GIVEN a queue like the template's, but visible again at once and dead-lettered after 2 receives
    let stack = Stack::start().await;
    let sqs = &stack.sqs;
    let (queue, dlq) =
        crate::common::queue_with_dlq(sqs, 2, &[(QueueAttributeName::VisibilityTimeout, "0")])
            .await;

    // A good click and an unreadable message.
    let (id, channel, ts) = stack.create_approval("DR-ESM").await;
    stack.click(&channel, &ts, "approve", "U0ANA").await;
    let good = stack.drain_queue().await.remove(0);
    for body in [good.body.unwrap(), "{not a work item".to_owned()] {
        sqs.send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    // WHEN the mapping polls three times
    let first = devserver::esm::poll_once(sqs, &queue, &stack.worker, 0)
        .await
        .unwrap();
    let second = devserver::esm::poll_once(sqs, &queue, &stack.worker, 0)
        .await
        .unwrap();
    let third = devserver::esm::poll_once(sqs, &queue, &stack.worker, 0)
        .await
        .unwrap();

    // THEN the good command was done once and deleted; the bad one came back, then went to the DLQ
    assert_eq!((first, second, third), (2, 1, 0));
    assert_eq!(stack.approval_item(&id).await["status"], "approved");
    assert_eq!(stack.slack.calls(Some("chat.update")).len(), 1);
    let dead = sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap();
    let dead = dead.messages.unwrap_or_default();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body.as_deref(), Some("{not a work item"));
}
