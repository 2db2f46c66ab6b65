//! Which APIv2 endpoints break the general rules, and why: the ones that
//! answer without a `sign`, the ones that answer a file, the one that
//! answers JSON, and the ones where `nonce_str` may be left out.
//!
//! The lists follow wechatpay-php (`ClientXmlTrait::$noneSignatureRespond`,
//! 26 paths) and wechatpay-axios-plugin (`lib/transformer.js`: `SIGNLESS`,
//! 24 paths, and `NONCELESS`, 18 paths). Where they differ we take the
//! union for unsigned responses: a path one SDK knows to be answered
//! unsigned would otherwise fail every call here, while WeChat Pay's own
//! answers on these paths carry no `sign` to check (their money moves are
//! confirmed by the merchant TLS certificate and by querying). Paths are
//! written as sent, without `v2/`.
//!
//! ```
//! use wechatpay_chain::v2::rules;
//!
//! assert!(rules::is_unsigned("mmpaymkttransfers/sendredpack"));
//! assert!(!rules::is_unsigned("pay/orderquery"));
//! assert!(rules::may_be_nonceless("papay/querycontract"));
//! ```

/// APIv2 endpoints whose responses carry no `sign`, with the reason. Every
/// other APIv2 response must be signed.
pub const UNSIGNED_RESPONSES: [(&str, &str); 30] = [
    (
        "appauth/getaccesstoken",
        "answers JSON with `retcode`, not signed XML (axios-plugin SIGNLESS; not in PHP's list)",
    ),
    ("mchrisk/querymchrisk", "merchant risk answers are unsigned (both SDKs)"),
    ("mchrisk/setmchriskcallback", "merchant risk answers are unsigned (both SDKs)"),
    ("mchrisk/syncmchriskresult", "merchant risk answers are unsigned (both SDKs)"),
    ("mmpaymkttransfers/gethbinfo", "red packet answers are unsigned (both SDKs)"),
    ("mmpaymkttransfers/gettransferinfo", "transfer answers are unsigned (both SDKs)"),
    ("mmpaymkttransfers/pay_bank", "transfers to bank cards answer unsigned (both SDKs)"),
    (
        "mmpaymkttransfers/promotion/paywwsptrans2pocket",
        "WeCom transfers answer unsigned (both SDKs)",
    ),
    (
        "mmpaymkttransfers/promotion/querywwsptrans2pocket",
        "WeCom transfers answer unsigned (both SDKs)",
    ),
    ("mmpaymkttransfers/promotion/transfers", "transfers to balance answer unsigned (both SDKs)"),
    ("mmpaymkttransfers/query_bank", "transfers to bank cards answer unsigned (both SDKs)"),
    (
        "mmpaymkttransfers/sendgroupredpack",
        "red packet answers are unsigned (PHP's list; axios-plugin leaves it out, its sibling sendredpack is in both)",
    ),
    ("mmpaymkttransfers/sendminiprogramhb", "red packet answers are unsigned (both SDKs)"),
    ("mmpaymkttransfers/sendredpack", "red packet answers are unsigned (both SDKs)"),
    (
        "mmpaymkttransfers/sendworkwxredpack",
        "WeCom red packet answers are unsigned (WeChat Pay's page for it shows no sign)",
    ),
    (
        "mmpaymkttransfers/queryworkwxredpack",
        "WeCom red packet answers are unsigned (WeChat Pay's page for it shows no sign)",
    ),
    (
        "mmpaysptrans/pay_bank",
        "transfers to bank cards answer unsigned (WeChat Pay's page for it shows no sign)",
    ),
    ("papay/entrustweb", "a page opened by the user's browser, not an API answer (both SDKs)"),
    ("papay/h5entrustweb", "a page opened by the user's browser, not an API answer (both SDKs)"),
    (
        "papay/partner/entrustweb",
        "a page opened by the user's browser, not an API answer (both SDKs)",
    ),
    (
        "papay/partner/h5entrustweb",
        "a page opened by the user's browser, not an API answer (both SDKs)",
    ),
    ("pay/downloadbill", "a file, XML only on failure (both SDKs)"),
    ("pay/downloadfundflow", "a file, XML only on failure (both SDKs)"),
    ("payitil/report", "transaction-assurance reports are acknowledged unsigned (both SDKs)"),
    ("risk/getpublickey", "returns the RSA public key itself (both SDKs)"),
    ("risk/getviolation", "violation records answer unsigned (both SDKs)"),
    ("sandboxnew/pay/downloadbill", "the old sandbox's bill file (PHP's list)"),
    ("sandboxnew/pay/getsignkey", "the old sandbox's key answer (PHP's list)"),
    ("secapi/mch/submchmanage", "sub-merchant management answers unsigned (both SDKs)"),
    (
        "xdc/apiv2getsignkey/sign/getsignkey",
        "the sandbox key: it cannot be signed with the key it hands out (both SDKs)",
    ),
];

/// Endpoints that answer a file rather than XML (XML only on failure).
pub const FILE_RESPONSES: [&str; 3] = [
    "pay/downloadbill",
    "pay/downloadfundflow",
    "sandboxnew/pay/downloadbill",
];

/// Endpoints that answer a page for the user's browser (代扣签约), not
/// XML: their URL is what the merchant needs ([`crate::Chain::signed_url`]).
pub const PAGE_RESPONSES: [&str; 4] = [
    "papay/entrustweb",
    "papay/h5entrustweb",
    "papay/partner/entrustweb",
    "papay/partner/h5entrustweb",
];

/// The endpoint that answers JSON (`{"retcode":0,…}`) instead of XML.
pub const JSON_RESPONSE: &str = "appauth/getaccesstoken";

/// Endpoints whose documented fields have no `nonce_str` (axios-plugin's
/// `NONCELESS`). The `nonceless` option is honoured on any path, as
/// wechatpay-php does (axios-plugin ignores it elsewhere, silently); this
/// list is what our mock accepts without a nonce.
pub const NONCELESS: [&str; 18] = [
    "cgi-bin/mch/customs/customdeclareorder",
    "cgi-bin/mch/customs/customdeclarequery",
    "cgi-bin/mch/newcustoms/customdeclareredeclare",
    "papay/deletecontract",
    "papay/h5entrustweb",
    "papay/preentrustweb",
    "papay/querycontract",
    "papay/partner/h5entrustweb",
    "papay/partner/preentrustweb",
    "papay/partner/querycontract",
    "pay/queryexchagerate",
    "secapi/mch/addInstitutionsub",
    "secapi/mch/addsubdevconfig",
    "secapi/mch/channelsetting",
    "secapi/mch/modifyInstitutionsub",
    "secapi/mch/modifymchinfo",
    "secapi/mch/queryInstitutionsub",
    "secapi/mch/querysubdevconfig",
];

/// Whether WeChat Pay answers `path` (as sent, without `v2/`) unsigned.
pub fn is_unsigned(path: &str) -> bool {
    UNSIGNED_RESPONSES.iter().any(|(p, _)| *p == path)
}

/// Whether `path` answers a page for the browser.
pub fn is_page(path: &str) -> bool {
    PAGE_RESPONSES.contains(&path)
}

/// Whether `path` answers a file.
pub fn is_file(path: &str) -> bool {
    FILE_RESPONSES.contains(&path)
}

/// Whether WeChat Pay documents `path` without `nonce_str`.
pub fn may_be_nonceless(path: &str) -> bool {
    NONCELESS.contains(&path)
}
