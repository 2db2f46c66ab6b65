//! Combine payments (合单支付, `v3/combine-transactions/…`): one payment of
//! several orders, answered in WeChat Pay's shapes (FLOWS.md §4.1, §4.3).
//!
//! ```text
//! create (2–10 sub-orders direct, 1–50 partner) → every sub-order NOTPAY
//! NOTPAY ──user pays──► every sub-order SUCCESS (all or none) ──refund one──► that one REFUND
//! NOTPAY ──close / time_expire──► every sub-order CLOSED
//! ```
//!
//! **Each sub-order is a payment order** in the payments store, marked with
//! its combine order ([`Payment::combine`]): the refund flow finds it by its
//! own `transaction_id`/`out_trade_no` as it finds any order, the trade bill
//! has a row for it, and its state is kept once, there. The normal query
//! and close answer `ORDER_NOT_EXIST` for it, as WeChat Pay does (SK
//! 合单支付常见问题 四#1). This module keeps only the envelope: the request,
//! the prepay id or code, the `combine_transaction_id`, and the keys of
//! the sub-orders. A refund by `combine_out_trade_no` finds no order and is
//! refused as any unknown order is (404 `RESOURCE_NOT_EXISTS` 订单不存在).
//!
//! Keyed by `combine_out_trade_no`: the mock has one merchant, who is
//! `combine_mchid` and every sub-order's `mchid`. A sub-order with a
//! `sub_mchid` makes the order a partner's (服务商). Locked before the
//! payments whenever both are.

use serde_json::{json, Map, Value};

use super::kept::{trailing_sequence, Book, Ids, Key};
use super::payments::{
    code_url, expiry, fresh_code, fresh_prepay_id, prepay_answer, same_merchant, Payment, Payments,
    TradeState, PREPAY_LIFETIME,
};
use crate::clock;
use crate::mock::wire::answer::Answer;
use crate::mock::wire::body::{
    at, check_notify_url, merchant_number, optional_str, parse_body, query_param, required,
    required_fen, required_str,
};
use crate::mock::wire::notify::Event;
use crate::mock::wire::store::{self, known_str, Batch, StaticStr, Store};

/// Sub-orders a direct merchant's combine order has (SK 合单支付常见问题 二#3).
const DIRECT_SUB_ORDERS: std::ops::RangeInclusive<usize> = 2..=10;
/// Sub-orders a service provider's combine order has (same source; DOC apilist-native).
const PARTNER_SUB_ORDERS: std::ops::RangeInclusive<usize> = 1..=50;
/// What an `out_trade_no` (or `combine_out_trade_no`) may be, in WeChat Pay's words.
const OUT_TRADE_NO_RULE: &str = "6-32 个字符, 只能是数字、大小写字母或 _-|*";
/// The most a sub-order may cost: 1000 万 yuan, in fen (SK 八#8).
const MAX_SUB_ORDER_FEN: i64 = 10_000_000 * 100;

/// Which operation a request is, from its catalog template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Place a combine order of this trade type.
    Create(&'static str),
    QueryByOutTradeNo,
    QueryById,
    Close,
}

impl Operation {
    pub(crate) fn from_template(method: &str, template: &str) -> Option<Self> {
        let rest = template.strip_prefix("v3/combine-transactions/")?;
        Some(match (method, rest) {
            ("POST", "jsapi" | "miniprogram") => Operation::Create("JSAPI"),
            ("POST", "app") => Operation::Create("APP"),
            ("POST", "h5") => Operation::Create("MWEB"),
            ("POST", "native") => Operation::Create("NATIVE"),
            ("GET", "out-trade-no/{combine_out_trade_no}") => Operation::QueryByOutTradeNo,
            ("GET", "id/{combine_transaction_id}") => Operation::QueryById,
            ("POST", "out-trade-no/{combine_out_trade_no}/close") => Operation::Close,
            _ => return None,
        })
    }
}

/// One request to this flow.
pub(crate) struct Call<'a> {
    pub(crate) operation: Operation,
    pub(crate) params: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    /// The calling merchant, from its signature: `combine_mchid`.
    pub(crate) mchid: &'a str,
    /// `http://host:port/`, for the `h5_url` that leads to the cashier.
    pub(crate) base_url: &'a str,
    pub(crate) now: i64,
}

/// A sub-order's key in the payments store: `(sub_mchid or "", out_trade_no)`.
type SubKey = (String, String);

/// One combine order: the envelope of its sub-orders.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Combine {
    /// `JSAPI`, `APP`, `MWEB` (H5) or `NATIVE`.
    #[serde(deserialize_with = "trade_type")]
    trade_type: StaticStr,
    /// The create request as first sent: re-entry must repeat it.
    request: Map<String, Value>,
    sub_orders: Vec<SubKey>,
    #[serde(deserialize_with = "store::unix")]
    created: i64,
    prepay_id: String,
    #[serde(deserialize_with = "store::unix")]
    prepay_issued: i64,
    code: String,
    combine_transaction_id: Option<String>,
    /// Failed payment attempts (the order stays NOTPAY).
    failures: u32,
}

impl Combine {
    fn str(&self, pointer: &str) -> &str {
        optional_str(&self.request, pointer).unwrap_or_default()
    }

    fn out_trade_no(&self) -> &str {
        self.str("/combine_out_trade_no")
    }

    fn appid(&self) -> &str {
        self.str("/combine_appid")
    }

    fn prepay_is_live(&self, now: i64) -> bool {
        now < self.prepay_issued + PREPAY_LIFETIME
    }

    fn created_answer(&self, base_url: &str) -> Value {
        prepay_answer(self.trade_type, &self.prepay_id, &self.code, base_url)
    }
}

/// What a combine order is found by besides its `combine_out_trade_no`.
const BY_PREPAY: usize = 0;
const BY_CODE: usize = 1;
const BY_ID: usize = 2;

impl Ids<3> for Combine {
    fn ids(&self) -> [Option<&str>; 3] {
        [
            Some(&self.prepay_id),
            Some(&self.code),
            self.combine_transaction_id.as_deref(),
        ]
    }
}

/// A combine order's key in its book: the merchant's (no sub-merchant) and
/// its `combine_out_trade_no`.
fn key(no: &str) -> Key {
    (String::new(), no.to_owned())
}

/// The combine orders.
#[derive(Default)]
pub(crate) struct Combines {
    orders: Book<Combine, 3>,
    next: u64,
}

/// A stored `trade_type`, back as the `&'static str` the book keeps.
fn trade_type<'de, D: serde::Deserializer<'de>>(value: D) -> Result<&'static str, D::Error> {
    known_str(value, &["JSAPI", "APP", "MWEB", "NATIVE"])
}

/// The store's name for the combine orders' envelopes (their sub-orders
/// are payment orders, kept with those).
const KIND: &str = "combine";

impl Combines {
    /// Keeps at most `limit` combine orders from now on (the retention setting).
    pub(crate) fn set_retention(&mut self, limit: usize) {
        self.orders.set_limit(limit);
    }

    /// Notes changes from now on, for [`Combines::save`].
    pub(crate) fn track(&mut self) {
        self.orders.track();
    }

    /// The combine orders changed or forgotten since the last save.
    pub(crate) fn save(&mut self, batch: &mut Batch) {
        self.orders.save_changes(KIND, batch);
    }

    /// The last sequence number a `combine_transaction_id` was given: an id is given
    /// at payment, so the order holding the newest may be the oldest, the
    /// first forgotten; the server keeps it with its state.
    pub(crate) fn sequence(&self) -> u64 {
        self.next
    }

    /// Numbers on from at least `sequence` ([`Combines::sequence`] as stored).
    pub(crate) fn resume_from(&mut self, sequence: u64) {
        self.next = self.next.max(sequence);
    }

    /// Rebuilds the book (and its indexes) from the store.
    pub(crate) fn load(&mut self, store: &Store) -> Result<(), String> {
        let mut next = self.next;
        self.orders.load(store, KIND, |order: &Combine| {
            // combine_transaction_id ends with the book's sequence number.
            if let Some(id) = &order.combine_transaction_id {
                next = next.max(trailing_sequence(id, 13));
            }
        })?;
        self.next = next;
        Ok(())
    }
}

/// What the simulated user does to a combine order (the pay control's verbs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Pay,
    Fail,
    Expire,
}

/// One move of the simulated user ([`Combines::act`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Step<'a> {
    pub(crate) action: Action,
    /// The `combine_out_trade_no`.
    pub(crate) no: &'a str,
    /// Who pays, if the control names the payer.
    pub(crate) openid: Option<&'a str>,
    /// The merchant (`combine_mchid`).
    pub(crate) mchid: &'a str,
    pub(crate) now: i64,
}

/// The combine order's state as one word: `NOTPAY` while every sub-order
/// is, `CLOSED` once they are closed, `SUCCESS` once paid (a sub-order may
/// since be REFUND). Sub-orders move together; the word is the mock's own.
fn overall(states: &[TradeState]) -> &'static str {
    if states.iter().all(|s| *s == TradeState::NotPay) {
        "NOTPAY"
    } else if states
        .iter()
        .any(|s| matches!(s, TradeState::Success | TradeState::Refund))
    {
        "SUCCESS"
    } else {
        "CLOSED"
    }
}

impl Combines {
    /// Serves one request; the payments are locked by the caller (always
    /// after the combine orders).
    pub(crate) fn serve(&mut self, payments: &mut Payments, call: &Call<'_>) -> Answer {
        let result = match call.operation {
            Operation::Create(trade_type) => self.create(payments, call, trade_type),
            Operation::QueryByOutTradeNo => {
                let no = query_param(call.params, "combine_out_trade_no").unwrap_or_default();
                self.query(payments, no, call)
            }
            Operation::QueryById => {
                let id = query_param(call.params, "combine_transaction_id").unwrap_or_default();
                match self.orders.key_of(BY_ID, id).map(|(_, no)| no.clone()) {
                    Some(no) => self.query(payments, &no, call),
                    None => Err(order_not_exist()),
                }
            }
            Operation::Close => self.close(payments, call),
        };
        result.unwrap_or_else(|refusal| refusal)
    }

    fn create(
        &mut self,
        payments: &mut Payments,
        call: &Call<'_>,
        trade_type: &'static str,
    ) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let subs = check_create(&body, trade_type, call.mchid)?;
        let no = required_str(&body, "/combine_out_trade_no")?.to_owned();
        let now = call.now;
        if let Some(order) = self.orders.get_mut(&key(&no)) {
            let states = states(payments, order, now)?;
            match overall(&states) {
                "SUCCESS" => return Err(Answer::error(403, "ORDER_PAID", "订单已支付", None)),
                "CLOSED" => return Err(Answer::error(400, "ORDER_CLOSED", "订单已关闭", None)),
                _ => {}
            }
            if order.request != body || order.trade_type != trade_type {
                return Err(reentry_refused(&order.request, &body));
            }
            // Re-entry with the same parameters: a fresh prepay_id / code_url.
            let (prepay_id, code) = (fresh_prepay_id(now)?, fresh_code()?);
            let old_prepay_id = std::mem::replace(&mut order.prepay_id, prepay_id.clone());
            let old_code = std::mem::replace(&mut order.code, code.clone());
            order.prepay_issued = now;
            let answer = Answer::json(200, &order.created_answer(call.base_url));
            self.orders.forget_id(BY_PREPAY, &old_prepay_id);
            self.orders.forget_id(BY_CODE, &old_code);
            self.orders.add_id(BY_PREPAY, prepay_id, key(&no));
            self.orders.add_id(BY_CODE, code, key(&no));
            return Ok(answer);
        }
        for (i, (sub, out_trade_no)) in subs.iter().enumerate() {
            if payments.find(sub, out_trade_no).is_some() {
                // FLOWS.md §1.5: 403 OUT_TRADE_NO_USED 商户订单号重复.
                return Err(Answer::error(
                    403,
                    "OUT_TRADE_NO_USED",
                    "商户订单号重复",
                    Some(
                        json!({"field": format!("/sub_orders/{i}/out_trade_no"), "location": "body"}),
                    ),
                ));
            }
        }
        let expires = expiry(&body, now)?;
        for (i, (sub, out_trade_no)) in subs.iter().enumerate() {
            let request = sub_order_request(&body, i, call.mchid);
            let partner = !sub.is_empty();
            let order = Payment::sub_order(&no, partner, trade_type, request, now, expires);
            payments.insert_sub_order(sub, out_trade_no, order);
        }
        let order = Combine {
            trade_type,
            request: body,
            sub_orders: subs,
            created: now,
            prepay_id: fresh_prepay_id(now)?,
            prepay_issued: now,
            code: fresh_code()?,
            combine_transaction_id: None,
            failures: 0,
        };
        let answer = Answer::json(200, &order.created_answer(call.base_url));
        self.orders.insert(key(&no), order);
        Ok(answer)
    }

    fn query(
        &mut self,
        payments: &mut Payments,
        no: &str,
        call: &Call<'_>,
    ) -> Result<Answer, Answer> {
        let order = self.orders.get(&key(no)).ok_or_else(order_not_exist)?;
        states(payments, order, call.now)?;
        Ok(Answer::json(
            200,
            &render(order, payments, call.mchid, call.now, false),
        ))
    }

    fn close(&mut self, payments: &mut Payments, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let appid = required_str(&body, "/combine_appid")?;
        let listed = required(&body, "/sub_orders")?
            .as_array()
            .ok_or_else(|| Answer::param_error("/sub_orders", "必须是数组"))?;
        if listed.len() > *PARTNER_SUB_ORDERS.end() {
            return Err(Answer::param_error("/sub_orders", "最多 50 笔子单"));
        }
        let mut given = Vec::with_capacity(listed.len());
        for i in 0..listed.len() {
            let mchid = required_str(&body, &format!("/sub_orders/{i}/mchid"))?;
            let out_trade_no = required_str(&body, &format!("/sub_orders/{i}/out_trade_no"))?;
            let sub =
                optional_str(&body, &format!("/sub_orders/{i}/sub_mchid")).unwrap_or_default();
            given.push((mchid.to_owned(), sub.to_owned(), out_trade_no.to_owned()));
        }
        let no = query_param(call.params, "combine_out_trade_no").unwrap_or_default();
        let order = self.orders.get(&key(no)).ok_or_else(order_not_exist)?;
        if appid != order.appid() {
            return Err(Answer::error(
                400,
                "APPID_MCHID_NOT_MATCH",
                "appid和mch_id不匹配，请检查后再试",
                Some(json!({"field": "/combine_appid", "location": "body",
                    "issue": "not the combine_appid the order was placed with"})),
            ));
        }
        let mut placed: Vec<(String, String, String)> = order
            .sub_orders
            .iter()
            .map(|(sub, out)| (call.mchid.to_owned(), sub.clone(), out.clone()))
            .collect();
        placed.sort();
        given.sort();
        if placed != given {
            // SK 合单支付常见问题 二#4 and 八#12: a close that does not list
            // exactly the sub-orders placed (count, mchid, out_trade_no) fails
            // with a 500; the detail is the mock's, to say why.
            return Err(Answer::error(
                500,
                "SYSTEM_ERROR",
                "系统繁忙，请稍后重试",
                Some(json!({"location": "body", "field": "/sub_orders",
                    "issue": format!("a combine close must list exactly the {} sub-orders the order was placed with (mchid, sub_mchid, out_trade_no); {} were given", placed.len(), given.len())})),
            ));
        }
        let states = states(payments, order, call.now)?;
        if overall(&states) == "SUCCESS" {
            return Err(Answer::error(
                400,
                "ORDER_PAID",
                "订单已支付，不能关单，请发起退款",
                None,
            ));
        }
        // Closing is re-entrant (关单接口可重入).
        for (sub, out_trade_no) in &order.sub_orders {
            if let Some(sub_order) = payments.get_mut(sub, out_trade_no, call.now) {
                sub_order.state = TradeState::Closed;
            }
        }
        Ok(Answer::no_content())
    }

    /// The simulated user acts on combine order `no` as a whole (SK 八#1:
    /// every sub-order is paid, or none): pay sends TRANSACTION.SUCCESS
    /// with every sub-order; fail leaves it NOTPAY; expire closes it.
    /// `check` sees the order (appid, live prepay id, trade type) before
    /// anything changes: the front end's parameters are checked there.
    pub(crate) fn act(
        &mut self,
        payments: &mut Payments,
        step: &Step<'_>,
        check: impl FnOnce(&str, &str, &str) -> Result<(), Answer>,
    ) -> Result<(Value, Option<Event>), Answer> {
        let Step {
            action,
            no,
            openid,
            mchid,
            now,
        } = *step;
        let sequence = self.next + 1;
        let order = self
            .orders
            .get_mut(&key(no))
            .ok_or_else(|| unknown_combine(no))?;
        let states = states(payments, order, now)?;
        let state = overall(&states);
        if state != "NOTPAY" {
            let verb = match action {
                Action::Pay => "pay",
                Action::Fail => "fail",
                Action::Expire => "expire",
            };
            return Err(Answer::error(
                409,
                "INVALID_ORDER_STATE",
                &format!("cannot {verb} combine order {no}: only an unpaid (NOTPAY) combine order can {verb}"),
                Some(json!({ "trade_state": state })),
            ));
        }
        match action {
            Action::Fail => {
                order.failures += 1;
            }
            Action::Expire => {
                for (sub, out_trade_no) in &order.sub_orders {
                    if let Some(sub_order) = payments.get_mut(sub, out_trade_no, now) {
                        sub_order.expires = now;
                        sub_order.state = TradeState::Closed;
                    }
                }
            }
            Action::Pay => {
                let live = if order.prepay_is_live(now) {
                    order.prepay_id.as_str()
                } else {
                    ""
                };
                check(order.appid(), live, order.trade_type)?;
                let ordered = optional_str(&order.request, "/combine_payer_info/openid");
                if let (Some(ordered), Some(paying)) = (ordered, openid) {
                    if ordered != paying {
                        // The WeChat client's words (SK 合单支付常见问题 三, JSAPI #4).
                        return Err(Answer::error(
                            403,
                            "INVALID_REQUEST",
                            "下单账号与支付账号不一致，请核实后再支付",
                            Some(
                                json!({"issue": format!("the order was placed for openid {ordered}, not {paying}")}),
                            ),
                        ));
                    }
                }
                let payer = openid.or(ordered);
                for (sub, out_trade_no) in &order.sub_orders {
                    payments.settle(sub, out_trade_no, payer, now)?;
                }
                let id = format!("4210000{}{:013}", &clock::compact(now)[..8], sequence);
                order.combine_transaction_id = Some(id.clone());
                self.next = sequence;
                self.orders.add_id(BY_ID, id, key(no));
            }
        }
        let order = self
            .orders
            .get(&key(no))
            .ok_or_else(|| unknown_combine(no))?;
        let answer = render(order, payments, mchid, now, false);
        let event = (action == Action::Pay).then(|| Event {
            notify_url: order.str("/notify_url").to_owned(),
            event_type: "TRANSACTION.SUCCESS",
            summary: "支付成功",
            original_type: "transaction",
            associated_data: "transaction",
            resource: render(order, payments, mchid, now, true),
        });
        Ok((answer, event))
    }

    /// The combine order whose live prepay id this is.
    pub(crate) fn by_prepay_id(&self, prepay_id: &str) -> Option<String> {
        let (_, no) = self.orders.key_of(BY_PREPAY, prepay_id)?;
        Some(no.clone())
    }

    /// The live prepay id of combine order `no` (none once it has expired).
    pub(crate) fn live_prepay_id(&self, no: &str, now: i64) -> Option<String> {
        let order = self.orders.get(&key(no))?;
        order.prepay_is_live(now).then(|| order.prepay_id.clone())
    }

    /// The combine order a Native `code_url`'s `pr` names.
    pub(crate) fn by_code(&self, code: &str) -> Option<String> {
        let (_, no) = self.orders.key_of(BY_CODE, code)?;
        Some(no.clone())
    }

    /// Combine orders held.
    pub(crate) fn len(&self) -> usize {
        self.orders.len()
    }

    /// The `newest` most recent combine orders, oldest first, as the
    /// console and `GET /_mock/combine-transactions` list them: the query's
    /// answer with what the mock knows besides (the mock's own fields:
    /// `trade_type`, `trade_state` of the whole, `total`, `prepay_id`,
    /// `code_url`, `notify_url`, `description`, `create_time`).
    pub(crate) fn list(
        &self,
        payments: &mut Payments,
        mchid: &str,
        now: i64,
        newest: usize,
    ) -> Vec<Value> {
        self.orders
            .newest_keys(newest)
            .iter()
            .filter_map(|(_, no)| self.shown(payments, no, mchid, now))
            .collect()
    }

    /// One combine order as the list, the cashier and the bridge show it.
    pub(crate) fn shown(
        &self,
        payments: &mut Payments,
        no: &str,
        mchid: &str,
        now: i64,
    ) -> Option<Value> {
        let order = self.orders.get(&key(no))?;
        let states = states(payments, order, now).unwrap_or_default();
        let mut row = render(order, payments, mchid, now, false);
        let mut total = 0;
        let mut descriptions = Vec::new();
        for (i, _) in order.sub_orders.iter().enumerate() {
            total += at(
                &order.request,
                &format!("/sub_orders/{i}/amount/total_amount"),
            )
            .and_then(Value::as_i64)
            .unwrap_or(0);
            descriptions.push(
                order
                    .str(&format!("/sub_orders/{i}/description"))
                    .to_owned(),
            );
        }
        row["trade_type"] = json!(order.trade_type);
        row["trade_state"] = json!(overall(&states));
        row["total"] = json!(total);
        // As the cashier pages read an order: out_trade_no, amount.total, description.
        row["out_trade_no"] = json!(order.out_trade_no());
        row["amount"] = json!({ "total": total });
        row["description"] = json!(descriptions.join(" + "));
        let numbers: Vec<&str> = order.sub_orders.iter().map(|(_, no)| no.as_str()).collect();
        row["sub_order_nos"] = json!(numbers.join(" + "));
        row["prepay_id"] = json!(order.prepay_id);
        match order.trade_type {
            "NATIVE" => row["code_url"] = json!(code_url(&order.code)),
            // The `package` of its h5_url.
            "MWEB" => row["package"] = json!(order.code),
            _ => {}
        }
        row["notify_url"] = json!(order.str("/notify_url"));
        row["create_time"] = json!(clock::rfc3339(order.created));
        row["failures"] = json!(order.failures);
        row["pay_control"] = json!(format!(
            "/_mock/combine-transactions/{}/pay",
            crate::path::encode_component(order.out_trade_no())
        ));
        Some(row)
    }
}

/// The sub-orders' states, time applied; a forgotten sub-order is an error.
fn states(payments: &mut Payments, order: &Combine, now: i64) -> Result<Vec<TradeState>, Answer> {
    order
        .sub_orders
        .iter()
        .map(|(sub, out_trade_no)| {
            payments
                .get_mut(sub, out_trade_no, now)
                .map(|o| o.state)
                .ok_or_else(|| {
                    Answer::error(
                        410,
                        "ORDER_NOT_EXIST",
                        &format!("sub-order {out_trade_no} of combine order {} is no longer kept (the mock keeps the newest orders only)", order.out_trade_no()),
                        None,
                    )
                })
        })
        .collect()
}

/// The query answer (`notification` false) or the decrypted resource of
/// TRANSACTION.SUCCESS (`true`), with each sub-order as the payments store
/// holds it.
fn render(
    order: &Combine,
    payments: &mut Payments,
    mchid: &str,
    now: i64,
    notification: bool,
) -> Value {
    let mut out = Map::new();
    out.insert("combine_appid".into(), json!(order.appid()));
    out.insert("combine_mchid".into(), json!(mchid));
    out.insert("combine_out_trade_no".into(), json!(order.out_trade_no()));
    if !notification {
        if let Some(id) = &order.combine_transaction_id {
            out.insert("combine_transaction_id".into(), json!(id));
        }
    }
    let device = optional_str(&order.request, "/scene_info/device_id").unwrap_or_default();
    out.insert("scene_info".into(), json!({ "device_id": device }));
    let mut subs = Vec::with_capacity(order.sub_orders.len());
    let mut paid_by = None;
    for (sub, out_trade_no) in &order.sub_orders {
        let Some(sub_order) = payments.get_mut(sub, out_trade_no, now) else {
            continue;
        };
        if paid_by.is_none() {
            paid_by = sub_order.openid.clone();
        }
        subs.push(render_sub_order(sub_order, mchid, notification));
    }
    out.insert("sub_orders".into(), Value::Array(subs));
    let mut payer = Map::new();
    let openid = paid_by
        .or_else(|| optional_str(&order.request, "/combine_payer_info/openid").map(str::to_owned));
    if let Some(openid) = openid {
        payer.insert("openid".into(), json!(openid));
    }
    if !notification {
        if let Some(sub_openid) = optional_str(&order.request, "/combine_payer_info/sub_openid") {
            payer.insert("sub_openid".into(), json!(sub_openid));
        }
    }
    out.insert("combine_payer_info".into(), Value::Object(payer));
    Value::Object(out)
}

/// One entry of `sub_orders[]`: the query's fields (FLOWS.md §4.1) or the
/// notification's (§4.3); while unpaid, no transaction id, bank, time or
/// trade type (as a normal NOTPAY order, §1.4).
fn render_sub_order(order: &Payment, mchid: &str, notification: bool) -> Value {
    let request = &order.request;
    let paid = matches!(order.state, TradeState::Success | TradeState::Refund);
    let mut out = Map::new();
    out.insert("mchid".into(), json!(mchid));
    if order.partner {
        out.insert("sub_mchid".into(), json!(order.sub_mchid()));
        if !notification {
            if let Some(sub_appid) = optional_str(request, "/sub_appid") {
                out.insert("sub_appid".into(), json!(sub_appid));
            }
            if let Some(sub_openid) = optional_str(request, "/payer/sub_openid") {
                out.insert("sub_openid".into(), json!(sub_openid));
            }
        }
    }
    out.insert("out_trade_no".into(), json!(order.out_trade_no()));
    out.insert("trade_state".into(), json!(order.state.as_str()));
    out.insert(
        "attach".into(),
        json!(optional_str(request, "/attach").unwrap_or_default()),
    );
    let currency = order.currency();
    if paid {
        if let Some(id) = &order.transaction_id {
            out.insert("transaction_id".into(), json!(id));
        }
        out.insert("trade_type".into(), json!(order.trade_type));
        out.insert("bank_type".into(), json!("OTHERS"));
        if let Some(time) = order.success_time {
            out.insert("success_time".into(), json!(clock::rfc3339(time)));
        }
        out.insert(
            "amount".into(),
            json!({"total_amount": order.total(), "payer_amount": order.total(),
                   "currency": currency, "payer_currency": currency}),
        );
    } else {
        out.insert(
            "amount".into(),
            json!({"total_amount": order.total(), "currency": currency}),
        );
    }
    if !notification {
        out.insert("promotion_detail".into(), json!([]));
    }
    Value::Object(out)
}

/// The request a sub-order is kept with: a normal order's fields, so that
/// refunds, bills and the payments store read it as any order.
fn sub_order_request(body: &Map<String, Value>, i: usize, mchid: &str) -> Map<String, Value> {
    let field = |name: &str| at(body, &format!("/sub_orders/{i}/{name}")).cloned();
    let mut out = Map::new();
    let appid = at(body, "/combine_appid").cloned().unwrap_or_default();
    let sub = field("sub_mchid");
    if let Some(sub) = sub {
        out.insert("sp_appid".into(), appid);
        out.insert("sp_mchid".into(), json!(mchid));
        out.insert("sub_mchid".into(), sub);
        if let Some(sub_appid) = field("sub_appid") {
            out.insert("sub_appid".into(), sub_appid);
        }
    } else {
        out.insert("appid".into(), appid);
        out.insert("mchid".into(), json!(mchid));
    }
    for name in [
        "description",
        "out_trade_no",
        "attach",
        "goods_tag",
        "detail",
        "settle_info",
    ] {
        if let Some(value) = field(name) {
            out.insert(name.into(), value);
        }
    }
    out.insert(
        "amount".into(),
        json!({"total": field("amount/total_amount"), "currency": field("amount/currency")}),
    );
    if let Some(url) = at(body, "/notify_url") {
        out.insert("notify_url".into(), url.clone());
    }
    let mut payer = Map::new();
    let partner = out.contains_key("sub_mchid");
    if let Some(openid) = at(body, "/combine_payer_info/openid") {
        payer.insert(
            if partner { "sp_openid" } else { "openid" }.into(),
            openid.clone(),
        );
    }
    if let Some(sub_openid) = at(body, "/combine_payer_info/sub_openid") {
        payer.insert("sub_openid".into(), sub_openid.clone());
    }
    if !payer.is_empty() {
        out.insert("payer".into(), Value::Object(payer));
    }
    if let Some(scene) = at(body, "/scene_info") {
        out.insert("scene_info".into(), scene.clone());
    }
    out
}

/// The rules of a combine prepay request (FLOWS.md §4.3; OA
/// `docs/v3/combine-transactions/{jsapi,h5,native}.yaml`; SK 合单支付常见问题
/// 二). Returns the sub-orders' keys.
fn check_create(
    body: &Map<String, Value>,
    trade_type: &str,
    caller: &str,
) -> Result<Vec<SubKey>, Answer> {
    let combine_appid = required_str(body, "/combine_appid")?;
    same_merchant(
        required_str(body, "/combine_mchid")?,
        caller,
        "/combine_mchid",
    )?;
    merchant_number(
        body,
        "/combine_out_trade_no",
        6..=32,
        b"_-|*",
        OUT_TRADE_NO_RULE,
    )?;
    let listed = required(body, "/sub_orders")?
        .as_array()
        .ok_or_else(|| Answer::param_error("/sub_orders", "必须是数组"))?;
    required_str(body, "/notify_url")?;
    check_notify_url(body, "/notify_url")?;
    // A sub-order naming a sub-merchant makes this a service provider's order.
    let partner = listed.iter().any(|s| s.get("sub_mchid").is_some());
    let allowed = if partner {
        PARTNER_SUB_ORDERS
    } else {
        DIRECT_SUB_ORDERS
    };
    if !allowed.contains(&listed.len()) {
        return Err(Answer::param_error(
            "/sub_orders",
            &format!(
                "普通商户模式支持 2~10 笔子单，服务商模式支持 1~50 笔 (this {} order has {}; a single order is a normal order)",
                if partner { "partner" } else { "direct" },
                listed.len()
            ),
        ));
    }
    let mut keys: Vec<SubKey> = Vec::with_capacity(listed.len());
    for i in 0..listed.len() {
        let at_i = |name: &str| format!("/sub_orders/{i}/{name}");
        let mchid = required_str(body, &at_i("mchid"))?;
        if mchid != caller {
            // Every sub-order's merchant must be bound to combine_appid; the
            // mock knows one merchant (SK 二#1).
            return Err(Answer::error(
                400,
                "INVALID_REQUEST",
                "appid和mch_id不匹配，请检查后再试",
                Some(json!({"field": at_i("mchid"), "location": "body",
                    "issue": format!("the mock has one merchant, {caller}: every sub-order's mchid is it")})),
            ));
        }
        if let Some(appid) = optional_str(body, &at_i("appid")) {
            if appid != combine_appid {
                return Err(Answer::error(
                    400,
                    "INVALID_REQUEST",
                    "子单appid不等于combine_appid",
                    Some(json!({"field": at_i("appid"), "location": "body"})),
                ));
            }
        }
        for name in ["attach", "description"] {
            required_str(body, &at_i(name))?;
        }
        for (name, most) in [("description", 127), ("attach", 128)] {
            if optional_str(body, &at_i(name)).is_some_and(|t| t.chars().count() > most) {
                return Err(Answer::param_error(
                    &at_i(name),
                    &format!("最多 {most} 个字符"),
                ));
            }
        }
        merchant_number(
            body,
            &at_i("out_trade_no"),
            6..=32,
            b"_-|*",
            OUT_TRADE_NO_RULE,
        )?;
        required(body, &at_i("amount"))?;
        let total = required_fen(body, &at_i("amount/total_amount"))?;
        if total > MAX_SUB_ORDER_FEN {
            return Err(Answer::param_error(
                &at_i("amount/total_amount"),
                "每笔子单最多 1000 万元",
            ));
        }
        if required_str(body, &at_i("amount/currency"))? != "CNY" {
            return Err(Answer::param_error(
                &at_i("amount/currency"),
                "境内商户只支持 CNY",
            ));
        }
        if let Some(flag) = at(body, &at_i("settle_info/profit_sharing")) {
            if !flag.is_boolean() {
                return Err(Answer::param_error(
                    &at_i("settle_info/profit_sharing"),
                    "必须是 true 或 false",
                ));
            }
        }
        let sub = if partner {
            let sub = required_str(body, &at_i("sub_mchid"))?;
            if sub == caller {
                return Err(Answer::param_error(
                    &at_i("sub_mchid"),
                    "子商户mchid不能与自身mchid相同",
                ));
            }
            sub.to_owned()
        } else {
            String::new()
        };
        let key = (sub, required_str(body, &at_i("out_trade_no"))?.to_owned());
        if keys.contains(&key) {
            return Err(Answer::param_error(
                &at_i("out_trade_no"),
                "子单商户订单号重复",
            ));
        }
        keys.push(key);
    }
    for field in ["/time_start", "/time_expire"] {
        if let Some(time) = at(body, field) {
            if time.as_str().and_then(clock::parse_rfc3339).is_none() {
                return Err(Answer::param_error(
                    field,
                    "格式为 rfc3339, 如 2018-06-08T10:34:56+08:00",
                ));
            }
        }
    }
    if let Some(limits) = at(body, "/limit_pay") {
        let known = ["no_balance", "no_debit", "balance_only"];
        let ok = limits.as_array().is_some_and(|all| {
            all.iter()
                .all(|l| l.as_str().is_some_and(|l| known.contains(&l)))
        });
        if !ok {
            return Err(Answer::param_error(
                "/limit_pay",
                "取值为 no_balance, no_debit, balance_only",
            ));
        }
    }
    if at(body, "/scene_info").is_some() {
        required_str(body, "/scene_info/payer_client_ip")?;
    }
    match trade_type {
        "JSAPI" => {
            required(body, "/combine_payer_info")?;
            let openid = optional_str(body, "/combine_payer_info/openid");
            let sub_openid = optional_str(body, "/combine_payer_info/sub_openid");
            if openid.is_none() && sub_openid.is_none() {
                return Err(Answer::param_error(
                    "/combine_payer_info/openid",
                    if partner {
                        "openid 和 sub_openid 必须传一个"
                    } else {
                        "此字段为必填项 (缺少参数)"
                    },
                ));
            }
            if sub_openid.is_some() && !partner {
                return Err(Answer::param_error(
                    "/combine_payer_info/sub_openid",
                    "sub_openid 只用于服务商模式 (a direct merchant's payer is an openid of combine_appid)",
                ));
            }
        }
        "MWEB" => {
            for field in [
                "/scene_info/device_id",
                "/scene_info/payer_client_ip",
                "/scene_info/h5_info/type",
            ] {
                required_str(body, field)?;
            }
        }
        _ => {}
    }
    Ok(keys)
}

/// Why a re-posted combine order is refused: another `settle_info` alone
/// has WeChat Pay's own words (SK 合单支付常见问题 二#5; its code is not
/// published: the mock answers 400 INVALID_REQUEST); any other change is
/// the normal re-entry refusal (FLOWS.md §1.3).
fn reentry_refused(first: &Map<String, Value>, again: &Map<String, Value>) -> Answer {
    let without_settle = |body: &Map<String, Value>| {
        let mut body = body.clone();
        if let Some(Value::Array(subs)) = body.get_mut("sub_orders") {
            for sub in subs {
                if let Some(sub) = sub.as_object_mut() {
                    sub.remove("settle_info");
                }
            }
        }
        body
    };
    if without_settle(first) == without_settle(again) {
        return Answer::error(400, "INVALID_REQUEST", "重复下单且结算信息不一致", None);
    }
    Answer::error(
        400,
        "PARAM_ERROR",
        "订单重入参数校验失败",
        Some(
            json!({"location": "body", "issue": "the same combine_out_trade_no was placed with other parameters"}),
        ),
    )
}

fn order_not_exist() -> Answer {
    Answer::error(404, "ORDER_NOT_EXIST", "订单不存在", None)
}

/// A control naming no combine order: 404 saying which.
fn unknown_combine(no: &str) -> Answer {
    Answer::error(
        404,
        "ORDER_NOT_EXIST",
        &format!("订单不存在: the merchant has no combine order {no} (GET /_mock/combine-transactions lists them)"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MCHID: &str = "1900000109";

    fn call<'a>(operation: Operation, params: &'a [(String, String)], body: &'a [u8]) -> Call<'a> {
        Call {
            operation,
            params,
            body,
            mchid: MCHID,
            base_url: "http://127.0.0.1/",
            now: 1_767_240_000,
        }
    }

    fn order(no: &str, subs: &[&str]) -> Vec<u8> {
        let subs: Vec<Value> = subs
            .iter()
            .map(|s| {
                json!({"mchid": MCHID, "out_trade_no": s, "attach": "a", "description": "d",
                            "amount": {"total_amount": 1, "currency": "CNY"}})
            })
            .collect();
        json!({"combine_appid": "wxd678efh567hg6787", "combine_mchid": MCHID,
               "combine_out_trade_no": no, "notify_url": "https://example.com/n", "sub_orders": subs})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_combine_order_whose_sub_order_was_forgotten_says_so() {
        let (mut combines, mut payments) = (Combines::default(), Payments::with_limit(2));
        let body = order("FORGOT0001", &["FORGOTS001", "FORGOTS002"]);
        let created = combines.serve(
            &mut payments,
            &call(Operation::Create("NATIVE"), &[], &body),
        );
        assert_eq!(created.status, 200);
        // Two more sub-orders push the first ones out of the payments store.
        let other = order("FORGOT0002", &["FORGOTS003", "FORGOTS004"]);
        combines.serve(
            &mut payments,
            &call(Operation::Create("NATIVE"), &[], &other),
        );
        let params = [("combine_out_trade_no".to_owned(), "FORGOT0001".to_owned())];
        let answer = combines.serve(
            &mut payments,
            &call(Operation::QueryByOutTradeNo, &params, b""),
        );
        assert_eq!(answer.status, 410);
        assert!(String::from_utf8_lossy(&answer.body).contains("no longer kept"));
        let step = Step {
            action: Action::Pay,
            no: "FORGOT0001",
            openid: None,
            mchid: MCHID,
            now: 1_767_240_000,
        };
        let paid = combines.act(&mut payments, &step, |_, _, _| Ok(()));
        assert_eq!(paid.map(|_| ()).unwrap_err().status, 410);
    }

    #[test]
    fn the_whole_state_is_notpay_closed_or_success() {
        use TradeState::*;
        assert_eq!(overall(&[NotPay, NotPay]), "NOTPAY");
        assert_eq!(overall(&[Closed, Closed]), "CLOSED");
        assert_eq!(overall(&[Refund, Success]), "SUCCESS");
    }
}
