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
    let dlq = sqs
        .create_queue()
        .queue_name(crate::common::unique("dlq-"))
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
    let queue = sqs
        .create_queue()
        .queue_name(crate::common::unique("esm-"))
        .attributes(QueueAttributeName::VisibilityTimeout, "0")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

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
