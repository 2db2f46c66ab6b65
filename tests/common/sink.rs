//! A merchant's notification endpoint on loopback: every notification the
//! mock sends is verified with the SDK's helper (as a merchant would) and
//! decrypted a second time with plain OpenSSL from the documented envelope
//! (AEAD_AES_256_GCM, key = APIv3 key, AAD = `associated_data`), so a test
//! sees what WeChat Pay's format says, not only what our code agrees on.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::Value;
use wechatpay_chain::Client;

/// One notification as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope as sent (`id`, `event_type`, `summary`, `resource{…}`).
    pub envelope: Value,
    /// The resource decrypted with OpenSSL from the envelope alone.
    pub resource: Value,
    /// What the SDK's notification helper made of it.
    pub verified: Result<Value, String>,
}

#[derive(Clone)]
struct Sink {
    client: Client,
    apiv3_key: &'static str,
    received: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; 204 once they run out.
    answers: Arc<Mutex<Vec<u16>>>,
}

/// A running endpoint: its `notify_url` and what it received.
pub struct NotifySink {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl NotifySink {
    /// Listens on 127.0.0.1; answers `answers` in order, then 204.
    pub async fn start(client: Client, apiv3_key: &'static str, answers: &[u16]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink {
            client,
            apiv3_key,
            received: received.clone(),
            answers: Arc::new(Mutex::new(answers.iter().rev().copied().collect())),
        };
        let app = axum::Router::new()
            .route("/notify", axum::routing::post(receive))
            .with_state(sink);
        tokio::spawn(async move { axum::serve(listener, app).await });
        NotifySink { url, received }
    }

    /// Waits until `count` notifications arrived (10 s at most).
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        for _ in 0..1000 {
            let got = self.received.lock().unwrap().clone();
            if got.len() >= count {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "expected {count} notifications, got {:?}",
            self.received.lock().unwrap()
        );
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(
    State(sink): State<Sink>,
    headers: HeaderMap,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    let envelope: Value = serde_json::from_slice(&body).unwrap_or_default();
    let resource = decrypt(&envelope["resource"], sink.apiv3_key);
    let verified = sink
        .client
        .notification(&headers, &body)
        .and_then(|event| event.resource::<Value>())
        .map_err(|e| e.to_string());
    sink.received.lock().unwrap().push(Received {
        envelope,
        resource,
        verified,
    });
    let status = sink.answers.lock().unwrap().pop().unwrap_or(204);
    let text = if status < 300 {
        String::new()
    } else {
        r#"{"code":"FAIL","message":"busy"}"#.to_owned()
    };
    (axum::http::StatusCode::from_u16(status).unwrap(), text)
}

/// AEAD_AES_256_GCM as the notification documentation describes it:
/// base64 ciphertext whose last 16 bytes are the tag.
fn decrypt(resource: &Value, key: &str) -> Value {
    let text = |name: &str| resource[name].as_str().unwrap_or_default().to_owned();
    let sealed = BASE64.decode(text("ciphertext")).unwrap_or_default();
    if sealed.len() < 16 {
        return Value::Null;
    }
    let (data, tag) = sealed.split_at(sealed.len() - 16);
    openssl::symm::decrypt_aead(
        openssl::symm::Cipher::aes_256_gcm(),
        key.as_bytes(),
        Some(text("nonce").as_bytes()),
        text("associated_data").as_bytes(),
        data,
        tag,
    )
    .ok()
    .and_then(|plain| serde_json::from_slice(&plain).ok())
    .unwrap_or(Value::Null)
}
