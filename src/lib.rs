//! # wechatpay-chain
//!
//! A WeChat Pay APIv3 SDK in the style of `wechatpay/wechatpay` (PHP) and
//! `wechatpay-axios-plugin` (Node.js): name any endpoint by its path, fill
//! its placeholders from an options map, and get back an answer whose
//! signature has been checked. Nothing is generated per endpoint, so an
//! endpoint WeChat Pay publishes today works today.
//!
//! ```no_run
//! use wechatpay_chain::{chain, json, Client, Options};
//!
//! # async fn demo() -> wechatpay_chain::Result<()> {
//! let client = Client::builder()
//!     .mchid("1900000109")
//!     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
//!     .private_key_file("apiclient_key.pem")
//!     .platform_public_key_file("PUB_KEY_ID_0119000001092026010100000000000001", "pub_key.pem")
//!     .build()?;
//!
//! let body = json!({
//!     "appid": "wxd678efh567hg6787",
//!     "service_id": "2002000000000558128851361561536",
//!     "post_payments": [{"name": "就餐费用", "amount": 40000, "description": "就餐人均100元", "count": 4}],
//!     "post_discounts": [{"name": "满20减1元", "description": "不与其他优惠叠加", "amount": 100, "count": 2}],
//!     "total_amount": 39900,
//!     "reason": "用户投诉",
//! });
//!
//! // 1. a path string, placeholders in braces
//! let order = client
//!     .chain("v3/payscore/serviceorder/{out_order_no}/modify")
//!     .post(json!({"out_order_no": "1234323JKHDFE1243252", "json": body}))
//!     .await?;
//!
//! // 2. index style: the same string
//! let res = client["v3/payscore/partner/serviceorder/{out_order_no}/modify"]
//!     .post(json!({"out_order_no": "1234323JKHDFE1243252", "json": body}))
//!     .await?;
//! assert_eq!(res.status(), 204);
//!
//! // 3. chain style, as PHP's `->v3->payscore->…` and JS's `.v3.payscore.…`
//! let res = chain!(client.v3.payscore.serviceorder._out_order_no_.modify)
//!     .post(json!({"out_order_no": "1234323JKHDFE1243252", "json": body}))
//!     .await?;
//!
//! // options without a map
//! let res = client
//!     .chain("v3/pay/transactions/id/{transaction_id}")
//!     .get(Options::new().path("transaction_id", "4200000000202601010000000000").query("mchid", "1900000109"))
//!     .await?;
//! let order: wechatpay_chain::Value = res.json()?;
//! # Ok(()) }
//! ```
//!
//! Rules worth knowing:
//! - String paths are sent as written; only [`chain!`] identifiers are
//!   translated (`merchantService` → `merchant-service`, `_out_order_no_` →
//!   `{out_order_no}`, `_empty_` → a trailing slash).
//! - A placeholder without a value, or an option key that is neither
//!   reserved (`json`, `query`, `headers`, `body`; for APIv2 also `xml`,
//!   `security`, `nonceless`) nor a placeholder, is an error before
//!   anything is sent.
//! - Placeholder values are percent-encoded into exactly one segment.
//! - Every 2xx response is verified (timestamp within 300 s, known serial,
//!   RSA signature over the raw body; APIv2: its `sign`) except the
//!   unsigned file downloads and the APIv2 endpoints WeChat Pay answers
//!   unsigned ([`v2::rules`]).
//!
//! ## Where things are
//!
//! | need | module |
//! |---|---|
//! | guides: getting started, migration from PHP/Node.js, chain styles, files, APIv2, production, … (中文: [`guide::zh`]) | [`guide`] |
//! | client, builder, chain nodes, options, answers | [`Client`], [`ClientBuilder`], [`Chain`], [`Options`], [`Response`] |
//! | front-end invocation parameters (JSAPI, mini-program, APP, payscore pages) | [`invoke`] |
//! | notifications | [`notify`] |
//! | sensitive fields | [`sensitive`] |
//! | platform certificates | [`certs`], [`keys`] |
//! | uploads and downloads | [`media`], [`download`] |
//! | APIv2 (XML) | [`v2`] |
//! | retries | [`retry`] |
//! | signing and verifying by hand | [`sign`], [`verify`], [`crypto`] |
//! | the endpoint catalog: lookup, search, did-you-mean (feature `catalog`) | `catalog` |
//! | the mock WeChat Pay (feature `mock`) | `mock` |
//! | code without async (feature `blocking`) | `blocking` |
//!
//! Features: `catalog` (the endpoint corpus), `mock` (the embedded server,
//! with `catalog`), `blocking`, `cli` (the `wxpay` binary, with `mock`),
//! `vendored` (OpenSSL built from source), `full` (all but `vendored`).
//! None is on by default.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "blocking")]
#[cfg_attr(docsrs, doc(cfg(feature = "blocking")))]
pub mod blocking;
#[cfg(feature = "catalog")]
#[cfg_attr(docsrs, doc(cfg(feature = "catalog")))]
pub mod catalog;
pub mod certs;
pub mod chain;
pub mod client;
pub mod clock;
pub mod crypto;
pub mod download;
mod encryptor;
pub mod error;
pub mod guide;
mod hex;
pub mod invoke;
pub mod keys;
pub mod media;
#[cfg(feature = "mock")]
#[cfg_attr(docsrs, doc(cfg(feature = "mock")))]
pub mod mock;
pub mod models;
pub mod notify;
pub mod options;
pub mod path;
pub mod profile;
pub mod request;
pub mod response;
pub mod retry;
pub mod sensitive;
pub mod sign;
mod text;
pub mod v2;
pub mod verify;

pub use crate::chain::Chain;
pub use crate::client::Client;
pub use crate::client::ClientBuilder;
pub use crate::error::{ApiError, Error, Result, TimeoutLimit, VerifyError};
pub use crate::options::Options;
pub use crate::request::{PreparedRequest, Signature};
pub use crate::response::Response;
/// The HTTP client this crate is built on, re-exported so that its types in
/// our API ([`ClientBuilder::http_client`], [`ClientBuilder::proxy`],
/// `HeaderMap`, [`Error::Transport`]) never meet a second, skewed copy:
/// write `wechatpay_chain::reqwest::Proxy`, no `reqwest` dependency needed.
pub use reqwest;
pub use reqwest::Method;
pub use serde_json::{json, Value};

/// README.md's examples, compiled as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// README.zh-CN.md's examples, compiled as doctests like README.md's.
#[cfg(doctest)]
#[doc = include_str!("../README.zh-CN.md")]
struct ReadmeZhDoctests;

/// Chain style: `chain!(client.v3.payscore.serviceorder._out_order_no_.modify)`.
///
/// The first token is a [`Client`] or a [`Chain`] (a variable, or any
/// expression in parentheses); each following identifier becomes a segment
/// the way the PHP and Node.js SDKs translate it ([`path::ident_segment`]).
/// Rust keywords that appear in real paths (`return`, `use`, `try`) work as
/// they are.
///
/// ```
/// use wechatpay_chain::chain;
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem")
/// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
///
/// let node = chain!(client.v3.merchantService.complaintsV2._complaint_id_.response);
/// assert_eq!(node.template(), "v3/merchant-service/complaints-v2/{complaint_id}/response");
///
/// let node = chain!(client.v3.ecommerce.subsidies.return);
/// assert_eq!(node.template(), "v3/ecommerce/subsidies/return");
///
/// let node = chain!(client.v3.applyment4sub.applyment._empty_);
/// assert_eq!(node.template(), "v3/applyment4sub/applyment/");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[macro_export]
macro_rules! chain {
    ($root:tt $(. $segment:tt)+) => {
        $root.chain_idents(&[$(stringify!($segment)),+])
    };
}
