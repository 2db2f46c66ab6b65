//! Hex digests, the one copy the crate uses.

use std::fmt::Write as _;

/// Lowercase hex (`SHA-1`/`SHA-256` digests as WeChat Pay writes them).
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Uppercase hex (APIv2 signatures).
pub(crate) fn encode_upper(bytes: &[u8]) -> String {
    encode(bytes).to_ascii_uppercase()
}
