//! Front-end invocation parameters against rules written out here by hand
//! (FLOWS.md §6, WeChat Pay's "调起支付" pages), never against our signer:
//! the RSA messages are spelled out and verified with the merchant
//! certificate's public key through OpenSSL, the fixed-input signatures were
//! computed once with the `openssl` CLI (PKCS#1 v1.5 is deterministic), and
//! the APIv2 rule is redone with OpenSSL's MD5 and HMAC.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use openssl::hash::{hash, MessageDigest};
use openssl::pkey::{PKey, Public};
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use wechatpay_chain::v2::sign::SignType;
use wechatpay_chain::{json, Client, Error, Value};

mod common;

const APPID: &str = "wx2421b1c4370ec43b";
const PREPAY_ID: &str = "wx201410272009395522657a690389285100";
const TIMESTAMP: i64 = 1554208460;
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";
const APIV2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

/// printf 'wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nprepay_id=wx201410272009395522657a690389285100\n' \
///   | openssl dgst -sha256 -sign src/mock/data/merchant_key.pem | base64 -w0
const JSAPI_PAY_SIGN: &str = "ESZLrBTzJH1pdGETvx3E9AdppQhiFAgFpKZokAjpT906EePnB4sCTsClr4wq691LEonxOqKrM0xW3bXcax3lsguO1S3V2DNK9p0WRAi/fsmug5yOBMRdfVrugUbId5ypvqpljVtzyv7FllqgP4zA9RZl6MEBqp4kgvZJAh62h9w8eA8b7XvEH+ENoovnSQoSiRQblVuIiZCwOlPYq8WLxqmmhoy7Zy34eCttTw0e6iHBliUzvVwIJZX3VA3uqouCQlz5jt4BGUdmLmlKE5q6sOUZRt4RFANaACLwvqygJIKW024qiCSK/EZAQ/JLDWIm+OGjJ3hbpB0AtJkccb9n9Q==";

/// printf 'wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nwx201410272009395522657a690389285100\n' \
///   | openssl dgst -sha256 -sign src/mock/data/merchant_key.pem | base64 -w0
const APP_SIGN: &str = "b9EAiYzabMN7Hz+TTdjqFRshkf+sgFEvAQRRjELsh6EFCwgGApuq08zXEIv/CgC/cUUbTUGkSzutMxD49bQqZn8stoTABWZxklPCPrgdXOaSxjx0w8mWCBvDpAW7ezYomXua6tdENPN917TyrYjlzehk6PEXG+2V4BLkA5Blryr3tcA8BcxQCAhmQqbzjyxWDUHF2w9CuSR8FnGh9UJ6oPV8jJcmtftRYsy4/DeAjJCNE8oNs1tZJg9CbCh+ewX1ERF7vLL44ApLsxeWewfRaf9qtEdubOaSxxOdGlFNDVKZBJxBjbdbnf1+G6QLxEdpfmZ3DEEDRJOd95BVboYJmg==";

/// printf 'appId=wx2421b1c4370ec43b&nonceStr=593BEC0C930BF1AFEB40B4A08C8FB242&package=prepay_id=wx201410272009395522657a690389285100&signType=MD5&timeStamp=1554208460&key=192006250b4c09247ec02edce69f6a2d' \
///   | openssl dgst -md5
const V2_JSAPI_MD5: &str = "911698BDACD31363E8265AEE51CD2FA6";

/// printf 'appId=…&signType=HMAC-SHA256&timeStamp=1554208460&key=192006250b4c09247ec02edce69f6a2d' \
///   | openssl dgst -sha256 -hmac 192006250b4c09247ec02edce69f6a2d
const V2_JSAPI_HMAC: &str = "9548346C1D2289C8E4C69759ADC82D410EBC55EF8053D8A59895F5D293421D5D";

fn client() -> Client {
    Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .apiv2_key(APIV2_KEY)
        .build_for_signing_only()
        .unwrap()
}

fn merchant_public_key() -> PKey<Public> {
    X509::from_pem(&common::read("merchant_cert.pem"))
        .unwrap()
        .public_key()
        .unwrap()
}

/// SHA256withRSA verification with OpenSSL directly.
fn rsa_verifies(message: &str, signature_b64: &str) -> bool {
    let key = merchant_public_key();
    let signature = BASE64.decode(signature_b64).unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &key).unwrap();
    verifier.update(message.as_bytes()).unwrap();
    verifier.verify(&signature).unwrap()
}

fn md5_upper(text: &str) -> String {
    hex_upper(&hash(MessageDigest::md5(), text.as_bytes()).unwrap())
}

fn hmac_sha256_upper(text: &str, key: &str) -> String {
    let key = PKey::hmac(key.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(text.as_bytes()).unwrap();
    hex_upper(&signer.sign_to_vec().unwrap())
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The keys of a serialized object in order, and that every value is a string.
fn keys_all_strings(value: &Value) -> Vec<String> {
    let object = value.as_object().expect("an object");
    for (k, v) in object {
        assert!(v.is_string(), "`{k}` is not a string: {v}");
    }
    object.keys().cloned().collect()
}

#[test]
fn jsapi_known_answer() {
    let params = client()
        .invocation()
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .jsapi(APPID, PREPAY_ID)
        .unwrap();
    let json = serde_json::to_value(&params).unwrap();
    assert_eq!(
        json,
        json!({
            "appId": "wx2421b1c4370ec43b",
            "timeStamp": "1554208460",
            "nonceStr": "593BEC0C930BF1AFEB40B4A08C8FB242",
            "package": "prepay_id=wx201410272009395522657a690389285100",
            "signType": "RSA",
            "paySign": JSAPI_PAY_SIGN,
        })
    );
    assert_eq!(
        keys_all_strings(&json),
        [
            "appId",
            "timeStamp",
            "nonceStr",
            "package",
            "signType",
            "paySign"
        ]
    );
    // the documented message: four lines, each ending in \n, the last too
    let message = "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nprepay_id=wx201410272009395522657a690389285100\n";
    assert!(rsa_verifies(message, &params.pay_sign));
    // not without the final line feed, nor with `signType` as a fifth line
    assert!(!rsa_verifies(message.trim_end(), &params.pay_sign));
    assert!(!rsa_verifies(&format!("{message}RSA\n"), &params.pay_sign));
}

#[test]
fn app_known_answer() {
    let params = client()
        .invocation()
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .app(APPID, PREPAY_ID)
        .unwrap();
    let json = serde_json::to_value(&params).unwrap();
    assert_eq!(
        json,
        json!({
            "appid": "wx2421b1c4370ec43b",
            "partnerid": "1900000109",
            "prepayid": "wx201410272009395522657a690389285100",
            "package": "Sign=WXPay",
            "noncestr": "593BEC0C930BF1AFEB40B4A08C8FB242",
            "timestamp": "1554208460",
            "sign": APP_SIGN,
        })
    );
    assert_eq!(
        keys_all_strings(&json),
        [
            "appid",
            "partnerid",
            "prepayid",
            "package",
            "noncestr",
            "timestamp",
            "sign"
        ]
    );
    // the prepay id bare on the fourth line, not `prepay_id=…`
    assert!(rsa_verifies(
        "wx2421b1c4370ec43b\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\nwx201410272009395522657a690389285100\n",
        &params.sign
    ));
    assert_ne!(params.sign, JSAPI_PAY_SIGN);
}

#[test]
fn fresh_timestamp_and_nonce_by_default() {
    let client = client();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let a = client.invocation().jsapi(APPID, PREPAY_ID).unwrap();
    let b = client.invocation().jsapi(APPID, PREPAY_ID).unwrap();
    let stamp: u64 = a.time_stamp.parse().unwrap();
    assert!(
        stamp >= before && stamp <= before + 5,
        "{stamp} vs {before}"
    );
    assert_eq!(a.time_stamp.len(), 10, "seconds, not milliseconds");
    assert_eq!(a.nonce_str.len(), 32);
    assert!(a.nonce_str.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_ne!(a.nonce_str, b.nonce_str);
    let message = format!(
        "{APPID}\n{}\n{}\nprepay_id={PREPAY_ID}\n",
        a.time_stamp, a.nonce_str
    );
    assert!(rsa_verifies(&message, &a.pay_sign));
}

#[test]
fn from_the_create_order_answer() {
    let answer = json!({"prepay_id": PREPAY_ID});
    let invocation = client().invocation().timestamp(TIMESTAMP).nonce(NONCE);
    let jsapi = invocation.jsapi_from_answer(APPID, &answer).unwrap();
    assert_eq!(jsapi.pay_sign, JSAPI_PAY_SIGN);
    let app = invocation.app_from_answer(APPID, &answer).unwrap();
    assert_eq!(app.sign, APP_SIGN);

    let error = invocation
        .jsapi_from_answer(APPID, &json!({"h5_url": "https://wx.tenpay.com/…"}))
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidOption { key, .. } if key == "prepay_id"),
        "{error}"
    );
}

#[test]
fn apiv2_jsapi_md5_and_hmac() {
    let invocation = client().invocation().timestamp(TIMESTAMP).nonce(NONCE);
    for (sign_type, name, expected) in [
        (SignType::Md5, "MD5", V2_JSAPI_MD5),
        (SignType::HmacSha256, "HMAC-SHA256", V2_JSAPI_HMAC),
    ] {
        let params = invocation.v2_jsapi(APPID, PREPAY_ID, sign_type).unwrap();
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(
            keys_all_strings(&json),
            [
                "appId",
                "timeStamp",
                "nonceStr",
                "package",
                "signType",
                "paySign"
            ]
        );
        assert_eq!(json["signType"], name);
        assert_eq!(json["package"], format!("prepay_id={PREPAY_ID}"));
        // the APIv2 rule by hand: the five fields sorted by name, `&key=`
        let text = format!(
            "appId={APPID}&nonceStr={NONCE}&package=prepay_id={PREPAY_ID}&signType={name}&timeStamp={TIMESTAMP}&key={APIV2_KEY}"
        );
        let independent = match sign_type {
            SignType::Md5 => md5_upper(&text),
            _ => hmac_sha256_upper(&text, APIV2_KEY),
        };
        assert_eq!(independent, expected);
        assert_eq!(params.pay_sign, expected);
    }
}

#[test]
fn apiv2_app() {
    let invocation = client().invocation().timestamp(TIMESTAMP).nonce(NONCE);
    let params = invocation.v2_app(APPID, PREPAY_ID, SignType::Md5).unwrap();
    let json = serde_json::to_value(&params).unwrap();
    assert_eq!(
        keys_all_strings(&json),
        [
            "appid",
            "partnerid",
            "prepayid",
            "package",
            "noncestr",
            "timestamp",
            "sign"
        ]
    );
    let text = format!(
        "appid={APPID}&noncestr={NONCE}&package=Sign=WXPay&partnerid=1900000109&prepayid={PREPAY_ID}&timestamp={TIMESTAMP}&key={APIV2_KEY}"
    );
    assert_eq!(params.sign, md5_upper(&text));
    let params = invocation
        .v2_app(APPID, PREPAY_ID, SignType::HmacSha256)
        .unwrap();
    assert_eq!(params.sign, hmac_sha256_upper(&text, APIV2_KEY));
}

/// A service provider's APIv2 APP order: WeChat Pay's APIv2 partner page
/// (https://pay.weixin.qq.com/doc/v2/partner/4011986561) names the
/// sub-merchant's id as `partnerid` (子商户号), signed in with the provider's
/// APIv2 key; `.partnerid(…)` sets it, for the APIv3 builder too.
#[test]
fn a_providers_app_order_names_the_partnerid_it_is_given() {
    const SUB_MCHID: &str = "1900000209";
    let invocation = client()
        .invocation()
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .partnerid(SUB_MCHID);
    let params = invocation.v2_app(APPID, PREPAY_ID, SignType::Md5).unwrap();
    assert_eq!(params.partnerid, SUB_MCHID);
    let text = format!(
        "appid={APPID}&noncestr={NONCE}&package=Sign=WXPay&partnerid={SUB_MCHID}&prepayid={PREPAY_ID}&timestamp={TIMESTAMP}&key={APIV2_KEY}"
    );
    assert_eq!(params.sign, md5_upper(&text));
    // APIv3: partnerid is not signed (appid, timestamp, noncestr, prepayid)
    let params = invocation.app(APPID, PREPAY_ID).unwrap();
    assert_eq!(params.partnerid, SUB_MCHID);
    assert_eq!(params.sign, APP_SIGN);
    // by default the client's own merchant id
    let params = client().invocation().app(APPID, PREPAY_ID).unwrap();
    assert_eq!(params.partnerid, "1900000109");
    // empty or with a line feed: refused, naming the field
    for bad in ["", "1900000209\n"] {
        let error = client()
            .invocation()
            .partnerid(bad)
            .app(APPID, PREPAY_ID)
            .unwrap_err();
        assert!(error.to_string().contains("partnerid"), "{error}");
    }
}

#[test]
fn payscore_detail_page() {
    let page = client()
        .invocation()
        .timestamp(1530097563)
        .nonce("zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2")
        .payscore_detail("2002000000000558128851361561536", "1234323JKHDFE1243252")
        .unwrap();
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(
        keys_all_strings(&json),
        [
            "mch_id",
            "service_id",
            "out_order_no",
            "timestamp",
            "nonce_str",
            "sign_type",
            "sign"
        ]
    );
    // HMAC-SHA256 under the APIv2 key over the six fields, sorted
    let text = format!(
        "mch_id=1900000109&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&out_order_no=1234323JKHDFE1243252&service_id=2002000000000558128851361561536&sign_type=HMAC-SHA256&timestamp=1530097563&key={APIV2_KEY}"
    );
    let sign = hmac_sha256_upper(&text, APIV2_KEY);
    assert_eq!(page.sign, sign);
    assert_eq!(page.sign_type, "HMAC-SHA256");
    assert_eq!(
        page.query_string(),
        format!("mch_id=1900000109&service_id=2002000000000558128851361561536&out_order_no=1234323JKHDFE1243252&timestamp=1530097563&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&sign_type=HMAC-SHA256&sign={sign}")
    );
}

#[test]
fn payscore_confirm_page_from_the_create_answer() {
    // the package of pay.weixin.qq.com's wx.openBusinessView example, shortened
    let package = "AAQTnZoAAAABAAAAAAD8m2b8VRdZ2kVdKmHNZiAAAABcwQVtru-5k9MmEOZJ_Pv_Nq7Cw56dNKKN5Ej3Knt5jTHF-NdsP_McFW";
    let answer =
        json!({"state": "CREATED", "order_id": "1000000000000000000001", "package": package});
    let page = client()
        .invocation()
        .timestamp(1530097563)
        .nonce("zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2")
        .payscore_confirm_from_answer(&answer)
        .unwrap();
    let json = serde_json::to_value(&page).unwrap();
    assert_eq!(
        keys_all_strings(&json),
        [
            "mch_id",
            "package",
            "timestamp",
            "nonce_str",
            "sign_type",
            "sign"
        ]
    );
    assert_eq!(json["package"], package);
    let text = format!(
        "mch_id=1900000109&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&package={package}&sign_type=HMAC-SHA256&timestamp=1530097563&key={APIV2_KEY}"
    );
    assert_eq!(page.sign, hmac_sha256_upper(&text, APIV2_KEY));

    let error = client()
        .invocation()
        .payscore_confirm_from_answer(&json!({"state": "DOING"}))
        .unwrap_err();
    assert!(error.to_string().contains("need_user_confirm"), "{error}");
}

#[test]
fn bad_input_says_what_is_wrong() {
    let client = client();
    let error = client
        .invocation()
        .jsapi(APPID, "prepay_id=wx2014")
        .unwrap_err();
    assert!(error.to_string().contains("bare prepay id"), "{error}");
    let error = client.invocation().jsapi("", PREPAY_ID).unwrap_err();
    assert!(error.to_string().contains("appid"), "{error}");
    let error = client
        .invocation()
        .app("wx2421b1c4370ec43b\nforged", PREPAY_ID)
        .unwrap_err();
    assert!(error.to_string().contains("control character"), "{error}");
    for nonce in ["", "has space", "x".repeat(33).as_str()] {
        let error = client
            .invocation()
            .nonce(nonce)
            .jsapi(APPID, PREPAY_ID)
            .unwrap_err();
        assert!(error.to_string().contains("1 to 32"), "{error}");
    }

    // APIv2 and payscore pages need the APIv2 key
    let without_v2 = Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .build_for_signing_only()
        .unwrap();
    let error = without_v2
        .invocation()
        .payscore_detail("S", "O")
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error}");
    assert!(error.to_string().contains(".apiv2_key("), "{error}");
    assert!(without_v2
        .invocation()
        .v2_jsapi(APPID, PREPAY_ID, SignType::Md5)
        .is_err());
    // APIv3 ones do not
    assert!(without_v2.invocation().jsapi(APPID, PREPAY_ID).is_ok());
}

#[test]
fn the_blocking_client_gives_the_same() {
    let blocking = Client::builder()
        .mchid(common::MCHID)
        .merchant_serial(common::MERCHANT_SERIAL)
        .private_key_file(common::data("merchant_key.pem"))
        .platform_certificate_file(common::data("platform_cert.pem"))
        .build_blocking()
        .unwrap();
    let params = blocking
        .invocation()
        .timestamp(TIMESTAMP)
        .nonce(NONCE)
        .jsapi(APPID, PREPAY_ID)
        .unwrap();
    assert_eq!(params.pay_sign, JSAPI_PAY_SIGN);
}
