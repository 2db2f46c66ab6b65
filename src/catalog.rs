//! The endpoint catalog (feature `catalog`): the 1155 operations WeChat Pay
//! publishes (1019 APIv3, 136 APIv2), to look up, search and suggest from
//! while prototyping. Pure data: no client, no network.
//!
//! The catalog is a help, never a gate: the client sends any path, known
//! here or not, so an endpoint WeChat Pay publishes tomorrow works today.
//!
//! ```
//! use wechatpay_chain::catalog::{Api, Catalog};
//!
//! let catalog = Catalog::embedded();
//!
//! // a concrete path (a leading `/`, a query, even a whole URL are fine)
//! let found = catalog.lookup("POST", "/v3/payscore/serviceorder/1234/modify").unwrap();
//! assert_eq!(found.operation.template(), "v3/payscore/serviceorder/{out_order_no}/modify");
//! assert_eq!(found.placeholders[0].name, "out_order_no");
//! assert_eq!(found.placeholders[0].value.as_deref(), Some("1234"));
//! assert_eq!(found.operation.api(), Api::V3);
//! assert_eq!(found.operation.success_status(), 200);
//! assert_eq!(found.operation.summary(), "修改订单金额API");
//!
//! // words: path segments, the Chinese summary
//! assert!(catalog.search("payscore 修改订单金额").len() >= 1);
//!
//! // a typo
//! let typo = catalog.suggest(Some("POST"), "v3/payscore/serviceorde/1234/modify", 3);
//! assert_eq!(typo[0].operation.template(), "v3/payscore/serviceorder/{out_order_no}/modify");
//! ```
//!
//! The data is the corpus the mock answers from (`ENDPOINTS_TSV`), parsed
//! once on first use. APIv2 operations are written as the SDK writes them,
//! `v2/pay/orderquery`; [`Operation::wire_path`] gives the path sent.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use percent_encoding::percent_decode_str;
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::path::{edit_distance, ident_segment};
use crate::request::is_unsigned_download;
use crate::v2::rules;

/// The corpus, embedded: one operation per line, tab-separated, header
/// `METHOD PATH API RESPONSES SERIAL CONSUMES PRODUCES JS_CHAIN PHP_CHAIN
/// SUMMARY`. APIv2 paths are written without `v2/`.
///
/// ```
/// use wechatpay_chain::catalog::ENDPOINTS_TSV;
/// assert!(ENDPOINTS_TSV.starts_with("METHOD\tPATH\tAPI\t"));
/// ```
pub const ENDPOINTS_TSV: &str = include_str!("mock/data/endpoints.tsv");

/// APIv2 paths outside `secapi/` that need the merchant TLS client
/// certificate: the ones `docs/apiv2.md` ("The TLS client certificate")
/// names, with the red packet and transfer families it abbreviates as "…".
/// See [`Operation::needs_client_certificate`].
///
/// ```
/// use wechatpay_chain::catalog::CLIENT_CERTIFICATE_PATHS;
/// assert!(CLIENT_CERTIFICATE_PATHS.contains(&"mmpaymkttransfers/sendredpack"));
/// ```
pub const CLIENT_CERTIFICATE_PATHS: [&str; 13] = [
    "mmpaymkttransfers/gethbinfo",
    "mmpaymkttransfers/gettransferinfo",
    "mmpaymkttransfers/promotion/paywwsptrans2pocket",
    "mmpaymkttransfers/promotion/querywwsptrans2pocket",
    "mmpaymkttransfers/promotion/transfers",
    "mmpaymkttransfers/queryworkwxredpack",
    "mmpaymkttransfers/sendgroupredpack",
    "mmpaymkttransfers/sendminiprogramhb",
    "mmpaymkttransfers/sendredpack",
    "mmpaymkttransfers/sendworkwxredpack",
    "mmpaysptrans/pay_bank",
    "mmpaysptrans/query_bank",
    "pay/downloadfundflow",
];

/// Which protocol an operation speaks.
///
/// ```
/// use wechatpay_chain::catalog::{Api, Catalog};
/// let op = Catalog::embedded().find("POST", "v2/pay/micropay").unwrap();
/// assert_eq!(op.api(), Api::V2);
/// assert_eq!(op.api().to_string(), "v2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Api {
    /// APIv2: XML, `sign` in the fields, MD5 or HMAC-SHA256 with the APIv2 key.
    V2,
    /// APIv3: JSON, RSA-signed `Authorization`, signed answers.
    V3,
}

impl std::fmt::Display for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Api::V2 => "v2",
            Api::V3 => "v3",
        })
    }
}

/// One operation: a method and a path template.
///
/// ```
/// use wechatpay_chain::catalog::Catalog;
///
/// let op = Catalog::embedded().find("GET", "v3/billdownload/file").unwrap();
/// assert!(op.unsigned_response() && op.file_response());
/// assert_eq!(op.placeholders().count(), 0);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Operation {
    method: String,
    template: String,
    api: Api,
    statuses: Vec<u16>,
    serial: bool,
    consumes: Option<String>,
    produces: Option<String>,
    summary: String,
    /// `template` split at `/`.
    segments: Vec<String>,
}

impl Operation {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The path template as the SDK writes it: `v3/…`, or `v2/…` for APIv2.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// The path as sent, relative to the base URL: APIv2 without `v2/`.
    ///
    /// ```
    /// # let op = wechatpay_chain::catalog::Catalog::embedded().find("POST", "v2/pay/micropay").unwrap();
    /// assert_eq!(op.wire_path(), "pay/micropay");
    /// ```
    pub fn wire_path(&self) -> &str {
        match self.api {
            Api::V2 => self.template.strip_prefix("v2/").unwrap_or(&self.template),
            Api::V3 => &self.template,
        }
    }

    /// APIv2 or APIv3.
    pub fn api(&self) -> Api {
        self.api
    }

    /// The placeholder names, in path order.
    ///
    /// ```
    /// # let op = wechatpay_chain::catalog::Catalog::embedded()
    /// #     .find("POST", "v3/payscore/serviceorder/{out_order_no}/modify").unwrap();
    /// assert_eq!(op.placeholders().collect::<Vec<_>>(), ["out_order_no"]);
    /// ```
    pub fn placeholders(&self) -> impl Iterator<Item = &str> + '_ {
        self.segments.iter().filter_map(|s| placeholder_name(s))
    }

    /// The first success status the documentation lists: 200, 202, 204, or
    /// 302 for the one page that redirects.
    pub fn success_status(&self) -> u16 {
        self.statuses.first().copied().unwrap_or(200)
    }

    /// Every status the documentation lists (usually one).
    pub fn statuses(&self) -> &[u16] {
        &self.statuses
    }

    /// The request's content type as the corpus gives it
    /// (`multipart/form-data`, `application/xml`); `None` where it gives
    /// none, which for APIv3 means JSON (or no body).
    pub fn consumes(&self) -> Option<&str> {
        self.consumes.as_deref()
    }

    /// The answer's content type as the corpus gives it (`application/pdf`,
    /// `application/xml`, …); `None` where it gives none, which for APIv3
    /// means JSON (or no body).
    pub fn produces(&self) -> Option<&str> {
        self.produces.as_deref()
    }

    /// The summary from WeChat Pay's documentation, in Chinese.
    pub fn summary(&self) -> &str {
        &self.summary
    }

    /// An upload: `multipart/form-data` with a `meta` JSON part (what
    /// [`crate::Chain::upload`] sends).
    pub fn is_upload(&self) -> bool {
        self.consumes
            .as_deref()
            .is_some_and(|c| c.contains("multipart/form-data"))
    }

    /// The corpus marks the request as carrying fields encrypted with a
    /// WeChat Pay key ([`crate::sensitive`]), so `Wechatpay-Serial` must
    /// name that key. The client sends it on every request.
    pub fn needs_wechatpay_serial(&self) -> bool {
        self.serial
    }

    /// WeChat Pay answers without a signature: the APIv3 file downloads
    /// ([`crate::request::UNSIGNED_DOWNLOADS`] and complaint images) and
    /// the APIv2 endpoints of [`rules::UNSIGNED_RESPONSES`]. The client does
    /// not ask for one there.
    pub fn unsigned_response(&self) -> bool {
        match self.api {
            Api::V3 => self.method == "GET" && is_unsigned_download(&self.template),
            Api::V2 => rules::is_unsigned(self.wire_path()),
        }
    }

    /// The answer is a file (a bill, a PDF, an image), not JSON or XML: the
    /// APIv3 unsigned downloads, any APIv3 answer the corpus types as
    /// something else than JSON, and APIv2's [`rules::FILE_RESPONSES`].
    pub fn file_response(&self) -> bool {
        match self.api {
            Api::V3 => {
                (self.method == "GET" && is_unsigned_download(&self.template))
                    || self
                        .produces
                        .as_deref()
                        .is_some_and(|p| !p.contains("json"))
            }
            Api::V2 => rules::is_file(self.wire_path()),
        }
    }

    /// APIv2 only: the call needs the merchant TLS client certificate
    /// (`"security": true`). The corpus has no column for it, so this is
    /// the `secapi/` prefix (refunds, reversals, profit sharing, …) plus
    /// [`CLIENT_CERTIFICATE_PATHS`], following `docs/apiv2.md`. It errs on
    /// the side of yes: presenting the certificate where it is not
    /// required does no harm. Always false for APIv3.
    ///
    /// ```
    /// use wechatpay_chain::catalog::Catalog;
    /// let catalog = Catalog::embedded();
    /// assert!(catalog.find("POST", "v2/secapi/pay/refund").unwrap().needs_client_certificate());
    /// assert!(!catalog.find("POST", "v2/pay/orderquery").unwrap().needs_client_certificate());
    /// ```
    pub fn needs_client_certificate(&self) -> bool {
        self.api == Api::V2 && {
            let path = self.wire_path();
            path.starts_with("secapi/") || CLIENT_CERTIFICATE_PATHS.contains(&path)
        }
    }
}

/// `{"method", "template", "api", "summary", "placeholders", …}`: every
/// accessor by its name, for `wxpay endpoints --json` and scripts.
impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Operation", 13)?;
        s.serialize_field("method", &self.method)?;
        s.serialize_field("template", &self.template)?;
        s.serialize_field("api", &self.api.to_string())?;
        s.serialize_field("summary", &self.summary)?;
        s.serialize_field("placeholders", &self.placeholders().collect::<Vec<_>>())?;
        s.serialize_field("success_status", &self.success_status())?;
        s.serialize_field("statuses", &self.statuses)?;
        s.serialize_field("consumes", &self.consumes)?;
        s.serialize_field("produces", &self.produces)?;
        s.serialize_field("upload", &self.is_upload())?;
        s.serialize_field("needs_wechatpay_serial", &self.serial)?;
        s.serialize_field("unsigned_response", &self.unsigned_response())?;
        s.serialize_field("file_response", &self.file_response())?;
        s.serialize_field("needs_client_certificate", &self.needs_client_certificate())?;
        s.end()
    }
}

/// A placeholder of a matched operation and the value the path gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Placeholder {
    /// Its name in the template (`out_order_no`).
    pub name: String,
    /// The percent-decoded value from the path; `None` when the path was a
    /// template itself (`{out_order_no}`).
    pub value: Option<String>,
}

/// An operation a path matched, with its placeholders filled.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Match<'a> {
    /// The operation.
    pub operation: &'a Operation,
    /// Its placeholders, in path order.
    pub placeholders: Vec<Placeholder>,
}

/// A known operation close to an unknown path.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Suggestion<'a> {
    /// The operation.
    pub operation: &'a Operation,
    /// How far it is: about one per segment added, removed, swapped or
    /// replaced, a fraction for a misspelt segment, 0.3 for another method.
    pub distance: f64,
}

/// The operations, with lookup, search and suggestions.
#[derive(Debug)]
pub struct Catalog {
    operations: Vec<Operation>,
    /// Every literal segment, lowercased: a path segment that is one of
    /// these is probably not a placeholder value.
    words: HashSet<String>,
}

impl Catalog {
    /// The embedded corpus ([`ENDPOINTS_TSV`]), parsed on first use.
    ///
    /// ```
    /// assert_eq!(wechatpay_chain::catalog::Catalog::embedded().operations().len(), 1155);
    /// ```
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog::parse(ENDPOINTS_TSV))
    }

    /// Reads the TSV format of [`ENDPOINTS_TSV`]; rows it cannot read are
    /// left out (a file without the METHOD, PATH and API columns gives an
    /// empty catalog).
    fn parse(tsv: &str) -> Catalog {
        let mut lines = tsv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
        let column = |name: &str| header.iter().position(|h| *h == name);
        let (Some(method), Some(path), Some(api)) =
            (column("METHOD"), column("PATH"), column("API"))
        else {
            return Catalog {
                operations: Vec::new(),
                words: HashSet::new(),
            };
        };
        let [responses, serial, consumes, produces, summary] =
            ["RESPONSES", "SERIAL", "CONSUMES", "PRODUCES", "SUMMARY"].map(column);
        let operations: Vec<Operation> = lines
            .filter_map(|line| {
                let fields: Vec<&str> = line.split('\t').collect();
                let get = |i: Option<usize>| {
                    i.and_then(|i| fields.get(i))
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                };
                let api = match get(Some(api))? {
                    "v2" => Api::V2,
                    _ => Api::V3,
                };
                let path = get(Some(path))?;
                let template = match api {
                    Api::V2 => format!("v2/{path}"),
                    Api::V3 => path.to_owned(),
                };
                Some(Operation {
                    method: get(Some(method))?.to_ascii_uppercase(),
                    segments: template.split('/').map(str::to_owned).collect(),
                    template,
                    api,
                    statuses: get(responses)
                        .unwrap_or_default()
                        .split(',')
                        .filter_map(|s| s.trim().parse().ok())
                        .collect(),
                    serial: get(serial) == Some("Y"),
                    consumes: get(consumes).map(str::to_owned),
                    produces: get(produces).map(str::to_owned),
                    summary: get(summary).unwrap_or_default().to_owned(),
                })
            })
            .collect();
        let words = operations
            .iter()
            .flat_map(|op| op.segments.iter())
            .filter(|s| placeholder_name(s).is_none() && !s.is_empty())
            .map(|s| s.to_lowercase())
            .collect();
        Catalog { operations, words }
    }

    /// Every operation, in corpus order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The operation with exactly this method (any case) and template.
    ///
    /// ```
    /// # let catalog = wechatpay_chain::catalog::Catalog::embedded();
    /// assert!(catalog.find("get", "v3/certificates").is_some());
    /// assert!(catalog.find("GET", "v3/certificate").is_none());
    /// ```
    pub fn find(&self, method: &str, template: &str) -> Option<&Operation> {
        self.operations
            .iter()
            .find(|op| op.method.eq_ignore_ascii_case(method) && op.template == template)
    }

    /// The operation `method` and `path` call, with its placeholder values.
    /// `path` is a concrete path (`v3/pay/transactions/id/4200…`), a
    /// template, or a mix; with or without a leading `/`, a query, or the
    /// scheme and host. APIv2 paths start `v2/`, as the SDK writes them.
    ///
    /// Where two templates match, a literal segment beats a placeholder at
    /// the first place they differ (`images/upload` over
    /// `images/{media_id}`), then an exact template wins, then corpus
    /// order. `None` when no template matches or none with this method.
    ///
    /// ```
    /// # let catalog = wechatpay_chain::catalog::Catalog::embedded();
    /// let m = catalog.lookup("GET", "https://api.mch.weixin.qq.com/v3/pay/transactions/id/42%2F0?mchid=1").unwrap();
    /// assert_eq!(m.operation.template(), "v3/pay/transactions/id/{transaction_id}");
    /// assert_eq!(m.placeholders[0].value.as_deref(), Some("42/0"));
    /// assert!(catalog.lookup("DELETE", "v3/pay/transactions/id/42").is_none());
    /// ```
    pub fn lookup(&self, method: &str, path: &str) -> Option<Match<'_>> {
        self.lookup_path(path)
            .into_iter()
            .find(|m| m.operation.method.eq_ignore_ascii_case(method))
    }

    /// Every operation at the best-matching template(s) of `path`, whatever
    /// its method (`global/v3/customs/orders` answers GET, PATCH and POST).
    /// Empty when no template matches. See [`Catalog::lookup`].
    ///
    /// ```
    /// # let catalog = wechatpay_chain::catalog::Catalog::embedded();
    /// let methods: Vec<&str> = catalog.lookup_path("global/v3/customs/orders")
    ///     .iter().map(|m| m.operation.method()).collect();
    /// assert_eq!(methods, ["GET", "PATCH", "POST"]);
    /// ```
    pub fn lookup_path(&self, path: &str) -> Vec<Match<'_>> {
        let relative = relative(path);
        let segments: Vec<&str> = relative.split('/').collect();
        let mut best: Option<Vec<bool>> = None;
        let mut hits: Vec<&Operation> = Vec::new();
        for op in &self.operations {
            let Some(shape) = shape_of(&op.segments, &segments) else {
                continue;
            };
            match best.as_ref().map(|b| shape.cmp(b)) {
                Some(std::cmp::Ordering::Less) => {}
                Some(std::cmp::Ordering::Equal) => hits.push(op),
                _ => {
                    best = Some(shape);
                    hits.clear();
                    hits.push(op);
                }
            }
        }
        // An exact template before one that only has the same shape.
        hits.sort_by_key(|op| op.template != relative);
        hits.into_iter()
            .map(|operation| Match {
                operation,
                placeholders: operation
                    .segments
                    .iter()
                    .zip(&segments)
                    .filter_map(|(part, segment)| {
                        placeholder_name(part).map(|name| Placeholder {
                            name: name.to_owned(),
                            value: placeholder_name(segment).is_none().then(|| {
                                percent_decode_str(segment).decode_utf8_lossy().into_owned()
                            }),
                        })
                    })
                    .collect(),
            })
            .collect()
    }

    /// Operations matching every word of `query` (split at whitespace,
    /// any case): a word matches a method name, part of the template, or
    /// part of the Chinese summary. Best first: a whole path segment beats
    /// the start of one, which beats any part, then template order. An
    /// empty query lists everything.
    ///
    /// ```
    /// # let catalog = wechatpay_chain::catalog::Catalog::embedded();
    /// let refunds = catalog.search("退款 domestic");
    /// assert!(refunds.iter().any(|op| op.template() == "v3/refund/domestic/refunds"));
    /// assert!(catalog.search("POST serviceorder").iter().all(|op| op.method() == "POST"));
    /// ```
    pub fn search(&self, query: &str) -> Vec<&Operation> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        let mut scored: Vec<(u32, &Operation)> = self
            .operations
            .iter()
            .filter_map(|op| {
                let template = op.template.to_lowercase();
                let summary = op.summary.to_lowercase();
                let mut total = 0;
                for word in &words {
                    let segments = op.segments.iter().map(|s| s.to_lowercase());
                    let score = if is_method(word) {
                        // `post` filters by method; it is also a word of some paths
                        if op.method.eq_ignore_ascii_case(word) {
                            1
                        } else {
                            return None;
                        }
                    } else if segments.clone().any(|s| s == *word) {
                        6
                    } else if segments.clone().any(|s| s.starts_with(word.as_str())) {
                        4
                    } else if summary.contains(word.as_str()) {
                        3
                    } else if template.contains(word.as_str()) {
                        2
                    } else {
                        return None;
                    };
                    total += score;
                }
                Some((total, op))
            })
            .collect();
        scored.sort_by(|(a, x), (b, y)| {
            b.cmp(a)
                .then_with(|| x.template.cmp(&y.template))
                .then_with(|| method_rank(&x.method).cmp(&method_rank(&y.method)))
        });
        scored.into_iter().map(|(_, op)| op).collect()
    }

    /// Up to `limit` known operations close to `path`, closest first: for
    /// a path no template matches (a misspelt, missing, extra or swapped
    /// segment, a forgotten `v2/`), or a method the path does not take.
    /// Distances count whole segments (see [`Suggestion::distance`]);
    /// only operations within 2 of the path, and within 0.5 of the
    /// closest, are offered. `method` (`None`: any) ranks its own operations first.
    ///
    /// ```
    /// # let catalog = wechatpay_chain::catalog::Catalog::embedded();
    /// let s = catalog.suggest(Some("POST"), "v3/serviceorder/payscore/1234/modify", 1);
    /// assert_eq!(s[0].operation.template(), "v3/payscore/serviceorder/{out_order_no}/modify");
    /// let s = catalog.suggest(Some("POST"), "pay/micropay", 1);
    /// assert_eq!(s[0].operation.template(), "v2/pay/micropay");
    /// ```
    pub fn suggest<'a>(
        &'a self,
        method: Option<&str>,
        path: &str,
        limit: usize,
    ) -> Vec<Suggestion<'a>> {
        let relative = relative(path);
        let segments: Vec<&str> = relative.split('/').collect();
        // Templates share their words: each (segment, part) pair is costed once.
        let mut costs: HashMap<(usize, &'a str), f64> = HashMap::new();
        let mut scored: Vec<Suggestion<'a>> = self
            .operations
            .iter()
            .filter(|op| op.segments.len().abs_diff(segments.len()) <= 2)
            .map(|op| {
                let mut replace = |i: usize, part: &'a str| -> f64 {
                    *costs
                        .entry((i, part))
                        .or_insert_with(|| self.replace(segments[i], part))
                };
                let mut distance = distance(&segments, &op.segments, &mut replace);
                if method.is_some_and(|m| !op.method.eq_ignore_ascii_case(m)) {
                    distance += 0.3;
                }
                Suggestion {
                    operation: op,
                    distance,
                }
            })
            .filter(|s| s.distance <= 2.0)
            .collect();
        scored.sort_by(|a, b| {
            a.distance
                .total_cmp(&b.distance)
                .then_with(|| a.operation.template.cmp(&b.operation.template))
                .then_with(|| {
                    method_rank(&a.operation.method).cmp(&method_rank(&b.operation.method))
                })
        });
        let closest = scored.first().map_or(0.0, |s| s.distance);
        scored.retain(|s| s.distance <= closest + 0.5);
        scored.truncate(limit);
        scored
    }

    /// What it costs to read path segment `segment` as template part
    /// `part`: a literal by how much of it is misspelt (0.1 for case only);
    /// a placeholder 0.2 for a value, 0.5 for a word that is a literal
    /// elsewhere (probably a misplaced segment, not a value).
    fn replace(&self, segment: &str, part: &str) -> f64 {
        match (placeholder_name(part), placeholder_name(segment)) {
            (Some(_), Some(_)) => 0.0,
            (Some(_), None) if segment.is_empty() => 1.0,
            (Some(_), None) if self.words.contains(&segment.to_lowercase()) => 0.5,
            (Some(_), None) => 0.2,
            (None, Some(_)) => 1.0,
            (None, None) if segment == part => 0.0,
            (None, None) => {
                let (a, b) = (segment.to_lowercase(), part.to_lowercase());
                if a == b {
                    return 0.1;
                }
                let longest = a.chars().count().max(b.chars().count()).max(1);
                edit_distance(&a, &b) as f64 / longest as f64
            }
        }
    }
}

/// The identifiers [`crate::chain!`] takes for `template`, dot-separated
/// (`v3.payscore.serviceorder._out_order_no_.modify`); `None` when a
/// segment has no identifier spelling (`addInstitutionsub`: identifiers
/// turn capitals into `-x`), so only the string forms can name it.
///
/// ```
/// use wechatpay_chain::catalog::chain_macro_path;
/// assert_eq!(
///     chain_macro_path("v3/merchant-service/complaints-v2/{complaint_id}/response").as_deref(),
///     Some("v3.merchantService.complaintsV2._complaint_id_.response"),
/// );
/// assert_eq!(chain_macro_path("v3/applyment4sub/applyment/").as_deref(), Some("v3.applyment4sub.applyment._empty_"));
/// assert_eq!(chain_macro_path("v2/secapi/mch/addInstitutionsub"), None);
/// ```
pub fn chain_macro_path(template: &str) -> Option<String> {
    let segments: Vec<&str> = template.split('/').collect();
    let last = segments.len().saturating_sub(1);
    let mut idents = Vec::with_capacity(segments.len());
    for (i, segment) in segments.iter().enumerate() {
        let ident = if segment.is_empty() {
            // `_empty_` is a trailing slash; an empty segment elsewhere is lost
            (i == last && i > 0).then(|| "_empty_".to_owned())?
        } else if let Some(name) = placeholder_name(segment) {
            format!("_{name}_")
        } else {
            let mut parts = segment.split('-');
            let mut ident = parts.next().unwrap_or_default().to_owned();
            for part in parts {
                let mut chars = part.chars();
                let first = chars.next()?;
                ident.push(first.to_ascii_uppercase());
                ident.push_str(chars.as_str());
            }
            ident
        };
        let valid = ident
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid || ident_segment(&ident) != *segment {
            return None;
        }
        idents.push(ident);
    }
    Some(idents.join("."))
}

/// Edit distance between a path's segments and a template's, where a
/// segment costs 1 to add or remove (0.3 if empty: a trailing slash), 1 to
/// swap with its neighbour, and `replace(i, part)` to read path segment `i`
/// as template part `part` ([`Catalog::replace`]).
fn distance<'c>(
    path: &[&str],
    template: &'c [String],
    replace: &mut impl FnMut(usize, &'c str) -> f64,
) -> f64 {
    let (n, m) = (path.len(), template.len());
    let indel = |s: &str| if s.is_empty() { 0.3 } else { 1.0 };
    let mut d = vec![vec![0.0f64; m + 1]; n + 1];
    for i in 1..=n {
        d[i][0] = d[i - 1][0] + indel(path[i - 1]);
    }
    for j in 1..=m {
        d[0][j] = d[0][j - 1] + indel(&template[j - 1]);
    }
    for i in 1..=n {
        for j in 1..=m {
            let mut best = (d[i - 1][j] + indel(path[i - 1]))
                .min(d[i][j - 1] + indel(&template[j - 1]))
                .min(d[i - 1][j - 1] + replace(i - 1, &template[j - 1]));
            if i > 1 && j > 1 {
                let crossed = replace(i - 1, &template[j - 2]) + replace(i - 2, &template[j - 1]);
                if crossed < 0.5 {
                    best = best.min(d[i - 2][j - 2] + 1.0 + crossed);
                }
            }
            d[i][j] = best;
        }
    }
    d[n][m]
}

/// A path relative to the base URL: no scheme and host, no leading `/`, no
/// query or fragment.
fn relative(path: &str) -> &str {
    let mut path = path.trim();
    if let Some((_, rest)) = path.split_once("://") {
        path = rest.find('/').map_or("", |i| &rest[i..]);
    }
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.strip_prefix('/').unwrap_or(path)
}

/// `out_order_no` for `{out_order_no}`.
fn placeholder_name(segment: &str) -> Option<&str> {
    segment
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .filter(|name| !name.is_empty())
}

/// Whether `template` (split) matches `segments`; if so, which segments were
/// literal (true): vectors compare so that literal-first matches rank higher.
fn shape_of(template: &[String], segments: &[&str]) -> Option<Vec<bool>> {
    if template.len() != segments.len() {
        return None;
    }
    template
        .iter()
        .zip(segments)
        .map(|(part, segment)| {
            if placeholder_name(part).is_some() {
                (!segment.is_empty()).then_some(false)
            } else {
                (part == segment).then_some(true)
            }
        })
        .collect()
}

fn is_method(word: &str) -> bool {
    ["get", "post", "put", "patch", "delete"].contains(&word)
}

/// GET, POST, PUT, PATCH, DELETE: the order listings use within a template.
fn method_rank(method: &str) -> usize {
    ["GET", "POST", "PUT", "PATCH", "DELETE"]
        .iter()
        .position(|m| *m == method)
        .unwrap_or(5)
}

#[cfg(test)]
mod tests {
    use super::{relative, Catalog};
    use crate::path::edit_distance as levenshtein;

    #[test]
    fn relative_paths() {
        assert_eq!(relative("/v3/x?a=1"), "v3/x");
        assert_eq!(relative("https://api.mch.weixin.qq.com/v3/x#f"), "v3/x");
        assert_eq!(relative("http://host"), "");
        assert_eq!(
            relative("v3/applyment4sub/applyment/"),
            "v3/applyment4sub/applyment/"
        );
    }

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("serviceorde", "serviceorder"), 1);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("退款", "退款单"), 1);
    }

    #[test]
    fn an_unreadable_corpus_is_empty() {
        assert!(Catalog::parse("").operations().is_empty());
        assert!(Catalog::parse("A\tB\nx\ty\n").operations().is_empty());
    }
}
