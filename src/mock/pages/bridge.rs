//! `POST /_mock/invocations`: the mock's side of the `WeixinJSBridge`
//! stand-in (`/_mock/jsbridge.js`, contract in [`super::cashier`]). A
//! merchant's JSAPI page calls `getBrandWCPayRequest` with the parameters
//! its server built; the script posts them here, as
//! `{"api": "getBrandWCPayRequest", "params": {…}, "user": "looks" | "pays"}`.
//!
//! The order is found by the `package`'s prepay id and the parameters are
//! checked by [`super::actions::check_invocation`], the pay control's own
//! check: `"looks"` answers `200 {"order": …}` for the payment sheet,
//! `"pays"` goes through the pay control (TRANSACTION.SUCCESS is sent).
//! A refusal is WeChat Pay's error shape with the client's wording. The
//! merchant's page is another origin, so every answer allows any origin to
//! read it (no cookie is involved); the loopback guard in front of
//! `/_mock/` still decides who may ask at all.
//!
//! A transfer bill's confirm page (`requestMerchantTransfer`, FLOWS.md §8.4)
//! comes the same way, `{"api": "requestMerchantTransfer", "params": {mchId,
//! appId, package, subMchId?, openId?}, "user": "looks" | "confirms"}`,
//! and is answered by [`super::transfer::bridge`]: `{"bill": …}` once the
//! parameters match the bill, then the confirm control.

use axum::response::Response;
use serde_json::{json, Value};

use super::actions::{
    check_front_end, check_invocation, combine_books, combine_request, transaction_request,
    PayRequest, TransactionAction,
};
use crate::mock::flows::payments::TradeState;
use crate::mock::wire::answer::{insert_headers, reply, Answer};
use crate::mock::wire::server::Shared;
use crate::sign::unix_now;

/// The payment API the stand-in simulates.
const PAY_API: &str = "getBrandWCPayRequest";

/// The transfer confirm page it simulates.
const TRANSFER_API: &str = "requestMerchantTransfer";

/// What the script sends.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    api: String,
    params: Value,
    user: User,
}

/// What the simulated payer does with the payment sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum User {
    /// The sheet opens: check, and show the order.
    Looks,
    /// The payer pays: check again, and pay.
    Pays,
    /// The payee confirms a transfer: check again, and confirm.
    Confirms,
}

/// Answers `POST` (and a CORS preflight `OPTIONS`) `/_mock/invocations`.
pub(crate) fn answer(shared: &Shared, method: &str, body: &[u8]) -> Response {
    let mut response = if method == "OPTIONS" {
        reply(&Answer::no_content())
    } else {
        reply(&ask(shared, body).unwrap_or_else(|refused| refused))
    };
    insert_headers(
        &mut response,
        &[
            ("access-control-allow-origin", "*"),
            ("access-control-allow-methods", "POST"),
            ("access-control-allow-headers", "content-type"),
        ],
    );
    response
}

fn ask(shared: &Shared, body: &[u8]) -> Result<Answer, Answer> {
    let ask: Ask = serde_json::from_slice(body).map_err(|e| {
        Answer::param_error(
            "/",
            &format!(
                "expected {{\"api\": \"{PAY_API}\" | \"{TRANSFER_API}\", \"params\": {{…}}, \"user\": \"looks\" | \"pays\" | \"confirms\"}}: {e}"
            ),
        )
    })?;
    match (ask.api.as_str(), ask.user) {
        (TRANSFER_API, User::Looks) => return super::transfer::bridge(shared, &ask.params, false),
        (TRANSFER_API, User::Confirms) => return super::transfer::bridge(shared, &ask.params, true),
        (PAY_API, User::Looks | User::Pays) => {}
        (PAY_API | TRANSFER_API, user) => {
            return Err(Answer::param_error(
                "/user",
                &format!("{} does not go with {user:?}: getBrandWCPayRequest looks and pays, requestMerchantTransfer looks and confirms", ask.api),
            ))
        }
        (other, _) => {
            return Err(Answer::param_error(
                "/api",
                &format!("the mock simulates {PAY_API} and {TRANSFER_API} only, not {other}"),
            ))
        }
    }
    if let Some(no) = combine_of(shared, &ask.params)? {
        return combine(shared, &no, ask.user, ask.params);
    }
    let (sub, no) = find_order(shared, &ask.params)?;
    match ask.user {
        User::Looks => {
            let now = unix_now();
            let mut book = shared
                .payments
                .lock()
                .map_err(|_| Answer::for_status(500))?;
            check_invocation(shared, &mut book, &sub, &no, &ask.params, now)?;
            let order = book
                .get_mut(&sub, &no, now)
                .ok_or_else(|| Answer::for_status(404))?;
            // As the pay control would refuse it: the sheet never opens.
            if order.state != TradeState::NotPay {
                let state = order.state.as_str();
                return Err(Answer::error(
                    409,
                    "INVALID_ORDER_STATE",
                    &format!("cannot pay order {no}: it is {state}, only a NOTPAY order is paid"),
                    Some(json!({ "trade_state": state })),
                ));
            }
            let mut shown = order.render(shared.keys.credentials.mchid);
            shown["description"] = order.request.get("description").cloned().into();
            Ok(Answer::json(200, &json!({ "order": shown })))
        }
        User::Pays | User::Confirms => {
            let request = PayRequest {
                openid: None,
                invocation: Some(ask.params),
            };
            let order = transaction_request(shared, TransactionAction::Pay, &sub, &no, &request)?;
            Ok(Answer::json(200, &json!({ "order": order })))
        }
    }
}

/// The combine order (合单) whose prepay id the `package` names, if one does.
fn combine_of(shared: &Shared, params: &Value) -> Result<Option<String>, Answer> {
    let prepay_id = params
        .get("package")
        .and_then(Value::as_str)
        .and_then(|p| p.strip_prefix("prepay_id="))
        .unwrap_or_default();
    Ok(shared
        .combines
        .lock()
        .map_err(|_| Answer::for_status(500))?
        .by_prepay_id(prepay_id))
}

/// A combine order's payment sheet: the same parameters as a normal
/// order's (FLOWS.md §6), checked by the combine pay control; "looks"
/// checks them and shows the whole order without paying.
fn combine(shared: &Shared, no: &str, user: User, params: Value) -> Result<Answer, Answer> {
    let request = PayRequest {
        openid: None,
        invocation: Some(params),
    };
    if user == User::Pays {
        let order = combine_request(shared, TransactionAction::Pay, no, &request)?;
        return Ok(Answer::json(200, &json!({ "order": order })));
    }
    let now = unix_now();
    let (combines, mut book) = combine_books(shared)?;
    let mchid = shared.keys.credentials.mchid;
    let order = combines
        .shown(&mut book, no, mchid, now)
        .ok_or_else(|| Answer::for_status(404))?;
    let appid = order["combine_appid"].as_str().unwrap_or_default();
    let live = combines.live_prepay_id(no, now).unwrap_or_default();
    let trade_type = order["trade_type"].as_str().unwrap_or_default();
    let invocation = request.invocation.as_ref().unwrap_or(&Value::Null);
    check_front_end(shared, invocation, appid, &live, trade_type, "")?;
    let state = order["trade_state"].as_str().unwrap_or_default();
    if state != "NOTPAY" {
        return Err(Answer::error(
            409,
            "INVALID_ORDER_STATE",
            &format!("cannot pay combine order {no}: it is {state}, only a NOTPAY order is paid"),
            Some(json!({ "trade_state": state })),
        ));
    }
    Ok(Answer::json(200, &json!({ "order": order })))
}

/// `(sub_mchid, out_trade_no)` of the order whose live prepay id the
/// `package` names. None has it: the client's own check says why (a bad
/// signature first, then the unknown prepay id), as WeChat would.
fn find_order(shared: &Shared, params: &Value) -> Result<(String, String), Answer> {
    let prepay_id = params
        .get("package")
        .and_then(Value::as_str)
        .and_then(|p| p.strip_prefix("prepay_id="))
        .unwrap_or_default();
    let found = shared
        .payments
        .lock()
        .map_err(|_| Answer::for_status(500))?
        .by_prepay_id(prepay_id)
        .map(|order| {
            (
                order.sub_mchid().to_owned(),
                order.out_trade_no().to_owned(),
            )
        });
    if let Some(found) = found {
        return Ok(found);
    }
    let appid = params.get("appId").and_then(Value::as_str).unwrap_or("");
    // No order: no live prepay id can match (not even an empty one).
    let refusal = crate::mock::flows::invocation::check(
        params,
        &shared.keys.merchant_public,
        appid,
        "\u{0}",
        (shared.keys.credentials.mchid, ""),
    )
    .err()
    .map(|refusal| refusal.answer());
    Err(refusal.unwrap_or_else(|| Answer::for_status(404)))
}
