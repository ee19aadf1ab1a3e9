//! The host's documents: one sample purchase order, served by the host stand-in at
//! `/files/sample-po.pdf` (under the prefix `make dev` allows the API to fetch from), and
//! the attachment that points a request at it.

use sandbox::host::{HostFile, HostStandIn};
use serde_json::{json, Value};

/// A one-page PDF, "Purchase order PO-1042".
pub const SAMPLE_PDF: &[u8] = include_bytes!("../../assets/sample-po.pdf");
/// Its name under `/files/`.
pub const SAMPLE_PDF_NAME: &str = "sample-po.pdf";

/// Serves the sample PDF at `/files/sample-po.pdf` from now on.
pub fn serve_sample_pdf(stand_in: &HostStandIn) {
    stand_in.serve_file(
        SAMPLE_PDF_NAME,
        HostFile::Bytes {
            content_type: "application/pdf".into(),
            bytes: SAMPLE_PDF.to_vec(),
        },
    );
}

/// The sample PDF as an attachment of a request (`POST /v1/approvals`'s `attachments`) or
/// as the body of `POST /v1/approvals/{id}/files` (with `tenant_id` added). `file_id` is the
/// host's id of this copy: the API uploads each id once per thread.
pub(super) fn sample_attachment(host_base: &str, file_id: &str) -> Value {
    json!({
        "file_id": file_id,
        "url": format!("{host_base}/files/{SAMPLE_PDF_NAME}"),
        "filename": "PO-1042.pdf",
        "title": "Purchase order PO-1042",
    })
}

/// Whether a form's `attach_pdf` checkbox was checked (a browser sends it only then).
pub(super) fn checked(field: Option<&str>) -> bool {
    field.is_some_and(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_is_a_small_complete_pdf() {
        assert!(SAMPLE_PDF.starts_with(b"%PDF-1."));
        assert!(SAMPLE_PDF.ends_with(b"%%EOF\n"));
        assert!(SAMPLE_PDF.len() < 10 * 1024, "{} bytes", SAMPLE_PDF.len());
        let text = String::from_utf8_lossy(SAMPLE_PDF);
        assert!(text.contains("(Purchase order PO-1042) Tj"));
        // The cross-reference table points at each object.
        let xref: usize = text
            .rsplit_once("startxref\n")
            .and_then(|(_, rest)| rest.lines().next())
            .and_then(|line| line.parse().ok())
            .expect("startxref");
        assert!(SAMPLE_PDF[xref..].starts_with(b"xref\n"));
        let entries: Vec<usize> = text[xref..]
            .lines()
            .filter(|line| line.ends_with(" 00000 n "))
            .map(|line| line[..10].parse().unwrap())
            .collect();
        assert_eq!(entries.len(), 6);
        for (index, offset) in entries.into_iter().enumerate() {
            let object = format!("{} 0 obj", index + 1);
            assert!(
                SAMPLE_PDF[offset..].starts_with(object.as_bytes()),
                "{object}"
            );
        }
    }

    #[test]
    fn the_attachment_points_at_the_served_file() {
        let attachment = sample_attachment("http://127.0.0.1:3002", "sample-po-7");
        assert_eq!(
            attachment,
            json!({"file_id": "sample-po-7", "url": "http://127.0.0.1:3002/files/sample-po.pdf",
                   "filename": "PO-1042.pdf", "title": "Purchase order PO-1042"})
        );
        assert!(checked(Some("yes")));
        assert!(!checked(None));
        assert!(!checked(Some("")));
    }
}
