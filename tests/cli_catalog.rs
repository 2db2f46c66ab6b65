//! `wxpay` as a prototyping tool: `endpoints`, `describe`, the "did you
//! mean" hint of `--dry-run` and of a 404, endpoint paths in the shell
//! completions, and `wxpay mock` logging each request on stderr.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::Value;

#[path = "common/wxpay.rs"]
mod runner;
use runner::Run;

/// Runs `wxpay` with `args` (and no WECHATPAY_* from outside).
async fn wxpay(args: &[&str]) -> Run {
    runner::wxpay_with(args, &[], None).await
}

fn temp_dir(name: &str) -> PathBuf {
    runner::temp_dir("wxpay-catalog", name)
}

const MODIFY: &str = "v3/payscore/serviceorder/{out_order_no}/modify";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_lists_matches_as_text_and_json() {
    let run = wxpay(&["endpoints", "payscore", "serviceorder", "modify"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    // METHOD TEMPLATE SUMMARY, in aligned columns
    let columns: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        columns.contains(&vec!["POST", MODIFY, "修改订单金额API"]),
        "{}",
        run.stdout
    );
    let at = |l: &str| l.find("v3/").unwrap();
    assert!(lines.iter().all(|l| at(l) == 7));
    let summary_at = |l: &str| l.find(|c: char| !c.is_ascii()).unwrap();
    assert!(lines.iter().all(|l| summary_at(l) == summary_at(lines[0])));

    // Chinese words, --json for scripts
    let run = wxpay(&["endpoints", "--json", "申请退款", "domestic"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let list: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list[0]["method"], "POST");
    assert_eq!(list[0]["template"], "v3/refund/domestic/refunds");
    assert_eq!(list[0]["api"], "v3");
    assert_eq!(list[0]["summary"], "申请退款API");

    // everything, and nothing
    let run = wxpay(&["endpoints"]).await;
    assert_eq!(run.stdout.lines().count(), 1155);
    let run = wxpay(&["endpoints", "--json", "nosuchwordanywhere"]).await;
    assert_eq!((run.code, run.stdout.trim()), (0, "[]"));
    let run = wxpay(&["endpoints", "nosuchwordanywhere"]).await;
    assert_eq!(run.code, 0);
    assert!(run.stdout.is_empty() && run.stderr.contains("no endpoint matches"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_prints_the_operation_and_how_to_call_it() {
    for args in [
        &["describe", "POST", "/v3/payscore/serviceorder/1234/modify"][..],
        &["describe", "POST /v3/payscore/serviceorder/1234/modify"][..],
        &["describe", "v3/payscore/serviceorder/1234/modify"][..],
    ] {
        let run = wxpay(args).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        let out = &run.stdout;
        assert!(
            out.starts_with(&format!("POST {MODIFY}\n  修改订单金额API\n")),
            "{out}"
        );
        assert!(out.contains("  APIv3: JSON"), "{out}");
        assert!(out.contains("  success: 200\n"), "{out}");
        assert!(
            out.contains("placeholders:\n  out_order_no = 1234\n"),
            "{out}"
        );
        // The body is the schema's example (tests/schema.rs checks such bodies).
        assert!(
            out.contains(&format!(
                "  wxpay post '{MODIFY}' -p out_order_no=1234 -d '{{\"appid\":"
            )),
            "{out}"
        );
        assert!(out.contains("}' --dry-run\n"), "{out}");
        assert!(out.contains("}' --check   # sends it"), "{out}");
        let body = r#"json!({"out_order_no": "1234", "json": {}})"#;
        for spelling in [
            format!("  client.chain(\"{MODIFY}\").post({body}).await?\n"),
            format!("  client[\"{MODIFY}\"].post({body}).await?\n"),
            format!("  chain!(client.v3.payscore.serviceorder._out_order_no_.modify).post({body}).await?\n"),
        ] {
            assert!(out.contains(&spelling), "{spelling}\n{out}");
        }
    }

    // a template and the dotted form: no values; every method of the path
    let run = wxpay(&["describe", "global.v3.customs.orders"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let heads: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with(char::is_uppercase))
        .collect();
    assert_eq!(
        heads,
        [
            "GET global/v3/customs/orders",
            "PATCH global/v3/customs/orders",
            "POST global/v3/customs/orders"
        ]
    );

    // an unsigned file, an APIv2 call needing the client certificate
    let run = wxpay(&["describe", "GET", "v3/billdownload/file"]).await;
    assert!(run.stdout.contains("unsigned file"), "{}", run.stdout);
    let run = wxpay(&["describe", "v2/secapi/pay/refund"]).await;
    assert!(run.stdout.contains("APIv2"), "{}", run.stdout);
    assert!(run.stdout.contains("TLS client certificate"));
    assert!(run
        .stdout
        .contains(r#"post(json!({"xml": {}, "security": true}))"#));
    assert!(
        run.stdout
            .contains("wxpay post v2/secapi/pay/refund -d '{}' --dry-run"),
        "{}",
        run.stdout
    );
    // An APIv2 GET is a signed URL (the 代扣签约 pages).
    let run = wxpay(&["describe", "v2/papay/entrustweb"]).await;
    assert!(
        run.stdout
            .contains("wxpay get v2/papay/entrustweb -q NAME=VALUE --url-only"),
        "{}",
        run.stdout
    );

    // --json: the operation and the values
    let run = wxpay(&["describe", "--json", "PATCH", "v3/x/nothing"]).await;
    assert_eq!(run.code, 2);
    let run = wxpay(&[
        "describe",
        "--json",
        "POST",
        "v3/payscore/serviceorder/A1/modify",
    ])
    .await;
    let list: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(list[0]["template"], MODIFY);
    assert_eq!(list[0]["values"]["out_order_no"], "A1");

    // unknown: exit 2, and what was probably meant
    let run = wxpay(&["describe", "POST", "v3/payscore/serviceorde/1234/modify"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains(&format!(
            "POST v3/payscore/serviceorde/1234/modify is not a known WeChat Pay endpoint; did you mean POST {MODIFY}"
        )),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_get_a_hint_and_are_sent_all_the_same() {
    let server = MockServer::start().await.unwrap();
    let dir = temp_dir("hint");
    let profile = server.write_profile(&dir).unwrap();
    let p = profile.display().to_string();
    let typo = "v3/payscore/serviceorde/{out_order_no}/modify";

    // dry run: the request on stdout as always, the hint on stderr
    let run = wxpay(&[
        "--profile",
        &p,
        "post",
        typo,
        "-p",
        "out_order_no=1234",
        "-d",
        "{}",
        "--dry-run",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stdout
        .contains("/v3/payscore/serviceorde/1234/modify\n"));
    assert!(
        run.stderr.contains(&format!(
            "wxpay: POST {typo} is not a known WeChat Pay endpoint; did you mean POST {MODIFY}"
        )),
        "{}",
        run.stderr
    );
    // a known path: no hint (the schema check reports the empty body: tests/cli_schema.rs)
    let run = wxpay(&[
        "--profile",
        &p,
        "post",
        MODIFY,
        "-p",
        "out_order_no=1234",
        "-d",
        "{}",
        "--dry-run",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("not a known"), "{}", run.stderr);
    // nor for the dotted form of a known path
    let run = wxpay(&["--profile", &p, "get", "v3.certificates", "--dry-run"]).await;
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));

    // sent: the mock answers 404, the hint follows the error line
    let run = wxpay(&[
        "--profile",
        &p,
        "post",
        typo,
        "-p",
        "out_order_no=1234",
        "-d",
        "{}",
    ])
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(
        server.hits("POST", "/v3/payscore/serviceorde/1234/modify"),
        1
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(
        lines[0].starts_with("404 RESOURCE_NOT_EXISTS"),
        "{}",
        run.stderr
    );
    assert!(lines[1].contains("did you mean POST v3/payscore/serviceorder/{out_order_no}/modify"));
    // a 404 on a known path (an order that does not exist) gets no hint
    let run = wxpay(&[
        "--profile",
        &p,
        "get",
        "v3/payscore/serviceorder",
        "-q",
        "out_order_no=NOPE",
        "-q",
        "service_id=S",
        "-q",
        "appid=wx1",
    ])
    .await;
    assert!(!run.stderr.contains("not a known"), "{}", run.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_scripts_complete_endpoint_paths_by_verb() {
    let bash = wxpay(&["completions", "bash"]).await;
    let zsh = wxpay(&["completions", "zsh"]).await;
    let fish = wxpay(&["completions", "fish"]).await;
    for run in [&bash, &zsh, &fish] {
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains(MODIFY));
        assert!(run.stdout.contains("v3/certificates"));
        assert!(run.stdout.contains("v2/pay/micropay"));
    }
    // zsh shows the summary beside each path
    assert!(zsh
        .stdout
        .contains(r#"v3/payscore/serviceorder/{out_order_no}/modify\:"修改订单金额API""#));
    // fish: one line per path, under its verb, with the helper clap defines
    assert!(fish
        .stdout
        .contains("function __fish_wxpay_using_subcommand"));
    assert!(fish.stdout.contains(&format!(
        "complete -c wxpay -n \"__fish_wxpay_using_subcommand post\" -f -a '{MODIFY}' -d '修改订单金额API'"
    )));
    assert!(!fish.stdout.contains(&format!(
        "__fish_wxpay_using_subcommand get\" -f -a '{MODIFY}'"
    )));
    // --help stays short: the paths are not listed as possible values
    let help = wxpay(&["post", "--help"]).await;
    assert!(!help.stdout.contains("possible values"), "{}", help.stdout);

    // bash, for real where it is installed: the verb filters the paths
    let script = temp_dir("bash").with_extension("bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let complete = |verb: &str, word: &str| -> Option<Vec<String>> {
        let line = format!("wxpay --profile x.json {verb} -p a=b {word}");
        let program = format!(
            "source {}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
             COMP_WORDS=(wxpay --profile x.json {verb} -p a=b '{word}'); COMP_CWORD=6; \
             _wxpay wxpay '{word}' b; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash")
            .args(["--norc", "-c", &program])
            .output()
            .ok()?;
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    };
    if let Some(post) = complete("post", "v3/payscore/serviceorder/") {
        assert!(post.contains(&MODIFY.to_owned()), "{post:?}");
        assert!(post
            .iter()
            .all(|p| p.starts_with("v3/payscore/serviceorder/")));
        let get = complete("get", "v3/payscore/serviceorder").unwrap();
        assert_eq!(get, ["v3/payscore/serviceorder"]);
        let delete = complete("delete", "v3/payscore/serviceorder").unwrap();
        assert!(delete.is_empty(), "{delete:?}");
    }
    let _ = std::fs::remove_file(&script);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wxpay_mock_logs_each_request_on_stderr_unless_quiet() {
    let dir = temp_dir("mocklog");
    let (mut child, mut lines) = runner::spawn_mock(&dir, &["--no-schema-check"]);
    lines.next().unwrap().unwrap(); // listening on …
    lines.next().unwrap().unwrap(); // profile written to …
    let p = dir.join("mock.json").display().to_string();

    // a good request
    let run = wxpay(&[
        "--profile",
        &p,
        "post",
        "v3/marketing/favor/coupon-stocks",
        "-d",
        "{}",
    ])
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    // a refused one: the profile's private key is not the merchant's
    let mut profile: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let other_key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/mock/data/platform_key.pem"
    );
    profile["merchant_private_key"] = other_key.into();
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, profile.to_string()).unwrap();
    let w = wrong.display().to_string();
    let body = r#"{"out_trade_no":"T2"}"#;
    let run = wxpay(&[
        "--profile",
        &w,
        "post",
        "v3/marketing/favor/coupon-stocks",
        "-d",
        body,
    ])
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    // what a dry run shows as signed, to compare with the mock's line
    let dry = wxpay(&[
        "--profile",
        &w,
        "post",
        "v3/marketing/favor/coupon-stocks",
        "-d",
        body,
        "--dry-run",
    ])
    .await;
    let (_, signed) = dry.stdout.split_once("--- signed message ---\n").unwrap();

    assert!(Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let log: Vec<&str> = stderr.lines().collect();
    assert_eq!(log.len(), 2, "{stderr}");
    // TIME METHOD TARGET STATUS VERDICT
    let good: Vec<&str> = log[0].splitn(5, ' ').collect();
    assert!(good[0].ends_with("+08:00"), "{}", log[0]);
    assert_eq!(
        &good[1..4],
        ["POST", "/v3/marketing/favor/coupon-stocks", "200"]
    );
    assert!(good[4].starts_with("ok: signature verified"), "{}", log[0]);
    let refused: Vec<&str> = log[1].splitn(5, ' ').collect();
    assert_eq!(
        &refused[1..4],
        ["POST", "/v3/marketing/favor/coupon-stocks", "401"]
    );
    assert!(refused[4].starts_with("refused: SIGN_ERROR, the signature does not verify"));
    // the message the mock verified: the dry run's, but for timestamp and nonce
    let (_, message) = log[1].split_once("; signed message ").unwrap();
    let message: String = serde_json::from_str(message).unwrap();
    let shape = |m: &str| -> Vec<String> {
        m.split('\n')
            .enumerate()
            .map(|(i, l)| {
                if i == 2 || i == 3 {
                    String::new()
                } else {
                    l.to_owned()
                }
            })
            .collect()
    };
    assert_eq!(shape(&message), shape(signed));
    assert!(message.starts_with("POST\n/v3/marketing/favor/coupon-stocks\n"));
    assert!(message.ends_with(&format!("\n{body}\n")));
    let c = Credentials::get();
    assert!(!stderr.contains(c.merchant_private_key.lines().nth(1).unwrap()));
    assert!(!stderr.contains(c.apiv3_key));

    // --quiet: nothing on stderr
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "--quiet", "--port", "0", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    lines.next().unwrap().unwrap();
    lines.next().unwrap().unwrap();
    let run = wxpay(&["--profile", &p, "get", "v3/certificates"]).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(stderr, "");
    std::fs::remove_dir_all(&dir).unwrap();
}
