//! The console a person opens at `GET /_mock/`: what the mock holds and did,
//! as tables rendered on the server (readable with JavaScript off), kept
//! live by `console.js` (it refetches the page every two seconds and swaps
//! the tables that changed). Row buttons are forms posting to the existing
//! `/_mock/` controls, so the console is a view over the same stores, never
//! a second copy of the state. Labels are in Chinese and English
//! (`?lang=zh`, `?lang=en`, both by default). Nothing here shows a key: the
//! request log keeps the signed message, never what signed it.
//!
//! Adding a table is one [`Table`] constant (columns as JSON pointers into a
//! row, and the row's actions) and one line in [`console_page`] giving it
//! rows as `serde_json::Value`s, e.g. the payments store's orders rendered
//! as the order query answers.
//!
//! | page | what |
//! |---|---|
//! | `GET /_mock/`, `GET /_mock/console` | the console |
//! | `GET /_mock/console.css`, `/_mock/console.js` | its style and script |
//! | `GET /_mock/jsbridge.js` | the `WeixinJSBridge` stand-in ([`super::cashier`]) |
//! | `GET /_mock/qr?text=…` | a page showing `text` as a QR code (a `code_url`) |
//! | `GET /_mock/qr.svg?text=…` | the QR code alone, `image/svg+xml` |
//! | `GET /_mock/cashier/h5?prepay_id=…`, `/_mock/cashier/native?code_url=…` | the cashier pages ([`super::cashier`]) |

use axum::response::Response;
use serde_json::{json, Value};

use super::cashier;
use super::html::{esc, label, language, page, yuan, Label};
use crate::mock::wire::answer::respond;
use crate::mock::wire::server::Shared;
use crate::path::encode_component;

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");
const HTML: &str = "text/html; charset=utf-8";

/// Whether `GET /_mock/{path}` is a page of this module.
pub(crate) fn serves(path: &str) -> bool {
    matches!(
        path,
        "" | "console"
            | "console.css"
            | "console.js"
            | "jsbridge.js"
            | "qr"
            | "qr.svg"
            | "cashier/h5"
            | "cashier/native"
    )
}

/// Answers `GET /_mock/{path}` for a path [`serves`] accepts.
pub(crate) fn page_for(shared: &Shared, path: &str, query: &[(String, String)]) -> Response {
    let lang = language(query);
    let text = query
        .iter()
        .find(|(k, _)| k == "text")
        .map_or("", |(_, v)| v.as_str());
    match path {
        "console.css" => respond(200, "text/css; charset=utf-8", CSS),
        "console.js" => respond(200, "text/javascript; charset=utf-8", JS),
        // Loaded by a merchant's page on another origin: allowed to be read.
        "jsbridge.js" => respond(200, "text/javascript; charset=utf-8", cashier::JSBRIDGE_JS),
        "qr.svg" => match cashier::qr_svg(text) {
            Ok(svg) => respond(200, "image/svg+xml", svg),
            Err(why) => respond(400, "text/plain; charset=utf-8", why),
        },
        "qr" => respond(
            200,
            HTML,
            cashier::native_page(&json!({ "code_url": text }), lang),
        ),
        "cashier/h5" => cashier::serve(shared, "h5", query, lang),
        "cashier/native" => cashier::serve(shared, "native", query, lang),
        _ => respond(200, HTML, console_page(shared, lang)),
    }
}

/// How a column shows its value.
#[derive(Debug, Clone, Copy)]
enum Show {
    Text,
    /// Monospace: identifiers, URLs, paths.
    Code,
    /// An amount in fen, shown in yuan.
    Amount,
    /// A boolean as ✓ / ✗ with words.
    YesNo,
    /// Long text folded in `<details>`, preformatted.
    Folded,
    /// An RFC 3339 time as its clock time (the whole in a tooltip).
    Time,
}

/// One column: its heading, where its value sits in a row (JSON pointers:
/// several are shown joined by ` / `), how to show it.
#[derive(Debug, Clone, Copy)]
struct Column {
    heading: Label,
    pointers: &'static [&'static str],
    show: Show,
}

const fn col(
    zh: &'static str,
    en: &'static str,
    pointers: &'static [&'static str],
    show: Show,
) -> Column {
    Column {
        heading: label(zh, en),
        pointers,
        show,
    }
}

impl Column {
    /// The value of this column in `row`: one pointer's value as it is,
    /// several as the non-empty ones joined.
    fn value(&self, row: &Value) -> Option<Value> {
        if let [single] = self.pointers {
            return row.pointer(single).cloned();
        }
        let parts: Vec<String> = self
            .pointers
            .iter()
            .filter_map(|p| row.pointer(p))
            .filter(|v| !v.is_null())
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        (!parts.is_empty()).then(|| Value::String(parts.join(" / ")))
    }
}

/// A row's button: a POST to `/_mock/{control}`, or (`link`) a page of the
/// mock to open, `/_mock/{control}`.
#[derive(Debug)]
struct Action {
    label: Label,
    control: String,
    link: bool,
}

/// `?sub_mchid=…` for a partner's row (its `sub_mchid` non-empty), else "".
fn sub_query(row: &Value) -> String {
    match row["sub_mchid"].as_str() {
        Some(sub) if !sub.is_empty() => {
            let encoded: String = url::form_urlencoded::byte_serialize(sub.as_bytes()).collect();
            format!("?sub_mchid={encoded}")
        }
        _ => String::new(),
    }
}

/// The actions `names` (`(segment, zh, en)`) on `/_mock/{base}/{segment}{sub}`.
fn posts(base: &str, sub: &str, names: &[(&str, &'static str, &'static str)]) -> Vec<Action> {
    names
        .iter()
        .map(|(segment, zh, en)| Action {
            label: label(zh, en),
            control: format!("{base}/{segment}{sub}"),
            link: false,
        })
        .collect()
}

/// A table of the console.
struct Table {
    id: &'static str,
    title: Label,
    columns: &'static [Column],
    /// The buttons a row offers (by its state).
    actions: fn(&Value) -> Vec<Action>,
}

fn no_actions(_: &Value) -> Vec<Action> {
    Vec::new()
}

const PAYSCORE: Table = Table {
    id: "payscore",
    title: label("支付分订单", "Payscore orders"),
    columns: &[
        col(
            "商户服务订单号",
            "out_order_no",
            &["/out_order_no"],
            Show::Code,
        ),
        col("子商户", "sub_mchid", &["/sub_mchid"], Show::Code),
        col(
            "状态",
            "State",
            &["/state", "/state_description", "/collection/state"],
            Show::Code,
        ),
        col("服务", "Service", &["/service_introduction"], Show::Text),
        col("风险金", "Risk fund", &["/risk_fund/amount"], Show::Amount),
        col("总金额", "Total", &["/total_amount"], Show::Amount),
        col("微信订单号", "order_id", &["/order_id"], Show::Code),
    ],
    actions: payscore_actions,
};

/// The user's moves the order's state allows (the `/_mock/payscore` controls).
fn payscore_actions(order: &Value) -> Vec<Action> {
    let no = encode_component(order["out_order_no"].as_str().unwrap_or_default());
    let base = format!("payscore/{no}");
    let sub = sub_query(order);
    match (
        order["state"].as_str(),
        order["collection"]["state"].as_str(),
    ) {
        (Some("CREATED"), _) => posts(
            &base,
            &sub,
            &[
                ("confirm", "用户确认", "Confirm"),
                ("expire", "超时失效", "Expire"),
            ],
        ),
        (Some("DOING"), Some("USER_PAYING")) => posts(&base, &sub, &[("pay", "用户支付", "Pay")]),
        _ => Vec::new(),
    }
}

const PAYMENTS: Table = Table {
    id: "payments",
    title: label("支付订单", "Payment orders"),
    columns: &[
        col("商户订单号", "out_trade_no", &["/out_trade_no"], Show::Code),
        col("子商户", "sub_mchid", &["/sub_mchid"], Show::Code),
        col(
            "合单",
            "Combine order",
            &["/combine_out_trade_no"],
            Show::Code,
        ),
        col("类型", "Type", &["/trade_type"], Show::Code),
        col("状态", "State", &["/trade_state"], Show::Code),
        col("金额", "Amount", &["/amount/total"], Show::Amount),
        col("商品", "Description", &["/description"], Show::Text),
        col("通知地址", "notify_url", &["/notify_url"], Show::Code),
        col("预支付 ID", "prepay_id", &["/prepay_id"], Show::Code),
        col(
            "微信订单号",
            "transaction_id",
            &["/transaction_id"],
            Show::Code,
        ),
    ],
    actions: payment_actions,
};

/// Pay, fail, expire while NOTPAY (the `/_mock/transactions` controls), and
/// the cashier page of an H5 or Native order.
fn payment_actions(order: &Value) -> Vec<Action> {
    // A combine order's sub-order moves with its combine order (its own table).
    if order["trade_state"].as_str() != Some("NOTPAY")
        || order.get("combine_out_trade_no").is_some()
    {
        return Vec::new();
    }
    let no = order["out_trade_no"].as_str().unwrap_or_default();
    let sub = sub_query(order);
    unpaid_actions(
        order,
        &format!("transactions/{}", encode_component(no)),
        &sub,
        &[
            ("out_trade_no", no),
            ("sub_mchid", order["sub_mchid"].as_str().unwrap_or_default()),
        ],
    )
}

/// Pay, fail, expire on `/_mock/{base}/…{sub}`, and the cashier of an H5
/// or Native order (its Native page named by `native`'s query pairs).
fn unpaid_actions(order: &Value, base: &str, sub: &str, native: &[(&str, &str)]) -> Vec<Action> {
    let mut actions = posts(
        base,
        sub,
        &[
            ("pay", "用户支付", "Pay"),
            ("fail", "支付失败", "Fail"),
            ("expire", "超时关闭", "Expire"),
        ],
    );
    let form = |pairs: &[(&str, &str)]| -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in pairs {
            if !v.is_empty() {
                query.append_pair(k, v);
            }
        }
        query.finish()
    };
    let cashier = match order["trade_type"].as_str() {
        Some("MWEB") => Some(format!(
            "cashier/h5?{}",
            form(&[("prepay_id", order["prepay_id"].as_str().unwrap_or_default())])
        )),
        Some("NATIVE") => Some(format!("cashier/native?{}", form(native))),
        _ => None,
    };
    if let Some(control) = cashier {
        actions.push(Action {
            label: label("收银台", "Cashier"),
            control,
            link: true,
        });
    }
    actions
}

const COMBINES: Table = Table {
    id: "combines",
    title: label("合单支付", "Combine orders"),
    columns: &[
        col(
            "合单商户订单号",
            "combine_out_trade_no",
            &["/combine_out_trade_no"],
            Show::Code,
        ),
        col("子单", "Sub-orders", &["/sub_order_nos"], Show::Code),
        col("类型", "Type", &["/trade_type"], Show::Code),
        col("状态", "State", &["/trade_state"], Show::Code),
        col("金额", "Amount", &["/total"], Show::Amount),
        col("通知地址", "notify_url", &["/notify_url"], Show::Code),
        col("预支付 ID", "prepay_id", &["/prepay_id"], Show::Code),
        col(
            "合单微信订单号",
            "combine_transaction_id",
            &["/combine_transaction_id"],
            Show::Code,
        ),
    ],
    actions: combine_actions,
};

/// Pay, fail, expire while NOTPAY (the `/_mock/combine-transactions`
/// controls: the whole order at once), and an H5 or Native order's cashier.
fn combine_actions(order: &Value) -> Vec<Action> {
    if order["trade_state"].as_str() != Some("NOTPAY") {
        return Vec::new();
    }
    let no = order["combine_out_trade_no"].as_str().unwrap_or_default();
    let base = format!("combine-transactions/{}", encode_component(no));
    unpaid_actions(order, &base, "", &[("combine_out_trade_no", no)])
}

const REFUNDS: Table = Table {
    id: "refunds",
    title: label("退款", "Refunds"),
    columns: &[
        col(
            "商户退款单号",
            "out_refund_no",
            &["/out_refund_no"],
            Show::Code,
        ),
        col("商户订单号", "out_trade_no", &["/out_trade_no"], Show::Code),
        col("子商户", "sub_mchid", &["/sub_mchid"], Show::Code),
        col("状态", "Status", &["/status"], Show::Code),
        col("退款金额", "Refund", &["/amount/refund"], Show::Amount),
        col("订单金额", "Order total", &["/amount/total"], Show::Amount),
        col("通知地址", "notify_url", &["/notify_url"], Show::Code),
        col("微信退款单号", "refund_id", &["/refund_id"], Show::Code),
    ],
    actions: refund_actions,
};

/// The back office's outcomes of a PROCESSING refund (`/_mock/refunds`).
fn refund_actions(refund: &Value) -> Vec<Action> {
    if refund["status"].as_str() != Some("PROCESSING") {
        return Vec::new();
    }
    let no = encode_component(refund["out_refund_no"].as_str().unwrap_or_default());
    posts(
        &format!("refunds/{no}"),
        &sub_query(refund),
        &[
            ("succeed", "退款成功", "Succeed"),
            ("abnormal", "退款异常", "Abnormal"),
            ("close", "退款关闭", "Close"),
        ],
    )
}

const TRANSFERS: Table = Table {
    id: "transfers",
    title: label("商家转账", "Transfer bills"),
    columns: &[
        col("商户单号", "out_bill_no", &["/out_bill_no"], Show::Code),
        col("子商户", "sub_mchid", &["/sub_mchid"], Show::Code),
        col("状态", "State", &["/state", "/fail_reason"], Show::Code),
        col("金额", "Amount", &["/transfer_amount"], Show::Amount),
        col("备注", "Remark", &["/transfer_remark"], Show::Text),
        col("收款用户", "openid", &["/openid"], Show::Code),
        col("通知地址", "notify_url", &["/notify_url"], Show::Code),
        col(
            "微信转账单号",
            "transfer_bill_no",
            &["/transfer_bill_no"],
            Show::Code,
        ),
    ],
    actions: transfer_actions,
};

/// What the payee and the back office do to a waiting bill
/// (`/_mock/transfer-bills`); fail with the catch-all reason.
fn transfer_actions(bill: &Value) -> Vec<Action> {
    if bill["state"].as_str() != Some("WAIT_USER_CONFIRM") {
        return Vec::new();
    }
    let no = encode_component(bill["out_bill_no"].as_str().unwrap_or_default());
    let sub = sub_query(bill);
    let mut actions = posts(
        &format!("transfer-bills/{no}"),
        &sub,
        &[
            ("confirm", "确认收款", "Confirm"),
            ("decline", "关闭页面", "Decline"),
            ("expire", "超过24小时", "Expire (24 h)"),
        ],
    );
    let joiner = if sub.is_empty() { '?' } else { '&' };
    actions.push(Action {
        label: label("转账失败", "Fail"),
        control: format!("transfer-bills/{no}/fail{sub}{joiner}fail_reason=OTHER_FAIL_REASON_TYPE"),
        link: false,
    });
    actions
}

const PROFIT_SHARING: Table = Table {
    id: "profitsharing",
    title: label("分账", "Profit sharing"),
    columns: &[
        col(
            "商户分账单号",
            "out_order_no",
            &["/out_order_no"],
            Show::Code,
        ),
        col("子商户", "sub_mchid", &["/sub_mchid"], Show::Code),
        col(
            "微信订单号",
            "transaction_id",
            &["/transaction_id"],
            Show::Code,
        ),
        col("分账单", "Request", &["/kind", "/state"], Show::Code),
        col(
            "接收方",
            "Receiver",
            &["/receiver/type", "/receiver/account"],
            Show::Code,
        ),
        col("金额", "Amount", &["/receiver/amount"], Show::Amount),
        col(
            "结果",
            "Result",
            &["/receiver/result", "/receiver/fail_reason"],
            Show::Code,
        ),
    ],
    actions: profit_sharing_actions,
};

/// A PENDING receiver's outcomes (`/_mock/profitsharing/orders/…/receivers/…`):
/// SUCCESS, or CLOSED for RECEIVER_HIGH_RISK (other reasons: the control's body).
fn profit_sharing_actions(row: &Value) -> Vec<Action> {
    if row["receiver"]["result"].as_str() != Some("PENDING") {
        return Vec::new();
    }
    let base = format!(
        "profitsharing/orders/{}/receivers/{}",
        encode_component(row["out_order_no"].as_str().unwrap_or_default()),
        encode_component(row["receiver"]["account"].as_str().unwrap_or_default())
    );
    let sub = sub_query(row);
    let reason = if sub.is_empty() { "?" } else { "&" };
    vec![
        Action {
            label: label("分账成功", "Succeed"),
            control: format!("{base}/succeed{sub}"),
            link: false,
        },
        Action {
            label: label("关闭 (高风险)", "Close (RECEIVER_HIGH_RISK)"),
            control: format!("{base}/close{sub}{reason}fail_reason=RECEIVER_HIGH_RISK"),
            link: false,
        },
    ]
}

const NOTIFICATIONS: Table = Table {
    id: "notifications",
    title: label("通知", "Notifications"),
    columns: &[
        col("事件", "event_type", &["/event_type"], Show::Code),
        col("订单", "Order", &["/order"], Show::Code),
        col("发往", "notify_url", &["/url"], Show::Code),
        col("次数", "Attempts", &["/attempts"], Show::Text),
        col("已送达", "Delivered", &["/delivered"], Show::YesNo),
        col(
            "商户的回答",
            "Merchant's answer",
            &["/answer"],
            Show::Folded,
        ),
    ],
    actions: notification_actions,
};

/// Offer the notification again (`POST /_mock/notifications/{seq}/resend`).
fn notification_actions(delivery: &Value) -> Vec<Action> {
    match delivery["seq"].as_u64() {
        Some(seq) => posts(
            &format!("notifications/{seq}"),
            "",
            &[("resend", "重新发送", "Resend")],
        ),
        None => Vec::new(),
    }
}

const REQUESTS: Table = Table {
    id: "requests",
    title: label("最近的请求", "Recent requests"),
    columns: &[
        col("时间", "Time", &["/time"], Show::Time),
        col("方法", "Method", &["/method"], Show::Code),
        col("请求", "Target", &["/target"], Show::Code),
        col("状态码", "Status", &["/status"], Show::Text),
        col("结论", "Verdict", &["/verdict"], Show::Text),
        col(
            "验签的消息",
            "Message verified",
            &["/signed_message"],
            Show::Folded,
        ),
    ],
    actions: no_actions,
};

/// The whole console.
fn console_page(shared: &Shared, lang: &str) -> String {
    let mchid = shared.keys.credentials.mchid;
    // Each table shows its newest rows (the page is refetched every 2 s);
    // the heading counts them all, and the JSON controls list them all.
    let (payscore, payscore_total) = shared
        .orders
        .lock()
        .map(|orders| (orders.list(mchid, SHOWN_ROWS), orders.len()))
        .unwrap_or_default();
    let (payments, payments_total) = shared
        .payments
        .lock()
        .map(|mut book| {
            let rows = book.list(mchid, crate::sign::unix_now(), SHOWN_ROWS);
            (rows, book.len())
        })
        .unwrap_or_default();
    let combines = super::actions::combine_list(shared, SHOWN_ROWS);
    let combines_total = shared.combines.lock().map(|c| c.len()).unwrap_or_default();
    let (refunds, refunds_total) = shared
        .refunds
        .lock()
        .map(|refunds| (refunds.list(SHOWN_ROWS), refunds.len()))
        .unwrap_or_default();
    let (transfers, transfers_total) = shared
        .transfers
        .lock()
        .map(|book| (book.list(SHOWN_ROWS, mchid), book.len()))
        .unwrap_or_default();
    let (sharing, sharing_total) = shared
        .profitsharing
        .lock()
        .map(|sharing| (sharing.receiver_rows(SHOWN_ROWS), sharing.len()))
        .unwrap_or_default();
    let deliveries = shared.notifier.deliveries();
    let notifications: Vec<Value> = deliveries
        .iter()
        .rev()
        .take(SHOWN_ROWS)
        .map(delivery_row)
        .collect();
    let recent = shared.log.recent();
    let requests: Vec<Value> = recent
        .iter()
        .rev()
        .take(SHOWN_ROWS)
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .collect();
    let title = label("模拟微信支付", "Mock WeChat Pay");
    let hint = format!(
        r#"<span lang="zh">商户号 {m} 的模拟环境；页面不显示任何密钥。</span> <span lang="en">The mock of merchant {m}; no page shows a key.</span>"#,
        m = esc(mchid)
    );
    let body = format!(
        r#"<header><h1>{title}</h1>
<nav aria-label="language"><a href="?lang=zh" lang="zh">中文</a> · <a href="?lang=en" lang="en">English</a> · <a href="?">中文 + English</a></nav>
<p class="hint">{hint}</p>
<button type="button" id="live" hidden aria-pressed="true">{live}</button>
<p id="status" role="status" aria-live="polite"></p>
</header>
<main>
{payments}
{combines}
{refunds}
{transfers}
{payscore}
{sharing}
{notifications}
{requests}
</main>"#,
        title = title.html(),
        live = label("实时刷新", "Live").html(),
        payments = table_of(&PAYMENTS, &payments, payments_total),
        combines = table_of(&COMBINES, &combines, combines_total),
        refunds = table_of(&REFUNDS, &refunds, refunds_total),
        transfers = table_of(&TRANSFERS, &transfers, transfers_total),
        payscore = table_of(&PAYSCORE, &payscore, payscore_total),
        sharing = table_of(&PROFIT_SHARING, &sharing, sharing_total),
        notifications = table_of(&NOTIFICATIONS, &notifications, deliveries.len()),
        requests = table_of(&REQUESTS, &requests, recent.len()),
    );
    page(lang, title, &body)
}

/// A notification as a row: what was sent where, and what came back.
fn delivery_row(d: &crate::mock::wire::notify::Delivery) -> Value {
    let order = [
        "out_order_no",
        "out_trade_no",
        "out_refund_no",
        "out_bill_no",
    ]
    .iter()
    .find_map(|k| d.resource[*k].as_str())
    .unwrap_or_default();
    // The merchant's last answer: its status and the start of its body.
    let answer = d.answers.last().map(|a| {
        let text: String = a.answer.chars().take(200).collect();
        match a.status {
            Some(status) => format!("{status} {text}"),
            None => text,
        }
    });
    json!({"seq": d.seq, "event_type": d.event_type, "order": order, "url": d.url, "attempts": d.attempts,
           "delivered": d.delivered, "answer": answer})
}

/// Rows a table shows at most: the newest.
const SHOWN_ROWS: usize = 100;

/// `rows` as the table `spec` describes, inside its `<section>`.
#[cfg(test)]
fn table(spec: &Table, rows: &[Value]) -> String {
    table_of(spec, rows, rows.len())
}

/// `rows`, the newest of `total`, as the table `spec` describes.
fn table_of(spec: &Table, rows: &[Value], total: usize) -> String {
    let mut html = format!(
        r#"<section id="{id}" data-live aria-labelledby="{id}-title"><h2 id="{id}-title">{title} <span class="count">({total})</span></h2>"#,
        id = spec.id,
        title = spec.title.html(),
    );
    if total > rows.len() {
        let (zh_all, en_all) = match spec.id {
            "payments" => (
                "；全部：GET /_mock/transactions",
                "; all: GET /_mock/transactions",
            ),
            "refunds" => ("；全部：GET /_mock/refunds", "; all: GET /_mock/refunds"),
            "transfers" => (
                "；全部：GET /_mock/transfer-bills",
                "; all: GET /_mock/transfer-bills",
            ),
            "combines" => (
                "；全部：GET /_mock/combine-transactions",
                "; all: GET /_mock/combine-transactions",
            ),
            "notifications" => (
                "；全部：GET /_mock/notifications",
                "; all: GET /_mock/notifications",
            ),
            _ => ("", ""),
        };
        // Numbers and fixed paths only: nothing here needs escaping.
        html.push_str(&format!(
            r#"<p class="hint"><span lang="zh">只显示最新的 {n} 条，共 {total} 条{zh_all}</span> <span lang="en">the newest {n} of {total}{en_all}</span></p>"#,
            n = rows.len(),
        ));
    }
    if rows.is_empty() {
        html.push_str(&format!(
            r#"<p class="empty">{}</p></section>"#,
            label("暂无", "None yet").html()
        ));
        return html;
    }
    let has_actions = rows.iter().any(|r| !(spec.actions)(r).is_empty());
    // A column empty in every row (sub_mchid for a direct merchant) is left out.
    let columns: Vec<&Column> = spec
        .columns
        .iter()
        .filter(|c| {
            rows.iter()
                .any(|r| !cell(c.value(r).as_ref(), c.show).is_empty())
        })
        .collect();
    html.push_str(r#"<div class="scroll"><table><thead><tr>"#);
    for column in &columns {
        html.push_str(&format!(
            r#"<th scope="col">{}</th>"#,
            column.heading.html()
        ));
    }
    if has_actions {
        html.push_str(&format!(
            r#"<th scope="col">{}</th>"#,
            label("操作", "Actions").html()
        ));
    }
    html.push_str("</tr></thead><tbody>");
    for row in rows {
        html.push_str("<tr>");
        for column in &columns {
            html.push_str(&format!(
                "<td>{}</td>",
                cell(column.value(row).as_ref(), column.show)
            ));
        }
        if has_actions {
            html.push_str("<td class=\"actions\">");
            for action in (spec.actions)(row) {
                if action.link {
                    html.push_str(&format!(
                        r#"<a class="button" href="/_mock/{control}" data-action="{control}">{label}</a>"#,
                        control = esc(&action.control),
                        label = action.label.html()
                    ));
                    continue;
                }
                html.push_str(&format!(
                    r#"<form method="post" action="/_mock/{control}" data-fetch><button type="submit" data-action="{control}">{label}</button></form>"#,
                    control = esc(&action.control),
                    label = action.label.html()
                ));
            }
            html.push_str("</td>");
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table></div></section>");
    html
}

fn cell(value: Option<&Value>, show: Show) -> String {
    let text = match value {
        None | Some(Value::Null) => return String::new(),
        // A direct merchant's refund has `sub_mchid: ""`: nothing to show.
        Some(Value::String(s)) if s.is_empty() => return String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    match show {
        Show::Text => esc(&text),
        Show::Code => format!("<code>{}</code>", esc(&text)),
        Show::Amount => value
            .and_then(Value::as_i64)
            .map(|fen| esc(&yuan(fen)))
            .unwrap_or_else(|| esc(&text)),
        Show::YesNo => match value.and_then(Value::as_bool) {
            Some(true) => format!(
                r#"<span class="yes">✓ {}</span>"#,
                label("是", "yes").html()
            ),
            _ => format!(r#"<span class="no">✗ {}</span>"#, label("否", "no").html()),
        },
        Show::Time => format!(
            r#"<time datetime="{}" title="{}">{}</time>"#,
            esc(&text),
            esc(&text),
            esc(text.get(11..19).unwrap_or(&text))
        ),
        Show::Folded if !text.contains('\n') && text.chars().count() <= 48 => {
            format!("<code>{}</code>", esc(&text))
        }
        Show::Folded => {
            let first: String = text.lines().next().unwrap_or("").chars().take(48).collect();
            format!(
                "<details><summary><code>{}</code></summary><pre>{}</pre></details>",
                esc(&first),
                esc(&text)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_escapes_cells_and_offers_the_actions_of_each_row() {
        let rows = [
            json!({"out_order_no": "<b>&1", "state": "CREATED", "sub_mchid": "19 00"}),
            json!({"out_order_no": "N2", "state": "DOING", "collection": {"state": "USER_PAYING"}, "total_amount": 39900}),
            json!({"out_order_no": "N3", "state": "DONE"}),
        ];
        let html = table(&PAYSCORE, &rows);
        assert!(html.contains("<code>&lt;b&gt;&amp;1</code>"), "{html}");
        assert!(!html.contains("<b>"));
        assert!(
            html.contains(r#"action="/_mock/payscore/%3Cb%3E%261/confirm?sub_mchid=19+00""#),
            "{html}"
        );
        assert!(html.contains(r#"data-action="payscore/N2/pay""#));
        assert!(html.contains("¥399.00"));
        assert_eq!(html.matches("<form").count(), 3, "{html}");
        assert!(html.contains("(3)"));
        assert!(html.contains("<code>DOING / USER_PAYING</code>"), "{html}");
        // no row has a service: no such column
        assert!(!html.contains("Service"), "{html}");
        assert!(html.contains("sub_mchid"));
    }

    #[test]
    fn a_notpay_order_offers_pay_fail_expire_and_its_cashier() {
        let rows = [
            json!({"out_trade_no": "H5 1", "trade_type": "MWEB", "trade_state": "NOTPAY",
                   "prepay_id": "wx01", "sub_mchid": "1900000111", "amount": {"total": 1}}),
            json!({"out_trade_no": "N1", "trade_type": "NATIVE", "trade_state": "NOTPAY"}),
            json!({"out_trade_no": "J1", "trade_type": "JSAPI", "trade_state": "SUCCESS"}),
        ];
        let html = table(&PAYMENTS, &rows);
        for action in ["pay", "fail", "expire"] {
            assert!(
                html.contains(&format!(
                    r#"action="/_mock/transactions/H5%201/{action}?sub_mchid=1900000111""#
                )),
                "{html}"
            );
            assert!(html.contains(&format!(r#"data-action="transactions/N1/{action}""#)));
        }
        assert!(
            html.contains(r#"href="/_mock/cashier/h5?prepay_id=wx01""#),
            "{html}"
        );
        assert!(html.contains(r#"href="/_mock/cashier/native?out_trade_no=N1""#));
        // the paid order offers nothing
        assert!(!html.contains("transactions/J1/"));
        assert_eq!(html.matches("<form").count(), 6);
    }

    #[test]
    fn a_combine_order_moves_as_a_whole_and_its_sub_orders_offer_nothing() {
        let combines = [
            json!({"combine_out_trade_no": "C 1", "trade_type": "NATIVE", "trade_state": "NOTPAY",
                   "sub_order_nos": "S1 + S2", "total": 300}),
            json!({"combine_out_trade_no": "C2", "trade_type": "JSAPI", "trade_state": "SUCCESS"}),
        ];
        let html = table(&COMBINES, &combines);
        for action in ["pay", "fail", "expire"] {
            assert!(
                html.contains(&format!(
                    r#"action="/_mock/combine-transactions/C%201/{action}""#
                )),
                "{html}"
            );
        }
        assert!(
            html.contains(r#"href="/_mock/cashier/native?combine_out_trade_no=C+1""#),
            "{html}"
        );
        assert!(html.contains("S1 + S2") && html.contains("¥3.00"));
        assert!(!html.contains("combine-transactions/C2/"));
        // a sub-order's row in the payments table: no control of its own
        let sub = [
            json!({"out_trade_no": "S1", "trade_type": "NATIVE", "trade_state": "NOTPAY",
                          "combine_out_trade_no": "C 1"}),
        ];
        let html = table(&PAYMENTS, &sub);
        assert_eq!(html.matches("<form").count(), 0, "{html}");
        assert!(html.contains("C 1"));
    }

    #[test]
    fn a_processing_refund_offers_its_three_outcomes_and_a_notification_resend() {
        let rows = [
            json!({"out_refund_no": "R1", "status": "PROCESSING", "sub_mchid": "", "amount": {"refund": 50, "total": 100}}),
            json!({"out_refund_no": "R2", "status": "SUCCESS", "sub_mchid": ""}),
        ];
        let html = table(&REFUNDS, &rows);
        for action in ["succeed", "abnormal", "close"] {
            assert!(
                html.contains(&format!(r#"action="/_mock/refunds/R1/{action}""#)),
                "{html}"
            );
        }
        assert_eq!(html.matches("<form").count(), 3);
        assert!(html.contains("¥0.50") && html.contains("¥1.00"));
        // an empty sub_mchid (a direct merchant's) is no column
        assert!(!html.contains("sub_mchid"), "{html}");
        let html = table(
            &NOTIFICATIONS,
            &[json!({"seq": 7, "event_type": "REFUND.SUCCESS"})],
        );
        assert!(html.contains(r#"action="/_mock/notifications/7/resend""#));
    }

    #[test]
    fn an_empty_table_says_so() {
        let html = table(&NOTIFICATIONS, &[]);
        assert!(html.contains("None yet") && html.contains("暂无"));
        assert!(!html.contains("<table"));
    }

    #[test]
    fn long_values_fold_and_booleans_read_as_words() {
        assert!(cell(Some(&json!("GET\n/v3/x\n")), Show::Folded)
            .starts_with("<details><summary><code>GET</code>"));
        assert_eq!(
            cell(Some(&json!("204 ")), Show::Folded),
            "<code>204 </code>"
        );
        let time = cell(Some(&json!("2026-11-28T15:53:22+08:00")), Show::Time);
        assert!(time.ends_with(">15:53:22</time>"), "{time}");
        assert!(cell(Some(&json!(true)), Show::YesNo).contains("yes"));
        assert!(cell(Some(&json!(false)), Show::YesNo).contains("no"));
        assert_eq!(cell(None, Show::Text), "");
    }

    #[test]
    fn serves_only_its_own_pages() {
        for path in [
            "",
            "console",
            "console.js",
            "jsbridge.js",
            "qr",
            "qr.svg",
            "cashier/h5",
            "cashier/native",
        ] {
            assert!(serves(path), "{path}");
        }
        assert!(!serves("requests") && !serves("notifications") && !serves("../x"));
    }
}
