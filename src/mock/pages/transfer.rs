//! The transfer bills' controls (`/_mock/transfer-bills/…`): the payee on
//! WeChat's confirm page and WeChat Pay's back office, over the one store
//! ([`crate::mock::flows::transfers`]).
//!
//! | request | effect |
//! |---|---|
//! | `POST /_mock/transfer-bills/{out_bill_no}/confirm[?sub_mchid=]` | the payee confirms: SUCCESS, MCHTRANSFER.BILL.FINISHED; body optional `{"openid": …, "invocation": {…}}`, checked as the confirm page does |
//! | `POST /_mock/transfer-bills/{out_bill_no}/decline[?sub_mchid=]` | the payee closes the page: the bill still waits (same optional body) |
//! | `POST /_mock/transfer-bills/{out_bill_no}/fail[?sub_mchid=]` | the back office fails it: `{"fail_reason": …}` (or `?fail_reason=`) from FLOWS.md §8.2's list |
//! | `POST /_mock/transfer-bills/{out_bill_no}/expire[?sub_mchid=]` | its 24 h pass now: FAIL |
//! | `GET /_mock/transfer-bills` | every bill held, oldest first |

use serde_json::{json, Value};

use super::actions::transfer_action;
use crate::mock::flows::transfers::{Action, Payee, FAIL_REASONS};
use crate::mock::wire::answer::Answer;
use crate::mock::wire::server::Shared;

/// `POST /_mock/transfer-bills/{no}/{action}`.
pub(crate) fn control(
    shared: &Shared,
    no: &str,
    action: &str,
    sub: &str,
    query: &[(String, String)],
    body: &[u8],
) -> Result<Answer, Answer> {
    let empty = body.iter().all(u8::is_ascii_whitespace);
    let (action, payee) = match action {
        "confirm" | "decline" => {
            let payee: Payee = if empty {
                Payee::default()
            } else {
                serde_json::from_slice(body).map_err(|e| {
                    Answer::param_error(
                        "/",
                        &format!("expected {{\"openid\"?, \"invocation\"?}}: {e}"),
                    )
                })?
            };
            let action = match action {
                "confirm" => Action::Confirm,
                _ => Action::Decline,
            };
            (action, payee)
        }
        "fail" => (
            Action::Fail(fail_reason(query, body, empty)?),
            Payee::default(),
        ),
        "expire" if empty => (Action::Expire, Payee::default()),
        "expire" => return Err(Answer::param_error("/", "expire takes no body")),
        other => {
            return Err(Answer::error(
                404,
                "RESOURCE_NOT_EXISTS",
                &format!("未知的模拟操作 {other}: expected one of confirm, decline, fail, expire"),
                None,
            ))
        }
    };
    transfer_action(shared, sub, no, action, &payee).map(|bill| Answer::json(200, &bill))
}

/// The `fail_reason` of a fail control: the body's or the query's, one of
/// WeChat Pay's.
fn fail_reason(
    query: &[(String, String)],
    body: &[u8],
    empty: bool,
) -> Result<&'static str, Answer> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Fail {
        fail_reason: String,
    }
    let given = if empty {
        query
            .iter()
            .find(|(k, _)| k == "fail_reason")
            .map(|(_, v)| v.clone())
    } else {
        let fail: Fail = serde_json::from_slice(body).map_err(|e| {
            Answer::param_error("/", &format!("expected {{\"fail_reason\": …}}: {e}"))
        })?;
        Some(fail.fail_reason)
    };
    let known = FAIL_REASONS.join(", ");
    let given = given.ok_or_else(|| {
        Answer::param_error(
            "/fail_reason",
            &format!("name the fail_reason (body {{\"fail_reason\": …}} or ?fail_reason=), one of {known}"),
        )
    })?;
    FAIL_REASONS
        .iter()
        .find(|r| **r == given)
        .copied()
        .ok_or_else(|| {
            Answer::param_error(
                "/fail_reason",
                &format!("{given} is not a fail_reason WeChat Pay sends; one of {known}"),
            )
        })
}

/// `GET /_mock/transfer-bills`.
pub(crate) fn list(shared: &Shared) -> Answer {
    let mchid = shared.keys.credentials.mchid;
    let list = shared
        .transfers
        .lock()
        .map(|book| book.list(usize::MAX, mchid))
        .unwrap_or_default();
    Answer::json(200, &json!({ "data": list }))
}

/// `POST /_mock/invocations` for `requestMerchantTransfer` ([`super::bridge`]):
/// finds the bill by its `package`, checks the parameters as the WeChat
/// client does, and answers `{"bill": …}` for the confirm page (`confirms`
/// false) or confirms it (`true`, MCHTRANSFER.BILL.FINISHED sent).
pub(crate) fn bridge(shared: &Shared, params: &Value, confirms: bool) -> Result<Answer, Answer> {
    let mchid = shared.keys.credentials.mchid;
    let package = params
        .get("package")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (sub, no) = {
        let book = shared
            .transfers
            .lock()
            .map_err(|_| Answer::for_status(500))?;
        let (sub, no) = book.by_package(package).ok_or_else(|| {
            Answer::param_error(
                "/invocation/package",
                "package is no transfer bill's package_info (pass the create answer's package_info as it came)",
            )
        })?;
        if !confirms {
            let bill = book.shown(&sub, &no, params, mchid)?;
            return Ok(Answer::json(200, &json!({ "bill": bill })));
        }
        (sub, no)
    };
    let payee = Payee {
        openid: None,
        invocation: Some(params.clone()),
    };
    let bill = transfer_action(shared, &sub, &no, Action::Confirm, &payee)?;
    Ok(Answer::json(200, &json!({ "bill": bill })))
}
