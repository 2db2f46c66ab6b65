//! `wxpay invoke …`: front-end parameters on stdout, credentials from
//! flags, environment or profile, and exit 2 on bad or missing input.
//! Expected signatures come from the `openssl` CLI or are redone here with
//! OpenSSL, never from the SDK's signer.
#![cfg(feature = "cli")]

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use wechatpay_chain::mock::{Credentials, MockServer};
use wechatpay_chain::{json, Value};

#[path = "common/wxpay.rs"]
mod runner;
use runner::{wxpay_with as wxpay, Run};

const KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/src/mock/data/merchant_key.pem"
);

/// printf 'wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nprepay_id=wx201410272009395522657a690389285100\n' \
///   | openssl dgst -sha256 -sign src/mock/data/merchant_key.pem | base64 -w0
const JSAPI_PAY_SIGN: &str = "ESZLrBTzJH1pdGETvx3E9AdppQhiFAgFpKZokAjpT906EePnB4sCTsClr4wq691LEonxOqKrM0xW3bXcax3lsguO1S3V2DNK9p0WRAi/fsmug5yOBMRdfVrugUbId5ypvqpljVtzyv7FllqgP4zA9RZl6MEBqp4kgvZJAh62h9w8eA8b7XvEH+ENoovnSQoSiRQblVuIiZCwOlPYq8WLxqmmhoy7Zy34eCttTw0e6iHBliUzvVwIJZX3VA3uqouCQlz5jt4BGUdmLmlKE5q6sOUZRt4RFANaACLwvqygJIKW024qiCSK/EZAQ/JLDWIm+OGjJ3hbpB0AtJkccb9n9Q==";

/// printf 'wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nwx201410272009395522657a690389285100\n' \
///   | openssl dgst -sha256 -sign src/mock/data/merchant_key.pem | base64 -w0
const APP_SIGN: &str = "b9EAiYzabMN7Hz+TTdjqFRshkf+sgFEvAQRRjELsh6EFCwgGApuq08zXEIv/CgC/cUUbTUGkSzutMxD49bQqZn8stoTABWZxklPCPrgdXOaSxjx0w8mWCBvDpAW7ezYomXua6tdENPN917TyrYjlzehk6PEXG+2V4BLkA5Blryr3tcA8BcxQCAhmQqbzjyxWDUHF2w9CuSR8FnGh9UJ6oPV8jJcmtftRYsy4/DeAjJCNE8oNs1tZJg9CbCh+ewX1ERF7vLL44ApLsxeWewfRaf9qtEdubOaSxxOdGlFNDVKZBJxBjbdbnf1+G6QLxEdpfmZ3DEEDRJOd95BVboYJmg==";

const FIXED: [&str; 4] = [
    "--timestamp",
    "1554208460",
    "--nonce",
    "593BEC0C930BF1AFEB40B4A08C8FB242",
];

fn flags() -> Vec<&'static str> {
    vec![
        "--mchid",
        "1900000109",
        "--serial",
        "3775B6A45ACD588826D15E583A95F5DD2A00B0D8",
        "--private-key",
        KEY_FILE,
    ]
}

fn stdout_json(run: &Run) -> Value {
    assert_eq!(run.code, 0, "{}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn assert_no_secret(run: &Run) {
    let c = Credentials::get();
    let key_line = c.merchant_private_key.lines().nth(1).unwrap();
    for text in [&run.stdout, &run.stderr] {
        assert!(!text.contains(key_line), "key material in output:\n{text}");
        assert!(!text.contains(c.apiv2_key), "APIv2 key in output:\n{text}");
    }
}

fn hmac_upper(text: &str, key: &str) -> String {
    let key = PKey::hmac(key.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(text.as_bytes()).unwrap();
    signer
        .sign_to_vec()
        .unwrap()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[tokio::test]
async fn jsapi_and_app_from_flags() {
    let order = [
        "--appid",
        "wx2421b1c4370ec43b",
        "--prepay-id",
        "wx201410272009395522657a690389285100",
    ];
    let mut args = flags();
    args.extend(["invoke", "jsapi"]);
    args.extend(order);
    args.extend(FIXED);
    let run = wxpay(&args, &[], None).await;
    assert_eq!(
        stdout_json(&run),
        json!({
            "appId": "wx2421b1c4370ec43b",
            "timeStamp": "1554208460",
            "nonceStr": "593BEC0C930BF1AFEB40B4A08C8FB242",
            "package": "prepay_id=wx201410272009395522657a690389285100",
            "signType": "RSA",
            "paySign": JSAPI_PAY_SIGN,
        })
    );
    // the object's keys in WeChat's order, as the front end passes it on
    assert!(run.stdout.find("\"appId\"") < run.stdout.find("\"paySign\""));
    assert_no_secret(&run);

    let mut args = flags();
    args.extend(["invoke", "app"]);
    args.extend(order);
    args.extend(FIXED);
    let run = wxpay(&args, &[], None).await;
    let app = stdout_json(&run);
    assert_eq!(app["sign"], APP_SIGN);
    assert_eq!(app["partnerid"], "1900000109");
    assert_eq!(app["package"], "Sign=WXPay");
}

#[tokio::test]
async fn apiv2_and_payscore_from_a_profile_and_the_environment() {
    let server = MockServer::start().await.unwrap();
    let dir = runner::temp_dir("wxpay-cli-invoke", "profile");
    let profile = server.write_profile(&dir).unwrap();
    let profile = profile.display().to_string();
    let c = Credentials::get();

    // v2-jsapi, HMAC-SHA256, credentials from the profile
    let run = wxpay(
        &[
            "--profile",
            &profile,
            "invoke",
            "v2-jsapi",
            "--appid",
            "wx2421b1c4370ec43b",
            "--prepay-id",
            "wx2014",
            "--sign-type",
            "HMAC-SHA256",
            "--timestamp",
            "1554208460",
            "--nonce",
            "N",
        ],
        &[],
        None,
    )
    .await;
    let params = stdout_json(&run);
    let text = format!(
        "appId=wx2421b1c4370ec43b&nonceStr=N&package=prepay_id=wx2014&signType=HMAC-SHA256&timeStamp=1554208460&key={}",
        c.apiv2_key
    );
    assert_eq!(params["paySign"], hmac_upper(&text, c.apiv2_key));
    assert_eq!(params["signType"], "HMAC-SHA256");
    assert_no_secret(&run);

    // payscore-detail, credentials from the environment
    let env = [("WECHATPAY_PROFILE", profile.as_str())];
    let args = [
        "invoke",
        "payscore-detail",
        "--service-id",
        "2002000000000558128851361561536",
        "--out-order-no",
        "1234323JKHDFE1243252",
        "--timestamp",
        "1530097563",
        "--nonce",
        "zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2",
    ];
    let run = wxpay(&args, &env, None).await;
    let page = stdout_json(&run);
    let text = format!(
        "mch_id=1900000109&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&out_order_no=1234323JKHDFE1243252&service_id=2002000000000558128851361561536&sign_type=HMAC-SHA256&timestamp=1530097563&key={}",
        c.apiv2_key
    );
    let sign = hmac_upper(&text, c.apiv2_key);
    assert_eq!(page["sign"], sign);
    assert_eq!(page["sign_type"], "HMAC-SHA256");

    let mut with_query = args.to_vec();
    with_query.push("--query");
    let run = wxpay(&with_query, &env, None).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        format!("mch_id=1900000109&service_id=2002000000000558128851361561536&out_order_no=1234323JKHDFE1243252&timestamp=1530097563&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&sign_type=HMAC-SHA256&sign={sign}\n")
    );
}

#[tokio::test]
async fn bad_or_missing_input_exits_2() {
    let cases: [(&[&str], &str); 6] = [
        (&["invoke", "jsapi", "--appid", "wx1"], "--prepay-id"),
        (
            &[
                "invoke",
                "jsapi",
                "--appid",
                "wx1",
                "--prepay-id",
                "prepay_id=wx2014",
            ],
            "bare prepay id",
        ),
        (
            &[
                "invoke",
                "v2-jsapi",
                "--appid",
                "wx1",
                "--prepay-id",
                "wx2014",
                "--sign-type",
                "SHA1",
            ],
            "MD5, HMAC-SHA256",
        ),
        (
            &[
                "invoke",
                "payscore-detail",
                "--service-id",
                "S",
                "--out-order-no",
                "O",
            ],
            "--apiv2-key",
        ),
        (
            &[
                "invoke",
                "jsapi",
                "--appid",
                "wx1",
                "--prepay-id",
                "wx2014",
                "--nonce",
                "not a nonce",
            ],
            "1 to 32",
        ),
        (
            &["invoke", "app", "--appid", "", "--prepay-id", "wx2014"],
            "appid",
        ),
    ];
    for (tail, expected) in cases {
        let mut args = flags();
        args.extend(tail);
        let run = wxpay(&args, &[], None).await;
        assert_eq!(run.code, 2, "{tail:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{tail:?}: {}", run.stdout);
        assert!(run.stderr.contains(expected), "{tail:?}: {}", run.stderr);
    }
    // no merchant id at all
    let run = wxpay(
        &["invoke", "jsapi", "--appid", "wx1", "--prepay-id", "wx2014"],
        &[],
        None,
    )
    .await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no merchant id"), "{}", run.stderr);
}
