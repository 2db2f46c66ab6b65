//! Throughput of the mock's payment journey, client and mock in this one
//! process: N JSAPI orders placed, paid (each payment sends a signed,
//! encrypted TRANSACTION.SUCCESS to a loopback endpoint that answers 204)
//! and queried, C at a time, each phase timed on its own.
//!
//! ```sh
//! cargo run --release --features mock --example journey_load -- -n 20000 -c 32
//! ```
//!
//! Prints one JSON line per phase: `ops_per_s`, `cpu_ms_per_op` (this
//! process's user+system CPU over the phase: client and mock together) and
//! `floor_ms`: what the RSA-2048 work of one operation costs at least,
//! measured in the same run — a call is signed by the client, verified by
//! the mock, answered signed by the mock and verified by the client (two
//! signs, two verifies); a payment's notification adds one sign and one
//! verify. `over_floor` = `cpu_ms_per_op / floor_ms`. The last line gives
//! the orders kept and the resident memory, to see the store stay bounded.
//! `--store memory|disk|both` (default both, in this order, the same floor):
//! the mock in memory, and with its state in SQLite written before every
//! answer (`MockServer::bind_in`, as `wxpay mock --dir`), then the bytes on
//! disk per order kept.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wechatpay_chain::crypto::{sign_sha256_rsa, verify_sha256_rsa};
use wechatpay_chain::mock::MockServer;
use wechatpay_chain::{json, Client, Value};

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass and reads
    // nothing else; RUSAGE_SELF is always a valid `who`.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    (kib / 1024.0 * 10.0).round() / 10.0
}

/// One RSA-2048 sign + one verify (ms): the best of five batches.
fn sign_and_verify_ms() -> f64 {
    let pem = wechatpay_chain::mock::Credentials::get().merchant_private_key;
    let Ok(key) = openssl::pkey::PKey::private_key_from_pem(pem.as_bytes()) else {
        return f64::NAN;
    };
    let message = b"POST\n/v3/pay/transactions/jsapi\n1795305600\nNONCE\n{}\n";
    (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..100 {
                let ok = sign_sha256_rsa(&key, message)
                    .is_ok_and(|s| verify_sha256_rsa(&key, message, &s));
                assert!(ok);
            }
            started.elapsed().as_secs_f64() * 10.0
        })
        .fold(f64::INFINITY, f64::min)
}

#[derive(Clone, Copy)]
enum Phase {
    Order,
    Pay,
    Query,
}

async fn one(
    phase: Phase,
    client: &Client,
    http: &reqwest::Client,
    base: &str,
    i: u64,
    notify_url: &str,
) -> bool {
    let no = format!("LOAD{i:012}");
    match phase {
        Phase::Order => client["v3/pay/transactions/jsapi"]
            .post(json!({"json": {"appid": "wxd678efh567hg6787", "mchid": "1900000109",
                "description": "load", "out_trade_no": no, "notify_url": notify_url,
                "amount": {"total": 1 + i % 1000}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}}}))
            .await
            .is_ok(),
        Phase::Pay => http
            .post(format!("{base}_mock/transactions/{no}/pay"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success()),
        Phase::Query => client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
            .get(json!({"out_trade_no": no, "query": {"mchid": "1900000109"}}))
            .await
            .is_ok(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut n = 2000u64;
    let mut c = 16u64;
    let mut store = "both".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "-n" => n = value.parse()?,
            "-c" => c = value.parse()?,
            "--store" if ["memory", "disk", "both"].contains(&value.as_str()) => store = value,
            other => {
                return Err(
                    format!("unknown argument {other}; usage: journey_load [-n N] [-c C] [--store memory|disk|both]").into(),
                )
            }
        }
    }
    // The merchant's notification endpoint: answers 204 at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sign_verify = sign_and_verify_ms();
    if matches!(store.as_str(), "memory" | "both") {
        let server = MockServer::start().await?;
        run(&server, "memory", n, c, &notify_url, sign_verify).await?;
    }
    if matches!(store.as_str(), "disk" | "both") {
        // State in SQLite, written before every answer (`wxpay mock --dir`).
        let dir = std::env::temp_dir().join(format!("journey-load-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server = MockServer::bind_in(address, &dir).await?;
        run(&server, "disk", n, c, &notify_url, sign_verify).await?;
        let bytes: u64 = ["mock.sqlite", "mock.sqlite-wal"]
            .iter()
            .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
            .map(|m| m.len())
            .sum();
        let orders = server.transactions().len().max(1) as u64;
        println!(
            "{}",
            json!({"store": "disk", "disk_bytes": bytes, "orders_kept": orders,
                   "notifications_kept": server.notifications().len(),
                   "disk_bytes_per_order": bytes / orders})
        );
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// The three phases against `server`, one JSON line each, then the orders
/// kept and the resident memory.
async fn run(
    server: &MockServer,
    store: &str,
    n: u64,
    c: u64,
    notify_url: &str,
    sign_verify: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = server.client()?;
    let http = reqwest::Client::new();
    let base = server.base_url().to_owned();
    let notify_url = notify_url.to_owned();
    let rss_start = rss_mib();
    for (name, phase, floor) in [
        ("order", Phase::Order, 2.0 * sign_verify),
        ("pay", Phase::Pay, sign_verify),
        ("query", Phase::Query, 2.0 * sign_verify),
    ] {
        let next = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(AtomicU64::new(0));
        let cpu_before = cpu_time();
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..c {
            let (client, http, base, notify_url, next, errors) = (
                client.clone(),
                http.clone(),
                base.clone(),
                notify_url.clone(),
                next.clone(),
                errors.clone(),
            );
            workers.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    if !one(phase, &client, &http, &base, i, &notify_url).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for worker in workers {
            worker.await?;
        }
        if matches!(phase, Phase::Pay) {
            // the notifications are part of paying
            let delivered = server
                .wait_for_deliveries(n.min(1000) as usize, Duration::from_secs(60))
                .await;
            if delivered.iter().any(|d| !d.delivered) {
                errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let cpu_ms = (cpu_time() - cpu_before).as_secs_f64() * 1000.0 / n as f64;
        let line: Value = json!({
            "store": store, "phase": name, "n": n, "c": c, "errors": errors.load(Ordering::Relaxed),
            "ops_per_s": (n as f64 / seconds).round(),
            "cpu_ms_per_op": (cpu_ms * 1000.0).round() / 1000.0,
            "floor_ms": (floor * 1000.0).round() / 1000.0,
            "over_floor": (cpu_ms / floor * 100.0).round() / 100.0,
        });
        println!("{line}");
    }
    let rss_end = rss_mib();
    println!(
        "{}",
        json!({"store": store, "orders_kept": server.transactions().len(), "kept_at_most": wechatpay_chain::mock::KEPT_ORDERS,
               "notifications_kept": server.notifications().len(),
               "rss_start_mib": rss_start, "rss_end_mib": rss_end})
    );
    Ok(())
}
