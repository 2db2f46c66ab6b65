//! Exit codes, part of the CLI contract (docs/cli.md).

use wechatpay_chain::Error;

/// 2xx and verified.
pub const OK: u8 = 0;
/// WeChat Pay answered an error (non-2xx).
pub const API_ERROR: u8 = 1;
/// Usage or configuration error.
pub const USAGE: u8 = 2;
/// Response (or notification) verification failed.
pub const UNVERIFIED: u8 = 3;
/// Transport error: connect, timeout, TLS.
pub const TRANSPORT: u8 = 4;

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
        let code = match &error {
            Error::Api(_) | Error::ApiV2(_) => API_ERROR,
            Error::Verify { .. }
            | Error::Decrypt(_)
            | Error::Notification(_)
            | Error::FieldDecrypt => UNVERIFIED,
            Error::Timeout { .. } | Error::Transport(_) => TRANSPORT,
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
