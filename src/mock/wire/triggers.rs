//! Failures on demand: a fixed table of markers a test writes into the
//! merchant's own number (`out_trade_no`, `out_refund_no`, `out_order_no`,
//! `out_bill_no`, `out_batch_no`), each making the mock answer or behave as
//! WeChat Pay does in that failure, the same way through any client: the
//! way Stripe's test cards and PayPal's amount triggers work (FLOWS.md §10).
//!
//! Evaluated in one place, [`Triggers::before`], after the signature is
//! checked and before any flow runs; the outcomes a flow itself chooses (a
//! payment that fails, a refund that ends ABNORMAL, a notification sent
//! twice, a transfer's `fail_reason`) ask [`marked`] with the number (the
//! transfer, the reason after `FAIL`: `flows::transfers::marked_fail_reason`).
//! A marker is matched as written, upper case, anywhere in the number.
//!
//! **Adding a row**: one entry in [`TABLE`]
//! with its source, and either an error answer (`answer`, served by
//! `before` for the operations `applies_to` names) or a check of
//! `marked(number, "MARKER")` in the flow that owns the outcome.

use std::collections::HashSet;
use std::sync::Mutex;

use serde_json::{json, Value};

use super::answer::Answer;
use super::faults::Fault;

/// One trigger.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Trigger {
    /// WeChat Pay's name for what happens.
    pub(crate) name: &'static str,
    /// What the merchant's number contains.
    pub(crate) marker: &'static str,
    /// Which requests it acts on (catalog templates, method first); empty:
    /// an outcome a flow applies itself.
    pub(crate) applies_to: &'static [&'static str],
    /// The error answered: status, code, message; `None` for an outcome.
    pub(crate) answer: Option<(u16, &'static str, &'static str)>,
    /// Whether only the first request of each number fails (a retry with
    /// the same number succeeds), as a transient error does.
    pub(crate) once: bool,
    /// What the merchant sees, in a sentence.
    pub(crate) effect: &'static str,
    /// Where WeChat Pay's behaviour and body come from.
    pub(crate) source: &'static str,
}

/// The requests that create something, where a marker is read.
const CREATES: &[&str] = &[
    "POST v3/pay/transactions/jsapi",
    "POST v3/pay/transactions/app",
    "POST v3/pay/transactions/h5",
    "POST v3/pay/transactions/native",
    "POST v3/pay/partner/transactions/jsapi",
    "POST v3/pay/partner/transactions/app",
    "POST v3/pay/partner/transactions/h5",
    "POST v3/pay/partner/transactions/native",
    "POST v3/pay/partner/transactions/miniprogram",
    "POST v3/refund/domestic/refunds",
    "POST v3/payscore/serviceorder",
    "POST v3/payscore/partner/serviceorder",
    "POST v3/fund-app/mch-transfer/transfer-bills",
    "POST v3/transfer/batches",
];

/// The table (docs/mock.md prints it; `GET /_mock/triggers` and
/// `wxpay mock triggers` list it).
pub(crate) const TABLE: &[Trigger] = &[
    Trigger {
        name: "SYSTEM_ERROR",
        marker: "SYSERR",
        applies_to: CREATES,
        answer: Some((500, "SYSTEM_ERROR", "系统错误")),
        once: true,
        effect: "the first create with this number answers 500; the same request again succeeds \
                 (retry with the same number, as WeChat Pay asks)",
        source: "FLOWS.md §1.5: 500 SYSTEM_ERROR among the common errors of every operation \
                 (pay.weixin.qq.com/doc/v3/merchant/4012556398); PROTOCOL.md Errors",
    },
    Trigger {
        name: "FREQUENCY_LIMITED",
        marker: "FREQLIM",
        applies_to: CREATES,
        answer: Some((429, "FREQUENCY_LIMITED", "频率超限")),
        once: true,
        effect: "the first create with this number answers 429 with Retry-After; the retry succeeds",
        source: "PROTOCOL.md Errors: 429 FREQUENCY_LIMITED; FLOWS.md §8 (DOC 4015469131). \
                 The message is the mock's wording",
    },
    Trigger {
        name: "NOT_ENOUGH",
        marker: "NOTENOUGH",
        applies_to: &["POST v3/refund/domestic/refunds"],
        answer: Some((403, "NOT_ENOUGH", "基本账户余额不足，请充值后重新发起")),
        once: false,
        effect: "a refund with this out_refund_no is refused every time: the balance stays short",
        source: "FLOWS.md §2 Errors: NOT_ENOUGH \"基本账户余额不足，请充值后重新发起\" (quoted real answer); \
                 status 403 as FLOWS.md infers",
    },
    Trigger {
        name: "PAYERROR",
        marker: "PAYFAIL",
        applies_to: &[],
        answer: None,
        once: false,
        effect: "every payment attempt of this out_trade_no fails: the order stays NOTPAY \
                 (订单未支付), payable again, and no notification is sent",
        source: "FLOWS.md §1.3: NOTPAY ─payment fails→ NOTPAY (unchanged, retryable)",
    },
    Trigger {
        name: "REFUND.ABNORMAL",
        marker: "ABNORMAL",
        applies_to: &[],
        answer: None,
        once: false,
        effect: "a refund with this out_refund_no is accepted (PROCESSING) and ends ABNORMAL at once: \
                 REFUND.ABNORMAL goes to its notify_url, the query says ABNORMAL",
        source: "FLOWS.md §2: create → PROCESSING → SUCCESS | CLOSED | ABNORMAL; \
                 event_type REFUND.ABNORMAL",
    },
    Trigger {
        name: "DUPLICATE_NOTIFICATION",
        marker: "TWICE",
        applies_to: &[],
        answer: None,
        once: false,
        effect: "every notification about this out_trade_no / out_refund_no is delivered twice \
                 (the same body and id), the second 15 s after the first was answered",
        source: "WeChat Pay's payment notification page (chapter3_1_5): \
                 同样的通知可能会多次发送给商户系统。商户系统必须能够正确处理重复的通知",
    },
    Trigger {
        name: "MCHTRANSFER.BILL.FINISHED FAIL",
        marker: "FAIL",
        applies_to: &[],
        answer: None,
        once: false,
        effect: "a transfer bill whose out_bill_no has FAIL followed by a fail_reason without its \
                 underscores (T1FAILNAMENOTCORRECT; the two reasons longer than 28 letters count cut \
                 by the end of a 32-character number when what is left begins one of them \
                 only, every other reason must be whole) is created \
                 WAIT_USER_CONFIRM as any other; when the payee confirms, it ends FAIL with that \
                 fail_reason: the amount goes back to the operating account and \
                 MCHTRANSFER.BILL.FINISHED says FAIL and the reason. FAIL followed by no known \
                 reason (FAIL1, a misspelling) is not a trigger: the bill confirms SUCCESS",
        source: "FLOWS.md §8.2: FAIL is terminal, fail_reason one of DOC 4013774966's values; \
                 §8.3: MCHTRANSFER.BILL.FINISHED on FAIL carries fail_reason. A wrong name \
                 fails the transfer later and the query shows the reason (DEV \
                 developers.weixin.qq.com/community/pay/doc/0002ea16040dd8a205e21d4fe6b000, \
                 FLOWS.md §10); that it fails at the confirm is the mock's reading [inference]",
    },
];

/// Whether `number` carries trigger `marker`.
pub(crate) fn marked(number: &str, marker: &str) -> bool {
    number.contains(marker)
}

/// The merchant numbers a request names, in its body or its path.
fn numbers(body: &Value, params: &[(String, String)]) -> Vec<String> {
    const FIELDS: [&str; 5] = [
        "out_trade_no",
        "out_refund_no",
        "out_order_no",
        "out_bill_no",
        "out_batch_no",
    ];
    let mut found = Vec::new();
    for field in FIELDS {
        if let Some(text) = body.get(field).and_then(Value::as_str) {
            found.push(text.to_owned());
        }
        if let Some((_, text)) = params.iter().find(|(k, _)| k == field) {
            found.push(text.clone());
        }
    }
    found
}

/// Numbers whose one-time failure was already served, so their retry
/// succeeds; bounded (cleared when full: a retry after that fails once more).
const REMEMBERED: usize = 10_000;

/// Path rules kept at once (`POST /_mock/faults` with `path`).
const MAX_PATH_RULES: usize = 100;

/// An error answer for the requests of one path, `left` more times.
struct PathFault {
    /// A catalog template (`v3/refund/domestic/refunds/{out_refund_no}`) or
    /// a path as sent, without the leading `/`.
    path: String,
    fault: Fault,
    left: usize,
}

/// The table's state: which one-time failures were served, and the error
/// answers queued for one path.
#[derive(Default)]
pub(crate) struct Triggers {
    served: Mutex<HashSet<String>>,
    paths: Mutex<Vec<PathFault>>,
}

impl Triggers {
    /// Answers the next `count` requests to `path` (a catalog template or a
    /// path as sent) with `fault`, a `status` or `error` fault.
    pub(crate) fn add_path_fault(
        &self,
        path: &str,
        fault: Fault,
        count: usize,
    ) -> Result<(), String> {
        if !matches!(fault, Fault::Status(_) | Fault::Error { .. }) {
            return Err("`path` takes an answer fault: `status` or `error` (the others apply to the next answer, whatever its path)".to_owned());
        }
        let path = path.trim_start_matches('/');
        if path.is_empty() || path.len() > 256 || path.contains(['?', '#', ' ']) {
            return Err("`path` must be an API path such as v3/refund/domestic/refunds (at most 256, no query)".to_owned());
        }
        let mut paths = self.paths.lock().map_err(|_| "busy".to_owned())?;
        if paths.len() >= MAX_PATH_RULES {
            return Err(format!(
                "at most {MAX_PATH_RULES} path rules at once; clear them with DELETE /_mock/faults"
            ));
        }
        paths.push(PathFault {
            path: path.to_owned(),
            fault,
            left: count,
        });
        Ok(())
    }

    /// Forgets every path rule.
    pub(crate) fn clear_path_faults(&self) {
        if let Ok(mut paths) = self.paths.lock() {
            paths.clear();
        }
    }

    /// The error answer queued for this request's path, if any.
    fn path_fault(&self, template: &str, relative: &str) -> Option<Answer> {
        let mut paths = self.paths.lock().ok()?;
        let at = paths
            .iter()
            .position(|rule| rule.path == template || rule.path == relative)?;
        let rule = &mut paths[at];
        let answer = match &rule.fault {
            Fault::Error {
                status,
                code,
                message,
            } => Answer::error(*status, code, message, None),
            Fault::Status(status) => Answer::for_status(*status),
            _ => return None,
        };
        rule.left = rule.left.saturating_sub(1);
        if rule.left == 0 {
            paths.remove(at);
        }
        Some(answer)
    }

    /// The answer a path rule or a trigger gives to `method template`
    /// (`relative` as sent) naming these numbers, if any: before the flow
    /// runs, so nothing changes.
    pub(crate) fn before(
        &self,
        method: &str,
        template: &str,
        relative: &str,
        params: &[(String, String)],
        body: &[u8],
    ) -> Option<Answer> {
        if let Some(answer) = self.path_fault(template, relative) {
            return Some(answer);
        }
        let operation = format!("{method} {template}");
        let rows: Vec<&Trigger> = TABLE
            .iter()
            .filter(|t| t.answer.is_some() && t.applies_to.contains(&operation.as_str()))
            .collect();
        if rows.is_empty() {
            return None;
        }
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        for number in numbers(&body, params) {
            for trigger in &rows {
                if !marked(&number, trigger.marker) {
                    continue;
                }
                let (status, code, message) = trigger.answer?;
                if trigger.once {
                    let key = format!("{operation} {number} {}", trigger.marker);
                    let mut served = self.served.lock().ok()?;
                    if served.len() >= REMEMBERED {
                        served.clear();
                    }
                    if !served.insert(key) {
                        continue;
                    }
                }
                return Some(Answer::error(status, code, message, None));
            }
        }
        None
    }
}

/// The table as `GET /_mock/triggers` lists it.
pub(crate) fn listing() -> Value {
    let rows: Vec<Value> = TABLE
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "marker": t.marker,
                "applies_to": if t.applies_to.is_empty() { json!("the flow's own outcome") } else { json!(t.applies_to) },
                "answer": t.answer.map(|(status, code, message)| json!({"status": status, "code": code, "message": message})),
                "once": t.once,
                "effect": t.effect,
                "source": t.source,
            })
        })
        .collect();
    json!({
        "how": "write the marker anywhere in the merchant's own number (out_trade_no, out_refund_no, \
                out_order_no, out_bill_no, out_batch_no), e.g. out_refund_no \"R1-NOTENOUGH\"",
        "data": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_time_failure_lets_the_retry_through() {
        let triggers = Triggers::default();
        let body = br#"{"out_trade_no":"T1-SYSERR","amount":{"total":1}}"#;
        let first = triggers
            .before("POST", "v3/pay/transactions/native", "", &[], body)
            .unwrap();
        assert_eq!(first.status, 500);
        assert!(triggers
            .before("POST", "v3/pay/transactions/native", "", &[], body)
            .is_none());
        // Another operation: the marker is read only where the row says.
        assert!(triggers
            .before(
                "GET",
                "v3/pay/transactions/out-trade-no/{out_trade_no}",
                "",
                &[],
                body
            )
            .is_none());
    }

    #[test]
    fn markers_are_names_not_guesses() {
        for trigger in TABLE {
            assert!(trigger.marker.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(!trigger.source.is_empty());
        }
        let markers: HashSet<&str> = TABLE.iter().map(|t| t.marker).collect();
        assert_eq!(markers.len(), TABLE.len(), "one marker, one row");
    }
}
