//! 商家转账 (transfer bills with user confirmation) end to end, offline,
//! against the embedded WeChat Pay: create a bill → the front end's
//! `requestMerchantTransfer` parameters → the user confirms → the
//! MCHTRANSFER.BILL.FINISHED notification verified and decrypted → the query
//! says the same; a second bill cancelled (CANCELING → CANCELLED) and a third
//! left to run out its 24 hours (FAIL), each with its notification. Exits
//! non-zero on any mismatch.
//!
//! Run: `cargo run --example transfer` (direct merchant) and
//! `cargo run --example transfer -- --partner` (service provider, 服务商).
//! `cargo run --release --example transfer -- --measure` fills the mock's
//! store twice over and prints how many bills it keeps and its memory.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Response};
use tokio::sync::mpsc;
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{json, notify, Client, Value};

const APPID: &str = "wxf636efh567hg4356";
const SUB_MCHID: &str = "1900000110";
const OPENID: &str = "o-MYE42l80oelYMDE34nYD456Xoy";
const AMOUNT: i64 = 888; // 8.88 yuan

type Failure = Box<dyn std::error::Error>;

/// What the merchant's notification endpoint hands to the business logic.
struct Notice {
    event_type: String,
    resource: Value,
}

/// POST /notify: verify the signature over the raw body, decrypt, answer 204.
async fn receive(
    State((client, seen)): State<(Client, mpsc::UnboundedSender<Notice>)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response<String> {
    let response = match client.notification(&headers, &body) {
        Ok(event) => {
            let resource: Value = event.resource().unwrap_or_default();
            let _ = seen.send(Notice {
                event_type: event.event_type.clone(),
                resource,
            });
            notify::success()
        }
        Err(e) => notify::failure(&e.to_string()),
    };
    response.into()
}

fn check(what: &str, ok: bool, detail: impl std::fmt::Display) -> Result<(), Failure> {
    if ok {
        println!("  ✓ {what}");
        Ok(())
    } else {
        Err(format!("✗ {what}: {detail}").into())
    }
}

async fn next_notice(seen: &mut mpsc::UnboundedReceiver<Notice>) -> Result<Notice, Failure> {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .map_err(|_| "no notification within 10 s")?
        .ok_or_else(|| "the notification endpoint stopped".into())
}

/// The merchant's side of one bill: its paths for a direct merchant or a partner.
struct Merchant {
    client: Client,
    partner: bool,
}

impl Merchant {
    fn create_path(&self) -> &'static str {
        match self.partner {
            true => "v3/fund-app/mch-transfer/partner/transfer-bills",
            false => "v3/fund-app/mch-transfer/transfer-bills",
        }
    }

    async fn create(&self, no: &str, notify_url: &str) -> Result<Value, Failure> {
        let mut body = json!({"appid": APPID, "out_bill_no": no, "transfer_scene_id": "1000",
            "openid": OPENID, "transfer_amount": AMOUNT, "transfer_remark": "新会员开通有礼",
            "notify_url": notify_url, "user_recv_perception": "现金奖励",
            "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"},
                                            {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}]});
        if self.partner {
            body["sub_mchid"] = json!(SUB_MCHID);
        }
        Ok(self.client[self.create_path()]
            .post(json!({ "json": body }))
            .await?
            .json()?)
    }

    async fn query(&self, no: &str) -> Result<Value, Failure> {
        let answer = if self.partner {
            self.client["v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{out_bill_no}"]
                .get(json!({"out_bill_no": no, "query": {"sub_mchid": SUB_MCHID}}))
                .await?
        } else {
            self.client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"]
                .get(json!({ "out_bill_no": no }))
                .await?
        };
        Ok(answer.json()?)
    }

    async fn cancel(&self, no: &str) -> Result<Value, Failure> {
        let answer = if self.partner {
            self.client
                ["v3/fund-app/mch-transfer/partner/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
                .post(json!({"out_bill_no": no, "json": {"sub_mchid": SUB_MCHID}}))
                .await?
        } else {
            self.client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
                .post(json!({ "out_bill_no": no }))
                .await?
        };
        Ok(answer.json()?)
    }

    fn sub(&self) -> Option<&'static str> {
        self.partner.then_some(SUB_MCHID)
    }
}

/// The notification says what the query says (`mchid` there, `mch_id`
/// in a direct merchant's query, `mchid` in a partner's).
fn same_as_query(notice: &Value, queried: &Value) -> Result<(), Failure> {
    for field in [
        "out_bill_no",
        "transfer_bill_no",
        "state",
        "transfer_amount",
        "openid",
        "fail_reason",
        "create_time",
        "update_time",
    ] {
        check(
            &format!("notification and query agree on {field}"),
            notice[field] == queried[field],
            format!("{} vs {}", notice[field], queried[field]),
        )?;
    }
    let queried_mchid = queried
        .get("mch_id")
        .or_else(|| queried.get("mchid"))
        .cloned()
        .unwrap_or_default();
    check(
        "notification mchid is the query's merchant",
        notice["mchid"] == queried_mchid,
        &notice["mchid"],
    )
}

async fn run(partner: bool) -> Result<(), Failure> {
    let server = MockServer::start().await?;
    let merchant = Merchant {
        client: server.client()?,
        partner,
    };
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let app = axum::Router::new()
        .route("/notify", axum::routing::post(receive))
        .with_state((merchant.client.clone(), seen_tx));
    tokio::spawn(async move { axum::serve(listener, app).await });
    println!(
        "商家转账 against {} ({})",
        server.base_url(),
        if partner { "partner" } else { "direct" }
    );

    // 1. The merchant's server creates the bill.
    println!("1. create bill T1");
    let created = merchant.create("T1", &notify_url).await?;
    check(
        "the bill waits for the user (WAIT_USER_CONFIRM)",
        created["state"] == "WAIT_USER_CONFIRM",
        &created,
    )?;
    let bill_no = created["transfer_bill_no"].as_str().unwrap_or_default();
    check(
        "transfer_bill_no has the real format (34 digits, 1330…)",
        bill_no.len() == 34 && bill_no.starts_with("1330"),
        bill_no,
    )?;

    // 2. Its front end gets requestMerchantTransfer's parameters.
    println!("2. front-end parameters");
    let page = merchant
        .client
        .invocation()
        .merchant_transfer_from_answer(APPID, &created)?
        .with_open_id(OPENID);
    let page = serde_json::to_value(&page)?;
    println!("   {page}");
    check(
        "package is the bill's package_info",
        page["package"] == created["package_info"],
        &page,
    )?;
    check(
        "subMchId only for a partner",
        page.get("subMchId").is_some() == partner,
        &page,
    )?;

    // 3. The user confirms on WeChat's page (the mock's control, with the
    //    parameters the page was opened with, checked as WeChat does).
    println!("3. the user confirms");
    let mut confirm = format!("{}_mock/transfer-bills/T1/confirm", server.base_url());
    if partner {
        confirm.push_str(&format!("?sub_mchid={SUB_MCHID}"));
    }
    let answer = reqwest::Client::new()
        .post(confirm)
        .body(json!({ "invocation": page }).to_string())
        .send()
        .await?;
    check(
        "the confirm page accepts the SDK's parameters",
        answer.status() == 200,
        answer.text().await?,
    )?;

    // 4. MCHTRANSFER.BILL.FINISHED, verified and decrypted.
    println!("4. notification");
    let notice = next_notice(&mut seen).await?;
    check(
        "MCHTRANSFER.BILL.FINISHED arrives",
        notice.event_type == "MCHTRANSFER.BILL.FINISHED",
        &notice.event_type,
    )?;
    check(
        "state SUCCESS",
        notice.resource["state"] == "SUCCESS",
        &notice.resource,
    )?;

    // 5. The query says the same.
    println!("5. query");
    same_as_query(&notice.resource, &merchant.query("T1").await?)?;

    // 6. A second bill, cancelled by the merchant.
    println!("6. bill T2, cancelled");
    merchant.create("T2", &notify_url).await?;
    let cancelled = merchant.cancel("T2").await?;
    check(
        "cancel is accepted (CANCELING)",
        cancelled["state"] == "CANCELING" || cancelled["state"] == "CANCELLED",
        &cancelled,
    )?;
    let notice = next_notice(&mut seen).await?;
    check(
        "CANCELLED is notified",
        notice.resource["state"] == "CANCELLED",
        &notice.resource,
    )?;
    same_as_query(&notice.resource, &merchant.query("T2").await?)?;

    // 7. A third bill nobody confirms: its 24 hours pass.
    println!("7. bill T3, never confirmed");
    merchant.create("T3", &notify_url).await?;
    server.expire_transfer("T3", merchant.sub())?;
    let notice = next_notice(&mut seen).await?;
    check(
        "FAIL with a fail_reason is notified",
        notice.resource["state"] == "FAIL" && notice.resource["fail_reason"].is_string(),
        &notice.resource,
    )?;
    same_as_query(&notice.resource, &merchant.query("T3").await?)?;
    println!("all transfer checks passed");
    Ok(())
}

/// Resident memory in MiB (Linux), for the measurement.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Creates twice as many bills as the mock keeps, through the API, and
/// prints the memory at each step.
async fn measure() -> Result<(), Failure> {
    let server = MockServer::start().await?;
    let merchant = Merchant {
        client: server.client()?,
        partner: false,
    };
    let kept = wechatpay_chain::mock::KEPT_TRANSFERS;
    let start = rss_mib();
    let mut after_first = None;
    for i in 0..2 * kept {
        merchant
            .create(&format!("M{i}"), "https://merchant.example/notify")
            .await?;
        if i + 1 == kept {
            after_first = rss_mib();
        }
    }
    let end = rss_mib();
    let held = server.transfer_bills().len();
    let per_bill = match (start, after_first) {
        (Some(a), Some(b)) => Some((b - a) * 1024.0 / kept as f64),
        _ => None,
    };
    println!(
        "{}",
        json!({"kept_transfers": kept, "held_after": held, "created": 2 * kept,
               "rss_start_mib": start, "rss_after_kept_mib": after_first, "rss_end_mib": end,
               "kib_per_bill": per_bill.map(|k| (k * 10.0).round() / 10.0)})
    );
    check("the store is bounded", held == kept, held)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = if args.iter().any(|a| a == "--measure") {
        measure().await
    } else {
        run(args.iter().any(|a| a == "--partner")).await
    };
    if let Err(e) = result {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
