//! A transfer bill's confirm page in a real browser (headless Chromium over
//! WebDriver, `common/browser.rs`; Debian's `chromium` and
//! `chromium-driver`, `WECHATPAY_SKIP_BROWSER=1` skips): a merchant's page on
//! another origin loads the `WeixinJSBridge` stand-in and calls
//! `requestMerchantTransfer` with the SDK's parameters (FLOWS.md §8.4); the
//! payee confirms and the merchant's notify_url hears
//! MCHTRANSFER.BILL.FINISHED SUCCESS. A tampered `package`, another WeChat
//! user and a closed page change nothing.

#[path = "common/browser.rs"]
mod browser;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use browser::Browser;
use tokio::sync::mpsc;
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{json, notify, Client, Value};

const APPID: &str = "wxf636efh567hg4356";
const OPENID: &str = "o-MYE42l80oelYMDE34nYD456Xoy";

/// The merchant's notify_url: verifies with the SDK's helper, answers 204,
/// and passes on each notification's event type and resource.
async fn merchant(client: Client) -> (String, mpsc::UnboundedReceiver<(String, Value)>) {
    type Seen = mpsc::UnboundedSender<(String, Value)>;
    async fn receive(
        State((client, seen)): State<(Client, Seen)>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response<String> {
        match client.notification(&headers, &body) {
            Ok(event) => {
                let _ = seen.send((
                    event.event_type.clone(),
                    event.resource().unwrap_or_default(),
                ));
                notify::success().into()
            }
            Err(e) => notify::failure(&e.to_string()).into(),
        }
    }
    let (seen, heard) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(receive))
        .with_state((client, seen));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, heard)
}

/// The merchant's H5 page as WeChat's documentation writes it: after
/// `WeixinJSBridgeReady`, `requestMerchantTransfer` with `params`.
fn merchant_page(mock: &str, params: &Value) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><script>
function onBridgeReady() {{
  WeixinJSBridge.invoke('requestMerchantTransfer', {params}, function (res) {{
    document.getElementById('desc').textContent = res.err_desc || '';
    document.getElementById('result').textContent = res.err_msg;
  }});
}}
if (typeof WeixinJSBridge == "undefined") {{
  document.addEventListener('WeixinJSBridgeReady', onBridgeReady, false);
}} else {{ onBridgeReady(); }}
</script></head><body><p id="result">waiting</p><p id="desc"></p>
<script src="{mock}_mock/jsbridge.js"></script></body></html>"#
    )
}

async fn create(client: &Client, no: &str, notify_url: &str) -> Value {
    client["v3/fund-app/mch-transfer/transfer-bills"]
        .post(json!({"json": {
            "appid": APPID, "out_bill_no": no, "transfer_scene_id": "1000", "openid": OPENID,
            "transfer_amount": 30, "transfer_remark": "新会员开通有礼", "notify_url": notify_url,
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"},
                                            {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}],
        }}))
        .await
        .unwrap()
        .json()
        .unwrap()
}

fn state(server: &MockServer, no: &str) -> String {
    server
        .transfer_bills()
        .iter()
        .find(|b| b["out_bill_no"] == no)
        .and_then(|b| b["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_page_opens_the_confirm_page_and_the_payee_confirms() {
    let Some(browser) = Browser::start(true).await else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    let mut params = Vec::new();
    for no in ["PAGE1", "PAGE2", "PAGE3", "PAGE4"] {
        let created = create(&client, no, &notify_url).await;
        let page = client
            .invocation()
            .merchant_transfer_from_answer(APPID, &created)
            .unwrap();
        params.push(serde_json::to_value(page).unwrap());
    }
    // PAGE2's package altered in one character; PAGE3 opened by another user.
    let package = params[1]["package"].as_str().unwrap().to_owned();
    let flipped = if package.ends_with('A') { "B" } else { "A" };
    params[1]["package"] = json!(format!("{}{flipped}", &package[..package.len() - 1]));
    params[2]["openId"] = json!("o-SOMEONE-ELSE");

    // The merchant's pages on another origin.
    let shop = httpmock::MockServer::start_async().await;
    for (i, path) in [
        "/confirm.html",
        "/tampered.html",
        "/other.html",
        "/closed.html",
    ]
    .iter()
    .enumerate()
    {
        let html = merchant_page(server.base_url(), &params[i]);
        shop.mock_async(|when, then| {
            when.method(httpmock::Method::GET).path(*path);
            then.status(200)
                .header("content-type", "text/html; charset=utf-8")
                .body(html);
        })
        .await;
    }

    // Genuine: the page shows the amount and the remark; confirming is :ok.
    browser.goto(&shop.url("/confirm.html")).await;
    let amount = browser.find("#wxpay-mock-amount").await;
    assert_eq!(browser.text(&amount).await, "¥0.30");
    let remark = browser.find("#wxpay-mock-text").await;
    assert_eq!(browser.text(&remark).await, "新会员开通有礼");
    let confirm = browser.find("#wxpay-mock-confirm").await;
    browser.click(&confirm).await;
    browser
        .wait_for_text("#result", "requestMerchantTransfer:ok", 10)
        .await;
    let (event, bill) = tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .expect("a notification within 10 s")
        .expect("the endpoint runs");
    assert_eq!(
        (
            event.as_str(),
            bill["out_bill_no"].as_str(),
            bill["state"].as_str()
        ),
        ("MCHTRANSFER.BILL.FINISHED", Some("PAGE1"), Some("SUCCESS"))
    );

    // Tampered package: refused, no page, nothing changes.
    browser.goto(&shop.url("/tampered.html")).await;
    browser
        .wait_for_text("#result", "requestMerchantTransfer:fail", 10)
        .await;
    let desc = browser.wait_for_text("#desc", "package", 10).await;
    assert!(desc.contains("400"), "{desc}");
    assert!(browser.find_all("#wxpay-mock-sheet").await.is_empty());
    assert_eq!(state(&server, "PAGE2"), "WAIT_USER_CONFIRM");

    // Another WeChat user: the client's words (FLOWS.md §8.4).
    browser.goto(&shop.url("/other.html")).await;
    browser
        .wait_for_text("#result", "requestMerchantTransfer:fail", 10)
        .await;
    browser
        .wait_for_text("#desc", "你的微信号与商家指定的微信号不一致", 10)
        .await;
    assert_eq!(state(&server, "PAGE3"), "WAIT_USER_CONFIRM");

    // The payee closes the page: :cancel, the bill still waits, nothing sent.
    browser.goto(&shop.url("/closed.html")).await;
    let close = browser.find("#wxpay-mock-decline").await;
    browser.click(&close).await;
    browser
        .wait_for_text("#result", "requestMerchantTransfer:cancel", 10)
        .await;
    assert_eq!(state(&server, "PAGE4"), "WAIT_USER_CONFIRM");
    assert!(heard.try_recv().is_err(), "only PAGE1 was notified");
}
