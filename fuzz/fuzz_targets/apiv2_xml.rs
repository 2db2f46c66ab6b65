//! The APIv2 XML reader: bounded, no panic; what it reads writes back to
//! something it reads the same; its error messages stay short.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay_chain::v2::xml::{parse, write};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Ok(fields) => {
            if let Ok(text) = write(&fields) {
                assert_eq!(parse(text.as_bytes()).ok(), Some(fields));
            }
        }
        // A refusal quotes the document only in part, whatever its size.
        Err(error) => assert!(error.to_string().len() <= 2048, "{} bytes", error.to_string().len()),
    }
});
