//! Slack's request verifier and the interaction payload parser (`block_actions`,
//! `view_submission`): whatever arrives is refused or parsed, never a panic.
#![no_main]

use approvals_core::signing::{sign_slack, verify_slack};
use approvals_core::usecases::ack_click::interaction;
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"fuzz-signing-secret";
const NOW: i64 = 1_800_000_000;

fuzz_target!(|body: &[u8]| {
    // Forged: any header values against the body.
    let text = String::from_utf8_lossy(body);
    let (timestamp, signature) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = verify_slack(SECRET, Some(timestamp), Some(signature), body, NOW);
    // Signed right: the parser sees exactly what a verified request carries.
    let signed = sign_slack(SECRET, NOW, body);
    assert!(verify_slack(SECRET, Some(&NOW.to_string()), Some(&signed), body, NOW).is_ok());
    let _ = interaction(body);
});
