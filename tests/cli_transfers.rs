//! `wxpay invoke merchant-transfer` and `wxpay mock transfer|transfers|balance`
//! against a `wxpay mock` in another process, as typed in a second terminal
//! (docs/transfers.md walks the same commands).
#![cfg(feature = "cli")]

use std::process::Command;

use serde_json::Value;

mod common;
#[path = "common/wxpay.rs"]
mod runner;
use runner::wxpay_with as wxpay;

const BILL: &str = r#"{"appid":"wxf636efh567hg4356","out_bill_no":"CLIBILL1","transfer_scene_id":"1000","openid":"o-MYE42l80oelYMDE34nYD456Xoy","transfer_amount":888,"transfer_remark":"新会员开通有礼","notify_url":"http://127.0.0.1:9/notify","transfer_scene_report_infos":[{"info_type":"活动名称","info_content":"新会员有礼"},{"info_type":"奖励说明","info_content":"注册会员抽奖一等奖"}]}"#;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bill_is_confirmed_failed_and_topped_up_from_the_command_line() {
    let dir = runner::temp_dir("wxpay-cli-transfers", "bills");
    let (mut child, mut lines) = runner::spawn_mock(&dir, &[]);
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    lines.next().unwrap().unwrap();
    let profile = dir.join("mock.json").display().to_string();
    let env = [("WECHATPAY_PROFILE", profile.as_str())];
    let create = |no: &'static str| BILL.replace("CLIBILL1", no);

    let created = wxpay(
        &[
            "post",
            "v3/fund-app/mch-transfer/transfer-bills",
            "-d",
            BILL,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let package = json(&created.stdout)["package_info"]
        .as_str()
        .unwrap()
        .to_owned();
    // FLOWS.md §8.4: mchId, appId, package (and openId when given), no signature.
    let page = wxpay(
        &[
            "invoke",
            "merchant-transfer",
            "--appid",
            "wxf636efh567hg4356",
            "--package",
            &package,
            "--openid",
            "o-MYE42l80oelYMDE34nYD456Xoy",
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(page.code, 0, "{}", page.stderr);
    let params = json(&page.stdout);
    assert_eq!(params["mchId"], "1900000109");
    assert_eq!(params["package"], package.as_str());
    // Another user on the page: refused in WeChat's words, exit 1.
    let mut other = params.clone();
    other["openId"] = Value::String("o-SOMEONE-ELSE".into());
    let other = other.to_string();
    let refused = wxpay(
        &[
            "mock",
            "transfer",
            "CLIBILL1",
            "confirm",
            "--invocation",
            &other,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("你的微信号与商家指定的微信号不一致"),
        "{}",
        refused.stderr
    );
    let confirmed = wxpay(
        &[
            "mock",
            "transfer",
            "CLIBILL1",
            "confirm",
            "--invocation",
            &page.stdout,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(confirmed.code, 0, "{}", confirmed.stderr);
    assert_eq!(json(&confirmed.stdout)["state"], "SUCCESS");

    // fail with a documented reason; an invented one is refused.
    let second = create("CLIBILL2");
    assert_eq!(
        wxpay(
            &[
                "post",
                "v3/fund-app/mch-transfer/transfer-bills",
                "-d",
                &second
            ],
            &env,
            None
        )
        .await
        .code,
        0
    );
    let bad = wxpay(
        &[
            "mock",
            "transfer",
            "CLIBILL2",
            "fail",
            "--fail-reason",
            "BECAUSE",
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    let failed = wxpay(
        &[
            "mock",
            "transfer",
            "CLIBILL2",
            "fail",
            "--fail-reason",
            "PAYEE_ACCOUNT_ABNORMAL",
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(failed.code, 0, "{}", failed.stderr);
    assert_eq!(
        json(&failed.stdout)["fail_reason"],
        "PAYEE_ACCOUNT_ABNORMAL"
    );

    // Not enough money (the real 403 body), a top-up, the same number again.
    assert_eq!(wxpay(&["mock", "balance", "100"], &env, None).await.code, 0);
    let third = create("CLIBILL3");
    let poor = wxpay(
        &[
            "post",
            "v3/fund-app/mch-transfer/transfer-bills",
            "-d",
            &third,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(poor.code, 1, "{}", poor.stderr);
    assert!(
        poor.stdout
            .contains("商户运营账户资金不足,充值后可以原单号发起重试,请勿更换商户单号"),
        "{}",
        poor.stdout
    );
    assert_eq!(
        wxpay(&["mock", "balance", "100000"], &env, None).await.code,
        0
    );
    let rich = wxpay(
        &[
            "post",
            "v3/fund-app/mch-transfer/transfer-bills",
            "-d",
            &third,
        ],
        &env,
        None,
    )
    .await;
    assert_eq!(rich.code, 0, "{}", rich.stderr);

    let listed = json(&wxpay(&["mock", "transfers"], &env, None).await.stdout);
    let states: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["SUCCESS", "FAIL", "WAIT_USER_CONFIRM"]);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
