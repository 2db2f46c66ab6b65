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
//! `--store memory|disk|both` (default both, the same floor): the mock in
//! memory, and with its state in SQLite written before every answer
//! (`MockServer::bind_in`, as `wxpay mock --dir`), then the bytes on disk
//! per order kept. With both, each phase runs against one store and then
//! at once against the other (the first store alternating from round to
//! round), so that a machine whose load moves affects both alike;
//! `--rounds R` repeats the whole (a fresh floor, fresh mocks each round)
//! and ends with one summary line per phase: disk throughput over memory
//! throughput in each round and their median, and each store's throughput
//! as a share of the RSA ceiling (`rsa_ceiling_ops_per_s`: the cores'
//! whole time spent on the floor's RSA work alone).
//!
//! `--seconds S` (with `--store memory` or `disk`, or both one after the
//! other): instead of phases, C workers run whole journeys (order, pay,
//! query) for S seconds, and every `--every` seconds (default 30) a line
//! gives the journeys done, the orders kept, the resident memory and, on
//! disk, the database's size: to see memory stay flat past the replay
//! guard's 300 s nonce window and the stores' bound.
//!
//! ```sh
//! cargo run --release --features mock --example journey_load -- -n 5000 -c 32 --rounds 3
//! cargo run --release --features mock --example journey_load -- -c 32 --store disk --seconds 360
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// What the command line asked for.
struct Args {
    n: u64,
    c: u64,
    stores: Vec<&'static str>,
    rounds: u64,
    seconds: Option<u64>,
    every: u64,
}

fn args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut parsed = Args {
        n: 2000,
        c: 16,
        stores: vec!["memory", "disk"],
        rounds: 1,
        seconds: None,
        every: 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "-n" => parsed.n = value.parse()?,
            "-c" => parsed.c = value.parse()?,
            "--rounds" => parsed.rounds = value.parse::<u64>()?.max(1),
            "--seconds" => parsed.seconds = Some(value.parse()?),
            "--every" => parsed.every = value.parse::<u64>()?.max(1),
            "--store" => {
                parsed.stores = match value.as_str() {
                    "memory" => vec!["memory"],
                    "disk" => vec!["disk"],
                    "both" => vec!["memory", "disk"],
                    _ => return Err(format!("--store {value}: memory, disk or both").into()),
                }
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: journey_load [-n N] [-c C] \
                     [--store memory|disk|both] [--rounds R] [--seconds S [--every S]]"
                )
                .into())
            }
        }
    }
    Ok(parsed)
}

/// A mock of one kind, with its directory when on disk.
struct Mock {
    store: &'static str,
    server: MockServer,
    dir: Option<PathBuf>,
}

impl Mock {
    async fn start(store: &'static str, round: u64) -> Result<Mock, Box<dyn std::error::Error>> {
        if store == "memory" {
            let server = MockServer::start().await?;
            return Ok(Mock {
                store,
                server,
                dir: None,
            });
        }
        // State in SQLite, written before every answer (`wxpay mock --dir`).
        let dir = std::env::temp_dir().join(format!("journey-load-{}-{round}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server = MockServer::bind_in(address, &dir).await?;
        Ok(Mock {
            store,
            server,
            dir: Some(dir),
        })
    }

    /// The database and its write-ahead log, in bytes (the log is
    /// emptied at each checkpoint, so it comes and goes).
    fn disk_bytes(&self) -> Option<(u64, u64)> {
        let dir = self.dir.as_ref()?;
        let size = |f: &str| std::fs::metadata(dir.join(f)).map_or(0, |m| m.len());
        Some((size("mock.sqlite"), size("mock.sqlite-wal")))
    }

    async fn stop(self) {
        self.server.shutdown().await;
        if let Some(dir) = &self.dir {
            // the store closes when the last request's task lets it go
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    // The merchant's notification endpoint: answers 204 at once.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let notify_url = format!("http://{}/notify", listener.local_addr()?);
    let app = axum::Router::new().route(
        "/notify",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });

    if let Some(seconds) = args.seconds {
        for store in &args.stores {
            let mock = Mock::start(store, 0).await?;
            soak(&mock, &args, seconds, &notify_url).await?;
            mock.stop().await;
        }
        return Ok(());
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let phases = [
        ("order", Phase::Order, 2.0),
        ("pay", Phase::Pay, 1.0),
        ("query", Phase::Query, 2.0),
    ];
    // ops/s by (round, phase, store)
    let mut seen: Vec<(u64, &str, &str, f64, f64)> = Vec::new();
    for round in 0..args.rounds {
        let sign_verify = sign_and_verify_ms();
        let mut mocks = Vec::new();
        let mut order = args.stores.clone();
        if round % 2 == 1 {
            order.reverse();
        }
        for store in order {
            mocks.push(Mock::start(store, round).await?);
        }
        let rss_start = rss_mib();
        for (name, phase, times) in phases {
            let floor = times * sign_verify;
            for mock in &mocks {
                let (ops_per_s, cpu_ms, errors) =
                    run_phase(&mock.server, phase, args.n, args.c, &notify_url).await?;
                let ceiling = cores * 1000.0 / floor;
                seen.push((round, name, mock.store, ops_per_s, ops_per_s / ceiling));
                let line: Value = json!({
                    "round": round, "store": mock.store, "phase": name, "n": args.n, "c": args.c,
                    "errors": errors, "ops_per_s": ops_per_s.round(),
                    "cpu_ms_per_op": round3(cpu_ms), "floor_ms": round3(floor),
                    "over_floor": (cpu_ms / floor * 100.0).round() / 100.0,
                    "rsa_ceiling_ops_per_s": ceiling.round(),
                    "of_ceiling": round3(ops_per_s / ceiling),
                });
                println!("{line}");
            }
        }
        for mock in mocks {
            let server = &mock.server;
            let orders = server.transactions().len();
            let mut line = json!({"round": round, "store": mock.store, "orders_kept": orders,
                   "kept_at_most": wechatpay_chain::mock::KEPT_ORDERS,
                   "notifications_kept": server.notifications().len(),
                   "rss_start_mib": rss_start, "rss_end_mib": rss_mib()});
            if let Some((database, wal)) = mock.disk_bytes() {
                line["database_bytes"] = json!(database);
                line["wal_bytes"] = json!(wal);
                line["disk_bytes_per_order"] = json!((database + wal) / orders.max(1) as u64);
            }
            println!("{line}");
            mock.stop().await;
        }
    }
    if args.stores.len() == 2 {
        for (name, _, _) in phases {
            let of = |store: &str, round: u64| {
                seen.iter()
                    .find(|s| s.0 == round && s.1 == name && s.2 == store)
                    .map(|s| (s.3, s.4))
                    .unwrap_or((f64::NAN, f64::NAN))
            };
            let mut ratios: Vec<f64> = (0..args.rounds)
                .map(|r| of("disk", r).0 / of("memory", r).0)
                .collect();
            let shown: Vec<f64> = ratios.iter().map(|r| round3(*r)).collect();
            let mut memory: Vec<f64> = (0..args.rounds).map(|r| of("memory", r).1).collect();
            let mut disk: Vec<f64> = (0..args.rounds).map(|r| of("disk", r).1).collect();
            println!(
                "{}",
                json!({"summary": name, "rounds": args.rounds,
                       "disk_over_memory": shown, "median_disk_over_memory": round3(median(&mut ratios)),
                       "median_memory_of_ceiling": round3(median(&mut memory)),
                       "median_disk_of_ceiling": round3(median(&mut disk))})
            );
        }
    }
    Ok(())
}

/// One phase of N operations, C at a time: (ops/s, CPU ms per op, errors).
async fn run_phase(
    server: &MockServer,
    phase: Phase,
    n: u64,
    c: u64,
    notify_url: &str,
) -> Result<(f64, f64, u64), Box<dyn std::error::Error>> {
    let client = server.client()?;
    let http = reqwest::Client::new();
    let base = server.base_url().to_owned();
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
            notify_url.to_owned(),
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
    Ok((n as f64 / seconds, cpu_ms, errors.load(Ordering::Relaxed)))
}

/// Whole journeys, C at a time, for `seconds`; a line every `--every` s.
async fn soak(
    mock: &Mock,
    args: &Args,
    seconds: u64,
    notify_url: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let server = &mock.server;
    let client = server.client()?;
    let http = reqwest::Client::new();
    let base = server.base_url().to_owned();
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let report = |elapsed: f64| {
        // memory first: counting the orders renders them all
        let rss = rss_mib();
        let mut line = json!({"store": mock.store, "elapsed_s": elapsed.round(),
            "journeys": done.load(Ordering::Relaxed), "errors": errors.load(Ordering::Relaxed),
            "orders_kept": server.transactions().len(), "rss_mib": rss});
        if let Some((database, wal)) = mock.disk_bytes() {
            line["database_bytes"] = json!(database);
            line["wal_bytes"] = json!(wal);
        }
        println!("{line}");
    };
    report(0.0);
    let mut workers = Vec::new();
    for _ in 0..args.c {
        let (client, http, base, notify_url) = (
            client.clone(),
            http.clone(),
            base.clone(),
            notify_url.to_owned(),
        );
        let (next, done, errors, stop) = (next.clone(), done.clone(), errors.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed);
                for phase in [Phase::Order, Phase::Pay, Phase::Query] {
                    if !one(phase, &client, &http, &base, i, &notify_url).await {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut at = args.every;
    while at <= seconds {
        let wait = Duration::from_secs(at).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        report(started.elapsed().as_secs_f64());
        at += args.every;
    }
    tokio::time::sleep(Duration::from_secs(seconds).saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await?;
    }
    report(started.elapsed().as_secs_f64());
    Ok(())
}
