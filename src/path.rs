//! Path templates: parsing `v3/pay/transactions/id/{transaction_id}`,
//! filling placeholders, and turning chain-style identifiers into segments.
//!
//! A placeholder value always fills exactly one segment: it is
//! percent-encoded (everything but `A-Z a-z 0-9 - . _ ~`), so `/`, `?`, `#`
//! or `%` in a value can never change the shape of the URL.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use crate::error::{Error, Result};

/// Option keys with a meaning of their own; every other key of the options
/// map fills the placeholder of that name.
pub const RESERVED_KEYS: [&str; 7] = [
    "json",
    "query",
    "headers",
    "body",
    "xml",
    "security",
    "nonceless",
];

/// Request-body fields of the everyday flows (orders, refunds, payscore:
/// FLOWS.md §1.1, §2.1, §3) that a caller coming from another SDK writes at
/// the top of the options instead of under `"json"`.
const BODY_FIELDS: [&str; 30] = [
    "amount",
    "appid",
    "mchid",
    "sp_appid",
    "sp_mchid",
    "sub_appid",
    "sub_mchid",
    "description",
    "out_trade_no",
    "transaction_id",
    "out_refund_no",
    "notify_url",
    "time_expire",
    "attach",
    "goods_tag",
    "payer",
    "detail",
    "scene_info",
    "settle_info",
    "support_fapiao",
    "reason",
    "funds_account",
    "goods_detail",
    "service_id",
    "out_order_no",
    "service_introduction",
    "time_range",
    "risk_fund",
    "post_payments",
    "total_amount",
];

/// Why an option key that fills no placeholder was probably given, for the
/// error: the placeholder or reserved key it is one or two typos away from,
/// or the `"json"` wrapper a body field needs. Empty when nothing fits.
///
/// ```
/// use wechatpay_chain::path::unknown_key_hint;
/// assert_eq!(unknown_key_hint("out_trade_n", ["out_trade_no"]), ": did you mean `out_trade_no`?");
/// assert!(unknown_key_hint("amount", ["out_trade_no"]).contains(r#"a request body goes under "json""#));
/// assert_eq!(unknown_key_hint("zzz", ["out_trade_no"]), "");
/// ```
pub fn unknown_key_hint<'a>(key: &str, placeholders: impl IntoIterator<Item = &'a str>) -> String {
    let nearest = placeholders
        .into_iter()
        .chain(RESERVED_KEYS)
        .map(|candidate| (edit_distance(key, candidate), candidate))
        .filter(|(distance, candidate)| {
            *distance <= 2 && *distance * 3 <= candidate.chars().count()
        })
        .min_by_key(|(distance, _)| *distance);
    match nearest {
        Some((_, candidate)) => format!(": did you mean `{candidate}`?"),
        None if is_body_field(key) => format!(": {}", body_hint(key)),
        None => String::new(),
    }
}

/// Whether `key` is a request-body field of the everyday flows.
pub(crate) fn is_body_field(key: &str) -> bool {
    BODY_FIELDS.contains(&key)
}

/// Where a body field and query parameters go, said with the key.
pub(crate) fn body_hint(key: &str) -> String {
    format!(
        "a request body goes under \"json\" ({{\"json\": {{\"{key}\": …}}}}), query parameters under \"query\""
    )
}

/// Levenshtein distance in characters (keys and paths are short:
/// quadratic is fine).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != *cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Characters encoded in a placeholder value or a query component: all but
/// RFC 3986 "unreserved".
pub const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment or query component.
///
/// ```
/// use wechatpay_chain::path::encode_component;
/// assert_eq!(encode_component("a/b?c#d 100%"), "a%2Fb%3Fc%23d%20100%25");
/// assert_eq!(encode_component("中"), "%E4%B8%AD");
/// ```
pub fn encode_component(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// One piece of a parsed template.
///
/// ```
/// use wechatpay_chain::path::{Part, Template};
/// let t = Template::parse("v3/x/{id}")?;
/// assert_eq!(t.parts(), [Part::Literal("v3/x/"), Part::Placeholder("id")]);
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part<'a> {
    /// Text sent as written.
    Literal(&'a str),
    /// `{name}`, filled from the options.
    Placeholder(&'a str),
}

/// A parsed path template.
///
/// ```
/// use wechatpay_chain::path::Template;
///
/// let t = Template::parse("v3/payscore/serviceorder/{out_order_no}/modify")?;
/// assert_eq!(t.placeholders().collect::<Vec<_>>(), ["out_order_no"]);
/// let path = t.fill(|name| (name == "out_order_no").then_some("a/b"))?;
/// assert_eq!(path, "v3/payscore/serviceorder/a%2Fb/modify");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Template<'a> {
    text: &'a str,
    parts: Vec<Part<'a>>,
}

impl<'a> Template<'a> {
    /// Parses a template; rejects `?`, `#`, unbalanced braces, empty or
    /// odd placeholder names, and `{+name}` (a value never spans segments).
    pub fn parse(text: &'a str) -> Result<Self> {
        let bad = |reason: String| Error::Template {
            template: text.to_owned(),
            reason,
        };
        if let Some(c) = text.chars().find(|c| matches!(c, '?' | '#')) {
            return Err(bad(format!(
                "`{c}` cannot appear in a path; pass query parameters with the `query` option"
            )));
        }
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(bad(format!(
                "control character U+{:04X} in the path (URL parsers drop tabs and line breaks, which would send another path)",
                u32::from(c)
            )));
        }
        if let Some(segment) = text.split(['/', '\\']).find(|s| is_dot_segment(s)) {
            return Err(bad(format!(
                "`{segment}` is a dot-segment, which URLs remove (it would send another path than the one written)"
            )));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(bad("`}` without a matching `{`".to_owned()));
            }
            if open > 0 {
                parts.push(Part::Literal(&rest[..open]));
            }
            let after = &rest[open + 1..];
            let close = after
                .find(['{', '}'])
                .filter(|&i| after.as_bytes()[i] == b'}')
                .ok_or_else(|| bad("`{` without a matching `}`".to_owned()))?;
            let name = &after[..close];
            if name.starts_with('+') {
                return Err(bad(format!(
                    "`{{{name}}}` is not offered: a placeholder fills exactly one segment"
                )));
            }
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            {
                return Err(bad(format!(
                    "placeholder name `{name}` must be letters, digits, `_` or `-`"
                )));
            }
            parts.push(Part::Placeholder(name));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest));
        }
        Ok(Template { text, parts })
    }

    /// The template as written.
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// The parsed pieces.
    pub fn parts(&self) -> &[Part<'a>] {
        &self.parts
    }

    /// Placeholder names, in order of appearance.
    pub fn placeholders(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder(name) => Some(*name),
            Part::Literal(_) => None,
        })
    }

    /// Whether the template names placeholder `name`.
    pub fn has_placeholder(&self, name: &str) -> bool {
        self.placeholders().any(|p| p == name)
    }

    /// Fills every placeholder with `value(name)`, percent-encoded.
    pub fn fill<'v>(&self, value: impl Fn(&str) -> Option<&'v str>) -> Result<String> {
        let mut out = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Placeholder(name) => {
                    let v = value(name).ok_or_else(|| Error::MissingPlaceholder {
                        name: (*name).to_owned(),
                        template: self.text.to_owned(),
                    })?;
                    check_segment_value(name, v)?;
                    out.extend(utf8_percent_encode(v, COMPONENT));
                }
            }
        }
        Ok(out)
    }
}

/// `.` or `..`, also percent-encoded (`%2E%2e`): URL parsers remove these.
fn is_dot_segment(segment: &str) -> bool {
    // `%2e%2E` is the longest spelling; most segments fail this at once.
    if segment.len() > 6
        || !segment
            .bytes()
            .all(|b| matches!(b, b'.' | b'%' | b'2' | b'e' | b'E'))
    {
        return false;
    }
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
    matches!(decoded.as_ref(), "." | "..")
}

/// An empty value would silently change the path, and `.`/`..` are
/// dot-segments that URL parsers remove even when percent-encoded.
fn check_segment_value(name: &str, value: &str) -> Result<()> {
    let reason = match value {
        "" => "is empty; a placeholder must name something",
        "." | ".." => "is a dot-segment, which URLs remove; no WeChat Pay id looks like that",
        _ => return Ok(()),
    };
    Err(Error::InvalidOption {
        key: name.to_owned(),
        reason: format!("placeholder value `{value}` {reason}"),
    })
}

/// Translates one chain-style identifier into a path segment, as the PHP and
/// Node.js SDKs do: a leading capital is lowered, every other capital becomes
/// `-` plus its lower case, `_name_` becomes `{name}`, and `_empty_` stands
/// for an empty segment (a trailing slash). A raw identifier (`r#try`) loses
/// its `r#`.
///
/// ```
/// use wechatpay_chain::path::ident_segment;
/// assert_eq!(ident_segment("merchantService"), "merchant-service");
/// assert_eq!(ident_segment("complaintsV2"), "complaints-v2");
/// assert_eq!(ident_segment("_out_order_no_"), "{out_order_no}");
/// assert_eq!(ident_segment("_empty_"), "");
/// assert_eq!(ident_segment("r#try"), "try");
/// ```
pub fn ident_segment(ident: &str) -> String {
    let ident = ident.strip_prefix("r#").unwrap_or(ident);
    if ident == "_empty_" {
        return String::new();
    }
    let mut out = String::with_capacity(ident.len() + 4);
    for (i, c) in ident.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    match out.strip_prefix('_').and_then(|s| s.strip_suffix('_')) {
        Some(name) if !name.is_empty() => format!("{{{name}}}"),
        _ => out,
    }
}

/// Whether a template names an APIv2 (XML) endpoint: it starts `v2/`.
///
/// ```
/// assert!(wechatpay_chain::path::is_apiv2("v2/pay/micropay"));
/// assert!(!wechatpay_chain::path::is_apiv2("v3/pay/transactions/native"));
/// ```
pub fn is_apiv2(template: &str) -> bool {
    template.starts_with("v2/")
}

/// Joins a node's path and a new piece with exactly one `/` between them.
pub(crate) fn join(base: &str, piece: &str) -> String {
    let piece = if base.is_empty() {
        piece.trim_start_matches('/')
    } else {
        piece
    };
    match (base.is_empty(), base.ends_with('/'), piece.starts_with('/')) {
        (true, ..) => piece.to_owned(),
        (false, true, true) => format!("{base}{}", &piece[1..]),
        (false, false, false) => format!("{base}/{piece}"),
        _ => format!("{base}{piece}"),
    }
}

/// `text`, a URL as given, for a message or `Debug`: any `user:password@`
/// replaced by `***@`, whether or not the URL parses (a password must not
/// reach a log because the port was mistyped).
pub(crate) fn url_for_display(text: &str) -> String {
    // Trusted only when it parses with a host: `user:pass@host` alone parses
    // as scheme `user` and a path holding the password.
    if let Ok(url) = Url::parse(text) {
        if url.has_host() && url.username().is_empty() && url.password().is_none() {
            return text.to_owned();
        }
    }
    // The user info ends at the authority's last `@`; without a parse, the
    // last `@` anywhere is the safe guess (it cuts more, never less).
    let start = text.find("://").map_or(0, |i| i + 3);
    match text.rfind('@') {
        Some(at) if at >= start => format!("{}***{}", &text[..start], &text[at..]),
        _ => text.to_owned(),
    }
}

/// `base_url` + filled template + `?query`, every value percent-encoded;
/// also returns the path actually sent, relative to the base URL (whose
/// path is `base_path`). APIv3 and APIv2 requests are both addressed here.
pub(crate) fn url(
    base_url: &str,
    base_path: &str,
    template: &str,
    params: &[(String, String)],
    query: &[(String, String)],
) -> Result<(Url, String)> {
    let parsed = Template::parse(template)?;
    if let Some((key, _)) = params.iter().find(|(key, _)| !parsed.has_placeholder(key)) {
        return Err(Error::UnknownOption {
            key: key.clone(),
            template: template.to_owned(),
            hint: unknown_key_hint(key, parsed.placeholders()),
        });
    }
    let path = parsed.fill(|name| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, v)| v.as_str())
    })?;
    let invalid = |reason: String| Error::Template {
        template: template.to_owned(),
        reason,
    };
    let mut url = Url::parse(&format!("{}{}", base_url, path)).map_err(|e| {
        invalid(format!(
            "does not form a valid URL with base `{}`: {e}",
            base_url
        ))
    })?;
    // Decided on the path the URL parser produced, which is what is sent
    // and signed (dot-segments were refused, but trust the result only).
    let sent = url
        .path()
        .strip_prefix(base_path)
        .ok_or_else(|| invalid(format!("leaves the base URL `{}`", base_url)))?;
    // Usually the filled template itself; the parser re-encodes some
    // characters of literals (a space, non-ASCII), and then it differs.
    let relative = if sent == path { path } else { sent.to_owned() };
    if !query.is_empty() {
        let text = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v)))
            .collect::<Vec<_>>()
            .join("&");
        url.set_query(Some(&text));
    }
    Ok((url, relative))
}
