//! Bodies built from a schema: an example request that passes the check,
//! and an answer shaped like the description's (what the mock sends for an
//! operation without a flow of its own).

use base64::Engine as _;
use serde_json::{Map, Value};

use super::check::{fits, RequestParts};
use super::schema::{Field, Kind, OperationSchema};

/// What an encrypted field holds in an example without an encryptor:
/// base64 of 256 bytes, shaped like RSA-2048 ciphertext (it passes the
/// library's check; a server that decrypts refuses it).
fn placeholder_ciphertext() -> String {
    base64::engine::general_purpose::STANDARD.encode([0u8; 256])
}

impl OperationSchema {
    /// The smallest complete body: every required field (and inside every
    /// required object, its required fields), with the description's
    /// example where it passes the field's rules, else a value made to.
    /// `None` for an operation without a body. Encrypted fields hold a
    /// ciphertext-shaped placeholder: use
    /// [`OperationSchema::example_body_with`] to encrypt real values.
    ///
    /// ```
    /// use wechatpay_chain::catalog::{Catalog, RequestParts};
    /// let op = Catalog::embedded().find("POST", "v3/pay/transactions/jsapi").unwrap();
    /// let schema = op.schema().unwrap();
    /// let body = schema.example_body().unwrap();
    /// assert!(body["amount"]["total"].is_i64());
    /// assert!(schema.check(&RequestParts::body(&body)).is_empty());
    /// ```
    pub fn example_body(&self) -> Option<Value> {
        self.example_body_with(&mut |_| None)
    }

    /// [`OperationSchema::example_body`] where `fill` may choose a field's
    /// value (return `None` to keep the example): for instance encrypt a
    /// plaintext for each [`Field::encrypted`] field.
    ///
    /// ```
    /// use wechatpay_chain::catalog::Catalog;
    /// use wechatpay_chain::json;
    /// let op = Catalog::embedded().find("POST", "v3/fund-app/mch-transfer/transfer-bills").unwrap();
    /// let body = op.schema().unwrap()
    ///     .example_body_with(&mut |f| (f.name() == "out_bill_no").then(|| json!("T1")))
    ///     .unwrap();
    /// assert_eq!(body["out_bill_no"], "T1");
    /// ```
    pub fn example_body_with(
        &self,
        fill: &mut dyn FnMut(&Field) -> Option<Value>,
    ) -> Option<Value> {
        self.body
            .as_ref()
            .map(|body| build(body, fill, &mut |f| f.required()))
    }

    /// Values for the required query parameters.
    ///
    /// ```
    /// # use wechatpay_chain::catalog::Catalog;
    /// let op = Catalog::embedded().find("GET", "v3/profitsharing/orders/{out_order_no}").unwrap();
    /// let query = op.schema().unwrap().example_query();
    /// assert_eq!(query[0].0, "transaction_id");
    /// ```
    pub fn example_query(&self) -> Vec<(String, String)> {
        self.query()
            .iter()
            .filter(|q| q.required())
            .map(|q| {
                (
                    q.name().to_owned(),
                    text_of(&build(q, &mut |_| None, &mut |_| false)),
                )
            })
            .collect()
    }

    /// Values for the path placeholders.
    pub fn example_path(&self) -> Vec<(String, String)> {
        self.path()
            .iter()
            .map(|p| {
                (
                    p.name().to_owned(),
                    text_of(&build(p, &mut |_| None, &mut |_| false)),
                )
            })
            .collect()
    }

    /// An answer shaped like the description's: every required field with a
    /// value of its type; enum fields take a listed value; a field named like
    /// one the request sent (an id, an amount, an `out_*_no`) takes the sent
    /// value where it fits; other fields take the example. Optional fields
    /// are given where the request sent one of the same name or the
    /// description has an example. `None` when the description has no answer
    /// schema.
    ///
    /// ```
    /// use wechatpay_chain::catalog::{Catalog, RequestParts};
    /// use wechatpay_chain::json;
    /// let op = Catalog::embedded().find("POST", "v3/fund-app/mch-transfer/transfer-bills").unwrap();
    /// let body = json!({"out_bill_no": "T1"});
    /// let answer = op.schema().unwrap().answer_for(&RequestParts::body(&body)).unwrap();
    /// assert_eq!(answer["out_bill_no"], "T1");
    /// assert!(answer["transfer_bill_no"].is_string());
    /// ```
    pub fn answer_for(&self, request: &RequestParts<'_>) -> Option<Value> {
        let answer = self.answer()?;
        let mut sent: Map<String, Value> = Map::new();
        if let Some(body) = request.body {
            collect(body, &mut sent);
        }
        for (name, value) in request.path.iter().chain(&request.query) {
            sent.entry(name.clone())
                .or_insert_with(|| Value::String(value.clone()));
        }
        let mut fill = |field: &Field| -> Option<Value> {
            let value = sent.get(field.name())?;
            let value = match (field.kind(), value) {
                // A query's `"100"` is an answer's 100.
                (Kind::Integer, Value::String(s)) => s.parse::<i64>().ok()?.into(),
                _ => value.clone(),
            };
            fits(field, &value).then_some(value)
        };
        let mut include = |field: &Field| {
            field.required() || sent.contains_key(field.name()) || has_example(field)
        };
        Some(build(answer, &mut fill, &mut include))
    }
}

/// A value for `field`; objects hold the children `include` keeps.
fn build(
    field: &Field,
    fill: &mut dyn FnMut(&Field) -> Option<Value>,
    include: &mut dyn FnMut(&Field) -> bool,
) -> Value {
    if let Some(value) = fill(field) {
        return value;
    }
    match field.kind() {
        Kind::Object => {
            let mut map = Map::new();
            for child in field.children() {
                if include(child) {
                    map.insert(child.name().to_owned(), build(child, fill, include));
                }
            }
            Value::Object(map)
        }
        Kind::Array => {
            let item = match field.items() {
                Some(items) => build(items, fill, include),
                None => Value::String("example".to_owned()),
            };
            let count = field.min_items().unwrap_or(1).clamp(1, 16);
            Value::Array(vec![item; count as usize])
        }
        _ => scalar(field),
    }
}

/// The example if it passes the field's rules; else a value made to.
fn scalar(field: &Field) -> Value {
    if let Some(example) = field.example().filter(|e| fits(field, e)) {
        return example.clone();
    }
    if let Some(first) = field.enumeration().first() {
        let value = match (field.kind(), first) {
            (Kind::Integer, Value::String(s)) => {
                s.parse::<i64>().map_or(first.clone(), Value::from)
            }
            (Kind::String, Value::Number(n)) => Value::String(n.to_string()),
            _ => first.clone(),
        };
        return value;
    }
    match field.kind() {
        Kind::Integer | Kind::Number => {
            let low = field.minimum().unwrap_or(1.0).max(1.0);
            let n = field.maximum().map_or(low, |high| low.min(high));
            let from_example = field.example().and_then(|e| {
                e.as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .or_else(|| e.as_f64())
            });
            let n = from_example
                .filter(|e| {
                    field.minimum().is_none_or(|m| *e >= m)
                        && field.maximum().is_none_or(|m| *e <= m)
                })
                .unwrap_or(n);
            match field.kind() {
                Kind::Integer => Value::from(n.trunc() as i64),
                _ => serde_json::Number::from_f64(n).map_or(Value::from(1), Value::Number),
            }
        }
        Kind::Boolean => Value::Bool(false),
        _ if field.encrypted() => Value::String(placeholder_ciphertext()),
        _ => {
            let text = match field.format() {
                Some("rfc3339") => "2025-01-01T00:00:00+08:00".to_owned(),
                Some("date") => "2025-01-01".to_owned(),
                Some("url") | Some("MediaUrl") => {
                    "https://www.weixin.qq.com/wxpay/pay.php".to_owned()
                }
                _ => match field.example() {
                    Some(Value::String(s)) => s.clone(),
                    Some(other) if !other.is_null() => other.to_string(),
                    _ => "example".to_owned(),
                },
            };
            let max = field.max_length().map_or(usize::MAX, |m| m as usize);
            let mut text: String = text
                .chars()
                .filter(|c| c.len_utf8() <= 3)
                .take(max)
                .collect();
            let min = field.min_length().unwrap_or(0) as usize;
            while text.chars().count() < min {
                text.push('0');
            }
            Value::String(text)
        }
    }
}

/// Whether the field (or, for an object or array, one inside) has an example.
fn has_example(field: &Field) -> bool {
    field.example().is_some()
        || field.children().iter().any(has_example)
        || field.items().is_some_and(has_example)
}

/// Every scalar the request sent, by name, first occurrence first.
fn collect(value: &Value, out: &mut Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if !v.is_object() && !v.is_array() && !v.is_null() {
                    out.entry(key.clone()).or_insert_with(|| v.clone());
                }
            }
            for v in map.values() {
                collect(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// A query or path value as text.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
