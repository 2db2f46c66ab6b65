//! Reading a request's JSON body as WeChat Pay does: an object, required
//! fields named by their JSON pointer in the `PARAM_ERROR` that refuses them.

use serde_json::{Map, Value};

use super::answer::Answer;

/// The body as a JSON object, or the `PARAM_ERROR` WeChat Pay answers.
pub(crate) fn parse_body(body: &[u8]) -> Result<Map<String, Value>, Answer> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Answer::param_error("/", "请求体必须是 JSON 对象")),
        Err(e) => Err(Answer::param_error(
            "/",
            &format!("请求体不是合法的 JSON: {e}"),
        )),
    }
}

/// The value at `pointer` (`/amount/total`), present and not null.
pub(crate) fn required<'a>(
    body: &'a Map<String, Value>,
    pointer: &str,
) -> Result<&'a Value, Answer> {
    at(body, pointer).ok_or_else(|| missing(pointer))
}

/// The non-empty string at `pointer`.
pub(crate) fn required_str<'a>(
    body: &'a Map<String, Value>,
    pointer: &str,
) -> Result<&'a str, Answer> {
    required(body, pointer)?
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Answer::param_error(pointer, "必须是非空字符串"))
}

/// The merchant's own number at `pointer` (`out_trade_no`,
/// `out_refund_no`): a string of `lengths` bytes, each a digit, an ASCII
/// letter or one of `marks`; refused with `rule`, WeChat Pay's wording.
pub(crate) fn merchant_number<'a>(
    body: &'a Map<String, Value>,
    pointer: &str,
    lengths: std::ops::RangeInclusive<usize>,
    marks: &[u8],
    rule: &str,
) -> Result<&'a str, Answer> {
    let number = required_str(body, pointer)?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || marks.contains(&b);
    if !lengths.contains(&number.len()) || !number.bytes().all(allowed) {
        return Err(Answer::param_error(pointer, rule));
    }
    Ok(number)
}

/// The largest amount WeChat Pay takes: its amounts are 32-bit integers of
/// fen (`Integer`/`int32` in the official Java and Go models).
pub(crate) const MAX_FEN: i64 = i32::MAX as i64;

/// The amount in fen at `pointer`: an integer from 1 to [`MAX_FEN`].
pub(crate) fn required_fen(body: &Map<String, Value>, pointer: &str) -> Result<i64, Answer> {
    required(body, pointer)?
        .as_i64()
        .filter(|n| (1..=MAX_FEN).contains(n))
        .ok_or_else(|| Answer::param_error(pointer, "必须是 1 到 2147483647 之间的整数 (分)"))
}

/// A `notify_url`: http(s), with no query string (WeChat Pay: 不允许携带查询串),
/// and not one of the mock's own controls (a notification must not drive them).
pub(crate) fn check_notify_url(body: &Map<String, Value>, pointer: &str) -> Result<(), Answer> {
    let Some(text) = at(body, pointer) else {
        return Ok(());
    };
    let url = text
        .as_str()
        .and_then(|t| url::Url::parse(t).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| Answer::param_error(pointer, "必须是 http(s) 地址"))?;
    if url.query().is_some() {
        return Err(Answer::param_error(pointer, "不允许携带查询串"));
    }
    if url.path().starts_with("/_mock/") {
        return Err(Answer::param_error(
            pointer,
            "不能是模拟器自己的 /_mock/ 控制接口 (a notification must not drive the mock's controls)",
        ));
    }
    Ok(())
}

/// Refuses a top-level `notify_url` whose host is not this machine (a
/// loopback address or `localhost`): the mock's keys are published, so an
/// order must not make it post into the network it runs in
/// (docs/security.md). Only where the mock was not told to allow it; what is
/// not a URL is left to [`check_notify_url`].
pub(crate) fn check_notify_host(body: &[u8]) -> Result<(), Answer> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Ok(());
    };
    let Some(url) = optional_str(&body, "/notify_url").and_then(|t| url::Url::parse(t).ok()) else {
        return Ok(());
    };
    let here = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => true,
    };
    if here {
        return Ok(());
    }
    Err(Answer::param_error(
        "/notify_url",
        "只能指向本机 (127.0.0.1, [::1], localhost): the mock posts notifications only to this machine; \
         to let it post elsewhere, start it with `wxpay mock --allow-remote-notify` or call \
         MockServer::allow_remote_notify(true)",
    ))
}

/// The string at `pointer`, if there is one.
pub(crate) fn optional_str<'a>(body: &'a Map<String, Value>, pointer: &str) -> Option<&'a str> {
    at(body, pointer).and_then(Value::as_str)
}

/// The value at `pointer`, if present and not null.
pub(crate) fn at<'a>(body: &'a Map<String, Value>, pointer: &str) -> Option<&'a Value> {
    let (first, rest) = pointer
        .trim_start_matches('/')
        .split_once('/')
        .map_or((pointer.trim_start_matches('/'), ""), |(a, b)| (a, b));
    let value = body.get(first)?;
    let value = if rest.is_empty() {
        value
    } else {
        value.pointer(&format!("/{rest}"))?
    };
    (!value.is_null()).then_some(value)
}

/// The `PARAM_ERROR` for a required field that is absent, naming it.
pub(crate) fn missing(pointer: &str) -> Answer {
    Answer::param_error(pointer, "此字段为必填项 (缺少参数)")
}

/// The query parameter `name`, if given.
pub(crate) fn query_param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nested_fields_are_named_by_pointer() {
        let Value::Object(body) = json!({"amount": {"total": 0}, "payer": {}, "a": null}) else {
            unreachable!()
        };
        assert!(required(&body, "/amount/total").is_ok());
        assert!(required_fen(&body, "/amount/total").is_err());
        let refused = required(&body, "/payer/openid").unwrap_err();
        assert!(String::from_utf8_lossy(&refused.body).contains("/payer/openid"));
        assert!(required(&body, "/a").is_err());
        assert_eq!(optional_str(&body, "/nothing"), None);
    }
}
