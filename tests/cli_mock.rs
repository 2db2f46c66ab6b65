//! `wxpay mock pay|fail|expire|combine|refund|…` against a `wxpay mock` that runs in
//! another process, as a person types them in a second terminal.
#![cfg(feature = "cli")]

use std::process::Command;

use serde_json::Value;

mod common;
#[path = "common/wxpay.rs"]
mod runner;
use runner::wxpay_with as wxpay;

const ORDER: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000109","description":"demo","out_trade_no":"CLI-MOCK-1","notify_url":"http://127.0.0.1:9/n","amount":{"total":100},"payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_and_back_office_are_commands_against_a_running_mock() {
    let dir = runner::temp_dir("wxpay-cli-mock", "journey");
    let (mut child, mut lines) = runner::spawn_mock(&dir, &[]);
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    lines.next().unwrap().unwrap();
    let profile = dir.join("mock.json").display().to_string();
    let env = [("WECHATPAY_PROFILE", profile.as_str())];

    let created = wxpay(
        &["post", "v3/pay/transactions/jsapi", "-d", ORDER],
        &env,
        None,
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let prepay_id = serde_json::from_str::<Value>(&created.stdout).unwrap()["prepay_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // the front end's parameters, then the user pays with them
    let invoked = wxpay(
        &[
            "invoke",
            "jsapi",
            "--appid",
            "wxd678efh567hg6787",
            "--prepay-id",
            &prepay_id,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(invoked.code, 0, "{}", invoked.stderr);
    let file = dir.join("invocation.json");
    // a forged signature is refused, exit 1, the order unchanged
    let mut forged: Value = serde_json::from_str(&invoked.stdout).unwrap();
    forged["paySign"] = Value::String("AAAA".into());
    std::fs::write(&file, forged.to_string()).unwrap();
    let at_file = format!("@{}", file.display());
    let refused = wxpay(
        &["mock", "pay", "CLI-MOCK-1", "--invocation", &at_file],
        &env,
        None,
    )
    .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("支付验证签名失败"),
        "{}",
        refused.stderr
    );
    std::fs::write(&file, &invoked.stdout).unwrap();
    let paid = wxpay(
        &["mock", "pay", "CLI-MOCK-1", "--invocation", &at_file],
        &env,
        None,
    )
    .await;
    assert_eq!(paid.code, 0, "{}", paid.stderr);
    let paid: Value = serde_json::from_str(&paid.stdout).unwrap();
    assert_eq!(paid["trade_state"], "SUCCESS");

    // paying twice: exit 1, saying why
    let again = wxpay(&["mock", "pay", "CLI-MOCK-1"], &env, None).await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already paid"), "{}", again.stderr);
    // an unknown order: exit 1, naming it
    let unknown = wxpay(&["mock", "expire", "NO-SUCH"], &env, None).await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("NO-SUCH"), "{}", unknown.stderr);

    // refund, then the back office ends it
    let refund = r#"{"out_trade_no":"CLI-MOCK-1","out_refund_no":"CLI-R-1","amount":{"refund":40,"total":100,"currency":"CNY"}}"#;
    assert_eq!(
        wxpay(
            &["post", "v3/refund/domestic/refunds", "-d", refund],
            &env,
            None
        )
        .await
        .code,
        0
    );
    let ended = wxpay(&["mock", "refund", "CLI-R-1", "succeed"], &env, None).await;
    assert_eq!(ended.code, 0, "{}", ended.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&ended.stdout).unwrap()["status"],
        "SUCCESS"
    );
    let bad = wxpay(&["mock", "refund", "CLI-R-1", "dance"], &env, None).await;
    assert_eq!(bad.code, 2);

    // the lists
    let listed = wxpay(&["mock", "transactions"], &env, None).await;
    assert_eq!(
        serde_json::from_str::<Value>(&listed.stdout).unwrap()["data"][0]["trade_state"],
        "REFUND"
    );
    let notes = wxpay(&["mock", "notifications"], &env, None).await;
    let notes: Value = serde_json::from_str(&notes.stdout).unwrap();
    let events: Vec<&str> = notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["TRANSACTION.SUCCESS", "REFUND.SUCCESS"]);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    // no mock: exit 4 (transport); no address at all: exit 2 (usage)
    let gone = wxpay(&["mock", "transactions"], &env, None).await;
    assert_eq!(gone.code, 4, "{}", gone.stderr);
    let nowhere = wxpay(&["mock", "transactions"], &[], None).await;
    assert_eq!(nowhere.code, 2, "{}", nowhere.stderr);
    assert!(nowhere.stderr.contains("--base-url"), "{}", nowhere.stderr);
    // a speed-up outside 1..=1,000,000 is a usage error, not a silent 1
    let slow = wxpay(&["mock", "--notification-speedup", "0"], &[], None).await;
    assert_eq!(slow.code, 2, "{}", slow.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `wxpay mock profit-sharing …`: a receiver's share ends as the test says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receivers_share_ends_from_the_command_line() {
    let dir = runner::temp_dir("wxpay-cli-mock", "profit-sharing");
    let (mut child, mut lines) = runner::spawn_mock(&dir, &[]);
    let first = lines.next().unwrap().unwrap();
    let base = first.strip_prefix("listening on ").unwrap().to_owned();
    lines.next().unwrap().unwrap();
    let profile = dir.join("mock.json").display().to_string();
    let env = [("WECHATPAY_PROFILE", profile.as_str())];
    // Sharing opens at once, not WeChat Pay's minute after payment.
    let set = reqwest::Client::new()
        .put(format!("{base}_mock/settings"))
        .body(r#"{"profitsharing_wait_s": 0}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status().as_u16(), 200);

    let order = ORDER.replace("CLI-MOCK-1", "CLI-PS-1").replace(
        r#""amount""#,
        r#""settle_info":{"profit_sharing":true},"amount""#,
    );
    let created = wxpay(
        &["post", "v3/pay/transactions/jsapi", "-d", &order],
        &env,
        None,
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let paid = wxpay(&["mock", "pay", "CLI-PS-1"], &env, None).await;
    let paid: Value = serde_json::from_str(&paid.stdout).unwrap();
    let id = paid["transaction_id"].as_str().unwrap();
    let openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    let add = format!(
        r#"{{"appid":"wxd678efh567hg6787","type":"PERSONAL_OPENID","account":"{openid}","relation_type":"USER"}}"#
    );
    let added = wxpay(
        &["post", "v3/profitsharing/receivers/add", "-d", &add],
        &env,
        None,
    )
    .await;
    assert_eq!(added.code, 0, "{}", added.stderr);
    let share = format!(
        r#"{{"transaction_id":"{id}","out_order_no":"CLI-P-1","unfreeze_unsplit":false,"receivers":[{{"type":"PERSONAL_OPENID","account":"{openid}","amount":10,"description":"分给用户"}}]}}"#
    );
    let shared = wxpay(
        &["post", "v3/profitsharing/orders", "-d", &share],
        &env,
        None,
    )
    .await;
    assert_eq!(shared.code, 0, "{}", shared.stderr);

    // close needs its reason: a usage error without one
    let bare = wxpay(
        &["mock", "profit-sharing", "CLI-P-1", openid, "close"],
        &env,
        None,
    )
    .await;
    assert_eq!(bare.code, 2, "{}", bare.stderr);
    let closed = wxpay(
        &[
            "mock",
            "profit-sharing",
            "CLI-P-1",
            openid,
            "close",
            "--fail-reason",
            "NO_RELATION",
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(closed.code, 0, "{}", closed.stderr);
    let closed: Value = serde_json::from_str(&closed.stdout).unwrap();
    assert_eq!(closed["receivers"][0]["result"], "CLOSED");
    assert_eq!(closed["receivers"][0]["fail_reason"], "NO_RELATION");
    // once ended, it stays ended: exit 1 saying why
    let again = wxpay(
        &["mock", "profit-sharing", "CLI-P-1", openid, "succeed"],
        &env,
        None,
    )
    .await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("CLOSED"), "{}", again.stderr);
    let listed = wxpay(&["mock", "profit-sharing-orders"], &env, None).await;
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["data"][0]["state"], "FINISHED");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A combine order (合单) of two sub-orders, placed with `wxpay post`.
const COMBINE: &str = r#"{"combine_appid":"wxd678efh567hg6787","combine_mchid":"1900000109","combine_out_trade_no":"CLI-COMBINE-1","notify_url":"http://127.0.0.1:9/n","sub_orders":[{"mchid":"1900000109","out_trade_no":"CLI-SUB-1","attach":"a","description":"d","amount":{"total_amount":100,"currency":"CNY"}},{"mchid":"1900000109","out_trade_no":"CLI-SUB-2","attach":"a","description":"d","amount":{"total_amount":200,"currency":"CNY"}}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_combine_order_is_paid_listed_and_refused_from_the_command_line() {
    let dir = runner::temp_dir("wxpay-cli-mock", "combine");
    let (mut child, mut lines) = runner::spawn_mock(&dir, &[]);
    lines.next().unwrap().unwrap();
    lines.next().unwrap().unwrap();
    let profile = dir.join("mock.json").display().to_string();
    let env = [("WECHATPAY_PROFILE", profile.as_str())];

    let created = wxpay(
        &["post", "v3/combine-transactions/native", "-d", COMBINE],
        &env,
        None,
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    // A sub-order alone cannot be paid: the whole combine order is.
    let alone = wxpay(&["mock", "pay", "CLI-SUB-1"], &env, None).await;
    assert_eq!(alone.code, 1, "{}", alone.stderr);
    assert!(alone.stderr.contains("CLI-COMBINE-1"), "{}", alone.stderr);
    let failed = wxpay(&["mock", "combine", "CLI-COMBINE-1", "fail"], &env, None).await;
    assert_eq!(failed.code, 0, "{}", failed.stderr);
    let paid = wxpay(&["mock", "combine", "CLI-COMBINE-1", "pay"], &env, None).await;
    assert_eq!(paid.code, 0, "{}", paid.stderr);
    let paid: Value = serde_json::from_str(&paid.stdout).unwrap();
    assert_eq!(paid["sub_orders"][1]["trade_state"], "SUCCESS");
    let again = wxpay(&["mock", "combine", "CLI-COMBINE-1", "pay"], &env, None).await;
    assert_eq!(again.code, 1, "{}", again.stderr);
    let bad = wxpay(&["mock", "combine", "CLI-COMBINE-1", "dance"], &env, None).await;
    assert_eq!(bad.code, 2);
    let listed = wxpay(&["mock", "combines"], &env, None).await;
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed["data"][0]["combine_out_trade_no"], "CLI-COMBINE-1");
    assert_eq!(listed["data"][0]["trade_state"], "SUCCESS");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The credential flags `wxpay` takes for the calls it signs.
const CREDENTIAL_FLAGS: [&str; 7] = [
    "--mchid",
    "--serial",
    "--private-key",
    "--platform-cert",
    "--public-key",
    "--apiv3-key",
    "--apiv2-key",
];

#[tokio::test]
async fn wxpay_mock_lists_and_takes_only_the_flags_it_reads() {
    // the server is its own merchant: its help lists no credential flag
    let help = wxpay(&["mock", "--help"], &[], None).await;
    assert_eq!(help.code, 0, "{}", help.stderr);
    assert!(help.stdout.contains("--port"), "{}", help.stdout);
    for flag in CREDENTIAL_FLAGS {
        assert!(!help.stdout.contains(flag), "{flag} in:\n{}", help.stdout);
    }
    // a control reads only where the mock is
    let help = wxpay(&["mock", "pay", "--help"], &[], None).await;
    assert_eq!(help.code, 0, "{}", help.stderr);
    assert!(help.stdout.contains("--base-url"), "{}", help.stdout);
    assert!(help.stdout.contains("--profile"), "{}", help.stdout);
    for flag in CREDENTIAL_FLAGS {
        assert!(!help.stdout.contains(flag), "{flag} in:\n{}", help.stdout);
    }
    // the other calls still list them
    let help = wxpay(&["post", "--help"], &[], None).await;
    assert!(help.stdout.contains("--apiv3-key"), "{}", help.stdout);

    // typed anyway, before or after `mock`: refused with the reason, exit 2,
    // before anything listens (the port is taken: a server would fail to bind)
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for args in [
        vec!["mock", "--port", &port, "--mchid", "1900000109"],
        vec!["--apiv3-key", "SECRET-VALUE-0001", "mock", "--port", &port],
    ] {
        let run = wxpay(&args, &[], None).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("reads no credentials: remove --"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("SECRET-VALUE"), "{}", run.stderr);
    }
    let run = wxpay(
        &[
            "--mchid",
            "1900000109",
            "mock",
            "transactions",
            "--base-url",
            "http://127.0.0.1:9/",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("`wxpay mock transactions` reads only where the mock is (--base-url or --profile): remove --mchid"),
        "{}",
        run.stderr
    );
    let run = wxpay(&["mock", "transactions", "--serial", "X"], &[], None).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("unexpected argument '--serial'"),
        "{}",
        run.stderr
    );
    // the environment is ambient, not typed: not refused
    let run = wxpay(
        &["mock", "transactions", "--base-url", "http://127.0.0.1:9/"],
        &[("WECHATPAY_MCHID", "1900000109")],
        None,
    )
    .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
}
