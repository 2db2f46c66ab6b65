//! The reserved `/_mock/` prefix: what a test or a person does to the mock
//! from outside — play the user, inject faults, read the notification log.
//! Unsigned and unauthenticated, as a test harness is.
//!
//! | request | effect |
//! |---|---|
//! | `POST /_mock/payscore/{out_order_no}/confirm[?sub_mchid=]` | the user confirms (PAYSCORE.USER_CONFIRM); body optional: `{"extraData": …}` from the confirm page, checked first |
//! | `POST /_mock/payscore/{out_order_no}/pay[?sub_mchid=]` | the user pays (PAYSCORE.USER_PAID) |
//! | `POST /_mock/payscore/{out_order_no}/expire[?sub_mchid=]` | the unconfirmed order expires |
//! | `POST /_mock/transactions/{out_trade_no}/pay[?sub_mchid=]` | the user pays (TRANSACTION.SUCCESS); body optional: `{"openid": …}`, `{"invocation": …}` |
//! | `POST /_mock/transactions/{out_trade_no}/fail[?sub_mchid=]` | a payment attempt fails; the order stays NOTPAY |
//! | `POST /_mock/transactions/{out_trade_no}/expire[?sub_mchid=]` | the unpaid order runs out of time (CLOSED) |
//! | `POST /_mock/combine-transactions/{combine_out_trade_no}/pay\|fail\|expire` | the whole combine order (合单): every sub-order paid and one TRANSACTION.SUCCESS, or failed, or expired; pay's body as above |
//! | `POST /_mock/refunds/{out_refund_no}/succeed\|abnormal\|close[?sub_mchid=]` | the refund ends (REFUND.SUCCESS/ABNORMAL/CLOSED) |
//! | `POST /_mock/profitsharing/orders/{out_order_no}/receivers/{account}/succeed\|close[?sub_mchid=]` | the receiver's share ends SUCCESS or CLOSED; close takes `{"fail_reason": …}` (or `?fail_reason=`) |
//! | `GET /_mock/profitsharing/orders` | every sharing and unfreezing request |
//! | `PUT /_mock/profitsharing/max-ratio[?sub_mchid=]` `{"max_ratio": n}` | the merchant's maximum share (万分比, default 3000) |
//! | `POST /_mock/invocations` `{"api", "params", "user": "looks" \| "pays"}` | the `WeixinJSBridge` stand-in asks ([`super::bridge`]) |
//! | `GET /_mock/transactions`, `GET /_mock/combine-transactions`, `GET /_mock/refunds` | every payment order, combine order, refund |
//! | `POST /_mock/transfer-bills/{out_bill_no}/confirm\|decline\|fail\|expire[?sub_mchid=]`, `GET /_mock/transfer-bills` | the transfer bills ([`super::transfer`]) |
//! | `GET /_mock/settings`, `PUT /_mock/settings` `{"notification_speedup": n, "refund_auto_resolve_ms": n \| null, "transfer_balance_fen": n, "retention": n, "profitsharing_notify_url": url \| null, "profitsharing_event_type": "observed" \| "documented", "profitsharing_wait_s": n}` | how fast time runs; the transfers' operating account; how many entries each store keeps; the merchant platform's profit-sharing settings |
//! | `POST /_mock/notifications/{seq}/resend` | offer a notification again (every attempt is signed afresh) |
//! | `GET /_mock/triggers` | the failure triggers ([`crate::mock::wire::triggers`]) |
//! | `POST /_mock/trigger` `{"event": "TRANSACTION.SUCCESS" \| "REFUND.SUCCESS", "notify_url"}` | creates and completes the objects behind that notification ([`super::trigger`]) |
//! | `GET /_mock/clock`, `POST /_mock/clock/advance\|set` | the clock ([`super::clock`]) |
//! | `POST /_mock/faults` `{"fault": …, "count": n}` | the next n answers misbehave |
//! | `POST /_mock/faults` `{"fault": "error", "status", "code", "message", "path": …, "count": n}` | the next n requests to that path (template or as sent) get that WeChat Pay error, before any flow runs |
//! | `DELETE /_mock/faults` | no more faults |
//! | `GET /_mock/notifications` | every notification sent and its fate |
//! | `GET /_mock/requests` | the recent requests and what the mock made of each |
//! | `DELETE /_mock/requests` | forget them |
//!
//! The pages (console, cashier, QR, bridge script) are [`super::console`]'s;
//! what a control does to an order is [`super::actions`]'.

use axum::response::Response;
use serde_json::{json, Value};

use super::actions::{
    combine_list, combine_request, resolve_profit_sharing, resolve_refund, transaction_action,
    user_action, PayRequest, TransactionAction,
};
use crate::mock::flows::payscore::UserAction;
use crate::mock::flows::profitsharing::ReceiverOutcome;
use crate::mock::flows::refunds::RefundOutcome;
use crate::mock::wire::answer::{reply, Answer};
use crate::mock::wire::faults::Fault;
use crate::mock::wire::server::Shared;
use crate::mock::wire::store::MAX_RETENTION;

pub(crate) fn handle(
    shared: &Shared,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> Response {
    let segments: Vec<&str> = path.split('/').collect();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let sub = query
        .iter()
        .find(|(k, _)| k == "sub_mchid")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let result = match (method, segments.as_slice()) {
        ("GET", _) if super::console::serves(path) => {
            return super::console::page_for(shared, path, &query)
        }
        ("POST", ["payscore", no, action]) => {
            let no = percent_encoding::percent_decode_str(no).decode_utf8_lossy();
            let action = match *action {
                "confirm" => UserAction::Confirm,
                "pay" => UserAction::Pay,
                "expire" => UserAction::Expire,
                _ => {
                    return reply(&Answer::error(
                        404,
                        "RESOURCE_NOT_EXISTS",
                        "未知的模拟操作",
                        None,
                    ))
                }
            };
            confirm_page(shared, action, sub, &no, body)
                .and_then(|()| user_action(shared, action, sub, &no))
                .map(|order| Answer::json(200, &order))
        }
        ("POST", ["transactions", no, action]) => {
            let no = percent_encoding::percent_decode_str(no).decode_utf8_lossy();
            match TransactionAction::from_segment(action) {
                Some(action) => transaction_action(shared, action, sub, &no, body)
                    .map(|order| Answer::json(200, &order)),
                None => Err(unknown_action(action, "pay, fail, expire")),
            }
        }
        ("POST", ["combine-transactions", no, action]) => {
            let no = percent_encoding::percent_decode_str(no).decode_utf8_lossy();
            match TransactionAction::from_segment(action) {
                Some(action) => PayRequest::read(body)
                    .and_then(|request| combine_request(shared, action, &no, &request))
                    .map(|order| Answer::json(200, &order)),
                None => Err(unknown_action(action, "pay, fail, expire")),
            }
        }
        ("GET", ["combine-transactions"]) => Ok(Answer::json(
            200,
            &json!({ "data": combine_list(shared, usize::MAX) }),
        )),
        ("POST" | "OPTIONS", ["invocations"]) => {
            return super::bridge::answer(shared, method, body);
        }
        ("POST", ["refunds", no, action]) => {
            let no = percent_encoding::percent_decode_str(no).decode_utf8_lossy();
            match RefundOutcome::from_action(action) {
                Some(outcome) => {
                    resolve_refund(shared, outcome, sub, &no).map(|r| Answer::json(200, &r))
                }
                None => Err(unknown_action(action, "succeed, abnormal, close")),
            }
        }
        (_, ["profitsharing", rest @ ..]) => {
            profit_sharing_control(shared, method, rest, &query, body)
        }
        ("GET", ["transactions"]) => {
            let mchid = shared.keys.credentials.mchid;
            let list = shared
                .payments
                .lock()
                .map(|mut book| book.list(mchid, shared.clock.now(), usize::MAX))
                .unwrap_or_default();
            Ok(Answer::json(200, &json!({"data": list})))
        }
        ("POST", ["transfer-bills", no, action]) => {
            let no = percent_encoding::percent_decode_str(no).decode_utf8_lossy();
            super::transfer::control(shared, &no, action, sub, &query, body)
        }
        ("GET", ["transfer-bills"]) => Ok(super::transfer::list(shared)),
        ("GET", ["refunds"]) => {
            let list = shared
                .refunds
                .lock()
                .map(|refunds| refunds.list(usize::MAX))
                .unwrap_or_default();
            Ok(Answer::json(200, &json!({"data": list})))
        }
        ("GET", ["settings"]) => Ok(Answer::json(200, &settings(shared))),
        ("GET", ["triggers"]) => Ok(Answer::json(200, &crate::mock::wire::triggers::listing())),
        ("POST", ["trigger"]) => super::trigger::trigger(shared, body),
        ("PUT", ["settings"]) => {
            change_settings(shared, body).map(|()| Answer::json(200, &settings(shared)))
        }
        ("POST", ["notifications", seq, "resend"]) => match seq.parse::<u64>() {
            Ok(seq) if shared.notifier.resend(seq) => Ok(Answer::no_content()),
            _ => Err(Answer::error(
                404,
                "RESOURCE_NOT_EXISTS",
                &format!(
                    "no notification {seq} in the log (GET /_mock/notifications lists them by seq)"
                ),
                None,
            )),
        },
        ("POST", ["faults"]) => add_faults(shared, body).map(|()| Answer::no_content()),
        ("DELETE", ["faults"]) => {
            if let Ok(mut faults) = shared.faults.lock() {
                faults.clear();
            }
            shared.triggers.clear_path_faults();
            Ok(Answer::no_content())
        }
        ("GET", ["requests"]) => {
            let list = serde_json::to_value(shared.log.recent()).unwrap_or_default();
            Ok(Answer::json(200, &json!({"data": list})))
        }
        ("DELETE", ["requests"]) => {
            shared.log.clear();
            Ok(Answer::no_content())
        }
        ("GET", ["notifications"]) => {
            let list: Vec<Value> = shared
                .notifier
                .deliveries()
                .iter()
                .map(|d| {
                    json!({"seq": d.seq, "id": d.id, "url": d.url, "event_type": d.event_type,
                           "attempts": d.attempts, "delivered": d.delivered,
                           "answers": d.answers, "resource": d.resource})
                })
                .collect();
            Ok(Answer::json(200, &json!({"data": list})))
        }
        _ => Err(Answer::error(
            404,
            "RESOURCE_NOT_EXISTS",
            "未知的模拟接口",
            Some(json!({"path": path})),
        )),
    };
    reply(&result.unwrap_or_else(|e| e))
}

/// `POST /_mock/payscore/{no}/confirm` with `{"extraData": …}`: the confirm
/// page's parameters are checked first, as the payscore page would.
fn confirm_page(
    shared: &Shared,
    action: UserAction,
    sub: &str,
    no: &str,
    body: &[u8],
) -> Result<(), Answer> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct ConfirmPage {
        #[serde(rename = "extraData")]
        extra_data: Value,
    }
    if action != UserAction::Confirm {
        return Err(Answer::param_error("/", "only confirm takes a body"));
    }
    let page: ConfirmPage = serde_json::from_slice(body)
        .map_err(|e| Answer::param_error("/", &format!("expected {{\"extraData\": …}}: {e}")))?;
    let credentials = &shared.keys.credentials;
    shared
        .orders
        .lock()
        .map_err(|_| Answer::for_status(500))?
        .check_confirm_page(
            credentials.mchid,
            sub,
            no,
            &page.extra_data,
            credentials.apiv2_key,
        )
}

/// `/_mock/profitsharing/…`: the receivers' outcomes, the requests, the
/// maximum share.
fn profit_sharing_control(
    shared: &Shared,
    method: &str,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
) -> Result<Answer, Answer> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let sub = param("sub_mchid").unwrap_or_default();
    let decode = |text: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8_lossy()
            .into_owned()
    };
    let json_field = |name: &str| -> Result<Option<Value>, Answer> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Answer::param_error("/", &format!("expected a JSON object: {e}")))?;
        match value {
            Value::Object(map) if map.keys().all(|k| k == name) => Ok(map.get(name).cloned()),
            _ => Err(Answer::param_error(
                "/",
                &format!("expected {{\"{name}\": …}}"),
            )),
        }
    };
    match (method, rest) {
        ("POST", ["orders", no, "receivers", account, action]) => {
            let reason = match json_field("fail_reason")? {
                Some(Value::String(reason)) => Some(reason),
                Some(_) => return Err(Answer::param_error("/fail_reason", "a string")),
                None => param("fail_reason").map(str::to_owned),
            };
            let outcome = ReceiverOutcome::from_action(action, reason.as_deref())?;
            resolve_profit_sharing(shared, &outcome, sub, &decode(no), &decode(account))
                .map(|order| Answer::json(200, &order))
        }
        ("GET", ["orders"]) => {
            let list = shared
                .profitsharing
                .lock()
                .map(|sharing| sharing.list(usize::MAX))
                .unwrap_or_default();
            Ok(Answer::json(200, &json!({ "data": list })))
        }
        ("PUT", ["max-ratio"]) => {
            let ratio = json_field("max_ratio")?
                .and_then(|v| v.as_i64())
                .ok_or_else(|| Answer::param_error("/max_ratio", "expected {\"max_ratio\": n}, n 万分比 from 0 to 10000"))?;
            let mut sharing = shared
                .profitsharing
                .lock()
                .map_err(|_| Answer::for_status(500))?;
            sharing.set_max_ratio(sub, ratio)?;
            Ok(Answer::json(200, &json!({"sub_mchid": sub, "max_ratio": ratio})))
        }
        _ => Err(Answer::error(
            404,
            "RESOURCE_NOT_EXISTS",
            "未知的模拟接口: expected POST profitsharing/orders/{out_order_no}/receivers/{account}/succeed|close, GET profitsharing/orders, PUT profitsharing/max-ratio",
            None,
        )),
    }
}

fn unknown_action(action: &str, known: &str) -> Answer {
    Answer::error(
        404,
        "RESOURCE_NOT_EXISTS",
        &format!("未知的模拟操作 {action}: expected one of {known}"),
        None,
    )
}

fn settings(shared: &Shared) -> Value {
    let delay = shared.refund_delay.lock().ok().and_then(|d| *d);
    let mut out = json!({
        "notification_speedup": shared.notifier.speedup.load(std::sync::atomic::Ordering::Relaxed),
        "refund_auto_resolve_ms": delay.map(|d| d.as_millis() as u64),
        "transfer_balance_fen": shared.transfers.lock().map(|book| book.balance()).ok(),
        "retention": shared.retention.load(std::sync::atomic::Ordering::Relaxed),
    });
    if let Ok(sharing) = shared.profitsharing.lock() {
        let s = &sharing.settings;
        out["profitsharing_notify_url"] = json!(s.notify_url);
        out["profitsharing_event_type"] = json!(if s.documented_events {
            "documented"
        } else {
            "observed"
        });
        out["profitsharing_wait_s"] = json!(s.wait_after_payment);
    }
    out
}

/// `PUT /_mock/settings`: only the keys given change.
fn change_settings(shared: &Shared, body: &[u8]) -> Result<(), Answer> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Answer::param_error("/", &e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(Answer::param_error("/", "expected a JSON object"));
    };
    let mut speedup = None;
    let mut delay = None;
    let mut balance = None;
    let mut retention = None;
    let mut sharing = shared
        .profitsharing
        .lock()
        .map_err(|_| Answer::for_status(500))?
        .settings
        .clone();
    for (key, value) in &map {
        if crate::mock::flows::profitsharing::change_setting(&mut sharing, key, value)? {
            continue;
        }
        match key.as_str() {
            "notification_speedup" => {
                speedup = Some(
                    value
                        .as_u64()
                        .filter(|n| (1..=1_000_000).contains(n))
                        .ok_or_else(|| {
                            Answer::param_error(
                                "/notification_speedup",
                                "an integer from 1 (real time) to 1000000",
                            )
                        })? as u32,
                );
            }
            "transfer_balance_fen" => {
                balance = Some(
                    value
                        .as_i64()
                        .filter(|n| (0..=i64::from(i32::MAX) * 1000).contains(n))
                        .ok_or_else(|| {
                            Answer::param_error(
                                "/transfer_balance_fen",
                                "the operating account's balance in fen, an integer from 0",
                            )
                        })?,
                );
            }
            "retention" => {
                retention = Some(
                    value
                        .as_u64()
                        .filter(|n| (1..=MAX_RETENTION as u64).contains(n))
                        .ok_or_else(|| {
                            Answer::param_error(
                                "/retention",
                                "how many entries each store keeps (the oldest goes first), an integer from 1 to 100000",
                            )
                        })? as usize,
                );
            }
            "refund_auto_resolve_ms" => {
                delay = Some(match value {
                    Value::Null => None,
                    v => Some(std::time::Duration::from_millis(v.as_u64().ok_or_else(
                        || {
                            Answer::param_error(
                                "/refund_auto_resolve_ms",
                                "milliseconds, or null to resolve by hand",
                            )
                        },
                    )?)),
                });
            }
            other => {
                return Err(Answer::param_error(
                    &format!("/{other}"),
                    "unknown setting; known: notification_speedup, refund_auto_resolve_ms, transfer_balance_fen, retention, profitsharing_notify_url, profitsharing_event_type, profitsharing_wait_s",
                ))
            }
        }
    }
    if let Some(speedup) = speedup {
        shared
            .notifier
            .speedup
            .store(speedup, std::sync::atomic::Ordering::Relaxed);
    }
    if let (Some(fen), Ok(mut book)) = (balance, shared.transfers.lock()) {
        book.set_balance(fen);
    }
    if let (Some(delay), Ok(mut slot)) = (delay, shared.refund_delay.lock()) {
        *slot = delay;
    }
    if let Ok(mut store) = shared.profitsharing.lock() {
        store.settings = sharing;
    }
    if let Some(limit) = retention {
        shared.set_retention(limit);
    }
    Ok(())
}

/// How many injected faults may wait at once (each request may add 10,000).
const MAX_QUEUED_FAULTS: usize = 10_000;

fn add_faults(shared: &Shared, body: &[u8]) -> Result<(), Answer> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Answer::param_error("/", &e.to_string()))?;
    let fault = Fault::from_json(&value).map_err(|e| Answer::param_error("/fault", &e))?;
    let count = value
        .get("count")
        .and_then(Value::as_u64)
        .unwrap_or(1)
        .min(10_000);
    if let Some(path) = value.get("path") {
        let path = path
            .as_str()
            .ok_or_else(|| Answer::param_error("/path", "an API path, as a string"))?;
        return shared
            .triggers
            .add_path_fault(path, fault, count as usize)
            .map_err(|e| Answer::param_error("/path", &e));
    }
    let mut faults = shared.faults.lock().map_err(|_| Answer::for_status(500))?;
    if faults.len().saturating_add(count as usize) > MAX_QUEUED_FAULTS {
        return Err(Answer::param_error(
            "/count",
            &format!("at most {MAX_QUEUED_FAULTS} faults wait at once; clear them with DELETE /_mock/faults"),
        ));
    }
    faults.extend(std::iter::repeat_n(fault, count as usize));
    Ok(())
}
