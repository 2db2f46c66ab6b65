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
            "status" => Fault::Status(
                value
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..600).contains(s))
                    .ok_or("status needs `status` between 100 and 599")?,
            ),
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
