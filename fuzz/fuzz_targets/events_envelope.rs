//! The Events API envelope and everything it may carry (thread replies, edits, deletes,
//! uninstalls, people changes), through the use case over in-memory ports.
#![no_main]

use approvals_core::fakes::{installation, MemoryQueue, MemoryStore};
use approvals_core::usecases::slack_events::SlackEvents;
use approvals_core::usecases::thread_comments::ThreadMessage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let store = MemoryStore::default();
    store.connect("acme", installation("T1"));
    let queue = MemoryQueue::default();
    let events = SlackEvents {
        guards: &store,
        tenants: &store,
        notifier: &queue,
        directory: &store,
        homes: &queue,
        comments: &store,
    };
    let _ = futures::executor::block_on(events.handle(body, 1_800_000_000));
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(body) {
        let _ = ThreadMessage::from_event(&event);
    }
});
