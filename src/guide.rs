//! The guides of `docs/`, one module each, Chinese in [`zh`].
//!
//! These pages are the Markdown files shipped in `docs/`, included as they
//! are: every Rust example in them is compiled (and most are run, against
//! the embedded mock WeChat Pay) as a doctest, so an example here works with
//! the version of the crate it is published with. Start with
//! [`getting_started`]; coming from PHP or Node.js, read [`migration`].
//! By use case, each from nothing to a working shop against the mock:
//! [`accept_a_jsapi_payment`], [`refund`].
//!
//! The `wxpay` command line (feature `cli`) is [`cli`].

/// Defines one guide module from `docs/<file>.md`. Links between guides are
/// reference-style links in the Markdown (`[chain.md]`, defined at the end
/// of each file for GitHub); the definitions given here come first, so on
/// docs.rs they point at the guide modules instead.
macro_rules! guide {
    ($name:ident, $file:literal) => {
        #[doc = "[getting-started.md]: crate::guide::getting_started"]
        #[doc = "[migration.md]: crate::guide::migration"]
        #[doc = "[chain.md]: crate::guide::chain"]
        #[doc = "[keys-and-certificates.md]: crate::guide::keys_and_certificates"]
        #[doc = "[notifications.md]: crate::guide::notifications"]
        #[doc = "[files.md]: crate::guide::files"]
        #[doc = "[files.md#measured]: crate::guide::files#measured"]
        #[doc = "[apiv2.md]: crate::guide::apiv2"]
        #[doc = "[production.md]: crate::guide::production"]
        #[doc = "[mock.md]: crate::guide::mock"]
        #[doc = "[profit-sharing.md]: crate::guide::profit_sharing"]
        #[doc = "[mock.md#the-day-one-journey-by-hand]: crate::guide::mock#the-day-one-journey-by-hand"]
        #[doc = "[mock.md#controls-the-user-and-the-back-office]: crate::guide::mock#controls-the-user-and-the-back-office"]
        #[doc = "[performance.md]: crate::guide::performance"]
        #[doc = "[performance.md#fuzzing]: crate::guide::performance#fuzzing"]
        #[doc = "[security.md]: crate::guide::security"]
        #[doc = "[cli.md]: crate::guide::cli"]
        #[doc = "[frontend.md]: crate::guide::frontend"]
        #[doc = "[mock.md#a-jsapi-page-outside-wechat]: crate::guide::mock#a-jsapi-page-outside-wechat"]
        #[doc = "[accept-a-jsapi-payment.md]: crate::guide::accept_a_jsapi_payment"]
        #[doc = "[refund.md]: crate::guide::refund"]
        #[doc = "[reconcile.md]: crate::guide::reconcile"]
        #[doc = "[transfers.md]: crate::guide::transfers"]
        #[doc = ""]
        #[doc = include_str!(concat!("../docs/", $file, ".md"))]
        pub mod $name {}
    };
}

guide!(getting_started, "getting-started");
guide!(migration, "migration");
guide!(chain, "chain");
guide!(keys_and_certificates, "keys-and-certificates");
guide!(notifications, "notifications");
guide!(files, "files");
guide!(apiv2, "apiv2");
guide!(production, "production");
guide!(mock, "mock");
guide!(profit_sharing, "profit-sharing");
guide!(performance, "performance");
guide!(security, "security");
guide!(cli, "cli");
guide!(frontend, "frontend");
guide!(accept_a_jsapi_payment, "guides/accept-a-jsapi-payment");
guide!(refund, "guides/refund");
guide!(reconcile, "guides/reconcile");
guide!(transfers, "transfers");

/// 中文指南：与英文指南一一对应。
pub mod zh {
    /// Defines one Chinese guide module from `docs/zh/<file>.md`, its links
    /// pointing at the Chinese modules.
    macro_rules! guide_zh {
        ($name:ident, $file:literal) => {
            #[doc = "[getting-started.md]: crate::guide::zh::getting_started"]
            #[doc = "[migration.md]: crate::guide::zh::migration"]
            #[doc = "[chain.md]: crate::guide::zh::chain"]
            #[doc = "[keys-and-certificates.md]: crate::guide::zh::keys_and_certificates"]
            #[doc = "[notifications.md]: crate::guide::zh::notifications"]
            #[doc = "[files.md]: crate::guide::zh::files"]
            #[doc = "[files.md#实测]: crate::guide::zh::files#实测"]
            #[doc = "[apiv2.md]: crate::guide::zh::apiv2"]
            #[doc = "[production.md]: crate::guide::zh::production"]
            #[doc = "[mock.md]: crate::guide::zh::mock"]
            #[doc = "[profit-sharing.md]: crate::guide::zh::profit_sharing"]
            #[doc = "[mock.md#手工走一遍开业第一天]: crate::guide::zh::mock#手工走一遍开业第一天"]
            #[doc = "[mock.md#扮演用户与后台]: crate::guide::zh::mock#扮演用户与后台"]
            #[doc = "[performance.md]: crate::guide::zh::performance"]
            #[doc = "[performance.md#模糊测试]: crate::guide::zh::performance#模糊测试"]
            #[doc = "[security.md]: crate::guide::zh::security"]
            #[doc = "[cli.md]: crate::guide::zh::cli"]
            #[doc = "[frontend.md]: crate::guide::zh::frontend"]
            #[doc = "[mock.md#在微信之外运行-jsapi-页面]: crate::guide::zh::mock#在微信之外运行-jsapi-页面"]
            #[doc = "[accept-a-jsapi-payment.md]: crate::guide::zh::accept_a_jsapi_payment"]
            #[doc = "[refund.md]: crate::guide::zh::refund"]
            #[doc = "[reconcile.md]: crate::guide::zh::reconcile"]
            #[doc = "[transfers.md]: crate::guide::zh::transfers"]
            #[doc = ""]
            #[doc = include_str!(concat!("../docs/zh/", $file, ".md"))]
            pub mod $name {}
        };
    }

    guide_zh!(getting_started, "getting-started");
    guide_zh!(migration, "migration");
    guide_zh!(chain, "chain");
    guide_zh!(keys_and_certificates, "keys-and-certificates");
    guide_zh!(notifications, "notifications");
    guide_zh!(cli, "cli");
    guide_zh!(files, "files");
    guide_zh!(apiv2, "apiv2");
    guide_zh!(production, "production");
    guide_zh!(mock, "mock");
    guide_zh!(profit_sharing, "profit-sharing");
    guide_zh!(performance, "performance");
    guide_zh!(security, "security");
    guide_zh!(frontend, "frontend");
    guide_zh!(accept_a_jsapi_payment, "guides/accept-a-jsapi-payment");
    guide_zh!(refund, "guides/refund");
    guide_zh!(reconcile, "guides/reconcile");
    guide_zh!(transfers, "transfers");
}
