//! The reserved `/_mock/` prefix: what a test or a person does to the mock
//! from outside — play the user, inject faults, read the notification log.
//! Unsigned and unauthenticated, as a test harness is.
//!
//! | request | effect |
//! |---|---|
//! | `POST /_mock/payscore/{out_order_no}/confirm[?sub_mchid=]` | the user confirms (PAYSCORE.USER_CONFIRM) |
//! | `POST /_mock/payscore/{out_order_no}/pay[?sub_mchid=]` | the user pays (PAYSCORE.USER_PAID) |
//! | `POST /_mock/payscore/{out_order_no}/expire[?sub_mchid=]` | the unconfirmed order expires |
//! | `POST /_mock/faults` `{"fault": …, "count": n}` | the next n answers misbehave |
//! | `DELETE /_mock/faults` | no more faults |
//! | `GET /_mock/notifications` | every notification sent and its fate |
//! | `GET /_mock/requests` | the recent requests and what the mock made of each |
//! | `DELETE /_mock/requests` | forget them |
//!
//! The pages (console, cashier, QR, bridge script) are [`super::console`]'s.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use super::answer::Answer;
use super::faults::Fault;
use super::server::Shared;

/// A user's action on a payscore order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserAction {
    Confirm,
    Pay,
    Expire,
}

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
            user_action(shared, action, sub, &no).map(|order| Answer::json(200, &order))
        }
        ("POST", ["faults"]) => add_faults(shared, body).map(|()| Answer::no_content()),
        ("DELETE", ["faults"]) => {
            if let Ok(mut faults) = shared.faults.lock() {
                faults.clear();
            }
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
            let log = shared
                .notifier
                .log
                .lock()
                .map(|l| l.clone())
                .unwrap_or_default();
            let list: Vec<Value> = log
                .iter()
                .map(|d| {
                    json!({"url": d.url, "event_type": d.event_type, "attempts": d.attempts,
                                "delivered": d.delivered, "resource": d.resource})
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

/// Moves an order as the user would and queues the notification.
pub(crate) fn user_action(
    shared: &Shared,
    action: UserAction,
    sub: &str,
    no: &str,
) -> Result<Value, Answer> {
    let mchid = shared.keys.credentials.mchid;
    let (order, event) = {
        let mut orders = shared.orders.lock().map_err(|_| Answer::for_status(500))?;
        match action {
            UserAction::Confirm => orders.user_confirms(mchid, sub, no)?,
            UserAction::Pay => orders.user_pays(mchid, sub, no)?,
            UserAction::Expire => (orders.expire(mchid, sub, no)?, None),
        }
    };
    if let Some(event) = event {
        shared.notifier.send(event);
    }
    Ok(order)
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

fn reply(answer: &Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or_default();
    if !answer.body.is_empty() {
        response.headers_mut().insert(
            "content-type",
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    response
}
