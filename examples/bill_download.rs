//! Downloads a generated bill from the in-process mock, plain and gzip, and
//! prints throughput and peak memory as JSON lines.
//!
//! `cargo run --release --example bill_download -- --mib 1024`
//!
//! `set_bill_rows` makes the mock's bills synthetic: paid orders in the real
//! format, generated row by row (and hashed once beforehand),
//! the client streams it to a file while hashing and gunzipping: peak RSS
//! should stay flat whatever `--mib` is.

use std::time::Instant;

use wechatpay_chain::download::{BillInfo, Compression};
use wechatpay_chain::json;
use wechatpay_chain::mock::MockServer;

/// Bytes per synthetic trade-bill row (the real format: 27 backquoted
/// columns, CRLF), near enough to size the bill.
const ROW_BYTES: u64 = 250;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut mib: u64 = 1024;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mib" => mib = args.next().ok_or("--mib needs a number")?.parse()?,
            other => {
                return Err(
                    format!("unknown argument {other}; usage: bill_download [--mib N]").into(),
                )
            }
        }
    }
    let server = MockServer::start().await?;
    let client = server.client()?;
    server.set_bill_rows(mib * 1024 * 1024 / ROW_BYTES);
    let path = std::env::temp_dir().join(format!("wechatpay-bill-{}.csv", std::process::id()));
    for (compression, tar_type) in [(Compression::None, None), (Compression::Gzip, Some("GZIP"))] {
        let mut query = json!({"bill_date": "2026-01-01"});
        if let Some(tar) = tar_type {
            query["tar_type"] = json!(tar);
        }
        let bill: BillInfo = client["v3/bill/tradebill"]
            .get(json!({ "query": query }))
            .await?
            .json()?;
        let started = Instant::now();
        let done = client
            .download_bill_to_file(&bill, compression, &path)
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "{}",
            json!({
                "gzip": tar_type.is_some(),
                "bytes": done.bytes,
                "seconds": (seconds * 1000.0).round() / 1000.0,
                "mib_per_s": ((done.bytes as f64 / 1048576.0 / seconds) * 10.0).round() / 10.0,
                "sha1_ok": done.sha1 == bill.hash_value,
                "peak_rss_mib": peak_rss_mib().map(|m| (m * 10.0).round() / 10.0),
            })
        );
        std::fs::remove_file(&path)?;
    }
    Ok(())
}
