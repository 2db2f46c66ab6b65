//! What the mock says back: a status and a body, WeChat Pay's error shape,
//! and the signature every answer carries.

use bytes::Bytes;
use serde_json::{json, Value};

/// An answer before signing and fault injection.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    /// False for the file downloads WeChat Pay never signs.
    pub(crate) signed: bool,
    /// A bill streamed instead of `body`.
    pub(crate) stream: Option<crate::mock::flows::bills::BillSpec>,
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
