//! What the simulated user and the back office do to the flows' orders:
//! the one path the `/_mock/` controls, the cashier, the bridge stand-in and
//! [`MockServer`](crate::mock::MockServer) all go through. Each action moves
//! an order under its flow's lock, then queues the notification it makes.

use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

use crate::mock::flows::combine::{self, Combines};
use crate::mock::flows::payments::{Payments, Unpaid};
use crate::mock::flows::payscore::UserAction;
use crate::mock::flows::profitsharing::ReceiverOutcome;
use crate::mock::flows::refunds::RefundOutcome;
use crate::mock::flows::transfers::{Action as TransferAction, Payee};
use crate::mock::wire::answer::Answer;
use crate::mock::wire::notify::Event;
use crate::mock::wire::server::Shared;

/// Moves an order as the user would and queues the notification.
pub(crate) fn user_action(
    shared: &Shared,
    action: UserAction,
    sub: &str,
    no: &str,
) -> Result<Value, Answer> {
    act(shared, |mchid| {
        lock(&shared.orders)?.user_action(mchid, sub, no, action, shared.clock.now())
    })
}

/// What the simulated user does to a payment order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransactionAction {
    Pay,
    Fail,
    Expire,
}

impl TransactionAction {
    pub(crate) fn from_segment(segment: &str) -> Option<Self> {
        match segment {
            "pay" => Some(TransactionAction::Pay),
            "fail" => Some(TransactionAction::Fail),
            "expire" => Some(TransactionAction::Expire),
            _ => None,
        }
    }
}

/// The optional body of `…/pay`: who pays, and how the front end invoked.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PayRequest {
    /// The payer's openid (a Native, H5 or APP order names none).
    pub(crate) openid: Option<String>,
    /// The parameters the front end handed to WeChat (`getBrandWCPayRequest`
    /// or the APP's `PayReq`), checked as the WeChat client checks them.
    pub(crate) invocation: Option<Value>,
}

/// Moves a payment order as the user would; queues TRANSACTION.SUCCESS on pay.
pub(crate) fn transaction_action(
    shared: &Shared,
    action: TransactionAction,
    sub: &str,
    no: &str,
    body: &[u8],
) -> Result<Value, Answer> {
    transaction_request(shared, action, sub, no, &PayRequest::read(body)?)
}

impl PayRequest {
    /// The body of a pay, fail or expire control: empty, or `{"openid"?, "invocation"?}`.
    pub(crate) fn read(body: &[u8]) -> Result<Self, Answer> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(PayRequest::default());
        }
        serde_json::from_slice(body).map_err(|e| {
            Answer::param_error(
                "/",
                &format!("expected {{\"openid\"?, \"invocation\"?}}: {e}"),
            )
        })
    }

    /// Fail and expire take no body: only a payer pays.
    fn only_for_pay(&self, action: TransactionAction) -> Result<(), Answer> {
        if action != TransactionAction::Pay && (self.openid.is_some() || self.invocation.is_some())
        {
            return Err(Answer::param_error("/", "only pay takes a body"));
        }
        Ok(())
    }
}

/// [`transaction_action`] with its body read: the one path every payment
/// goes through (the control, the cashier pages, the bridge stand-in).
pub(crate) fn transaction_request(
    shared: &Shared,
    action: TransactionAction,
    sub: &str,
    no: &str,
    request: &PayRequest,
) -> Result<Value, Answer> {
    request.only_for_pay(action)?;
    let now = shared.clock.now();
    // Trigger PAYERROR (wire/triggers.rs): this order's payments fail.
    let action = match action {
        TransactionAction::Pay if crate::mock::wire::triggers::marked(no, "PAYFAIL") => {
            TransactionAction::Fail
        }
        other => other,
    };
    act(shared, |mchid| {
        let mut book = lock(&shared.payments)?;
        Ok(match action {
            TransactionAction::Pay => {
                if let Some(invocation) = &request.invocation {
                    check_invocation(shared, &mut book, sub, no, invocation, now)?;
                }
                book.pay(sub, no, mchid, request.openid.as_deref(), now)?
            }
            TransactionAction::Fail => (book.end_unpaid(sub, no, mchid, now, Unpaid::Fail)?, None),
            TransactionAction::Expire => {
                (book.end_unpaid(sub, no, mchid, now, Unpaid::Expire)?, None)
            }
        })
    })
}

/// Checks the front end's parameters as the WeChat client would before it
/// opens its cashier: signed by the merchant, this order's live prepay id,
/// the appid the order was placed with, the shape its trade type takes.
/// The pay control and `POST /_mock/invocations` ([`super::bridge`]) both
/// check through here.
pub(crate) fn check_invocation(
    shared: &Shared,
    book: &mut crate::mock::flows::payments::Payments,
    sub: &str,
    no: &str,
    invocation: &Value,
    now: i64,
) -> Result<(), Answer> {
    let Some(order) = book.get_mut(sub, no, now).filter(|o| o.combine.is_none()) else {
        // pay() says which order is missing, or whose sub-order it is.
        return Ok(());
    };
    // An expired prepay id is no longer live: the client refuses it.
    let live = order.prepay_is_live(&order.prepay_id, now);
    check_front_end(
        shared,
        invocation,
        order.appid(),
        if live { &order.prepay_id } else { "" },
        order.trade_type,
        order.sub_mchid(),
    )
}

/// The WeChat client's check of `invocation` for an order placed with
/// `appid`, whose live prepay id is `live_prepay_id` ("" if none is) and
/// whose trade type is `trade_type` and whose sub-merchant is `sub_mchid`
/// ("" for a direct or combine order): normal and combine orders alike
/// (FLOWS.md §6; a combine APP order's `partnerid` is `combine_mchid`,
/// the mock's merchant).
pub(crate) fn check_front_end(
    shared: &Shared,
    invocation: &Value,
    appid: &str,
    live_prepay_id: &str,
    trade_type: &str,
    sub_mchid: &str,
) -> Result<(), Answer> {
    let kind = crate::mock::flows::invocation::check(
        invocation,
        &shared.keys.merchant_public,
        appid,
        live_prepay_id,
        (shared.keys.credentials.mchid, sub_mchid),
    )
    .map_err(|refusal| refusal.answer())?;
    let expected = match kind {
        crate::mock::flows::invocation::Kind::Jsapi => "JSAPI",
        crate::mock::flows::invocation::Kind::App => "APP",
    };
    if trade_type != expected {
        return Err(Answer::param_error(
            "/invocation",
            &format!("a {trade_type} order is paid from its own front end, not with {expected} parameters"),
        ));
    }
    Ok(())
}

/// Moves a combine order as the user would (all its sub-orders at once);
/// queues TRANSACTION.SUCCESS with every sub-order on pay. The one path
/// a combine payment goes through (the control, the cashier, the bridge).
pub(crate) fn combine_request(
    shared: &Shared,
    action: TransactionAction,
    no: &str,
    request: &PayRequest,
) -> Result<Value, Answer> {
    request.only_for_pay(action)?;
    act(shared, |mchid| {
        let (mut combines, mut book) = combine_books(shared)?;
        let check = |appid: &str, live: &str, trade_type: &str| match &request.invocation {
            Some(invocation) => check_front_end(shared, invocation, appid, live, trade_type, ""),
            None => Ok(()),
        };
        let action = match action {
            TransactionAction::Pay => combine::Action::Pay,
            TransactionAction::Fail => combine::Action::Fail,
            TransactionAction::Expire => combine::Action::Expire,
        };
        let step = combine::Step {
            action,
            no,
            openid: request.openid.as_deref(),
            mchid,
            now: shared.clock.now(),
        };
        combines.act(&mut book, &step, check)
    })
}

/// The combine orders and the payment orders, locked in that order (always).
pub(crate) fn combine_books(
    shared: &Shared,
) -> Result<(MutexGuard<'_, Combines>, MutexGuard<'_, Payments>), Answer> {
    Ok((lock(&shared.combines)?, lock(&shared.payments)?))
}

/// The newest `count` combine orders as the list and console show them.
pub(crate) fn combine_list(shared: &Shared, count: usize) -> Vec<Value> {
    let mchid = shared.keys.credentials.mchid;
    let Ok((combines, mut book)) = combine_books(shared) else {
        return Vec::new();
    };
    combines.list(&mut book, mchid, shared.clock.now(), count)
}

/// The back office ends a refund; queues its REFUND.* notification.
pub(crate) fn resolve_refund(
    shared: &Shared,
    outcome: RefundOutcome,
    sub: &str,
    no: &str,
) -> Result<Value, Answer> {
    act(shared, |mchid| {
        // payments before refunds, always
        let mut payments = lock(&shared.payments)?;
        lock(&shared.refunds)?.resolve(&mut payments, sub, no, outcome, mchid, shared.clock.now())
    })
}

/// The payee or the back office moves transfer bill `no` of `sub` (`""`:
/// direct); queues MCHTRANSFER.BILL.FINISHED when it ends.
pub(crate) fn transfer_action(
    shared: &Shared,
    sub: &str,
    no: &str,
    action: TransferAction,
    payee: &Payee,
) -> Result<Value, Answer> {
    act(shared, |mchid| {
        lock(&shared.transfers)?.act(sub, no, action, payee, mchid, shared.clock.now())
    })
}

/// A receiver's share of a profit-sharing request ends; queues the 分账
/// notification of a merchant receiver's SUCCESS.
pub(crate) fn resolve_profit_sharing(
    shared: &Shared,
    outcome: &ReceiverOutcome,
    sub: &str,
    out_order_no: &str,
    account: &str,
) -> Result<Value, Answer> {
    act(shared, |mchid| {
        lock(&shared.profitsharing)?.resolve(
            sub,
            out_order_no,
            account,
            outcome,
            mchid,
            shared.clock.now(),
        )
    })
}

/// Runs `action` as the mock's merchant (the locks it takes are released
/// when it returns), then queues the notification it made, if any.
fn act(
    shared: &Shared,
    action: impl FnOnce(&str) -> Result<(Value, Option<Event>), Answer>,
) -> Result<Value, Answer> {
    let (order, event) = action(shared.keys.credentials.mchid)?;
    if let Some(event) = event {
        shared.notifier.send(event);
    }
    Ok(order)
}

/// A flow's state, or 500 when a panic poisoned its lock.
fn lock<T>(state: &Mutex<T>) -> Result<MutexGuard<'_, T>, Answer> {
    state.lock().map_err(|_| Answer::for_status(500))
}
