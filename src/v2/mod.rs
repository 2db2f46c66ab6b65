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

pub(crate) mod download;
pub mod notify;
pub mod rules;
pub mod sign;
pub(crate) mod verify;
pub mod xml;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use serde_json::{Map, Value};

use self::sign::SignType;
use self::verify::field;
use crate::crypto::random_alphanumeric;
pub use crate::error::ApiV2Error;
use crate::error::{Error, Result};
use crate::options::Options;
use crate::request::{PreparedRequest, Protocol};
use crate::Method;

impl crate::Response {
    /// Decodes an APIv2 XML body (flat fields, all strings) into any
    /// `DeserializeOwned` type, including `serde_json::Value`.
    ///
    /// ```no_run
    /// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
    /// let res = client["v2/pay/orderquery"].post(wechatpay_chain::json!({"xml": {"out_trade_no": "T1"}})).await?;
    /// let fields: wechatpay_chain::Value = res.xml()?;
    /// println!("{}", fields["trade_state"]);
    /// # Ok(()) }
    /// ```
    pub fn xml<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let (status, body) = self.status_and_body();
        let fields = xml::parse(body)?;
        serde_json::from_value(Value::Object(fields))
            .map_err(|source| Error::Decode { status, source })
    }
}

/// The signed APIv2 request for `template` (`v2/…`): fields completed
/// (`mch_id`, `appid`, `nonce_str`) and signed into the XML body, or for a
/// GET into the query string, as wechatpay-php and wechatpay-axios-plugin
/// send them.
pub(crate) fn prepare(
    context: &Context<'_>,
    method: Method,
    template: &str,
    options: Options,
) -> Result<PreparedRequest> {
    if let Some(error) = options.error {
        return Err(error);
    }
    if options.body.is_some() || options.upload.is_some() {
        return Err(Error::InvalidOption {
            key: "json".to_owned(),
            reason: "an APIv2 call takes its payload as `xml` (or `query` for a GET), not `json` or `body`".to_owned(),
        });
    }
    let settings = Settings::required(context.settings)?;
    let wire = template.strip_prefix("v2/").unwrap_or(template);
    let is_get = method == Method::GET;
    let (url, relative_path, body) = if is_get {
        if options.xml.is_some() {
            return Err(Error::InvalidOption {
                key: "xml".to_owned(),
                reason: "a GET has no body: give its fields as `query`; they are signed into the query string".to_owned(),
            });
        }
        let mut fields: Map<String, Value> = Map::new();
        for (key, value) in options.query {
            if fields.insert(key.clone(), Value::String(value)).is_some() {
                return Err(Error::InvalidOption {
                    key: format!("query.{key}"),
                    reason: "given twice; an APIv2 field has one value".to_owned(),
                });
            }
        }
        complete(context.mchid, settings, &mut fields, options.nonceless)?;
        let (url, relative_path) = context.url(wire, &options.params, &query_pairs(&fields))?;
        (url, relative_path, None)
    } else {
        let (url, relative_path) = context.url(wire, &options.params, &options.query)?;
        let mut fields = options.xml.unwrap_or_default();
        complete(context.mchid, settings, &mut fields, options.nonceless)?;
        let xml = xml::write(&fields).map_err(|reason| Error::InvalidOption {
            key: "xml".to_owned(),
            reason,
        })?;
        (url, relative_path, Some(bytes::Bytes::from(xml)))
    };
    if options.security {
        // Refused here, before anything is sent, with the transport's own check.
        settings.tls_client()?;
    }
    let unsigned = rules::is_unsigned(&relative_path);
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(USER_AGENT, context.user_agent.clone());
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("text/xml, text/plain, application/x-gzip"),
    );
    if body.is_some() {
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
    }
    for (name, value) in &options.headers {
        headers.insert(name, value.clone());
    }
    Ok(PreparedRequest {
        method,
        url,
        relative_path,
        headers,
        body,
        signed_response: !options.skip_verification && !unsigned,
        upload: None,
        template: template.to_owned(),
        idempotent: options.idempotent || is_get,
        protocol: Protocol::V2 {
            security: options.security,
        },
        timeout: None,
    })
}

/// The signed fields as query pairs: sorted by name (the order they were
/// signed in), `sign` last.
fn query_pairs(fields: &Map<String, Value>) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "sign")
        .filter_map(|(k, v)| sign::scalar(v).map(|v| (k.clone(), v)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(signature) = field(fields, "sign") {
        pairs.push(("sign".to_owned(), signature.to_owned()));
    }
    pairs
}

/// Adds what the builder asked for and `nonce_str`, checks `mch_id`, signs.
fn complete(
    mchid: &str,
    settings: &Settings,
    fields: &mut Map<String, Value>,
    nonceless: bool,
) -> Result<()> {
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

/// What preparing an APIv2 request needs from the client: handed down,
/// so that preparation never calls back into the client.
pub(crate) struct Context<'a> {
    /// `None` when the builder was given no APIv2 key.
    pub(crate) settings: Option<&'a Settings>,
    pub(crate) mchid: &'a str,
    pub(crate) user_agent: &'a HeaderValue,
    pub(crate) base_url: &'a str,
    /// The base URL's path (`/`, or `/hk/` for a prefix).
    pub(crate) base_path: &'a str,
}

impl Context<'_> {
    fn url(
        &self,
        template: &str,
        params: &[(String, String)],
        query: &[(String, String)],
    ) -> Result<(reqwest::Url, String)> {
        crate::path::url(self.base_url, self.base_path, template, params, query)
    }
}

/// What the builder configured for APIv2.
pub(crate) struct Settings {
    pub(crate) key: String,
    pub(crate) appid: Option<String>,
    pub(crate) add_mch_id: bool,
    /// A client presenting the merchant TLS certificate.
    pub(crate) tls: Option<reqwest::Client>,
}

impl Settings {
    /// The settings, or the error that says how to add them.
    pub(crate) fn required(settings: Option<&Settings>) -> Result<&Settings> {
        settings.ok_or_else(|| {
            Error::Config(
                "APIv2 calls need the APIv2 key: add .apiv2_key(…) to the builder".to_owned(),
            )
        })
    }

    /// The client that presents the merchant TLS certificate (`security`).
    pub(crate) fn tls_client(&self) -> Result<&reqwest::Client> {
        self.tls.as_ref().ok_or_else(|| {
            Error::Config(
                "`security` needs the merchant TLS certificate: add .apiv2_client_certificate(cert, key) or .apiv2_client_pkcs12(…)"
                    .to_owned(),
            )
        })
    }
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
