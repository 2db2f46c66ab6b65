//! The `wxpay` binary, driven as a script would drive it: against the mock
//! (in process, and `wxpay mock` out of process) and a closed port. Every
//! exit code, dry-run output, both path forms, placeholder encoding,
//! profile, environment, flags over profile, and no secret in any output.
#![cfg(feature = "cli")]

use std::path::{Path, PathBuf};
use std::process::Command;

use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::{json, Value};

mod common;
#[path = "common/wxpay.rs"]
mod runner;
use runner::{wxpay_with as wxpay, Run};

fn temp_dir(name: &str) -> PathBuf {
    runner::temp_dir("wxpay-cli", name)
}

async fn mock_with_profile(name: &str) -> (MockServer, PathBuf) {
    let server = MockServer::start().await.unwrap();
    let dir = temp_dir(name);
    let profile = server.write_profile(&dir).unwrap();
    (server, profile)
}

fn profile_arg(profile: &Path) -> String {
    profile.display().to_string()
}

/// No output may contain key material.
fn assert_no_secret(run: &Run) {
    let c = Credentials::get();
    let key_line = c.merchant_private_key.lines().nth(1).unwrap();
    for text in [&run.stdout, &run.stderr] {
        assert!(
            !text.contains(key_line),
            "private key material in output:\n{text}"
        );
        assert!(!text.contains(c.apiv3_key), "APIv3 key in output:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_with_a_profile_in_both_path_forms_and_exit_codes() {
    let (server, profile) = mock_with_profile("calls").await;
    // What was sent, read back from the echo (the schema check: tests/cli_schema.rs).
    server.check_schemas(false);
    server.answer_with_echo(true);
    let p = profile_arg(&profile);

    // slash form, -d inline: 0, pretty JSON on stdout, summary on stderr
    let run = wxpay(
        &[
            "--profile",
            &p,
            "post",
            "v3/marketing/favor/coupon-stocks",
            "-d",
            r#"{"out_trade_no":"T1"}"#,
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let echo: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(echo["echo"]["out_trade_no"], "T1");
    assert!(run.stdout.contains("\n  \"echo\""), "pretty-printed");
    assert!(
        run.stderr.contains("200, Request-ID ") && run.stderr.contains("verified by PUB_KEY_ID_"),
        "{}",
        run.stderr
    );
    assert_no_secret(&run);

    // dotted form, placeholder encoding, query, body from stdin, --include
    let run = wxpay(
        &[
            "get",
            "v3.marketing.favor.stocks._stock_id_",
            "-p",
            "stock_id=a/b c?",
            "-q",
            "mchid=1900000109",
            "-i",
        ],
        &[("WECHATPAY_PROFILE", &p)],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.starts_with("HTTP/1.1 200 OK\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Wechatpay-Signature: "));
    let body = run.stdout.split("\n\n").nth(1).unwrap();
    let echo: Value = serde_json::from_str(body).unwrap();
    assert_eq!(echo["path_params"]["stock_id"], "a/b c?");
    assert_eq!(echo["query"]["mchid"], "1900000109");
    let run = wxpay(
        &[
            "--profile",
            &p,
            "post",
            "v3/marketing/favor/coupon-stocks",
            "-d",
            "@-",
        ],
        &[],
        Some(r#"{"from":"stdin"}"#),
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap()["echo"]["from"],
        "stdin"
    );

    // 1: WeChat Pay answered an error, its JSON on stdout
    let run = wxpay(&["--profile", &p, "get", "v3/no/such/endpoint"], &[], None).await;
    assert_eq!(run.code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap()["code"],
        "RESOURCE_NOT_EXISTS"
    );
    // flags override the profile: another merchant id is refused by the mock
    let run = wxpay(
        &[
            "--profile",
            &p,
            "--mchid",
            "1900000999",
            "post",
            "v3/marketing/favor/coupon-stocks",
            "-d",
            "{}",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap()["code"],
        "SIGN_ERROR"
    );

    // 2: usage and configuration
    assert_eq!(
        wxpay(&["get", "v3/certificates"], &[], None).await.code,
        2,
        "no credentials"
    );
    let run = wxpay(
        &["--profile", &p, "post", "v3/x", "-d", "{not json"],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("-d is not JSON"));
    assert_eq!(
        wxpay(&["--profile", &p, "get", "v3/x/{id}"], &[], None)
            .await
            .code,
        2,
        "missing placeholder"
    );
    assert_eq!(
        wxpay(
            &["--profile", &p, "get", "v3/x", "-p", "novalue"],
            &[],
            None
        )
        .await
        .code,
        2
    );
    assert_eq!(
        wxpay(
            &["--profile", "/nonexistent/mock.json", "get", "v3/x"],
            &[],
            None
        )
        .await
        .code,
        2
    );

    // 3: verification failed
    let faults = format!("{}_mock/faults", server.base_url());
    reqwest::Client::new()
        .post(&faults)
        .body(r#"{"fault":"probe_signature"}"#)
        .send()
        .await
        .unwrap();
    let run = wxpay(
        &[
            "--profile",
            &p,
            "post",
            "v3/marketing/favor/coupon-stocks",
            "-d",
            "{}",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("probe signature"));
    // --skip-verify accepts it, and says so
    reqwest::Client::new()
        .post(&faults)
        .body(r#"{"fault":"probe_signature"}"#)
        .send()
        .await
        .unwrap();
    let run = wxpay(
        &[
            "--profile",
            &p,
            "post",
            "v3/marketing/favor/coupon-stocks",
            "-d",
            "{}",
            "--skip-verify",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("not verified (--skip-verify)"));

    // 4: transport
    let run = wxpay(
        &[
            "--profile",
            &p,
            "--base-url",
            "http://127.0.0.1:9/",
            "get",
            "v3/certificates",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    std::fs::remove_dir_all(profile.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_request_and_the_exact_signed_message() {
    let (_server, profile) = mock_with_profile("dry").await;
    let p = profile_arg(&profile);
    let body = r#"{"appid":"wxd678efh567hg6787","total_amount":39800}"#;
    // a closed port: nothing is sent
    let run = wxpay(
        &[
            "--profile",
            &p,
            "--base-url",
            "http://127.0.0.1:9/",
            "post",
            "v3/payscore/serviceorder/{out_order_no}/modify",
            "-p",
            "out_order_no=1234323JKHDFE1243252",
            "-d",
            body,
            "--dry-run",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("POST http://127.0.0.1:9/v3/payscore/serviceorder/1234323JKHDFE1243252/modify")
    );
    assert!(run.stdout.contains("\nAccept: application/json\n"));
    assert!(run.stdout.contains("\nWechatpay-Serial: PUB_KEY_ID_"));
    assert!(run
        .stdout
        .contains("\nAuthorization: WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\""));
    let (head, message) = run.stdout.split_once("\n--- signed message ---\n").unwrap();
    assert!(head.ends_with(&format!("\n\n{body}")));
    let parts: Vec<&str> = message.split('\n').collect();
    assert_eq!(parts[0], "POST");
    assert_eq!(
        parts[1],
        "/v3/payscore/serviceorder/1234323JKHDFE1243252/modify"
    );
    assert!(parts[2].parse::<i64>().is_ok() && parts[3].len() == 32);
    assert_eq!(parts[4], body);
    assert_eq!(parts[5], "");
    assert_no_secret(&run);
    std::fs::remove_dir_all(profile.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_variables_alone_are_enough() {
    let server = MockServer::start().await.unwrap();
    let dir = temp_dir("env");
    server.write_profile(&dir).unwrap();
    let c = Credentials::get();
    let key = dir.join("apiclient_key.pem").display().to_string();
    let cert = dir.join("wechatpay_cert.pem").display().to_string();
    let env = [
        ("WECHATPAY_MCHID", c.mchid),
        ("WECHATPAY_SERIAL", c.merchant_serial),
        ("WECHATPAY_PRIVATE_KEY", key.as_str()),
        ("WECHATPAY_PLATFORM_CERTS", cert.as_str()),
        ("WECHATPAY_APIV3_KEY", c.apiv3_key),
        ("WECHATPAY_BASE_URL", server.base_url()),
    ];
    let run = wxpay(&["get", "v3/certificates"], &env, None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stderr
        .contains(&format!("verified by {}", c.platform_certificate_serial)));
    // --help with the environment set shows no secret value
    let run = wxpay(&["--help"], &env, None).await;
    assert_eq!(run.code, 0);
    assert_no_secret(&run);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// No output may contain any line of `pem`, nor PEM armour.
fn assert_no_pem(run: &Run, pem: &str) {
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains("BEGIN"), "PEM armour in output:\n{text}");
        for line in pem.lines().filter(|l| !l.trim().is_empty()) {
            assert!(!text.contains(line), "key line `{line}` in output:\n{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_content_where_a_path_belongs_is_refused_never_echoed() {
    let server = MockServer::start().await.unwrap();
    let dir = temp_dir("pem-as-path");
    server.write_profile(&dir).unwrap();
    let c = Credentials::get();
    let key_file = dir.join("apiclient_key.pem").display().to_string();
    let cert_file = dir.join("wechatpay_cert.pem").display().to_string();
    let env = |private_key: &str| {
        vec![
            ("WECHATPAY_MCHID", c.mchid.to_owned()),
            ("WECHATPAY_SERIAL", c.merchant_serial.to_owned()),
            ("WECHATPAY_PRIVATE_KEY", private_key.to_owned()),
            ("WECHATPAY_PLATFORM_CERTS", cert_file.clone()),
            ("WECHATPAY_BASE_URL", server.base_url().to_owned()),
        ]
    };
    // the key pasted into the environment: usage error, named, not echoed
    let pasted = env(c.merchant_private_key);
    let pairs: Vec<(&str, &str)> = pasted.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = wxpay(&["get", "v3/certificates"], &pairs, None).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("looks like PEM content") && run.stderr.contains("@"),
        "{}",
        run.stderr
    );
    assert_no_pem(&run, c.merchant_private_key);
    // nor does --help show it as the variable's value
    let run = wxpay(&["--help"], &pairs, None).await;
    assert_eq!(run.code, 0);
    assert_no_pem(&run, c.merchant_private_key);

    // the same as a flag, and a certificate pasted where its file belongs
    let run = wxpay(
        &[
            "--profile",
            &dir.join("mock.json").display().to_string(),
            "--platform-cert",
            c.platform_certificate,
            "get",
            "v3/certificates",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_no_pem(&run, c.platform_certificate);

    // @FILE reads the file, like a plain path
    let at = env(&format!("@{key_file}"));
    let pairs: Vec<(&str, &str)> = at.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = wxpay(&["get", "v3/certificates"], &pairs, None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_notify_encrypt_decrypt_and_completions() {
    let (server, profile) = mock_with_profile("tools").await;
    let p = profile_arg(&profile);
    let c = Credentials::get();

    let out = temp_dir("certs");
    let run = wxpay(
        &[
            "--profile",
            &p,
            "certificates",
            "--output",
            &out.display().to_string(),
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with(c.platform_certificate_serial));
    let written = std::fs::read_to_string(
        out.join(format!("wechatpay_{}.pem", c.platform_certificate_serial)),
    )
    .unwrap();
    assert_eq!(written.trim(), c.platform_certificate.trim());
    std::fs::remove_dir_all(&out).unwrap();

    // a notification captured from the mock
    let client = server
        .client_builder()
        .apiv3_key(c.apiv3_key)
        .build()
        .unwrap();
    let capture = httpmock::MockServer::start_async().await;
    let received = capture
        .mock_async(|when, then| {
            when.path("/n");
            then.status(204);
        })
        .await;
    client["v3/payscore/serviceorder"]
        .post(json!({"json": {"out_order_no": "CLI1", "appid": "wx1", "service_id": "S", "service_introduction": "x",
            "time_range": {}, "risk_fund": {"name": "DEPOSIT", "amount": 1}, "notify_url": capture.url("/n")}}))
        .await
        .unwrap();
    server.user_confirms("CLI1", None).unwrap();
    server
        .wait_for_deliveries(1, std::time::Duration::from_secs(5))
        .await;
    received.assert_async().await;
    let delivery = server.notifications().remove(0);
    let dir = profile.parent().unwrap();
    let body_file = dir.join("notification.json");
    std::fs::write(&body_file, &delivery.body).unwrap();
    // sign it again now, as the mock does, for the headers file
    let key = openssl::pkey::PKey::private_key_from_pem(include_bytes!(
        "../src/mock/data/platform_key.pem"
    ))
    .unwrap();
    let ts = wechatpay_chain::sign::unix_now().to_string();
    let message = wechatpay_chain::sign::response_message(&ts, "n0nce", delivery.body.as_bytes());
    let signature = wechatpay_chain::crypto::sign_sha256_rsa(&key, &message).unwrap();
    let headers = json!({"Wechatpay-Timestamp": ts, "Wechatpay-Nonce": "n0nce", "Wechatpay-Signature": signature,
                         "Wechatpay-Serial": c.platform_certificate_serial});
    let headers_file = dir.join("headers.json");
    std::fs::write(&headers_file, headers.to_string()).unwrap();
    let args = [
        "--profile",
        &p,
        "notify",
        "--body",
        body_file.to_str().unwrap(),
        "--headers",
        headers_file.to_str().unwrap(),
    ];
    let run = wxpay(&args, &[], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&run.stdout).unwrap()["out_order_no"],
        "CLI1"
    );
    assert!(run.stderr.contains("PAYSCORE.USER_CONFIRM"));
    std::fs::write(
        &body_file,
        delivery.body.replace("USER_CONFIRM", "USER_PAID"),
    )
    .unwrap();
    let run = wxpay(&args, &[], None).await;
    assert_eq!(run.code, 3, "tampered: {}", run.stderr);
    // the same, headers given with -H
    let run = wxpay(
        &[
            "--profile",
            &p,
            "notify",
            "--body",
            body_file.to_str().unwrap(),
            "-H",
            "Wechatpay-Nonce: x",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 3);

    // encrypt: ciphertext on stdout, serial on stderr; decrypt with the merchant key
    let run = wxpay(&["--profile", &p, "encrypt", "张三"], &[], None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run
        .stderr
        .contains(&format!("Wechatpay-Serial: {}", c.platform_public_key_id)));
    let merchant = openssl::x509::X509::from_pem(c.merchant_certificate.as_bytes())
        .unwrap()
        .public_key()
        .unwrap();
    let sealed = wechatpay_chain::crypto::rsa_oaep_encrypt(&merchant, "李四".as_bytes()).unwrap();
    let run = wxpay(&["--profile", &p, "decrypt", &sealed], &[], None).await;
    assert_eq!((run.code, run.stdout.trim()), (0, "李四"));
    assert_eq!(
        wxpay(&["--profile", &p, "decrypt", "bm90IGZvciB1cw=="], &[], None)
            .await
            .code,
        3
    );
    assert_eq!(
        wxpay(&["--profile", &p, "encrypt", &"x".repeat(215)], &[], None)
            .await
            .code,
        2
    );

    let run = wxpay(&["completions", "bash"], &[], None).await;
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("wxpay"));

    // issue 23.6: with standard output closed (`… | head -c0`) each of them
    // is a usage failure that says so, never a panic
    #[cfg(unix)]
    std::fs::write(&body_file, &delivery.body).unwrap();
    for command in [
        vec!["--profile", p.as_str(), "encrypt", "张三"],
        vec!["--profile", p.as_str(), "decrypt", sealed.as_str()],
        args.to_vec(),
        vec!["--profile", p.as_str(), "certificates"],
        vec!["completions", "bash"],
        vec!["mock", "--port", "0", "--quiet"],
    ] {
        let run = runner::wxpay_with_closed_stdout(&command, &[]).await;
        assert_eq!(run.code, 2, "{command:?}: {}", run.stderr);
        assert!(
            !run.stderr.contains("panicked"),
            "{command:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("standard output"),
            "{command:?}: {}",
            run.stderr
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

// ---- issue 23.7: every failure caused by the answer has its own code ---------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_too_large_or_malformed_are_not_usage_errors() {
    let (_server, profile) = mock_with_profile("bad-answers").await;
    let p = profile_arg(&profile);
    let stub = httpmock::MockServer::start_async().await;
    common::respond(
        &stub,
        Some((httpmock::Method::GET, "/v3/certificates")),
        200,
        vec![b'{'; wechatpay_chain::client::MAX_RESPONSE_BYTES + 1],
    )
    .await;
    common::respond(
        &stub,
        Some((httpmock::Method::POST, "/pay/orderquery")),
        200,
        "<xml><return_code>SUCCESS</return_code><sign>",
    )
    .await;
    let base = format!("{}/", stub.base_url());
    // too large: the answer could not be read, as when a connection breaks
    let run = wxpay(
        &[
            "--profile",
            &p,
            "--base-url",
            &base,
            "get",
            "v3/certificates",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
    // malformed APIv2 XML: not an answer that can be verified
    let run = wxpay(
        &[
            "--profile",
            &p,
            "--base-url",
            &base,
            "post",
            "v2/pay/orderquery",
            "-d",
            r#"{"appid":"wx1","out_trade_no":"T1"}"#,
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("XML"), "{}", run.stderr);
    std::fs::remove_dir_all(profile.parent().unwrap()).unwrap();
}

// ---- issue 23.4 and 23.5: what is never echoed -------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_password_and_a_key_given_as_profile_are_not_echoed() {
    let (_server, profile) = mock_with_profile("echo").await;
    let p = profile_arg(&profile);
    let run = wxpay(
        &[
            "--profile",
            &p,
            "--base-url",
            "https://merchant:hunter2-secret@api.mch.weixin.qq.com/",
            "get",
            "v3/certificates",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("hunter2-secret"), "{}", run.stderr);
    assert!(run.stderr.contains("credentials"), "{}", run.stderr);

    let token = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";
    let run = wxpay(
        &["get", "v3/certificates"],
        &[("WECHATPAY_PROFILE", token)],
        None,
    )
    .await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!run.stderr.contains(token), "{}", run.stderr);
    assert!(run.stderr.contains("profile"), "{}", run.stderr);
    std::fs::remove_dir_all(profile.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wxpay_mock_serves_writes_the_profile_and_exits_0_on_sigterm() {
    let dir = temp_dir("mock");
    let (mut child, mut lines) = runner::spawn_mock(&dir, &["--no-schema-check"]);
    let first = lines.next().unwrap().unwrap();
    let base_url = first.strip_prefix("listening on ").unwrap().to_owned();
    assert!(
        base_url.starts_with("http://127.0.0.1:") && base_url.ends_with('/'),
        "{first}"
    );
    assert!(lines
        .next()
        .unwrap()
        .unwrap()
        .starts_with("profile written to"));
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("console at {base_url}_mock/")
    );

    let p = dir.join("mock.json").display().to_string();
    let run = wxpay(
        &[
            "--profile",
            &p,
            "post",
            "v3/marketing/favor/coupon-stocks",
            "-d",
            "{}",
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn dry_run_and_url_only_show_apiv2_calls_signed() {
    let (server, profile) = mock_with_profile("apiv2").await;
    let profile = profile_arg(&profile);
    let key = Credentials::get().apiv2_key;
    let run = wxpay(
        &[
            "post",
            "v2/pay/orderquery",
            "-d",
            r#"{"out_trade_no":"1217752501201407033233368018"}"#,
            "--dry-run",
            "--profile",
            &profile,
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with(&format!("POST {}pay/orderquery\n", server.base_url())),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("Authorization"), "{}", run.stdout);
    let xml = run
        .stdout
        .lines()
        .find(|l| l.starts_with("<xml>"))
        .unwrap_or_else(|| panic!("no XML body in {}", run.stdout));
    let fields = wechatpay_chain::v2::xml::parse(xml.as_bytes()).unwrap();
    assert_eq!(fields["out_trade_no"], "1217752501201407033233368018");
    assert_eq!(fields["nonce_str"].as_str().unwrap().len(), 32);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .filter(|(name, _)| name.as_str() != "sign")
        .map(|(name, value)| (name.as_str(), value.as_str().unwrap()))
        .collect();
    assert_eq!(fields["sign"], common::apiv2_md5(&pairs, key));
    assert_no_secret(&run);
    assert!(!run.stdout.contains(key) && !run.stderr.contains(key));

    let run = wxpay(
        &[
            "get",
            "v2/papay/entrustweb",
            "-q",
            "plan_id=12535",
            "-q",
            "contract_display_account=微信 代扣&1",
            "--url-only",
            "--profile",
            &profile,
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let url = run.stdout.trim();
    assert!(
        url.starts_with(&format!("{}papay/entrustweb?", server.base_url())),
        "{url}"
    );
    // The URL alone is accepted: the mock checks the signed query.
    let page = reqwest::get(url).await.unwrap().text().await.unwrap();
    let answer = wechatpay_chain::v2::xml::parse(page.as_bytes()).unwrap();
    assert_eq!(answer["return_code"], "SUCCESS", "{page}");
    assert_eq!(answer["contract_display_account"], "微信 代扣&1");

    // An APIv2 business refusal: its fields on stdout, exit 1 like any API error.
    let run = wxpay(
        &[
            "post",
            "v2/pay/orderquery",
            "-d",
            r#"{"out_trade_no":"NO-SUCH-ORDER"}"#,
            "--profile",
            &profile,
        ],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    let fields: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(fields["result_code"], "FAIL", "{}", run.stdout);
    assert!(run.stderr.contains("APIv2"), "{}", run.stderr);
}
