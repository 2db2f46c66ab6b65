//! What the mock says about each request: one entry per request, kept for
//! `GET /_mock/requests` and [`crate::mock::MockServer::requests`], and printed
//! as one line on stderr when asked (`wxpay mock` does, unless `--quiet`).
//!
//! A refusal says exactly why, and for a signature that does not verify,
//! which message the mock reconstructed and verified against: compare it
//! with `wxpay … --dry-run`. The message is what was signed (method, URL,
//! timestamp, nonce, body), never a key.

use crate::text::cut;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;

use super::answer::Answer;
use super::faults::Fault;
use crate::clock;

/// Entries kept for `GET /_mock/requests`; older ones are dropped.
pub const KEPT_REQUESTS: usize = 200;

/// Longest signed message kept in an entry (bytes); a longer one is cut.
const MESSAGE_LIMIT: usize = 8 << 10;

/// Longest target, verdict or template kept in an entry (bytes): each can
/// quote the request, and 200 entries of a hostile megabyte each would
/// hold 200 MB.
const FIELD_LIMIT: usize = 2 << 10;

/// Longest signed message printed in a stderr line (characters).
const LINE_MESSAGE_LIMIT: usize = 2048;

/// One request the mock received and what it made of it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::mock::MockServer;
///
/// let server = MockServer::start().await?;
/// server.client()?["v3/certificates"].get(()).await?;
/// let entry = &server.requests()[0];
/// assert_eq!((entry.method.as_str(), entry.target.as_str(), entry.status), ("GET", "/v3/certificates", 200));
/// assert!(entry.verdict.starts_with("ok: signature verified"), "{}", entry.verdict);
/// assert_eq!(entry.template.as_deref(), Some("GET v3/certificates"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct LoggedRequest {
    /// When it arrived (RFC 3339, Beijing time, as WeChat Pay writes times).
    pub time: String,
    /// The HTTP method.
    pub method: String,
    /// The request-target as received: path and query.
    pub target: String,
    /// The status answered (after any injected fault).
    pub status: u16,
    /// What the mock made of it, one line. Its first word is the kind:
    /// `ok`, `refused` (a check failed: headers, signature, timestamp,
    /// nonce, APIv2 `sign`), `not-found` (not a known endpoint; names the
    /// closest ones), `method-not-allowed`, `error` (a business error such
    /// as `ORDER_NOT_EXIST` or `PARAM_ERROR`), `fault` (an injected fault
    /// changed the answer), `control` (a `/_mock/` request).
    pub verdict: String,
    /// The catalog operation it matched, `METHOD template`.
    pub template: Option<String>,
    /// For a signature that does not verify: the message the mock
    /// reconstructed and verified against (APIv3:
    /// `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`; APIv2: the sorted
    /// `name=value&…` string, before `&key=` and the APIv2 key, which is
    /// never shown).
    pub signed_message: Option<String>,
}

impl LoggedRequest {
    /// The stderr line: `TIME METHOD TARGET STATUS VERDICT`, the signed
    /// message (if any) escaped onto the same line.
    pub fn line(&self) -> String {
        let mut line = format!(
            "{} {} {} {} {}",
            self.time, self.method, self.target, self.status, self.verdict
        );
        if let Some(message) = &self.signed_message {
            let shown: String = message.chars().take(LINE_MESSAGE_LIMIT).collect();
            let cut = if shown.len() < message.len() {
                "…"
            } else {
                ""
            };
            line.push_str(&format!("; signed message {shown:?}{cut}"));
        }
        line
    }
}

/// What the handler learns while answering one request.
#[derive(Debug, Default)]
pub(crate) struct Note {
    /// Set by whoever knows best (a refusal, a missing route).
    verdict: Option<String>,
    /// `signature verified …` once the checks passed.
    pub(crate) checked: Option<String>,
    pub(crate) template: Option<String>,
    signed_message: Option<String>,
    fault: Option<String>,
}

impl Note {
    /// A check failed: `reason`, and the message verified against if the
    /// signature was the problem.
    pub(crate) fn refused(&mut self, reason: &str, signed_message: Option<&[u8]>) {
        self.verdict = Some(format!("refused: {reason}"));
        self.signed_message = signed_message.map(|m| {
            let kept = &m[..m.len().min(MESSAGE_LIMIT)];
            String::from_utf8_lossy(kept).into_owned()
        });
    }

    /// A verdict of another kind (`not-found: …`, `control`).
    pub(crate) fn verdict(&mut self, verdict: String) {
        self.verdict = Some(verdict);
    }

    /// An injected fault changed the answer.
    pub(crate) fn fault(&mut self, fault: &Fault) {
        self.fault = Some(format!("{fault:?}"));
    }

    /// Reads the verdict off the answer, unless one was set: called before
    /// a fault changes the answer.
    pub(crate) fn settle(&mut self, answer: &Answer) {
        if self.verdict.is_none() {
            self.verdict = Some(self.read_answer(answer));
        }
    }

    /// The verdict, with the fault that changed the answer.
    fn conclude(&mut self) -> String {
        let base = self.verdict.take().unwrap_or_else(|| "ok".to_owned());
        match &self.fault {
            Some(fault) => format!("fault: {fault} injected (without it: {base})"),
            None => base,
        }
    }

    fn read_answer(&self, answer: &Answer) -> String {
        let checked = self.checked.as_deref().unwrap_or("answered");
        let answered = self
            .template
            .as_deref()
            .map(|t| format!(", answered as {t}"))
            .unwrap_or_default();
        if answer.content_type.contains("xml") {
            return v2_verdict(&answer.body, checked, &answered);
        }
        if (200..300).contains(&answer.status) {
            return format!("ok: {checked}{answered}");
        }
        let error: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let code = text(&error["code"]).unwrap_or_else(|| answer.status.to_string());
        let message = text(&error["message"]).unwrap_or_default();
        let detail = match &error["detail"] {
            Value::Null => String::new(),
            detail => format!(" {detail}"),
        };
        format!("error: {code} {message}{detail}")
    }
}

/// An APIv2 answer: `return_code` FAIL is a refusal, `result_code` FAIL
/// a business error.
fn v2_verdict(body: &[u8], checked: &str, answered: &str) -> String {
    let fields = crate::v2::xml::parse(body).unwrap_or_default();
    let field = |name: &str| fields.get(name).and_then(Value::as_str).unwrap_or_default();
    if field("return_code") == "FAIL" {
        return format!("refused: return_code FAIL, {}", field("return_msg"));
    }
    if field("result_code") == "FAIL" {
        return format!(
            "error: result_code FAIL, {} {}",
            field("err_code"),
            field("err_code_des")
        );
    }
    format!("ok: {checked}{answered}")
}

/// The recent requests, and whether to print them.
#[derive(Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
    pub(crate) to_stderr: AtomicBool,
}

impl RequestLog {
    /// Records one request. Control requests (`/_mock/…`) are printed but
    /// not kept: the log is what a client sent.
    pub(crate) fn record(&self, method: &str, target: &str, status: u16, mut note: Note) {
        let control = target.starts_with("/_mock/");
        let entry = LoggedRequest {
            // When it arrived, on the wall clock the merchant's own logs use.
            time: clock::rfc3339(clock::unix_now()),
            method: cut(method.to_owned(), FIELD_LIMIT),
            target: cut(target.to_owned(), FIELD_LIMIT),
            status,
            verdict: cut(note.conclude(), FIELD_LIMIT),
            template: note.template.take().map(|t| cut(t, FIELD_LIMIT)),
            signed_message: note.signed_message.take(),
        };
        if self.to_stderr.load(Ordering::Relaxed) {
            eprintln!("{}", entry.line());
        }
        if control {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() == KEPT_REQUESTS {
                entries.pop_front();
            }
            entries.push_back(entry);
        }
    }

    pub(crate) fn recent(&self) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .map(|e| e.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}
