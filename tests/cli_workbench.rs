//! `wxpay mock --dir DIR` keeps its state: a merchant's journey half-way,
//! `kill -9` of the mock while a notification waits for its retry, a new
//! mock on the same directory: every answered order and refund queries as
//! before, the pending notification is delivered, the day's bill
//! reconciles. And the clock and trigger commands of a running mock, and
//! what a profile says once its mock has stopped.
#![cfg(feature = "cli")]

use std::io::BufRead;
use std::process::{Child, Command};

use serde_json::{json, Value};
use wechatpay_chain::clock::{parse_rfc3339, rfc3339};
use wechatpay_chain::download::{BillInfo, BillTable, Compression};
use wechatpay_chain::mock::Credentials;

mod common;
#[path = "common/wxpay.rs"]
mod runner;
use common::flows::{control_at as control, jsapi_order, APPID};
use common::sink::NotifySink;
use runner::wxpay_with as wxpay;

/// Starts `wxpay mock --dir DIR` (port as DIR remembers it, unless
/// `extra` says); its base URL.
fn start(dir: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    command
        .args(["mock", "--quiet", "--dir"])
        .arg(dir)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_owned();
    // Keep reading so that the mock never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

/// The merchant's client of the mock's throwaway keys, APIv3 and APIv2
/// keys included.
fn merchant(base: &str) -> wechatpay_chain::Client {
    let c = Credentials::get();
    wechatpay_chain::Client::builder()
        .apiv3_key(c.apiv3_key)
        .apiv2_key(c.apiv2_key)
        .apiv2_appid(APPID)
        .apiv2_add_mch_id(true)
        .mchid(c.mchid)
        .merchant_serial(c.merchant_serial)
        .private_key_pem(c.merchant_private_key)
        .platform_certificate(c.platform_certificate)
        .platform_public_key(c.platform_public_key_id, c.platform_public_key)
        .base_url(base)
        .build()
        .unwrap()
}

/// A transfer bill's create body (FLOWS.md §8.1 fields).
fn transfer_bill(no: &str, amount: i64, notify_url: Option<&str>) -> Value {
    let mut body = json!({"appid": APPID, "out_bill_no": no, "transfer_scene_id": "1000",
        "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": amount,
        "transfer_remark": "新会员开通有礼",
        "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"},
                                        {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}]});
    if let Some(url) = notify_url {
        body["notify_url"] = json!(url);
    }
    json!({ "json": body })
}

/// An unpaid JSAPI combine order of two sub-orders, `{no}S1` and `{no}S2`
/// (OA jsapi.yaml).
fn combine_order(no: &str) -> Value {
    let mchid = Credentials::get().mchid;
    let sub = |n: u8| {
        json!({"mchid": mchid, "attach": "深圳分店", "out_trade_no": format!("{no}S{n}"),
               "description": "腾讯充值中心-QQ会员充值", "amount": {"total_amount": 100, "currency": "CNY"}})
    };
    json!({"json": {"combine_appid": APPID, "combine_mchid": mchid,
        "combine_out_trade_no": no, "notify_url": "http://127.0.0.1:9/notify",
        "scene_info": {"device_id": "POS1:1", "payer_client_ip": "14.17.22.32"},
        "combine_payer_info": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "sub_orders": [sub(1), sub(2)]}})
}

fn kill9(child: &mut Child) {
    let killed = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_mock_restarts_where_it_stopped() {
    let dir = runner::temp_dir("wxpay-workbench", "restart");
    // Real-time retries: the payment notification's second try is 15 s away.
    let (mut first, base) = start(&dir, &["--notification-speedup", "1"]);
    let client = merchant(&base);
    // The merchant's endpoint fails the first notification, then answers 204.
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[500]).await;
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": jsapi_order("RESTART-1", &sink.url, 1999)}))
        .await
        .unwrap();
    let (status, paid) = control(&base, "POST", "transactions/RESTART-1/pay", None).await;
    assert_eq!(status, 200, "{paid}");
    sink.wait_for(1).await;
    let refund: Value = client["v3/refund/domestic/refunds"]
        .post(
            json!({"json": {"out_trade_no": "RESTART-1", "out_refund_no": "RESTART-R1",
            "notify_url": sink.url, "amount": {"refund": 500, "total": 1999, "currency": "CNY"}}}),
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    let (status, _) = control(&base, "POST", "refunds/RESTART-R1/succeed", None).await;
    assert_eq!(status, 200);
    sink.wait_for(2).await;
    let query = |client: wechatpay_chain::Client| async move {
        let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(json!({"out_trade_no": "RESTART-1", "query": {"mchid": Credentials::get().mchid}}))
            .await
            .unwrap()
            .json()
            .unwrap();
        let refund: Value = client["v3/refund/domestic/refunds/{out_refund_no}"]
            .get(json!({"out_refund_no": "RESTART-R1"}))
            .await
            .unwrap()
            .json()
            .unwrap();
        (order, refund)
    };
    let (order_before, refund_before) = query(client.clone()).await;
    assert_eq!(order_before["trade_state"], "REFUND");
    assert_eq!(refund_before["refund_id"], refund["refund_id"]);

    // kill -9 while TRANSACTION.SUCCESS waits for its retry.
    kill9(&mut first);
    // A second mock on the directory of a running one is refused.
    let (mut second, again) = start(&dir, &[]);
    assert_eq!(again, base, "the port the directory recorded");
    let refused = wxpay(
        &["mock", "--port", "0", "--dir", dir.to_str().unwrap()],
        &[],
        None,
    )
    .await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("another mock is running"),
        "{}",
        refused.stderr
    );

    // Every answered order and refund queries as before.
    let (order_after, refund_after) = query(client.clone()).await;
    assert_eq!(order_after, order_before);
    assert_eq!(refund_after, refund_before);
    // The pending notification goes out at its time on the clock.
    let (status, moved) =
        control(&base, "POST", "clock/advance", Some(json!({"seconds": 30}))).await;
    assert_eq!(status, 200, "{moved}");
    let got = sink.wait_for(3).await;
    assert_eq!(got[2].envelope["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(
        got[2].envelope["id"], got[0].envelope["id"],
        "the same notification"
    );
    let (_, notes) = control(&base, "GET", "notifications", None).await;
    assert_eq!(notes["data"][0]["delivered"], true, "{notes}");
    assert_eq!(notes["data"][0]["attempts"], 2, "{notes}");

    // The day's bill, once it exists, reconciles with what was answered.
    let day = order_after["success_time"].as_str().unwrap()[..10].to_owned();
    let ready = parse_rfc3339(&format!("{day}T10:00:00+08:00")).unwrap() + 86_400;
    let (status, _) = control(
        &base,
        "POST",
        "clock/set",
        Some(json!({"time": rfc3339(ready)})),
    )
    .await;
    assert_eq!(status, 200);
    let bill: BillInfo = client["v3/bill/tradebill"]
        .get(json!({"query": {"bill_date": day}}))
        .await
        .unwrap()
        .json()
        .unwrap();
    let mut csv = Vec::new();
    client
        .download_bill(&bill, Compression::None, &mut csv)
        .await
        .unwrap();
    let table = BillTable::parse(std::str::from_utf8(&csv).unwrap()).unwrap();
    assert_eq!(table.rows.len(), 2, "the payment and its refund");
    // FLOWS.md §5 header, from 0: 微信订单号 5, 商户订单号 6, 退款金额 16 (元).
    assert!(table.rows.iter().all(|row| row[6] == "RESTART-1"));
    assert!(table
        .rows
        .iter()
        .any(|row| row[5] == order_after["transaction_id"].as_str().unwrap()));
    assert!(table.rows.iter().any(|row| row[16] == "5.00"));
    kill9(&mut second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Answers given at the same moment share a commit (the store's group
/// commit): each still waits for it. 48 orders placed and paid at once,
/// `kill -9` the moment the last answer arrives: every one is there, paid
/// with the transaction id it was answered with. (The writer is faster
/// than a debug build's answer, so this cannot catch an answer that does
/// not wait: `store.rs`'s unit test holds the writer back to prove that.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_given_together_survive_a_kill_at_once() {
    let dir = runner::temp_dir("wxpay-workbench", "together");
    let (mut first, base) = start(&dir, &[]);
    let client = merchant(&base);
    let sink = NotifySink::start(client.clone(), Credentials::get().apiv3_key, &[]).await;
    let numbers: Vec<String> = (0..48).map(|i| format!("TOGETHER-{i:02}")).collect();
    let placed: Vec<_> = numbers
        .iter()
        .map(|no| {
            let (client, order) = (client.clone(), jsapi_order(no, &sink.url, 100));
            tokio::spawn(async move {
                client["v3/pay/transactions/jsapi"]
                    .post(json!({"json": order}))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for answer in placed {
        answer.await.unwrap().unwrap();
    }
    let paying: Vec<_> = numbers
        .iter()
        .map(|no| {
            let (base, path) = (base.clone(), format!("transactions/{no}/pay"));
            tokio::spawn(async move { control(&base, "POST", &path, None).await })
        })
        .collect();
    let mut paid = Vec::new();
    for answer in paying {
        paid.push(answer.await.unwrap());
    }
    // At once, from here (`kill9` spawns a process first).
    let pid = i32::try_from(first.id()).unwrap();
    // SAFETY: kill(2) on the pid of our own child, which we have not
    // reaped yet (so the pid is still ours); no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let _ = first.wait();
    let (mut second, _) = start(&dir, &[]);
    for (no, (status, answer)) in numbers.iter().zip(paid) {
        assert_eq!(status, 200, "{answer}");
        let order: Value = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(json!({"out_trade_no": no, "query": {"mchid": Credentials::get().mchid}}))
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(order["trade_state"], "SUCCESS", "{no}: {order}");
        assert_eq!(order["transaction_id"], answer["transaction_id"], "{no}");
    }
    kill9(&mut second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the newer flows answer, read back through the API: a transfer
/// bill, a profit-sharing request and its order's unsplit amount, a combine
/// order, a micropay order.
async fn newer_flows(client: &wechatpay_chain::Client, transaction_id: &str) -> Vec<Value> {
    let json = |r: wechatpay_chain::Response| r.json::<Value>().unwrap();
    let bill = client["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"]
        .get(json!({"out_bill_no": "KEEPBILL1"}))
        .await
        .unwrap();
    let sharing = client["v3/profitsharing/orders/{out_order_no}"]
        .get(json!({"out_order_no": "KEEP-PS-1", "query": {"transaction_id": transaction_id}}))
        .await
        .unwrap();
    let unsplit = client["v3/profitsharing/transactions/{transaction_id}/amounts"]
        .get(json!({"transaction_id": transaction_id}))
        .await
        .unwrap();
    let combine = client["v3/combine-transactions/out-trade-no/{combine_out_trade_no}"]
        .get(json!({"combine_out_trade_no": "KEEPCOMBINE1"}))
        .await
        .unwrap();
    let micropay = client["v2/pay/orderquery"]
        .post(json!({"xml": {"out_trade_no": "KEEP-V2-1"}}))
        .await
        .unwrap()
        .xml::<Value>()
        .unwrap();
    vec![
        json(bill),
        json(sharing),
        json(unsplit),
        json(combine),
        micropay,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_and_setting_survives_a_kill_and_its_clock_runs_on() {
    let dir = runner::temp_dir("wxpay-workbench", "flows");
    let (mut first, base) = start(&dir, &["--port", "0", "--retain", "500"]);
    let c = Credentials::get();
    let client = merchant(&base);
    let sink = NotifySink::start(client.clone(), c.apiv3_key, &[]).await;
    let (status, _) = control(
        &base,
        "PUT",
        "settings",
        Some(json!({"profitsharing_wait_s": 0, "transfer_balance_fen": 900_000})),
    )
    .await;
    assert_eq!(status, 200);
    // 商家转账: a bill waiting for its payee (FLOWS.md §8.1 fields).
    client["v3/fund-app/mch-transfer/transfer-bills"]
        .post(transfer_bill("KEEPBILL1", 300, Some(&sink.url)))
        .await
        .unwrap();
    // 分账: a paid order placed with profit sharing, a receiver, a request.
    let mut order = jsapi_order("KEEP-PS-ORDER", "http://127.0.0.1:9/notify", 10_000);
    order["settle_info"] = json!({"profit_sharing": true});
    client["v3/pay/transactions/jsapi"]
        .post(json!({"json": order}))
        .await
        .unwrap();
    let (status, paid) = control(&base, "POST", "transactions/KEEP-PS-ORDER/pay", None).await;
    assert_eq!(status, 200, "{paid}");
    let transaction_id = paid["transaction_id"].as_str().unwrap().to_owned();
    client["v3/profitsharing/receivers/add"]
        .post(json!({"json": {"appid": APPID, "type": "PERSONAL_OPENID",
            "account": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "relation_type": "STORE"}}))
        .await
        .unwrap();
    client["v3/profitsharing/orders"]
        .post(
            json!({"json": {"appid": APPID, "transaction_id": transaction_id,
            "out_order_no": "KEEP-PS-1", "unfreeze_unsplit": false,
            "receivers": [{"type": "PERSONAL_OPENID", "account": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                           "amount": 1000, "description": "分给用户"}]}}),
        )
        .await
        .unwrap();
    // 合单: an unpaid combine order of two sub-orders (OA jsapi.yaml).
    client["v3/combine-transactions/jsapi"]
        .post(combine_order("KEEPCOMBINE1"))
        .await
        .unwrap();
    // APIv2 付款码支付.
    client["v2/pay/micropay"]
        .post(
            json!({"xml": {"body": "image形象店-深圳腾大-QQ公仔", "out_trade_no": "KEEP-V2-1",
            "total_fee": 888, "spbill_create_ip": "8.8.8.8", "auth_code": "120061098828009406"}}),
        )
        .await
        .unwrap();
    let before = newer_flows(&client, &transaction_id).await;
    assert_eq!(before[0]["state"], "WAIT_USER_CONFIRM");
    assert_eq!(before[1]["state"], "PROCESSING");
    let (_, settings_before) = control(&base, "GET", "settings", None).await;
    assert_eq!(settings_before["retention"], 500);
    assert_eq!(settings_before["transfer_balance_fen"], 900_000 - 300);

    kill9(&mut first);
    let (mut second, again) = start(&dir, &[]);
    assert_eq!(again, base, "the port the directory recorded");
    let after = newer_flows(&client, &transaction_id).await;
    // The v2 answer is signed afresh (nonce_str, sign): compare its order.
    for (field, (b, a)) in ["bill", "sharing", "unsplit", "combine"]
        .iter()
        .zip(before.iter().zip(&after))
    {
        assert_eq!(a, b, "{field} answers as before the kill");
    }
    for name in [
        "out_trade_no",
        "transaction_id",
        "total_fee",
        "time_end",
        "trade_state",
    ] {
        assert_eq!(after[4][name], before[4][name], "micropay {name}");
    }
    let (_, settings_after) = control(&base, "GET", "settings", None).await;
    assert_eq!(settings_after, settings_before, "every setting came back");

    // The restored bill's 24 h runs on the restored clock (FLOWS.md §8.2).
    let (status, moved) = control(
        &base,
        "POST",
        "clock/advance",
        Some(json!({"seconds": 24 * 3600})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    let happened = moved["happened"].as_array().unwrap();
    assert!(
        happened
            .iter()
            .any(|h| h["event"] == "transfer_bill.finished" && h["out_bill_no"] == "KEEPBILL1"),
        "{moved}"
    );
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope["event_type"], "MCHTRANSFER.BILL.FINISHED");
    assert_eq!(got[0].resource["state"], "FAIL");
    kill9(&mut second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An id the mock handed out is never handed out again after a restart,
/// even when the order holding the highest one was forgotten (retention):
/// a `transaction_id` and a `combine_transaction_id` are given at payment,
/// so the oldest order (the first forgotten) may hold the newest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_never_hands_out_an_id_again() {
    let dir = runner::temp_dir("wxpay-workbench", "ids");
    let (mut first, base) = start(&dir, &["--port", "0", "--retain", "4"]);
    let client = merchant(&base);
    let mut given = std::collections::BTreeSet::new();
    let mut note = |id: &Value| assert!(given.insert(id.as_str().unwrap().to_owned()), "{id}");
    for no in ["IDS-P1", "IDS-P2"] {
        client["v3/pay/transactions/jsapi"]
            .post(json!({"json": jsapi_order(no, "http://127.0.0.1:9/notify", 100)}))
            .await
            .unwrap();
    }
    // Paid newest first: the oldest order holds the newest id.
    for no in ["IDS-P2", "IDS-P1"] {
        let (status, paid) = control(&base, "POST", &format!("transactions/{no}/pay"), None).await;
        assert_eq!(status, 200, "{paid}");
        note(&paid["transaction_id"]);
    }
    let combine = |no: &str| client["v3/combine-transactions/jsapi"].post(combine_order(no));
    let pay_combine = |no: &str| {
        let path = format!("combine-transactions/{no}/pay");
        let base = base.clone();
        async move { control(&base, "POST", &path, None).await }
    };
    let mut paid_combine = |paid: &Value| {
        note(&paid["combine_transaction_id"]);
        for sub in paid["sub_orders"].as_array().unwrap() {
            note(&sub["transaction_id"]);
        }
    };
    for no in ["IDS-CA", "IDS-CB"] {
        combine(no).await.unwrap();
    }
    for no in ["IDS-CB", "IDS-CA"] {
        let (status, paid) = pay_combine(no).await;
        assert_eq!(status, 200, "{paid}");
        paid_combine(&paid);
    }
    // Three more: IDS-CA (and every paid payment order) is forgotten.
    for no in ["IDS-CC", "IDS-CD", "IDS-CE"] {
        combine(no).await.unwrap();
    }

    kill9(&mut first);
    let (mut second, again) = start(&dir, &[]);
    assert_eq!(again, base);
    let (status, paid) = pay_combine("IDS-CE").await;
    assert_eq!(status, 200, "{paid}");
    paid_combine(&paid);

    // A retention lowered is kept, and what it forgets leaves the disk
    // (notifications have their own bound: docs/mock.md, What is kept).
    let (status, _) = control(&base, "PUT", "settings", Some(json!({"retention": 1}))).await;
    assert_eq!(status, 200);
    kill9(&mut second);
    let conn = rusqlite::Connection::open(dir.join("mock.sqlite")).unwrap();
    let most: i64 = conn
        .query_row(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM objects \
             WHERE kind != 'notification' GROUP BY kind)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let counts: Vec<(String, i64)> = conn
        .prepare("SELECT kind, count(*) FROM objects WHERE kind != 'notification' GROUP BY kind")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(most, 1, "one row of each kind left: {counts:?}");
    drop(conn);
    let (mut third, _) = start(&dir, &[]);
    let (_, settings) = control(&base, "GET", "settings", None).await;
    assert_eq!(settings["retention"], 1);
    // The newest of each, read back.
    for (path, no) in [
        ("combine-transactions", "IDS-CE"),
        ("transactions", "IDS-CES2"),
    ] {
        let (status, listed) = control(&base, "GET", path, None).await;
        assert_eq!(status, 200);
        assert!(listed.to_string().contains(no), "{path}: {listed}");
    }
    kill9(&mut third);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A transfer bill whose 24 h ran out while its mock was stopped ends FAIL
/// at its 24 h (FLOWS.md §8.2), as the notification and the query say, not
/// when the mock started again, and a cancel an hour after it was asked
/// (its stored time): the stopped days are made by moving the stored clock
/// on, as if they had passed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bill_overdue_while_its_mock_was_stopped_ends_at_its_24_hours() {
    let dir = runner::temp_dir("wxpay-workbench", "stopped-days");
    let (mut first, base) = start(&dir, &["--port", "0"]);
    let client = merchant(&base);
    let created: Value = client["v3/fund-app/mch-transfer/transfer-bills"]
        .post(transfer_bill("STOPPEDDAYS1", 300, None))
        .await
        .unwrap()
        .json()
        .unwrap();
    let create_time = parse_rfc3339(created["create_time"].as_str().unwrap()).unwrap();
    // And a bill whose cancel takes an hour: the stored cancel time counts.
    let (status, _) = control(
        &base,
        "PUT",
        "settings",
        Some(json!({"refund_auto_resolve_ms": 3_600_000})),
    )
    .await;
    assert_eq!(status, 200);
    client["v3/fund-app/mch-transfer/transfer-bills"]
        .post(transfer_bill("STOPPEDDAYS2", 200, None))
        .await
        .unwrap();
    let canceling: Value = client
        ["v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"]
        .post(json!({"out_bill_no": "STOPPEDDAYS2"}))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(canceling["state"], "CANCELING");
    let asked = parse_rfc3339(canceling["update_time"].as_str().unwrap()).unwrap();
    kill9(&mut first);
    // Two days pass while it is stopped.
    let conn = rusqlite::Connection::open(dir.join("mock.sqlite")).unwrap();
    let text: String = conn
        .query_row("SELECT value FROM meta WHERE name = 'state'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let mut state: Value = serde_json::from_str(&text).unwrap();
    let offset = state["clock_offset_ms"].as_i64().unwrap();
    state["clock_offset_ms"] = json!(offset + 2 * 86_400_000);
    conn.execute(
        "UPDATE meta SET value = ?1 WHERE name = 'state'",
        [state.to_string()],
    )
    .unwrap();
    drop(conn);
    let (mut second, _) = start(&dir, &[]);
    let bill = common::flows::transfer_bill_query(&client, "STOPPEDDAYS1").await;
    assert_eq!(bill["state"], "FAIL");
    assert_eq!(
        bill["update_time"].as_str(),
        Some(rfc3339(create_time + 86_400).as_str()),
        "{bill}"
    );
    let bill = common::flows::transfer_bill_query(&client, "STOPPEDDAYS2").await;
    assert_eq!(bill["state"], "CANCELLED");
    assert_eq!(
        bill["update_time"].as_str(),
        Some(rfc3339(asked + 3600).as_str()),
        "{bill}"
    );
    kill9(&mut second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Starts `wxpay mock --dir DIR` expecting it to refuse: what it said.
fn refused_start(dir: &std::path::Path, edit: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "--quiet", "--port", "0", "--dir"])
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    if let Some(Ok(line)) = lines.next() {
        kill9(&mut child);
        panic!("{edit}: the mock started on it ({line})");
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{edit}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A database edited by hand (or by someone hostile) with a value the mock
/// never writes is refused when the mock starts, saying what and what to
/// do, instead of a mock whose arithmetic overflows (a panic, a poisoned
/// book) on the first request or tick that reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_value_the_mock_never_writes_is_refused_at_start() {
    let dir = runner::temp_dir("wxpay-workbench", "hostile");
    let (mut first, base) = start(&dir, &["--port", "0"]);
    let client = merchant(&base);
    client["v3/fund-app/mch-transfer/transfer-bills"]
        .post(transfer_bill("HOSTILE1", 300, None))
        .await
        .unwrap();
    client["v3/combine-transactions/jsapi"]
        .post(combine_order("HOSTILE-C1"))
        .await
        .unwrap();
    kill9(&mut first);

    let db = dir.join("mock.sqlite");
    let huge = json!(i64::MAX);
    // (what, kind or "state", JSON pointer in the row, value, why refused)
    let edits: [(&str, &str, &str, Value, &str); 10] = [
        (
            "a payment (a combine sub-order) paid at the end of time",
            "payment",
            "/1/success_time",
            huge.clone(),
            "out of range for a time in Unix seconds",
        ),
        (
            "a payment refunded more than any order",
            "payment",
            "/1/refunded",
            huge.clone(),
            "out of range for an amount in fen",
        ),
        (
            "a transfer created before time began",
            "transfer",
            "/1/created",
            json!(i64::MIN),
            "out of range for a time in Unix seconds",
        ),
        (
            "a transfer amount no create takes",
            "transfer",
            "/1/amount",
            huge.clone(),
            "out of range for an amount in fen",
        ),
        (
            "a combine prepay_id issued at the end of time",
            "combine",
            "/1/prepay_issued",
            huge.clone(),
            "out of range for a time in Unix seconds",
        ),
        (
            "a max_ratio above 10000",
            "ps_ratio",
            "",
            json!(["", i64::MAX]),
            "is not 0 to 10000",
        ),
        (
            "a ledger that shared more than any order",
            "ps_ledger",
            "",
            json!(["4200000000202601010000000000001", {"shared": i64::MAX, "requests": 0, "unfrozen": false}]),
            "out of range for an amount in fen",
        ),
        (
            "a profit-sharing wait no setting takes",
            "state",
            "/profitsharing/wait_after_payment",
            huge.clone(),
            "is not 0 to 60",
        ),
        (
            "a clock past the last time RFC 3339 writes",
            "state",
            "/clock_offset_ms",
            huge.clone(),
            "past year 9999",
        ),
        (
            "a state row that is not JSON",
            "state",
            "",
            json!("not json"),
            "expected",
        ),
    ];
    for (what, kind, pointer, value, why) in edits {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let pair = |r: &rusqlite::Row<'_>| Ok((r.get(0)?, r.get(1)?));
        let (row, update): (Option<(String, String)>, _) = match kind {
            "state" => (
                conn.query_row(
                    "SELECT name, value FROM meta WHERE name = 'state'",
                    [],
                    pair,
                )
                .ok(),
                "UPDATE meta SET value = ?2 WHERE name = ?1",
            ),
            _ => (
                conn.query_row(
                    "SELECT key, body FROM objects WHERE kind = ?1",
                    [kind],
                    pair,
                )
                .ok(),
                "UPDATE objects SET body = ?2 WHERE key = ?1",
            ),
        };
        let edited = match (row.as_ref(), pointer) {
            (Some(_), "") => value.as_str().unwrap().to_owned(),
            (Some((_, body)), pointer) => {
                let mut row: Value = serde_json::from_str(body).unwrap();
                let slot = row.pointer_mut(pointer);
                *slot.unwrap_or_else(|| panic!("{what}: no {pointer}")) = value.clone();
                row.to_string()
            }
            (None, "") => value.to_string(),
            (None, _) => panic!("{what}: no {kind} row"),
        };
        match &row {
            Some((key, _)) => conn.execute(update, rusqlite::params![key, edited]),
            None => conn.execute(
                "INSERT INTO objects (kind, key, body) VALUES (?1, ?2, ?3)",
                rusqlite::params![kind, value[0].to_string(), edited],
            ),
        }
        .unwrap();
        drop(conn);
        let said = refused_start(&dir, what);
        assert!(
            said.contains("mock.sqlite") && said.contains("move the directory aside"),
            "{what}: {said}"
        );
        assert!(said.contains(why), "{what}: {said}");
        assert!(!said.contains("panicked"), "{what}: {said}");
        // Put the row back as it was, for the next edit.
        let conn = rusqlite::Connection::open(&db).unwrap();
        match row {
            Some((key, body)) => conn.execute(update, rusqlite::params![key, body]),
            None => conn.execute(
                "DELETE FROM objects WHERE kind = ?1",
                rusqlite::params![kind],
            ),
        }
        .unwrap();
    }
    // As it was, the directory starts.
    let (mut again, _) = start(&dir, &[]);
    kill9(&mut again);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_and_the_triggers_are_commands() {
    let dir = runner::temp_dir("wxpay-workbench", "clock");
    let (mut mock, base) = start(&dir, &["--port", "0"]);
    let env = [("WECHATPAY_BASE_URL", base.as_str())];
    let shown = wxpay(&["mock", "clock"], &env, None).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let before: Value = serde_json::from_str(&shown.stdout).unwrap();
    let moved = wxpay(&["mock", "clock", "advance", "2h"], &env, None).await;
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    let moved: Value = serde_json::from_str(&moved.stdout).unwrap();
    let (from, now) = (
        parse_rfc3339(moved["from"].as_str().unwrap()).unwrap(),
        parse_rfc3339(moved["now"].as_str().unwrap()).unwrap(),
    );
    assert!(now - from >= 7200 && from >= before["unix"].as_i64().unwrap());
    let back = wxpay(&["mock", "clock", "set", "2020-01-01 10:00:00"], &env, None).await;
    assert_eq!(back.code, 1);
    assert!(
        back.stderr.contains("only moves forward"),
        "{}",
        back.stderr
    );
    let bad = wxpay(&["mock", "clock", "advance", "soon"], &env, None).await;
    assert_eq!(bad.code, 1);
    assert!(bad.stderr.contains("not a duration"), "{}", bad.stderr);
    let triggers = wxpay(&["mock", "triggers"], &env, None).await;
    assert_eq!(triggers.code, 0, "{}", triggers.stderr);
    assert!(triggers.stdout.contains("SYSERR"), "{}", triggers.stdout);
    assert!(
        triggers.stdout.contains("MCHTRANSFER.BILL.FINISHED FAIL"),
        "{}",
        triggers.stdout
    );
    // One command, one real notification at the merchant's endpoint.
    let client = merchant(&base);
    let sink = NotifySink::start(client, Credentials::get().apiv3_key, &[]).await;
    let sent = wxpay(
        &[
            "mock",
            "trigger",
            "TRANSACTION.SUCCESS",
            "--notify-url",
            &sink.url,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].envelope["event_type"], "TRANSACTION.SUCCESS");
    assert!(got[0].verified.is_ok(), "{:?}", got[0].verified);
    kill9(&mut mock);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The error of a signed call through a client `profile` builds.
/// Two closed loopback ports, the second's number the first's and one
/// more digit.
fn closed_ports() -> (u16, u16) {
    for port in 2000u16..6000 {
        let longer = port * 10 + 7;
        let bound = (
            std::net::TcpListener::bind(("127.0.0.1", port)),
            std::net::TcpListener::bind(("127.0.0.1", longer)),
        );
        if let (Ok(_), Ok(_)) = bound {
            return (port, longer);
        }
    }
    panic!("no two free loopback ports");
}

/// A mock's profile written by hand without the trailing slash: a refused
/// connection at its port is its mock; at a port whose number only begins
/// the same (a base URL the caller set over the profile's) it is another
/// server, left as the transport error it is.
#[tokio::test]
async fn a_port_that_only_begins_like_the_mock_s_is_another_server() {
    let dir = runner::temp_dir("wxpay-workbench", "prefix-port");
    std::fs::create_dir_all(&dir).unwrap();
    let (mock, other) = closed_ports();
    let path = dir.join("mock.json");
    let profile = json!({"mchid": "1900000109", "base_url": format!("http://127.0.0.1:{mock}"),
                         "mock": true});
    std::fs::write(&path, profile.to_string()).unwrap();
    let profile = wechatpay_chain::profile::Profile::read(&path).unwrap();
    for (port, stopped) in [(mock, true), (other, false)] {
        let refused = reqwest::get(format!("http://127.0.0.1:{port}/v3/certificates"))
            .await
            .unwrap_err();
        let error = profile.explain(wechatpay_chain::Error::Transport(refused));
        let named = matches!(error, wechatpay_chain::Error::MockStopped { .. });
        assert_eq!(named, stopped, "port {port}: {error}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

async fn certificates_via(profile: wechatpay_chain::profile::Profile) -> wechatpay_chain::Error {
    let client = profile.builder().build().unwrap();
    client["v3/certificates"].get(()).await.unwrap_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_whose_mock_has_stopped_says_so() {
    let dir = runner::temp_dir("wxpay-workbench", "stopped");
    let (mut mock, base) = start(&dir, &["--port", "0"]);
    let path = dir.join("mock.json");
    let profile = path.to_str().unwrap().to_owned();
    let env = [("WECHATPAY_PROFILE", profile.as_str())];
    let alive = wxpay(&["get", "v3/certificates"], &env, None).await;
    assert_eq!(alive.code, 0, "{}", alive.stderr);
    kill9(&mut mock);

    // What each says: which mock, which profile, the command that starts it.
    let says = |text: &str| {
        let dir = dir.to_str().unwrap();
        for part in [
            "the mock this profile names is not answering",
            &format!("nothing listens at {base}"),
            &format!("(profile {profile})"),
            "it has stopped",
            &format!("`wxpay mock --dir {dir}`"),
            "takes the same port again",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    };
    // The CLI, by the environment and by --profile: exit 4 (transport).
    let signed = wxpay(&["get", "v3/certificates"], &env, None).await;
    assert_eq!(signed.code, 4, "{}", signed.stderr);
    says(&signed.stderr);
    let flagged = wxpay(
        &["get", "v3/certificates", "--profile", &profile],
        &[],
        None,
    )
    .await;
    assert_eq!(flagged.code, 4, "{}", flagged.stderr);
    says(&flagged.stderr);
    // The mock's own commands.
    for args in [
        &["mock", "clock"][..],
        &["mock", "transfer", "T1FAILNAMENOTCORRECT", "confirm"][..],
        &["mock", "wait", "--timeout", "1"][..],
    ] {
        let run = wxpay(args, &env, None).await;
        assert_eq!(run.code, 4, "{args:?}: {}", run.stderr);
        says(&run.stderr);
    }
    // The library: a client the profile builds (what ClientBuilder::from_env
    // does with WECHATPAY_PROFILE), and a request sent another way.
    let read = wechatpay_chain::profile::Profile::read(&path).unwrap();
    let error = certificates_via(read.clone()).await;
    assert!(
        matches!(error, wechatpay_chain::Error::MockStopped { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    says(&error.to_string());
    let plain = reqwest::get(format!("{base}_mock/clock"))
        .await
        .unwrap_err();
    says(
        &read
            .explain(wechatpay_chain::Error::Transport(plain))
            .to_string(),
    );

    // Nothing is guessed: another base URL than the profile's, or a
    // profile `wxpay mock` did not write, gets the transport error as it is.
    let moved = wxpay(
        &["mock", "clock", "--base-url", &base, "--profile", &profile],
        &[],
        None,
    )
    .await;
    assert_eq!(moved.code, 4);
    assert!(!moved.stderr.contains("has stopped"), "{}", moved.stderr);
    let mut overridden = read.clone();
    overridden.base_url = Some(base.replace("127.0.0.1", "localhost"));
    let error = certificates_via(overridden).await;
    assert!(
        matches!(error, wechatpay_chain::Error::Transport(_)),
        "{error:?}"
    );
    let mut text: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    text.as_object_mut().unwrap().remove("mock");
    let handmade = dir.join("handmade.json");
    std::fs::write(&handmade, text.to_string()).unwrap();
    let error = certificates_via(wechatpay_chain::profile::Profile::read(&handmade).unwrap()).await;
    assert!(
        matches!(error, wechatpay_chain::Error::Transport(_)),
        "{error:?}"
    );
    let run = wxpay(
        &[
            "get",
            "v3/certificates",
            "--profile",
            handmade.to_str().unwrap(),
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 4);
    assert!(!run.stderr.contains("has stopped"), "{}", run.stderr);

    // Doing what it says brings the profile back: the same port.
    let (mut again, restarted) = start(&dir, &[]);
    assert_eq!(restarted, base);
    let alive = wxpay(&["get", "v3/certificates"], &env, None).await;
    assert_eq!(alive.code, 0, "{}", alive.stderr);
    kill9(&mut again);
    let _ = std::fs::remove_dir_all(&dir);
}
