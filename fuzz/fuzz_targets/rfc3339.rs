//! `clock::parse_rfc3339`, which reads the `time_expire` a caller sends the
//! mock: nothing panics, and every time it accepts writes back (in Beijing
//! time) to a text that parses to the same instant.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay_chain::clock::{parse_rfc3339, rfc3339};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(unix) = parse_rfc3339(text) {
        // Away from years 0000 and 9999, where an offset can carry the
        // Beijing time past four digits, the instant writes back exactly.
        let year: u32 = text[..4].parse().unwrap_or(0);
        if (1..=9998).contains(&year) {
            assert_eq!(parse_rfc3339(&rfc3339(unix)), Some(unix), "{text:?}");
        }
    }
});
