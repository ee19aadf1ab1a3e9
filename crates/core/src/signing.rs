//! Request signatures: Slack's v0 scheme (inbound) and the host's v1 scheme (both ways).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Slack and the host both allow five minutes of clock skew, in either direction.
pub const MAX_SKEW_SECS: i64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp header is missing")]
    MissingTimestamp,
    #[error("the signature header is missing")]
    MissingSignature,
    #[error("the timestamp header is not a Unix time")]
    MalformedTimestamp,
    #[error("the timestamp header looks like milliseconds; expected unix seconds")]
    MillisecondTimestamp,
    #[error("the timestamp is more than five minutes from now")]
    StaleTimestamp,
    #[error("the signature header is not of the form {0}=<hex>")]
    MalformedSignature(&'static str),
    #[error("the signature does not match the request")]
    Mismatch,
}

/// Which secret signed a request: during a rotation one of the previous ones still does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedWith {
    Current,
    /// The n-th previous secret (0 the most recent): accepted, and worth a warning.
    Previous(usize),
}

impl SignedWith {
    fn of(index: usize) -> Self {
        match index {
            0 => Self::Current,
            n => Self::Previous(n - 1),
        }
    }
}

/// Checks `X-Slack-Signature` over the raw body exactly as received.
pub fn verify_slack(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    raw_body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    verify_slack_with(&[signing_secret], timestamp, signature, raw_body, now).map(drop)
}

/// [`verify_slack`] against the current secret, then each previous one.
pub fn verify_slack_with(
    secrets: &[&[u8]],
    timestamp: Option<&str>,
    signature: Option<&str>,
    raw_body: &[u8],
    now: i64,
) -> Result<SignedWith, SignatureError> {
    let (timestamp, expected) = check_headers(timestamp, signature, "v0", now)?;
    first_match(secrets, &expected, |mac| {
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(raw_body);
    })
}

/// The first secret whose MAC over what `feed` gives matches `expected`.
fn first_match(
    secrets: &[&[u8]],
    expected: &[u8],
    feed: impl Fn(&mut HmacSha256),
) -> Result<SignedWith, SignatureError> {
    secrets
        .iter()
        .position(|secret| {
            let mut mac = keyed(secret);
            feed(&mut mac);
            mac.verify_slice(expected).is_ok()
        })
        .map(SignedWith::of)
        .ok_or(SignatureError::Mismatch)
}

/// `v0=<hex>` for a body, as Slack (and the sandbox) sign it.
pub fn sign_slack(signing_secret: &[u8], timestamp: i64, raw_body: &[u8]) -> String {
    let mut mac = keyed(signing_secret);
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(raw_body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The host API's basestring: `v1:{timestamp}:{METHOD}:{path and query}:{raw body}`.
pub fn sign_host_request(
    secret: &[u8],
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    raw_body: &[u8],
) -> String {
    let mut mac = keyed(secret);
    mac.update(format!("v1:{timestamp}:{method}:{path_and_query}:").as_bytes());
    mac.update(raw_body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks the host's `X-Approvals-Signature` on a request to our API.
pub fn verify_host_request(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    method: &str,
    path_and_query: &str,
    raw_body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let request = HostRequest {
        method,
        path_and_query,
        raw_body,
    };
    verify_host_request_with(&[secret], timestamp, signature, &request, now).map(drop)
}

/// What a host request's signature covers besides its timestamp.
pub struct HostRequest<'a> {
    pub method: &'a str,
    pub path_and_query: &'a str,
    pub raw_body: &'a [u8],
}

/// [`verify_host_request`] against the current secret, then each previous one.
pub fn verify_host_request_with(
    secrets: &[&[u8]],
    timestamp: Option<&str>,
    signature: Option<&str>,
    request: &HostRequest<'_>,
    now: i64,
) -> Result<SignedWith, SignatureError> {
    let (timestamp, expected) = check_headers(timestamp, signature, "v1", now)?;
    let prefix = format!(
        "v1:{timestamp}:{}:{}:",
        request.method, request.path_and_query
    );
    first_match(secrets, &expected, |mac| {
        mac.update(prefix.as_bytes());
        mac.update(request.raw_body);
    })
}

/// Signs a webhook body we send to the host: `v1:{timestamp}:{raw body}`.
pub fn sign_webhook(secret: &[u8], timestamp: i64, raw_body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(raw_body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a webhook signature; the host stand-in uses it and hosts can copy it.
pub fn verify_webhook(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    raw_body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let (timestamp, expected) = check_headers(timestamp, signature, "v1", now)?;
    let mut mac = keyed(secret);
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(raw_body);
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)
}

fn keyed(secret: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length")
}

/// Validates presence, freshness and shape of the two headers, returning the digest bytes.
fn check_headers<'a>(
    timestamp: Option<&'a str>,
    signature: Option<&str>,
    version: &'static str,
    now: i64,
) -> Result<(&'a str, Vec<u8>), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::MissingTimestamp)?.trim();
    let signature = signature.ok_or(SignatureError::MissingSignature)?.trim();
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::MalformedTimestamp)?;
    // Unix seconds have 10 digits until the year 2286; 13 is `Date.now()` in milliseconds.
    if seconds > 99_999_999_999 {
        return Err(SignatureError::MillisecondTimestamp);
    }
    if now.abs_diff(seconds) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(SignatureError::StaleTimestamp);
    }
    let digest = signature
        .strip_prefix(version)
        .and_then(|rest| rest.strip_prefix('='))
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .filter(|bytes| bytes.len() == 32)
        .ok_or(SignatureError::MalformedSignature(version))?;
    Ok((timestamp, digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICIAL_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const OFFICIAL_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const OFFICIAL_SIGNATURE: &str =
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const OFFICIAL_TS: i64 = 1_531_420_618;

    #[test]
    fn a_previous_secret_still_verifies_and_is_told_apart() {
        let ts = OFFICIAL_TS.to_string();
        let official = OFFICIAL_SECRET.as_bytes();
        let verify = |secrets: &[&[u8]]| {
            verify_slack_with(
                secrets,
                Some(&ts),
                Some(OFFICIAL_SIGNATURE),
                OFFICIAL_BODY.as_bytes(),
                OFFICIAL_TS,
            )
        };
        assert_eq!(verify(&[official]), Ok(SignedWith::Current));
        assert_eq!(
            verify(&[b"rotated", b"older", official]),
            Ok(SignedWith::Previous(1))
        );
        assert_eq!(verify(&[b"rotated"]), Err(SignatureError::Mismatch));
        assert_eq!(verify(&[]), Err(SignatureError::Mismatch));

        let body = br#"{"x":1}"#;
        let signed = sign_host_request(b"old", 100, "POST", "/v1/approvals", body);
        let request = HostRequest {
            method: "POST",
            path_and_query: "/v1/approvals",
            raw_body: body,
        };
        let host = |secrets: &[&[u8]]| {
            verify_host_request_with(secrets, Some("100"), Some(&signed), &request, 100)
        };
        assert_eq!(host(&[b"new", b"old"]), Ok(SignedWith::Previous(0)));
        assert_eq!(host(&[b"new"]), Err(SignatureError::Mismatch));
    }

    /// The host API's published test vector (README, "Signing a request"): a host's own
    /// signer should give this signature for these inputs.
    #[test]
    fn the_published_host_api_vector_verifies() {
        let (secret, timestamp, method, path) = (
            b"example-host-api-secret",
            1_764_000_000,
            "PUT",
            "/v1/tenants/acme/channels/deal_registration",
        );
        let body = br#"{"channel_id":"C0APPROVALS"}"#;
        let signature = sign_host_request(secret, timestamp, method, path, body);
        assert_eq!(
            signature,
            "v1=01ad1395dac997a558a85b7be3c5e640c3853a69a419629196d0e9d4c83459a0"
        );
        let ts = timestamp.to_string();
        verify_host_request(
            secret,
            Some(&ts),
            Some(&signature),
            method,
            path,
            body,
            timestamp,
        )
        .unwrap();
    }

    #[test]
    fn a_millisecond_timestamp_is_told_apart() {
        let ms = (OFFICIAL_TS * 1000).to_string();
        let error = verify_slack(
            OFFICIAL_SECRET.as_bytes(),
            Some(&ms),
            Some(OFFICIAL_SIGNATURE),
            OFFICIAL_BODY.as_bytes(),
            OFFICIAL_TS,
        )
        .unwrap_err();
        assert_eq!(error, SignatureError::MillisecondTimestamp);
        assert!(error.to_string().contains("expected unix seconds"));
    }

    #[test]
    fn slacks_official_vector_verifies() {
        let ts = OFFICIAL_TS.to_string();
        assert_eq!(
            sign_slack(
                OFFICIAL_SECRET.as_bytes(),
                OFFICIAL_TS,
                OFFICIAL_BODY.as_bytes()
            ),
            OFFICIAL_SIGNATURE
        );
        verify_slack(
            OFFICIAL_SECRET.as_bytes(),
            Some(&ts),
            Some(OFFICIAL_SIGNATURE),
            OFFICIAL_BODY.as_bytes(),
            OFFICIAL_TS + 10,
        )
        .unwrap();
    }

    #[test]
    fn slacks_second_vector_verifies() {
        assert_eq!(
            sign_slack(
                b"fa2c05deeef5a4077494e89f54394de0",
                OFFICIAL_TS,
                b"test-body"
            ),
            "v0=baa91ef62d346e56607bbdd278a8acd570b91226854f15a382f43d33be42f666"
        );
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let ts = OFFICIAL_TS.to_string();
        let body = OFFICIAL_BODY.as_bytes();
        let secret = OFFICIAL_SECRET.as_bytes();
        let at = |now| verify_slack(secret, Some(&ts), Some(OFFICIAL_SIGNATURE), body, now);
        assert_eq!(at(OFFICIAL_TS + 301), Err(SignatureError::StaleTimestamp));
        assert_eq!(at(OFFICIAL_TS - 301), Err(SignatureError::StaleTimestamp));
        assert_eq!(at(OFFICIAL_TS + 300), Ok(()));
        let extreme = i64::MIN.to_string();
        assert_eq!(
            verify_slack(
                secret,
                Some(&extreme),
                Some(OFFICIAL_SIGNATURE),
                body,
                OFFICIAL_TS
            ),
            Err(SignatureError::StaleTimestamp),
            "no overflow on absurd timestamps"
        );
        assert_eq!(
            verify_slack(secret, None, Some(OFFICIAL_SIGNATURE), body, OFFICIAL_TS),
            Err(SignatureError::MissingTimestamp)
        );
        assert_eq!(
            verify_slack(secret, Some(&ts), None, body, OFFICIAL_TS),
            Err(SignatureError::MissingSignature)
        );
        assert_eq!(
            verify_slack(
                secret,
                Some("soon"),
                Some(OFFICIAL_SIGNATURE),
                body,
                OFFICIAL_TS
            ),
            Err(SignatureError::MalformedTimestamp)
        );
        assert_eq!(
            verify_slack(secret, Some(&ts), Some("v0=zz"), body, OFFICIAL_TS),
            Err(SignatureError::MalformedSignature("v0"))
        );
        let mut tampered = body.to_vec();
        tampered[6] ^= 1;
        assert_eq!(
            verify_slack(
                secret,
                Some(&ts),
                Some(OFFICIAL_SIGNATURE),
                &tampered,
                OFFICIAL_TS
            ),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_slack(
                b"wrong-secret",
                Some(&ts),
                Some(OFFICIAL_SIGNATURE),
                body,
                OFFICIAL_TS
            ),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn host_signatures_cover_method_path_and_body() {
        let signed = sign_host_request(b"k", 100, "POST", "/v1/approvals", b"{}");
        let ok = |method, path, body: &[u8]| {
            verify_host_request(b"k", Some("100"), Some(&signed), method, path, body, 100)
        };
        assert_eq!(ok("POST", "/v1/approvals", b"{}"), Ok(()));
        assert_eq!(
            ok("PUT", "/v1/approvals", b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok("POST", "/v1/approvals?x=1", b"{}"),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            ok("POST", "/v1/approvals", b"{ }"),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn webhook_signatures_round_trip() {
        let signature = sign_webhook(b"hook", 50, b"body");
        assert_eq!(
            verify_webhook(b"hook", Some("50"), Some(&signature), b"body", 60),
            Ok(())
        );
        assert_eq!(
            verify_webhook(b"other", Some("50"), Some(&signature), b"body", 60),
            Err(SignatureError::Mismatch)
        );
    }
}
