//! The WeChat client's side of a payment: before it opens its cashier it
//! checks the parameters the merchant's front end handed it (JSAPI /
//! mini-program, or APP), and refuses with its own wording.
//!
//! What is checked, in the client's order: every field there and a string;
//! `signType` `RSA` (APIv3 orders); `package` `prepay_id=…` (JSAPI) or
//! `Sign=WXPay` (APP); the signature over the documented four lines with
//! the merchant certificate's public key; `appId` the order's; `partnerid`
//! the merchant's; the prepay id the order's live one.
//!
//! The wording is the WeChat client's, as WeChat Pay's own troubleshooting
//! notes quote it (wechatpay-apiv3/wechatpay-skills,
//! `wechatpay-basic-payment/references/3-商户与服务商通用/问题排查/基础支付常见问题.md`):
//! JSAPI "调用支付JSAPI缺少参数：appId / package" (a field missing),
//! "JSAPI缺少参数total_fee" (`package` malformed, the prepay id empty or
//! expired, or `appId` not the order's), "支付验证签名失败" (JSAPI and APP:
//! the signed message or key is wrong); APP "商户传入的APPID参数不正确"
//! (the appid not the order's) and `errCode -1` for the rest (empty values,
//! a wrong prepay id: the open SDK says nothing more).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::sign::Verifier;
use serde_json::{json, Map, Value};

use crate::mock::wire::answer::Answer;

/// The two shapes the WeChat client takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `wx.requestPayment` / `getBrandWCPayRequest`.
    Jsapi,
    /// The open SDK's `PayReq`.
    App,
}

/// What failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A field is missing, empty or not a string.
    Missing,
    /// `signType` or `package` is not what this kind of order takes.
    Format,
    /// The signature does not verify with the merchant certificate.
    Signature,
    /// The appid is not the one the order was placed with.
    AppId,
    /// `partnerid` is not the merchant's id.
    MerchantId,
    /// The prepay id is not the order's live one.
    PrepayId,
}

/// Why the WeChat client would not open its cashier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) kind: Option<Kind>,
    pub(crate) reason: Reason,
    /// The field at fault, as the front end named it.
    pub(crate) field: &'static str,
    /// What the WeChat client shows.
    pub(crate) message: String,
    /// For the developer: what was expected.
    pub(crate) issue: String,
}

impl Refusal {
    /// A code for the mock's answer (the client itself shows only `message`).
    pub(crate) fn code(&self) -> &'static str {
        match self.reason {
            Reason::Signature => "SIGN_ERROR",
            Reason::Missing | Reason::Format => "PARAM_ERROR",
            Reason::AppId | Reason::MerchantId | Reason::PrepayId => "INVALID_REQUEST",
        }
    }

    /// The refusal as a 400 answer in WeChat Pay's error shape.
    pub(crate) fn answer(&self) -> Answer {
        Answer::error(
            400,
            self.code(),
            &self.message,
            Some(json!({"field": self.field, "issue": self.issue})),
        )
    }
}

const JSAPI_FIELDS: [&str; 6] = [
    "appId",
    "timeStamp",
    "nonceStr",
    "package",
    "signType",
    "paySign",
];
const APP_FIELDS: [&str; 7] = [
    "appid",
    "partnerid",
    "prepayid",
    "package",
    "noncestr",
    "timestamp",
    "sign",
];

/// Checks `invocation` (the JSAPI or APP object) as the WeChat client
/// would for an order placed with `expected_appid` whose live prepay id is
/// `live_prepay_id`, by merchant `mchid` whose certificate holds
/// `merchant_key`; `sub_mchid` is the order's sub-merchant ("" for a
/// direct order). An APP `partnerid` may be either of a partner order's
/// two ids: WeChat Pay's sources disagree (docs/frontend.md).
pub(crate) fn check(
    invocation: &Value,
    merchant_key: &PKey<Public>,
    expected_appid: &str,
    live_prepay_id: &str,
    (mchid, sub_mchid): (&str, &str),
) -> Result<Kind, Refusal> {
    let Some(fields) = invocation.as_object() else {
        return Err(refuse(
            None,
            Reason::Missing,
            "invocation",
            "调用支付JSAPI缺少参数：appId".to_owned(),
            "the invocation must be a JSON object: the JSAPI (appId, timeStamp, nonceStr, package, signType, paySign) or APP (appid, partnerid, prepayid, package, noncestr, timestamp, sign) parameters",
        ));
    };
    // APP's names are all lowercase; JSAPI's `appId` is not.
    if fields.contains_key("partnerid") || fields.contains_key("prepayid") {
        check_app(
            fields,
            merchant_key,
            expected_appid,
            live_prepay_id,
            (mchid, sub_mchid),
        )?;
        Ok(Kind::App)
    } else {
        check_jsapi(fields, merchant_key, expected_appid, live_prepay_id)?;
        Ok(Kind::Jsapi)
    }
}

/// `timeStamp` is Unix seconds in digits, `nonceStr` at most 32 characters
/// (FLOWS.md §6.1): the client refuses anything else as a missing parameter.
fn check_time_and_nonce(
    kind: Option<Kind>,
    (time_name, time): (&'static str, &str),
    (nonce_name, nonce): (&'static str, &str),
) -> Result<(), Refusal> {
    let missing = |field: &'static str, issue: &str| {
        let message = match kind {
            Some(Kind::App) => "errCode -1".to_owned(),
            _ => format!("调用支付JSAPI缺少参数：{field}"),
        };
        refuse(kind, Reason::Missing, field, message, issue)
    };
    if time.is_empty() || time.len() > 10 || !time.bytes().all(|b| b.is_ascii_digit()) {
        return Err(missing(
            time_name,
            &format!("`{time_name}` must be Unix seconds in digits, e.g. \"1554208460\""),
        ));
    }
    if nonce.chars().count() > 32 {
        return Err(missing(
            nonce_name,
            &format!("`{nonce_name}` is at most 32 characters"),
        ));
    }
    Ok(())
}

fn check_jsapi(
    fields: &Map<String, Value>,
    merchant_key: &PKey<Public>,
    expected_appid: &str,
    live_prepay_id: &str,
) -> Result<(), Refusal> {
    let kind = Some(Kind::Jsapi);
    let [app_id, time_stamp, nonce_str, package, sign_type, pay_sign] = strings(
        fields,
        JSAPI_FIELDS,
        |field| {
            refuse(
                kind,
                Reason::Missing,
                field,
                format!("调用支付JSAPI缺少参数：{field}"),
                &format!("`{field}` must be a non-empty string (numbers are refused: every value is a string)"),
            )
        },
    )?;
    check_time_and_nonce(kind, ("timeStamp", time_stamp), ("nonceStr", nonce_str))?;
    if sign_type != "RSA" {
        return Err(refuse(
            kind,
            Reason::Signature,
            "signType",
            "支付验证签名失败".to_owned(),
            &format!("`signType` is `{sign_type}`; an APIv3 order's invocation is signed with the merchant private key: `RSA`"),
        ));
    }
    let Some(prepay_id) = package.strip_prefix("prepay_id=") else {
        return Err(refuse(
            kind,
            Reason::Format,
            "package",
            "JSAPI缺少参数total_fee".to_owned(),
            &format!("`package` is `{package}`; it must be `prepay_id=` followed by the order's prepay_id"),
        ));
    };
    let message = format!("{app_id}\n{time_stamp}\n{nonce_str}\n{package}\n");
    if !verifies(merchant_key, &message, pay_sign) {
        return Err(refuse(
            kind,
            Reason::Signature,
            "paySign",
            "支付验证签名失败".to_owned(),
            "`paySign` does not verify with the merchant certificate over `appId\\ntimeStamp\\nnonceStr\\npackage\\n` (four lines, each ending in \\n)",
        ));
    }
    if app_id != expected_appid {
        return Err(refuse(
            kind,
            Reason::AppId,
            "appId",
            "JSAPI缺少参数total_fee".to_owned(),
            &format!("`appId` is `{app_id}`; the order was placed with appid `{expected_appid}`"),
        ));
    }
    if prepay_id != live_prepay_id {
        return Err(refuse(
            kind,
            Reason::PrepayId,
            "package",
            "JSAPI缺少参数total_fee".to_owned(),
            "`package` names a prepay_id that is not this order's live one (another order's, or expired)",
        ));
    }
    Ok(())
}

fn check_app(
    fields: &Map<String, Value>,
    merchant_key: &PKey<Public>,
    expected_appid: &str,
    live_prepay_id: &str,
    (mchid, sub_mchid): (&str, &str),
) -> Result<(), Refusal> {
    let kind = Some(Kind::App);
    let general = "errCode -1".to_owned();
    let [appid, partnerid, prepayid, package, noncestr, timestamp, sign] =
        strings(fields, APP_FIELDS, |field| {
            refuse(
                kind,
                Reason::Missing,
                field,
                general.clone(),
                &format!("`{field}` must be a non-empty string"),
            )
        })?;
    check_time_and_nonce(kind, ("timestamp", timestamp), ("noncestr", noncestr))?;
    if package != crate::invoke::APP_PACKAGE {
        return Err(refuse(
            kind,
            Reason::Format,
            "package",
            general,
            &format!("`package` is `{package}`; an APP invocation's is always `Sign=WXPay`"),
        ));
    }
    let message = format!("{appid}\n{timestamp}\n{noncestr}\n{prepayid}\n");
    if !verifies(merchant_key, &message, sign) {
        return Err(refuse(
            kind,
            Reason::Signature,
            "sign",
            "支付验证签名失败".to_owned(),
            "`sign` does not verify with the merchant certificate over `appid\\ntimestamp\\nnoncestr\\nprepayid\\n` (the prepay id bare, each line ending in \\n)",
        ));
    }
    if appid != expected_appid {
        return Err(refuse(
            kind,
            Reason::AppId,
            "appid",
            "商户传入的APPID参数不正确".to_owned(),
            &format!("`appid` is `{appid}`; the order was placed with appid `{expected_appid}`"),
        ));
    }
    if partnerid != mchid && (sub_mchid.is_empty() || partnerid != sub_mchid) {
        let expected = if sub_mchid.is_empty() {
            format!("the merchant id `{mchid}`")
        } else {
            format!("the service provider's id `{mchid}` or the sub-merchant's `{sub_mchid}`")
        };
        return Err(refuse(
            kind,
            Reason::MerchantId,
            "partnerid",
            general,
            &format!("`partnerid` is `{partnerid}`; it must be {expected}"),
        ));
    }
    if prepayid != live_prepay_id {
        return Err(refuse(
            kind,
            Reason::PrepayId,
            "prepayid",
            general,
            "`prepayid` is not this order's live prepay_id (another order's, or expired)",
        ));
    }
    Ok(())
}

/// The named fields as non-empty strings, in order.
fn strings<'v, const N: usize>(
    fields: &'v Map<String, Value>,
    names: [&'static str; N],
    missing: impl Fn(&'static str) -> Refusal,
) -> Result<[&'v str; N], Refusal> {
    let mut out = [""; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = fields
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing(name))?;
    }
    Ok(out)
}

fn verifies(key: &PKey<Public>, message: &str, signature: &str) -> bool {
    let Ok(signature) = BASE64.decode(signature) else {
        return false;
    };
    Verifier::new(MessageDigest::sha256(), key)
        .and_then(|mut v| {
            v.update(message.as_bytes())?;
            v.verify(&signature)
        })
        .unwrap_or(false)
}

fn refuse(
    kind: Option<Kind>,
    reason: Reason,
    field: &'static str,
    message: String,
    issue: &str,
) -> Refusal {
    Refusal {
        kind,
        reason,
        field,
        message,
        issue: issue.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    //! The invocations here are signed by hand (the four lines written out,
    //! OpenSSL's SHA256withRSA with the merchant test key), not by the SDK.
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    use openssl::hash::MessageDigest;
    use openssl::pkey::{PKey, Public};
    use openssl::sign::Signer;
    use openssl::x509::X509;
    use serde_json::{json, Value};

    use super::{check, Kind, Reason};

    const APPID: &str = "wxd678efh567hg6787";
    const PREPAY: &str = "wx201410272009395522657a690389285100";
    const MCHID: &str = "1900000109";

    fn merchant_public() -> PKey<Public> {
        X509::from_pem(include_bytes!("../data/merchant_cert.pem"))
            .unwrap()
            .public_key()
            .unwrap()
    }

    fn rsa(message: &str) -> String {
        let key = PKey::private_key_from_pem(include_bytes!("../data/merchant_key.pem")).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(message.as_bytes()).unwrap();
        BASE64.encode(signer.sign_to_vec().unwrap())
    }

    fn jsapi(appid: &str, prepay: &str) -> Value {
        let package = format!("prepay_id={prepay}");
        let sign = rsa(&format!("{appid}\n1554208460\nN0nce\n{package}\n"));
        json!({"appId": appid, "timeStamp": "1554208460", "nonceStr": "N0nce",
               "package": package, "signType": "RSA", "paySign": sign})
    }

    fn app(appid: &str, prepay: &str) -> Value {
        let sign = rsa(&format!("{appid}\n1554208460\nN0nce\n{prepay}\n"));
        json!({"appid": appid, "partnerid": MCHID, "prepayid": prepay, "package": "Sign=WXPay",
               "noncestr": "N0nce", "timestamp": "1554208460", "sign": sign})
    }

    fn run(invocation: &Value) -> Result<Kind, super::Refusal> {
        check(invocation, &merchant_public(), APPID, PREPAY, (MCHID, ""))
    }

    #[test]
    fn the_genuine_ones_pass() {
        assert_eq!(run(&jsapi(APPID, PREPAY)), Ok(Kind::Jsapi));
        assert_eq!(run(&app(APPID, PREPAY)), Ok(Kind::App));
    }

    #[test]
    fn what_the_sdk_builds_passes() {
        let c = crate::mock::Credentials::get();
        let client = crate::Client::builder()
            .mchid(c.mchid)
            .merchant_serial(c.merchant_serial)
            .private_key_pem(c.merchant_private_key)
            .build_for_signing_only()
            .unwrap();
        let jsapi = client.invocation().jsapi(APPID, PREPAY).unwrap();
        assert_eq!(run(&serde_json::to_value(jsapi).unwrap()), Ok(Kind::Jsapi));
        let app = client.invocation().app(APPID, PREPAY).unwrap();
        assert_eq!(run(&serde_json::to_value(app).unwrap()), Ok(Kind::App));
    }

    #[test]
    fn a_tampered_signature_is_refused() {
        let mut invocation = jsapi(APPID, PREPAY);
        let sign = invocation["paySign"].as_str().unwrap().to_owned();
        // one base64 character changed
        let flipped = if sign.starts_with('A') { "B" } else { "A" };
        invocation["paySign"] = json!(format!("{flipped}{}", &sign[1..]));
        let refusal = run(&invocation).unwrap_err();
        assert_eq!(refusal.reason, Reason::Signature);
        assert_eq!(refusal.message, "支付验证签名失败");
        assert_eq!(refusal.code(), "SIGN_ERROR");

        // a field changed after signing
        let mut invocation = app(APPID, PREPAY);
        invocation["timestamp"] = json!("1554208461");
        let refusal = run(&invocation).unwrap_err();
        assert_eq!((refusal.reason, refusal.field), (Reason::Signature, "sign"));
        assert_eq!(refusal.message, "支付验证签名失败");
    }

    #[test]
    fn another_orders_prepay_id_is_refused() {
        let other = "wx20141027200939552265700000000000";
        let refusal = run(&jsapi(APPID, other)).unwrap_err();
        assert_eq!(
            (refusal.reason, refusal.field),
            (Reason::PrepayId, "package")
        );
        assert_eq!(refusal.message, "JSAPI缺少参数total_fee");
        let refusal = run(&app(APPID, other)).unwrap_err();
        assert_eq!(
            (refusal.reason, refusal.field),
            (Reason::PrepayId, "prepayid")
        );
    }

    #[test]
    fn another_appid_is_refused() {
        let refusal = run(&jsapi("wx0000000000000000", PREPAY)).unwrap_err();
        assert_eq!((refusal.reason, refusal.field), (Reason::AppId, "appId"));
        assert_eq!(refusal.message, "JSAPI缺少参数total_fee");
        let refusal = run(&app("wx0000000000000000", PREPAY)).unwrap_err();
        assert_eq!(refusal.reason, Reason::AppId);
        assert_eq!(refusal.message, "商户传入的APPID参数不正确");
    }

    #[test]
    fn missing_numbers_and_wrong_shapes_are_refused() {
        let mut invocation = jsapi(APPID, PREPAY);
        invocation.as_object_mut().unwrap().remove("package");
        let refusal = run(&invocation).unwrap_err();
        assert_eq!(refusal.message, "调用支付JSAPI缺少参数：package");

        let mut invocation = jsapi(APPID, PREPAY);
        invocation["timeStamp"] = json!(1554208460);
        assert_eq!(run(&invocation).unwrap_err().reason, Reason::Missing);

        let mut invocation = jsapi(APPID, PREPAY);
        invocation["signType"] = json!("MD5");
        assert_eq!(run(&invocation).unwrap_err().reason, Reason::Signature);

        // the APP message over `prepay_id=…` is the classic mistake
        let mut invocation = app(APPID, PREPAY);
        invocation["sign"] = json!(rsa(&format!(
            "{APPID}\n1554208460\nN0nce\nprepay_id={PREPAY}\n"
        )));
        assert_eq!(run(&invocation).unwrap_err().reason, Reason::Signature);

        let mut invocation = app(APPID, PREPAY);
        invocation["partnerid"] = json!("1230000109");
        assert_eq!(run(&invocation).unwrap_err().reason, Reason::MerchantId);

        assert_eq!(run(&json!("text")).unwrap_err().reason, Reason::Missing);
    }
}
