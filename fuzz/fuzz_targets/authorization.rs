//! The mock's (and any server's) Authorization parser: errors, never a
//! panic; what parses prints back to something that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay_chain::sign::Authorization;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(auth) = Authorization::parse(text) {
        assert_eq!(Authorization::parse(&auth.to_string()).as_ref(), Ok(&auth));
    }
});
