//! `POST /_mock/trigger` `{"event": "TRANSACTION.SUCCESS" | "REFUND.SUCCESS",
//! "notify_url": URL}`: creates and completes the objects behind one
//! notification, so that the merchant's endpoint receives a real one
//! (signed, encrypted with the APIv3 key, on WeChat Pay's retry ladder) in
//! one command: the `stripe trigger` of WeChat Pay (`wxpay mock trigger`).
//! The objects go through the flows as a merchant's requests would (a
//! Native order of 0.01 yuan, paid by the simulated user; for a refund,
//! that order refunded in full and the refund succeeding, so the endpoint
//! also receives the order's TRANSACTION.SUCCESS first).

use serde_json::{json, Value};

use super::actions::{resolve_refund, transaction_request, PayRequest, TransactionAction};
use crate::mock::flows::payments::{self, Operation};
use crate::mock::flows::refunds::{self, RefundOutcome};
use crate::mock::wire::answer::Answer;
use crate::mock::wire::server::Shared;

/// The events `POST /_mock/trigger` can send.
pub(crate) const EVENTS: [&str; 2] = ["TRANSACTION.SUCCESS", "REFUND.SUCCESS"];

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    event: String,
    notify_url: String,
}

/// Creates and completes what `body` asks for; answers the objects made.
pub(crate) fn trigger(shared: &Shared, body: &[u8]) -> Result<Answer, Answer> {
    let ask: Ask = serde_json::from_slice(body).map_err(|e| {
        Answer::param_error(
            "/",
            &format!("expected {{\"event\": \"TRANSACTION.SUCCESS\" | \"REFUND.SUCCESS\", \"notify_url\": URL}}: {e}"),
        )
    })?;
    if !EVENTS.contains(&ask.event.as_str()) {
        return Err(Answer::param_error(
            "/event",
            &format!("one of {}", EVENTS.join(", ")),
        ));
    }
    let credentials = &shared.keys.credentials;
    let now = shared.clock.now();
    let stamp = crate::clock::compact(now);
    let suffix = crate::crypto::random_alphanumeric(6).map_err(|_| Answer::for_status(500))?;
    let out_trade_no = format!("TRIGGER{stamp}{suffix}");
    let order = json!({"appid": "wxd678efh567hg6787", "mchid": credentials.mchid,
        "description": format!("wxpay mock trigger {}", ask.event), "out_trade_no": out_trade_no,
        "notify_url": ask.notify_url, "amount": {"total": 1, "currency": "CNY"}})
    .to_string();
    let created = shared
        .payments
        .lock()
        .map_err(|_| Answer::for_status(500))?
        .serve(&payments::Call {
            operation: Operation::Create("NATIVE"),
            partner: false,
            params: &[],
            query: &[],
            body: order.as_bytes(),
            mchid: credentials.mchid,
            base_url: "",
            now,
        });
    if created.status != 200 {
        // The flow's own refusal (a notify_url WeChat Pay would refuse, …).
        return Err(created);
    }
    let transaction = transaction_request(
        shared,
        TransactionAction::Pay,
        "",
        &out_trade_no,
        &PayRequest::default(),
    )?;
    if ask.event == "TRANSACTION.SUCCESS" {
        return Ok(Answer::json(
            200,
            &json!({"event": ask.event, "transaction": transaction}),
        ));
    }
    let out_refund_no = format!("TRIGGERR{stamp}{suffix}");
    let refund_body = json!({"out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
        "notify_url": ask.notify_url, "amount": {"refund": 1, "total": 1, "currency": "CNY"}})
    .to_string();
    let accepted = {
        let mut book = shared
            .payments
            .lock()
            .map_err(|_| Answer::for_status(500))?;
        let mut refunds = shared.refunds.lock().map_err(|_| Answer::for_status(500))?;
        refunds.serve(
            &mut book,
            &refunds::Call {
                operation: refunds::Operation::Create,
                params: &[],
                query: &[],
                body: refund_body.as_bytes(),
                mchid: credentials.mchid,
                now,
            },
        )
    };
    if accepted.status != 200 {
        return Err(accepted);
    }
    let refund: Value = resolve_refund(shared, RefundOutcome::Success, "", &out_refund_no)?;
    Ok(Answer::json(
        200,
        &json!({"event": ask.event, "transaction": transaction, "refund": refund}),
    ))
}
