//! Every APIv3 request checked against its operation's schema
//! ([`crate::catalog::OperationSchema::check`]) once its signature is
//! verified and its route found; refused as WeChat Pay refuses bad input:
//! `400 PARAM_ERROR` with `detail{field, location, value, issue}` and WeChat
//! Pay's wording (FLOWS.md §9). Encrypted fields must decrypt with the
//! platform key `Wechatpay-Serial` names. An operation no flow keeps is
//! answered with a body shaped like its schema
//! ([`crate::catalog::OperationSchema::answer_for`]), or, when asked, the
//! old signed echo.

use http::HeaderMap;
use serde_json::{json, Value};

use super::answer::Answer;
use super::identity::ServerKeys;
use crate::catalog::{
    Field, Location, Operation, OperationSchema, RequestParts, Rule, Violation,
    NOT_CIPHERTEXT_MESSAGE,
};
use crate::crypto::rsa_oaep_decrypt;
use crate::keys::same_serial;

/// What the wire knows of one routed request.
pub(crate) struct Routed<'a> {
    pub(crate) operation: &'static Operation,
    pub(crate) params: &'a [(String, String)],
    pub(crate) query: &'a [(String, String)],
    pub(crate) headers: &'a HeaderMap,
    /// Parsed JSON body (`None`: no body, or not JSON).
    pub(crate) body: Option<&'a Value>,
}

impl Routed<'_> {
    fn parts(&self) -> RequestParts<'_> {
        let mut parts = match self.body {
            Some(body) => RequestParts::body(body),
            None => RequestParts::new(),
        };
        parts.query = self.query.to_vec();
        parts.path = self.params.to_vec();
        parts.headers = Some(self.headers.keys().map(|k| k.as_str().to_owned()).collect());
        parts
    }
}

/// The first rule the request breaks, as WeChat Pay's 400 PARAM_ERROR, and
/// the note for the log; `None` when it passes (or has no schema).
pub(crate) fn refusal(keys: &ServerKeys, routed: &Routed<'_>) -> Option<(Answer, String)> {
    let schema = routed.operation.schema()?;
    let found = schema.check(&routed.parts());
    let first = match found.into_iter().next() {
        Some(first) => first,
        None => undecryptable(keys, schema, routed)?,
    };
    let note = format!(
        "schema: {} {} ({}): {}",
        first.location, first.pointer, first.rule, first.message
    );
    Some((param_error(&first), note))
}

/// WeChat Pay's shape: `{"code":"PARAM_ERROR","message","detail":{"field",
/// "location","value","issue"}}` (DOC wechatpay2_0.shtml; FLOWS.md §9).
fn param_error(violation: &Violation) -> Answer {
    let mut detail = json!({
        "field": violation.pointer,
        "location": violation.location.as_str(),
        "issue": violation.message,
    });
    if let Some(value) = &violation.value {
        // WeChat Pay quotes the value as text ("value":"1900000").
        detail["value"] = match value {
            Value::String(s) => Value::String(s.chars().take(256).collect()),
            other => Value::String(other.to_string().chars().take(256).collect()),
        };
    }
    Answer::error(400, "PARAM_ERROR", &violation.message, Some(detail))
}

/// An encrypted field that is shaped like ciphertext but does not decrypt
/// with the platform key `Wechatpay-Serial` names.
fn undecryptable(
    keys: &ServerKeys,
    schema: &OperationSchema,
    routed: &Routed<'_>,
) -> Option<Violation> {
    let (body, fields) = (routed.body?, schema.body()?);
    if !fields.has_encrypted() {
        return None;
    }
    let serial = routed
        .headers
        .get("wechatpay-serial")
        .and_then(|v| v.to_str().ok())?;
    let key = platform_key(keys, serial);
    let mut pointer = String::new();
    find_undecryptable(fields, body, &mut pointer, &|text| {
        key.as_ref()
            .is_some_and(|key| rsa_oaep_decrypt(key, text).is_some())
    })
    .map(|(pointer, value)| Violation {
        location: Location::Body,
        pointer,
        rule: Rule::NotCiphertext,
        value: Some(value),
        message: NOT_CIPHERTEXT_MESSAGE.to_owned(),
    })
}

/// The private key of the platform certificate or public key `serial` names.
fn platform_key(
    keys: &ServerKeys,
    serial: &str,
) -> Option<openssl::pkey::PKey<openssl::pkey::Private>> {
    if same_serial(serial, keys.credentials.platform_public_key_id) {
        return Some(keys.public_key_private.clone());
    }
    let platform = keys.platform.read().ok()?;
    platform
        .certificates
        .iter()
        .find(|c| same_serial(c.certificate.id(), serial))
        .map(|c| c.private.clone())
}

/// The first encrypted field (depth first) whose value does not decrypt.
fn find_undecryptable(
    field: &Field,
    value: &Value,
    pointer: &mut String,
    decrypts: &dyn Fn(&str) -> bool,
) -> Option<(String, Value)> {
    match value {
        Value::String(text) if field.encrypted() && !decrypts(text) => {
            Some((pointer.clone(), value.clone()))
        }
        Value::Object(map) => field.children().iter().find_map(|child| {
            let v = map.get(child.name())?;
            let len = pointer.len();
            pointer.push('/');
            pointer.push_str(child.name());
            let found = find_undecryptable(child, v, pointer, decrypts);
            pointer.truncate(len);
            found
        }),
        Value::Array(items) => {
            let item_field = field.items()?;
            items.iter().enumerate().find_map(|(i, v)| {
                let len = pointer.len();
                pointer.push_str(&format!("/{i}"));
                let found = find_undecryptable(item_field, v, pointer, decrypts);
                pointer.truncate(len);
                found
            })
        }
        _ => None,
    }
}

/// The schema-shaped answer of an operation no flow keeps (`None`: the
/// description has no answer schema; the caller answers `{}`).
pub(crate) fn shaped(routed: &Routed<'_>) -> Option<Value> {
    routed.operation.schema()?.answer_for(&routed.parts())
}
