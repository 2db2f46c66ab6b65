//! The shop of docs/guides/accept-a-jsapi-payment.md, driven to the end:
//! the page posts its cart → the shop places a JSAPI order
//! (`Client::prepay_jsapi`) and answers the front-end parameters → the user
//! pays (the request the mock's `WeixinJSBridge` stand-in sends) →
//! TRANSACTION.SUCCESS verified, decrypted, typed → the order queried.
//! Exits non-zero on any mismatch.
//!
//! Run: `cargo run --example guide_jsapi` (a mock in this process), or
//! against `wxpay mock` in another terminal:
//! `WECHATPAY_PROFILE=/tmp/wxpay/mock.json cargo run --example guide_jsapi`.

mod shop;

use shop::{check, Event, OPENID};
use wechatpay_chain::json;
use wechatpay_chain::models::TradeState;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (client, _mock) = shop::wechat_pay().await?;
    let wechat_pay = client.base_url().trim_end_matches('/').to_owned();
    let (shop, mut events) = shop::open(client).await?;
    println!("shop at {shop}, WeChat Pay at {wechat_pay}");

    // 1. The page posts its cart; the shop answers the front-end parameters.
    let (status, cart) = shop::post_json(
        format!("{shop}/checkout"),
        json!({"openid": OPENID, "total": 1999}),
    )
    .await?;
    check("checkout answers 200", status == 200, &cart)?;
    let out_trade_no = cart["out_trade_no"].as_str().unwrap_or_default().to_owned();
    let params = &cart["params"];
    println!("1. order {out_trade_no}: the page gets {params}");
    check("signed with RSA", params["signType"] == "RSA", params)?;

    // 2. The user pays: the page calls getBrandWCPayRequest with `params`;
    //    the mock's WeixinJSBridge stand-in posts this, as WeChat would check.
    let pays = json!({"api": "getBrandWCPayRequest", "params": params, "user": "pays"});
    let (status, sheet) = shop::post_json(format!("{wechat_pay}/_mock/invocations"), pays).await?;
    check("the user paid", status == 200, &sheet)?;

    // 3. TRANSACTION.SUCCESS reached the shop's /wxpay/notify, typed.
    let paid = match shop::next_event(&mut events).await? {
        Event::Paid(transaction) => transaction,
        Event::Refund(kind, refund) => {
            return Err(format!(
                "expected TRANSACTION.SUCCESS, got {kind} {:?}",
                refund.out_refund_no
            )
            .into())
        }
    };
    println!("2. notified: {out_trade_no} {:?}", paid.trade_state);
    check(
        "notified for this order",
        paid.out_trade_no.as_deref() == Some(&out_trade_no),
        &paid,
    )?;
    check(
        "notified SUCCESS",
        paid.trade_state == Some(TradeState::Success),
        &paid,
    )?;
    check(
        "notified amount",
        paid.amount.as_ref().and_then(|a| a.total) == Some(1999),
        &paid,
    )?;

    // 4. The shop asks WeChat Pay rather than trusting the page.
    let (status, order) = shop::get_json(format!("{shop}/orders/{out_trade_no}")).await?;
    println!(
        "3. queried: {} {}",
        order["trade_state"], order["transaction_id"]
    );
    check("query answers 200", status == 200, &order)?;
    check(
        "query says SUCCESS",
        order["trade_state"] == "SUCCESS",
        &order,
    )?;
    check(
        "query names the notified payment",
        order["transaction_id"] == json!(paid.transaction_id),
        &order,
    )?;

    // 5. A careless or hostile caller: parameters not signed by the shop
    //    are refused by the WeChat client, and a forged notification by the shop.
    let mut forged = params.clone();
    forged["paySign"] = json!("Zm9yZ2Vk");
    let pays = json!({"api": "getBrandWCPayRequest", "params": forged, "user": "pays"});
    let (status, refusal) =
        shop::post_json(format!("{wechat_pay}/_mock/invocations"), pays).await?;
    check("a forged paySign is refused", status == 400, &refusal)?;
    let (status, answer) = shop::post_json(
        format!("{shop}/wxpay/notify"),
        json!({"event_type": "TRANSACTION.SUCCESS"}),
    )
    .await?;
    check("an unsigned notification gets 500", status == 500, &answer)?;
    println!("4. done: paid, notified, queried");
    Ok(())
}
