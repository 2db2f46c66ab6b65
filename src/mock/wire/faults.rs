//! Faults the mock can inject into its next answers, to test what a client
//! does when WeChat Pay (or the network) misbehaves.

use std::time::Duration;

use serde_json::Value;

/// A deliberate misbehaviour of the next answer(s).
///
/// ```
/// use wechatpay_chain::mock::Fault;
///
/// let fault = Fault::from_json(&serde_json::json!({"fault": "status", "status": 503}))?;
/// assert_eq!(fault, Fault::Status(503));
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// A signature starting `WECHATPAY/SIGNTEST/`, as WeChat Pay's probes send.
    ProbeSignature,
    /// `Wechatpay-Serial` naming a key the client does not have.
    UnknownSerial,
    /// A signature made ten minutes ago.
    StaleTimestamp,
    /// The answer without this header.
    DropHeader(String),
    /// WeChat Pay's error answer for this status (500 SYSTEM_ERROR, 429 …).
    Status(u16),
    /// This error answer: `{"code": code, "message": message}` with this
    /// status, e.g. 403 `NOT_ENOUGH` `基本账户余额不足，请充值后重新发起`.
    Error {
        /// The HTTP status.
        status: u16,
        /// WeChat Pay's `code`.
        code: String,
        /// Its `message`.
        message: String,
    },
    /// The answer after this delay.
    Delay(Duration),
    /// Half the body, then the connection is cut.
    CloseMidBody,
    /// The body ends early but cleanly (a bill: its last chunk is missing).
    TruncatedBody,
    /// The next bill answer announces a wrong `hash_value`.
    WrongBillHash,
}

impl Fault {
    /// Reads the control API's form: `{"fault": "probe_signature"}`,
    /// `{"fault": "drop_header", "header": "Wechatpay-Nonce"}`,
    /// `{"fault": "status", "status": 503}`, `{"fault": "delay", "delay_ms": 1500}`,
    /// `{"fault": "error", "status": 403, "code": "NOT_ENOUGH", "message": "…"}`,
    /// `unknown_serial`, `stale_timestamp`, `close_mid_body`, `truncated_body`,
    /// `wrong_bill_hash`.
    pub fn from_json(value: &Value) -> Result<Fault, String> {
        let name = value
            .get("fault")
            .and_then(Value::as_str)
            .ok_or("`fault` must name a fault")?;
        Ok(match name {
            "probe_signature" => Fault::ProbeSignature,
            "unknown_serial" => Fault::UnknownSerial,
            "stale_timestamp" => Fault::StaleTimestamp,
            "close_mid_body" => Fault::CloseMidBody,
            "truncated_body" => Fault::TruncatedBody,
            "wrong_bill_hash" => Fault::WrongBillHash,
            "drop_header" => {
                let header = value
                    .get("header")
                    .and_then(Value::as_str)
                    .ok_or("drop_header needs `header`")?;
                // A header name, not a payload: faults are queued by the thousand.
                if header.is_empty()
                    || header.len() > 64
                    || !header
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                {
                    return Err("drop_header's `header` must be a header name (letters, digits, `-`, at most 64)".into());
                }
                Fault::DropHeader(header.to_owned())
            }
            "status" => Fault::Status(status(value)?),
            "error" => {
                let code = value
                    .get("code")
                    .and_then(Value::as_str)
                    .filter(|c| {
                        !c.is_empty()
                            && c.len() <= 64
                            && c.bytes()
                                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                    })
                    .ok_or("error needs `code`, WeChat Pay's: A-Z, 0-9, `_`, at most 64 (e.g. NOT_ENOUGH)")?;
                let message = value
                    .get("message")
                    .and_then(Value::as_str)
                    .filter(|m| m.chars().count() <= 512)
                    .ok_or("error needs `message`, at most 512 characters")?;
                Fault::Error {
                    status: status(value)?,
                    code: code.to_owned(),
                    message: message.to_owned(),
                }
            }
            "delay" => Fault::Delay(Duration::from_millis(
                value
                    .get("delay_ms")
                    .and_then(Value::as_u64)
                    .filter(|ms| *ms <= 600_000)
                    .ok_or("delay needs `delay_ms` up to 600000")?,
            )),
            other => return Err(format!("unknown fault `{other}`")),
        })
    }
}

/// `status`, between 400 and 599 for an error, 100 and 599 otherwise.
fn status(value: &Value) -> Result<u16, String> {
    value
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| "needs `status` between 100 and 599".to_owned())
}
