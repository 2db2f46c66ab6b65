//! What the simulated user and the back office do to the flows' orders:
//! the one path the `/_mock/` controls, the cashier, the bridge stand-in and
//! [`MockServer`](crate::mock::MockServer) all go through. Each action moves
//! an order under its flow's lock, then queues the notification it makes.

use serde_json::Value;

use crate::mock::flows::refunds::RefundOutcome;
use crate::mock::wire::answer::Answer;
use crate::mock::wire::notify::Event;
use crate::mock::wire::server::Shared;
use crate::sign::unix_now;

/// A user's action on a payscore order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserAction {
    Confirm,
    Pay,
    Expire,
}

/// Moves an order as the user would and queues the notification.
pub(crate) fn user_action(
    shared: &Shared,
    action: UserAction,
    sub: &str,
    no: &str,
) -> Result<Value, Answer> {
    let mchid = shared.keys.credentials.mchid;
    let moved = {
        let mut orders = shared.orders.lock().map_err(|_| Answer::for_status(500))?;
        match action {
            UserAction::Confirm => orders.user_confirms(mchid, sub, no)?,
            UserAction::Pay => orders.user_pays(mchid, sub, no)?,
            UserAction::Expire => (orders.expire(mchid, sub, no)?, None),
        }
    };
    Ok(notify(moved, shared))
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
    let request: PayRequest = if body.iter().all(u8::is_ascii_whitespace) {
        PayRequest::default()
    } else {
        serde_json::from_slice(body).map_err(|e| {
            Answer::param_error(
                "/",
                &format!("expected {{\"openid\"?, \"invocation\"?}}: {e}"),
            )
        })?
    };
    transaction_request(shared, action, sub, no, &request)
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
    if action != TransactionAction::Pay
        && (request.openid.is_some() || request.invocation.is_some())
    {
        return Err(Answer::param_error("/", "only pay takes a body"));
    }
    let mchid = shared.keys.credentials.mchid;
    let now = unix_now();
    let moved = {
        let mut book = shared
            .payments
            .lock()
            .map_err(|_| Answer::for_status(500))?;
        match action {
            TransactionAction::Pay => {
                if let Some(invocation) = &request.invocation {
                    check_invocation(shared, &mut book, sub, no, invocation, now)?;
                }
                book.pay(sub, no, mchid, request.openid.as_deref(), now)?
            }
            TransactionAction::Fail => (book.fail(sub, no, mchid, now)?, None),
            TransactionAction::Expire => (book.expire(sub, no, mchid, now)?, None),
        }
    };
    Ok(notify(moved, shared))
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
    let mchid = shared.keys.credentials.mchid;
    let Some(order) = book.get_mut(sub, no, now) else {
        // pay() says which order is missing.
        return Ok(());
    };
    // An expired prepay id is no longer live: the client refuses it.
    let live = if order.prepay_is_live(&order.prepay_id, now) {
        order.prepay_id.clone()
    } else {
        String::new()
    };
    let kind = crate::mock::flows::invocation::check(
        invocation,
        &shared.keys.merchant_public,
        order.appid(),
        &live,
        mchid,
    )
    .map_err(|refusal| refusal.answer())?;
    let expected = match kind {
        crate::mock::flows::invocation::Kind::Jsapi => "JSAPI",
        crate::mock::flows::invocation::Kind::App => "APP",
    };
    if order.trade_type != expected {
        return Err(Answer::param_error(
            "/invocation",
            &format!(
                "a {} order is paid from its own front end, not with {expected} parameters",
                order.trade_type
            ),
        ));
    }
    Ok(())
}

/// The back office ends a refund; queues its REFUND.* notification.
pub(crate) fn resolve_refund(
    shared: &Shared,
    outcome: RefundOutcome,
    sub: &str,
    no: &str,
) -> Result<Value, Answer> {
    let mchid = shared.keys.credentials.mchid;
    let moved = {
        // payments before refunds, always
        let mut payments = shared
            .payments
            .lock()
            .map_err(|_| Answer::for_status(500))?;
        let mut refunds = shared.refunds.lock().map_err(|_| Answer::for_status(500))?;
        refunds.resolve(&mut payments, sub, no, outcome, mchid, unix_now())?
    };
    Ok(notify(moved, shared))
}

/// Queues the notification an action made, if any, and passes its order on.
fn notify((order, event): (Value, Option<Event>), shared: &Shared) -> Value {
    if let Some(event) = event {
        shared.notifier.send(event);
    }
    order
}
