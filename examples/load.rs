//! A load generator against a mock WeChat Pay in another process.
//!
//! ```sh
//! cargo run --release --features cli --bin wxpay -- mock --dir /tmp/wxpay --no-schema-check --echo &
//! cargo run --release --example load -- --profile /tmp/wxpay/mock.json -n 20000 -c 64
//! ```
//!
//! Prints one JSON line: `n`, `c`, `ok`, `errors`, `rps`, `p50_ms`, `p95_ms`,
//! `p99_ms`, `cpu_ms_per_req` (this process's user+system CPU over the
//! measured loop, per request), `floor_ms` (one RSA-2048 sign plus one
//! verify, measured in the same run), `overhead` (`cpu_ms_per_req / floor_ms`),
//! and the resident memory at start and end.
//!
//! `--bare` first sends the same POSTs with a bare `reqwest::Client` (no
//! signing, no verification; the mock refuses them, which costs the client
//! the same reading), and adds `bare_cpu_ms_per_req` and `sdk_own_ms_per_req`
//! = SDK − bare − floor: the SDK's own share of a request's CPU.
//! `--current-thread` runs everything on tokio's current-thread runtime.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wechatpay_chain::crypto::{sign_sha256_rsa, verify_sha256_rsa};
use wechatpay_chain::profile::Profile;
use wechatpay_chain::{json, Value};

struct Args {
    profile: String,
    n: u64,
    c: u64,
    path: String,
    sign_off_thread: bool,
    bare: bool,
    current_thread: bool,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        profile: String::new(),
        n: 1000,
        c: 16,
        // An operation the mock answers with a signed echo (`wxpay mock
        // --no-schema-check --echo`, as the figures in docs/performance.md
        // were measured): the cost of the SDK and the wire, not of a flow.
        path: "v3/marketing/favor/coupon-stocks".to_owned(),
        sign_off_thread: false,
        bare: false,
        current_thread: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--profile" => args.profile = value()?,
            "-n" => args.n = value()?.parse().map_err(|e| format!("-n: {e}"))?,
            "-c" => args.c = value()?.parse().map_err(|e| format!("-c: {e}"))?,
            "--path" => args.path = value()?,
            "--sign-off-thread" => args.sign_off_thread = true,
            "--bare" => args.bare = true,
            "--current-thread" => args.current_thread = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.profile.is_empty() {
        return Err(
            "usage: load --profile FILE [-n N] [-c C] [--path TEMPLATE] [--sign-off-thread] [--bare] [--current-thread]"
                .to_owned(),
        );
    }
    Ok(args)
}

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

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((kib / 1024.0 * 10.0).round() / 10.0)
}

/// One RSA-2048 sign + one verify, in milliseconds: the best of five
/// batches, so that a busy neighbour does not inflate it.
fn floor_ms() -> f64 {
    let key = openssl::pkey::PKey::private_key_from_pem(
        wechatpay_chain::mock::Credentials::get()
            .merchant_private_key
            .as_bytes(),
    )
    .expect("the mock's key");
    let message =
        b"POST\n/v3/pay/transactions/native\n1795305600\nNONCE\n{\"out_trade_no\":\"T\"}\n";
    let rounds = 100;
    (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                let signature = sign_sha256_rsa(&key, message).expect("sign");
                assert!(verify_sha256_rsa(&key, message, &signature));
            }
            started.elapsed().as_secs_f64() * 1000.0 / f64::from(rounds)
        })
        .fold(f64::INFINITY, f64::min)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    (sorted[index] * 1000.0).round() / 1000.0
}

/// Who sends: the SDK, or a bare reqwest client (the baseline).
#[derive(Clone)]
enum Sender {
    Sdk(wechatpay_chain::Client),
    Bare(reqwest::Client, String),
}

impl Sender {
    async fn post(&self, path: &str) -> bool {
        let body = json!({"out_trade_no": "LOAD", "amount": {"total": 1}});
        match self {
            Sender::Sdk(client) => client
                .chain(path)
                .post(json!({ "json": body }))
                .await
                .is_ok(),
            Sender::Bare(http, base) => match http
                .post(format!("{base}{path}"))
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .await
            {
                Ok(res) => res.bytes().await.is_ok(),
                Err(_) => false,
            },
        }
    }
}

/// What one measured loop saw.
struct Run {
    latencies: Vec<f64>,
    errors: u64,
    seconds: f64,
    cpu_ms_per_req: f64,
}

async fn drive(
    sender: Sender,
    path: &str,
    n: u64,
    c: u64,
) -> Result<Run, Box<dyn std::error::Error>> {
    // warm the connection pool
    for _ in 0..c.min(8) {
        let _ = sender.post(path).await;
    }
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cpu_before = cpu_time();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..c {
        let (sender, next, errors, path) = (
            sender.clone(),
            next.clone(),
            errors.clone(),
            path.to_owned(),
        );
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < n {
                let sent = Instant::now();
                if sender.post(&path).await {
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::with_capacity(n as usize);
    for worker in workers {
        latencies.extend(worker.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = (cpu_time() - cpu_before).as_secs_f64() * 1000.0;
    latencies.sort_by(f64::total_cmp);
    Ok(Run {
        latencies,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        cpu_ms_per_req: cpu / n as f64,
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args()?;
    let runtime = if args.current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()?;
    runtime.block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let profile = Profile::read(&args.profile)?;
    let client = profile
        .builder()
        .sign_off_thread(args.sign_off_thread)
        .build()?;
    let floor = floor_ms();
    let bare = if args.bare {
        let sender = Sender::Bare(reqwest::Client::new(), client.base_url().to_owned());
        Some(drive(sender, &args.path, args.n, args.c).await?)
    } else {
        None
    };
    let rss_start = rss_mib();
    let sdk = drive(Sender::Sdk(client), &args.path, args.n, args.c).await?;
    let mut line: Value = json!({
        "n": args.n,
        "c": args.c,
        "ok": sdk.latencies.len(),
        "errors": sdk.errors,
        "rps": (args.n as f64 / sdk.seconds).round(),
        "p50_ms": percentile(&sdk.latencies, 0.50),
        "p95_ms": percentile(&sdk.latencies, 0.95),
        "p99_ms": percentile(&sdk.latencies, 0.99),
        "cpu_ms_per_req": round3(sdk.cpu_ms_per_req),
        "floor_ms": round3(floor),
        "overhead": (sdk.cpu_ms_per_req / floor * 100.0).round() / 100.0,
        "rss_start_mib": rss_start,
        "rss_end_mib": rss_mib(),
        "sign_off_thread": args.sign_off_thread,
        "current_thread": args.current_thread,
    });
    if let Some(bare) = bare {
        line["bare_cpu_ms_per_req"] = json!(round3(bare.cpu_ms_per_req));
        line["sdk_own_ms_per_req"] =
            json!(round3(sdk.cpu_ms_per_req - bare.cpu_ms_per_req - floor));
    }
    println!("{line}");
    Ok(())
}
