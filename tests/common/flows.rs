//! What the tests of the mock's payment flows share: an order body as the
//! Go SDK's `PrepayRequest` names its fields (FLOWS.md §1.2), one
//! `/_mock/` control call, a server and its client, and the field sets and
//! refusals the tests compare.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{Client, Error};

pub const APPID: &str = "wxd678efh567hg6787";
pub const MCHID: &str = "1900000109";
pub const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

/// A JSAPI prepay request of the mock's merchant.
pub fn jsapi_order(no: &str, notify_url: &str, total: i64) -> Value {
    json!({"appid": APPID, "mchid": MCHID, "description": "Image形象店-深圳腾大-QQ公仔",
           "out_trade_no": no, "notify_url": notify_url,
           "amount": {"total": total, "currency": "CNY"}, "payer": {"openid": OPENID}})
}

/// `POST /_mock/{path}` with an optional JSON body: the status and the
/// answer's JSON (`null` when there is none).
pub async fn control(server: &MockServer, path: &str, body: Option<Value>) -> (u16, Value) {
    control_at(server.base_url(), "POST", path, body).await
}

/// `METHOD {base}_mock/{path}`, for a mock in another process.
pub async fn control_at(base: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request =
        reqwest::Client::new().request(method.parse().unwrap(), format!("{base}_mock/{path}"));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let answer = request.send().await.unwrap();
    let status = answer.status().as_u16();
    let bytes = answer.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// A mock and its client.
pub async fn setup() -> (MockServer, Client) {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    (server, client)
}

/// The field names of a JSON object.
pub fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

pub fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The `{"code","message"}` of a refused call, and its status.
pub fn refusal(err: Error) -> (u16, String, String) {
    match err {
        Error::Api(api) => (api.status, api.code.clone(), api.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Transfer bill `no` as the query by `out_bill_no` answers it (FLOWS.md §8.1).
#[allow(dead_code)] // not every test binary makes transfers
pub async fn transfer_bill_query(client: &Client, no: &str) -> Value {
    client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"]
        .get(json!({ "out_bill_no": no }))
        .await
        .unwrap()
        .json()
        .unwrap()
}

/// Moves `server`'s clock to 10:00 (China time) the day after its current
/// day: a day's bill exists only from then (FLOWS.md §5).
#[allow(dead_code)] // not every test binary reads a bill
pub async fn bills_of_today_ready(server: &wechatpay_chain::mock::MockServer) {
    let now = server.now();
    let china_midnight = (now + 8 * 3600).div_euclid(86_400) * 86_400 - 8 * 3600;
    let ready = china_midnight + 86_400 + 10 * 3600;
    if now < ready {
        server.set_clock(ready).await.unwrap();
    }
}
