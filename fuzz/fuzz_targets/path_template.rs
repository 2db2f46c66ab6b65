//! Templates and placeholder values: a value never changes the number of
//! segments, never brings `?` or `#`, and nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wechatpay_chain::path::Template;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (template, value) = text.split_once('\0').unwrap_or((text, "v"));
    let Ok(parsed) = Template::parse(template) else {
        return;
    };
    if let Ok(filled) = parsed.fill(|_| Some(value)) {
        assert_eq!(
            filled.split('/').count(),
            template.split('/').count(),
            "{template:?} {value:?} -> {filled:?}"
        );
        assert!(!filled.contains('?') && !filled.contains('#'));
    }
});
