//! APIv2 (legacy XML) through the same chain: a path starting `v2/`.
//!
//! ```no_run
//! # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
//! use wechatpay_chain::json;
//!
//! let res = client["v2/pay/micropay"]
//!     .post(json!({"xml": {
//!         "appid": "wxd678efh567hg6787", "mch_id": "1900000109", "body": "image形象店-深圳腾大-QQ公仔",
//!         "out_trade_no": "1217752501201407033233368018", "total_fee": 888,
//!         "spbill_create_ip": "8.8.8.8", "auth_code": "120061098828009406",
//!     }}))
//!     .await?;
//! let fields: wechatpay_chain::Value = res.xml()?;
//! println!("{}", fields["transaction_id"]);
//! # Ok(()) }
//! ```

pub mod notify;
pub mod sign;
pub mod xml;

use serde_json::{Map, Value};

use self::sign::SignType;
use crate::client::Inner;
use crate::crypto::random_alphanumeric;
use crate::error::{ApiError, Error, Result, VerifyError};
use crate::options::Options;
use crate::response::Response;
use crate::Method;

/// APIv2 endpoints whose answers carry no `sign`, and why. Everything else
/// must be signed.
pub const UNSIGNED_ANSWERS: [(&str, &str); 14] = [
    ("pay/downloadbill", "a file"),
    ("pay/downloadfundflow", "a file"),
    ("risk/getpublickey", "returns the RSA public key itself"),
    (
        "mmpaymkttransfers/promotion/transfers",
        "transfers to balance answer unsigned",
    ),
    (
        "mmpaymkttransfers/gettransferinfo",
        "transfers to balance answer unsigned",
    ),
    (
        "mmpaymkttransfers/promotion/paywwsptrans2pocket",
        "WeCom transfers answer unsigned",
    ),
    (
        "mmpaymkttransfers/promotion/querywwsptrans2pocket",
        "WeCom transfers answer unsigned",
    ),
    (
        "mmpaymkttransfers/sendredpack",
        "red packets answer unsigned",
    ),
    (
        "mmpaymkttransfers/sendgroupredpack",
        "red packets answer unsigned",
    ),
    (
        "mmpaymkttransfers/sendminiprogramhb",
        "red packets answer unsigned",
    ),
    ("mmpaymkttransfers/gethbinfo", "red packets answer unsigned"),
    (
        "mmpaymkttransfers/sendworkwxredpack",
        "WeCom red packets answer unsigned",
    ),
    (
        "mmpaymkttransfers/queryworkwxredpack",
        "WeCom red packets answer unsigned",
    ),
    (
        "mmpaysptrans/pay_bank",
        "transfers to bank cards answer unsigned",
    ),
];

/// Endpoints that answer a file rather than XML (XML only on failure).
const FILE_ANSWERS: [&str; 2] = ["pay/downloadbill", "pay/downloadfundflow"];

/// An APIv2 answer whose `return_code` or `result_code` is not SUCCESS.
///
/// ```no_run
/// # async fn demo(client: wechatpay_chain::Client) {
/// match client["v2/pay/orderquery"].post(wechatpay_chain::json!({"xml": {"out_trade_no": "T1"}})).await {
///     Err(wechatpay_chain::Error::ApiV2(e)) if e.err_code.as_deref() == Some("ORDERNOTEXIST") => {}
///     other => println!("{other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("WeChat Pay APIv2 answered {return_code}/{}: {}{}", .result_code.as_deref().unwrap_or("-"), .return_msg.as_deref().unwrap_or(""), describe(.err_code, .err_code_des))]
#[non_exhaustive]
pub struct ApiV2Error {
    /// `SUCCESS` or `FAIL` (communication level).
    pub return_code: String,
    /// Why the communication failed.
    pub return_msg: Option<String>,
    /// `SUCCESS` or `FAIL` (business level), when present.
    pub result_code: Option<String>,
    /// Business error code (`ORDERPAID`, `SYSTEMERROR`, `USERPAYING`, …).
    pub err_code: Option<String>,
    /// Its description.
    pub err_code_des: Option<String>,
    /// Every field of the answer.
    pub fields: Map<String, Value>,
}

fn describe(code: &Option<String>, description: &Option<String>) -> String {
    match (code, description) {
        (Some(code), Some(text)) => format!(" ({code}: {text})"),
        (Some(code), None) => format!(" ({code})"),
        _ => String::new(),
    }
}

impl ApiV2Error {
    fn from_fields(fields: Map<String, Value>) -> Self {
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
        ApiV2Error {
            return_code: text("return_code").unwrap_or_default(),
            return_msg: text("return_msg"),
            result_code: text("result_code"),
            err_code: text("err_code"),
            err_code_des: text("err_code_des"),
            fields,
        }
    }
}

impl From<ApiV2Error> for Error {
    fn from(err: ApiV2Error) -> Self {
        Error::ApiV2(Box::new(err))
    }
}

fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

/// Sends one APIv2 call: fields completed and signed, XML out, XML back,
/// codes and `sign` checked.
pub(crate) async fn execute(
    inner: &Inner,
    method: Method,
    template: &str,
    options: Options,
) -> Result<Response> {
    let (request, relative_path, settings) = build(inner, method, template, options)?;
    let answer = request.send().await.map_err(crate::client::transport)?;
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    let bytes = match crate::client::read_capped(answer, crate::client::MAX_ANSWER_BYTES).await {
        Ok(bytes) => bytes,
        Err(crate::client::Capped::Transport(e)) => return Err(crate::client::transport(e)),
        Err(crate::client::Capped::TooLarge) => {
            return Err(Error::AnswerTooLarge {
                limit: crate::client::MAX_ANSWER_BYTES,
            })
        }
    };
    if !(200..300).contains(&status) {
        let mut api = ApiError::from_response(status, None, bytes);
        api.headers = headers;
        return Err(api.into());
    }
    let is_file = FILE_ANSWERS.contains(&relative_path.as_str());
    if is_file && !bytes.trim_ascii_start().starts_with(b"<xml>") {
        return Ok(Response::new(status, headers, bytes, None));
    }
    let answer = xml::parse(&bytes)?;
    if field(&answer, "return_code") != Some("SUCCESS") {
        return Err(ApiV2Error::from_fields(answer).into());
    }
    let signed = !UNSIGNED_ANSWERS
        .iter()
        .any(|(path, _)| *path == relative_path);
    let verified_by = if signed {
        let received = field(&answer, "sign").ok_or(Error::Verify {
            kind: VerifyError::V2SignatureMissing,
            request_id: None,
        })?;
        let kind = SignType::from_sign(received);
        if !sign::verify(&answer, &settings.key) {
            return Err(Error::Verify {
                kind: VerifyError::V2SignatureMismatch,
                request_id: None,
            });
        }
        Some(match kind {
            SignType::HmacSha256 => "APIv2 HMAC-SHA256",
            _ => "APIv2 MD5",
        })
    } else {
        None
    };
    if field(&answer, "result_code").is_some_and(|code| code != "SUCCESS") {
        return Err(ApiV2Error::from_fields(answer).into());
    }
    Ok(Response::new(
        status,
        headers,
        bytes,
        verified_by.map(str::to_owned),
    ))
}

/// The signed XML request for `template`, and the path it goes to.
fn build<'a>(
    inner: &'a Inner,
    method: Method,
    template: &str,
    options: Options,
) -> Result<(reqwest::RequestBuilder, String, &'a Settings)> {
    if let Some(error) = options.error {
        return Err(error);
    }
    if options.body.is_some() || options.upload.is_some() {
        return Err(Error::InvalidOption {
            key: "json".to_owned(),
            reason: "an APIv2 call takes its payload as `xml`, not `json` or `body`".to_owned(),
        });
    }
    let settings = inner.apiv2.as_ref().ok_or_else(|| {
        Error::Config("APIv2 calls need the APIv2 key: add .apiv2_key(…) to the builder".to_owned())
    })?;
    let wire = template.strip_prefix("v2/").unwrap_or(template);
    let (url, relative_path) = inner.url(wire, &options.params, &options.query)?;
    let mut fields = options.xml.unwrap_or_default();
    let body = if fields.is_empty() && method == Method::GET {
        None
    } else {
        complete(inner, settings, &mut fields, options.nonceless)?;
        Some(xml::write(&fields).map_err(|reason| Error::InvalidOption {
            key: "xml".to_owned(),
            reason,
        })?)
    };
    let http = if options.security {
        settings.tls.as_ref().ok_or_else(|| {
            Error::Config(
                "`security` needs the merchant TLS certificate: add .apiv2_client_certificate(cert, key) or .apiv2_client_pkcs12(…)"
                    .to_owned(),
            )
        })?
    } else {
        inner.http()
    };
    let mut request = http
        .request(method, url)
        .header(reqwest::header::USER_AGENT, inner.user_agent())
        .header(reqwest::header::ACCEPT, "text/xml, application/xml")
        .headers(options.headers);
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(body);
    }
    Ok((request, relative_path, settings))
}

/// Streams an APIv2 file answer (`pay/downloadbill`, `pay/downloadfundflow`)
/// to `out` as it arrives (gzip stays gzip when `tar_type=GZIP`); an XML
/// answer instead is WeChat Pay's refusal and becomes the error.
pub(crate) async fn download<W: tokio::io::AsyncWrite + Unpin>(
    inner: &Inner,
    template: &str,
    options: Options,
    out: &mut W,
) -> Result<crate::download::Downloaded> {
    use tokio::io::AsyncWriteExt;
    let (request, relative_path, _) = build(inner, Method::POST, template, options)?;
    if !FILE_ANSWERS.contains(&relative_path.as_str()) {
        return Err(Error::Unsupported(format!(
            "`{template}` answers signed XML, which must be read whole to be verified: use .post()"
        )));
    }
    let mut answer = request
        .timeout(crate::download::DOWNLOAD_TIMEOUT)
        .send()
        .await
        .map_err(crate::client::transport)?;
    let status = answer.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(ApiError::from_response(
            status,
            None,
            answer.bytes().await.map_err(crate::client::transport)?,
        )
        .into());
    }
    let write = |e: std::io::Error| Error::Io {
        what: "writing the download".to_owned(),
        source: e,
    };
    let mut hasher = openssl::sha::Sha1::new();
    let mut written = 0u64;
    let mut first = true;
    while let Some(chunk) = answer.chunk().await.map_err(crate::client::transport)? {
        if first && chunk.trim_ascii_start().starts_with(b"<xml>") {
            let mut body = chunk.to_vec();
            while let Some(more) = answer.chunk().await.map_err(crate::client::transport)? {
                if body.len() + more.len() > xml::MAX_XML {
                    return Err(xml::XmlError::TooLarge(body.len() + more.len()).into());
                }
                body.extend_from_slice(&more);
            }
            return Err(ApiV2Error::from_fields(xml::parse(&body)?).into());
        }
        first = false;
        hasher.update(&chunk);
        written += chunk.len() as u64;
        out.write_all(&chunk).await.map_err(write)?;
    }
    out.flush().await.map_err(write)?;
    Ok(crate::download::Downloaded {
        bytes: written,
        sha1: crate::media::hex(&hasher.finish()),
    })
}

/// Adds what the builder asked for and `nonce_str`, checks `mch_id`, signs.
fn complete(
    inner: &Inner,
    settings: &Settings,
    fields: &mut Map<String, Value>,
    nonceless: bool,
) -> Result<()> {
    let mchid = inner.signer.mchid();
    match fields.get("mch_id").map(sign::scalar) {
        Some(Some(given)) if given != mchid => {
            return Err(Error::InvalidOption {
                key: "xml.mch_id".to_owned(),
                reason: format!("`{given}` is not this client's merchant id {mchid}; use a client for that merchant"),
            })
        }
        None if settings.add_mch_id => {
            fields.insert("mch_id".to_owned(), Value::String(mchid.to_owned()));
        }
        _ => {}
    }
    if let Some(appid) = &settings.appid {
        fields
            .entry("appid")
            .or_insert_with(|| Value::String(appid.clone()));
    }
    if !nonceless && !fields.contains_key("nonce_str") {
        fields.insert(
            "nonce_str".to_owned(),
            Value::String(random_alphanumeric(32)?),
        );
    }
    fields.remove("sign");
    let sign_type = SignType::from_field(field(fields, "sign_type"));
    let signature = sign::sign(fields, &settings.key, sign_type)?;
    fields.insert("sign".to_owned(), Value::String(signature));
    Ok(())
}

/// What the builder configured for APIv2.
pub(crate) struct Settings {
    pub(crate) key: String,
    pub(crate) appid: Option<String>,
    pub(crate) add_mch_id: bool,
    /// A client presenting the merchant TLS certificate.
    pub(crate) tls: Option<reqwest::Client>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("appid", &self.appid)
            .field("add_mch_id", &self.add_mch_id)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}
