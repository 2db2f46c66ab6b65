//! The checks WeChat Pay makes on every APIv3 request, from the other side
//! of the wire: headers present, Authorization well formed, merchant and
//! serial known, timestamp fresh, nonce unused, RSA signature valid over the
//! raw request line as received.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};

use reqwest::header::HeaderMap;
use serde_json::json;

use super::answer::Answer;
use super::identity::ServerKeys;
use crate::crypto::verify_sha256_rsa;
use crate::keys::same_serial;
use crate::sign::{request_message, Authorization};
use crate::verify::MAX_CLOCK_SKEW;

/// Remembers each nonce for as long as its request could be accepted: until
/// its own timestamp is more than [`MAX_CLOCK_SKEW`] old. (Kept from first
/// use instead, a request signed 299 s ahead would replay at +301 s.)
#[derive(Default)]
pub(crate) struct ReplayGuard {
    seen: HashSet<String>,
    /// (timestamp after which the nonce may be forgotten, nonce), soonest first.
    expiry: BinaryHeap<Reverse<(i64, String)>>,
}

impl ReplayGuard {
    /// Records `nonce`, signed at `timestamp`; false if it was already used
    /// by a request that is still inside the window at `now`.
    pub(crate) fn admit(&mut self, nonce: &str, timestamp: i64, now: i64) -> bool {
        while let Some(Reverse((until, _))) = self.expiry.peek() {
            if now <= *until {
                break;
            }
            if let Some(Reverse((_, old))) = self.expiry.pop() {
                self.seen.remove(&old);
            }
        }
        if !self.seen.insert(nonce.to_owned()) {
            return false;
        }
        let until = timestamp.saturating_add(MAX_CLOCK_SKEW);
        self.expiry.push(Reverse((until, nonce.to_owned())));
        true
    }
}

/// Why a request was refused: the answer WeChat Pay would give, the reason
/// in words for the mock's log, and for a signature that does not verify
/// the message the mock verified against.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) answer: Answer,
    pub(crate) reason: String,
    pub(crate) signed_message: Option<Vec<u8>>,
}

impl Refusal {
    fn new(answer: Answer, reason: String) -> Box<Self> {
        Box::new(Refusal {
            answer,
            reason,
            signed_message: None,
        })
    }
}

/// Checks one request with the server's clock at `now` (Unix seconds);
/// `signed_body` is what the signature covers (the body, or the `meta`
/// part of an upload).
pub(crate) fn check_at(
    keys: &ServerKeys,
    replay: &std::sync::Mutex<ReplayGuard>,
    method: &str,
    target: &str,
    headers: &HeaderMap,
    signed_body: &[u8],
    now: i64,
) -> Result<(), Box<Refusal>> {
    for name in ["accept", "user-agent"] {
        if headers.get(name).is_none_or(|v| v.is_empty()) {
            return Err(Refusal::new(
                Answer::error(
                    400,
                    "INVALID_REQUEST",
                    &format!("HTTP头缺少{name}"),
                    Some(
                        json!({"header": name, "issue": "WeChat Pay requires Accept and User-Agent"}),
                    ),
                ),
                format!("INVALID_REQUEST, header {name} is missing (WeChat Pay requires Accept and User-Agent)"),
            ));
        }
    }
    let sign_error = |issue: String| {
        Refusal::new(
            Answer::error(401, "SIGN_ERROR", "签名错误", Some(json!({"issue": issue}))),
            format!("SIGN_ERROR, {issue}"),
        )
    };
    let header = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| sign_error("Authorization header is missing".to_owned()))?;
    let auth =
        Authorization::parse(header).map_err(|e| sign_error(format!("Authorization: {e}")))?;
    let credentials = &keys.credentials;
    if auth.mchid != credentials.mchid {
        return Err(sign_error(format!(
            "mchid `{}` is not this merchant",
            auth.mchid
        )));
    }
    if !same_serial(&auth.serial_no, credentials.merchant_serial) {
        return Err(sign_error(format!(
            "serial_no `{}` is not a certificate of merchant {}",
            auth.serial_no, credentials.mchid
        )));
    }
    if now.abs_diff(auth.timestamp) > MAX_CLOCK_SKEW.unsigned_abs() {
        return Err(sign_error(format!(
            "timestamp {} is {}s away from the server's clock ({now}); the limit is {MAX_CLOCK_SKEW}s",
            auth.timestamp,
            now.abs_diff(auth.timestamp)
        )));
    }
    let message = request_message(method, target, auth.timestamp, &auth.nonce_str, signed_body);
    if !verify_sha256_rsa(&keys.merchant_public, &message, &auth.signature) {
        let answer = Answer::error(
            401,
            "SIGN_ERROR",
            "签名错误，请检查后再试",
            Some(json!({
                "detail": {"issue": "sign not match"},
                "field": "signature",
                "location": "authorization",
                "sign_information": {
                    "method": method,
                    "url": target,
                    "sign_message_length": message.len(),
                    "truncated_sign_message": truncate(&message, 512),
                }
            })),
        );
        return Err(Box::new(Refusal {
            answer,
            reason: format!(
                "SIGN_ERROR, the signature does not verify with the public key of merchant {} \
                 certificate {} over the message the mock reconstructed from the request as \
                 received (compare it with `--dry-run`)",
                credentials.mchid, credentials.merchant_serial
            ),
            signed_message: Some(message),
        }));
    }
    let fresh = replay
        .lock()
        .map(|mut guard| guard.admit(&auth.nonce_str, auth.timestamp, now))
        .unwrap_or(false);
    if !fresh {
        return Err(sign_error(format!(
            "nonce_str `{}` was already used by a request whose timestamp is within {MAX_CLOCK_SKEW}s",
            auth.nonce_str
        )));
    }
    Ok(())
}

fn truncate(message: &[u8], limit: usize) -> String {
    let text = String::from_utf8_lossy(message);
    if text.len() <= limit {
        return text.into_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use reqwest::header::{HeaderMap, HeaderValue};

    use super::{check_at, ReplayGuard};
    use crate::keys::PrivateKey;
    use crate::mock::wire::identity::ServerKeys;
    use crate::sign::RequestSigner;

    const T: i64 = 1_767_240_000;

    #[test]
    fn a_nonce_is_kept_until_its_own_timestamp_is_stale() {
        let mut guard = ReplayGuard::default();
        // signed 299 s ahead of the server's clock: accepted until T + 599
        assert!(guard.admit("ahead", T + 299, T));
        assert!(!guard.admit("ahead", T + 299, T + 303));
        assert!(!guard.admit("ahead", T + 299, T + 599));
        // signed 200 s in the past: stale (and forgettable) after T + 100
        assert!(guard.admit("behind", T - 200, T));
        assert!(!guard.admit("behind", T - 200, T + 100));
        assert!(guard.admit("behind", T - 200, T + 101));
        // a later nonce does not keep an earlier, expired one alive
        assert!(guard.admit("ahead", T + 299, T + 600));
    }

    fn request(timestamp: i64) -> HeaderMap {
        let c = crate::mock::Credentials::get();
        let key = PrivateKey::from_pem(c.merchant_private_key.as_bytes()).unwrap();
        let signer = RequestSigner::new(c.mchid, c.merchant_serial, key);
        let auth = signer
            .sign_at(
                "GET",
                "/v3/certificates",
                b"",
                timestamp,
                "0123456789abcdefghijABCDEFGHIJ01",
            )
            .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("accept", HeaderValue::from_static("application/json"));
        headers.insert("user-agent", HeaderValue::from_static("test/1"));
        headers.insert(
            "authorization",
            HeaderValue::from_str(&auth.to_string()).unwrap(),
        );
        headers
    }

    #[test]
    fn a_request_signed_ahead_of_time_does_not_replay_after_five_minutes() {
        let keys = ServerKeys::load().unwrap();
        let replay = Mutex::new(ReplayGuard::default());
        let headers = request(T + 299);
        let at = |now| {
            check_at(
                &keys,
                &replay,
                "GET",
                "/v3/certificates",
                &headers,
                b"",
                now,
            )
        };
        assert!(at(T).is_ok());
        // byte for byte the same request, 303 s later: its timestamp is
        // still fresh, so its nonce must still be remembered
        let replayed = at(T + 303).expect_err("a replay was accepted");
        assert_eq!(replayed.answer.status, 401);
        assert!(String::from_utf8_lossy(&replayed.answer.body).contains("nonce_str"));
        assert!(replayed.reason.contains("nonce_str"));
        // once the timestamp is stale, that is what refuses it
        let stale = at(T + 600).expect_err("a stale request was accepted");
        assert!(String::from_utf8_lossy(&stale.answer.body).contains("timestamp"));
    }
}
