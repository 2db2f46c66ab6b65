//! `wxpay describe` shows an operation's fields (OA docs/v3/fund-app/mch-transfer/transfer-bills.yaml,
//! FLOWS.md §8.1), `--dry-run` reports what breaks the schema, and
//! `--check` refuses to send it (exit 5).
#![cfg(feature = "cli")]

use wechatpay_chain::mock::MockServer;
use wechatpay_chain::Value;

#[path = "common/wxpay.rs"]
mod runner;
use runner::Run;

async fn wxpay(args: &[&str]) -> Run {
    runner::wxpay_with(args, &[], None).await
}

const TRANSFER: &str = "v3/fund-app/mch-transfer/transfer-bills";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_lists_the_fields_required_and_encrypted() {
    let run = wxpay(&["describe", TRANSFER]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    // Typed from OA transfer-bills.yaml: the required list, user_name's format: base64.
    for name in [
        "appid",
        "out_bill_no",
        "transfer_scene_id",
        "openid",
        "transfer_amount",
        "transfer_remark",
    ] {
        assert!(out.contains(&format!("  * {name} (")), "{name}\n{out}");
    }
    assert!(
        out.contains("  * transfer_scene_report_infos[] (array of object)"),
        "{out}"
    );
    assert!(out.contains("    * info_type (string)"), "{out}");
    assert!(
        out.contains("    user_name (string, encrypted) 收款用户姓名\n"),
        "{out}"
    );
    assert!(
        out.contains("one of 1000|1002|1004|1005|1009|1010|1011|1013"),
        "{out}"
    );
    assert!(
        out.contains("answer (* always present):\n  * out_bill_no (string)"),
        "{out}"
    );
    assert!(
        out.contains("example body (every required field; passes the check):\n  {\n"),
        "{out}"
    );
    let try_line = out
        .lines()
        .find(|l| l.trim_start().starts_with("wxpay post") && l.ends_with("--dry-run"))
        .unwrap();
    assert!(
        try_line.contains(r#""transfer_scene_report_infos":[{"#),
        "{try_line}"
    );

    // --json: the schema and the example, for tools.
    let run = wxpay(&["describe", "--json", "POST", TRANSFER]).await;
    let list: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let body = &list[0]["schema"]["body"];
    let names: Vec<&str> = body["properties"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["required"] == true)
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    let user_name = body["properties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "user_name")
        .unwrap();
    assert_eq!(user_name["encrypted"], true);
    assert_eq!(
        list[0]["example_body"]["transfer_scene_id"]
            .as_str()
            .map(|s| s.len()),
        Some(4)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_reports_and_check_refuses() {
    let server = MockServer::start().await.unwrap();
    let dir = runner::temp_dir("wxpay-schema", "check");
    let profile = server.write_profile(&dir).unwrap();
    let p = profile.display().to_string();
    let bad = r#"{"appid":"wx1","out_bill_no":"T1","transfer_amount":"100"}"#;

    // --dry-run: the request as always, the problems on stderr, exit 0.
    let run = wxpay(&["--profile", &p, "post", TRANSFER, "-d", bad, "--dry-run"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("--- signed message ---"));
    assert!(run.stderr.contains("check: 5 problem(s)"), "{}", run.stderr);
    // FLOWS.md §9's wording; 转账金额 is OA's title for transfer_amount.
    assert!(
        run.stderr
            .contains("输入源“/openid”映射到字段“收款用户OpenID”必填性规则校验失败,此字段为必填项"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "无法将 JSON 输入源“/body/transfer_amount”映射到目标字段“转账金额”中,此字段需要一个合法的 64 位有符号整数"
        ),
        "{}",
        run.stderr
    );
    let run = wxpay(&[
        "--profile",
        &p,
        "post",
        TRANSFER,
        "-d",
        bad,
        "--dry-run",
        "--check",
    ])
    .await;
    assert_eq!(run.code, 5, "{}", run.stderr);

    // --check: not sent (the mock's log stays empty), exit 5.
    let before = server.requests().len();
    let run = wxpay(&["--profile", &p, "post", TRANSFER, "-d", bad, "--check"]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("not sent"), "{}", run.stderr);
    assert_eq!(
        server.requests().len(),
        before,
        "a refused request reached the mock"
    );

    // Without --check the same body is sent (WeChat Pay is the authority).
    let run = wxpay(&["--profile", &p, "post", TRANSFER, "-d", bad]).await;
    assert_ne!(run.code, 5, "{}", run.stderr);
    assert_eq!(server.requests().len(), before + 1);

    // The example body passes: --check sends it.
    let run = wxpay(&["describe", "--json", "POST", TRANSFER]).await;
    let list: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    let example = list[0]["example_body"].to_string();
    let run = wxpay(&[
        "--profile",
        &p,
        "post",
        TRANSFER,
        "-d",
        &example,
        "--dry-run",
        "--check",
    ])
    .await;
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    // describe's `try it` command, sent to the mock: 200, signed and
    // verified, a body shaped like the answer (no echo).
    let run = wxpay(&["--profile", &p, "post", TRANSFER, "-d", &example, "--check"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("200, Request-ID") && run.stderr.contains("verified by"),
        "{}",
        run.stderr
    );
    let answer: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(answer.get("echo").is_none(), "{answer}");
    assert_eq!(
        answer["out_bill_no"],
        list[0]["example_body"]["out_bill_no"]
    );
    for field in ["transfer_bill_no", "create_time", "state"] {
        assert!(answer[field].is_string(), "{field}: {answer}");
    }
}
