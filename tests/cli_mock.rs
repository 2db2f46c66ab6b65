//! `wxpay mock` out of process: first line, profile, a real call, clean exit.
#![cfg(feature = "cli")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use wechatpay_chain::{Client, Value};

#[tokio::test]
async fn wxpay_mock_serves_writes_the_profile_and_exits_0_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("wxpay-mock-cli-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_wxpay"))
        .args(["mock", "--port", "0", "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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

    let profile: Value =
        serde_json::from_slice(&std::fs::read(dir.join("mock.json")).unwrap()).unwrap();
    assert_eq!(profile["base_url"], base_url.as_str());
    let file = |k: &str| dir.join(profile[k].as_str().unwrap());
    let client = Client::builder()
        .mchid(profile["mchid"].as_str().unwrap())
        .merchant_serial(profile["merchant_serial"].as_str().unwrap())
        .private_key_file(file("merchant_private_key"))
        .platform_public_key_file(
            profile["platform_public_key_id"].as_str().unwrap(),
            file("platform_public_key"),
        )
        .base_url(&base_url)
        .build()
        .unwrap();
    let res = client["v3/pay/transactions/native"]
        .post(serde_json::json!({"json": {}}))
        .await
        .unwrap();
    assert_eq!(
        res.verified_by(),
        profile["platform_public_key_id"].as_str()
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}
