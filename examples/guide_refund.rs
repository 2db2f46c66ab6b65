//! The shop of docs/guides/refund.md, driven to the end: a paid order
//! refunded in part (REFUND.SUCCESS), a refund over what is left refused, a
//! refund of the rest closed by WeChat Pay (REFUND.CLOSED) and made again
//! under a new number, each refund queried, a retry answered with the same
//! refund, and nothing left to refund. Exits non-zero on any mismatch.
//!
//! Run: `cargo run --example guide_refund` (a mock in this process), or
//! against `wxpay mock` in another terminal:
//! `WECHATPAY_PROFILE=/tmp/wxpay/mock.json cargo run --example guide_refund`.

mod shop;

use shop::{check, Event, OPENID};
use wechatpay_chain::json;
use wechatpay_chain::models::{Refund, RefundStatus};

type Failure = Box<dyn std::error::Error>;

/// The REFUND.* notification the shop's endpoint received next.
async fn refund_event(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Event>,
) -> Result<(String, Refund), Failure> {
    match shop::next_event(events).await? {
        Event::Refund(kind, refund) => Ok((kind, refund)),
        Event::Paid(transaction) => Err(format!(
            "expected REFUND.*, got a payment {:?}",
            transaction.out_trade_no
        )
        .into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let (client, _mock) = shop::wechat_pay().await?;
    let wechat_pay = client.base_url().trim_end_matches('/').to_owned();
    let (shop, mut events) = shop::open(client).await?;
    // Refund numbers unique per merchant, also across runs against one `wxpay mock`.
    let stamp = format!(
        "{}{:05}",
        wechatpay_chain::clock::compact_now(),
        std::process::id() % 100_000
    );
    println!("shop at {shop}, WeChat Pay at {wechat_pay}");

    // A paid order of 19.99 yuan (as in the JSAPI guide).
    let (_, cart) = shop::post_json(
        format!("{shop}/checkout"),
        json!({"openid": OPENID, "total": 1999}),
    )
    .await?;
    let no = cart["out_trade_no"].as_str().unwrap_or_default().to_owned();
    let pays = json!({"api": "getBrandWCPayRequest", "params": cart["params"], "user": "pays"});
    let (status, sheet) = shop::post_json(format!("{wechat_pay}/_mock/invocations"), pays).await?;
    check("the user paid 19.99", status == 200, &sheet)?;
    if let Event::Refund(kind, _) = shop::next_event(&mut events).await? {
        return Err(format!("expected TRANSACTION.SUCCESS, got {kind}").into());
    }
    let refund = |out_refund_no: &str, fen: i64| {
        shop::post_json(
            format!("{shop}/orders/{no}/refund"),
            json!({"out_refund_no": out_refund_no, "refund": fen}),
        )
    };
    // The back office (or time) ends a refund; on the mock, its control.
    let back_office = |out_refund_no: &str, outcome: &str| {
        shop::post_json(
            format!("{wechat_pay}/_mock/refunds/{out_refund_no}/{outcome}"),
            json!(null),
        )
    };

    // 1. Refund 5.00: accepted PROCESSING, then REFUND.SUCCESS.
    let first = format!("R{stamp}1");
    let (status, accepted) = refund(&first, 500).await?;
    println!("1. refund {first} of 5.00: {}", accepted["status"]);
    check(
        "accepted PROCESSING",
        status == 200 && accepted["status"] == "PROCESSING",
        &accepted,
    )?;
    back_office(&first, "succeed").await?;
    let (kind, done) = refund_event(&mut events).await?;
    check("REFUND.SUCCESS", kind == "REFUND.SUCCESS", &kind)?;
    check(
        "refund_status SUCCESS",
        done.state() == Some(&RefundStatus::Success),
        &done,
    )?;
    check(
        "5.00 refunded",
        done.amount.as_ref().and_then(|a| a.refund) == Some(500),
        &done,
    )?;
    let (_, queried) = shop::get_json(format!("{shop}/refunds/{first}")).await?;
    check(
        "query says SUCCESS",
        queried["status"] == "SUCCESS",
        &queried,
    )?;

    // 2. A retry of the same refund (same number, same amount) is the same refund.
    let (status, again) = refund(&first, 500).await?;
    check(
        "a retry answers the same refund",
        status == 200 && again["refund_id"] == queried["refund_id"],
        &again,
    )?;

    // 3. More than is left (14.99): refused, with how much is left.
    let (status, refused) = refund(&format!("R{stamp}2"), 1500).await?;
    println!("2. 15.00 more: {status} {}", refused["error"]);
    let text = refused["error"].as_str().unwrap_or_default();
    check(
        "over the rest: refused",
        status == 502 && text.contains("申请退款金额超过订单可退金额"),
        &refused,
    )?;

    // 4. The rest (14.99): WeChat Pay closes it; the amount is refundable again.
    let rest = format!("R{stamp}3");
    refund(&rest, 1499).await?;
    back_office(&rest, "close").await?;
    let (kind, closed) = refund_event(&mut events).await?;
    println!("3. refund {rest} of 14.99: {kind}");
    check(
        "REFUND.CLOSED",
        kind == "REFUND.CLOSED" && closed.state() == Some(&RefundStatus::Closed),
        &closed,
    )?;
    let again = format!("R{stamp}4");
    let (status, accepted) = refund(&again, 1499).await?;
    check("the closed amount refunded again", status == 200, &accepted)?;
    back_office(&again, "succeed").await?;
    let (kind, done) = refund_event(&mut events).await?;
    println!("4. refund {again} of 14.99: {kind}");
    check(
        "REFUND.SUCCESS for the rest",
        done.state() == Some(&RefundStatus::Success),
        &done,
    )?;

    // 5. Refunded in full: the order says REFUND, nothing is left.
    let (_, order) = shop::get_json(format!("{shop}/orders/{no}")).await?;
    check(
        "the order is REFUND",
        order["trade_state"] == "REFUND",
        &order,
    )?;
    let (status, refused) = refund(&format!("R{stamp}5"), 1).await?;
    let text = refused["error"].as_str().unwrap_or_default();
    check(
        "nothing left",
        status == 502 && text.contains("订单已全额退款"),
        &refused,
    )?;
    println!("5. done: 19.99 paid, 19.99 refunded");
    Ok(())
}
