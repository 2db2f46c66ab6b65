//! `wxpay`: the wechatpay-chain command line.
//!
//! `wxpay mock [--port N] [--dir DIR]` runs the mock WeChat Pay on
//! 127.0.0.1, prints `listening on http://127.0.0.1:PORT/` as its first line,
//! writes the client profile (`DIR/mock.json` and PEM files) when asked, and
//! serves until SIGINT or SIGTERM, then exits 0.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wechatpay_chain::mock::MockServer;

#[derive(Parser)]
#[command(name = "wxpay", version, about = "WeChat Pay from the command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the mock WeChat Pay server on 127.0.0.1.
    Mock {
        /// Port to listen on; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Write the client profile (mock.json and PEM files) into this directory.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

/// Exit code for usage and configuration errors (the CLI contract).
const USAGE_ERROR: u8 = 2;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Mock { port, dir } => run_mock(port, dir).await,
    }
}

async fn run_mock(port: u16, dir: Option<PathBuf>) -> ExitCode {
    let server = match MockServer::bind(SocketAddr::from(([127, 0, 0, 1], port))).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("wxpay mock: {e}");
            return ExitCode::from(USAGE_ERROR);
        }
    };
    println!("listening on {}", server.base_url());
    if let Some(dir) = dir {
        match server.write_profile(&dir) {
            Ok(path) => println!("profile written to {}", path.display()),
            Err(e) => {
                eprintln!("wxpay mock: {e}");
                return ExitCode::from(USAGE_ERROR);
            }
        }
    }
    server.serve_until(stop_signal()).await;
    ExitCode::SUCCESS
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
