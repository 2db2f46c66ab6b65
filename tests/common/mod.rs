//! Shared test fixtures: the test keys, a client for a given base URL, and
//! the other side of the wire (checking requests, signing answers) built
//! from the same test keys with plain OpenSSL calls.
#![allow(dead_code)]

pub mod flows;
pub mod sink;

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use httpmock::prelude::HttpMockRequest;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::{Signer, Verifier};
use openssl::x509::X509;
use wechatpay_chain::Client;

pub const MCHID: &str = "1900000109";
pub const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD2A00B0D8";
pub const PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000001092026010100000000000001";

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(if name.ends_with(".pem") {
            "src/mock/data"
        } else {
            "tests/data"
        })
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

pub fn vectors() -> serde_json::Value {
    serde_json::from_slice(&read("vectors.json")).unwrap()
}

/// A client that trusts both the platform certificate and the public key
/// (so it prefers the public key).
pub fn client(base_url: &str) -> Client {
    Client::builder()
        .mchid(MCHID)
        .merchant_serial(MERCHANT_SERIAL)
        .private_key_file(data("merchant_key.pem"))
        .platform_certificate_file(data("platform_cert.pem"))
        .platform_public_key_file(PUBLIC_KEY_ID, data("wechatpay_pub_key.pem"))
        .base_url(base_url)
        .build()
        .unwrap()
}

/// Which WeChat Pay key signs an answer.
#[derive(Clone, Copy)]
pub enum SignWith {
    Certificate,
    PublicKey,
    /// The merchant's own key, which the client must not trust.
    WrongKey,
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The `Wechatpay-*` headers WeChat Pay would send with `body`.
pub fn signed_headers(body: &[u8], with: SignWith, timestamp: i64) -> Vec<(&'static str, String)> {
    let (key_file, serial) = match with {
        SignWith::Certificate => ("platform_key.pem", PLATFORM_SERIAL),
        SignWith::PublicKey => ("wechatpay_pub_key_private.pem", PUBLIC_KEY_ID),
        SignWith::WrongKey => ("merchant_key.pem", PLATFORM_SERIAL),
    };
    let key = PKey::private_key_from_pem(&read(key_file)).unwrap();
    let nonce = "f4b4c7a6e1c2d3b4a5968778695a4b3c";
    let mut message = format!("{timestamp}\n{nonce}\n").into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
    signer.update(&message).unwrap();
    let signature = BASE64.encode(signer.sign_to_vec().unwrap());
    vec![
        ("Wechatpay-Timestamp", timestamp.to_string()),
        ("Wechatpay-Nonce", nonce.to_owned()),
        ("Wechatpay-Signature", signature),
        ("Wechatpay-Serial", serial.to_owned()),
        (
            "Wechatpay-Signature-Type",
            "WECHATPAY2-SHA256-RSA2048".to_owned(),
        ),
        ("Request-ID", "08F78BB5AF0D11ED8E1C0A58E7B4E7A4".to_owned()),
    ]
}

/// An httpmock answer carrying `headers` (e.g. from [`signed_headers`]).
pub fn with_headers(
    mut then: httpmock::Then,
    headers: Vec<(&'static str, String)>,
) -> httpmock::Then {
    for (name, value) in headers {
        then = then.header(name, value);
    }
    then
}

/// `headers` with the value of `name` replaced.
pub fn replace_header(
    headers: Vec<(&'static str, String)>,
    name: &str,
    value: &str,
) -> Vec<(&'static str, String)> {
    headers
        .into_iter()
        .map(|(n, v)| {
            if n == name {
                (n, value.to_owned())
            } else {
                (n, v)
            }
        })
        .collect()
}

/// What WeChat Pay checks on a request: Authorization parsed in any order,
/// mchid and serial known, RSA over METHOD, raw target, timestamp, nonce
/// and body with the merchant certificate's public key; Accept and
/// User-Agent present.
/// The request-target as received: path and query, no scheme or host.
pub fn target(req: &HttpMockRequest) -> String {
    req.uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_default()
}

pub fn request_is_signed(req: &HttpMockRequest) -> bool {
    check_request(req).is_ok()
}

pub fn check_request(req: &HttpMockRequest) -> Result<(), String> {
    let headers = req.headers();
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    get("accept")
        .filter(|a| a == "application/json")
        .ok_or("Accept")?;
    get("user-agent")
        .filter(|a| a.starts_with("wechatpay-chain/"))
        .ok_or("User-Agent")?;
    let auth = get("authorization").ok_or("no Authorization")?;
    let params = auth
        .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
        .ok_or("scheme")?;
    let mut fields = std::collections::HashMap::new();
    for pair in params.split(',') {
        let (k, v) = pair.split_once('=').ok_or("pair")?;
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .ok_or("quotes")?;
        fields.insert(k.to_owned(), v.to_owned());
    }
    let field = |k: &str| fields.get(k).cloned().ok_or(format!("missing {k}"));
    if field("mchid")? != MCHID || field("serial_no")? != MERCHANT_SERIAL {
        return Err("mchid or serial".into());
    }
    let nonce = field("nonce_str")?;
    if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!("nonce {nonce}"));
    }
    let timestamp: i64 = field("timestamp")?.parse().map_err(|_| "timestamp")?;
    if (unix_now() - timestamp).abs() > 300 {
        return Err("stale".into());
    }
    let mut message = format!(
        "{}\n{}\n{}\n{}\n",
        req.method_str(),
        target(req),
        timestamp,
        nonce
    )
    .into_bytes();
    message.extend_from_slice(req.body_ref());
    message.push(b'\n');
    let cert = X509::from_pem(&read("merchant_cert.pem")).unwrap();
    let key = cert.public_key().unwrap();
    let signature = BASE64.decode(field("signature")?).map_err(|_| "base64")?;
    let mut verifier = Verifier::new(MessageDigest::sha256(), &key).unwrap();
    verifier.update(&message).unwrap();
    if verifier.verify(&signature).unwrap_or(false) {
        Ok(())
    } else {
        Err(format!(
            "signature over {:?}",
            String::from_utf8_lossy(&message)
        ))
    }
}

/// Name/value pairs as a `HeaderMap`.
pub fn header_map(pairs: &[(&str, String)]) -> reqwest::header::HeaderMap {
    pairs
        .iter()
        .map(|(name, value)| {
            (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                reqwest::header::HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect()
}

/// A stub on `server` that answers `status` with `body` (unsigned) to
/// `method` on `path`, or to any request when `path` is `None`.
pub async fn respond<'a>(
    server: &'a httpmock::MockServer,
    route: Option<(httpmock::Method, &str)>,
    status: u16,
    body: impl Into<Vec<u8>>,
) -> httpmock::Mock<'a> {
    let body = body.into();
    server
        .mock_async(|when, then| {
            match route {
                Some((method, path)) => {
                    when.method(method).path(path);
                }
                None => {
                    when.any_request();
                }
            }
            then.status(status).body(body);
        })
        .await
}

/// An APIv2 MD5 `sign` by the documented algorithm, written here apart from
/// the crate's signer: fields in byte order, empty ones left out, `k=v`
/// joined by `&`, then `&key=` and the key; MD5; uppercase hex.
pub fn apiv2_md5(pairs: &[(&str, &str)], key: &str) -> String {
    let mut fields: Vec<(&str, &str)> = pairs.to_vec();
    fields.retain(|(_, value)| !value.is_empty());
    fields.sort_unstable_by_key(|(name, _)| name.as_bytes());
    let mut text = String::new();
    for (name, value) in fields {
        text += name;
        text += "=";
        text += value;
        text += "&";
    }
    text += "key=";
    text += key;
    let digest = openssl::hash::hash(openssl::hash::MessageDigest::md5(), text.as_bytes()).unwrap();
    digest
        .iter()
        .fold(String::new(), |hex, byte| hex + &format!("{byte:02X}"))
}

/// A raw HTTP/1.1 server on loopback that answers every request with
/// `head` (status line and headers, ending in a blank line) and `body`,
/// then holds the connection open without another byte: what a slow or
/// hostile server looks like. Returns its base URL (`http://127.0.0.1:N/`).
pub async fn stalling_server(head: String, body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (head, body) = (head.clone(), body.clone());
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buffer = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buffer[..n]),
                    }
                }
                if socket.write_all(head.as_bytes()).await.is_err()
                    || socket.write_all(&body).await.is_err()
                {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            });
        }
    });
    format!("http://{addr}/")
}
