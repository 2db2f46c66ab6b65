//! Request options: placeholder values, JSON body, query, headers, raw body.
//!
//! Two ways to write them: the PHP-style map
//! (`json!({"out_order_no": "…", "json": {…}, "query": {…}, "headers": {…}})`)
//! or the [`Options`] builder. Mistakes are kept, not thrown: the first one
//! surfaces as the request's error, before anything is sent.

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;

pub use crate::path::RESERVED_KEYS;

/// Headers the SDK owns: setting them would break the signature or the
/// framing of the request.
const FORBIDDEN_HEADERS: [&str; 4] = [
    "authorization",
    "host",
    "content-length",
    "transfer-encoding",
];

/// What a request carries besides its method and path.
///
/// ```
/// use wechatpay_chain::{json, Options};
///
/// // builder form
/// let a = Options::new()
///     .path("out_order_no", "1234323JKHDFE1243252")
///     .json(&json!({"appid": "wxd678efh567hg6787"}));
/// // PHP-style map, the same request
/// let b = Options::from(json!({
///     "out_order_no": "1234323JKHDFE1243252",
///     "json": {"appid": "wxd678efh567hg6787"},
/// }));
/// assert_eq!(a.body_bytes(), b.body_bytes());
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct Options {
    pub(crate) params: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Body>,
    pub(crate) skip_verification: bool,
    /// The key the body's sensitive fields were encrypted for.
    pub(crate) encrypted_for: Option<String>,
    /// The caller says repeating this request is harmless.
    pub(crate) idempotent: bool,
    /// A multipart upload: the body signed is its `meta` JSON.
    pub(crate) upload: Option<crate::media::Media>,
    /// APIv2: the XML fields.
    pub(crate) xml: Option<Map<String, Value>>,
    /// APIv2: send no `nonce_str`.
    pub(crate) nonceless: bool,
    /// APIv2: use the TLS client certificate.
    pub(crate) security: bool,
    pub(crate) error: Option<Error>,
}

/// The bytes a request sends (and signs).
#[derive(Debug, Clone)]
pub(crate) enum Body {
    /// Serialized from `json`, sent as `application/json`.
    Json(Bytes),
    /// Given as is with `body`.
    Raw(Bytes),
}

impl Body {
    pub(crate) fn bytes(&self) -> &Bytes {
        match self {
            Body::Json(b) | Body::Raw(b) => b,
        }
    }

    pub(crate) fn into_bytes(self) -> Bytes {
        match self {
            Body::Json(b) | Body::Raw(b) => b,
        }
    }
}

impl Options {
    /// No placeholders, no body, no query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fills placeholder `{name}` with `value` (percent-encoded as one segment).
    ///
    /// ```
    /// let options = wechatpay_chain::Options::new().path("out_order_no", "1234323JKHDFE1243252");
    /// # let _ = options;
    /// ```
    pub fn path(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        if RESERVED_KEYS.contains(&name.as_str()) {
            self.fail(Error::InvalidOption {
                key: name,
                reason: "is a reserved option key and cannot name a placeholder".to_owned(),
            });
            return self;
        }
        upsert(&mut self.params, name, value.into());
        self
    }

    /// Adds query parameter `name=value` (percent-encoded), in call order.
    ///
    /// ```
    /// let options = wechatpay_chain::Options::new().query("bill_date", "2026-01-01").query("tar_type", "GZIP");
    /// # let _ = options;
    /// ```
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Sets a request header. `Authorization`, `Host`, `Content-Length` and
    /// `Transfer-Encoding` belong to the SDK and are refused.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Err(e) = self.try_header(&name.into(), &value.into()) {
            self.fail(e);
        }
        self
    }

    /// Serializes `value` as the JSON body; these exact bytes are signed and sent.
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Cancel<'a> { appid: &'a str, service_id: &'a str, reason: &'a str }
    ///
    /// let options = wechatpay_chain::Options::new()
    ///     .json(&Cancel { appid: "wxd678efh567hg6787", service_id: "500001", reason: "用户取消" });
    /// assert_eq!(options.body_bytes().unwrap()[..9], br#"{"appid":"#[..]);
    /// ```
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.set_body(Body::Json(bytes.into())),
            Err(e) => self.fail(Error::Serialize(e)),
        }
        self
    }

    /// Sends `bytes` as the body, exactly. The content type is
    /// `application/json` unless a `Content-Type` header is set.
    ///
    /// ```
    /// let options = wechatpay_chain::Options::new().body(r#"{"total": 1}"#);
    /// assert_eq!(options.body_bytes(), Some(&br#"{"total": 1}"#[..]));
    /// ```
    pub fn body(mut self, bytes: impl Into<Bytes>) -> Self {
        self.set_body(Body::Raw(bytes.into()));
        self
    }

    /// Accepts a 2xx answer without checking WeChat Pay's signature. Only
    /// for endpoints that really answer unsigned; the file downloads WeChat
    /// Pay never signs ([`UNSIGNED_DOWNLOADS`](crate::request::UNSIGNED_DOWNLOADS)
    /// and the complaint images `v3/merchant-service/images/{media_id}`)
    /// and the APIv2 endpoints of [`UNSIGNED_RESPONSES`](crate::v2::rules::UNSIGNED_RESPONSES)
    /// are already exempt without this.
    ///
    /// ```
    /// let options = wechatpay_chain::Options::new().skip_verification();
    /// # let _ = options;
    /// ```
    pub fn skip_verification(mut self) -> Self {
        self.skip_verification = true;
        self
    }

    /// APIv2: the payload, any serde value that is a flat map; sent as
    /// `<xml>…</xml>` with `nonce_str` and `sign` added.
    pub fn xml<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(Value::Object(map)) => self.xml = Some(map),
            Ok(other) => self.fail(invalid("xml", "must be a map of fields", &other)),
            Err(e) => self.fail(Error::Serialize(e)),
        }
        self
    }

    /// APIv2: do not add a `nonce_str` (the few endpoints that take none).
    pub fn nonceless(mut self) -> Self {
        self.nonceless = true;
        self
    }

    /// APIv2: send with the merchant TLS client certificate (refunds,
    /// transfers, red packets, …; see [the APIv2 guide](crate::guide::apiv2)).
    pub fn security(mut self) -> Self {
        self.security = true;
        self
    }

    /// Declares that sending this request twice does no harm (e.g. a payscore
    /// create or cancel with identical parameters, or a query by POST), so it
    /// may be retried after a timeout, a 5xx or a 429 like a GET.
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// Sends `Wechatpay-Serial` naming the key `encryptor` encrypts with;
    /// a conflicting `Wechatpay-Serial` header is an error.
    pub fn encrypted_with(mut self, encryptor: &crate::encryptor::Encryptor) -> Self {
        self.encrypted_for = Some(encryptor.serial().to_owned());
        self
    }

    /// The body bytes that will be signed and sent, if any.
    pub fn body_bytes(&self) -> Option<&[u8]> {
        self.body.as_ref().map(|b| b.bytes().as_ref())
    }

    fn set_body(&mut self, body: Body) {
        if self.body.is_some() {
            self.fail(Error::InvalidOption {
                key: "body".to_owned(),
                reason: "a request has one body: give `json` or `body`, not both".to_owned(),
            });
        }
        self.body = Some(body);
    }

    fn try_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let bad = |reason: String| Error::InvalidOption {
            key: format!("headers.{name}"),
            reason,
        };
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad("is not a valid header name".to_owned()))?;
        if FORBIDDEN_HEADERS.contains(&header.as_str()) {
            return Err(bad(
                "is set by the SDK (it is part of the signature or framing)".to_owned(),
            ));
        }
        let value = HeaderValue::from_str(value).map_err(|_| {
            bad("value must be visible ASCII (no control characters or line breaks)".to_owned())
        })?;
        self.headers.insert(header, value);
        Ok(())
    }

    fn fail(&mut self, error: Error) {
        self.error.get_or_insert(error);
    }
}

/// Options are values: clone one to send the same request twice (a bad
/// option stays an error in every copy).
///
/// ```
/// use wechatpay_chain::Options;
/// let base = Options::new().query("mchid", "1900000109");
/// let a = base.clone().path("transaction_id", "4200000000202601010000000000");
/// let b = base.path("transaction_id", "4200000000202601010000000001");
/// # let _ = (a, b);
/// ```
impl Clone for Options {
    fn clone(&self) -> Self {
        Options {
            params: self.params.clone(),
            query: self.query.clone(),
            headers: self.headers.clone(),
            body: self.body.clone(),
            skip_verification: self.skip_verification,
            encrypted_for: self.encrypted_for.clone(),
            idempotent: self.idempotent,
            upload: self.upload.clone(),
            xml: self.xml.clone(),
            nonceless: self.nonceless,
            security: self.security,
            error: self.error.as_ref().map(copy_error),
        }
    }
}

/// The errors an `Options` can hold, copied (serde's error is not `Clone`:
/// its message is kept).
fn copy_error(error: &Error) -> Error {
    match error {
        Error::InvalidOption { key, reason } => Error::InvalidOption {
            key: key.clone(),
            reason: reason.clone(),
        },
        Error::Serialize(e) => Error::Serialize(serde::ser::Error::custom(e.to_string())),
        other => Error::InvalidOption {
            key: "options".to_owned(),
            reason: other.to_string(),
        },
    }
}

impl Options {
    /// The map form: reserved keys plus placeholder values.
    fn from_map(map: Map<String, Value>) -> Self {
        let mut options = Options::new();
        for (key, value) in map {
            match key.as_str() {
                "json" => options = options.json(&value),
                "xml" => options = options.xml(&value),
                "security" | "nonceless" => match value {
                    Value::Bool(true) if key == "security" => options = options.security(),
                    Value::Bool(true) => options = options.nonceless(),
                    Value::Bool(false) => {}
                    other => options.fail(invalid(&key, "must be true or false", &other)),
                },
                "body" => match value {
                    Value::String(text) => options = options.body(text),
                    other => options.fail(invalid(
                        &key,
                        "must be a string of the exact bytes to send",
                        &other,
                    )),
                },
                "query" => {
                    for (name, v) in entries(&key, value, &mut options) {
                        match scalar(&v) {
                            Some(text) => options = options.query(name, text),
                            None => options.fail(invalid(
                                &format!("query.{name}"),
                                "must be a string, number or boolean",
                                &v,
                            )),
                        }
                    }
                }
                "headers" => {
                    for (name, v) in entries(&key, value, &mut options) {
                        match v.as_str() {
                            Some(text) => options = options.header(&name, text),
                            None => options.fail(invalid(
                                &format!("headers.{name}"),
                                "must be a string",
                                &v,
                            )),
                        }
                    }
                }
                _ => match value {
                    Value::String(text) => options = options.path(key, text),
                    Value::Number(n) => options = options.path(key, n.to_string()),
                    other => options.fail(misplaced(&key, &other)),
                },
            }
        }
        options
    }
}

fn upsert(list: &mut Vec<(String, String)>, name: String, value: String) {
    match list.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = value,
        None => list.push((name, value)),
    }
}

fn entries(key: &str, value: Value, options: &mut Options) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => {
            options.fail(invalid(key, "must be an object", &other));
            Map::new()
        }
    }
}

/// A string, number or boolean as text; anything else is `None`.
pub(crate) fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A top-level key whose value can fill no placeholder: most often a body
/// field written without the `"json"` wrapper.
fn misplaced(key: &str, got: &Value) -> Error {
    let hint = crate::path::body_hint(key);
    let reason = if crate::path::is_body_field(key) {
        format!(
            "got {}: {hint}; a placeholder value is a string or number",
            kind(got)
        )
    } else {
        format!(
            "is a placeholder value and must be a string or number, got {}; {hint}",
            kind(got)
        )
    };
    Error::InvalidOption {
        key: key.to_owned(),
        reason,
    }
}

fn invalid(key: &str, expected: &str, got: &Value) -> Error {
    Error::InvalidOption {
        key: key.to_owned(),
        reason: format!("{expected}, got {}", kind(got)),
    }
}

/// A JSON value's kind, for messages.
fn kind(got: &Value) -> &'static str {
    match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl From<Value> for Options {
    /// The PHP-style map. Anything but a JSON object is an error.
    fn from(value: Value) -> Self {
        match value {
            Value::Object(map) => Options::from_map(map),
            Value::Null => Options::new(),
            other => {
                let mut options = Options::new();
                options.fail(invalid(
                    "options",
                    "must be an object like {\"json\": {…}}",
                    &other,
                ));
                options
            }
        }
    }
}

impl From<()> for Options {
    /// No options: `.get(())`.
    fn from(_: ()) -> Self {
        Options::new()
    }
}
