//! What the mock says back: a status and a body, WeChat Pay's error shape,
//! and the signature every answer carries; and the plain HTTP responses of
//! the `/_mock/` pages and controls, with the headers they share.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};

/// A body made chunk by chunk as it is sent (a bill of gigabytes): each call
/// starts the body again from its first chunk.
#[derive(Clone)]
pub(crate) struct Chunks(Arc<dyn Fn() -> Box<dyn Iterator<Item = Bytes> + Send> + Send + Sync>);

impl Chunks {
    pub(crate) fn new(
        make: impl Fn() -> Box<dyn Iterator<Item = Bytes> + Send> + Send + Sync + 'static,
    ) -> Self {
        Chunks(Arc::new(make))
    }

    /// The body's chunks, from the first.
    pub(crate) fn iter(&self) -> Box<dyn Iterator<Item = Bytes> + Send> {
        (self.0)()
    }
}

impl std::fmt::Debug for Chunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Chunks(..)")
    }
}

/// An answer before signing and fault injection.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    /// False for the file downloads WeChat Pay never signs.
    pub(crate) signed: bool,
    /// A body streamed instead of `body` (a bill).
    pub(crate) stream: Option<Chunks>,
    /// `Content-Type` of a non-empty body.
    pub(crate) content_type: &'static str,
}

/// JSON, what APIv3 answers.
pub(crate) const JSON: &str = "application/json; charset=utf-8";

impl Answer {
    pub(crate) fn json(status: u16, value: &Value) -> Self {
        Answer {
            status,
            body: Bytes::from(value.to_string()),
            signed: true,
            stream: None,
            content_type: JSON,
        }
    }

    pub(crate) fn no_content() -> Self {
        Answer {
            status: 204,
            body: Bytes::new(),
            signed: true,
            stream: None,
            content_type: JSON,
        }
    }

    /// An APIv2 answer: XML, no APIv3 signature headers.
    pub(crate) fn xml(document: String) -> Self {
        Answer {
            status: 200,
            body: Bytes::from(document),
            signed: false,
            stream: None,
            content_type: "text/xml; charset=utf-8",
        }
    }

    /// `{"code","message"[,"detail"]}` as WeChat Pay writes errors.
    pub(crate) fn error(status: u16, code: &str, message: &str, detail: Option<Value>) -> Self {
        let mut body = json!({"code": code, "message": message});
        if let Some(detail) = detail {
            body["detail"] = detail;
        }
        Answer::json(status, &body)
    }

    /// 404 `code` for a control naming what is not held: whose `what`
    /// (`payment order`) `no` is missing, `sub` "" meaning the merchant
    /// itself, and how a partner's `kind` (`order`) is named.
    pub(crate) fn not_held(
        code: &str,
        zh: &str,
        sub: &str,
        what: &str,
        kind: &str,
        no: &str,
    ) -> Self {
        let whose = if sub.is_empty() {
            "the merchant".to_owned()
        } else {
            format!("sub-merchant {sub}")
        };
        let message =
            format!("{zh}: {whose} has no {what} {no} (a partner {kind} needs ?sub_mchid=)");
        Answer::error(404, code, &message, None)
    }

    /// 400 PARAM_ERROR naming the field (a JSON pointer such as `/appid`).
    pub(crate) fn param_error(field: &str, issue: &str) -> Self {
        Answer::error(
            400,
            "PARAM_ERROR",
            &format!("参数错误: {field} {issue}"),
            Some(json!({"field": field, "location": "body", "issue": issue})),
        )
    }

    /// 400 PARAM_ERROR for a query parameter.
    pub(crate) fn query_error(field: &str, issue: &str) -> Self {
        Answer::error(
            400,
            "PARAM_ERROR",
            &format!("参数错误: {field} {issue}"),
            Some(json!({"field": field, "location": "query", "issue": issue})),
        )
    }

    /// The error WeChat Pay sends for each status the fault injector can ask for.
    pub(crate) fn for_status(status: u16) -> Self {
        let (code, message) = match status {
            400 => ("INVALID_REQUEST", "无效请求"),
            401 => ("SIGN_ERROR", "签名错误"),
            403 => ("NO_AUTH", "商户无权限"),
            404 => ("RESOURCE_NOT_EXISTS", "资源不存在"),
            429 => ("FREQUENCY_LIMITED", "频率超限"),
            502 | 503 => ("SERVICE_UNAVAILABLE", "服务不可用"),
            _ => ("SYSTEM_ERROR", "系统错误"),
        };
        Answer::error(status, code, message, None)
    }
}

/// `answer` as the HTTP response, unsigned: what a `/_mock/` control says.
pub(crate) fn reply(answer: &Answer) -> Response {
    let mut response = Response::new(Body::from(answer.body.clone()));
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or_default();
    if !answer.body.is_empty() {
        insert_headers(&mut response, &[("content-type", JSON)]);
    }
    response
}

/// What every page response carries: no caching (the state changes), no
/// MIME sniffing, no framing, and only this origin's scripts and styles.
/// same-origin, not no-referrer: with no-referrer a browser sends
/// `Origin: null` on the console's form posts, which the guard refuses.
const PAGE_HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("referrer-policy", "same-origin"),
];

/// A page (or the guard's refusal) with [`PAGE_HEADERS`].
pub(crate) fn respond(status: u16, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut response = Response::new(body.into());
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or_default();
    insert_headers(&mut response, &[("content-type", content_type)]);
    insert_headers(&mut response, PAGE_HEADERS);
    response
}

/// Sets each `(name, value)` on `response`, replacing what was there.
pub(crate) fn insert_headers(response: &mut Response, headers: &[(&'static str, &'static str)]) {
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(*name, HeaderValue::from_static(value));
    }
}
