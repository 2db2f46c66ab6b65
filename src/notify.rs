//! Notifications (回调通知): verify the signature over the raw body exactly
//! as for a response, then open `resource` with the APIv3 key.
//!
//! ```no_run
//! # fn demo(client: &wechatpay_chain::Client, headers: &reqwest::header::HeaderMap, body: &[u8]) {
//! use wechatpay_chain::notify;
//!
//! let answer = match client.notification(headers, body) {
//!     Ok(event) => {
//!         let order: wechatpay_chain::Value = event.resource().unwrap_or_default();
//!         println!("{} {}", event.event_type, order["out_order_no"]);
//!         notify::success()
//!     }
//!     Err(e) => notify::failure(&e.to_string()),
//! };
//! // reply with answer.status and answer.body
//! # }
//! ```

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use crate::client::Client;
use crate::crypto::aes_256_gcm_decrypt;
use crate::error::{Error, Result};
use crate::sign::unix_now;

/// The only resource algorithm WeChat Pay uses today.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";

/// Why a verified notification body could not be read.
///
/// ```
/// use wechatpay_chain::notify::NotificationError;
/// assert_eq!(NotificationError::MissingField("id").to_string(), "field `id` is missing or not a string");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotificationError {
    /// The body is not a JSON object.
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    /// A field the envelope must have is missing or not a string.
    #[error("field `{0}` is missing or not a string")]
    MissingField(&'static str),
    /// `resource.algorithm` is not `AEAD_AES_256_GCM`.
    #[error("resource algorithm `{0}` is not supported (expected AEAD_AES_256_GCM)")]
    UnsupportedAlgorithm(String),
}

/// A verified, decrypted notification.
///
/// ```no_run
/// # fn demo(client: &wechatpay_chain::Client, headers: &reqwest::header::HeaderMap, body: &[u8]) -> wechatpay_chain::Result<()> {
/// let event = client.notification(headers, body)?;
/// if event.event_type == "PAYSCORE.USER_PAID" {
///     let order: wechatpay_chain::Value = event.resource()?;
///     println!("{} paid", order["out_order_no"]);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Notification {
    /// Notification id (`EV-…`).
    pub id: String,
    /// When WeChat Pay created it (RFC 3339, +08:00).
    pub create_time: String,
    /// `PAYSCORE.USER_PAID`, `TRANSACTION.SUCCESS`, …
    pub event_type: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    /// WeChat Pay's one-line summary.
    pub summary: String,
    /// `resource.original_type` (`payscore`, `transaction`, …), if given.
    pub original_type: Option<String>,
    /// The id of the WeChat Pay key that signed it.
    pub verified_by: String,
    plaintext: Vec<u8>,
}

impl Notification {
    /// The decrypted resource as any `DeserializeOwned` type
    /// (`serde_json::Value` included).
    pub fn resource<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.plaintext).map_err(|source| Error::Decode {
            status: 200,
            source,
        })
    }

    /// The decrypted resource bytes.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }
}

#[derive(Deserialize)]
struct Envelope {
    id: Option<String>,
    create_time: Option<String>,
    event_type: Option<String>,
    resource_type: Option<String>,
    summary: Option<String>,
    resource: Option<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    algorithm: Option<String>,
    ciphertext: Option<String>,
    nonce: Option<String>,
    associated_data: Option<String>,
    original_type: Option<String>,
}

impl Client {
    /// Verifies a notification (headers and raw body exactly as received,
    /// before any parsing) and decrypts its resource with the APIv3 key.
    pub fn notification(&self, headers: &HeaderMap, body: &[u8]) -> Result<Notification> {
        self.notification_at(headers, body, unix_now())
    }

    /// [`Client::notification`] with the clock at `now` (Unix seconds), for
    /// replaying a stored notification in a test.
    pub fn notification_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Notification> {
        let key = self.inner().apiv3_key.as_ref().ok_or_else(|| {
            Error::Config(
                "notifications need the APIv3 key: add .apiv3_key(…) to the builder".to_owned(),
            )
        })?;
        let verifier = self.verifier();
        let verified_by = verifier
            .verify(headers, body, now)
            .map_err(|kind| Error::Verify {
                kind,
                request_id: None,
            })?
            .to_owned();
        let envelope: Envelope =
            serde_json::from_slice(body).map_err(|e| NotificationError::NotJson(e.to_string()))?;
        let field = |value: Option<String>, name: &'static str| {
            value.ok_or(NotificationError::MissingField(name))
        };
        let resource = envelope
            .resource
            .ok_or(NotificationError::MissingField("resource"))?;
        let algorithm = field(resource.algorithm, "resource.algorithm")?;
        if algorithm != ALGORITHM {
            return Err(NotificationError::UnsupportedAlgorithm(algorithm).into());
        }
        let ciphertext = field(resource.ciphertext, "resource.ciphertext")?;
        let nonce = field(resource.nonce, "resource.nonce")?;
        let associated_data = resource.associated_data.unwrap_or_default();
        let plaintext = aes_256_gcm_decrypt(
            &key.0,
            nonce.as_bytes(),
            associated_data.as_bytes(),
            &ciphertext,
        )?;
        Ok(Notification {
            id: field(envelope.id, "id")?,
            create_time: field(envelope.create_time, "create_time")?,
            event_type: field(envelope.event_type, "event_type")?,
            resource_type: envelope.resource_type.unwrap_or_default(),
            summary: envelope.summary.unwrap_or_default(),
            original_type: resource.original_type,
            verified_by,
            plaintext,
        })
    }
}

/// The HTTP response the merchant's notification handler sends back to
/// WeChat Pay ([`success`] or [`failure`]).
///
/// ```
/// let response = wechatpay_chain::notify::failure("busy");
/// assert_eq!((response.status, response.body.contains("FAIL")), (500, true));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NotificationResponse {
    /// HTTP status.
    pub status: u16,
    /// Body (empty for success).
    pub body: String,
}

/// "Received": 204, no body. WeChat Pay stops retrying.
///
/// ```
/// assert_eq!(wechatpay_chain::notify::success().status, 204);
/// ```
pub fn success() -> NotificationResponse {
    NotificationResponse {
        status: 204,
        body: String::new(),
    }
}

/// "Not processed": 500 with `{"code":"FAIL","message":…}`. WeChat Pay
/// retries later.
///
/// ```
/// let response = wechatpay_chain::notify::failure("database down");
/// assert_eq!(response.status, 500);
/// assert_eq!(response.body, r#"{"code":"FAIL","message":"database down"}"#);
/// ```
pub fn failure(message: &str) -> NotificationResponse {
    NotificationResponse {
        status: 500,
        body: json!({"code": "FAIL", "message": message}).to_string(),
    }
}
