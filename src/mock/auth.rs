//! The checks WeChat Pay makes on every APIv3 request, from the other side
//! of the wire: headers present, Authorization well formed, merchant and
//! serial known, timestamp fresh, nonce unused, RSA signature valid over the
//! raw request line as received.

use std::collections::{HashSet, VecDeque};

use reqwest::header::HeaderMap;
use serde_json::json;

use super::answer::Answer;
use super::identity::ServerKeys;
use crate::crypto::verify_sha256_rsa;
use crate::sign::{request_message, unix_now, Authorization};
use crate::verify::MAX_CLOCK_SKEW;

/// Remembers the nonces of the last five minutes.
#[derive(Default)]
pub(crate) struct ReplayGuard {
    seen: HashSet<String>,
    order: VecDeque<(i64, String)>,
}

impl ReplayGuard {
    /// Records `nonce`; false if it was already used inside the window.
    pub(crate) fn admit(&mut self, nonce: &str, now: i64) -> bool {
        while let Some((at, _)) = self.order.front() {
            if now - at <= MAX_CLOCK_SKEW {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        if !self.seen.insert(nonce.to_owned()) {
            return false;
        }
        self.order.push_back((now, nonce.to_owned()));
        true
    }
}

/// Checks one request; `signed_body` is what the signature covers (the body,
/// or the `meta` part of an upload).
pub(crate) fn check(
    keys: &ServerKeys,
    replay: &std::sync::Mutex<ReplayGuard>,
    method: &str,
    target: &str,
    headers: &HeaderMap,
    signed_body: &[u8],
) -> Result<(), Answer> {
    for name in ["accept", "user-agent"] {
        if headers.get(name).is_none_or(|v| v.is_empty()) {
            return Err(Answer::error(
                400,
                "INVALID_REQUEST",
                &format!("HTTP头缺少{name}"),
                Some(json!({"header": name, "issue": "WeChat Pay requires Accept and User-Agent"})),
            ));
        }
    }
    let sign_error =
        |issue: String| Answer::error(401, "SIGN_ERROR", "签名错误", Some(json!({"issue": issue})));
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
    if auth.serial_no != credentials.merchant_serial {
        return Err(sign_error(format!(
            "serial_no `{}` is not a certificate of merchant {}",
            auth.serial_no, credentials.mchid
        )));
    }
    let now = unix_now();
    if (now - auth.timestamp).abs() > MAX_CLOCK_SKEW {
        return Err(sign_error(format!(
            "timestamp {} is {}s away from the server's clock ({now}); the limit is {MAX_CLOCK_SKEW}s",
            auth.timestamp,
            (now - auth.timestamp).abs()
        )));
    }
    let message = request_message(method, target, auth.timestamp, &auth.nonce_str, signed_body);
    if !verify_sha256_rsa(&keys.merchant_public, &message, &auth.signature) {
        return Err(Answer::error(
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
        ));
    }
    let fresh = replay
        .lock()
        .map(|mut guard| guard.admit(&auth.nonce_str, now))
        .unwrap_or(false);
    if !fresh {
        return Err(sign_error(format!(
            "nonce_str `{}` was already used in the last {MAX_CLOCK_SKEW}s",
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
