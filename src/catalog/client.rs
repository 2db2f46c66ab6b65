//! The schema check on the client: [`check_prepared`] for one request, and
//! `ClientBuilder::check_requests` to run it before every request.

use std::sync::Arc;

use serde_json::Value;

use super::check::{RequestParts, Violation};
use super::Catalog;
use crate::client::ClientBuilder;
use crate::error::Error;
use crate::request::PreparedRequest;

/// The violations of a prepared APIv3 request against its operation's
/// schema (empty for APIv2, for a path the catalog does not know, and for
/// an operation without a schema). What is checked is exactly what would
/// be signed: the JSON body, the query, the path's placeholders and the
/// headers (`Wechatpay-Serial` when an encrypted field is sent).
///
/// ```
/// use wechatpay_chain::{json, Method};
/// # let client = wechatpay_chain::Client::builder().mchid("1900000109")
/// #     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
/// #     .private_key_file("src/mock/data/merchant_key.pem")
/// #     .platform_certificate_file("src/mock/data/platform_cert.pem").build()?;
/// let request = client.chain("v3/fund-app/mch-transfer/transfer-bills")
///     .prepare(Method::POST, json!({"json": {"appid": "wx1", "out_bill_no": "T1"}}).into())?;
/// let found = wechatpay_chain::catalog::check_prepared(&request);
/// assert!(found.iter().any(|v| v.pointer == "/openid"));
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
pub fn check_prepared(request: &PreparedRequest) -> Vec<Violation> {
    if request.is_apiv2() {
        return Vec::new();
    }
    let Some(found) = Catalog::embedded().lookup(request.method().as_str(), &request.relative_path)
    else {
        return Vec::new();
    };
    let Some(schema) = found.operation.schema() else {
        return Vec::new();
    };
    let body: Option<Value> = match request.body() {
        [] => None,
        bytes if request.upload.is_none() => serde_json::from_slice(bytes).ok(),
        _ => None,
    };
    let mut parts = match &body {
        Some(body) => RequestParts::body(body),
        None => RequestParts::new(),
    };
    for (name, value) in request.url().query_pairs() {
        parts = parts.with_query(name, value);
    }
    for placeholder in &found.placeholders {
        if let Some(value) = &placeholder.value {
            parts = parts.with_path(placeholder.name.clone(), value.clone());
        }
    }
    parts.headers = Some(
        request
            .headers()
            .keys()
            .map(|name| name.as_str().to_owned())
            .collect(),
    );
    schema.check(&parts)
}

impl ClientBuilder {
    /// Checks every APIv3 request against its operation's schema before it
    /// is signed (feature `catalog`; off by default: WeChat Pay is the
    /// authority and the table can lag). A request that breaks a rule is
    /// refused with [`Error::RequestCheck`], naming each field, rule and
    /// WeChat Pay's message; nothing is sent. The check never changes what
    /// is signed or sent. Paths the catalog does not know pass.
    ///
    /// ```
    /// use wechatpay_chain::{json, Client, Error, Method};
    /// let client = Client::builder().mchid("1900000109")
    ///     .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
    ///     .private_key_file("src/mock/data/merchant_key.pem")
    ///     .platform_certificate_file("src/mock/data/platform_cert.pem")
    ///     .check_requests(true)
    ///     .build()?;
    /// let refused = client.chain("v3/pay/transactions/jsapi")
    ///     .prepare(Method::POST, json!({"json": {"mchid": "1900000109"}}).into())
    ///     .unwrap_err();
    /// assert!(matches!(refused, Error::RequestCheck { .. }));
    /// assert!(refused.to_string().contains("输入源“/appid”映射到字段“公众号ID”必填性规则校验失败,此字段为必填项"));
    /// # Ok::<(), wechatpay_chain::Error>(())
    /// ```
    pub fn check_requests(self, yes: bool) -> Self {
        if !yes {
            return self.no_request_check();
        }
        self.request_check(Arc::new(|request: &PreparedRequest| {
            let found = check_prepared(request);
            if found.is_empty() {
                return Ok(());
            }
            Err(Error::RequestCheck {
                operation: format!("{} {}", request.method(), request.template()),
                violations: found.iter().map(ToString::to_string).collect(),
            })
        }))
    }
}
