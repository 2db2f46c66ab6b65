//! `wxpay`: call any WeChat Pay endpoint from the command line, see exactly
//! what was signed, and run the mock WeChat Pay. The contract (flags,
//! environment, output, exit codes) is in `docs/cli.md`.

// The doc comments below are clap's `--help` text, written for a terminal.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

mod call;
mod completions;
mod credentials;
mod endpoints;
mod exit;
mod invoke;
mod mock;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::credentials::Credentials;
use crate::exit::Failure;

#[derive(Parser)]
#[command(
    name = "wxpay",
    version,
    about = "WeChat Pay APIv3 from the command line"
)]
struct Cli {
    #[command(flatten)]
    credentials: Credentials,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// GET an endpoint.
    Get(call::CallArgs),
    /// POST to an endpoint.
    Post(call::CallArgs),
    /// PUT to an endpoint.
    Put(call::CallArgs),
    /// PATCH an endpoint.
    Patch(call::CallArgs),
    /// DELETE an endpoint.
    Delete(call::CallArgs),
    /// Download, decrypt and verify the platform certificates.
    Certificates {
        /// Write each as wechatpay_<SERIAL>.pem into this directory.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Verify and decrypt a captured notification; print its resource.
    Notify(tools::NotifyArgs),
    /// Encrypt a sensitive field with the preferred WeChat Pay key.
    Encrypt {
        /// The plaintext (at most 214 bytes).
        text: String,
    },
    /// Decrypt a sensitive field with the merchant private key.
    Decrypt {
        /// The base64 ciphertext.
        ciphertext: String,
    },
    /// Print the signed parameters a front end passes to the WeChat client
    /// (JSAPI, mini-program, APP, payscore pages).
    Invoke(invoke::InvokeArgs),
    /// List the known endpoints matching some words (path segments, Chinese summary, method).
    Endpoints(endpoints::EndpointsArgs),
    /// Describe one endpoint: placeholders, content types, how to call it.
    Describe(endpoints::DescribeArgs),
    /// Run the mock WeChat Pay server on 127.0.0.1.
    Mock(mock::MockArgs),
    /// Print a shell completion script (endpoint paths included).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // `wxpay mock` lists and takes only the credential flags it reads.
    let matches = Cli::command()
        .mut_subcommand("mock", mock::own_credential_flags)
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let checked = match matches.subcommand() {
        Some(("mock", given)) => mock::refuse_unread_flags(given),
        _ => Ok(()),
    };
    let result = match checked {
        Ok(()) => run(&cli.credentials, cli.command).await,
        Err(failure) => Err(failure),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure { code, message }) => {
            if !message.is_empty() {
                eprintln!("wxpay: {message}");
            }
            ExitCode::from(code)
        }
    }
}

async fn run(credentials: &Credentials, command: Command) -> Result<(), Failure> {
    match command {
        Command::Get(args) => call::run(credentials, reqwest::Method::GET, args).await,
        Command::Post(args) => call::run(credentials, reqwest::Method::POST, args).await,
        Command::Put(args) => call::run(credentials, reqwest::Method::PUT, args).await,
        Command::Patch(args) => call::run(credentials, reqwest::Method::PATCH, args).await,
        Command::Delete(args) => call::run(credentials, reqwest::Method::DELETE, args).await,
        Command::Certificates { output } => tools::certificates(credentials, output).await,
        Command::Notify(args) => tools::notify(credentials, args),
        Command::Encrypt { text } => tools::encrypt(credentials, &text),
        Command::Decrypt { ciphertext } => tools::decrypt(credentials, &ciphertext),
        Command::Invoke(args) => invoke::run(credentials, args),
        Command::Endpoints(args) => endpoints::list(args),
        Command::Describe(args) => endpoints::describe(args),
        Command::Mock(args) => mock::run(credentials, args).await,
        Command::Completions { shell } => completions::print(shell, Cli::command()),
    }
}
