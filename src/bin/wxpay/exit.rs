//! Exit codes, part of the CLI contract (docs/cli.md).

use wechatpay_chain::Error;

/// 2xx and verified.
pub const OK: u8 = 0;
/// WeChat Pay answered an error (non-2xx, or an APIv2 FAIL).
pub const API_ERROR: u8 = 1;
/// Usage or configuration error: what the caller gave or has locally.
pub const USAGE: u8 = 2;
/// The answer (or notification, or file) failed a check or is not what
/// WeChat Pay sends: signature, decryption, hash, malformed XML or JSON.
pub const UNVERIFIED: u8 = 3;
/// Transport: connect, timeout, TLS, an answer cut short or too large to read.
pub const TRANSPORT: u8 = 4;
/// `--check`: the request breaks its operation's schema and was not sent.
pub const REFUSED: u8 = 5;

/// A non-zero exit with a message for stderr.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: USAGE,
            message: message.into(),
        }
    }
}

/// Maps an SDK error to its exit code. Messages never carry key material:
/// the SDK's errors name keys, not their contents.
impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        // Every failure the server causes has a code of its own; only what
        // the caller gave (or has locally) is a usage error.
        let code = match &error {
            Error::Api(_) | Error::ApiV2(_) => API_ERROR,
            Error::Verify { .. }
            | Error::Decrypt(_)
            | Error::Notification(_)
            | Error::FieldDecrypt
            | Error::HashMismatch { .. }
            | Error::Xml(_)
            | Error::Decode { .. } => UNVERIFIED,
            Error::Timeout { .. }
            | Error::Transport(_)
            | Error::MockStopped { .. }
            | Error::ResponseTooLarge { .. }
            | Error::DownloadTooLarge { .. }
            | Error::Decompress(_) => TRANSPORT,
            Error::RequestCheck { .. } => REFUSED,
            Error::Config(_)
            | Error::Key { .. }
            | Error::Template { .. }
            | Error::MissingPlaceholder { .. }
            | Error::UnknownOption { .. }
            | Error::InvalidOption { .. }
            | Error::Serialize(_)
            | Error::Unsupported(_)
            | Error::DownloadUrl { .. }
            | Error::NotADownload { .. }
            | Error::PlaintextTooLong { .. }
            | Error::Io { .. }
            | Error::Crypto(_) => USAGE,
            // A variant added later: a usage error until it is placed.
            _ => USAGE,
        };
        debug_assert_ne!(code, OK);
        Failure {
            code,
            message: error.to_string(),
        }
    }
}

/// Writes `bytes` to standard output and flushes; a closed pipe is a usage
/// failure, not a panic.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure::usage(format!("writing to standard output: {e}")))
}
