//! The mock's pages in a real browser: headless Chromium over WebDriver
//! (`common/browser.rs`). Needs Debian's `chromium` and `chromium-driver`
//! (and `zbar-tools` to read the QR code back), which `.ci/run` installs;
//! without them each browser test is skipped with a line on stderr saying
//! what to install, unless `WECHATPAY_REQUIRE_BROWSER=1` (CI) makes that a
//! failure.
//! `WECHATPAY_UPDATE_SCREENSHOT=1` also writes `docs/img/console.png`.

#[path = "common/browser.rs"]
mod browser;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use browser::Browser;
use tokio::sync::mpsc;
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::{json, notify, Client, Value};

const APPID: &str = "wxd678efh567hg6787";
const MCHID: &str = "1900000109";
const SERVICE_ID: &str = "2002000000000558128851361561536";

/// The merchant's notify_url: verifies with the SDK's helper, answers 204,
/// and passes on each verified notification's event type and resource.
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

async fn create_order(client: &Client, no: &str, notify_url: &str) {
    client["v3/payscore/serviceorder"]
        .post(json!({"json": {
            "out_order_no": no, "appid": APPID, "service_id": SERVICE_ID,
            "service_introduction": "某某酒店", "time_range": {"start_time": "OnAccept"},
            "risk_fund": {"name": "DEPOSIT", "amount": 50000}, "notify_url": notify_url,
        }}))
        .await
        .unwrap();
}

async fn complete_order(client: &Client, no: &str) {
    client["v3/payscore/serviceorder/{out_order_no}/complete"]
        .post(json!({"out_order_no": no, "json": {
            "appid": APPID, "service_id": SERVICE_ID,
            "post_payments": [{"name": "就餐费用", "amount": 39900}], "total_amount": 39900,
        }}))
        .await
        .unwrap();
}

/// A payment order placed through the SDK: `kind` is `native`, `h5` or
/// `jsapi`; returns what create answered (`code_url`, `h5_url`, `prepay_id`).
async fn place_order(client: &Client, kind: &str, no: &str, total: i64, notify_url: &str) -> Value {
    let mut body = json!({"appid": APPID, "mchid": MCHID, "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": no, "notify_url": notify_url, "amount": {"total": total, "currency": "CNY"}});
    match kind {
        "jsapi" => body["payer"] = json!({"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}),
        "h5" => {
            body["scene_info"] =
                json!({"payer_client_ip": "14.23.150.211", "h5_info": {"type": "Wap"}})
        }
        _ => {}
    }
    client[format!("v3/pay/transactions/{kind}").as_str()]
        .post(json!({ "json": body }))
        .await
        .unwrap()
        .json()
        .unwrap()
}

async fn refund(
    client: &Client,
    no: &str,
    refund_no: &str,
    amount: i64,
    total: i64,
    notify_url: &str,
) {
    let refund: Value = client["v3/refund/domestic/refunds"]
        .post(json!({"json": {"out_trade_no": no, "out_refund_no": refund_no, "notify_url": notify_url,
            "amount": {"refund": amount, "total": total, "currency": "CNY"}}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(refund["status"], "PROCESSING");
}

fn trade_state(server: &MockServer, no: &str) -> String {
    server
        .transactions()
        .iter()
        .find(|o| o["out_trade_no"] == no)
        .and_then(|o| o["trade_state"].as_str())
        .unwrap_or_default()
        .to_owned()
}

async fn next_event(heard: &mut mpsc::UnboundedReceiver<(String, Value)>) -> (String, Value) {
    tokio::time::timeout(Duration::from_secs(10), heard.recv())
        .await
        .expect("a notification within 10 s")
        .expect("the merchant is running")
}

/// The row of `table` (a section id) whose text names `no`, once the page
/// holds still long enough to read it.
async fn row_text(browser: &Browser, table: &str, no: &str) -> String {
    loop {
        if let Some(rows) = browser.texts(&format!("#{table} tbody tr")).await {
            return rows
                .into_iter()
                .find(|r| r.contains(no))
                .unwrap_or_default();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_row(browser: &Browser, table: &str, no: &str, needle: &str) -> String {
    for _ in 0..100 {
        let text = row_text(browser, table, no).await;
        if text.contains(needle) {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the {table} row of {no} never showed {needle:?}: {:?}",
        row_text(browser, table, no).await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_actions_move_payscore_orders_and_the_merchant_hears_of_it() {
    let Some(browser) = Browser::start(
        "console_actions_move_payscore_orders_and_the_merchant_hears_of_it",
        true,
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    create_order(&client, "CONSOLE-1", &notify_url).await;
    create_order(&client, "CONSOLE-2", &notify_url).await;

    browser.goto(&format!("{}_mock/", server.base_url())).await;
    let row = wait_for_row(&browser, "payscore", "CONSOLE-1", "CREATED").await;
    assert!(row.contains("¥500.00"), "the risk fund in yuan: {row}");

    // confirm, by mouse: DOING/USER_CONFIRM on the page, and the merchant
    // hears PAYSCORE.USER_CONFIRM, verified and decrypted by the SDK
    let confirm = browser
        .find(r#"[data-action="payscore/CONSOLE-1/confirm"]"#)
        .await;
    browser.click(&confirm).await;
    let (event, order) = next_event(&mut heard).await;
    assert_eq!(event, "PAYSCORE.USER_CONFIRM");
    assert_eq!(
        (order["out_order_no"].as_str(), order["state"].as_str()),
        (Some("CONSOLE-1"), Some("DOING"))
    );
    let row = wait_for_row(&browser, "payscore", "CONSOLE-1", "DOING").await;
    assert!(row.contains("USER_CONFIRM"), "{row}");
    // the notifications table shows the delivery and the merchant's answer
    let delivery = wait_for_row(&browser, "notifications", "CONSOLE-1", "204").await;
    assert!(
        delivery.contains("PAYSCORE.USER_CONFIRM") && delivery.contains("✓"),
        "{delivery}"
    );

    // pay, once the merchant completed the order (through the SDK: the page
    // learns it by its live refresh): DONE, PAYSCORE.USER_PAID
    complete_order(&client, "CONSOLE-1").await;
    wait_for_row(&browser, "payscore", "CONSOLE-1", "USER_PAYING").await;
    let pay = browser
        .find(r#"[data-action="payscore/CONSOLE-1/pay"]"#)
        .await;
    browser.click(&pay).await;
    let (event, order) = next_event(&mut heard).await;
    assert_eq!(event, "PAYSCORE.USER_PAID");
    assert_eq!(order["collection"]["state"], "USER_PAID");
    wait_for_row(&browser, "payscore", "CONSOLE-1", "DONE").await;

    // expire, by keyboard alone: Tab until the button has the focus, Enter
    let target = "payscore/CONSOLE-2/expire";
    let mut reached = false;
    for _ in 0..40 {
        let active = browser.active().await;
        if browser.attribute(&active, "data-action").await.as_deref() == Some(target) {
            browser.send_keys(&active, "\u{E007}").await;
            reached = true;
            break;
        }
        browser.send_keys(&active, "\u{E004}").await;
    }
    assert!(reached, "Tab never reached the expire button");
    wait_for_row(&browser, "payscore", "CONSOLE-2", "EXPIRED").await;
    assert_eq!(server.notifications().len(), 2, "expiring sends nothing");

    // the Live button pauses the refresh, and resumes it
    let live = browser.find("#live").await;
    browser.click(&live).await;
    assert_eq!(
        browser.attribute(&live, "aria-pressed").await.as_deref(),
        Some("false")
    );
    create_order(&client, "CONSOLE-4", &notify_url).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        row_text(&browser, "payscore", "CONSOLE-4").await,
        "",
        "paused"
    );
    browser.click(&live).await;
    wait_for_row(&browser, "payscore", "CONSOLE-4", "CREATED").await;

    // a refused action says why on the page
    browser
        .execute(
            "var f=document.createElement('form');f.method='post';f.action='/_mock/payscore/NOPE/confirm';\
             f.setAttribute('data-fetch','');var b=document.createElement('button');f.appendChild(b);\
             document.body.appendChild(f);b.click();",
            json!([]),
        )
        .await;
    browser
        .wait_for_text("#status", "ORDER_NOT_EXIST", 10)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_actions_pay_an_order_end_its_refund_and_resend_and_the_merchant_hears_each() {
    let Some(browser) = Browser::start(
        "console_actions_pay_an_order_end_its_refund_and_resend_and_the_merchant_hears_each",
        true,
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    place_order(&client, "native", "ORDER-PAY-1", 100, &notify_url).await;

    browser.goto(&format!("{}_mock/", server.base_url())).await;
    let row = wait_for_row(&browser, "payments", "ORDER-PAY-1", "NOTPAY").await;
    assert!(row.contains("NATIVE") && row.contains("¥1.00"), "{row}");

    // pay, by mouse: the merchant's endpoint hears TRANSACTION.SUCCESS,
    // verified and decrypted by the SDK, and the row turns SUCCESS
    let pay = browser
        .find(r#"[data-action="transactions/ORDER-PAY-1/pay"]"#)
        .await;
    browser.click(&pay).await;
    let (event, order) = next_event(&mut heard).await;
    assert_eq!(event, "TRANSACTION.SUCCESS");
    assert_eq!(
        (
            order["out_trade_no"].as_str(),
            order["trade_state"].as_str()
        ),
        (Some("ORDER-PAY-1"), Some("SUCCESS"))
    );
    let row = wait_for_row(&browser, "payments", "ORDER-PAY-1", "SUCCESS").await;
    assert!(
        row.contains(order["transaction_id"].as_str().unwrap()),
        "{row}"
    );

    // a refund through the SDK shows PROCESSING; "succeed" ends it
    refund(&client, "ORDER-PAY-1", "REFUND-1", 40, 100, &notify_url).await;
    let row = wait_for_row(&browser, "refunds", "REFUND-1", "PROCESSING").await;
    assert!(row.contains("¥0.40") && row.contains("¥1.00"), "{row}");
    let succeed = browser
        .find(r#"[data-action="refunds/REFUND-1/succeed"]"#)
        .await;
    browser.click(&succeed).await;
    let (event, ended) = next_event(&mut heard).await;
    assert_eq!(event, "REFUND.SUCCESS");
    assert_eq!(ended["refund_status"], "SUCCESS");
    wait_for_row(&browser, "refunds", "REFUND-1", "SUCCESS").await;

    // resend the payment's notification: the merchant hears it again
    wait_for_row(&browser, "notifications", "ORDER-PAY-1", "204").await;
    let seq = server.notifications()[0].seq;
    let resend = browser
        .find(&format!(r#"[data-action="notifications/{seq}/resend"]"#))
        .await;
    browser.click(&resend).await;
    let (event, again) = next_event(&mut heard).await;
    assert_eq!(event, "TRANSACTION.SUCCESS");
    assert_eq!(again["transaction_id"], order["transaction_id"]);
    browser.wait_for_text("#status", "OK", 10).await;

    if std::env::var("WECHATPAY_UPDATE_SCREENSHOT").as_deref() == Ok("1") {
        place_order(&client, "h5", "ORDER-H5-2", 1, &notify_url).await;
        refund(&client, "ORDER-PAY-1", "REFUND-2", 10, 100, &notify_url).await;
        create_order(&client, "CONSOLE-3", &notify_url).await;
        let _ = reqwest::Client::new()
            .post(format!("{}v3/pay/transactions/native", server.base_url()))
            .header("Accept", "application/json")
            .header("User-Agent", "a-hand-made-request")
            .header("Authorization", format!(r#"WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="n0nce",signature="AAAA",timestamp="{}",serial_no="3775B6A45ACD588826D15E583A95F5DD2A00B0D8""#, now()))
            .body(r#"{"out_trade_no":"T2"}"#)
            .send()
            .await;
        browser.goto(&format!("{}_mock/", server.base_url())).await;
        wait_for_row(&browser, "payments", "ORDER-H5-2", "NOTPAY").await;
        browser.resize(1400, 1500).await;
        let png = browser.screenshot().await;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img/console.png");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, png).unwrap();
        eprintln!("wrote {}", path.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reads_with_javascript_off_and_shows_no_key() {
    let Some(browser) = Browser::start(
        "the_console_reads_with_javascript_off_and_shows_no_key",
        false,
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    create_order(&client, "NOJS-1", "http://127.0.0.1:9/notify").await;
    // a request whose signature does not verify: the console shows the
    // message the mock verified against, as WeChat Pay defines it
    let body = r#"{"out_trade_no":"T2"}"#;
    let refused = reqwest::Client::new()
        .post(format!("{}v3/pay/transactions/native", server.base_url()))
        .header("Accept", "application/json")
        .header("User-Agent", "a-hand-made-request")
        .header("Content-Type", "application/json")
        .header("Authorization", format!(r#"WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="n0nce",signature="AAAA",timestamp="{}",serial_no="3775B6A45ACD588826D15E583A95F5DD2A00B0D8""#, now()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    browser.goto(&format!("{}_mock/", server.base_url())).await;
    let row = row_text(&browser, "payscore", "NOJS-1").await;
    assert!(
        row.contains("CREATED"),
        "server-rendered without JavaScript: {row:?}"
    );
    let request = row_text(&browser, "requests", "/v3/pay/transactions/native").await;
    assert!(
        request.contains("401") && request.contains("refused"),
        "{request}"
    );
    // the live toggle is the script's: it stays hidden with scripts off
    let toggle = browser.find("#live").await;
    assert_eq!(browser.text(&toggle).await, "");

    let html = reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let message = format!(
        "POST\n/v3/pay/transactions/native\n{}\nn0nce\n{}\n",
        now_of(&html),
        body
    );
    let escaped = message.replace('"', "&quot;");
    assert!(
        html.contains(&escaped),
        "the reconstructed message {message:?} in {html}"
    );
    let credentials = Credentials::get();
    for secret in [credentials.apiv3_key, credentials.apiv2_key] {
        assert!(!html.contains(secret), "a key on the console");
    }
    let key_line = credentials.merchant_private_key.lines().nth(1).unwrap();
    assert!(!html.contains(key_line), "the private key on the console");

    // a row button works without JavaScript too: the control's answer shows
    let confirm = browser
        .find(r#"[data-action="payscore/NOJS-1/confirm"]"#)
        .await;
    browser.click(&confirm).await;
    let answer = browser.wait_for_text("body", "DOING", 10).await;
    assert!(answer.contains("\"out_order_no\":\"NOJS-1\""), "{answer}");
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The timestamp the test signed with, as found in the page (the test may
/// have crossed a second between signing and reading).
fn now_of(html: &str) -> String {
    let start = html
        .find("/v3/pay/transactions/native\n")
        .map(|i| i + "/v3/pay/transactions/native\n".len())
        .unwrap_or(0);
    html[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_orders_qr_code_decodes_to_its_code_url_and_scan_and_pay_pays() {
    let Some(browser) = Browser::start_needing(
        "a_native_orders_qr_code_decodes_to_its_code_url_and_scan_and_pay_pays",
        true,
        &["zbarimg"],
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    let created = place_order(&client, "native", "NATIVE-1", 1, &notify_url).await;
    let code_url = created["code_url"].as_str().unwrap();
    // the shape WeChat Pay answers: weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00
    assert!(
        code_url.starts_with("weixin://wxpay/bizpayurl/up?pr=")
            && code_url.ends_with("&groupid=00"),
        "{code_url}"
    );
    let query: String = url::form_urlencoded::byte_serialize(code_url.as_bytes()).collect();
    browser
        .goto(&format!(
            "{}_mock/cashier/native?code_url={query}",
            server.base_url()
        ))
        .await;
    let amount = browser.find("#amount").await;
    assert_eq!(browser.text(&amount).await, "¥0.01");
    let shown = browser.find("#code-url").await;
    assert_eq!(browser.text(&shown).await, code_url);
    let svg = browser.find("#qr svg").await;
    assert_eq!(
        browser.attribute(&svg, "aria-label").await.as_deref(),
        Some("QR code")
    );

    // zbarimg (not ours) reads the code back from Chromium's rendering
    let png = browser.element_screenshot(&svg).await;
    let file = std::env::temp_dir().join(format!("wxpay-qr-{}.png", std::process::id()));
    std::fs::write(&file, png).unwrap();
    let read = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("zbarimg: {e}: {}", browser::INSTALL));
    let _ = std::fs::remove_file(&file);
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim_end(), code_url);

    // "scan and pay": the pay control, TRANSACTION.SUCCESS to the merchant
    let pay = browser.find("#pay").await;
    browser.click(&pay).await;
    let (event, order) = next_event(&mut heard).await;
    assert_eq!(
        (
            event.as_str(),
            order["out_trade_no"].as_str(),
            order["trade_type"].as_str()
        ),
        ("TRANSACTION.SUCCESS", Some("NATIVE-1"), Some("NATIVE"))
    );
    browser.wait_for_text("#trade-state", "SUCCESS", 10).await;
    assert!(
        browser.find_all("#pay").await.is_empty(),
        "paid: no pay button"
    );

    // the bare SVG, and a clear refusal without text
    let svg = reqwest::get(format!("{}_mock/qr.svg?text={query}", server.base_url()))
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    // a bare code_url (no order of the mock's): its QR code, nothing to pay
    let bare = reqwest::get(format!("{}_mock/qr?text={query}", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        bare.contains(r#"<svg role="img""#) && !bare.contains(r#"id="pay""#),
        "{bare}"
    );
    let empty = reqwest::get(format!("{}_mock/qr.svg", server.base_url()))
        .await
        .unwrap();
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("?text="));
}

/// A merchant's JSAPI page as WeChat's documentation writes it: it waits for
/// `WeixinJSBridgeReady` and calls `getBrandWCPayRequest` with `params`.
fn merchant_page(mock: &str, api: &str, params: &Value) -> String {
    format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><script>
function onBridgeReady() {{
  WeixinJSBridge.invoke('{api}', {params}, function (res) {{
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_page_pays_through_the_bridge_stand_in_with_the_sdks_parameters() {
    let Some(browser) = Browser::start(
        "a_merchant_page_pays_through_the_bridge_stand_in_with_the_sdks_parameters",
        true,
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    let mut params = Vec::new();
    for no in ["JSAPI-1", "JSAPI-2"] {
        let created = place_order(&client, "jsapi", no, 1, &notify_url).await;
        let built = client
            .invocation()
            .jsapi_from_answer(APPID, &created)
            .unwrap();
        params.push(serde_json::to_value(&built).unwrap());
    }
    // the second page's paySign altered in one character
    let sign = params[1]["paySign"].as_str().unwrap().to_owned();
    let flipped = if sign.starts_with('A') { "B" } else { "A" };
    params[1]["paySign"] = json!(format!("{flipped}{}", &sign[1..]));

    // the merchant's pages live on another origin (the bridge asks the mock
    // across origins, as a page on the merchant's domain would)
    let shop = httpmock::MockServer::start_async().await;
    for (path, api, params) in [
        ("/pay.html", "getBrandWCPayRequest", &params[0]),
        ("/tampered.html", "getBrandWCPayRequest", &params[1]),
        ("/other.html", "editAddress", &params[0]),
    ] {
        let html = merchant_page(server.base_url(), api, params);
        shop.mock_async(|when, then| {
            when.method(httpmock::Method::GET).path(path);
            then.status(200)
                .header("content-type", "text/html; charset=utf-8")
                .body(html);
        })
        .await;
    }

    // genuine: the sheet shows the amount, "pay" pays, the page hears :ok
    browser.goto(&shop.url("/pay.html")).await;
    let amount = browser.find("#wxpay-mock-amount").await;
    assert_eq!(browser.text(&amount).await, "¥0.01");
    let pay = browser.find("#wxpay-mock-pay").await;
    browser.click(&pay).await;
    browser
        .wait_for_text("#result", "get_brand_wcpay_request:ok", 10)
        .await;
    let (event, order) = next_event(&mut heard).await;
    assert_eq!(
        (
            event.as_str(),
            order["out_trade_no"].as_str(),
            order["trade_type"].as_str()
        ),
        ("TRANSACTION.SUCCESS", Some("JSAPI-1"), Some("JSAPI"))
    );

    // tampered paySign: the mock refuses as the WeChat client does, :fail
    browser.goto(&shop.url("/tampered.html")).await;
    browser
        .wait_for_text("#result", "get_brand_wcpay_request:fail", 10)
        .await;
    let desc = browser.wait_for_text("#desc", "SIGN_ERROR", 10).await;
    assert!(desc.contains("支付验证签名失败"), "{desc}");
    assert_eq!(trade_state(&server, "JSAPI-2"), "NOTPAY");
    assert!(browser.find_all("#wxpay-mock-sheet").await.is_empty());

    // an API the stand-in does not simulate fails as WeChat names it
    browser.goto(&shop.url("/other.html")).await;
    browser
        .wait_for_text("#result", "editAddress:fail", 10)
        .await;
    // genuine: looks + pays; tampered: looks, refused; other: nothing
    assert_eq!(server.hits("POST", "/_mock/invocations"), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_h5_cashier_pays_and_goes_back_to_the_redirect_url() {
    let Some(browser) = Browser::start(
        "the_h5_cashier_pays_and_goes_back_to_the_redirect_url",
        true,
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    let created = place_order(&client, "h5", "ORDER-H5-1", 1, &notify_url).await;
    let h5_url = created["h5_url"].as_str().unwrap();
    let shop = httpmock::MockServer::start_async().await;
    let back = shop
        .mock_async(|when, then| {
            when.method(httpmock::Method::GET)
                .path("/result")
                .query_param("order", "ORDER-H5-1");
            then.status(200)
                .header("content-type", "text/html; charset=utf-8")
                .body("<!doctype html><p id=shop>back at the shop</p>");
        })
        .await;
    // WeChat's H5 rule: the merchant appends &redirect_url=<URL-encoded>
    let redirect = shop.url("/result?order=ORDER-H5-1");
    let encoded: String = url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect();
    browser
        .goto(&format!("{h5_url}&redirect_url={encoded}"))
        .await;
    let amount = browser.find("#amount").await;
    assert_eq!(browser.text(&amount).await, "¥0.01");
    browser
        .wait_for_text("#description", "Image形象店-深圳腾大-QQ公仔", 10)
        .await;
    let pay = browser.find("#pay").await;
    browser.click(&pay).await;
    browser.wait_for_text("#shop", "back at the shop", 10).await;
    back.assert_async().await;
    let (event, order) = next_event(&mut heard).await;
    assert_eq!(
        (
            event.as_str(),
            order["out_trade_no"].as_str(),
            order["trade_type"].as_str()
        ),
        ("TRANSACTION.SUCCESS", Some("ORDER-H5-1"), Some("MWEB"))
    );
}

#[tokio::test]
async fn pages_are_served_with_a_policy_that_allows_no_foreign_script() {
    let server = MockServer::start().await.unwrap();
    let page = reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-store");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<script src="/_mock/console.js" defer></script>"#));
    assert!(!html.contains("<script>"), "no inline script");
    for (asset, kind) in [
        ("console.css", "text/css; charset=utf-8"),
        ("console.js", "text/javascript; charset=utf-8"),
    ] {
        let answer = reqwest::get(format!("{}_mock/{asset}", server.base_url()))
            .await
            .unwrap();
        assert_eq!(
            (
                answer.status().as_u16(),
                answer.headers()["content-type"].to_str().unwrap()
            ),
            (200, kind)
        );
    }
    let english = reqwest::get(format!("{}_mock/console?lang=en", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains(r#"<html lang="en" data-show="en">"#));
}

#[tokio::test]
async fn controls_and_pages_answer_only_under_a_loopback_host() {
    let server = MockServer::start().await.unwrap();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    // a page elsewhere reaching the mock through a DNS name rebound to
    // 127.0.0.1 sends its own name as Host: refused, for pages and controls
    for (method, path) in [
        ("GET", "_mock/"),
        ("POST", "_mock/payscore/N1/confirm"),
        ("GET", "_mock/requests"),
    ] {
        let url = format!("{}{path}", server.base_url());
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let refused = http
            .request(method.clone(), &url)
            .header("Host", "rebound.example")
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 403, "{method} {path}");
        assert!(refused.text().await.unwrap().contains("loopback"));
        let local = http
            .request(method.clone(), &url)
            .header("Host", "localhost")
            .send()
            .await
            .unwrap();
        assert_ne!(local.status(), 403, "{method} {path} from localhost");
    }
    // the WeChat Pay API itself is not a control: any Host reaches it
    let api = http
        .get(format!("{}v3/certificates", server.base_url()))
        .header("Host", "api.mch.weixin.qq.com")
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.status(),
        400,
        "refused for its missing signature, not for its Host"
    );
}

#[tokio::test]
async fn a_delivery_keeps_the_merchants_last_answer_for_the_console() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let shop = httpmock::MockServer::start_async().await;
    shop.mock_async(|when, then| {
        when.method(httpmock::Method::POST).path("/notify");
        then.status(500)
            .body(r#"{"code":"FAIL","message":"数据库忙"}"#);
    })
    .await;
    create_order(&client, "ANSWER-1", &shop.url("/notify")).await;
    server.user_confirms("ANSWER-1", None).unwrap();
    let mut answer = None;
    for _ in 0..100 {
        answer = server.notifications()[0]
            .answers
            .last()
            .map(|a| format!("{} {}", a.status.unwrap_or_default(), a.answer));
        if answer.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        answer.as_deref(),
        Some(r#"500 {"code":"FAIL","message":"数据库忙"}"#)
    );
    let html = reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(
            "500 {&quot;code&quot;:&quot;FAIL&quot;,&quot;message&quot;:&quot;数据库忙&quot;}"
        ),
        "{html}"
    );
}

const SUB_MCHID: &str = "1900000110";

/// What the console's buttons post to (forms) and open (links), as written
/// in the page (`&amp;` read back).
fn console_targets(html: &str, opening: &str) -> Vec<String> {
    html.split(opening)
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|target| target.replace("&amp;", "&"))
        .collect()
}

async fn console_html(server: &MockServer) -> String {
    reqwest::get(format!("{}_mock/", server.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn refund_status(server: &MockServer, no: &str) -> String {
    server
        .refunds()
        .iter()
        .find(|r| r["out_refund_no"] == no)
        .and_then(|r| r["status"].as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The buttons a browser adds nothing to: each is found in the console's
/// HTML, posted as a form without JavaScript would post it, and does what
/// its label says (pay, fail and expire; a partner order's with its
/// `?sub_mchid=`; a refund's abnormal and close; the cashier links).
#[tokio::test]
async fn every_button_on_the_console_does_what_it_says() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, _heard) = merchant(client.clone()).await;
    place_order(&client, "native", "ORDER-FAIL-1", 1, &notify_url).await;
    place_order(&client, "native", "ORDER-EXPIRE-1", 1, &notify_url).await;
    let h5 = place_order(&client, "h5", "ORDER-H5-9", 1, &notify_url).await;
    place_order(&client, "jsapi", "ORDER-PAID-1", 100, &notify_url).await;
    server.pay_transaction("ORDER-PAID-1", None).unwrap();
    refund(
        &client,
        "ORDER-PAID-1",
        "REFUND-ABNORMAL-1",
        10,
        100,
        &notify_url,
    )
    .await;
    refund(
        &client,
        "ORDER-PAID-1",
        "REFUND-CLOSE-1",
        10,
        100,
        &notify_url,
    )
    .await;
    client["v3/pay/partner/transactions/native"]
        .post(
            json!({"json": {"sp_appid": APPID, "sp_mchid": MCHID, "sub_mchid": SUB_MCHID,
            "description": "d", "out_trade_no": "ORDER-PARTNER-1", "notify_url": notify_url,
            "amount": {"total": 88}}}),
        )
        .await
        .unwrap();

    let html = console_html(&server).await;
    let forms = console_targets(&html, r#"<form method="post" action=""#);
    let wanted = [
        "/_mock/transactions/ORDER-FAIL-1/fail",
        "/_mock/transactions/ORDER-EXPIRE-1/expire",
        "/_mock/transactions/ORDER-PARTNER-1/pay?sub_mchid=1900000110",
        "/_mock/refunds/REFUND-ABNORMAL-1/abnormal",
        "/_mock/refunds/REFUND-CLOSE-1/close",
    ];
    for target in wanted {
        assert!(forms.iter().any(|f| f == target), "{target} in {forms:?}");
    }
    assert!(
        !forms.iter().any(|f| f.contains("/ORDER-PAID-1/")),
        "a paid order offers no pay, fail or expire: {forms:?}"
    );
    let http = reqwest::Client::new();
    for target in wanted {
        // a form's POST: urlencoded, empty
        let answer = http
            .post(format!("{}{}", server.base_url(), &target[1..]))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{target}: {:?}", answer.text().await);
    }
    assert_eq!(
        trade_state(&server, "ORDER-FAIL-1"),
        "NOTPAY",
        "a failed attempt leaves it payable"
    );
    assert_eq!(trade_state(&server, "ORDER-EXPIRE-1"), "CLOSED");
    assert_eq!(trade_state(&server, "ORDER-PARTNER-1"), "SUCCESS");
    assert_eq!(refund_status(&server, "REFUND-ABNORMAL-1"), "ABNORMAL");
    assert_eq!(refund_status(&server, "REFUND-CLOSE-1"), "CLOSED");
    // the ended rows offer nothing more
    let forms = console_targets(
        &console_html(&server).await,
        r#"<form method="post" action=""#,
    );
    for gone in [
        "ORDER-EXPIRE-1",
        "ORDER-PARTNER-1",
        "REFUND-ABNORMAL-1",
        "REFUND-CLOSE-1",
    ] {
        assert!(!forms.iter().any(|f| f.contains(gone)), "{gone}: {forms:?}");
    }
    assert!(forms
        .iter()
        .any(|f| f == "/_mock/transactions/ORDER-FAIL-1/pay"));

    // the cashier links of an H5 and a Native row open their order's page
    let links = console_targets(&html, r#"<a class="button" href=""#);
    let prepay_id = h5["h5_url"]
        .as_str()
        .and_then(|u| u.split("prepay_id=").nth(1))
        .and_then(|rest| rest.split('&').next())
        .unwrap();
    for (link, no) in [
        (
            format!("/_mock/cashier/h5?prepay_id={prepay_id}"),
            "ORDER-H5-9",
        ),
        (
            "/_mock/cashier/native?out_trade_no=ORDER-FAIL-1".to_owned(),
            "ORDER-FAIL-1",
        ),
    ] {
        assert!(links.contains(&link), "{link} in {links:?}");
        let page = reqwest::get(format!("{}{}", server.base_url(), &link[1..]))
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{link}");
        let page = page.text().await.unwrap();
        assert!(
            page.contains(&format!(r#"<code id="out-trade-no">{no}</code>"#)),
            "{page}"
        );
        assert!(page.contains(r#"id="pay""#));
    }
}

/// A cashier page names no order it cannot find, and says why.
#[tokio::test]
async fn the_cashier_pages_refuse_what_names_no_order_of_theirs() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let h5 = place_order(&client, "h5", "ORDER-H5-7", 1, "http://127.0.0.1:9/n").await;
    let jsapi = place_order(&client, "jsapi", "ORDER-JSAPI-7", 1, "http://127.0.0.1:9/n").await;
    let h5_url = h5["h5_url"].as_str().unwrap();
    // the h5_url itself opens (amount and description on the server's page)
    let page = reqwest::get(h5_url).await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("¥0.01") && page.contains("Image形象店-深圳腾大-QQ公仔"),
        "{page}"
    );
    let base = format!("{}_mock/cashier/", server.base_url());
    let jsapi_prepay = jsapi["prepay_id"].as_str().unwrap();
    for (url, why) in [
        (format!("{base}h5"), "no prepay_id"),
        (format!("{base}h5?prepay_id=wx00000000000000000000000000000000"), "no order has prepay_id"),
        (format!("{base}h5?prepay_id={jsapi_prepay}"), "pays H5 (MWEB) orders"),
        (format!("{}X", h5_url.replace("package=", "package=Z")), "does not go with"),
        (format!("{base}native"), "name the order"),
        (format!("{base}native?code_url=https%3A%2F%2Fexample.com%2F"), "is not a code_url"),
        (
            format!("{base}native?code_url=weixin%3A%2F%2Fwxpay%2Fbizpayurl%2Fup%3Fpr%3DNwY5Mz9%26groupid%3D00"),
            "no Native order has code_url",
        ),
        (format!("{base}native?out_trade_no=ORDER-H5-7"), "only a Native order"),
        (format!("{base}native?out_trade_no=ORDER-NONE-7"), "needs ?sub_mchid="),
    ] {
        let answer = reqwest::get(&url).await.unwrap();
        assert_eq!(answer.status(), 404, "{url}");
        let text = answer.text().await.unwrap();
        assert!(text.contains(why), "{url}: {why:?} in {text}");
    }
}

/// `POST /_mock/invocations`, the bridge stand-in's side, over HTTP: the
/// cross-origin answers, the checks, one payment for one "pays".
#[tokio::test]
async fn the_invocations_endpoint_checks_answers_across_origins_and_pays_once() {
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    let created = place_order(&client, "jsapi", "ORDER-BRIDGE-1", 1, &notify_url).await;
    let params = serde_json::to_value(
        client
            .invocation()
            .jsapi_from_answer(APPID, &created)
            .unwrap(),
    )
    .unwrap();
    let url = format!("{}_mock/invocations", server.base_url());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let ask = |body: Value, host: Option<&'static str>| {
        let mut request = http
            .post(&url)
            .header("content-type", "text/plain;charset=UTF-8")
            .header("origin", "http://shop.example")
            .body(body.to_string());
        if let Some(host) = host {
            request = request.header("host", host);
        }
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let origin = answer
                .headers()
                .get("access-control-allow-origin")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value =
                serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap_or_default();
            (status, origin, body)
        }
    };
    let looks = json!({"api": "getBrandWCPayRequest", "params": params, "user": "looks"});
    let (status, origin, body) = ask(looks.clone(), None).await;
    assert_eq!((status, origin.as_deref()), (200, Some("*")), "{body}");
    assert_eq!(body["order"]["amount"]["total"], 1);
    assert_eq!(body["order"]["description"], "Image形象店-深圳腾大-QQ公仔");
    assert_eq!(
        trade_state(&server, "ORDER-BRIDGE-1"),
        "NOTPAY",
        "looking pays nothing"
    );

    // behind the loopback guard like every control
    let (status, _, _) = ask(looks.clone(), Some("rebound.example")).await;
    assert_eq!(status, 403);
    // a preflight, should a page send JSON
    let preflight = http
        .request(reqwest::Method::OPTIONS, &url)
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");

    // refusals, readable across origins too
    let mut tampered = params.clone();
    tampered["nonceStr"] = json!("another-nonce");
    let unknown = serde_json::to_value(
        client
            .invocation()
            .jsapi(APPID, "wx201410272009395522657a690389285100")
            .unwrap(),
    )
    .unwrap();
    for (body, code) in [
        (
            json!({"api": "getBrandWCPayRequest", "params": tampered, "user": "pays"}),
            "SIGN_ERROR",
        ),
        (
            json!({"api": "getBrandWCPayRequest", "params": unknown, "user": "looks"}),
            "INVALID_REQUEST",
        ),
        (
            json!({"api": "chooseWXPay", "params": params, "user": "looks"}),
            "PARAM_ERROR",
        ),
        (
            json!({"api": "getBrandWCPayRequest", "params": params, "user": "stares"}),
            "PARAM_ERROR",
        ),
    ] {
        let (status, origin, answer) = ask(body.clone(), None).await;
        assert_eq!(
            (status, origin.as_deref()),
            (400, Some("*")),
            "{body}: {answer}"
        );
        assert_eq!(answer["code"], code, "{answer}");
    }
    assert_eq!(trade_state(&server, "ORDER-BRIDGE-1"), "NOTPAY");

    // pays: TRANSACTION.SUCCESS; a second "pays" or "looks" is refused
    let pays = json!({"api": "getBrandWCPayRequest", "params": params, "user": "pays"});
    let (status, _, body) = ask(pays.clone(), None).await;
    assert_eq!(
        (status, body["order"]["trade_state"].as_str()),
        (200, Some("SUCCESS"))
    );
    let (event, order) = next_event(&mut heard).await;
    assert_eq!(
        (event.as_str(), order["out_trade_no"].as_str()),
        ("TRANSACTION.SUCCESS", Some("ORDER-BRIDGE-1"))
    );
    for again in [pays, looks] {
        let (status, _, body) = ask(again, None).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (409, Some("INVALID_ORDER_STATE")),
            "{body}"
        );
    }
}

/// `?lang=en` keeps the way back to Chinese visible and writes the status
/// line in English: the button's English label, the refusal's English part
/// (issue 27, point 9).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_english_console_keeps_the_chinese_link_and_speaks_english() {
    let Some(browser) = Browser::start(
        "the_english_console_keeps_the_chinese_link_and_speaks_english",
        true,
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    place_order(
        &client,
        "native",
        "ORDER-EN-1",
        100,
        "http://127.0.0.1:9/notify",
    )
    .await;

    browser
        .goto(&format!("{}_mock/?lang=en", server.base_url()))
        .await;
    let chinese = browser.find(r#"nav a[lang="zh"]"#).await;
    assert_eq!(browser.text(&chinese).await, "中文");
    wait_for_row(&browser, "payments", "ORDER-EN-1", "NOTPAY").await;
    let pay = browser
        .find(r#"[data-action="transactions/ORDER-EN-1/pay"]"#)
        .await;
    browser.click(&pay).await;
    let status = browser.wait_for_text("#status", "OK", 10).await;
    assert_eq!(status, "OK: Pay");

    // A refusal: its English part only (the mock writes `中文: English`).
    place_order(
        &client,
        "native",
        "ORDER-EN-2",
        100,
        "http://127.0.0.1:9/notify",
    )
    .await;
    browser
        .goto(&format!("{}_mock/?lang=en", server.base_url()))
        .await;
    wait_for_row(&browser, "payments", "ORDER-EN-2", "NOTPAY").await;
    let pay = browser
        .find(r#"[data-action="transactions/ORDER-EN-2/pay"]"#)
        .await;
    // The live refresh replaces the table's nodes: paused, so that the
    // button stays while the order is paid behind the page's back.
    let live = browser.find("#live").await;
    browser.click(&live).await;
    server.pay_transaction("ORDER-EN-2", None).unwrap();
    browser.click(&pay).await;
    let status = browser.wait_for_text("#status", "409", 10).await;
    assert!(
        status.starts_with("409 INVALID_ORDER_STATE cannot pay order ORDER-EN-2"),
        "{status}"
    );

    // `订单不存在: the merchant has no payment order …` reads in English.
    browser
        .execute(
            "var f=document.createElement('form');f.method='post';f.action='/_mock/transactions/NOPE/pay';\
             f.setAttribute('data-fetch','');var b=document.createElement('button');f.appendChild(b);\
             document.body.appendChild(f);b.click();",
            json!([]),
        )
        .await;
    let status = browser.wait_for_text("#status", "404", 10).await;
    assert!(
        status.starts_with("404 ORDER_NOT_EXIST the merchant has no payment order NOPE"),
        "{status}"
    );
    assert!(
        !status
            .chars()
            .any(|c| ('\u{3400}'..='\u{9fff}').contains(&c)),
        "{status}"
    );
}

/// The appid and payee of the transfer bills (OA transfer-bills.yaml examples).
const TRANSFER_APPID: &str = "wxf636efh567hg4356";
const TRANSFER_OPENID: &str = "o-MYE42l80oelYMDE34nYD456Xoy";

// 商家转账 (FLOWS.md §8.4): a merchant's page on another origin calls
// requestMerchantTransfer with the SDK's parameters through the stand-in; the
// payee confirms and the merchant's notify_url hears
// MCHTRANSFER.BILL.FINISHED SUCCESS. A tampered package, another WeChat user
// and a closed page change nothing.

/// A transfer bill (商家转账) of 0.30 元 to the test payee.
async fn create_bill(client: &Client, no: &str, notify_url: &str) -> Value {
    client["v3/fund-app/mch-transfer/transfer-bills"]
        .post(json!({"json": {
            "appid": TRANSFER_APPID, "out_bill_no": no, "transfer_scene_id": "1000", "openid": TRANSFER_OPENID,
            "transfer_amount": 30, "transfer_remark": "新会员开通有礼", "notify_url": notify_url,
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"},
                                            {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}],
        }}))
        .await
        .unwrap()
        .json()
        .unwrap()
}

fn bill_state(server: &MockServer, no: &str) -> String {
    server
        .transfer_bills()
        .iter()
        .find(|b| b["out_bill_no"] == no)
        .and_then(|b| b["state"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_page_opens_a_transfer_confirm_page_and_the_payee_confirms() {
    let Some(browser) = Browser::start(
        "a_merchant_page_opens_a_transfer_confirm_page_and_the_payee_confirms",
        true,
    )
    .await
    else {
        return;
    };
    let server = MockServer::start().await.unwrap();
    let client = server.client().unwrap();
    let (notify_url, mut heard) = merchant(client.clone()).await;
    let mut params = Vec::new();
    for no in ["PAGE1", "PAGE2", "PAGE3", "PAGE4"] {
        let created = create_bill(&client, no, &notify_url).await;
        let page = client
            .invocation()
            .merchant_transfer_from_answer(TRANSFER_APPID, &created)
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
        let html = merchant_page(server.base_url(), "requestMerchantTransfer", &params[i]);
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
    let (event, bill) = next_event(&mut heard).await;
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
    assert_eq!(bill_state(&server, "PAGE2"), "WAIT_USER_CONFIRM");

    // Another WeChat user: the client's words (FLOWS.md §8.4).
    browser.goto(&shop.url("/other.html")).await;
    browser
        .wait_for_text("#result", "requestMerchantTransfer:fail", 10)
        .await;
    browser
        .wait_for_text("#desc", "你的微信号与商家指定的微信号不一致", 10)
        .await;
    assert_eq!(bill_state(&server, "PAGE3"), "WAIT_USER_CONFIRM");

    // The payee closes the page: :cancel, the bill still waits, nothing sent.
    browser.goto(&shop.url("/closed.html")).await;
    let close = browser.find("#wxpay-mock-decline").await;
    browser.click(&close).await;
    browser
        .wait_for_text("#result", "requestMerchantTransfer:cancel", 10)
        .await;
    assert_eq!(bill_state(&server, "PAGE4"), "WAIT_USER_CONFIRM");
    assert!(heard.try_recv().is_err(), "only PAGE1 was notified");
}
