//! Every host API route's body parser and validation: the approval, a notification, users,
//! reminder settings, a person's schedule, a kind's settings, an attachment's URL.
#![no_main]

use approvals_core::domain::{check_identifier, ApprovalRequest};
use approvals_core::files::AllowedFileUrls;
use approvals_core::inbox::KindUpdate;
use approvals_core::notification::NotificationRequest;
use approvals_core::people::{parse_one_user, parse_user_batch};
use approvals_core::reminders::{user_schedule_from_json, TenantReminders};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Ok(request) = ApprovalRequest::from_json(body) {
        let _ = request.check_deadline(1_800_000_000);
        let allowed = AllowedFileUrls::parse("https://files.example/docs/").unwrap();
        let _ = allowed.check(&request.attachments, "attachments");
    }
    let _ = NotificationRequest::from_json(body);
    let _ = parse_user_batch(body);
    let _ = parse_one_user(body);
    let _ = TenantReminders::from_json(body);
    let _ = user_schedule_from_json(body);
    let _ = KindUpdate::from_json(body);
    let text = String::from_utf8_lossy(body);
    let _ = check_identifier("tenant_id", &text);
    let _ = AllowedFileUrls::parse(&text);
});
