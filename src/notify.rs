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

pub use crate::error::NotificationError;

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
        self.open_notification(
            |verifier| verifier.verify(headers, body, now).map(str::to_owned),
            body,
        )
    }

    /// [`Client::notification`] for any web framework: `header(name)`
    /// returns the text of the request header `name` (`Wechatpay-Timestamp`,
    /// `Wechatpay-Nonce`, `Wechatpay-Signature`, `Wechatpay-Serial`,
    /// `Wechatpay-Signature-Type`), however the framework stores them.
    ///
    /// ```
    /// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
    /// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    /// #     .private_key_file("src/mock/data/merchant_key.pem")
    /// #     .platform_certificate_file("src/mock/data/platform_cert.pem")
    /// #     .apiv3_key("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").build()?;
    /// // actix-web: |name| req.headers().get(name).and_then(|v| v.to_str().ok())
    /// // plain values, as a queue or a log line keeps them:
    /// let (timestamp, nonce, signature, serial) =
    ///     ("1795305600", "N", "c2lnbmF0dXJl", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    /// let header = |name: &str| match name {
    ///     "Wechatpay-Timestamp" => Some(timestamp),
    ///     "Wechatpay-Nonce" => Some(nonce),
    ///     "Wechatpay-Signature" => Some(signature),
    ///     "Wechatpay-Serial" => Some(serial),
    ///     _ => None,
    /// };
    /// let err = client.notification_with(header, b"{}").unwrap_err();
    /// assert!(matches!(err, wechatpay_chain::Error::Verify { .. }));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn notification_with<'h>(
        &self,
        header: impl Fn(&'static str) -> Option<&'h str>,
        body: &[u8],
    ) -> Result<Notification> {
        self.open_notification(
            |verifier| {
                verifier
                    .verify_with(header, body, unix_now())
                    .map(str::to_owned)
            },
            body,
        )
    }

    /// Verifies with `verify`, then reads and decrypts the envelope.
    fn open_notification(
        &self,
        verify: impl FnOnce(&crate::verify::Verifier) -> std::result::Result<String, crate::VerifyError>,
        body: &[u8],
    ) -> Result<Notification> {
        let key = self.inner().apiv3_key("notifications need")?;
        let verified_by = verify(&self.verifier()).map_err(|kind| Error::Verify {
            kind,
            request_id: None,
        })?;
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

/// For one notification URL serving many merchants: the client among
/// `clients` that trusts the key the notification's `Wechatpay-Serial`
/// names (each merchant has its own platform certificates and public key).
/// `None`: no merchant here knows that key, answer [`failure`].
///
/// ```
/// use wechatpay_chain::{notify, Client};
///
/// let merchant = |mchid: &str| Client::builder().mchid(mchid)
///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
///     .private_key_file("src/mock/data/merchant_key.pem");
/// let a = merchant("1900000109").platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
/// let b = merchant("1900000110")
///     .platform_public_key_file("PUB_KEY_ID_0119000001092026010100000000000001", "src/mock/data/wechatpay_pub_key.pem")
///     .build()?;
/// let clients = [a, b];
/// let found = notify::client_for(&clients, "PUB_KEY_ID_0119000001092026010100000000000001");
/// assert_eq!(found.map(Client::mchid), Some("1900000110"));
/// assert!(notify::client_for(&clients, "0123").is_none());
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn client_for<'a>(clients: &'a [Client], serial: &str) -> Option<&'a Client> {
    clients
        .iter()
        .find(|client| client.verifier().contains(serial))
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

/// The response as an `http::Response` (axum, hyper and anything on
/// `http` 1.x can return it as is); a failure is `application/json`.
///
/// ```
/// let response: http::Response<String> = wechatpay_chain::notify::failure("busy").into();
/// assert_eq!(response.status(), 500);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
impl From<NotificationResponse> for http::Response<String> {
    fn from(response: NotificationResponse) -> Self {
        let mut http = http::Response::new(response.body);
        *http.status_mut() = http::StatusCode::from_u16(response.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        if !http.body().is_empty() {
            http.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
        }
        http
    }
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
