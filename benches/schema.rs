//! What the schema check costs against the RSA sign every request pays.
//!
//! `cargo bench --bench schema` prints, in one run:
//! - `first use`: decompressing and parsing the table once, and the resident
//!   memory it adds (printed before criterion starts);
//! - `check/jsapi`: a full JSAPI order body (every field WeChat Pay's example
//!   carries) against its schema;
//! - `check/largest`: the operation with the most fields, every field given;
//! - `sign/openssl`: a bare RSA-2048 SHA-256 sign of a request message, the
//!   floor every request pays (the goal: a check under 5 % of it);
//! - `table/parse`: decompress + `serde_json` parse of the whole table.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use wechatpay_chain::catalog::{schema_table_json, Catalog, Field, Kind, RequestParts};
use wechatpay_chain::{json, Value};

/// Resident memory of this process, in KiB (Linux; 0 elsewhere).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Every field given: the example where the description has one.
fn full(field: &Field) -> Value {
    match field.kind() {
        Kind::Object => Value::Object(
            field
                .children()
                .iter()
                .map(|c| (c.name().to_owned(), full(c)))
                .collect(),
        ),
        Kind::Array => Value::Array(vec![field.items().map_or(json!("x"), full)]),
        Kind::Integer => field
            .example()
            .filter(|e| e.is_i64())
            .cloned()
            .unwrap_or(json!(1)),
        Kind::Number => field
            .example()
            .filter(|e| e.is_number())
            .cloned()
            .unwrap_or(json!(1)),
        Kind::Boolean => json!(false),
        _ => match field.enumeration().first() {
            Some(first) => first.clone(),
            None => field
                .example()
                .filter(|e| e.is_string())
                .cloned()
                .unwrap_or(json!("x")),
        },
    }
}

fn jsapi_body() -> Value {
    // WeChat Pay's JSAPI example (OA docs/v3/pay/transactions/jsapi.yaml's fields).
    json!({
        "appid": "wxd678efh567hg6787",
        "mchid": "1230000109",
        "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": "1217752501201407033233368018",
        "time_expire": "2018-06-08T10:34:56+08:00",
        "attach": "自定义数据说明",
        "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "goods_tag": "WXG",
        "support_fapiao": false,
        "amount": {"total": 100, "currency": "CNY"},
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "detail": {
            "cost_price": 608800,
            "invoice_id": "微信123",
            "goods_detail": [{"merchant_goods_id": "1246464644", "wechatpay_goods_id": "1001",
                "goods_name": "iPhoneX 256G", "quantity": 1, "unit_price": 528800}]
        },
        "scene_info": {
            "payer_client_ip": "14.23.150.211",
            "device_id": "013467007045764",
            "store_info": {"id": "0001", "name": "腾讯大厦分店", "area_code": "440305",
                "address": "广东省深圳市南山区科技中一道10000号"}
        },
        "settle_info": {"profit_sharing": false}
    })
}

fn first_use() {
    let before = rss_kib();
    let start = Instant::now();
    let (described, with_request) = Catalog::embedded().schema_counts();
    let elapsed = start.elapsed();
    let after = rss_kib();
    println!(
        "first use: catalog + schema table parsed in {:.1} ms, resident memory +{} KiB \
         ({described} operations described, {with_request} with a request body schema)",
        elapsed.as_secs_f64() * 1000.0,
        after.saturating_sub(before)
    );
}

fn check(c: &mut Criterion) {
    first_use();
    let catalog = Catalog::embedded();
    let jsapi = catalog
        .find("POST", "v3/pay/transactions/jsapi")
        .unwrap()
        .schema()
        .unwrap();
    let body = jsapi_body();
    assert!(jsapi.check(&RequestParts::body(&body)).is_empty());
    c.bench_function("check/jsapi", |b| {
        b.iter(|| black_box(jsapi.check(&RequestParts::body(black_box(&body)))))
    });

    let (op, largest) = catalog
        .operations()
        .iter()
        .filter_map(|op| Some((op, op.schema()?.body()?)))
        .max_by_key(|(_, body)| body.count())
        .unwrap();
    let body = full(largest);
    let bytes = serde_json::to_vec(&body).unwrap().len();
    let schema = op.schema().unwrap();
    let found = schema.check(&RequestParts::body(&body)).len();
    println!(
        "largest: {} {} ({} fields in the schema; body of {bytes} bytes, {found} violation(s) found)",
        op.method(),
        op.template(),
        largest.count()
    );
    c.bench_function("check/largest", |b| {
        b.iter(|| black_box(schema.check(&RequestParts::body(black_box(&body)))))
    });
}

fn sign(c: &mut Criterion) {
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/mock/data/merchant_key.pem"
    ))
    .unwrap();
    let key = PKey::private_key_from_pem(&pem).unwrap();
    let message = format!(
        "POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{}\n",
        jsapi_body()
    );
    c.bench_function("sign/openssl", |b| {
        b.iter(|| {
            let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &key).unwrap();
            signer.update(black_box(message.as_bytes())).unwrap();
            black_box(signer.sign_to_vec().unwrap())
        })
    });
}

fn table(c: &mut Criterion) {
    let mut group = c.benchmark_group("table");
    group.sample_size(10);
    group.bench_function("parse", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Value>(&schema_table_json()).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, check, sign, table);
criterion_main!(benches);
