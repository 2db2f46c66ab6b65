//! Front-end invocation parameters: what the merchant's server hands its
//! front end after "create order", signed, so that the WeChat client can
//! open its cashier (or the payscore pages).
//!
//! | front end | builder | signed with |
//! |---|---|---|
//! | JSAPI (`WeixinJSBridge getBrandWCPayRequest`), mini-program (`wx.requestPayment`) | [`Invocation::jsapi`] | merchant private key, SHA256withRSA |
//! | APP (`PayReq` of the open SDK) | [`Invocation::app`] | merchant private key, SHA256withRSA |
//! | APIv2 order, JSAPI / mini-program | [`Invocation::v2_jsapi`] | APIv2 key, MD5 or HMAC-SHA256 |
//! | APIv2 order, APP | [`Invocation::v2_app`] | APIv2 key, MD5 or HMAC-SHA256 |
//! | payscore order detail (`wxpayScoreDetail`) | [`Invocation::payscore_detail`] | APIv2 key, HMAC-SHA256 |
//! | payscore confirm (`wxpayScoreUse`) | [`Invocation::payscore_confirm`] | APIv2 key, HMAC-SHA256 |
//! | transfer confirm page (`requestMerchantTransfer`) | [`Invocation::merchant_transfer`] | nothing: WeChat checks them against the bill |
//!
//! Each builder returns a value that serializes to exactly the JSON object
//! the front end passes on: WeChat's field names and casing (`timeStamp`
//! for JSAPI, `timestamp` for APP), every value a string. A fresh timestamp
//! and nonce are taken unless [`Invocation::timestamp`] and
//! [`Invocation::nonce`] fix them (known-answer tests).
//!
//! The `appid` is the one the order was placed with. For a service provider
//! (服务商) that is `sub_appid` when the payer was identified by a
//! `sub_openid`, otherwise `sp_appid`; the signing key is always the
//! provider's own (the client's). A combine order (合单) takes the same
//! parameters, with `combine_appid` and its `prepay_id`; an APP one's
//! `partnerid` is `combine_mchid`, the client's `mchid`.
//!
//! ```
//! # let client = wechatpay_chain::Client::builder().mchid("1900000109")
//! #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
//! #     .private_key_file("src/mock/data/merchant_key.pem")
//! #     .build_for_signing_only()?;
//! use wechatpay_chain::json;
//!
//! // the answer of POST v3/pay/transactions/jsapi
//! let answer = json!({"prepay_id": "wx201410272009395522657a690389285100"});
//! let params = client.invocation().jsapi_from_answer("wxd678efh567hg6787", &answer)?;
//! let front_end = serde_json::to_value(&params)?;
//! assert_eq!(front_end["package"], "prepay_id=wx201410272009395522657a690389285100");
//! assert_eq!(front_end["signType"], "RSA");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::Client;
use crate::crypto::random_alphanumeric;
use crate::error::{Error, Result};
use crate::path::encode_component;
use crate::sign::NONCE_LEN;
use crate::v2::sign::{sign as v2_sign, SignType};

/// The longest nonce WeChat accepts ("长度不超过32位").
const MAX_NONCE: usize = 32;

/// `package` of every APP invocation.
pub const APP_PACKAGE: &str = "Sign=WXPay";

/// Builds invocation parameters; from [`Client::invocation`].
///
/// ```
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
/// let params = client
///     .invocation()
///     .timestamp(1554208460)
///     .nonce("593BEC0C930BF1AFEB40B4A08C8FB242")
///     .app("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
/// assert_eq!(params.partnerid, "1900000109");
/// assert_eq!(params.timestamp, "1554208460");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "an Invocation does nothing until a builder such as .jsapi(…) is called"]
pub struct Invocation {
    /// A clone (an `Arc` inside), so that the builder can outlive a borrow.
    client: Client,
    timestamp: Option<i64>,
    nonce: Option<String>,
    partnerid: Option<String>,
}

impl Client {
    /// Front-end invocation parameters signed by this merchant: see
    /// [`crate::invoke`].
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
    /// let params = client.invocation().jsapi("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
    /// assert_eq!(params.time_stamp.len(), 10);
    /// assert_eq!(params.nonce_str.len(), 32);
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn invocation(&self) -> Invocation {
        Invocation {
            client: self.clone(),
            timestamp: None,
            nonce: None,
            partnerid: None,
        }
    }
}

impl Client {
    /// Places a JSAPI or mini-program order and signs its front-end
    /// parameters, in one call (wechatpay-go's `PrepayWithRequestPayment`):
    /// POST `v3/pay/transactions/jsapi` (`v3/pay/partner/transactions/jsapi`
    /// when the order names `sp_mchid`), then [`Invocation::jsapi`] with the
    /// answer's `prepay_id` and the order's appid (a partner's: `sub_appid`
    /// when the payer is a `sub_openid`, else `sp_appid`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = wechatpay_chain::mock::MockServer::start().await?;
    /// # let client = server.client()?;
    /// use wechatpay_chain::json;
    ///
    /// let order = json!({"appid": "wxd678efh567hg6787", "mchid": "1900000109",
    ///     "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": "1217752501201407033233368018",
    ///     "notify_url": "http://127.0.0.1:8080/wxpay/notify", "amount": {"total": 100},
    ///     "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}});
    /// let prepay = client.prepay_jsapi(&order).await?;
    /// // hand this to wx.requestPayment / getBrandWCPayRequest
    /// let front_end = serde_json::to_value(&prepay.params)?;
    /// assert_eq!(front_end["package"], format!("prepay_id={}", prepay.prepay_id));
    /// # Ok(()) }
    /// ```
    pub async fn prepay_jsapi<T: Serialize + ?Sized>(&self, order: &T) -> Result<JsapiPrepay> {
        let order = serde_json::to_value(order).map_err(Error::Serialize)?;
        let text = |name: &str| order.get(name).and_then(Value::as_str);
        let (path, appid) = match text("sp_mchid") {
            None => ("v3/pay/transactions/jsapi", text("appid")),
            Some(_) => {
                let sub_payer = order.pointer("/payer/sub_openid").is_some();
                let appid = if sub_payer {
                    text("sub_appid")
                } else {
                    text("sp_appid")
                };
                ("v3/pay/partner/transactions/jsapi", appid)
            }
        };
        let appid = appid
            .map(str::to_owned)
            .ok_or_else(|| Error::InvalidOption {
                key: "appid".to_owned(),
                reason:
                    "the order names no appid to sign the front-end parameters for: give `appid` \
                     (a partner: `sp_appid`, or `sub_appid` with a `sub_openid` payer)"
                        .to_owned(),
            })?;
        let answer: Value = self
            .chain(path)
            .post(crate::Options::new().json(&order))
            .await?
            .json()?;
        let prepay_id = prepay_id(&answer)?.to_owned();
        let params = self.invocation().jsapi(&appid, &prepay_id)?;
        Ok(JsapiPrepay { prepay_id, params })
    }
}

/// A JSAPI order placed and its front-end parameters signed: from
/// [`Client::prepay_jsapi`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsapiPrepay {
    /// The order's `prepay_id` (valid 2 hours).
    pub prepay_id: String,
    /// What the front end passes to `wx.requestPayment` /
    /// `getBrandWCPayRequest`.
    pub params: JsapiParams,
}

/// What `wx.requestPayment` / `getBrandWCPayRequest` take, in WeChat's
/// casing. `signType` is `RSA` for APIv3 orders, `MD5` or `HMAC-SHA256`
/// for APIv2 ones.
///
/// ```
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
/// let params = client.invocation().timestamp(1554208460).nonce("N")
///     .jsapi("wxd678efh567hg6787", "wx2014")?;
/// let json = serde_json::to_string(&params)?;
/// assert!(json.starts_with(r#"{"appId":"wxd678efh567hg6787","timeStamp":"1554208460","nonceStr":"N","package":"prepay_id=wx2014","signType":"RSA","paySign":""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JsapiParams {
    /// `appId`: the appid the order was placed with.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// `timeStamp`: Unix seconds, as a string.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    /// `nonceStr`: at most 32 letters and digits.
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `package`: `prepay_id=<prepay_id>`.
    pub package: String,
    /// `signType`: `RSA`, `MD5` or `HMAC-SHA256`.
    #[serde(rename = "signType")]
    pub sign_type: String,
    /// `paySign`: base64 RSA signature, or uppercase hex for APIv2.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

/// What the open SDK's `PayReq` takes (Android `PayReq`, iOS `PayReq`),
/// all lowercase as WeChat names them.
///
/// ```
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
/// let params = client.invocation().timestamp(1554208460).nonce("N").app("wxd678efh567hg6787", "wx2014")?;
/// let json = serde_json::to_string(&params)?;
/// assert!(json.starts_with(r#"{"appid":"wxd678efh567hg6787","partnerid":"1900000109","prepayid":"wx2014","package":"Sign=WXPay","noncestr":"N","timestamp":"1554208460","sign":""#));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppParams {
    /// The mobile application's appid (open platform), the order's.
    pub appid: String,
    /// The merchant id (for a service provider: its own `sp_mchid`).
    pub partnerid: String,
    /// The bare prepay id.
    pub prepayid: String,
    /// Always `Sign=WXPay`.
    pub package: String,
    /// At most 32 letters and digits.
    pub noncestr: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// base64 RSA signature, or uppercase hex for APIv2.
    pub sign: String,
}

/// The payscore order-detail page's parameters (`businessType:
/// 'wxpayScoreDetail'`): the mini-program's `extraData` as they are, or
/// [`PayscoreDetailParams::query_string`] for `WeixinJSBridge` and the APP.
///
/// ```
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem")
/// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build_for_signing_only()?;
/// let page = client.invocation().timestamp(1530097563).nonce("zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2")
///     .payscore_detail("2002000000000558128851361561536", "1234323JKHDFE1243252")?;
/// assert_eq!(page.sign_type, "HMAC-SHA256");
/// assert!(page.query_string().starts_with("mch_id=1900000109&service_id=2002000000000558128851361561536&out_order_no="));
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PayscoreDetailParams {
    /// The merchant (or service provider) id.
    pub mch_id: String,
    /// The payscore service id.
    pub service_id: String,
    /// The merchant's service order number.
    pub out_order_no: String,
    /// Unix seconds, as a string (valid five minutes).
    pub timestamp: String,
    /// At most 32 letters and digits.
    pub nonce_str: String,
    /// Always `HMAC-SHA256`.
    pub sign_type: String,
    /// HMAC-SHA256 under the APIv2 key, uppercase hex.
    pub sign: String,
}

/// The payscore confirm page's parameters (`businessType:
/// 'wxpayScoreUse'`), built around the `package` a create-order answer
/// carries: the mini-program's `extraData`, or
/// [`PayscoreConfirmParams::query_string`] for `WeixinJSBridge` and the APP.
///
/// ```
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem")
/// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build_for_signing_only()?;
/// let answer = wechatpay_chain::json!({"state": "CREATED", "package": "AAQTnZoAAAABAAAA"});
/// let page = client.invocation().payscore_confirm_from_answer(&answer)?;
/// assert_eq!(page.package, "AAQTnZoAAAABAAAA");
/// assert_eq!(page.sign.len(), 64);
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PayscoreConfirmParams {
    /// The merchant (or service provider) id.
    pub mch_id: String,
    /// The create-order answer's `package`, as it came.
    pub package: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// At most 32 letters and digits.
    pub nonce_str: String,
    /// Always `HMAC-SHA256`.
    pub sign_type: String,
    /// HMAC-SHA256 under the APIv2 key, uppercase hex.
    pub sign: String,
}

/// What `wx.requestMerchantTransfer` and `WeixinJSBridge.invoke('requestMerchantTransfer', …)`
/// take to open a transfer bill's confirm page (商家转账, FLOWS.md §8.4):
/// `mchId`, `subMchId` for a service provider's bill, `appId`, `package`
/// (the create answer's `package_info`, as it came) and optionally
/// `openId`. No signature: the WeChat client checks them against the bill
/// (another user sees "你的微信号与商家指定的微信号不一致"). Absent options
/// are left out of the JSON.
///
/// ```
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
/// let page = client.invocation().merchant_transfer("wxf636efh567hg4356", "ABBQO+oYAAAB")?;
/// assert_eq!(serde_json::to_string(&page)?,
///     r#"{"mchId":"1900000109","appId":"wxf636efh567hg4356","package":"ABBQO+oYAAAB"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MerchantTransferParams {
    /// `mchId`: the merchant that created the bill (a service provider's own id).
    #[serde(rename = "mchId")]
    pub mch_id: String,
    /// `subMchId`: the sub-merchant of a service provider's bill.
    #[serde(rename = "subMchId", default, skip_serializing_if = "Option::is_none")]
    pub sub_mch_id: Option<String>,
    /// `appId`: the appid the bill was created with.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// `package`: the create answer's `package_info`, unchanged.
    pub package: String,
    /// `openId`: the payee, when the page should check it.
    #[serde(rename = "openId", default, skip_serializing_if = "Option::is_none")]
    pub open_id: Option<String>,
}

impl MerchantTransferParams {
    /// Names the payee (`openId`): WeChat then refuses another user.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
    /// let page = client.invocation().merchant_transfer("wxf636efh567hg4356", "ABBQO+oYAAAB")?
    ///     .with_open_id("o-MYE42l80oelYMDE34nYD456Xoy");
    /// assert_eq!(page.open_id.as_deref(), Some("o-MYE42l80oelYMDE34nYD456Xoy"));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn with_open_id(mut self, openid: impl Into<String>) -> Self {
        self.open_id = Some(openid.into());
        self
    }

    /// Names the sub-merchant (`subMchId`) of a service provider's bill.
    pub fn with_sub_mch_id(mut self, sub_mchid: impl Into<String>) -> Self {
        self.sub_mch_id = Some(sub_mchid.into());
        self
    }
}

impl PayscoreDetailParams {
    /// `mch_id=…&service_id=…&out_order_no=…&timestamp=…&nonce_str=…&sign_type=HMAC-SHA256&sign=…`,
    /// values URL-encoded: `queryString` for `WeixinJSBridge.invoke('openBusinessView', …)`,
    /// `query` for the open SDK.
    pub fn query_string(&self) -> String {
        query(&[
            ("mch_id", &self.mch_id),
            ("service_id", &self.service_id),
            ("out_order_no", &self.out_order_no),
            ("timestamp", &self.timestamp),
            ("nonce_str", &self.nonce_str),
            ("sign_type", &self.sign_type),
            ("sign", &self.sign),
        ])
    }
}

impl PayscoreConfirmParams {
    /// `mch_id=…&package=…&timestamp=…&nonce_str=…&sign_type=HMAC-SHA256&sign=…`,
    /// values URL-encoded: `queryString` for `WeixinJSBridge.invoke('openBusinessView', …)`,
    /// `query` for the open SDK.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build_for_signing_only()?;
    /// let page = client.invocation().timestamp(1530097563).nonce("N").payscore_confirm("AA+/=")?;
    /// assert!(page.query_string().starts_with("mch_id=1900000109&package=AA%2B%2F%3D&timestamp=1530097563&nonce_str=N&sign_type=HMAC-SHA256&sign="));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn query_string(&self) -> String {
        query(&[
            ("mch_id", &self.mch_id),
            ("package", &self.package),
            ("timestamp", &self.timestamp),
            ("nonce_str", &self.nonce_str),
            ("sign_type", &self.sign_type),
            ("sign", &self.sign),
        ])
    }
}

fn query(pairs: &[(&str, &String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", encode_component(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Invocation {
    /// Uses `unix_seconds` as the timestamp instead of the current time
    /// (known-answer tests; a page must be signed within five minutes of use).
    pub fn timestamp(mut self, unix_seconds: i64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// Uses `nonce` instead of a fresh random one (known-answer tests). It
    /// must be 1 to 32 ASCII letters and digits; otherwise the builder
    /// answers an error.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Uses `id` as the APP parameters' `partnerid` instead of the client's
    /// merchant id. For a service provider's **APIv2** APP order, WeChat
    /// Pay's APIv2 partner page names the sub-merchant's id here (子商户号,
    /// <https://pay.weixin.qq.com/doc/v2/partner/4011986561>); for an APIv3
    /// order its own SDK puts the provider's (see `docs/frontend.md`).
    /// Empty is an error from the builder.
    ///
    /// ```
    /// use wechatpay_chain::v2::sign::SignType;
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build_for_signing_only()?;
    /// let params = client.invocation().partnerid("1900000209")
    ///     .v2_app("wxd678efh567hg6787", "wx2014", SignType::Md5)?;
    /// assert_eq!(params.partnerid, "1900000209");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn partnerid(mut self, id: impl Into<String>) -> Self {
        self.partnerid = Some(id.into());
        self
    }

    /// The APP parameters' `partnerid`: the one given, else the client's.
    fn app_partnerid(&self) -> Result<&str> {
        match &self.partnerid {
            Some(id) => checked("partnerid", id),
            None => Ok(self.client.mchid()),
        }
    }

    /// JSAPI and mini-program parameters for an APIv3 order: `paySign` =
    /// SHA256withRSA over `appId\ntimeStamp\nnonceStr\npackage\n` with the
    /// merchant private key, `signType` `RSA`.
    ///
    /// `appid` is the one the order was placed with (a service provider's:
    /// `sub_appid` when the payer is a `sub_openid`, else `sp_appid`);
    /// `prepay_id` is the bare id from the order's answer.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
    /// let params = client.invocation().jsapi("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
    /// assert_eq!(params.package, "prepay_id=wx201410272009395522657a690389285100");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn jsapi(&self, appid: &str, prepay_id: &str) -> Result<JsapiParams> {
        let appid = checked("appid", appid)?;
        let package = format!("prepay_id={}", checked_prepay_id(prepay_id)?);
        let (time_stamp, nonce_str) = self.fresh()?;
        let message = lines(&[appid, &time_stamp, &nonce_str, &package]);
        let pay_sign = self.rsa_sign(&message)?;
        Ok(JsapiParams {
            app_id: appid.to_owned(),
            time_stamp,
            nonce_str,
            package,
            sign_type: "RSA".to_owned(),
            pay_sign,
        })
    }

    /// [`Invocation::jsapi`] with the `prepay_id` of a create-order answer
    /// (`v3/pay/transactions/jsapi`, its partner form, or `…/app`).
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
    /// let answer = wechatpay_chain::json!({"code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"});
    /// let error = client.invocation().jsapi_from_answer("wxd678efh567hg6787", &answer).unwrap_err();
    /// assert!(error.to_string().contains("prepay_id"));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn jsapi_from_answer(&self, appid: &str, answer: &Value) -> Result<JsapiParams> {
        self.jsapi(appid, prepay_id(answer)?)
    }

    /// APP parameters for an APIv3 order: `partnerid` the client's merchant
    /// id (a service provider's own, as WeChat Pay's Java SDK puts it for a
    /// partner order; [`Invocation::partnerid`] sets another), `package`
    /// `Sign=WXPay`, `sign` = SHA256withRSA over
    /// `appid\ntimestamp\nnoncestr\nprepayid\n` (the prepay id bare).
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
    /// let params = client.invocation().app("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
    /// assert_eq!(params.package, "Sign=WXPay");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn app(&self, appid: &str, prepay_id: &str) -> Result<AppParams> {
        let appid = checked("appid", appid)?;
        let prepayid = checked_prepay_id(prepay_id)?;
        let (timestamp, noncestr) = self.fresh()?;
        let message = lines(&[appid, &timestamp, &noncestr, prepayid]);
        let sign = self.rsa_sign(&message)?;
        Ok(AppParams {
            appid: appid.to_owned(),
            partnerid: self.app_partnerid()?.to_owned(),
            prepayid: prepayid.to_owned(),
            package: APP_PACKAGE.to_owned(),
            noncestr,
            timestamp,
            sign,
        })
    }

    /// [`Invocation::app`] with the `prepay_id` of a create-order answer
    /// (`v3/pay/transactions/app` or its partner form).
    pub fn app_from_answer(&self, appid: &str, answer: &Value) -> Result<AppParams> {
        self.app(appid, prepay_id(answer)?)
    }

    /// JSAPI and mini-program parameters for an APIv2 order
    /// (`v2/pay/unifiedorder`): `paySign` = the APIv2 sign of `appId`,
    /// `timeStamp`, `nonceStr`, `package`, `signType` under the APIv2 key;
    /// `sign_type` must be the order's `sign_type` (`MD5` when it had none).
    ///
    /// ```
    /// use wechatpay_chain::v2::sign::SignType;
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build_for_signing_only()?;
    /// let params = client.invocation().v2_jsapi("wxd678efh567hg6787", "wx2014", SignType::HmacSha256)?;
    /// assert_eq!(params.sign_type, "HMAC-SHA256");
    /// assert_eq!(params.pay_sign.len(), 64);
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn v2_jsapi(
        &self,
        appid: &str,
        prepay_id: &str,
        sign_type: SignType,
    ) -> Result<JsapiParams> {
        let appid = checked("appid", appid)?;
        let package = format!("prepay_id={}", checked_prepay_id(prepay_id)?);
        let (time_stamp, nonce_str) = self.fresh()?;
        let sign_type_name = sign_type_name(sign_type);
        let mut fields = Map::new();
        fields.insert("appId".into(), appid.into());
        fields.insert("timeStamp".into(), time_stamp.as_str().into());
        fields.insert("nonceStr".into(), nonce_str.as_str().into());
        fields.insert("package".into(), package.as_str().into());
        fields.insert("signType".into(), sign_type_name.into());
        let pay_sign = self.v2_sign(&fields, sign_type)?;
        Ok(JsapiParams {
            app_id: appid.to_owned(),
            time_stamp,
            nonce_str,
            package,
            sign_type: sign_type_name.to_owned(),
            pay_sign,
        })
    }

    /// APP parameters for an APIv2 order: `sign` = the APIv2 sign of
    /// `appid`, `partnerid`, `prepayid`, `package`, `noncestr`, `timestamp`
    /// under the APIv2 key, `sign_type` the order's. `partnerid` is the
    /// client's merchant id; for a service provider's order WeChat Pay's
    /// APIv2 partner page asks for the sub-merchant's: set it with
    /// [`Invocation::partnerid`].
    ///
    /// ```
    /// use wechatpay_chain::v2::sign::SignType;
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build_for_signing_only()?;
    /// let params = client.invocation().v2_app("wxd678efh567hg6787", "wx2014", SignType::Md5)?;
    /// assert_eq!(params.sign.len(), 32);
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn v2_app(&self, appid: &str, prepay_id: &str, sign_type: SignType) -> Result<AppParams> {
        let appid = checked("appid", appid)?;
        let prepayid = checked_prepay_id(prepay_id)?;
        let (timestamp, noncestr) = self.fresh()?;
        let partnerid = self.app_partnerid()?;
        let mut fields = Map::new();
        fields.insert("appid".into(), appid.into());
        fields.insert("partnerid".into(), partnerid.into());
        fields.insert("prepayid".into(), prepayid.into());
        fields.insert("package".into(), APP_PACKAGE.into());
        fields.insert("noncestr".into(), noncestr.as_str().into());
        fields.insert("timestamp".into(), timestamp.as_str().into());
        let sign = self.v2_sign(&fields, sign_type)?;
        Ok(AppParams {
            appid: appid.to_owned(),
            partnerid: partnerid.to_owned(),
            prepayid: prepayid.to_owned(),
            package: APP_PACKAGE.to_owned(),
            noncestr,
            timestamp,
            sign,
        })
    }

    /// The payscore order-detail page's parameters: `sign` = HMAC-SHA256
    /// under the **APIv2 key** over `mch_id`, `service_id`, `out_order_no`,
    /// `timestamp`, `nonce_str`, `sign_type` (the APIv2 sign rule; the field
    /// is `sign` as on pay.weixin.qq.com). Only orders in CREATED, DOING or
    /// DONE have a page.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .apiv2_key("192006250b4c09247ec02edce69f6a2d").build_for_signing_only()?;
    /// let page = client.invocation().payscore_detail("2002000000000558128851361561536", "1234323JKHDFE1243252")?;
    /// assert_eq!(page.mch_id, "1900000109");
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn payscore_detail(
        &self,
        service_id: &str,
        out_order_no: &str,
    ) -> Result<PayscoreDetailParams> {
        let service_id = checked("service_id", service_id)?;
        let out_order_no = checked("out_order_no", out_order_no)?;
        let (timestamp, nonce_str) = self.fresh()?;
        let mch_id = self.client.mchid();
        let sign_type = sign_type_name(SignType::HmacSha256);
        let mut fields = Map::new();
        fields.insert("mch_id".into(), mch_id.into());
        fields.insert("service_id".into(), service_id.into());
        fields.insert("out_order_no".into(), out_order_no.into());
        fields.insert("timestamp".into(), timestamp.as_str().into());
        fields.insert("nonce_str".into(), nonce_str.as_str().into());
        fields.insert("sign_type".into(), sign_type.into());
        let sign = self.v2_sign(&fields, SignType::HmacSha256)?;
        Ok(PayscoreDetailParams {
            mch_id: mch_id.to_owned(),
            service_id: service_id.to_owned(),
            out_order_no: out_order_no.to_owned(),
            timestamp,
            nonce_str,
            sign_type: sign_type.to_owned(),
            sign,
        })
    }

    /// The payscore confirm page's parameters around `package`, the value a
    /// create-order answer (`need_user_confirm: true`) carries, passed on
    /// as it came: `sign` = HMAC-SHA256 under the APIv2 key over `mch_id`,
    /// `package`, `timestamp`, `nonce_str`, `sign_type`.
    pub fn payscore_confirm(&self, package: &str) -> Result<PayscoreConfirmParams> {
        let package = checked("package", package)?;
        let (timestamp, nonce_str) = self.fresh()?;
        let mch_id = self.client.mchid();
        let sign_type = sign_type_name(SignType::HmacSha256);
        let mut fields = Map::new();
        fields.insert("mch_id".into(), mch_id.into());
        fields.insert("package".into(), package.into());
        fields.insert("timestamp".into(), timestamp.as_str().into());
        fields.insert("nonce_str".into(), nonce_str.as_str().into());
        fields.insert("sign_type".into(), sign_type.into());
        let sign = self.v2_sign(&fields, SignType::HmacSha256)?;
        Ok(PayscoreConfirmParams {
            mch_id: mch_id.to_owned(),
            package: package.to_owned(),
            timestamp,
            nonce_str,
            sign_type: sign_type.to_owned(),
            sign,
        })
    }

    /// [`Invocation::payscore_confirm`] with the `package` of a
    /// create-order answer (`v3/payscore/serviceorder` or its partner form).
    pub fn payscore_confirm_from_answer(&self, answer: &Value) -> Result<PayscoreConfirmParams> {
        let package = answer
            .get("package")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::InvalidOption {
                key: "package".to_owned(),
                reason: "the answer has no `package`: only an order created with `need_user_confirm: true` (state CREATED) has a confirm page".to_owned(),
            })?;
        self.payscore_confirm(package)
    }

    /// The transfer confirm page's parameters (`requestMerchantTransfer`)
    /// for a bill created with `appid`, around its `package_info`: `mchId`
    /// is the client's merchant id. Nothing is signed.
    pub fn merchant_transfer(&self, appid: &str, package: &str) -> Result<MerchantTransferParams> {
        let appid = checked("appid", appid)?;
        let package = checked("package", package)?;
        if package.chars().any(char::is_whitespace) {
            return Err(Error::InvalidOption {
                key: "package".to_owned(),
                reason: "contains whitespace; a package_info never does (pass it as the create call answered it)".to_owned(),
            });
        }
        Ok(MerchantTransferParams {
            mch_id: self.client.mchid().to_owned(),
            sub_mch_id: None,
            app_id: appid.to_owned(),
            package: package.to_owned(),
            open_id: None,
        })
    }

    /// [`Invocation::merchant_transfer`] from the answer of
    /// `POST v3/fund-app/mch-transfer/transfer-bills` (or its partner form,
    /// whose `sub_mchid` becomes `subMchId`). Only a bill in
    /// `WAIT_USER_CONFIRM` has a `package_info`; any other answer is refused
    /// with its `state`.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem").build_for_signing_only()?;
    /// let answer = wechatpay_chain::json!({"out_bill_no": "plfk2020042013", "sub_mchid": "1900000110",
    ///     "state": "WAIT_USER_CONFIRM", "package_info": "ABBQO+oYAAAB"});
    /// let page = client.invocation().merchant_transfer_from_answer("wxf636efh567hg4356", &answer)?;
    /// assert_eq!(page.sub_mch_id.as_deref(), Some("1900000110"));
    /// let failed = wechatpay_chain::json!({"state": "FAIL", "fail_reason": "OVERDUE_CLOSE"});
    /// assert!(client.invocation().merchant_transfer_from_answer("wxf636efh567hg4356", &failed).is_err());
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn merchant_transfer_from_answer(
        &self,
        appid: &str,
        answer: &Value,
    ) -> Result<MerchantTransferParams> {
        let Some(package) = answer.get("package_info").and_then(Value::as_str) else {
            let state = answer
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("none");
            return Err(Error::InvalidOption {
                key: "package_info".to_owned(),
                reason: format!("the answer has no `package_info` (state {state}): only a bill in WAIT_USER_CONFIRM has a confirm page; pass the answer of POST v3/fund-app/mch-transfer/transfer-bills"),
            });
        };
        let params = self.merchant_transfer(appid, package)?;
        Ok(match answer.get("sub_mchid").and_then(Value::as_str) {
            Some(sub) => params.with_sub_mch_id(checked("sub_mchid", sub)?),
            None => params,
        })
    }

    /// The timestamp and nonce: given, or now and fresh.
    fn fresh(&self) -> Result<(String, String)> {
        let timestamp = self.timestamp.unwrap_or_else(crate::clock::unix_now);
        if timestamp <= 0 {
            return Err(Error::InvalidOption {
                key: "timestamp".to_owned(),
                reason: format!("{timestamp} is not a Unix time in seconds"),
            });
        }
        let nonce = match &self.nonce {
            Some(given) => {
                if given.is_empty()
                    || given.len() > MAX_NONCE
                    || !given.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(Error::InvalidOption {
                        key: "nonce".to_owned(),
                        reason: "a nonce is 1 to 32 ASCII letters and digits (WeChat's rule)"
                            .to_owned(),
                    });
                }
                given.clone()
            }
            None => random_alphanumeric(NONCE_LEN)?,
        };
        Ok((timestamp.to_string(), nonce))
    }

    fn rsa_sign(&self, message: &str) -> Result<String> {
        self.client.inner().signer().key().sign(message.as_bytes())
    }

    fn v2_sign(&self, fields: &Map<String, Value>, sign_type: SignType) -> Result<String> {
        let key = self.client.inner().apiv2_key().map_err(|_| {
            Error::Config(
                "APIv2 and payscore-page parameters are signed with the APIv2 key: add .apiv2_key(…) to the builder".to_owned(),
            )
        })?;
        v2_sign(fields, key, sign_type)
    }
}

/// The `prepay_id` of a create-order answer (APIv3 JSON, or APIv2 fields
/// read with [`crate::Response::xml`]).
///
/// ```
/// let answer = wechatpay_chain::json!({"prepay_id": "wx201410272009395522657a690389285100"});
/// assert_eq!(wechatpay_chain::invoke::prepay_id(&answer)?, "wx201410272009395522657a690389285100");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn prepay_id(answer: &Value) -> Result<&str> {
    answer
        .get("prepay_id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::InvalidOption {
            key: "prepay_id".to_owned(),
            reason: "the answer has no string `prepay_id`: pass the answer of a JSAPI, mini-program or APP order (v3/pay/transactions/jsapi, …/app)".to_owned(),
        })
}

/// `MD5` or `HMAC-SHA256`, as WeChat writes the sign type.
fn sign_type_name(sign_type: SignType) -> &'static str {
    match sign_type {
        SignType::HmacSha256 => "HMAC-SHA256",
        SignType::Md5 => "MD5",
    }
}

/// Each value followed by `\n`, the last one too.
fn lines(values: &[&str]) -> String {
    let mut message = String::with_capacity(values.iter().map(|v| v.len() + 1).sum());
    for value in values {
        message.push_str(value);
        message.push('\n');
    }
    message
}

/// A non-empty value without control characters: a line feed inside a
/// value would shift the signed lines.
fn checked<'v>(name: &str, value: &'v str) -> Result<&'v str> {
    if value.is_empty() {
        return Err(Error::InvalidOption {
            key: name.to_owned(),
            reason: "is empty".to_owned(),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(Error::InvalidOption {
            key: name.to_owned(),
            reason: "contains a control character (a line feed would change the signed message)"
                .to_owned(),
        });
    }
    Ok(value)
}

fn checked_prepay_id(value: &str) -> Result<&str> {
    let value = checked("prepay_id", value)?;
    if value.starts_with("prepay_id=") {
        return Err(Error::InvalidOption {
            key: "prepay_id".to_owned(),
            reason: "give the bare prepay id (the answer's `prepay_id`); `prepay_id=` is added to `package` for JSAPI, and APP takes it bare".to_owned(),
        });
    }
    if value.chars().any(char::is_whitespace) {
        return Err(Error::InvalidOption {
            key: "prepay_id".to_owned(),
            reason: "contains whitespace; a prepay id never does".to_owned(),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::{checked_prepay_id, lines};

    #[test]
    fn every_line_ends_in_a_line_feed() {
        assert_eq!(lines(&["a", "b", "c", "d"]), "a\nb\nc\nd\n");
    }

    #[test]
    fn refuses_a_package_given_as_prepay_id() {
        let error = checked_prepay_id("prepay_id=wx2014").unwrap_err();
        assert!(error.to_string().contains("bare prepay id"), "{error}");
        assert!(checked_prepay_id("wx20 14").is_err());
        assert!(checked_prepay_id("").is_err());
    }
}
