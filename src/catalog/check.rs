//! The request check: a body, query and path against an operation's schema,
//! with WeChat Pay's wording where it is known (FLOWS.md §9).
//!
//! Real wordings (sources in FLOWS.md §9 and §4.4): the required rule
//! (`输入源“/appid”映射到字段“公众号ID”必填性规则校验失败,此字段为必填项`), the
//! integer rule (`无法将 JSON 输入源“/body/amount/total”映射到目标字段“总金额”中,此字段需要一个合法的 64 位有符号整数`),
//! the missing `Wechatpay-Serial` and the plaintext sensitive field. The
//! other rules (`null`, other types, enum, lengths, ranges, 4-byte
//! characters) follow the same pattern in words of our own;
//! [`Rule::known_wording`] tells which is which.

use base64::Engine as _;
use serde_json::Value;

use super::schema::{Field, Kind, OperationSchema};

/// Where a violation is: the JSON body, the query, the path or a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Location {
    /// The JSON body.
    Body,
    /// A query parameter.
    Query,
    /// A path placeholder.
    Path,
    /// A request header.
    Header,
}

impl Location {
    /// `body`, `query`, `path` or `header`: WeChat Pay's `detail.location`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Location::Body => "body",
            Location::Query => "query",
            Location::Path => "path",
            Location::Header => "header",
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule a value broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// A required field is missing.
    Required,
    /// `null`, which WeChat Pay never accepts ("不允许使用 null").
    Null,
    /// The wrong JSON type.
    Type,
    /// Not one of the listed values.
    Enum,
    /// Shorter than the field's `minLength` (characters).
    MinLength,
    /// Longer than the field's `maxLength` (characters).
    MaxLength,
    /// Below the field's `minimum`.
    Minimum,
    /// Above the field's `maximum`.
    Maximum,
    /// Fewer items than `minItems`.
    MinItems,
    /// More items than `maxItems`.
    MaxItems,
    /// A character outside UTF-8's 1–3-byte range (an emoji): WeChat Pay
    /// takes only 1–3-byte characters.
    Utf8,
    /// An encrypted field sent without the `Wechatpay-Serial` header.
    SerialMissing,
    /// An encrypted field that is not ciphertext (base64 of at least 96 bytes).
    NotCiphertext,
}

impl Rule {
    /// `required`, `null`, `type`, … (for `--json` and logs).
    pub fn as_str(&self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::Null => "null",
            Rule::Type => "type",
            Rule::Enum => "enum",
            Rule::MinLength => "min_length",
            Rule::MaxLength => "max_length",
            Rule::Minimum => "minimum",
            Rule::Maximum => "maximum",
            Rule::MinItems => "min_items",
            Rule::MaxItems => "max_items",
            Rule::Utf8 => "utf8",
            Rule::SerialMissing => "serial_missing",
            Rule::NotCiphertext => "not_ciphertext",
        }
    }

    /// Whether the message is WeChat Pay's own wording (quoted in FLOWS.md
    /// §9 from real answers) rather than ours in the same pattern. The type
    /// rule's wording is known for integers only.
    pub fn known_wording(&self) -> bool {
        matches!(
            self,
            Rule::Required | Rule::SerialMissing | Rule::NotCiphertext
        )
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken rule: where, which, the value, and WeChat Pay's message.
///
/// ```
/// use wechatpay_chain::catalog::{Catalog, Location, RequestParts, Rule};
/// use wechatpay_chain::json;
///
/// let op = Catalog::embedded().find("POST", "v3/pay/transactions/jsapi").unwrap();
/// let body = json!({"mchid": "1900000109", "appid": 1});
/// let found = op.schema().unwrap().check(&RequestParts::body(&body));
/// let appid = found.iter().find(|v| v.pointer == "/appid").unwrap();
/// assert_eq!(appid.rule, Rule::Type);
/// assert_eq!(appid.location, Location::Body);
/// assert!(found.iter().any(|v| v.pointer == "/out_trade_no" && v.rule == Rule::Required));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Violation {
    /// Body, query, path or header.
    pub location: Location,
    /// A JSON pointer inside the location (`/amount/total`); a parameter's
    /// or header's name for the others (`/out_order_no`).
    pub pointer: String,
    /// The rule broken.
    pub rule: Rule,
    /// The value sent, when one was.
    pub value: Option<Value>,
    /// The message in WeChat Pay's words (see [`Rule::known_wording`]).
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} ({}): {}",
            self.location, self.pointer, self.rule, self.message
        )
    }
}

/// What a request carries, for [`OperationSchema::check`]. Headers are
/// checked only when given.
///
/// ```
/// use wechatpay_chain::catalog::RequestParts;
/// use wechatpay_chain::json;
/// let body = json!({"sub_mchid": "1900000109"});
/// let parts = RequestParts::body(&body)
///     .with_query("transaction_id", "4208450740201411110007820472")
///     .with_path("out_order_no", "P20150806125346")
///     .with_header("Wechatpay-Serial");
/// # let _ = parts;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RequestParts<'a> {
    /// The JSON body (`None`: no body).
    pub body: Option<&'a Value>,
    /// The query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// The path placeholders' values, decoded.
    pub path: Vec<(String, String)>,
    /// The header names sent; `None` skips the header rules.
    pub headers: Option<Vec<String>>,
}

impl<'a> RequestParts<'a> {
    /// Nothing: no body, query, placeholders, nor headers.
    pub fn new() -> Self {
        RequestParts::default()
    }

    /// A request with this JSON body.
    pub fn body(body: &'a Value) -> Self {
        RequestParts {
            body: Some(body),
            ..RequestParts::default()
        }
    }

    /// Adds a query parameter.
    pub fn with_query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a placeholder's value.
    pub fn with_path(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.path.push((name.into(), value.into()));
        self
    }

    /// Adds a header name (and turns the header rules on).
    pub fn with_header(mut self, name: impl Into<String>) -> Self {
        self.headers.get_or_insert_with(Vec::new).push(name.into());
        self
    }
}

/// WeChat Pay's answer to an encrypted field sent without the header
/// (FLOWS.md §4.4: WxJava#1959; yansongda/pay#565).
pub const SERIAL_MISSING_MESSAGE: &str = "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)";

/// WeChat Pay's answer to an encrypted field sent in plaintext (FLOWS.md
/// §4.4: klover2/wechatpay-node-v3-ts#14).
pub const NOT_CIPHERTEXT_MESSAGE: &str = "请确认待处理的消息是否为加密后的密文";

/// The shortest ciphertext accepted: SM2's C1‖C3 is 97 bytes before any
/// text, RSA-1024's block 128.
const MIN_CIPHERTEXT_BYTES: usize = 96;

impl OperationSchema {
    /// Every rule `request` breaks, in the order met (body first, in the
    /// schema's order; then query, path, headers). Empty when it passes.
    /// Fields the schema does not name are let through (the description
    /// can lag), but `null` and 4-byte characters are refused anywhere.
    ///
    /// ```
    /// use wechatpay_chain::catalog::{Catalog, RequestParts};
    /// use wechatpay_chain::json;
    ///
    /// let op = Catalog::embedded().find("POST", "v3/pay/transactions/jsapi").unwrap();
    /// let schema = op.schema().unwrap();
    /// let body = json!({"appid": "wxd678efh567hg6787", "mchid": "1230000109",
    ///     "description": "Image形象店-深圳腾大-QQ公仔", "out_trade_no": "1217752501201407033233368018",
    ///     "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
    ///     "amount": {"total": "100"}, "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}});
    /// let found = schema.check(&RequestParts::body(&body));
    /// assert_eq!(found.len(), 1);
    /// assert_eq!(found[0].message,
    ///     "无法将 JSON 输入源“/body/amount/total”映射到目标字段“总金额”中,此字段需要一个合法的 64 位有符号整数");
    /// ```
    pub fn check(&self, request: &RequestParts<'_>) -> Vec<Violation> {
        let mut found = Vec::new();
        let mut encrypted_sent = false;
        if let Some(body) = request.body {
            let mut walk = Walk {
                found: &mut found,
                encrypted_sent: &mut encrypted_sent,
            };
            match self.body() {
                Some(schema) => walk.value(schema, body, &mut String::new()),
                None => walk.loose(body, &mut String::new()),
            }
        } else if let Some(schema) = self
            .body()
            .filter(|b| b.children().iter().any(Field::required))
        {
            // No body where one is required: each required field is missing.
            for child in schema.children().iter().filter(|c| c.required()) {
                found.push(required(
                    Location::Body,
                    &format!("/{}", escape(child.name())),
                    child,
                ));
            }
        }
        params(&mut found, Location::Query, self.query(), &request.query);
        params(&mut found, Location::Path, self.path(), &request.path);
        if let Some(headers) = &request.headers {
            let has = |name: &str| headers.iter().any(|h| h.eq_ignore_ascii_case(name));
            if encrypted_sent && !has("Wechatpay-Serial") {
                found.push(Violation {
                    location: Location::Header,
                    pointer: "/Wechatpay-Serial".to_owned(),
                    rule: Rule::SerialMissing,
                    value: None,
                    message: SERIAL_MISSING_MESSAGE.to_owned(),
                });
            }
        }
        found
    }
}

impl Field {
    /// Every rule `value` breaks against this field (pointers relative to
    /// it): for an answer against [`OperationSchema::answer`], or one part
    /// of a body.
    ///
    /// ```
    /// use wechatpay_chain::catalog::{Catalog, Rule};
    /// use wechatpay_chain::json;
    /// let op = Catalog::embedded().find("POST", "v3/pay/transactions/jsapi").unwrap();
    /// let answer = op.schema().unwrap().answer().unwrap();
    /// assert!(answer.check_value(&json!({"prepay_id": "wx2014"})).is_empty());
    /// assert_eq!(answer.check_value(&json!({}))[0].rule, Rule::Required);
    /// ```
    pub fn check_value(&self, value: &Value) -> Vec<Violation> {
        let mut found = Vec::new();
        let mut encrypted = false;
        Walk {
            found: &mut found,
            encrypted_sent: &mut encrypted,
        }
        .value(self, value, &mut String::new());
        found
    }
}

/// Whether one value passes its field (for the example builders).
pub(crate) fn fits(field: &Field, value: &Value) -> bool {
    field.check_value(value).is_empty()
}

struct Walk<'a> {
    found: &'a mut Vec<Violation>,
    encrypted_sent: &'a mut bool,
}

impl Walk<'_> {
    /// `value` at `pointer` against `field`.
    fn value(&mut self, field: &Field, value: &Value, pointer: &mut String) {
        if value.is_null() {
            self.found.push(violation(
                Location::Body,
                pointer,
                Rule::Null,
                Some(value),
                null_message(pointer, field),
            ));
            return;
        }
        let kind = field.kind();
        let fits_kind = match kind {
            Kind::String => value.is_string(),
            Kind::Integer => value.is_i64() || value.is_u64(),
            Kind::Number => value.is_number(),
            Kind::Boolean => value.is_boolean(),
            Kind::Object => value.is_object(),
            Kind::Array => value.is_array(),
            Kind::File | Kind::Any => true,
        };
        if !fits_kind {
            let message = type_message(pointer, field);
            self.found.push(violation(
                Location::Body,
                pointer,
                Rule::Type,
                Some(value),
                message,
            ));
            return;
        }
        if !field.enumeration().is_empty()
            && !field.enumeration().iter().any(|e| same_scalar(e, value))
        {
            let message = enum_message(Location::Body, pointer, field);
            self.found.push(violation(
                Location::Body,
                pointer,
                Rule::Enum,
                Some(value),
                message,
            ));
        }
        match value {
            Value::String(text) => {
                self.text(field, text, value, pointer);
                if field.encrypted() {
                    *self.encrypted_sent = true;
                    if !is_ciphertext(text) {
                        self.found.push(violation(
                            Location::Body,
                            pointer,
                            Rule::NotCiphertext,
                            Some(value),
                            NOT_CIPHERTEXT_MESSAGE.to_owned(),
                        ));
                    }
                }
            }
            Value::Number(n) => {
                if let Some(n) = n.as_f64() {
                    self.range(Location::Body, field, n, value, pointer);
                }
            }
            Value::Array(items) => {
                let count = items.len() as u64;
                if let Some(min) = field.min_items().filter(|m| count < *m) {
                    let message = format!("输入源“{pointer}”映射到字段“{}”数组长度规则校验失败,此字段至少需要 {min} 项", field.display_name());
                    self.found.push(violation(
                        Location::Body,
                        pointer,
                        Rule::MinItems,
                        None,
                        message,
                    ));
                }
                if let Some(max) = field.max_items().filter(|m| count > *m) {
                    let message = format!("输入源“{pointer}”映射到字段“{}”数组长度规则校验失败,此字段至多允许 {max} 项", field.display_name());
                    self.found.push(violation(
                        Location::Body,
                        pointer,
                        Rule::MaxItems,
                        None,
                        message,
                    ));
                }
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    match field.items() {
                        Some(items) => self.value(items, item, pointer),
                        None => self.loose(item, pointer),
                    }
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for child in field.children() {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&escape(child.name()));
                    match map.get(child.name()) {
                        Some(v) => self.value(child, v, pointer),
                        None if child.required() => {
                            self.found.push(required(Location::Body, pointer, child));
                        }
                        None => {}
                    }
                    pointer.truncate(len);
                }
                for (key, v) in map {
                    if field.child(key).is_none() {
                        let len = pointer.len();
                        pointer.push('/');
                        pointer.push_str(&escape(key));
                        self.loose(v, pointer);
                        pointer.truncate(len);
                    }
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }

    /// A value the schema does not describe: only `null` and 4-byte
    /// characters are refused.
    fn loose(&mut self, value: &Value, pointer: &mut String) {
        match value {
            Value::Null => {
                let message = format!("输入源“{pointer}”的值不允许为 null");
                self.found.push(violation(
                    Location::Body,
                    pointer,
                    Rule::Null,
                    Some(value),
                    message,
                ));
            }
            Value::String(text) => self.utf8(
                text,
                value,
                pointer,
                pointer.rsplit('/').next().unwrap_or_default(),
            ),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    self.loose(item, pointer);
                    pointer.truncate(len);
                }
            }
            Value::Object(map) => {
                for (key, v) in map {
                    let len = pointer.len();
                    pointer.push('/');
                    pointer.push_str(&escape(key));
                    self.loose(v, pointer);
                    pointer.truncate(len);
                }
            }
            Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn text(&mut self, field: &Field, text: &str, value: &Value, pointer: &str) {
        self.utf8(text, value, pointer, field.display_name());
        if field.encrypted() {
            return; // lengths are the plaintext's, not the ciphertext's
        }
        lengths(self.found, Location::Body, field, text, value, pointer);
    }

    fn utf8(&mut self, text: &str, value: &Value, pointer: &str, name: &str) {
        if text.chars().any(|c| c.len_utf8() > 3) {
            let message = format!("输入源“{pointer}”映射到字段“{name}”字符规则校验失败,此字段只允许 1 至 3 字节的 UTF-8 字符");
            self.found.push(violation(
                Location::Body,
                pointer,
                Rule::Utf8,
                Some(value),
                message,
            ));
        }
    }

    fn range(&mut self, location: Location, field: &Field, n: f64, value: &Value, pointer: &str) {
        range(self.found, location, field, n, value, pointer);
    }
}

fn range(
    found: &mut Vec<Violation>,
    location: Location,
    field: &Field,
    n: f64,
    value: &Value,
    pointer: &str,
) {
    let name = field.display_name();
    if let Some(min) = field.minimum().filter(|m| n < *m) {
        let message =
            format!("输入源“{pointer}”映射到字段“{name}”取值范围规则校验失败,此字段不能小于 {min}");
        found.push(violation(
            location,
            pointer,
            Rule::Minimum,
            Some(value),
            message,
        ));
    }
    if let Some(max) = field.maximum().filter(|m| n > *m) {
        let message =
            format!("输入源“{pointer}”映射到字段“{name}”取值范围规则校验失败,此字段不能大于 {max}");
        found.push(violation(
            location,
            pointer,
            Rule::Maximum,
            Some(value),
            message,
        ));
    }
}

/// Query or path parameters: required, type (integers), enum, length, range.
fn params(
    found: &mut Vec<Violation>,
    location: Location,
    fields: &[Field],
    sent: &[(String, String)],
) {
    for field in fields {
        let pointer = format!("/{}", escape(field.name()));
        let Some((_, text)) = sent.iter().find(|(name, _)| name == field.name()) else {
            if field.required() {
                found.push(required(location, &pointer, field));
            }
            continue;
        };
        let value = Value::String(text.clone());
        if matches!(field.kind(), Kind::Integer | Kind::Number) {
            match text.parse::<f64>() {
                Ok(n) if field.kind() == Kind::Number || text.parse::<i64>().is_ok() => {
                    range(found, location, field, n, &value, &pointer);
                }
                _ => {
                    let message = format!(
                        "无法将输入源“/{location}{pointer}”映射到目标字段“{}”中,{}",
                        field.display_name(),
                        needs(field)
                    );
                    found.push(violation(
                        location,
                        &pointer,
                        Rule::Type,
                        Some(&value),
                        message,
                    ));
                    continue;
                }
            }
        }
        if !field.enumeration().is_empty()
            && !field.enumeration().iter().any(|e| same_scalar(e, &value))
        {
            let message = enum_message(location, &pointer, field);
            found.push(violation(
                location,
                &pointer,
                Rule::Enum,
                Some(&value),
                message,
            ));
        }
        lengths(found, location, field, text, &value, &pointer);
    }
}

/// A string's length against `minLength` and `maxLength`, in characters.
fn lengths(
    found: &mut Vec<Violation>,
    location: Location,
    field: &Field,
    text: &str,
    value: &Value,
    pointer: &str,
) {
    let chars = text.chars().count() as u64;
    let name = field.display_name();
    if let Some(min) = field.min_length().filter(|m| chars < *m) {
        let message = format!(
            "输入源“{pointer}”映射到字段“{name}”长度规则校验失败,此字段至少需要 {min} 个字符"
        );
        found.push(violation(
            location,
            pointer,
            Rule::MinLength,
            Some(value),
            message,
        ));
    }
    if let Some(max) = field.max_length().filter(|m| chars > *m) {
        let message = format!(
            "输入源“{pointer}”映射到字段“{name}”长度规则校验失败,此字段最多允许 {max} 个字符"
        );
        found.push(violation(
            location,
            pointer,
            Rule::MaxLength,
            Some(value),
            message,
        ));
    }
}

fn violation(
    location: Location,
    pointer: &str,
    rule: Rule,
    value: Option<&Value>,
    message: String,
) -> Violation {
    Violation {
        location,
        pointer: pointer.to_owned(),
        rule,
        value: value.cloned(),
        message,
    }
}

/// WeChat Pay's wording (hpyer/node-easywechat#69, FLOWS.md §9).
fn required(location: Location, pointer: &str, field: &Field) -> Violation {
    let message = format!(
        "输入源“{pointer}”映射到字段“{}”必填性规则校验失败,此字段为必填项",
        field.display_name()
    );
    violation(location, pointer, Rule::Required, None, message)
}

/// WeChat Pay's wording for integers (FLOWS.md §9, DEV 000a86411183309c429bce9fb5c800):
/// the pointer is prefixed with `/body`.
fn type_message(pointer: &str, field: &Field) -> String {
    format!(
        "无法将 JSON 输入源“/body{pointer}”映射到目标字段“{}”中,{}",
        field.display_name(),
        needs(field)
    )
}

/// `此字段需要一个合法的 64 位有符号整数` (WeChat Pay's) and the same for other types (ours).
fn needs(field: &Field) -> &'static str {
    match field.kind() {
        Kind::Integer if field.format() == Some("int32") => "此字段需要一个合法的 32 位有符号整数",
        Kind::Integer => "此字段需要一个合法的 64 位有符号整数",
        Kind::Number => "此字段需要一个合法的数字",
        Kind::String => "此字段需要一个合法的字符串",
        Kind::Boolean => "此字段需要一个合法的布尔值",
        Kind::Object => "此字段需要一个合法的 JSON 对象",
        Kind::Array => "此字段需要一个合法的 JSON 数组",
        Kind::File | Kind::Any => "此字段的值不合法",
    }
}

fn null_message(pointer: &str, field: &Field) -> String {
    format!(
        "输入源“{pointer}”映射到字段“{}”的值不允许为 null",
        field.display_name()
    )
}

fn enum_message(_location: Location, pointer: &str, field: &Field) -> String {
    let values: Vec<String> = field.enumeration().iter().map(scalar_text).collect();
    format!(
        "输入源“{pointer}”映射到字段“{}”枚举值规则校验失败,此字段的取值只能是 {}",
        field.display_name(),
        values.join("、")
    )
}

/// `"1000"` and `1000` are the same listed value (OA lists some numbers as strings).
fn same_scalar(listed: &Value, value: &Value) -> bool {
    listed == value
        || (!value.is_object() && !value.is_array() && scalar_text(listed) == scalar_text(value))
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Standard base64 of at least [`MIN_CIPHERTEXT_BYTES`]: what RSA-OAEP
/// and SM2 produce; a name or an id number in plaintext is not.
pub(crate) fn is_ciphertext(text: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .is_ok_and(|bytes| bytes.len() >= MIN_CIPHERTEXT_BYTES)
}

/// JSON pointer escaping of one name.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}
