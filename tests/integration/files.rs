//! The host's documents in a request's thread: fetched only from allowed URLs, uploaded
//! with Files v2 once per thread however often the worker retries, refused at the API
//! when they could never be fetched.

use sandbox::host::HostFile;
use sandbox::slack::Fault;
use serde_json::{json, Value};

use crate::common::{sqs_event, Stack};

/// A small, valid-looking PDF.
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

fn serve_pdf(stack: &Stack, name: &str) -> String {
    stack.host.serve_file(
        name,
        HostFile::Bytes {
            content_type: "application/pdf".into(),
            bytes: PDF.to_vec(),
        },
    );
    format!("{}/files/{name}", stack.host_base)
}

fn with_attachments(stack: &Stack, external_id: &str, attachments: Value) -> Value {
    let mut body = stack.approval_body(external_id);
    body["attachments"] = attachments;
    body
}

async fn approval(stack: &Stack, id: &str) -> Value {
    let path = format!("/v1/approvals/{id}?tenant_id={}", stack.tenant_id);
    stack.host_call("GET", &path, &Value::Null).await.1
}

/// Runs the worker over what is queued until no attachment of `id` is pending (bounded).
/// A record that must come back later is queued again by hand once the clock has moved:
/// moto hides it for its visibility timeout in real time.
async fn settle(stack: &Stack, id: &str) -> Value {
    for _ in 0..10 {
        let records = stack.drain_queue().await;
        stack.worker.handle(sqs_event(records)).await;
        let read = approval(stack, id).await;
        let attachments = read["attachments"].as_array().unwrap();
        if attachments.iter().all(|a| a["status"] != "pending") {
            return read;
        }
        stack.time_passes(600);
        stack.api.later.perform_later(id, 0).await.unwrap();
    }
    panic!("the attachments of {id} never settled")
}

fn shares(stack: &Stack) -> Vec<Value> {
    stack
        .slack
        .calls(Some("files.completeUploadExternal"))
        .into_iter()
        .filter(|call| call.error.is_none())
        .map(|call| call.params)
        .collect()
}

#[tokio::test]
async fn a_requests_pdf_is_uploaded_into_its_thread_once() {
    let stack = Stack::start().await;
    let url = serve_pdf(&stack, "po-1042.pdf");
    let body = with_attachments(
        &stack,
        "FILE-1",
        json!([{"file_id": "doc-1", "url": url, "filename": "po-1042.pdf", "title": "PO 1042"}]),
    );
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (channel, ts) = (
        created["slack"]["channel_id"].as_str().unwrap().to_owned(),
        created["slack"]["message_ts"].as_str().unwrap().to_owned(),
    );
    assert_eq!(created["attachments"][0]["status"], "pending", "{created}");

    stack.host_events().await;
    // The same work again, as a redelivery would bring it.
    stack.api.later.perform_later(&id, 0).await.unwrap();
    stack.host_events().await;

    let shares = shares(&stack);
    assert_eq!(shares.len(), 1, "shared once: {shares:?}");
    assert_eq!(shares[0]["channel_id"], channel.as_str());
    assert_eq!(shares[0]["thread_ts"], ts.as_str());
    assert_eq!(shares[0]["files"][0]["title"], "PO 1042");
    let tickets = stack.slack.calls(Some("files.getUploadURLExternal"));
    assert_eq!(tickets.len(), 1, "one ticket");
    assert_eq!(
        tickets[0].params["length"].to_string().trim_matches('"'),
        PDF.len().to_string()
    );
    let uploads = stack.slack.calls(Some("upload_url"));
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].params["bytes"], PDF.len());
    assert_eq!(
        approval(&stack, &id).await["attachments"][0]["status"],
        "done"
    );
}

#[tokio::test]
async fn a_share_whose_answer_was_lost_is_not_asked_for_again() {
    let stack = Stack::start().await;
    let url = serve_pdf(&stack, "lost.pdf");
    stack.slack.inject(
        "files.completeUploadExternal",
        Fault::CommitThenFail {
            status: 502,
            millis: 0,
        },
        1,
    );
    let body = with_attachments(
        &stack,
        "FILE-2",
        json!([{"file_id": "doc-2", "url": url, "filename": "lost.pdf"}]),
    );
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    let (channel, ts) = (
        created["slack"]["channel_id"].as_str().unwrap().to_owned(),
        created["slack"]["message_ts"].as_str().unwrap().to_owned(),
    );

    let read = settle(&stack, &id).await;

    // Asked again after the lost answer: Slack takes a file once, so the second ask
    // answers file_not_found and the file is in the thread once.
    let asked = stack.slack.calls(Some("files.completeUploadExternal"));
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert_eq!(asked[1].error.as_deref(), Some("file_not_found"));
    let shared: Vec<_> = stack
        .slack
        .messages(&channel)
        .into_iter()
        .filter(|m| m.thread_ts.as_deref() == Some(ts.as_str()) && !m.files.is_empty())
        .collect();
    assert_eq!(shared.len(), 1, "{shared:?}");
    assert_eq!(read["attachments"][0]["status"], "done");
}

#[tokio::test]
async fn files_that_cannot_be_fetched_fail_without_a_share() {
    let stack = Stack::start().await;
    stack.host.serve_file(
        "elsewhere.pdf",
        HostFile::RedirectTo("http://127.0.0.2:9/evil.pdf".into()),
    );
    stack.host.serve_file(
        "unsized.pdf",
        HostFile::Chunked {
            content_type: "application/pdf".into(),
            bytes: PDF.to_vec(),
        },
    );
    stack.host.serve_file(
        "login.pdf",
        HostFile::Bytes {
            content_type: "text/html".into(),
            bytes: b"<h1>Sign in</h1>".to_vec(),
        },
    );
    let base = format!("{}/files", stack.host_base);
    let body = with_attachments(
        &stack,
        "FILE-3",
        json!([
            {"file_id": "gone", "url": format!("{base}/missing.pdf"), "filename": "missing.pdf"},
            {"file_id": "moved", "url": format!("{base}/elsewhere.pdf"), "filename": "elsewhere.pdf"},
            {"file_id": "html", "url": format!("{base}/login.pdf"), "filename": "login.pdf"},
            {"file_id": "unsized", "url": format!("{base}/unsized.pdf"), "filename": "unsized.pdf"},
        ]),
    );
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();

    stack.host_events().await;

    let read = approval(&stack, &id).await;
    let statuses: Vec<&str> = read["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["failed", "failed", "failed", "failed"], "{read}");
    assert!(stack
        .slack
        .calls(Some("files.getUploadURLExternal"))
        .is_empty());
    assert!(shares(&stack).is_empty());
}

#[tokio::test]
async fn bad_attachments_are_refused_at_the_api_and_change_nothing() {
    let stack = Stack::start().await;
    let url = serve_pdf(&stack, "ok.pdf");
    let one = |url: &str| json!({"file_id": "doc", "url": url, "filename": "ok.pdf"});
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"file_id": format!("doc-{i}"), "url": url, "filename": "ok.pdf"}))
        .collect();
    for (attachments, field) in [
        (
            json!([one("https://evil.example/x.pdf")]),
            "attachments[0].url: not an allowed prefix",
        ),
        (
            json!([one(&url.replace("/files/", "/other/"))]),
            "attachments[0].url",
        ),
        (json!(eleven), "attachments:"),
        (
            json!([{"file_id": "big", "url": url, "filename": "big.pdf", "size": 60_000_000}]),
            "attachments[0].size",
        ),
    ] {
        let body = with_attachments(&stack, "FILE-BAD", attachments);
        let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["message"].as_str().unwrap().starts_with(field),
            "{field}: {answer}"
        );
    }
    assert!(
        stack.slack.calls(Some("chat.postMessage")).is_empty(),
        "nothing posted"
    );

    // Added later: accepted once, repeated harmlessly, refused when it differs.
    let (id, _, _) = stack.create_approval("FILE-4").await;
    let path = format!("/v1/approvals/{id}/files");
    let file = json!({"tenant_id": stack.tenant_id, "file_id": "late", "url": url,
                      "filename": "late.pdf", "title": "Signed PO"});
    assert_eq!(stack.host_call("POST", &path, &file).await.0, 202);
    assert_eq!(stack.host_call("POST", &path, &file).await.0, 200);
    let mut other = file.clone();
    other["title"] = json!("Another");
    assert_eq!(stack.host_call("POST", &path, &other).await.0, 409);
    // Another tenant of the same workspace names this request: it is not theirs.
    let other_tenant = format!("{}-b", stack.tenant_id);
    stack.connect(&other_tenant, &stack.team_id).await;
    let mut elsewhere = file.clone();
    elsewhere["tenant_id"] = json!(other_tenant);
    assert_eq!(stack.host_call("POST", &path, &elsewhere).await.0, 404);
    // Ten files at most, however they come.
    for n in 0..9 {
        let mut more = file.clone();
        more["file_id"] = json!(format!("more-{n}"));
        assert_eq!(stack.host_call("POST", &path, &more).await.0, 202);
    }
    let mut eleventh = file.clone();
    eleventh["file_id"] = json!("eleventh");
    let (status, answer) = stack.host_call("POST", &path, &eleventh).await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["message"].as_str().unwrap().starts_with("file_id:"),
        "{answer}"
    );
    let mut refused = file.clone();
    refused["url"] = json!("https://evil.example/x.pdf");
    let (status, answer) = stack.host_call("POST", &path, &refused).await;
    assert_eq!(
        (
            status,
            answer["message"]
                .as_str()
                .unwrap()
                .starts_with("url: not an allowed prefix")
        ),
        (400, true),
        "{answer}"
    );
    settle(&stack, &id).await;
    assert_eq!(shares(&stack).len(), 10, "each file once");

    // A kind whose files stay in the host.
    let kind = format!("/v1/tenants/{}/kinds/deal_registration", stack.tenant_id);
    let (status, answer) = stack
        .host_call("PUT", &kind, &json!({"attach_files": false}))
        .await;
    assert_eq!(
        (status, &answer["attach_files"]),
        (200, &json!(false)),
        "{answer}"
    );
    let mut another = file.clone();
    another["file_id"] = json!("later-still");
    let (status, answer) = stack.host_call("POST", &path, &another).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"], "attach_files_off");
}
