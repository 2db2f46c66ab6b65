//! The trust-material helpers: certificates, notifications, sensitive fields.

use std::path::PathBuf;

use clap::Args;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use wechatpay_chain::keys::KeySource;
use wechatpay_chain::{clock, Value};

use crate::credentials::Credentials;
use crate::exit::{write_stdout, Failure};

/// `wxpay certificates [--output DIR]`: download, decrypt, verify (with a
/// certificate the answer carries when nothing is configured yet).
pub async fn certificates(
    credentials: &Credentials,
    output: Option<PathBuf>,
) -> Result<(), Failure> {
    let client = credentials.signing_client()?;
    let certificates = client.download_certificates().await?;
    if let Some(dir) = &output {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("creating {}: {e}", dir.display())))?;
    }
    for cert in &certificates {
        let (from, to) = match cert.source() {
            KeySource::Certificate {
                not_before,
                not_after,
            } => (clock::rfc3339(*not_before), clock::rfc3339(*not_after)),
            _ => (String::new(), String::new()),
        };
        write_stdout(format!("{} effective {from} expires {to}\n", cert.id()).as_bytes())?;
        if let Some(dir) = &output {
            let path = dir.join(format!("wechatpay_{}.pem", cert.id()));
            std::fs::write(&path, cert.to_pem()?)
                .map_err(|e| Failure::usage(format!("writing {}: {e}", path.display())))?;
            write_stdout(format!("  written to {}\n", path.display()).as_bytes())?;
        }
    }
    if certificates.is_empty() {
        eprintln!(
            "no platform certificate listed (a merchant using only the WeChat Pay public key)"
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct NotifyArgs {
    /// The raw notification body as received.
    #[arg(long, value_name = "FILE")]
    body: PathBuf,
    /// A received header (repeatable).
    #[arg(short = 'H', value_name = "Name: value")]
    headers: Vec<String>,
    /// The received headers: a JSON object or `Name: value` lines.
    #[arg(long = "headers", value_name = "FILE")]
    headers_file: Option<PathBuf>,
}

/// `wxpay notify`: verify and decrypt a captured notification.
pub fn notify(credentials: &Credentials, args: NotifyArgs) -> Result<(), Failure> {
    let client = credentials.client()?;
    let body = std::fs::read(&args.body)
        .map_err(|e| Failure::usage(format!("reading {}: {e}", args.body.display())))?;
    let mut lines: Vec<(String, String)> = Vec::new();
    if let Some(file) = &args.headers_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure::usage(format!("reading {}: {e}", file.display())))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => {
                for (name, value) in map {
                    lines.push((name, value.as_str().unwrap_or_default().to_owned()));
                }
            }
            _ => lines.extend(
                text.lines()
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.to_owned(), v.to_owned())),
            ),
        }
    }
    for header in &args.headers {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| Failure::usage(format!("-H takes 'Name: value', got `{header}`")))?;
        lines.push((name.to_owned(), value.to_owned()));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in lines {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| Failure::usage(format!("`{}` is not a header name", name.trim())))?;
        let value = HeaderValue::from_str(value.trim())
            .map_err(|_| Failure::usage(format!("header {name} has an invalid value")))?;
        headers.insert(name, value);
    }
    let event = client.notification(&headers, &body)?;
    let resource: Value = event.resource()?;
    eprintln!(
        "{} {} {}, verified by {}",
        event.id, event.event_type, event.create_time, event.verified_by
    );
    let mut text = serde_json::to_string_pretty(&resource).unwrap_or_default();
    text.push('\n');
    write_stdout(text.as_bytes())
}

/// `wxpay encrypt TEXT`: the ciphertext on stdout, the serial to send on stderr.
pub fn encrypt(credentials: &Credentials, text: &str) -> Result<(), Failure> {
    let encryptor = credentials.client()?.encryptor()?;
    write_stdout(format!("{}\n", encryptor.encrypt(text)?).as_bytes())?;
    eprintln!("Wechatpay-Serial: {}", encryptor.serial());
    Ok(())
}

/// `wxpay decrypt BASE64`: the plaintext, with the merchant private key.
pub fn decrypt(credentials: &Credentials, ciphertext: &str) -> Result<(), Failure> {
    let plaintext = credentials.signing_client()?.decrypt(ciphertext)?;
    write_stdout(format!("{plaintext}\n").as_bytes())
}
