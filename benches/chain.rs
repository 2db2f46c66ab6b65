//! What the SDK costs on top of the RSA it cannot avoid.
//!
//! `cargo bench --bench chain` prints, in one run:
//! - `prepare/*`: chain + options + path filling + URL, no I/O (goal < 5 µs);
//! - `sign/sdk` against `sign/openssl` (a bare RSA-2048 SHA-256 sign of the
//!   same message): the SDK's nonce, message and header cost is the difference;
//! - `verify/sdk` against `verify/openssl`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use reqwest::header::{HeaderMap, HeaderValue};
use wechatpay_chain::keys::{PrivateKey, WechatpayKey};
use wechatpay_chain::sign::{request_message, RequestSigner};
use wechatpay_chain::verify::Verifier;
use wechatpay_chain::{json, Client, Method, Options};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(if name.ends_with(".pem") {
            "src/mock/data"
        } else {
            "tests/data"
        })
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).expect("test data")
}

const TEMPLATE: &str = "v3/payscore/serviceorder/{out_order_no}/modify";

fn client() -> Client {
    Client::builder()
        .mchid("1900000109")
        .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
        .private_key_file(data("merchant_key.pem"))
        .platform_certificate_file(data("platform_cert.pem"))
        .build()
        .expect("bench client")
}

fn modify_body() -> wechatpay_chain::Value {
    json!({
        "appid": "wxd678efh567hg6787",
        "service_id": "2002000000000558128851361561536",
        "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
        "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100, "count": 2}],
        "total_amount": 39900,
        "reason": "用户投诉",
    })
}

fn prepare(c: &mut Criterion) {
    let client = client();
    let body = modify_body();
    c.bench_function("prepare/chain+map", |b| {
        b.iter(|| {
            let options = json!({"out_order_no": "1234323JKHDFE1243252", "json": body.clone()});
            black_box(client.chain(TEMPLATE).prepare(Method::POST, options.into()))
        })
    });
    c.bench_function("prepare/index+builder", |b| {
        b.iter(|| {
            let options = Options::new()
                .path("out_order_no", "1234323JKHDFE1243252")
                .json(&body);
            black_box(client[TEMPLATE].prepare(Method::POST, options))
        })
    });
}

fn sign(c: &mut Criterion) {
    let key = PrivateKey::from_pem(&read("merchant_key.pem")).expect("key");
    let signer = RequestSigner::new(
        "1900000109",
        "3775B6A45ACD588826D15E583A95F5DD2A00B0D8",
        key.clone(),
    );
    let body = serde_json::to_vec(&modify_body()).expect("json");
    let url = "/v3/payscore/serviceorder/1234323JKHDFE1243252/modify";
    let message = request_message(
        "POST",
        url,
        1795305600,
        "593BEC0C930BF1AFEB40B4A08C8FB242",
        &body,
    );
    let mut group = c.benchmark_group("sign");
    group.bench_function("openssl", |b| {
        b.iter(|| {
            let mut signer =
                openssl::sign::Signer::new(MessageDigest::sha256(), key.as_pkey()).expect("signer");
            signer.update(black_box(&message)).expect("update");
            black_box(signer.sign_to_vec().expect("sign"))
        })
    });
    group.bench_function("sdk", |b| {
        b.iter(|| {
            black_box(
                signer
                    .sign("POST", black_box(url), black_box(&body))
                    .expect("sign")
                    .to_string(),
            )
        })
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    let platform = PKey::private_key_from_pem(&read("platform_key.pem")).expect("key");
    let cert = WechatpayKey::from_certificate_pem(&read("platform_cert.pem")).expect("cert");
    let verifier = Verifier::new(vec![cert.clone()]).expect("verifier");
    let body = br#"{"out_order_no":"1234323JKHDFE1243252","state":"DOING","total_amount":39900}"#;
    let now = 1795305600;
    let message = wechatpay_chain::sign::response_message(&now.to_string(), "nonce", body);
    let signature = wechatpay_chain::crypto::sign_sha256_rsa(&platform, &message).expect("sign");
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("wechatpay-timestamp", now.to_string()),
        ("wechatpay-nonce", "nonce".to_owned()),
        ("wechatpay-signature", signature.clone()),
        ("wechatpay-serial", cert.id().to_owned()),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).expect("header"));
    }
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &signature)
        .expect("b64");
    let mut group = c.benchmark_group("verify");
    group.bench_function("openssl", |b| {
        b.iter(|| {
            let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), cert.as_pkey())
                .expect("verifier");
            v.update(black_box(&message)).expect("update");
            black_box(v.verify(&raw).expect("verify"))
        })
    });
    group.bench_function("sdk", |b| {
        b.iter(|| {
            black_box(
                verifier
                    .verify(black_box(&headers), black_box(body), now)
                    .is_ok(),
            )
        })
    });
    group.finish();
}

/// The notification vector: verify + AES-256-GCM decrypt, next to the bare
/// RSA verify it cannot avoid.
fn notification(c: &mut Criterion) {
    let vectors: serde_json::Value =
        serde_json::from_slice(&read("vectors.json")).expect("vectors");
    let v = &vectors["notification"];
    let mut headers = HeaderMap::new();
    for (name, value) in v["headers"].as_object().expect("headers") {
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name");
        headers.insert(
            name,
            HeaderValue::from_str(value.as_str().expect("text")).expect("value"),
        );
    }
    let body = v["body"].as_str().expect("body").as_bytes().to_vec();
    let client = Client::builder()
        .mchid("1900000109")
        .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
        .private_key_file(data("merchant_key.pem"))
        .platform_certificate_file(data("platform_cert.pem"))
        .apiv3_key(v["apiv3_key"].as_str().expect("key"))
        .build()
        .expect("client");
    let cert = WechatpayKey::from_certificate_pem(&read("platform_cert.pem")).expect("cert");
    let message = wechatpay_chain::sign::response_message(
        "1795305600",
        "8e1c7a2b9d4f6e3a5c0b1d2e3f4a5b6c",
        &body,
    );
    let signature = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        v["headers"]["Wechatpay-Signature"].as_str().expect("sig"),
    )
    .expect("b64");
    let mut group = c.benchmark_group("notification");
    group.bench_function("openssl-verify", |b| {
        b.iter(|| {
            let mut v = openssl::sign::Verifier::new(MessageDigest::sha256(), cert.as_pkey())
                .expect("verifier");
            v.update(black_box(&message)).expect("update");
            black_box(v.verify(&signature).expect("verify"))
        })
    });
    group.bench_function("sdk-verify+decrypt", |b| {
        b.iter(|| {
            black_box(
                client
                    .notification_at(black_box(&headers), black_box(&body), 1795305600)
                    .expect("ok"),
            )
        })
    });
    group.finish();
}

/// Media meta: hashing a 1 MiB image and building the signed meta JSON.
fn media(c: &mut Criterion) {
    let image: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("media");
    group.throughput(criterion::Throughput::Bytes(image.len() as u64));
    group.bench_function("meta-1MiB", |b| {
        b.iter(|| {
            let media = wechatpay_chain::media::Media::from_bytes("logo.png", image.clone());
            black_box(media.meta_json())
        })
    });
    group.finish();
}

/// A whole request against the in-process mock: sign, loopback HTTP, the
/// mock's verify and sign, the client's verify.
fn end_to_end(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime
        .block_on(wechatpay_chain::mock::MockServer::start())
        .expect("mock");
    let client = server.client().expect("client");
    c.bench_function("end-to-end/post-native", |b| {
        b.to_async(&runtime).iter(|| {
            let node = client["v3/pay/transactions/native"].clone();
            async move {
                black_box(
                    node.post(json!({"json": {"out_trade_no": "B"}}))
                        .await
                        .expect("ok"),
                )
            }
        })
    });
}

criterion_group!(
    benches,
    prepare,
    sign,
    verify,
    notification,
    media,
    end_to_end
);
criterion_main!(benches);
