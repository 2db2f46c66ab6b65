//! Verifying an APIv2 response: codes, `sign`, and the endpoints that break
//! the rule (files, unsigned, JSON). Pure: bytes in, a [`Response`] or an
//! error out.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

use super::rules;
use super::sign::{self, SignType};
use super::xml;
use crate::error::{ApiV2Error, Error, Result, VerifyError};
use crate::request::PreparedRequest;
use crate::response::Response;

pub(crate) fn field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

/// Checks a 2xx APIv2 response to `request` under the APIv2 `key`.
pub(crate) fn check(
    key: &str,
    request: &PreparedRequest,
    status: u16,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let path = request.relative_path.as_str();
    // Files, and the pages a browser opens (entrustweb), are XML only when
    // WeChat Pay refuses; they carry no `sign` either way.
    let is_xml = xml::looks_like_document(&body);
    if !is_xml && (rules::is_file(path) || rules::is_page(path)) {
        return Ok(Response::new(status, headers, body, None));
    }
    if path == rules::JSON_RESPONSE {
        return check_json(status, headers, body);
    }
    let fields = xml::parse(&body)?;
    if field(&fields, "return_code") != Some("SUCCESS") {
        return Err(ApiV2Error::from_fields(fields).into());
    }
    let verified_by = if request.expects_signature() {
        Some(verify(&fields, key)?)
    } else {
        None
    };
    if field(&fields, "result_code").is_some_and(|code| code != "SUCCESS") {
        return Err(ApiV2Error::from_fields(fields).into());
    }
    Ok(Response::new(
        status,
        headers,
        body,
        verified_by.map(str::to_owned),
    ))
}

/// The response's `sign` under `key`; names the algorithm that matched.
fn verify(fields: &Map<String, Value>, key: &str) -> Result<&'static str> {
    let received = field(fields, "sign").ok_or(Error::Verify {
        kind: VerifyError::V2SignatureMissing,
        request_id: None,
    })?;
    let kind = SignType::from_sign(received);
    if !sign::verify(fields, key) {
        return Err(Error::Verify {
            kind: VerifyError::V2SignatureMismatch,
            request_id: None,
        });
    }
    Ok(match kind {
        SignType::HmacSha256 => "APIv2 HMAC-SHA256",
        _ => "APIv2 MD5",
    })
}

/// `appauth/getaccesstoken`: JSON, `retcode` 0 on success, unsigned.
fn check_json(status: u16, headers: HeaderMap, body: Bytes) -> Result<Response> {
    let parsed: Value =
        serde_json::from_slice(&body).map_err(|source| Error::Decode { status, source })?;
    match parsed.get("retcode").and_then(Value::as_i64) {
        Some(0) => Ok(Response::new(status, headers, body, None)),
        code => {
            let fields = parsed.as_object().cloned().unwrap_or_default();
            Err(ApiV2Error {
                return_code: "FAIL".to_owned(),
                return_msg: field(&fields, "retmsg").map(str::to_owned),
                result_code: None,
                err_code: Some(
                    code.map_or_else(|| "retcode missing".to_owned(), |c| c.to_string()),
                ),
                err_code_des: None,
                fields,
            }
            .into())
        }
    }
}
