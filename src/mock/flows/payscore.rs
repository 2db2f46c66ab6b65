//! Payscore (微信支付分) service orders through their whole life, direct
//! (`v3/payscore/serviceorder…`) and partner (`v3/payscore/partner/serviceorder…`).
//!
//! ```text
//! create (need_user_confirm) → CREATED ──user confirms──► DOING/USER_CONFIRM
//! DOING/USER_CONFIRM ──complete──► DOING/MCH_COMPLETE, collection USER_PAYING
//! USER_PAYING ──user pays / pay / sync Order_Paid──► DONE, collection USER_PAID
//! CREATED | DOING ──cancel──► REVOKED;  CREATED ──timeout──► EXPIRED
//! ```

use serde_json::{json, Map, Value};

use super::kept::{Kept, Key};
use crate::mock::wire::answer::Answer;
use crate::mock::wire::body::{check_notify_url, parse_body};
use crate::mock::wire::notify::Event;

/// What the user does to a service order in WeChat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UserAction {
    /// CREATED → DOING/USER_CONFIRM; PAYSCORE.USER_CONFIRM is sent.
    Confirm,
    /// What is being collected is paid (USER_PAYING → DONE/USER_PAID);
    /// PAYSCORE.USER_PAID is sent.
    Pay,
    /// The order times out unconfirmed (CREATED → EXPIRED).
    Expire,
}

/// Order state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum State {
    Created,
    Doing,
    Done,
    Revoked,
    Expired,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Created => "CREATED",
            State::Doing => "DOING",
            State::Done => "DONE",
            State::Revoked => "REVOKED",
            State::Expired => "EXPIRED",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Order {
    partner: bool,
    /// The create request as sent, for idempotency.
    create_body: Value,
    /// appid, service_id, service_introduction, post_payments, … as last set.
    fields: Map<String, Value>,
    order_id: String,
    state: State,
    /// USER_CONFIRM or MCH_COMPLETE while DOING.
    #[serde(deserialize_with = "description")]
    description: Option<StaticStr>,
    /// Set by complete, lowered by modify.
    total_amount: Option<i64>,
    paid: bool,
    paid_time: Option<String>,
    cancel_reason: Option<String>,
    /// What the create answer hands the confirm page (`package`).
    package: String,
}

/// `&'static str` under a name serde's derive does not read as borrowed.
type StaticStr = &'static str;

/// A stored `state_description`, back as the `&'static str` the book keeps.
fn description<'de, D: serde::Deserializer<'de>>(
    value: D,
) -> Result<Option<&'static str>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(value)?;
    text.map(|text| {
        ["USER_CONFIRM", "MCH_COMPLETE"]
            .into_iter()
            .find(|known| *known == text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown value {text:?}")))
    })
    .transpose()
}

/// The store's name for the payscore service orders.
const KIND: &str = "payscore";

impl Orders {
    /// Notes changes from now on, for [`Orders::save`].
    pub(crate) fn track(&mut self) {
        self.orders.track();
    }

    /// Keeps at most `limit` orders from now on (the retention setting).
    pub(crate) fn set_retention(&mut self, limit: usize) {
        self.orders.set_limit(limit);
    }

    /// The orders changed or forgotten since the last save.
    pub(crate) fn save(&mut self, batch: &mut crate::mock::wire::store::Batch) {
        self.orders.save_changes(KIND, batch);
    }

    /// Rebuilds the book from the store.
    pub(crate) fn load(&mut self, store: &crate::mock::wire::store::Store) -> Result<(), String> {
        for (key, order) in store.load::<((String, String), Order)>(KIND)? {
            // Order ids end with the book's sequence number.
            let sequence = super::kept::trailing_sequence(&order.order_id, 10);
            self.next_id = self.next_id.max(sequence);
            self.orders.insert(key, order);
        }
        Ok(())
    }
}

/// The order book: one lock, so concurrent requests on an order serialize.
/// At most [`KEPT_ORDERS`](super::kept::KEPT_ORDERS) are kept; the oldest goes first.
#[derive(Default)]
pub(crate) struct Orders {
    /// Keyed by (sub_mchid or "", out_order_no).
    orders: Kept<Key, Order>,
    next_id: u64,
}

/// A parsed payscore request.
pub(crate) struct Call<'a> {
    pub(crate) method: &'a str,
    pub(crate) partner: bool,
    /// `None` for create and query, else (out_order_no, action).
    pub(crate) order_action: Option<(String, &'a str)>,
}

/// Recognizes the payscore paths this module serves (others, such as
/// `direct-complete`, are left to the catalog).
pub(crate) fn parse_path<'a>(method: &'a str, segments: &[&'a str]) -> Option<Call<'a>> {
    let (partner, rest) = match segments {
        ["v3", "payscore", "serviceorder", rest @ ..] => (false, rest),
        ["v3", "payscore", "partner", "serviceorder", rest @ ..] => (true, rest),
        _ => return None,
    };
    let order_action = match rest {
        [] => None,
        [no, action @ ("cancel" | "complete" | "modify" | "pay" | "sync")] if method == "POST" => {
            let no = percent_encoding::percent_decode_str(no)
                .decode_utf8()
                .ok()?
                .into_owned();
            Some((no, *action))
        }
        _ => return None,
    };
    if order_action.is_none() && !matches!(method, "GET" | "POST") {
        return None;
    }
    Some(Call {
        method,
        partner,
        order_action,
    })
}

type Outcome = Result<(Answer, Option<Event>), Answer>;

impl Orders {
    /// Serves one request; `mchid` is the calling merchant (or provider),
    /// `now` the mock's clock (Unix seconds).
    pub(crate) fn serve(
        &mut self,
        call: &Call<'_>,
        mchid: &str,
        query: &[(String, String)],
        body: &[u8],
        now: i64,
    ) -> (Answer, Option<Event>) {
        let result = match (&call.order_action, call.method) {
            (None, "GET") => self.query(call.partner, mchid, query).map(|a| (a, None)),
            (None, _) => parse_body(body).and_then(|b| self.create(call.partner, mchid, b)),
            (Some((no, action)), _) => {
                parse_body(body).and_then(|b| self.act(call.partner, mchid, no, action, b, now))
            }
        };
        result.unwrap_or_else(|error| (error, None))
    }

    fn create(&mut self, partner: bool, mchid: &str, body: Map<String, Value>) -> Outcome {
        let sub = sub_mchid(partner, &body)?;
        let out_order_no = required_str(&body, "out_order_no")?.to_owned();
        for field in ["appid", "service_id", "service_introduction", "notify_url"] {
            required_str(&body, field)?;
        }
        // The rule of a payment's notify_url (issue 26: any was taken).
        check_notify_url(&body, "/notify_url")?;
        let risk_fund = required(&body, "risk_fund")?;
        risk_fund
            .get("amount")
            .and_then(Value::as_i64)
            .filter(|a| *a > 0)
            .ok_or_else(|| Answer::param_error("/risk_fund/amount", "必须是正整数 (分)"))?;
        risk_fund
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Answer::param_error("/risk_fund/name", "缺少参数"))?;
        required(&body, "time_range")?;
        if let Some(payments) = body.get("post_payments") {
            amounts(payments, "/post_payments")?;
        }
        if let Some(discounts) = body.get("post_discounts") {
            amounts(discounts, "/post_discounts")?;
        }
        let need_confirm = match body.get("need_user_confirm") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(Answer::param_error("/need_user_confirm", "必须是布尔值")),
        };
        let key = (sub.clone().unwrap_or_default(), out_order_no.clone());
        let created = Value::Object(body.clone());
        if let Some(existing) = self.orders.get(&key) {
            return if existing.create_body == created {
                Ok((Answer::json(200, &render(existing, mchid, true)), None))
            } else {
                Err(Answer::error(
                    400,
                    "INVALID_REQUEST",
                    "商户订单号已存在且参数不一致",
                    Some(
                        json!({"field": "/out_order_no", "issue": "an order with this out_order_no exists with other parameters"}),
                    ),
                ))
            };
        }
        self.next_id += 1;
        let package = new_package().map_err(|_| Answer::for_status(500))?;
        let order = Order {
            partner,
            create_body: created,
            fields: body,
            order_id: format!("1000000000{:010}", self.next_id),
            state: if need_confirm {
                State::Created
            } else {
                State::Doing
            },
            description: (!need_confirm).then_some("USER_CONFIRM"),
            total_amount: None,
            paid: false,
            paid_time: None,
            cancel_reason: None,
            package,
        };
        let answer = Answer::json(200, &render(&order, mchid, true));
        self.orders.insert(key, order);
        Ok((answer, None))
    }

    fn query(
        &self,
        partner: bool,
        mchid: &str,
        query: &[(String, String)],
    ) -> Result<Answer, Answer> {
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let sub = match (partner, get("sub_mchid")) {
            (true, None) => {
                return Err(Answer::query_error(
                    "sub_mchid",
                    "服务商模式必须传入子商户号",
                ))
            }
            (_, sub) => sub.unwrap_or_default().to_owned(),
        };
        for field in ["service_id", "appid"] {
            if get(field).is_none() {
                return Err(Answer::query_error(field, "缺少参数"));
            }
        }
        let order = match (get("out_order_no"), get("query_id")) {
            (Some(no), None) => self.orders.get(&(sub, no.to_owned())),
            (None, Some(id)) => self
                .orders
                .iter()
                .find(|((s, _), o)| *s == sub && o.order_id == id)
                .map(|(_, o)| o),
            _ => {
                return Err(Answer::query_error(
                    "out_order_no",
                    "out_order_no 和 query_id 必须且只能传一个",
                ))
            }
        }
        .filter(|o| o.partner == partner)
        .ok_or_else(not_found)?;
        check_same(order, "service_id", get("service_id"))?;
        check_same(order, "appid", get("appid"))?;
        Ok(Answer::json(200, &render(order, mchid, true)))
    }

    fn act(
        &mut self,
        partner: bool,
        mchid: &str,
        no: &str,
        action: &str,
        body: Map<String, Value>,
        now: i64,
    ) -> Outcome {
        let sub = sub_mchid(partner, &body)?;
        let appid = required_str(&body, "appid")?;
        let service_id = required_str(&body, "service_id")?;
        let key = (sub.unwrap_or_default(), no.to_owned());
        let order = self
            .orders
            .get_mut(&key)
            .filter(|o| o.partner == partner)
            .ok_or_else(not_found)?;
        check_same(order, "appid", Some(appid))?;
        check_same(order, "service_id", Some(service_id))?;
        let full_answer = match action {
            "cancel" => cancel(order, &body)?,
            "complete" => complete(order, &body)?,
            "modify" => modify(order, &body)?,
            "pay" => pay(order, now)?,
            "sync" => sync(order, &body)?,
            _ => return Err(not_found()),
        };
        let event = (action == "pay").then(|| paid_event(order, mchid));
        let answer = if partner {
            Answer::no_content()
        } else {
            Answer::json(200, &render(order, mchid, full_answer))
        };
        Ok((answer, event.flatten()))
    }

    /// The `newest` most recent orders as the query answers them, oldest
    /// first (for the console).
    pub(crate) fn list(&self, mchid: &str, newest: usize) -> Vec<Value> {
        // Kept in creation order, which is order_id order.
        self.orders
            .newest(newest)
            .map(|(_, o)| render(o, mchid, true))
            .collect()
    }

    /// Orders held.
    pub(crate) fn len(&self) -> usize {
        self.orders.len()
    }

    /// The order `no` of sub-merchant `sub` ("" for a direct merchant).
    fn order_mut(&mut self, sub: &str, no: &str) -> Result<&mut Order, Answer> {
        self.orders
            .get_mut(&(sub.to_owned(), no.to_owned()))
            .ok_or_else(not_found)
    }

    /// What the user does to order `no` of `sub` in WeChat at `now` (the
    /// mock's clock), and the notification it makes (none for an expiry).
    pub(crate) fn user_action(
        &mut self,
        mchid: &str,
        sub: &str,
        no: &str,
        action: UserAction,
        now: i64,
    ) -> Result<(Value, Option<Event>), Answer> {
        let order = self.order_mut(sub, no)?;
        let event = match action {
            UserAction::Confirm | UserAction::Expire if order.state != State::Created => {
                return Err(state_error(order))
            }
            UserAction::Confirm => {
                order.state = State::Doing;
                order.description = Some("USER_CONFIRM");
                event(order, mchid, "PAYSCORE.USER_CONFIRM", "用户确认订单")
            }
            UserAction::Pay => {
                pay(order, now)?;
                paid_event(order, mchid)
            }
            UserAction::Expire => {
                order.state = State::Expired;
                None
            }
        };
        Ok((render(order, mchid, true), event))
    }

    /// Checks the confirm page's parameters (`extraData`, or the
    /// `queryString` form) against order `no` of `sub` before the user may
    /// confirm it: the order must await confirmation, and the parameters
    /// carry its `package`, signed by `mchid` under `apiv2_key`.
    pub(crate) fn check_confirm_page(
        &self,
        mchid: &str,
        sub: &str,
        no: &str,
        extra_data: &Value,
        apiv2_key: &str,
    ) -> Result<(), Answer> {
        let order = self
            .orders
            .get(&(sub.to_owned(), no.to_owned()))
            .ok_or_else(not_found)?;
        if order.state != State::Created {
            return Err(state_error(order));
        }
        check_confirm_extra_data(
            extra_data,
            &order.package,
            mchid,
            apiv2_key,
            // Real time, not the mock's clock: the merchant signed the
            // page's timestamp with its own clock, which the mock's does not move.
            crate::clock::unix_now(),
        )
    }
}

/// How long the confirm page's `timestamp` is good for: five minutes
/// (SK `JsapiInvokeConfirm.md`: "`timestamp` 时效 5 分钟内有效").
const PAGE_TIMESTAMP_WINDOW: i64 = 300;

/// A fresh `package` in the shape WeChat Pay's own example shows (the
/// `wx.openBusinessView` page of pay.weixin.qq.com,
/// applets-confirm-wx-openbusinessview: `AAQTnZoAAAAB…`, base64url): an
/// opaque token, 100 characters here (the field is documented as at most
/// 128, though that example is longer).
fn new_package() -> Result<String, openssl::error::ErrorStack> {
    use base64::Engine as _;
    let mut bytes = [0u8; 72];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(format!(
        "AAQT{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Checks the confirm page's parameters for an order whose `package` is
/// `order_package`, as the payscore page would: `mch_id`, `package`,
/// `timestamp`, `nonce_str`, `sign_type`, `sign` all there (as the
/// mini-program's `extraData` object, or as the URL-encoded `queryString`
/// of `WeixinJSBridge` and the APP); `sign_type` `HMAC-SHA256`; `sign` the
/// APIv2 sign of the other five under `apiv2_key`; `mch_id` the merchant's;
/// `package` the order's; `timestamp` within five minutes of `now`.
///
/// A wrong signature answers `SIGN_ERROR` (SK `JsapiInvokeConfirm.md`: "错误
/// 使用 APIv3 私钥会返回 SIGN_ERROR"); the other wordings are the mock's own.
pub(crate) fn check_confirm_extra_data(
    extra_data: &Value,
    order_package: &str,
    mchid: &str,
    apiv2_key: &str,
    now: i64,
) -> Result<(), Answer> {
    let fields: Map<String, Value> = match extra_data {
        Value::Object(map) => map.clone(),
        Value::String(query) => url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
        _ => {
            return Err(Answer::param_error(
                "/extraData",
                "必须是 extraData 对象或 queryString 字符串",
            ))
        }
    };
    let mut signed = Map::new();
    for name in ["mch_id", "package", "timestamp", "nonce_str", "sign_type"] {
        let value = required_str(&fields, name)?;
        signed.insert(name.to_owned(), Value::String(value.to_owned()));
    }
    let sign = required_str(&fields, "sign")?;
    if signed["sign_type"] != "HMAC-SHA256" {
        return Err(Answer::param_error("/sign_type", "仅支持HMAC-SHA256"));
    }
    let expected = crate::v2::sign::sign(&signed, apiv2_key, crate::v2::sign::SignType::HmacSha256)
        .map_err(|_| Answer::for_status(500))?;
    let given = sign.to_ascii_uppercase();
    if !(expected.len() == given.len()
        && openssl::memcmp::eq(expected.as_bytes(), given.as_bytes()))
    {
        return Err(Answer::error(
            400,
            "SIGN_ERROR",
            "签名错误",
            Some(
                json!({"field": "/sign", "issue": "sign is not HMAC-SHA256 under the APIv2 key over mch_id, package, timestamp, nonce_str, sign_type (sorted k=v&…&key=APIv2KEY, uppercase hex)"}),
            ),
        ));
    }
    if signed["mch_id"] != mchid {
        return Err(Answer::param_error("/mch_id", "与创建订单的商户号不一致"));
    }
    if signed["package"] != order_package {
        return Err(Answer::param_error(
            "/package",
            "不是该订单创建应答中的 package",
        ));
    }
    let fresh = signed["timestamp"]
        .as_str()
        .and_then(|t| t.parse::<i64>().ok())
        .is_some_and(|t| (now - t).abs() <= PAGE_TIMESTAMP_WINDOW);
    if !fresh {
        return Err(Answer::param_error(
            "/timestamp",
            "已过期: 5 分钟内有效, 单位秒",
        ));
    }
    Ok(())
}

fn cancel(order: &mut Order, body: &Map<String, Value>) -> Result<bool, Answer> {
    let reason = required_str(body, "reason")?;
    match order.state {
        State::Created | State::Doing if !order.paid => {
            order.state = State::Revoked;
            order.description = None;
            order.cancel_reason = Some(reason.to_owned());
            Ok(false)
        }
        // cancel is idempotent: the same reason again answers as before
        State::Revoked if order.cancel_reason.as_deref() == Some(reason) => Ok(false),
        _ => Err(state_error(order)),
    }
}

fn complete(order: &mut Order, body: &Map<String, Value>) -> Result<bool, Answer> {
    if !(order.state == State::Doing && order.description == Some("USER_CONFIRM")) {
        return Err(state_error(order));
    }
    let total = checked_total(body)?;
    let risk = order
        .fields
        .get("risk_fund")
        .and_then(|r| r.get("amount"))
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    if total > risk {
        return Err(Answer::param_error(
            "/total_amount",
            "不能超过创单时的风险金额",
        ));
    }
    copy_fields(
        order,
        body,
        &[
            "post_payments",
            "post_discounts",
            "time_range",
            "location",
            "profit_sharing",
            "goods_tag",
        ],
    );
    order.description = Some("MCH_COMPLETE");
    order.total_amount = Some(total);
    if total == 0 {
        order.state = State::Done;
        order.paid = true;
    }
    Ok(true)
}

fn modify(order: &mut Order, body: &Map<String, Value>) -> Result<bool, Answer> {
    require_collecting(order)?;
    required_str(body, "reason")?;
    let total = checked_total(body)?;
    if total > order.total_amount.unwrap_or(0) {
        return Err(Answer::param_error(
            "/total_amount",
            "修改金额只能调低，不能超过原金额",
        ));
    }
    copy_fields(order, body, &["post_payments", "post_discounts", "device"]);
    order.fields.insert(
        "reason".to_owned(),
        body.get("reason").cloned().unwrap_or(Value::Null),
    );
    order.total_amount = Some(total);
    Ok(true)
}

fn pay(order: &mut Order, now: i64) -> Result<bool, Answer> {
    require_collecting(order)?;
    order.state = State::Done;
    order.paid = true;
    order.paid_time = Some(crate::clock::compact(now));
    Ok(false)
}

fn sync(order: &mut Order, body: &Map<String, Value>) -> Result<bool, Answer> {
    if required_str(body, "type")? != "Order_Paid" {
        return Err(Answer::param_error("/type", "只支持 Order_Paid"));
    }
    let paid_time = required(body, "detail")?
        .get("paid_time")
        .and_then(Value::as_str)
        .filter(|t| t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| Answer::param_error("/detail/paid_time", "格式为 yyyyMMddHHmmss"))?
        .to_owned();
    require_collecting(order)?;
    order.state = State::Done;
    order.paid = true;
    order.paid_time = Some(paid_time);
    Ok(true)
}

fn require_collecting(order: &Order) -> Result<(), Answer> {
    if order.state == State::Doing && order.description == Some("MCH_COMPLETE") && !order.paid {
        Ok(())
    } else {
        Err(state_error(order))
    }
}

/// `total_amount = Σ post_payments.amount − Σ post_discounts.amount`.
fn checked_total(body: &Map<String, Value>) -> Result<i64, Answer> {
    let total = required(body, "total_amount")?
        .as_i64()
        .filter(|t| *t >= 0)
        .ok_or_else(|| Answer::param_error("/total_amount", "必须是非负整数 (分)"))?;
    let payments = amounts(required(body, "post_payments")?, "/post_payments")?;
    let discounts = match body.get("post_discounts") {
        Some(d) => amounts(d, "/post_discounts")?,
        None => 0,
    };
    if payments - discounts != total {
        return Err(Answer::param_error(
            "/total_amount",
            &format!("应等于 post_payments 合计 {payments} 减 post_discounts 合计 {discounts}"),
        ));
    }
    Ok(total)
}

fn amounts(list: &Value, field: &str) -> Result<i64, Answer> {
    let items = list
        .as_array()
        .ok_or_else(|| Answer::param_error(field, "必须是数组"))?;
    items.iter().enumerate().try_fold(0i64, |sum, (i, item)| {
        item.get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Answer::param_error(&format!("{field}/{i}/name"), "缺少参数"))?;
        let amount = item
            .get("amount")
            .and_then(Value::as_i64)
            .filter(|a| *a >= 0)
            .ok_or_else(|| {
                Answer::param_error(&format!("{field}/{i}/amount"), "必须是非负整数 (分)")
            })?;
        sum.checked_add(amount)
            .ok_or_else(|| Answer::param_error(field, "金额合计溢出"))
    })
}

fn copy_fields(order: &mut Order, body: &Map<String, Value>, names: &[&str]) {
    for name in names {
        if let Some(value) = body.get(*name) {
            order.fields.insert((*name).to_owned(), value.clone());
        }
    }
}

fn check_same(order: &Order, field: &str, given: Option<&str>) -> Result<(), Answer> {
    let stored = order.fields.get(field).and_then(Value::as_str);
    if given.is_some() && stored != given {
        return Err(Answer::param_error(&format!("/{field}"), "与订单不一致"));
    }
    Ok(())
}

fn sub_mchid(partner: bool, body: &Map<String, Value>) -> Result<Option<String>, Answer> {
    if partner {
        Ok(Some(required_str(body, "sub_mchid")?.to_owned()))
    } else {
        Ok(None)
    }
}

fn required<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a Value, Answer> {
    body.get(field)
        .filter(|v| !v.is_null())
        .ok_or_else(|| Answer::param_error(&format!("/{field}"), "缺少参数"))
}

fn required_str<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, Answer> {
    required(body, field)?
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Answer::param_error(&format!("/{field}"), "必须是非空字符串"))
}

fn not_found() -> Answer {
    Answer::error(404, "ORDER_NOT_EXIST", "订单不存在", None)
}

fn state_error(order: &Order) -> Answer {
    let detail =
        Some(json!({"state": order.state.as_str(), "state_description": order.description}));
    match order.state {
        State::Done => Answer::error(400, "ORDER_DONE", "订单已完成", detail),
        State::Revoked => Answer::error(400, "ORDER_CANCELED", "订单已取消", detail),
        _ => Answer::error(400, "INVALID_ORDER_STATE", "订单状态不正确", detail),
    }
}

fn paid_event(order: &Order, mchid: &str) -> Option<Event> {
    event(order, mchid, "PAYSCORE.USER_PAID", "用户支付成功")
}

fn event(
    order: &Order,
    mchid: &str,
    event_type: &'static str,
    summary: &'static str,
) -> Option<Event> {
    let notify_url = order.fields.get("notify_url")?.as_str()?.to_owned();
    Some(Event {
        notify_url,
        event_type,
        summary,
        original_type: "payscore",
        associated_data: "payscore",
        resource: render(order, mchid, true),
    })
}

/// The order as WeChat Pay returns it; `full` adds everything, otherwise the
/// short form (`appid`, `mchid`, `out_order_no`, `service_id`, `order_id`).
fn render(order: &Order, mchid: &str, full: bool) -> Value {
    let mut out = Map::new();
    let field = |name: &str| order.fields.get(name).cloned().unwrap_or(Value::Null);
    out.insert("appid".into(), field("appid"));
    out.insert("mchid".into(), json!(mchid));
    if order.partner {
        out.insert("sub_mchid".into(), field("sub_mchid"));
    }
    out.insert("out_order_no".into(), field("out_order_no"));
    out.insert("service_id".into(), field("service_id"));
    out.insert("order_id".into(), json!(order.order_id));
    if !full {
        return Value::Object(out);
    }
    out.insert("state".into(), json!(order.state.as_str()));
    if let (State::Doing, Some(description)) = (order.state, order.description) {
        out.insert("state_description".into(), json!(description));
    }
    for name in [
        "service_introduction",
        "post_payments",
        "post_discounts",
        "risk_fund",
        "time_range",
        "location",
        "attach",
        "notify_url",
        "device",
        "reason",
    ] {
        if let Some(value) = order.fields.get(name) {
            out.insert(name.into(), value.clone());
        }
    }
    if let Some(total) = order.total_amount {
        out.insert("total_amount".into(), json!(total));
    }
    out.insert("need_collection".into(), json!(true));
    if order.state == State::Created
        && order.fields.get("need_user_confirm") != Some(&Value::Bool(false))
    {
        out.insert("package".into(), json!(order.package));
    }
    if let Some(total) = order.total_amount {
        let (state, paid) = if order.paid {
            ("USER_PAID", total)
        } else {
            ("USER_PAYING", 0)
        };
        let mut collection = json!({"state": state, "total_amount": total, "paying_amount": total - paid, "paid_amount": paid});
        if let Some(time) = &order.paid_time {
            collection["details"] =
                json!([{"seq": 1, "amount": paid, "paid_type": "NEWTON", "paid_time": time}]);
        }
        out.insert("collection".into(), collection);
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    //! The confirm page's signature is computed here with OpenSSL's HMAC
    //! over the sorted fields written out by hand, not with the SDK's signer.
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::sign::Signer;
    use serde_json::{json, Value};

    use super::{check_confirm_extra_data, parse_path, Orders, UserAction};

    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";
    const MCHID: &str = "1900000109";
    const NOW: i64 = 1_530_097_563;

    fn hmac(text: &str) -> String {
        let key = PKey::hmac(KEY.as_bytes()).unwrap();
        let mut signer = Signer::new(MessageDigest::sha256(), &key).unwrap();
        signer.update(text.as_bytes()).unwrap();
        signer
            .sign_to_vec()
            .unwrap()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    fn extra_data(package: &str, timestamp: i64) -> Value {
        let text = format!(
            "mch_id={MCHID}&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&package={package}&sign_type=HMAC-SHA256&timestamp={timestamp}&key={KEY}"
        );
        json!({"mch_id": MCHID, "package": package, "timestamp": timestamp.to_string(),
               "nonce_str": "zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2", "sign_type": "HMAC-SHA256",
               "sign": hmac(&text)})
    }

    fn code(result: Result<(), super::Answer>) -> String {
        let answer = result.unwrap_err();
        let body: Value = serde_json::from_slice(&answer.body).unwrap();
        body["code"].as_str().unwrap().to_owned()
    }

    fn created_package(orders: &mut Orders) -> String {
        let body = json!({
            "out_order_no": "1234323JKHDFE1243252", "appid": "wxd678efh567hg6787",
            "service_id": "2002000000000558128851361561536", "service_introduction": "某某酒店",
            "risk_fund": {"name": "DEPOSIT", "amount": 10000}, "time_range": {"start_time": "OnAccept"},
            "notify_url": "https://example.com/notify", "need_user_confirm": true,
        });
        let call = parse_path("POST", &["v3", "payscore", "serviceorder"]).unwrap();
        let (answer, _) = orders.serve(&call, MCHID, &[], body.to_string().as_bytes(), NOW);
        assert_eq!(answer.status, 200);
        let created: Value = serde_json::from_slice(&answer.body).unwrap();
        created["package"].as_str().unwrap().to_owned()
    }

    #[test]
    fn the_book_forgets_the_oldest_past_its_limit() {
        let mut orders = Orders::default();
        let call = parse_path("POST", &["v3", "payscore", "serviceorder"]).unwrap();
        for i in 0..super::super::kept::KEPT_ORDERS + 3 {
            let body = json!({
                "out_order_no": format!("EVICT{i:08}"), "appid": "wxd678efh567hg6787",
                "service_id": "2002000000000558128851361561536", "service_introduction": "某某酒店",
                "risk_fund": {"name": "DEPOSIT", "amount": 10000}, "time_range": {"start_time": "OnAccept"},
                "notify_url": "https://example.com/notify",
            });
            assert_eq!(
                orders
                    .serve(&call, MCHID, &[], body.to_string().as_bytes(), NOW)
                    .0
                    .status,
                200
            );
        }
        assert_eq!(
            (orders.orders.len(), orders.orders.keys().len()),
            (
                super::super::kept::KEPT_ORDERS,
                super::super::kept::KEPT_ORDERS
            )
        );
        assert!(orders
            .orders
            .get(&(String::new(), "EVICT00000002".to_owned()))
            .is_none());
        assert!(orders
            .orders
            .get(&(String::new(), "EVICT00000003".to_owned()))
            .is_some());
    }

    #[test]
    fn the_create_answer_carries_an_opaque_base64url_package() {
        let mut orders = Orders::default();
        let package = created_package(&mut orders);
        assert!(package.starts_with("AAQT"), "{package}");
        assert!(package.len() <= 128, "{package}");
        assert!(
            package
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{package}"
        );
        // re-entry with the same parameters answers the same package
        assert_eq!(created_package(&mut orders), package);
    }

    #[test]
    fn the_matching_extra_data_passes_in_both_forms() {
        let package = "AAQTnZoAAAABAAAAAAD8m2b8VRdZ2kVdKmHNZiAAAABcwQVtru-5k9MmEOZJ_Pv";
        let extra = extra_data(package, NOW);
        assert!(check_confirm_extra_data(&extra, package, MCHID, KEY, NOW + 10).is_ok());
        let query = format!(
            "mch_id={MCHID}&package={package}&timestamp={NOW}&nonce_str=zyx53Nkey8o4bHpxTQvd8m7e92nG5mG2&sign_type=HMAC-SHA256&sign={}",
            extra["sign"].as_str().unwrap()
        );
        assert!(check_confirm_extra_data(&json!(query), package, MCHID, KEY, NOW).is_ok());
    }

    #[test]
    fn mismatches_are_refused() {
        let package = "AAQTone";
        let good = extra_data(package, NOW);
        // another order's package, signed correctly
        let other = extra_data("AAQTother", NOW);
        // a tampered sign
        let mut tampered = good.clone();
        tampered["nonce_str"] = json!("another");
        // a field missing
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("timestamp");
        let another_key = "another-apiv2-key-000000000000000";
        // (what, extraData, merchant, key, now, the code WeChat Pay answers)
        let cases = [
            (
                "another order's package",
                &other,
                MCHID,
                KEY,
                NOW,
                "PARAM_ERROR",
            ),
            ("a tampered sign", &tampered, MCHID, KEY, NOW, "SIGN_ERROR"),
            (
                "signed with another key",
                &good,
                MCHID,
                another_key,
                NOW,
                "SIGN_ERROR",
            ),
            ("stale", &good, MCHID, KEY, NOW + 301, "PARAM_ERROR"),
            (
                "another merchant",
                &good,
                "1230000109",
                KEY,
                NOW,
                "PARAM_ERROR",
            ),
            ("a field missing", &missing, MCHID, KEY, NOW, "PARAM_ERROR"),
        ];
        for (what, extra, mchid, key, now, expected) in cases {
            let refused = check_confirm_extra_data(extra, package, mchid, key, now);
            assert_eq!(code(refused), expected, "{what}");
        }
    }

    #[test]
    fn what_the_sdk_builds_passes_against_the_order() {
        let mut orders = Orders::default();
        let package = created_package(&mut orders);
        let client = crate::Client::builder()
            .mchid(MCHID)
            .merchant_serial("3775B6A45ACD588826D15E583A95F5DD2A00B0D8")
            .private_key_pem(include_str!("../data/merchant_key.pem"))
            .apiv2_key(KEY)
            .build_for_signing_only()
            .unwrap();
        let page = client.invocation().payscore_confirm(&package).unwrap();
        let extra = serde_json::to_value(&page).unwrap();
        assert!(orders
            .check_confirm_page(MCHID, "", "1234323JKHDFE1243252", &extra, KEY)
            .is_ok());
        assert!(orders
            .check_confirm_page(
                MCHID,
                "",
                "1234323JKHDFE1243252",
                &json!(page.query_string()),
                KEY
            )
            .is_ok());
        // once confirmed, there is nothing to confirm
        orders
            .user_action(MCHID, "", "1234323JKHDFE1243252", UserAction::Confirm, NOW)
            .unwrap();
        assert!(orders
            .check_confirm_page(MCHID, "", "1234323JKHDFE1243252", &extra, KEY)
            .is_err());
    }
}
