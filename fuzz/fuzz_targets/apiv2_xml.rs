//! The APIv2 XML reader: bounded, no panic; what it reads writes back to
//! something it reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay_chain::v2::xml::{parse, write};

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = parse(data) {
        if let Ok(text) = write(&fields) {
            assert_eq!(parse(text.as_bytes()).ok(), Some(fields));
        }
    }
});
