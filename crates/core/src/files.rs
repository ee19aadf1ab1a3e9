//! The host's documents in a request's thread: what an attachment is, which URLs the
//! worker may fetch one from, and how far one upload into Slack got.

use serde::{Deserialize, Serialize};

use crate::domain::{check_text, ValidationError};

/// The most files one request carries.
pub const MAX_ATTACHMENTS: usize = 10;
/// The largest file the worker downloads and uploads, streamed, never held whole.
pub const MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// A document of the host's to show in the request's thread, fetched from `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// The host's id of the file: one upload per id and thread, however often it is sent.
    pub file_id: String,
    pub url: String,
    pub filename: String,
    #[serde(default)]
    pub title: Option<String>,
    /// The size the host knows, in bytes: a file over the limit is refused at once rather
    /// than by the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

impl Attachment {
    /// What the thread shows: the title, else the file name.
    pub fn shown_title(&self) -> &str {
        self.title
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(&self.filename)
    }

    /// Its shape: ids, a plain file name, a size within the limit. `field` is where it sits
    /// in the request, e.g. `attachments[0]`.
    pub fn check(&self, field: &str) -> Result<(), ValidationError> {
        let name = |sub: &str| {
            if field.is_empty() {
                sub.to_owned()
            } else {
                format!("{field}.{sub}")
            }
        };
        check_text(&name("file_id"), &self.file_id, 200)?;
        check_text(&name("filename"), &self.filename, 255)?;
        if self.filename.contains(['/', '\\']) || self.filename.chars().any(char::is_control) {
            return Err(ValidationError::new(
                name("filename"),
                "must be a plain file name, without slashes or control characters",
            ));
        }
        if let Some(title) = &self.title {
            if title.chars().count() > 255 {
                return Err(ValidationError::new(
                    name("title"),
                    "must be at most 255 characters",
                ));
            }
        }
        if self.size.is_some_and(|size| size > MAX_FILE_BYTES) {
            return Err(ValidationError::new(
                name("size"),
                format!("the file is over the {} MB limit", MAX_FILE_BYTES >> 20),
            ));
        }
        Ok(())
    }
}

/// A request's attachments: at most ten, each well-formed, no file id twice.
pub fn check_attachments(attachments: &[Attachment]) -> Result<(), ValidationError> {
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(ValidationError::new(
            "attachments",
            format!("at most {MAX_ATTACHMENTS} files per request"),
        ));
    }
    for (index, attachment) in attachments.iter().enumerate() {
        attachment.check(&format!("attachments[{index}]"))?;
        if attachments[..index]
            .iter()
            .any(|earlier| earlier.file_id == attachment.file_id)
        {
            return Err(ValidationError::new(
                format!("attachments[{index}].file_id"),
                "is listed twice",
            ));
        }
    }
    Ok(())
}

/// `HOST_FILE_URL_PREFIXES`: where the worker may fetch the host's files from. Anything
/// else is refused at the API, so the worker never fetches an arbitrary URL for a caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedFileUrls(Vec<String>);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("HOST_FILE_URL_PREFIXES: {prefix:?} {reason}")]
pub struct FileUrlsError {
    prefix: String,
    reason: &'static str,
}

/// Plain HTTP only on loopback, where tests and `make dev` serve files.
const LOOPBACK: [&str; 2] = ["http://127.0.0.1:", "http://localhost:"];

impl AllowedFileUrls {
    /// Comma-separated prefixes, each `https://host/…` (or loopback `http`); empty means
    /// no file is fetched at all.
    pub fn parse(list: &str) -> Result<Self, FileUrlsError> {
        let mut prefixes = Vec::new();
        for prefix in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let refuse = |reason| {
                Err(FileUrlsError {
                    prefix: prefix.to_owned(),
                    reason,
                })
            };
            let rest = if let Some(rest) = prefix.strip_prefix("https://") {
                rest
            } else if LOOPBACK.iter().any(|l| prefix.starts_with(l)) {
                prefix.split_once("://").map_or("", |(_, rest)| rest)
            } else {
                return refuse("must start with https:// (http only for 127.0.0.1 or localhost)");
            };
            let host = rest.split('/').next().unwrap_or_default();
            if host.is_empty() || host.contains(['@', '?', '#']) {
                return refuse("must name a host, without credentials");
            }
            prefixes.push(prefix.to_owned());
        }
        Ok(Self(prefixes))
    }

    /// The URL starts with a listed prefix, and the prefix ends at a path boundary, so
    /// `https://files.acme.example` does not admit `https://files.acme.example.evil.test`.
    pub fn allows(&self, url: &str) -> bool {
        !url.chars().any(|c| c.is_whitespace() || c.is_control())
            && self.0.iter().any(|prefix| {
                url.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    (prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?']))
                        && !climbs_out(rest)
                })
            })
    }

    /// Every attachment's URL is allowed; the error names the first that is not.
    pub fn check(&self, attachments: &[Attachment], field: &str) -> Result<(), ValidationError> {
        match attachments.iter().position(|a| !self.allows(&a.url)) {
            None => Ok(()),
            Some(index) => Err(ValidationError::new(
                if field.is_empty() {
                    "url".to_owned()
                } else {
                    format!("{field}[{index}].url")
                },
                "not an allowed prefix (HOST_FILE_URL_PREFIXES)",
            )),
        }
    }
}

/// Whether the rest of a URL after its prefix could resolve outside it: `..` segments,
/// spelt out or percent-encoded, and encoded or backward slashes, which a server may take
/// for separators.
fn climbs_out(rest: &str) -> bool {
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let lower = path.to_ascii_lowercase();
    path.split('/').any(|segment| segment == "..")
        || ["%2e", "%2f", "%5c", "\\"]
            .iter()
            .any(|sneaky| lower.contains(sneaky))
}

/// How far one file's upload into one thread got: Slack's file id is kept after step 1
/// and the completion is asked for once, so a retry repeats no finished step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileUpload {
    #[serde(default)]
    pub slack_file_id: Option<String>,
    /// Pre-authorised for this one file; never logged.
    #[serde(default)]
    pub upload_url: Option<String>,
    /// The bytes reached the upload URL.
    #[serde(default)]
    pub sent: bool,
    /// `files.completeUploadExternal` was asked, its answer perhaps lost.
    #[serde(default)]
    pub completing: bool,
    /// Slack shared it into the thread.
    #[serde(default)]
    pub completed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(url: &str) -> Attachment {
        Attachment {
            file_id: "f-1".into(),
            url: url.into(),
            filename: "po-1042.pdf".into(),
            title: None,
            size: None,
        }
    }

    #[test]
    fn prefixes_must_be_https_except_on_loopback() {
        assert!(
            AllowedFileUrls::parse("https://files.acme.example/docs/, http://127.0.0.1:8080/")
                .is_ok()
        );
        for bad in [
            "http://files.acme.example/",
            "ftp://x/",
            "https://",
            "https://user@host/",
            "http://127.0.0.2:80/",
        ] {
            assert!(AllowedFileUrls::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            AllowedFileUrls::parse(" , ").unwrap(),
            AllowedFileUrls::default()
        );
    }

    #[test]
    fn a_prefix_admits_only_urls_under_it() {
        let allowed =
            AllowedFileUrls::parse("https://files.acme.example,https://cdn.acme.example/po/")
                .unwrap();
        assert!(allowed.allows("https://files.acme.example/a.pdf"));
        assert!(allowed.allows("https://cdn.acme.example/po/1042.pdf"));
        assert!(allowed.allows("https://cdn.acme.example/po/v1..2/1042.pdf?sig=a..b"));
        for refused in [
            "https://files.acme.example.evil.test/a.pdf",
            "https://files.acme.example@evil.test/a.pdf",
            "https://cdn.acme.example/other/1.pdf",
            "http://files.acme.example/a.pdf",
            "https://files.acme.example/a b.pdf",
            "https://cdn.acme.example/po/../../secrets/key.pem",
            "https://cdn.acme.example/po/%2e%2e/%2E%2E/secrets",
            "https://cdn.acme.example/po/..%2fsecrets",
            "https://cdn.acme.example/po/..\\secrets",
        ] {
            assert!(!allowed.allows(refused), "{refused}");
        }
        let error = allowed
            .check(&[attachment("https://evil.test/x.pdf")], "attachments")
            .unwrap_err();
        assert_eq!(error.field, "attachments[0].url");
        assert!(
            AllowedFileUrls::default()
                .check(
                    &[attachment("https://files.acme.example/a.pdf")],
                    "attachments"
                )
                .is_err(),
            "nothing listed, nothing fetched"
        );
    }

    #[test]
    fn attachments_are_ten_at_most_well_formed_and_within_the_limit() {
        let ok = attachment("https://x/a.pdf");
        assert!(check_attachments(std::slice::from_ref(&ok)).is_ok());
        let many: Vec<_> = (0..11)
            .map(|i| Attachment {
                file_id: format!("f-{i}"),
                ..ok.clone()
            })
            .collect();
        assert_eq!(check_attachments(&many).unwrap_err().field, "attachments");
        let huge = Attachment {
            size: Some(MAX_FILE_BYTES + 1),
            ..ok.clone()
        };
        assert_eq!(
            check_attachments(&[huge]).unwrap_err().field,
            "attachments[0].size"
        );
        let sneaky = Attachment {
            filename: "../../etc/passwd".into(),
            ..ok.clone()
        };
        assert_eq!(
            check_attachments(&[sneaky]).unwrap_err().field,
            "attachments[0].filename"
        );
        assert_eq!(
            check_attachments(&[ok.clone(), ok]).unwrap_err().field,
            "attachments[1].file_id"
        );
    }
}
