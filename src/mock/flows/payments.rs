//! Payments (基础支付), direct (`v3/pay/transactions/…`) and partner
//! (`v3/pay/partner/transactions/…`): orders kept per merchant, answered in
//! WeChat Pay's shapes (FLOWS.md §1 and §3).
//!
//! ```text
//! create → NOTPAY ──user pays──► SUCCESS ──refund──► REFUND
//! NOTPAY ──close / time_expire (7 days without one)──► CLOSED
//! NOTPAY ──payment fails──► NOTPAY
//! ```
//!
//! Keyed by `(sub_mchid, out_trade_no)` (`""` for a direct merchant): an
//! `out_trade_no` is unique per merchant. At most [`KEPT_ORDERS`](super::kept::KEPT_ORDERS) are kept;
//! the oldest goes first.

use serde_json::{json, Map, Value};

use super::bills::PaymentRecord;
use super::kept::{Book, Ids, Key};
use crate::clock;
use crate::mock::wire::answer::Answer;
use crate::mock::wire::body::{
    at, check_notify_url, merchant_number, optional_str, parse_body, query_param, required,
    required_fen, required_str,
};
use crate::mock::wire::clock::Timer;
use crate::mock::wire::notify::Event;
use crate::mock::wire::store::{self, Batch, StaticStr, Store};

/// How long an order stays payable without `time_expire`: 7 days.
const DEFAULT_LIFETIME: i64 = 7 * 86_400;
/// `time_expire` is at least the order time plus a minute.
const MIN_LIFETIME: i64 = 60;
/// A `prepay_id` lives two hours.
pub(crate) const PREPAY_LIFETIME: i64 = 2 * 3600;

/// The openid the simulated user pays with unless the order names one.
pub(crate) const SIMULATED_OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

/// `trade_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum TradeState {
    NotPay,
    Success,
    Refund,
    Closed,
}

impl TradeState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TradeState::NotPay => "NOTPAY",
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::Closed => "CLOSED",
        }
    }

    fn description(self) -> &'static str {
        match self {
            TradeState::NotPay => "订单未支付",
            TradeState::Success => "支付成功",
            TradeState::Refund => "订单发生过退款",
            TradeState::Closed => "订单已关闭",
        }
    }
}

/// One order.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Payment {
    pub(crate) partner: bool,
    /// `JSAPI`, `APP`, `MWEB` (H5) or `NATIVE`.
    #[serde(deserialize_with = "trade_type")]
    pub(crate) trade_type: StaticStr,
    /// The create request as first sent: re-entry must repeat it.
    pub(crate) request: Map<String, Value>,
    // Stored times and amounts are read back only within what the mock
    // writes: a hand-edited row would overflow the time rules' sums.
    #[serde(deserialize_with = "store::unix")]
    pub(crate) created: i64,
    #[serde(deserialize_with = "store::unix")]
    pub(crate) expires: i64,
    pub(crate) state: TradeState,
    /// The live `prepay_id` (JSAPI, APP, H5) and when it was issued.
    pub(crate) prepay_id: String,
    #[serde(deserialize_with = "store::unix")]
    prepay_issued: i64,
    /// The `pr` of a Native order's `code_url`.
    pub(crate) code: String,
    pub(crate) transaction_id: Option<String>,
    #[serde(deserialize_with = "store::unix_opt")]
    pub(crate) success_time: Option<i64>,
    pub(crate) openid: Option<String>,
    /// Failed payment attempts (the order stays NOTPAY).
    pub(crate) failures: u32,
    /// Fen taken by refunds that are not CLOSED, and how many refunds there
    /// were: kept with the order, so a forgotten refund cannot free its amount.
    #[serde(deserialize_with = "store::fen")]
    pub(crate) refunded: i64,
    pub(crate) refund_count: u32,
    /// The `combine_out_trade_no` of the combine order this is a sub-order
    /// of ([`super::combine`]): refunded and billed as any order, but the
    /// normal query and close do not know it (FLOWS.md §4.3).
    pub(crate) combine: Option<String>,
}

impl Payment {
    /// A sub-order of combine order `combine`, NOTPAY: `request` is shaped
    /// as a normal order's (appid, amount.total, attach…), so that refunds,
    /// bills and [`Payment::render`] read it as any order. It has no
    /// prepay id or code of its own: the combine order has them.
    pub(crate) fn sub_order(
        combine: &str,
        partner: bool,
        trade_type: &'static str,
        request: Map<String, Value>,
        created: i64,
        expires: i64,
    ) -> Payment {
        Payment {
            combine: Some(combine.to_owned()),
            ..Payment::unpaid(partner, trade_type, request, created, expires)
        }
    }

    /// A NOTPAY order placed at `created`, without prepay id or code yet.
    fn unpaid(
        partner: bool,
        trade_type: &'static str,
        request: Map<String, Value>,
        created: i64,
        expires: i64,
    ) -> Payment {
        Payment {
            partner,
            trade_type,
            request,
            created,
            expires,
            state: TradeState::NotPay,
            prepay_id: String::new(),
            prepay_issued: created,
            code: String::new(),
            transaction_id: None,
            success_time: None,
            openid: None,
            failures: 0,
            refunded: 0,
            refund_count: 0,
            combine: None,
        }
    }

    fn str(&self, pointer: &str) -> &str {
        optional_str(&self.request, pointer).unwrap_or_default()
    }

    pub(crate) fn out_trade_no(&self) -> &str {
        self.str("/out_trade_no")
    }

    pub(crate) fn sub_mchid(&self) -> &str {
        self.str("/sub_mchid")
    }

    pub(crate) fn total(&self) -> i64 {
        at(&self.request, "/amount/total")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    pub(crate) fn currency(&self) -> &str {
        optional_str(&self.request, "/amount/currency").unwrap_or("CNY")
    }

    pub(crate) fn notify_url(&self) -> &str {
        self.str("/notify_url")
    }

    /// The appid the order was placed with: the front end must invoke with
    /// it (`sub_appid` for a partner order paid by a `sub_openid`).
    pub(crate) fn appid(&self) -> &str {
        if !self.partner {
            return self.str("/appid");
        }
        match optional_str(&self.request, "/payer/sub_openid") {
            Some(_) => self.str("/sub_appid"),
            None => self.str("/sp_appid"),
        }
    }

    /// A Native order's `code_url`, as create answered it.
    pub(crate) fn code_url(&self) -> String {
        code_url(&self.code)
    }

    fn is_paid(&self) -> bool {
        matches!(self.state, TradeState::Success | TradeState::Refund)
    }

    /// The Transaction as the query answers it and the notification carries.
    pub(crate) fn render(&self, mchid: &str) -> Value {
        let mut out = Map::new();
        let paid = self.is_paid();
        out.insert(
            "amount".into(),
            if paid {
                json!({"currency": self.currency(), "payer_currency": self.currency(),
                       "payer_total": self.total(), "total": self.total()})
            } else {
                // As captured from a real NOTPAY answer: no `currency`, no `payer_total`.
                json!({"payer_currency": self.currency(), "total": self.total()})
            },
        );
        if self.partner {
            out.insert("sp_appid".into(), json!(self.str("/sp_appid")));
            out.insert("sp_mchid".into(), json!(mchid));
            if let Some(sub_appid) = optional_str(&self.request, "/sub_appid") {
                out.insert("sub_appid".into(), json!(sub_appid));
            }
            out.insert("sub_mchid".into(), json!(self.sub_mchid()));
        } else {
            out.insert("appid".into(), json!(self.str("/appid")));
            out.insert("mchid".into(), json!(mchid));
        }
        out.insert("out_trade_no".into(), json!(self.out_trade_no()));
        if paid {
            out.insert("attach".into(), json!(self.str("/attach")));
            out.insert("bank_type".into(), json!("OTHERS"));
            out.insert("payer".into(), self.payer());
            out.insert("promotion_detail".into(), json!([]));
            if let Some(time) = self.success_time {
                out.insert("success_time".into(), json!(clock::rfc3339(time)));
            }
        } else {
            if let Some(attach) = optional_str(&self.request, "/attach") {
                out.insert("attach".into(), json!(attach));
            }
            out.insert("promotion_detail".into(), json!([]));
            let device = optional_str(&self.request, "/scene_info/device_id").unwrap_or_default();
            out.insert("scene_info".into(), json!({"device_id": device}));
        }
        out.insert("trade_state".into(), json!(self.state.as_str()));
        out.insert("trade_state_desc".into(), json!(self.state.description()));
        if paid {
            out.insert("trade_type".into(), json!(self.trade_type));
            if let Some(id) = &self.transaction_id {
                out.insert("transaction_id".into(), json!(id));
            }
        }
        Value::Object(out)
    }

    fn payer(&self) -> Value {
        let openid = self.openid.as_deref().unwrap_or(SIMULATED_OPENID);
        if !self.partner {
            return json!({"openid": openid});
        }
        match optional_str(&self.request, "/payer/sub_openid") {
            Some(sub) => json!({"sub_openid": sub}),
            None => json!({"sp_openid": openid}),
        }
    }

    /// What a bill needs of a paid order.
    pub(crate) fn record(&self, mchid: &str) -> Option<PaymentRecord> {
        Some(PaymentRecord {
            success_time: self.success_time?,
            appid: self.appid().to_owned(),
            mchid: mchid.to_owned(),
            sub_mchid: self.partner.then(|| self.sub_mchid().to_owned()),
            transaction_id: self.transaction_id.clone()?,
            out_trade_no: self.out_trade_no().to_owned(),
            openid: self.openid.clone().unwrap_or_default(),
            trade_type: self.trade_type.to_owned(),
            bank_type: "OTHERS".to_owned(),
            currency: self.currency().to_owned(),
            total: self.total(),
            description: self.str("/description").to_owned(),
            attach: self.str("/attach").to_owned(),
        })
    }
}

/// A stored `trade_type`, back as the `&'static str` the book keeps.
fn trade_type<'de, D: serde::Deserializer<'de>>(value: D) -> Result<&'static str, D::Error> {
    crate::mock::wire::store::known_str(value, &["JSAPI", "APP", "MWEB", "NATIVE"])
}

/// The store's name for the payment orders.
const KIND: &str = "payment";

impl Payments {
    /// Notes changes from now on, for [`Payments::save`].
    pub(crate) fn track(&mut self) {
        self.orders.track();
    }

    /// Keeps at most `limit` orders from now on (the retention setting).
    pub(crate) fn set_retention(&mut self, limit: usize) {
        self.orders.set_limit(limit);
    }

    /// The orders changed or forgotten since the last save.
    pub(crate) fn save(&mut self, batch: &mut Batch) {
        self.orders.save_changes(KIND, batch);
    }

    /// The last sequence number a `transaction_id` was given: an id is given
    /// at payment, so the order holding the newest may be the oldest, the
    /// first forgotten; the server keeps it with its state.
    pub(crate) fn sequence(&self) -> u64 {
        self.next
    }

    /// Numbers on from at least `sequence` ([`Payments::sequence`] as stored).
    pub(crate) fn resume_from(&mut self, sequence: u64) {
        self.next = self.next.max(sequence);
    }

    /// Rebuilds the book (and its indexes) from the store.
    pub(crate) fn load(&mut self, store: &Store) -> Result<(), String> {
        let mut next = self.next;
        self.orders.load(store, KIND, |order: &Payment| {
            if let Some(id) = &order.transaction_id {
                // Transaction ids end with the book's sequence number.
                next = next.max(super::kept::trailing_sequence(id, 13));
            }
        })?;
        self.next = next;
        Ok(())
    }
}

/// Which operation a request is, from its catalog template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    /// Place an order of this trade type.
    Create(&'static str),
    QueryById,
    QueryByOutTradeNo,
    Close,
}

impl Operation {
    /// The operation and whether it is the partner one; `None` for the
    /// templates this module does not keep (contract, codepay, reverse…).
    pub(crate) fn from_template(method: &str, template: &str) -> Option<(Self, bool)> {
        let (partner, rest) = if let Some(rest) = template.strip_prefix("v3/pay/transactions/") {
            (false, rest)
        } else {
            (true, template.strip_prefix("v3/pay/partner/transactions/")?)
        };
        let operation = match (method, rest) {
            ("POST", "jsapi") => Operation::Create("JSAPI"),
            ("POST", "miniprogram") if partner => Operation::Create("JSAPI"),
            ("POST", "app") => Operation::Create("APP"),
            ("POST", "h5") => Operation::Create("MWEB"),
            ("POST", "native") => Operation::Create("NATIVE"),
            ("GET", "id/{transaction_id}") => Operation::QueryById,
            ("GET", "out-trade-no/{out_trade_no}") => Operation::QueryByOutTradeNo,
            ("POST", "out-trade-no/{out_trade_no}/close") => Operation::Close,
            _ => return None,
        };
        Some((operation, partner))
    }
}

/// One request to this flow.
pub(crate) struct Call<'a> {
    pub(crate) operation: Operation,
    pub(crate) partner: bool,
    /// Placeholder values (`transaction_id`, `out_trade_no`), decoded.
    pub(crate) params: &'a [(String, String)],
    pub(crate) query: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    /// The calling merchant (or service provider), from its signature.
    pub(crate) mchid: &'a str,
    /// `http://host:port/`, for the `h5_url` that leads to the cashier.
    pub(crate) base_url: &'a str,
    pub(crate) now: i64,
}

/// What [`Payments::end_unpaid`] does to a NOTPAY order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unpaid {
    /// A payment attempt fails (wrong password, card declined): the order
    /// stays NOTPAY, payable again.
    Fail,
    /// The order runs out of time: NOTPAY → CLOSED.
    Expire,
}

/// The indexes of the order book: what an order is found by besides its
/// `out_trade_no`.
const BY_PREPAY: usize = 0;
const BY_CODE: usize = 1;
const BY_TRANSACTION: usize = 2;

impl Ids<3> for Payment {
    fn ids(&self) -> [Option<&str>; 3] {
        // A combine order's sub-order has no prepay id or code of its own.
        [
            own_id(&self.prepay_id),
            own_id(&self.code),
            self.transaction_id.as_deref(),
        ]
    }
}

/// An id the order has (a sub-order's prepay id and code are empty).
fn own_id(id: &str) -> Option<&str> {
    (!id.is_empty()).then_some(id)
}

/// The order book.
#[derive(Default)]
pub(crate) struct Payments {
    orders: Book<Payment, 3>,
    next: u64,
}

impl Payments {
    /// A book that keeps at most `limit` orders (tests of what forgetting does).
    #[cfg(test)]
    pub(crate) fn with_limit(limit: usize) -> Self {
        Payments {
            orders: Book::with_limit(limit),
            next: 0,
        }
    }

    /// Serves one request.
    pub(crate) fn serve(&mut self, call: &Call<'_>) -> Answer {
        let result = match call.operation {
            Operation::Create(trade_type) => self.create(call, trade_type),
            Operation::QueryById | Operation::QueryByOutTradeNo => self.query(call),
            Operation::Close => self.close(call),
        };
        result.unwrap_or_else(|refusal| refusal)
    }

    fn create(&mut self, call: &Call<'_>, trade_type: &'static str) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        check_create(&body, call.partner, trade_type, call.mchid)?;
        let sub = if call.partner {
            required_str(&body, "/sub_mchid")?.to_owned()
        } else {
            String::new()
        };
        let key = (sub, required_str(&body, "/out_trade_no")?.to_owned());
        let now = call.now;
        if let Some(order) = self.orders.get_mut(&key) {
            order.refresh(now);
            if order.combine.is_some() {
                return Err(out_trade_no_used());
            }
            match order.state {
                TradeState::Success | TradeState::Refund => {
                    return Err(Answer::error(403, "ORDER_PAID", "订单已支付", None));
                }
                TradeState::Closed => {
                    return Err(Answer::error(400, "ORDER_CLOSED", "订单已关闭", None));
                }
                TradeState::NotPay
                    if order.request != body
                        || order.trade_type != trade_type
                        || order.partner != call.partner =>
                {
                    return Err(Answer::error(
                        400,
                        "PARAM_ERROR",
                        "订单重入参数校验失败",
                        Some(
                            json!({"location": "body", "issue": "the same out_trade_no was placed with other parameters"}),
                        ),
                    ));
                }
                TradeState::NotPay => {}
            }
            // Re-entry with the same parameters: a fresh prepay_id / code_url.
            let (prepay_id, code) = (fresh_prepay_id(now)?, fresh_code()?);
            let old_ids = (order.prepay_id.clone(), order.code.clone());
            order.prepay_id = prepay_id.clone();
            order.prepay_issued = now;
            order.code = code.clone();
            let answer = Answer::json(200, &created_answer(order, call.base_url));
            self.orders.forget_id(BY_PREPAY, &old_ids.0);
            self.orders.forget_id(BY_CODE, &old_ids.1);
            self.orders.add_id(BY_PREPAY, prepay_id, key.clone());
            self.orders.add_id(BY_CODE, code, key);
            return Ok(answer);
        }
        let expires = expiry(&body, now)?;
        let order = Payment {
            prepay_id: fresh_prepay_id(now)?,
            code: fresh_code()?,
            ..Payment::unpaid(call.partner, trade_type, body, now, expires)
        };
        let answer = Answer::json(200, &created_answer(&order, call.base_url));
        self.orders.insert(key, order);
        Ok(answer)
    }

    fn query(&mut self, call: &Call<'_>) -> Result<Answer, Answer> {
        let sub = merchant_query(call)?;
        let key = match call.operation {
            Operation::QueryById => {
                let id = param(call, "transaction_id");
                self.orders
                    .key_of(BY_TRANSACTION, id)
                    .filter(|(s, _)| *s == sub)
                    .cloned()
                    .ok_or_else(order_not_exist)?
            }
            _ => (sub, param(call, "out_trade_no").to_owned()),
        };
        let order = self.order_for(call, &key)?;
        Ok(Answer::json(200, &order.render(call.mchid)))
    }

    /// Order `key`, brought up to `call`'s time, if it was placed through
    /// the same kind of endpoint (direct or partner) as `call`.
    fn order_for(&mut self, call: &Call<'_>, key: &Key) -> Result<&mut Payment, Answer> {
        let order = self
            .orders
            .get_mut(key)
            // A combine order's sub-order is not a normal order (FLOWS.md §4.3).
            .filter(|o| o.partner == call.partner && o.combine.is_none())
            .ok_or_else(order_not_exist)?;
        order.refresh(call.now);
        Ok(order)
    }

    fn close(&mut self, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let sub = if call.partner {
            same_merchant(required_str(&body, "/sp_mchid")?, call.mchid, "/sp_mchid")?;
            required_str(&body, "/sub_mchid")?.to_owned()
        } else {
            same_merchant(required_str(&body, "/mchid")?, call.mchid, "/mchid")?;
            String::new()
        };
        let key = (sub, param(call, "out_trade_no").to_owned());
        let order = self.order_for(call, &key)?;
        match order.state {
            // Closing is re-entrant (关单接口可重入).
            TradeState::NotPay | TradeState::Closed => {
                order.state = TradeState::Closed;
                Ok(Answer::no_content())
            }
            TradeState::Success | TradeState::Refund => Err(Answer::error(
                400,
                "ORDER_PAID",
                "订单已支付，不能关单，请发起退款",
                None,
            )),
        }
    }

    /// The order `out_trade_no` of sub-merchant `sub` (`""` for direct).
    pub(crate) fn get_mut(
        &mut self,
        sub: &str,
        out_trade_no: &str,
        now: i64,
    ) -> Option<&mut Payment> {
        let order = self
            .orders
            .get_mut(&(sub.to_owned(), out_trade_no.to_owned()))?;
        order.refresh(now);
        Some(order)
    }

    /// The order `out_trade_no` of sub-merchant `sub` (`""` for direct), as
    /// last seen (time not applied: [`Payments::get_mut`] applies it).
    pub(crate) fn find(&self, sub: &str, out_trade_no: &str) -> Option<&Payment> {
        self.orders.get(&(sub.to_owned(), out_trade_no.to_owned()))
    }

    /// The order paid (or payable) with `transaction_id`.
    pub(crate) fn by_transaction_mut(&mut self, sub: &str, id: &str) -> Option<&mut Payment> {
        let key = self
            .orders
            .key_of(BY_TRANSACTION, id)
            .filter(|(s, _)| s == sub)?
            .clone();
        self.orders.get_mut(&key)
    }

    /// The order paid with `transaction_id`, whichever merchant's (profit
    /// sharing's `amounts` names no sub-merchant).
    pub(crate) fn find_by_transaction(&self, id: &str) -> Option<&Payment> {
        self.orders.by_id(BY_TRANSACTION, id)
    }

    /// The order whose live `prepay_id` this is (any merchant).
    pub(crate) fn by_prepay_id(&self, prepay_id: &str) -> Option<&Payment> {
        self.orders.by_id(BY_PREPAY, prepay_id)
    }

    /// The order a Native `code_url`'s `pr` names.
    pub(crate) fn by_code(&self, code: &str) -> Option<&Payment> {
        self.orders.by_id(BY_CODE, code)
    }

    /// The simulated user pays: NOTPAY → SUCCESS, and the notification.
    pub(crate) fn pay(
        &mut self,
        sub: &str,
        out_trade_no: &str,
        mchid: &str,
        openid: Option<&str>,
        now: i64,
    ) -> Result<(Value, Option<Event>), Answer> {
        self.not_a_sub_order(sub, out_trade_no)?;
        self.settle(sub, out_trade_no, openid, now)?;
        let order = self
            .get_mut(sub, out_trade_no, now)
            .ok_or_else(|| unknown_order(sub, out_trade_no))?;
        let transaction = order.render(mchid);
        let event = Event {
            notify_url: order.notify_url().to_owned(),
            event_type: "TRANSACTION.SUCCESS",
            summary: "支付成功",
            original_type: "transaction",
            associated_data: "transaction",
            resource: transaction.clone(),
        };
        Ok((transaction, Some(event)))
    }

    /// The NOTPAY order is paid: SUCCESS, a transaction id, the payer (the
    /// order's own openid unless `openid` names one). What a payment and a
    /// combine order's payment ([`super::combine`]) share; nothing is sent.
    pub(crate) fn settle(
        &mut self,
        sub: &str,
        out_trade_no: &str,
        openid: Option<&str>,
        now: i64,
    ) -> Result<(), Answer> {
        let key = (sub.to_owned(), out_trade_no.to_owned());
        let sequence = self.next + 1;
        let order = self
            .get_mut(sub, out_trade_no, now)
            .ok_or_else(|| unknown_order(sub, out_trade_no))?;
        match order.state {
            TradeState::NotPay => {}
            TradeState::Closed => {
                return Err(action_refused(
                    order,
                    "pay",
                    "the order is closed (关单或过期), it cannot be paid",
                ))
            }
            _ => return Err(action_refused(order, "pay", "the order is already paid")),
        }
        let id = format!("4200000{}{:013}", &clock::compact(now)[..8], sequence);
        order.state = TradeState::Success;
        order.success_time = Some(now);
        order.transaction_id = Some(id.clone());
        let payer_openid = openid
            .map(str::to_owned)
            .or_else(|| optional_str(&order.request, "/payer/openid").map(str::to_owned))
            .or_else(|| optional_str(&order.request, "/payer/sp_openid").map(str::to_owned))
            .unwrap_or_else(|| SIMULATED_OPENID.to_owned());
        order.openid = Some(payer_openid);
        self.next = sequence;
        self.orders.add_id(BY_TRANSACTION, id, key);
        Ok(())
    }

    /// Adds a combine order's sub-order ([`Payment::sub_order`]).
    pub(crate) fn insert_sub_order(&mut self, sub: &str, out_trade_no: &str, order: Payment) {
        self.orders
            .insert((sub.to_owned(), out_trade_no.to_owned()), order);
    }

    /// A sub-order moves with its combine order only: the payment controls
    /// refuse it, saying which control to use.
    fn not_a_sub_order(&self, sub: &str, out_trade_no: &str) -> Result<(), Answer> {
        match self.find(sub, out_trade_no).and_then(|o| o.combine.as_ref()) {
            None => Ok(()),
            Some(combine) => Err(Answer::error(
                409,
                "INVALID_ORDER_STATE",
                &format!(
                    "order {out_trade_no} is a sub-order of combine order {combine}: the whole combine order is paid, failed or expired at once (POST /_mock/combine-transactions/{combine}/pay|fail|expire)"
                ),
                None,
            )),
        }
    }

    /// What happens to an unpaid order without the user paying it, or the
    /// refusal saying why it cannot (only a NOTPAY order can). Nothing is
    /// sent either way.
    pub(crate) fn end_unpaid(
        &mut self,
        sub: &str,
        out_trade_no: &str,
        mchid: &str,
        now: i64,
        how: Unpaid,
    ) -> Result<Value, Answer> {
        self.not_a_sub_order(sub, out_trade_no)?;
        let order = self
            .get_mut(sub, out_trade_no, now)
            .ok_or_else(|| unknown_order(sub, out_trade_no))?;
        let action = match how {
            Unpaid::Fail => "fail",
            Unpaid::Expire => "expire",
        };
        if order.state != TradeState::NotPay {
            let why = format!("only an unpaid (NOTPAY) order can {action}");
            return Err(action_refused(order, action, &why));
        }
        match how {
            Unpaid::Fail => order.failures += 1,
            Unpaid::Expire => {
                order.expires = now;
                order.state = TradeState::Closed;
            }
        }
        Ok(order.render(mchid))
    }

    /// Orders held.
    pub(crate) fn len(&self) -> usize {
        self.orders.len()
    }

    /// The `newest` most recent orders, oldest first, as the console and
    /// `GET /_mock/transactions` list them.
    pub(crate) fn list(&mut self, mchid: &str, now: i64, newest: usize) -> Vec<Value> {
        let keys = self.orders.newest_keys(newest);
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(order) = self.orders.get_mut(&key) {
                order.refresh(now);
                let mut row = order.render(mchid);
                row["trade_type"] = json!(order.trade_type);
                row["notify_url"] = json!(order.notify_url());
                row["prepay_id"] = json!(order.prepay_id);
                row["description"] = json!(order.str("/description"));
                row["create_time"] = json!(clock::rfc3339(order.created));
                if let Some(combine) = &order.combine {
                    row["combine_out_trade_no"] = json!(combine);
                }
                out.push(row);
            }
        }
        out
    }

    /// The deadlines of the orders held that fall in `(from, to]` (Unix
    /// seconds), for a move of the clock to walk in order: unpaid orders
    /// reaching `time_expire`, live `prepay_id`s reaching their 2 hours.
    /// Both rules are also applied whenever an order is read.
    pub(crate) fn deadlines(&self, from: i64, to: i64) -> Vec<(i64, Timer)> {
        let mut out = Vec::new();
        for ((sub, no), order) in self.orders.iter() {
            if order.state != TradeState::NotPay {
                continue;
            }
            let prepay_end = order.prepay_issued + PREPAY_LIFETIME;
            if order.trade_type != "NATIVE" && from < prepay_end && prepay_end <= to {
                out.push((
                    prepay_end,
                    Timer::PrepayExpires {
                        sub_mchid: sub.clone(),
                        out_trade_no: no.clone(),
                        prepay_id: order.prepay_id.clone(),
                    },
                ));
            }
            if from < order.expires && order.expires <= to {
                out.push((
                    order.expires,
                    Timer::OrderExpires {
                        sub_mchid: sub.clone(),
                        out_trade_no: no.clone(),
                    },
                ));
            }
        }
        out
    }

    /// Every order held, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Payment> {
        self.orders.iter().map(|(_, order)| order)
    }

    /// Paid orders, for bills.
    pub(crate) fn records(&self, mchid: &str) -> Vec<PaymentRecord> {
        self.orders
            .iter()
            .filter_map(|(_, order)| order.record(mchid))
            .collect()
    }
}

impl Payment {
    /// Applies the passage of time: an unpaid order past `time_expire` closes.
    fn refresh(&mut self, now: i64) {
        if self.state == TradeState::NotPay && now >= self.expires {
            self.state = TradeState::Closed;
        }
    }

    /// Whether `prepay_id` is this order's and still usable.
    pub(crate) fn prepay_is_live(&self, prepay_id: &str, now: i64) -> bool {
        self.prepay_id == prepay_id && now < self.prepay_issued + PREPAY_LIFETIME
    }
}

/// When an order placed at `now` stops being payable: its `time_expire`,
/// at least a minute away, or 7 days (FLOWS.md §1.2). The one place this
/// time rule lives, for normal and combine orders alike.
pub(crate) fn expiry(body: &Map<String, Value>, now: i64) -> Result<i64, Answer> {
    Ok(match optional_str(body, "/time_expire") {
        None => now + DEFAULT_LIFETIME,
        Some(text) => clock::parse_rfc3339(text)
            .ok_or_else(|| {
                Answer::param_error(
                    "/time_expire",
                    "格式为 rfc3339, 如 2018-06-08T10:34:56+08:00",
                )
            })?
            .max(now + MIN_LIFETIME),
    })
}

/// The required fields of a prepay request (FLOWS.md §1.2 and §3).
fn check_create(
    body: &Map<String, Value>,
    partner: bool,
    trade_type: &str,
    caller: &str,
) -> Result<(), Answer> {
    if partner {
        for field in ["/sp_appid", "/sp_mchid", "/sub_mchid"] {
            required_str(body, field)?;
        }
        same_merchant(required_str(body, "/sp_mchid")?, caller, "/sp_mchid")?;
        if required_str(body, "/sub_mchid")? == caller {
            return Err(Answer::param_error(
                "/sub_mchid",
                "子商户mchid不能与自身mchid相同",
            ));
        }
    } else {
        required_str(body, "/appid")?;
        same_merchant(required_str(body, "/mchid")?, caller, "/mchid")?;
    }
    for field in ["/description", "/out_trade_no", "/notify_url"] {
        required_str(body, field)?;
    }
    // WeChat Pay's lengths: description string[1,127], attach string[1,128].
    for (field, most) in [("/description", 127), ("/attach", 128)] {
        if optional_str(body, field).is_some_and(|text| text.chars().count() > most) {
            return Err(Answer::param_error(field, &format!("最多 {most} 个字符")));
        }
    }
    merchant_number(
        body,
        "/out_trade_no",
        6..=32,
        b"_-|*",
        "6-32 个字符, 只能是数字、大小写字母或 _-|*",
    )?;
    check_notify_url(body, "/notify_url")?;
    required(body, "/amount")?;
    required_fen(body, "/amount/total")?;
    if let Some(currency) = at(body, "/amount/currency") {
        if currency.as_str() != Some("CNY") {
            return Err(Answer::param_error(
                "/amount/currency",
                "境内商户只支持 CNY",
            ));
        }
    }
    if let Some(time_expire) = at(body, "/time_expire") {
        if time_expire
            .as_str()
            .and_then(clock::parse_rfc3339)
            .is_none()
        {
            return Err(Answer::param_error(
                "/time_expire",
                "格式为 rfc3339, 如 2018-06-08T10:34:56+08:00",
            ));
        }
    }
    if at(body, "/scene_info").is_some() {
        required_str(body, "/scene_info/payer_client_ip")?;
        if at(body, "/scene_info/store_info").is_some() {
            required_str(body, "/scene_info/store_info/id")?;
        }
    }
    match (trade_type, partner) {
        ("JSAPI", false) => {
            required_str(body, "/payer/openid")?;
        }
        ("JSAPI", true) => {
            let sp = optional_str(body, "/payer/sp_openid");
            let sub = optional_str(body, "/payer/sub_openid");
            match (sp, sub) {
                (None, None) => {
                    required(body, "/payer")?;
                    return Err(Answer::param_error(
                        "/payer",
                        "sp_openid 和 sub_openid 必须传一个",
                    ));
                }
                (_, Some(_)) => {
                    required_str(body, "/sub_appid")?;
                }
                _ => {}
            }
        }
        ("MWEB", _) => {
            required_str(body, "/scene_info/payer_client_ip")?;
            required_str(body, "/scene_info/h5_info/type")?;
        }
        _ => {}
    }
    Ok(())
}

/// The merchant id a body or query names must be the caller's.
pub(crate) fn same_merchant(given: &str, caller: &str, field: &str) -> Result<(), Answer> {
    if given == caller {
        Ok(())
    } else {
        Err(Answer::error(
            400,
            "INVALID_REQUEST",
            "商户号与请求签名的商户号不一致 (the mchid must be the one that signs the request)",
            Some(json!({"field": field, "location": "body"})),
        ))
    }
}

/// The `mchid` (direct) or `sp_mchid` + `sub_mchid` (partner) of a query;
/// returns the sub-merchant (`""` for direct).
fn merchant_query(call: &Call<'_>) -> Result<String, Answer> {
    let need = |name: &str| {
        query_param(call.query, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Answer::query_error(name, "此字段为必填项 (缺少参数)"))
    };
    if call.partner {
        if need("sp_mchid")? != call.mchid {
            return Err(Answer::query_error("sp_mchid", "与请求签名的商户号不一致"));
        }
        Ok(need("sub_mchid")?.to_owned())
    } else {
        if need("mchid")? != call.mchid {
            return Err(Answer::query_error("mchid", "与请求签名的商户号不一致"));
        }
        Ok(String::new())
    }
}

fn param<'a>(call: &'a Call<'_>, name: &str) -> &'a str {
    query_param(call.params, name).unwrap_or_default()
}

/// What create answers: `prepay_id`, `h5_url` or `code_url`.
fn created_answer(order: &Payment, base_url: &str) -> Value {
    prepay_answer(order.trade_type, &order.prepay_id, &order.code, base_url)
}

/// What placing an order of `trade_type` answers, normal or combine.
pub(crate) fn prepay_answer(
    trade_type: &str,
    prepay_id: &str,
    code: &str,
    base_url: &str,
) -> Value {
    match trade_type {
        "NATIVE" => json!({ "code_url": code_url(code) }),
        // A real h5_url leads to WeChat's cashier; this one to the mock's.
        "MWEB" => json!({"h5_url": format!(
            "{base_url}_mock/cashier/h5?prepay_id={prepay_id}&package={code}")}),
        _ => json!({ "prepay_id": prepay_id }),
    }
}

/// A Native order's `code_url` for its code (the `pr`).
pub(crate) fn code_url(code: &str) -> String {
    format!("weixin://wxpay/bizpayurl/up?pr={code}&groupid=00")
}

/// `wx` and 34 hex digits, as real prepay ids look
/// (`wx201120027891195e80fa6ccea7f9090001`): day and time, then random.
pub(crate) fn fresh_prepay_id(now: i64) -> Result<String, Answer> {
    let mut random = [0u8; 11];
    openssl::rand::rand_bytes(&mut random).map_err(|_| Answer::for_status(500))?;
    let stamp = clock::compact(now);
    Ok(format!(
        "wx{}{}0001",
        &stamp[6..14],
        crate::hex::encode(&random)
    ))
}

/// The 7 characters after `pr=` in a `code_url`.
pub(crate) fn fresh_code() -> Result<String, Answer> {
    crate::crypto::random_alphanumeric(7).map_err(|_| Answer::for_status(500))
}

/// An `out_trade_no` a combine order's sub-order holds, placed again as a
/// normal order (FLOWS.md §1.5: 403 OUT_TRADE_NO_USED 商户订单号重复).
fn out_trade_no_used() -> Answer {
    Answer::error(403, "OUT_TRADE_NO_USED", "商户订单号重复", None)
}

fn order_not_exist() -> Answer {
    Answer::error(404, "ORDER_NOT_EXIST", "订单不存在", None)
}

/// A control naming no order: 404 saying which.
fn unknown_order(sub: &str, out_trade_no: &str) -> Answer {
    let (what, kind) = ("payment order", "order");
    Answer::not_held(
        "ORDER_NOT_EXIST",
        "订单不存在",
        sub,
        what,
        kind,
        out_trade_no,
    )
}

/// A control the order's state forbids: 409 saying what and why; nothing changes.
fn action_refused(order: &Payment, action: &str, why: &str) -> Answer {
    Answer::error(
        409,
        "INVALID_ORDER_STATE",
        &format!("cannot {action} order {}: {why}", order.out_trade_no()),
        Some(json!({"trade_state": order.state.as_str()})),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Places JSAPI order `no` of `total` fen, as the merchant 1900000109.
    pub(crate) fn create_of(book: &mut Payments, no: &str, total: i64, now: i64) -> Answer {
        let body = json!({"appid": "wxd678efh567hg6787", "mchid": "1900000109", "description": "d",
            "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": total},
            "payer": {"openid": "o"}})
        .to_string();
        book.serve(&Call {
            operation: Operation::Create("JSAPI"),
            partner: false,
            params: &[],
            query: &[],
            body: body.as_bytes(),
            mchid: "1900000109",
            base_url: "http://127.0.0.1/",
            now,
        })
    }

    fn create(book: &mut Payments, no: &str, now: i64) -> Answer {
        create_of(book, no, 1, now)
    }

    #[test]
    fn the_book_forgets_the_oldest_past_its_limit() {
        let mut book = Payments {
            orders: Book::with_limit(3),
            next: 0,
        };
        for i in 0..5 {
            assert_eq!(
                create(&mut book, &format!("ORDER{i:03}"), 1_767_240_000).status,
                200
            );
        }
        assert_eq!(book.orders.len(), 3);
        assert_eq!(
            (
                book.orders.ids_in(BY_PREPAY),
                book.orders.ids_in(BY_CODE),
                book.orders.len()
            ),
            (3, 3, 3)
        );
        assert!(book.get_mut("", "ORDER000", 1_767_240_000).is_none());
        assert!(book.get_mut("", "ORDER004", 1_767_240_000).is_some());
    }

    #[test]
    fn prepay_ids_look_like_real_ones() {
        let id = fresh_prepay_id(1_767_240_000).unwrap();
        assert_eq!(id.len(), 36, "{id}");
        assert!(
            id.starts_with("wx") && id[2..].bytes().all(|b| b.is_ascii_hexdigit()),
            "{id}"
        );
    }

    #[test]
    fn an_order_closes_when_its_time_runs_out() {
        let mut book = Payments::default();
        create(&mut book, "EXPIRE1", 1_000);
        let order = book
            .get_mut("", "EXPIRE1", 1_000 + DEFAULT_LIFETIME - 1)
            .unwrap();
        assert_eq!(order.state, TradeState::NotPay);
        let order = book
            .get_mut("", "EXPIRE1", 1_000 + DEFAULT_LIFETIME)
            .unwrap();
        assert_eq!(order.state, TradeState::Closed);
    }
}
