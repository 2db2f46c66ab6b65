//! `wxpay mock [--port N] [--dir DIR]`: the mock WeChat Pay on 127.0.0.1,
//! until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use wechatpay_chain::mock::MockServer;

use crate::exit::{write_stdout, Failure};

#[derive(Args)]
pub struct MockArgs {
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Write the client profile (mock.json and PEM files) into this directory.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Do not print a line on stderr for each request.
    #[arg(long, short)]
    quiet: bool,
}

pub async fn run(args: MockArgs) -> Result<(), Failure> {
    let server = MockServer::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    server.log_to_stderr(!args.quiet);
    // The first line is the contract: scripts wait for it.
    write_stdout(format!("listening on {}\n", server.base_url()).as_bytes())?;
    if let Some(dir) = args.dir {
        let path = server.write_profile(&dir)?;
        write_stdout(format!("profile written to {}\n", path.display()).as_bytes())?;
    }
    server.serve_until(stop_signal()).await;
    Ok(())
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
