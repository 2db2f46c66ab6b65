//! The pages a payer sees instead of WeChat: an H5 order's cashier, a Native
//! order's QR code, and the `WeixinJSBridge` stand-in a JSAPI page loads.
//! Each page is a pure function of the order as the payments store renders
//! it (a `serde_json::Value` shaped like WeChat Pay's order query answer:
//! `out_trade_no`, `description`, `amount.total`, `trade_state`, and for
//! Native `code_url`), so the store stays the only copy of the state.
//!
//! | page | what |
//! |---|---|
//! | `GET /_mock/cashier/h5?prepay_id=…[&package=…][&redirect_url=…]` | an H5 order's cashier: its `h5_url`, with the `redirect_url` the merchant appends |
//! | `GET /_mock/cashier/native?code_url=…` (or `?out_trade_no=…[&sub_mchid=…]`) | a Native order's QR code and "scan and pay" |
//!
//! [`serve`] looks the order up in the payments store; the pages themselves
//! are pure functions of the order as the store renders it.
//!
//! # How the pages pay
//!
//! - **Pay and cancel buttons** (H5 and Native): a `<form method="post">`
//!   to `POST /_mock/transactions/{out_trade_no}/pay[?sub_mchid=]` (path
//!   segment percent-encoded, empty form body). With JavaScript the form is sent by
//!   `fetch` and, on a 2xx, the page goes to `redirect_url` (H5) or reloads
//!   (Native); without it the browser shows the control's answer. H5 cancel
//!   is a plain link to `redirect_url`: cancelling tells WeChat Pay nothing,
//!   the order stays `NOTPAY`.
//! - **`WeixinJSBridge` stand-in** (`GET /_mock/jsbridge.js`, a script a
//!   merchant's page loads from the mock, whatever the page's own origin).
//!   `WeixinJSBridge.invoke('getBrandWCPayRequest', params, cb)` sends
//!
//!   ```text
//!   POST {mock}/_mock/invocations
//!   Content-Type: text/plain          (a "simple" request: no CORS preflight)
//!   {"api": "getBrandWCPayRequest", "params": {…exactly as the page passed…}, "user": "looks"}
//!   ```
//!
//!   [`super::bridge`] answers it: the mock checks the parameters as WeChat does (`appId`, `timeStamp`,
//!   `nonceStr`, `package` = `prepay_id=…`, `signType` `RSA`, `paySign` over
//!   `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant's key), finds
//!   the order by its `prepay_id`, and answers `200 {"order": {…}}` (shown on
//!   the payment sheet) or a 4xx `{"code", "message"}`. The sheet offers pay
//!   and cancel; pay sends the same body with `"user": "pays"`, which checks
//!   again and pays the order (`200 {"order": {…}}`, notification sent).
//!   Both answers need `Access-Control-Allow-Origin` (the merchant's page is
//!   another origin). The callback gets `{err_msg: "get_brand_wcpay_request:ok"}`
//!   after a paid answer, `…:cancel` when the user cancels (nothing sent), and
//!   `…:fail` (with `err_desc`) on any refusal or network error, the three
//!   values WeChat documents.

use axum::response::Response;
use serde_json::{json, Value};

use crate::path::encode_component;

use super::html::{esc, label, page, yuan, Label};
use crate::mock::flows::payments::Payment;
use crate::mock::wire::answer::respond;
use crate::mock::wire::server::Shared;

/// The bridge stand-in, served as `/_mock/jsbridge.js`.
pub(crate) const JSBRIDGE_JS: &str = include_str!("assets/jsbridge.js");

/// The longest text drawn as a QR code (bytes): a `code_url` is about 40;
/// a version-40 code at error correction M holds 2331 bytes.
pub(crate) const MAX_QR_TEXT: usize = 2048;

/// `text` as an SVG QR code (a fixed-size `<svg>` element, no XML prolog, so
/// it can be served alone or inlined in a page).
pub(crate) fn qr_svg(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("nothing to draw: pass the text as ?text=…".to_owned());
    }
    if text.len() > MAX_QR_TEXT {
        return Err(format!(
            "text of {} bytes is too long for a QR code here (at most {MAX_QR_TEXT})",
            text.len()
        ));
    }
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)
        .map_err(|e| format!("cannot draw this text as a QR code: {e}"))?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .build();
    // The renderer starts with an XML declaration, invalid inside HTML.
    let start = svg.find("<svg").unwrap_or(0);
    Ok(svg[start..].replacen("<svg", r#"<svg role="img" aria-label="QR code""#, 1))
}

/// A string field of the order, or "".
fn text<'a>(order: &'a Value, pointer: &str) -> &'a str {
    order.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Amount and description, as the top of WeChat's cashier shows them.
fn summary(order: &Value) -> String {
    let amount = order
        .pointer("/amount/total")
        .and_then(Value::as_i64)
        .map(yuan)
        .unwrap_or_default();
    format!(
        r#"<p class="amount" id="amount">{}</p>
<p class="description" id="description">{}</p>
<dl class="facts"><dt>{}</dt><dd><code id="out-trade-no">{}</code></dd><dt>{}</dt><dd id="trade-state">{}</dd></dl>"#,
        esc(&amount),
        esc(text(order, "/description")),
        OUT_TRADE_NO.html(),
        esc(text(order, "/out_trade_no")),
        label("状态", "State").html(),
        esc(text(order, "/trade_state")),
    )
}

const OUT_TRADE_NO: Label = label("商户订单号", "out_trade_no");
const PAY: Label = label("支付", "Pay");

/// Whether the order can still be paid (WeChat Pay's `trade_state`).
fn payable(order: &Value) -> bool {
    matches!(text(order, "/trade_state"), "" | "NOTPAY" | "USERPAYING")
}

/// The form that pays the order through the control; `then` is where the
/// script goes after a 2xx answer (none: reload).
fn pay_form(order: &Value, button: Label, then: Option<&str>) -> String {
    let no = text(order, "/out_trade_no");
    // A combine order names its own control (the whole order is paid at once).
    let mut action = match text(order, "/pay_control") {
        "" => format!("/_mock/transactions/{}/pay", encode_component(no)),
        control => control.to_owned(),
    };
    let sub = text(order, "/sub_mchid");
    if !sub.is_empty() {
        action.push_str("?sub_mchid=");
        action.extend(url::form_urlencoded::byte_serialize(sub.as_bytes()));
    }
    let then = then
        .map(|url| format!(r#" data-then="{}""#, esc(url)))
        .unwrap_or_default();
    format!(
        r#"<form method="post" action="{}" data-fetch{then}><button type="submit" id="pay" class="primary">{}</button></form>"#,
        esc(&action),
        button.html()
    )
}

/// `redirect_url` if it is an absolute http(s) URL: anything else (a
/// `javascript:` URL above all) must never become a link or a location.
pub(crate) fn safe_redirect(redirect_url: &str) -> Option<String> {
    let url = url::Url::parse(redirect_url).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

/// The H5 cashier an `h5_url` opens: amount, description, pay and cancel,
/// then back to `redirect_url` (the merchant appends it to `h5_url`).
pub(crate) fn h5_page(order: &Value, redirect_url: Option<&str>, lang: &str) -> String {
    let back = redirect_url.and_then(safe_redirect);
    let refused = match (redirect_url, &back) {
        (Some(given), None) => format!(
            r#"<p class="warning" id="redirect-refused">{} <code>{}</code></p>"#,
            label(
                "redirect_url 不是 http(s) 地址，已忽略：",
                "redirect_url is not an http(s) URL, ignored:"
            )
            .html(),
            esc(given)
        ),
        _ => String::new(),
    };
    let actions = if payable(order) {
        let cancel = match &back {
            Some(url) => format!(
                r#"<a class="button" id="cancel" href="{}">{}</a>"#,
                esc(url),
                label("取消支付", "Cancel").html()
            ),
            None => String::new(),
        };
        format!(
            r#"<div class="actions">{}{cancel}</div>"#,
            pay_form(order, PAY, back.as_deref())
        )
    } else {
        let link = back
            .map(|url| {
                format!(
                    r#" <a id="back" href="{}">{}</a>"#,
                    esc(&url),
                    label("返回商户", "Back to the merchant").html()
                )
            })
            .unwrap_or_default();
        format!(
            r#"<p class="done">{}{link}</p>"#,
            label("订单不可支付", "This order cannot be paid").html()
        )
    };
    let title = label("微信支付收银台（模拟）", "WeChat Pay cashier (mock)");
    let body = format!(
        r#"<main class="cashier"><h1>{}</h1>{}{refused}{actions}<p id="status" role="status" aria-live="polite"></p></main>"#,
        title.html(),
        summary(order)
    );
    page(lang, title, &body)
}

/// A Native order: its `code_url` as a QR code to scan, and a "scan and
/// pay" button playing the payer who scans it.
pub(crate) fn native_page(order: &Value, lang: &str) -> String {
    let code_url = text(order, "/code_url");
    let qr = match qr_svg(code_url) {
        Ok(svg) => format!(r#"<figure class="qr" id="qr">{svg}</figure>"#),
        Err(why) => format!(r#"<p class="warning" id="qr-error">{}</p>"#, esc(&why)),
    };
    // `/_mock/qr?text=` shows a bare code_url: no order, nothing to pay.
    let has_order = !text(order, "/out_trade_no").is_empty();
    let action = if has_order && payable(order) {
        pay_form(order, label("扫码并支付", "Scan and pay"), None)
    } else {
        String::new()
    };
    let summary = if has_order {
        summary(order)
    } else {
        String::new()
    };
    let title = label("扫码支付（模拟）", "Native payment (mock)");
    let body = format!(
        r#"<main class="cashier"><h1>{}</h1>{}{qr}<p class="code-url"><code id="code-url">{}</code></p>{action}<p id="status" role="status" aria-live="polite"></p></main>"#,
        title.html(),
        summary,
        esc(code_url)
    );
    page(lang, title, &body)
}

/// A query parameter, or "".
fn param<'a>(query: &'a [(String, String)], name: &str) -> &'a str {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Answers `GET /_mock/cashier/{which}` (`h5` or `native`): the order's
/// page, or a page saying which order was not found and why.
pub(crate) fn serve(
    shared: &Shared,
    which: &str,
    query: &[(String, String)],
    lang: &str,
) -> Response {
    const HTML: &str = "text/html; charset=utf-8";
    let mchid = shared.keys.credentials.mchid;
    let found = match combine_order(shared, which, query) {
        Some(found) => found,
        None => normal_order(shared, which, query, mchid),
    };
    match (found, which) {
        (Ok(order), "h5") => {
            let redirect = Some(param(query, "redirect_url")).filter(|r| !r.is_empty());
            respond(200, HTML, h5_page(&order, redirect, lang))
        }
        (Ok(order), _) => respond(200, HTML, native_page(&order, lang)),
        (Err(why), _) => {
            let title = label("找不到订单", "No such order");
            let body = format!(
                r#"<main class="cashier"><h1>{}</h1><p class="warning" id="not-found">{}</p></main>"#,
                title.html(),
                esc(&why)
            );
            respond(404, HTML, page(lang, title, &body))
        }
    }
}

/// The combine order (合单) an `h5_url` (its `prepay_id`), a `code_url` or
/// `?combine_out_trade_no=` names, as the pages read it; `None` if none
/// does (a normal order's page).
fn combine_order(
    shared: &Shared,
    which: &str,
    query: &[(String, String)],
) -> Option<Result<Value, String>> {
    let (combines, mut book) = super::actions::combine_books(shared).ok()?;
    let no = match which {
        "h5" => combines.by_prepay_id(param(query, "prepay_id"))?,
        _ => match param(query, "combine_out_trade_no") {
            "" => combines.by_code(&code_of(param(query, "code_url"))?)?,
            no => no.to_owned(),
        },
    };
    let now = crate::sign::unix_now();
    let shown = combines.shown(&mut book, &no, shared.keys.credentials.mchid, now);
    let Some(order) = shown else {
        return Some(Err(format!("no combine order {no}")));
    };
    let expected = if which == "h5" { "MWEB" } else { "NATIVE" };
    let package = param(query, "package");
    Some(match text(&order, "/trade_type") {
        kind if kind != expected => Err(format!(
            "combine order {no} is a {kind} order; this page pays {expected} orders"
        )),
        _ if which == "h5" && !package.is_empty() && package != text(&order, "/package") => Err(
            format!("package {package} does not go with this combine order: use the h5_url as the order answered it"),
        ),
        _ => Ok(order),
    })
}

/// The `pr` of a `code_url`.
fn code_of(code_url: &str) -> Option<String> {
    url::Url::parse(code_url).ok().and_then(|u| {
        u.query_pairs()
            .find(|(k, _)| k == "pr")
            .map(|(_, v)| v.into_owned())
    })
}

/// A normal payment order's page, by the same names.
fn normal_order(
    shared: &Shared,
    which: &str,
    query: &[(String, String)],
    mchid: &str,
) -> Result<Value, String> {
    match shared.payments.lock() {
        Ok(mut book) => {
            let now = crate::sign::unix_now();
            let key = match which {
                "h5" => h5_order(&book, query),
                _ => native_order(&book, query),
            };
            // get_mut, not the lookup's &Payment: time may have closed it.
            key.and_then(|(sub, no)| {
                book.get_mut(&sub, &no, now)
                    .map(|order| shown(order, mchid))
                    .ok_or_else(|| format!("order {no} is no longer kept"))
            })
        }
        Err(_) => Err("the payments store is unavailable".to_owned()),
    }
}

/// The order an `h5_url` names: its `prepay_id` (an H5 one), and the
/// `package` the mock put next to it, if given.
fn h5_order(
    book: &crate::mock::flows::payments::Payments,
    query: &[(String, String)],
) -> Result<(String, String), String> {
    let prepay_id = param(query, "prepay_id");
    if prepay_id.is_empty() {
        return Err("no prepay_id: open the h5_url the H5 order answered (…/_mock/cashier/h5?prepay_id=…&package=…)".to_owned());
    }
    let order = book
        .by_prepay_id(prepay_id)
        .ok_or_else(|| format!("no order has prepay_id {prepay_id} (an H5 order's prepay_id lives 5 minutes on WeChat, here until the order is forgotten)"))?;
    if order.trade_type != "MWEB" {
        return Err(format!(
            "prepay_id {prepay_id} is a {} order's; the H5 cashier pays H5 (MWEB) orders",
            order.trade_type
        ));
    }
    let package = param(query, "package");
    if !package.is_empty() && package != order.code {
        return Err(format!(
            "package {package} does not go with prepay_id {prepay_id}: use the h5_url as the order answered it"
        ));
    }
    Ok(key(order))
}

/// The order a `code_url` (its `pr`) or an `out_trade_no` names: a Native one.
fn native_order(
    book: &crate::mock::flows::payments::Payments,
    query: &[(String, String)],
) -> Result<(String, String), String> {
    let code_url = param(query, "code_url");
    let no = param(query, "out_trade_no");
    let order = if !code_url.is_empty() {
        let code = code_of(code_url).ok_or_else(|| {
            format!("{code_url} is not a code_url (weixin://wxpay/bizpayurl/up?pr=…)")
        })?;
        book.by_code(&code)
            .ok_or_else(|| format!("no Native order has code_url {code_url}"))?
    } else if !no.is_empty() {
        let sub = param(query, "sub_mchid");
        book.find(sub, no)
            .filter(|o| o.combine.is_none())
            .ok_or_else(|| format!("no order {no} (a partner order also needs ?sub_mchid=)"))?
    } else {
        return Err(
            "name the order: ?code_url=… (as the Native order answered) or ?out_trade_no=…"
                .to_owned(),
        );
    };
    if order.trade_type != "NATIVE" {
        return Err(format!(
            "order {} is a {} order; only a Native order has a QR code",
            order.out_trade_no(),
            order.trade_type
        ));
    }
    Ok(key(order))
}

fn key(order: &Payment) -> (String, String) {
    (
        order.sub_mchid().to_owned(),
        order.out_trade_no().to_owned(),
    )
}

/// The order as the pages read it: the order query's answer, with the
/// description, and a Native order's `code_url`.
fn shown(order: &Payment, mchid: &str) -> Value {
    let mut shown = order.render(mchid);
    shown["description"] = order.request.get("description").cloned().into();
    if order.trade_type == "NATIVE" {
        shown["code_url"] = json!(order.code_url());
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order() -> Value {
        json!({"out_trade_no": "T<1>", "description": "Image形象店-深圳腾大-QQ公仔",
               "amount": {"total": 1, "currency": "CNY"}, "trade_state": "NOTPAY",
               "code_url": "weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&groupid=00"})
    }

    #[test]
    fn h5_page_shows_amount_and_description_and_pays_through_the_control() {
        let html = h5_page(
            &order(),
            Some("https://merchant.example/back?x=1&y=2"),
            "zh-en",
        );
        assert!(
            html.contains(r#"<p class="amount" id="amount">¥0.01</p>"#),
            "{html}"
        );
        assert!(html.contains("Image形象店-深圳腾大-QQ公仔"));
        // the out_trade_no is escaped in text and percent-encoded in the path
        assert!(html.contains("T&lt;1&gt;"));
        assert!(
            html.contains(r#"action="/_mock/transactions/T%3C1%3E/pay""#),
            "{html}"
        );
        assert!(html.contains(r#"data-then="https://merchant.example/back?x=1&amp;y=2""#));
        assert!(html.contains(r#"id="cancel" href="https://merchant.example/back?x=1&amp;y=2""#));
    }

    #[test]
    fn a_partner_orders_pay_button_names_its_sub_merchant() {
        let mut partner = order();
        partner["sub_mchid"] = json!("1900000110");
        for html in [h5_page(&partner, None, "en"), native_page(&partner, "en")] {
            assert!(
                html.contains(r#"action="/_mock/transactions/T%3C1%3E/pay?sub_mchid=1900000110""#),
                "{html}"
            );
        }
    }

    #[test]
    fn a_redirect_url_that_is_not_http_never_becomes_a_link() {
        let html = h5_page(&order(), Some("javascript:alert(1)"), "en");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(!html.contains("data-then"));
        assert!(html.contains(r#"id="redirect-refused""#));
        assert_eq!(safe_redirect("/relative"), None);
        assert_eq!(
            safe_redirect("HTTPS://a.example/x").as_deref(),
            Some("https://a.example/x")
        );
    }

    #[test]
    fn a_paid_order_offers_no_pay_button() {
        let mut paid = order();
        paid["trade_state"] = json!("SUCCESS");
        assert!(!h5_page(&paid, None, "zh").contains(r#"id="pay""#));
        assert!(!native_page(&paid, "zh").contains(r#"id="pay""#));
        assert!(native_page(&order(), "zh").contains(r#"id="pay""#));
    }

    #[test]
    fn the_native_page_inlines_the_qr_code_of_the_code_url() {
        let html = native_page(&order(), "zh-en");
        assert!(
            html.contains(r#"<svg role="img" aria-label="QR code""#),
            "{html}"
        );
        assert!(!html.contains("<?xml"));
        assert!(html.contains("weixin://wxpay/bizpayurl/up?pr=NwY5Mz9&amp;groupid=00"));
    }

    #[test]
    fn qr_text_must_be_present_and_fit() {
        assert!(qr_svg("").unwrap_err().contains("?text="));
        let long = "x".repeat(MAX_QR_TEXT + 1);
        assert!(qr_svg(&long).unwrap_err().contains("at most 2048"));
        assert!(qr_svg(&"x".repeat(MAX_QR_TEXT)).is_ok());
    }
}
