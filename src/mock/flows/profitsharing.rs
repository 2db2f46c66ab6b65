//! Profit sharing (分账), direct and partner (`v3/profitsharing/…`; a
//! partner names the body's or query's `sub_mchid`): receivers, sharing
//! requests, unfreezing, returns, and the funds of the order they split,
//! as WeChat Pay keeps them (FLOWS.md §4.2 and §4.4).
//!
//! ```text
//! order paid with settle_info.profit_sharing=true → its funds frozen
//! sharing request → PROCESSING (receivers PENDING) ──each──► SUCCESS | CLOSED(fail_reason)
//!                 → FINISHED once no receiver is PENDING
//! unfreeze (a new out_order_no) | unfreeze_unsplit=true | 30 days after payment → the rest unfrozen
//! ```
//!
//! The paid order is read from the payments store, never copied: its
//! total, what refunds took from it and when it was paid. This module keeps
//! only what sharing adds: the amount shared per order, whether the rest was
//! unfrozen, the requests, returns and receivers. Every time rule (sharing
//! opens a minute after payment, funds unfreeze by themselves after 30 days)
//! is [`sharing_window`], the one place a simulated clock replaces.
//! Receivers' results change only through the `/_mock/profitsharing/…`
//! controls (the test chooses SUCCESS or CLOSED and its `fail_reason`).
//! At most [`KEPT_ORDERS`] requests, returns, receivers and orders' ledgers
//! are kept; the oldest goes first.

use openssl::pkey::{PKey, Private};
use serde_json::{json, Map, Value};

use crate::clock;
use crate::crypto::{rsa_oaep_decrypt, rsa_oaep_encrypt};
use crate::keys::same_serial;
use crate::mock::flows::bills::fee_on;
use crate::mock::flows::kept::{trailing_sequence, Book, Ids, Kept, Key, KEPT_ORDERS};
use crate::mock::flows::payments::{Payment, Payments, TradeState};
use crate::mock::wire::answer::Answer;
use crate::mock::wire::body::{
    at, check_notify_url, optional_str, parse_body, query_param, required_fen, required_str,
};
use crate::mock::wire::clock::Timer;
use crate::mock::wire::identity::ServerKeys;
use crate::mock::wire::notify::Event;
use crate::mock::wire::store::{self, Batch, Store};

/// The share of an order that may be split unless the merchant platform
/// says otherwise: 30%, in WeChat Pay's unit (万分比, `max_ratio` 3000).
pub(crate) const DEFAULT_MAX_RATIO: i64 = 3000;
/// Sharing may start this long after payment (SK 分账接入指南: 1 min).
pub(crate) const WAIT_AFTER_PAYMENT: i64 = 60;
/// The funds unfreeze by themselves this long after payment (30 days).
pub(crate) const FROZEN_FOR: i64 = 30 * 86_400;
/// Receivers per request and requests per order (SK: at most 50 each).
const MAX_RECEIVERS: usize = 50;
const MAX_REQUESTS: u32 = 50;

/// `fail_reason` of a CLOSED receiver (GO `DetailFailReason`, FLOWS §4.2/§4.4).
pub(crate) const FAIL_REASONS: [&str; 8] = [
    "ACCOUNT_ABNORMAL",
    "NO_RELATION",
    "RECEIVER_HIGH_RISK",
    "RECEIVER_REAL_NAME_NOT_VERIFIED",
    "NO_AUTH",
    "RECEIVER_RECEIPT_LIMIT",
    "PAYER_ACCOUNT_ABNORMAL",
    "INVALID_REQUEST",
];
/// `type` of a receiver (GO `ReceiverType`).
const RECEIVER_TYPES: [&str; 3] = ["MERCHANT_ID", "PERSONAL_OPENID", "PERSONAL_SUB_OPENID"];
/// `relation_type` (GO `ReceiverRelationType`).
const RELATION_TYPES: [&str; 11] = [
    "SERVICE_PROVIDER",
    "STORE",
    "STAFF",
    "STORE_OWNER",
    "PARTNER",
    "HEADQUARTER",
    "BRAND",
    "DISTRIBUTOR",
    "USER",
    "SUPPLIER",
    "CUSTOM",
];

/// Where an order stands on WeChat Pay's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// Within a minute of payment: "订单处理中，请稍后重试".
    TooEarly,
    Open,
    /// 30 days after payment: the rest unfroze by itself.
    Unfrozen,
}

/// WeChat Pay's time rules for the frozen funds of an order paid at
/// `paid_at`, seen at `now`; `wait` is the pause after payment (60 s, or
/// less when the mock's settings shorten it). The one place these rules
/// live: a simulated clock replaces `now` here and nothing else.
pub(crate) fn sharing_window(paid_at: i64, now: i64, wait: i64) -> Window {
    if now >= paid_at + FROZEN_FOR {
        Window::Unfrozen
    } else if now < paid_at + wait {
        Window::TooEarly
    } else {
        Window::Open
    }
}

/// `result` of one receiver in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum ReceiverResult {
    Pending,
    Success,
    Closed,
}

impl ReceiverResult {
    fn as_str(self) -> &'static str {
        match self {
            ReceiverResult::Pending => "PENDING",
            ReceiverResult::Success => "SUCCESS",
            ReceiverResult::Closed => "CLOSED",
        }
    }
}

/// How a PENDING receiver ends, as the test decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReceiverOutcome {
    Succeed,
    /// CLOSED with this `fail_reason` (one of [`FAIL_REASONS`]).
    Close(String),
}

impl ReceiverOutcome {
    /// From the control's last segment and its `fail_reason`.
    pub(crate) fn from_action(action: &str, fail_reason: Option<&str>) -> Result<Self, Answer> {
        match (action, fail_reason) {
            ("succeed", None) => Ok(ReceiverOutcome::Succeed),
            ("succeed", Some(_)) => Err(Answer::param_error(
                "/fail_reason",
                "only close takes a fail_reason",
            )),
            ("close", Some(reason)) if FAIL_REASONS.contains(&reason) => {
                Ok(ReceiverOutcome::Close(reason.to_owned()))
            }
            ("close", _) => Err(Answer::param_error(
                "/fail_reason",
                &format!(
                    "close needs a fail_reason, one of {}",
                    FAIL_REASONS.join(", ")
                ),
            )),
            (other, _) => Err(Answer::error(
                404,
                "RESOURCE_NOT_EXISTS",
                &format!("未知的模拟操作 {other}: expected one of succeed, close"),
                None,
            )),
        }
    }
}

/// One receiver of one request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Share {
    kind: String,
    account: String,
    #[serde(deserialize_with = "store::fen")]
    amount: i64,
    description: String,
    result: ReceiverResult,
    fail_reason: Option<String>,
    detail_id: String,
    #[serde(deserialize_with = "store::unix")]
    created: i64,
    #[serde(default, deserialize_with = "store::unix_opt")]
    finished: Option<i64>,
    /// Fen returned from it so far (never back to the splittable amount).
    #[serde(deserialize_with = "store::fen")]
    returned: i64,
}

/// A sharing request, or an unfreeze (one receiver: the sharer itself).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Order {
    sub: String,
    transaction_id: String,
    out_order_no: String,
    order_id: String,
    unfreeze: bool,
    receivers: Vec<Share>,
}

impl Order {
    fn state(&self) -> &'static str {
        if self
            .receivers
            .iter()
            .any(|r| r.result == ReceiverResult::Pending)
        {
            "PROCESSING"
        } else {
            "FINISHED"
        }
    }

    /// As the query answers it (GO `OrdersEntity`).
    fn render(&self) -> Value {
        let receivers: Vec<Value> = self
            .receivers
            .iter()
            .map(|r| {
                let mut out = json!({"amount": r.amount, "description": r.description,
                    "type": r.kind, "account": r.account, "result": r.result.as_str(),
                    "detail_id": r.detail_id, "create_time": clock::rfc3339(r.created)});
                if let Some(reason) = &r.fail_reason {
                    out["fail_reason"] = json!(reason);
                }
                if let Some(time) = r.finished {
                    out["finish_time"] = json!(clock::rfc3339(time));
                }
                out
            })
            .collect();
        let mut out = Map::new();
        if !self.sub.is_empty() {
            out.insert("sub_mchid".into(), json!(self.sub));
        }
        out.insert("transaction_id".into(), json!(self.transaction_id));
        out.insert("out_order_no".into(), json!(self.out_order_no));
        out.insert("order_id".into(), json!(self.order_id));
        out.insert("state".into(), json!(self.state()));
        out.insert("receivers".into(), Value::Array(receivers));
        Value::Object(out)
    }
}

/// A return (分账回退): synchronous, SUCCESS at once.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Return {
    sub: String,
    order_id: String,
    out_order_no: String,
    out_return_no: String,
    return_id: String,
    return_mchid: String,
    #[serde(deserialize_with = "store::fen")]
    amount: i64,
    description: String,
    #[serde(deserialize_with = "store::unix")]
    created: i64,
}

impl Return {
    /// GO `ReturnOrdersEntity`.
    fn render(&self) -> Value {
        let mut out = Map::new();
        if !self.sub.is_empty() {
            out.insert("sub_mchid".into(), json!(self.sub));
        }
        for (k, v) in [
            ("order_id", &self.order_id),
            ("out_order_no", &self.out_order_no),
            ("out_return_no", &self.out_return_no),
            ("return_id", &self.return_id),
            ("return_mchid", &self.return_mchid),
        ] {
            out.insert(k.into(), json!(v));
        }
        out.insert("amount".into(), json!(self.amount));
        out.insert("description".into(), json!(self.description));
        out.insert("result".into(), json!("SUCCESS"));
        out.insert("create_time".into(), json!(clock::rfc3339(self.created)));
        out.insert("finish_time".into(), json!(clock::rfc3339(self.created)));
        Value::Object(out)
    }
}

/// A bound receiver (`receivers/add`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Receiver {
    name: Option<String>,
    relation_type: String,
    custom_relation: Option<String>,
    /// False once deleted; adding it again binds it anew.
    bound: bool,
}

/// What sharing added to one paid order.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Ledger {
    /// Fen of receivers not CLOSED, over every request: the cumulative cap.
    #[serde(deserialize_with = "store::fen")]
    shared: i64,
    requests: u32,
    /// The rest went back to the merchant (unfreeze, `unfreeze_unsplit`, 30 days).
    unfrozen: bool,
}

/// A paid order's frozen funds as a request sees them.
struct Funds {
    total: i64,
    splittable: i64,
    window: Window,
    ledger: Ledger,
}

/// Which operation a request is, from its catalog template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    AddReceiver,
    DeleteReceiver,
    Share,
    Query,
    Unfreeze,
    Return,
    QueryReturn,
    Amounts,
    MerchantConfig,
}

impl Operation {
    pub(crate) fn from_template(method: &str, template: &str) -> Option<Self> {
        let rest = template.strip_prefix("v3/profitsharing/")?;
        Some(match (method, rest) {
            ("POST", "receivers/add") => Operation::AddReceiver,
            ("POST", "receivers/delete") => Operation::DeleteReceiver,
            ("POST", "orders") => Operation::Share,
            ("GET", "orders/{out_order_no}") => Operation::Query,
            ("POST", "orders/unfreeze") => Operation::Unfreeze,
            ("POST", "return-orders") => Operation::Return,
            ("GET", "return-orders/{out_return_no}") => Operation::QueryReturn,
            ("GET", "transactions/{transaction_id}/amounts") => Operation::Amounts,
            ("GET", "merchant-configs/{sub_mchid}") => Operation::MerchantConfig,
            _ => return None,
        })
    }
}

/// One request to this flow.
pub(crate) struct Call<'a> {
    pub(crate) operation: Operation,
    pub(crate) params: &'a [(String, String)],
    pub(crate) query: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    /// The calling merchant (or service provider), from its signature.
    pub(crate) mchid: &'a str,
    /// The request's `Wechatpay-Serial`: the key its encrypted fields use.
    pub(crate) serial: Option<&'a str>,
    pub(crate) keys: &'a ServerKeys,
    pub(crate) now: i64,
}

/// Which notification the merchant platform sends (FLOWS §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Shared,
    Returned,
}

/// The merchant platform's settings for profit sharing, as the mock keeps them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub(crate) struct Settings {
    /// The 分账动账通知 URL (set on the merchant platform, not per request).
    pub(crate) notify_url: Option<String>,
    /// Send the documented `PROFITSHARING.SUCCESS|RETURN` instead of the
    /// `TRANSACTION.SUCCESS` WeChat Pay is observed to send.
    pub(crate) documented_events: bool,
    /// Seconds after payment before sharing opens (WeChat Pay: 60).
    pub(crate) wait_after_payment: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            notify_url: None,
            documented_events: false,
            wait_after_payment: WAIT_AFTER_PAYMENT,
        }
    }
}

/// Applies one `PUT /_mock/settings` key of this flow to `settings`;
/// `Ok(false)` when the key is not this flow's.
pub(crate) fn change_setting(
    settings: &mut Settings,
    key: &str,
    value: &Value,
) -> Result<bool, Answer> {
    match key {
        "profitsharing_notify_url" => {
            settings.notify_url = match value {
                Value::Null => None,
                _ => {
                    let mut wrapper = Map::new();
                    wrapper.insert("url".into(), value.clone());
                    check_notify_url(&wrapper, "/url")
                        .map_err(|_| Answer::param_error(
                            "/profitsharing_notify_url",
                            "an http(s) URL without a query (not a /_mock/ control), or null for none",
                        ))?;
                    value.as_str().map(str::to_owned)
                }
            };
        }
        "profitsharing_event_type" => {
            settings.documented_events = match value.as_str() {
                Some("observed") => false,
                Some("documented") => true,
                _ => {
                    return Err(Answer::param_error(
                        "/profitsharing_event_type",
                        "\"observed\" (TRANSACTION.SUCCESS, as WeChat Pay sends) or \"documented\" (PROFITSHARING.SUCCESS|RETURN)",
                    ))
                }
            };
        }
        "profitsharing_wait_s" => {
            settings.wait_after_payment = value
                .as_i64()
                .filter(|n| (0..=WAIT_AFTER_PAYMENT).contains(n))
                .ok_or_else(|| {
                    Answer::param_error(
                        "/profitsharing_wait_s",
                        "seconds from 0 to 60: how long after payment sharing opens (WeChat Pay: 60)",
                    )
                })?;
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The index of [`Order`]s by `order_id`.
const BY_ORDER_ID: usize = 0;

impl Ids<1> for Order {
    fn ids(&self) -> [Option<&str>; 1] {
        [Some(&self.order_id)]
    }
}

/// Everything profit sharing keeps.
pub(crate) struct ProfitSharing {
    /// Sharing and unfreezing requests, found too by `order_id`.
    orders: Book<Order, 1>,
    returns: Kept<Key, Return>,
    /// By `(sub_mchid, type, account)`.
    receivers: Kept<(String, String, String), Receiver>,
    /// By `transaction_id`.
    ledgers: Kept<String, Ledger>,
    /// `max_ratio` by sub-merchant (`""`: the direct merchant).
    ratios: Kept<String, i64>,
    pub(crate) settings: Settings,
    next: u64,
}

impl Default for ProfitSharing {
    fn default() -> Self {
        ProfitSharing::with_limit(KEPT_ORDERS)
    }
}

/// The store's names for what profit sharing keeps.
const KINDS: [&str; 5] = [
    "ps_order",
    "ps_return",
    "ps_receiver",
    "ps_ledger",
    "ps_ratio",
];

/// What a request did: the answer, and the notifications it queues.
pub(crate) type Served = (Answer, Vec<Event>);

impl ProfitSharing {
    pub(crate) fn with_limit(limit: usize) -> Self {
        ProfitSharing {
            orders: Book::with_limit(limit),
            returns: Kept::new(limit),
            receivers: Kept::new(limit),
            ledgers: Kept::new(limit),
            ratios: Kept::new(limit),
            settings: Settings::default(),
            next: 0,
        }
    }

    /// Keeps at most `limit` of each from now on (the retention setting).
    pub(crate) fn set_retention(&mut self, limit: usize) {
        self.orders.set_limit(limit);
        self.returns.set_limit(limit);
        self.receivers.set_limit(limit);
        self.ledgers.set_limit(limit);
        self.ratios.set_limit(limit);
    }

    /// Notes changes from now on, for [`ProfitSharing::save`].
    pub(crate) fn track(&mut self) {
        self.orders.track();
        self.returns.track();
        self.receivers.track();
        self.ledgers.track();
        self.ratios.track();
    }

    /// What changed or was forgotten since the last save.
    pub(crate) fn save(&mut self, batch: &mut Batch) {
        let [orders, returns, receivers, ledgers, ratios] = KINDS;
        self.orders.save_changes(orders, batch);
        self.returns.save_changes(returns, batch);
        self.receivers.save_changes(receivers, batch);
        self.ledgers.save_changes(ledgers, batch);
        self.ratios.save_changes(ratios, batch);
    }

    /// Rebuilds everything from the store (the settings are restored by
    /// the server with the mock's other settings).
    pub(crate) fn load(&mut self, store: &Store) -> Result<(), String> {
        let [orders, returns, receivers, ledgers, ratios] = KINDS;
        let mut next = self.next;
        // Every id ends with the one sequence number (fresh_id, return_id).
        self.orders.load(store, orders, |order: &Order| {
            next = next.max(trailing_sequence(&order.order_id, 12));
            for share in &order.receivers {
                next = next.max(trailing_sequence(&share.detail_id, 12));
            }
        })?;
        self.returns.load(store, returns)?;
        for (_, r) in self.returns.iter() {
            next = next.max(trailing_sequence(&r.return_id, 12));
        }
        self.receivers.load(store, receivers)?;
        self.ledgers.load(store, ledgers)?;
        self.ratios.load(store, ratios)?;
        // As set_max_ratio takes it: a larger one overflows the cap.
        if let Some((sub, ratio)) = self.ratios.iter().find(|(_, r)| !(0..=10_000).contains(*r)) {
            let why = format!("max_ratio {ratio} of {sub:?} is not 0 to 10000");
            return Err(store.refusal(&format!("a stored {ratios}"), &why));
        }
        self.next = next;
        Ok(())
    }

    /// When, within `(from, to]` (Unix seconds), the frozen rest of a paid
    /// order unfreezes by itself: 30 days after payment ([`sharing_window`]),
    /// for orders placed with profit sharing that still hold frozen funds.
    pub(crate) fn deadlines(&self, payments: &Payments, from: i64, to: i64) -> Vec<(i64, Timer)> {
        payments
            .iter()
            .filter(|order| profit_sharing(order))
            .filter_map(|order| {
                let id = order.transaction_id.as_ref()?;
                let at = order.success_time?.saturating_add(FROZEN_FOR);
                let done = self.ledgers.get(id).is_some_and(|l| l.unfrozen);
                (from < at && at <= to && !done).then(|| {
                    let transaction_id = id.clone();
                    (
                        at.saturating_mul(1000),
                        Timer::FundsUnfreeze { transaction_id },
                    )
                })
            })
            .collect()
    }

    /// Applies the 30 days to paid order `transaction_id` at `now`: what
    /// went back to the merchant (fen), if this is when it did.
    pub(crate) fn unfreeze_by_time(
        &mut self,
        payments: &Payments,
        transaction_id: &str,
        now: i64,
    ) -> Option<i64> {
        let order = payments
            .find_by_transaction(transaction_id)
            .filter(|o| matches!(o.state, TradeState::Success | TradeState::Refund))
            .filter(|o| profit_sharing(o))?;
        let paid_at = order.success_time?;
        let splittable = splittable(order);
        if self
            .ledgers
            .get(&transaction_id.to_owned())
            .is_some_and(|l| l.unfrozen)
        {
            return None;
        }
        let wait = self.settings.wait_after_payment;
        let ledger = self.ledger(transaction_id, paid_at, now, wait);
        ledger.unfrozen.then(|| (splittable - ledger.shared).max(0))
    }

    /// Serves one request; the payments are locked by the caller (always
    /// before this store).
    pub(crate) fn serve(&mut self, payments: &mut Payments, call: &Call<'_>) -> Served {
        let result = match call.operation {
            Operation::AddReceiver => self.add_receiver(call).map(none),
            Operation::DeleteReceiver => self.delete_receiver(call).map(none),
            Operation::Share => self.share(payments, call).map(none),
            Operation::Query => self.query(call).map(none),
            Operation::Unfreeze => self.unfreeze(payments, call).map(none),
            Operation::Return => self.return_order(call),
            Operation::QueryReturn => self.query_return(call).map(none),
            Operation::Amounts => self.amounts(payments, call).map(none),
            Operation::MerchantConfig => {
                let sub = query_param(call.params, "sub_mchid").unwrap_or_default();
                Ok((
                    Answer::json(
                        200,
                        &json!({"sub_mchid": sub, "max_ratio": self.max_ratio(sub)}),
                    ),
                    Vec::new(),
                ))
            }
        };
        result.unwrap_or_else(|refusal| (refusal, Vec::new()))
    }

    /// `max_ratio` of sub-merchant `sub` (`""`: the direct merchant).
    pub(crate) fn max_ratio(&self, sub: &str) -> i64 {
        self.ratios
            .get(&sub.to_owned())
            .copied()
            .unwrap_or(DEFAULT_MAX_RATIO)
    }

    /// Sets `max_ratio` (万分比, 0 to 10000) as the merchant platform would.
    pub(crate) fn set_max_ratio(&mut self, sub: &str, ratio: i64) -> Result<(), Answer> {
        if !(0..=10_000).contains(&ratio) {
            return Err(Answer::param_error(
                "/max_ratio",
                "万分比: an integer from 0 to 10000 (3000 = 30%)",
            ));
        }
        self.ratios.insert(sub.to_owned(), ratio);
        Ok(())
    }

    fn add_receiver(&mut self, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let sub = partner_sub(&body, call.mchid)?;
        required_str(&body, "/appid")?;
        let (kind, account) = receiver_id(&body, "")?;
        if kind == "PERSONAL_SUB_OPENID" {
            required_str(&body, "/sub_appid")?;
        }
        let relation_type = required_str(&body, "/relation_type")?;
        if !RELATION_TYPES.contains(&relation_type) {
            return Err(Answer::param_error(
                "/relation_type",
                &format!("只能是 {}", RELATION_TYPES.join(", ")),
            ));
        }
        let custom_relation = optional_str(&body, "/custom_relation").map(str::to_owned);
        if relation_type == "CUSTOM" {
            let text = required_str(&body, "/custom_relation")?;
            if text.chars().count() > 10 {
                return Err(Answer::param_error("/custom_relation", "最多 10 个字"));
            }
        }
        // A merchant receiver is named by its full name (商户全称, 必传).
        if kind == "MERCHANT_ID" {
            required_str(&body, "/name")?;
        }
        let name = open_names(&body, &["/name"], call)?.pop().flatten();
        let key = (sub.clone(), kind.to_owned(), account.to_owned());
        // 重复绑定返回成功，不会覆盖原数据.
        let receiver = match self.receivers.get_mut(&key) {
            Some(known) if known.bound => known.clone(),
            _ => {
                let fresh = Receiver {
                    name,
                    relation_type: relation_type.to_owned(),
                    custom_relation,
                    bound: true,
                };
                self.receivers.insert(key, fresh.clone());
                fresh
            }
        };
        let mut out = Map::new();
        if !sub.is_empty() {
            out.insert("sub_mchid".into(), json!(sub));
        }
        out.insert("type".into(), json!(kind));
        out.insert("account".into(), json!(account));
        if let Some(name) = &receiver.name {
            // Sensitive in answers too: encrypted for the merchant's certificate.
            let sealed = rsa_oaep_encrypt(&call.keys.merchant_public, name.as_bytes())
                .map_err(|_| Answer::for_status(500))?;
            out.insert("name".into(), json!(sealed));
        }
        out.insert("relation_type".into(), json!(receiver.relation_type));
        if let Some(custom) = &receiver.custom_relation {
            out.insert("custom_relation".into(), json!(custom));
        }
        Ok(Answer::json(200, &Value::Object(out)))
    }

    fn delete_receiver(&mut self, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let sub = partner_sub(&body, call.mchid)?;
        required_str(&body, "/appid")?;
        let (kind, account) = receiver_id(&body, "")?;
        let key = (sub.clone(), kind.to_owned(), account.to_owned());
        if let Some(known) = self.receivers.get_mut(&key) {
            known.bound = false;
        }
        let mut out = json!({"type": kind, "account": account});
        if !sub.is_empty() {
            out["sub_mchid"] = json!(sub);
        }
        Ok(Answer::json(200, &out))
    }

    fn share(&mut self, payments: &mut Payments, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let sub = partner_sub(&body, call.mchid)?;
        if !sub.is_empty() {
            required_str(&body, "/appid")?;
        }
        let transaction_id = required_str(&body, "/transaction_id")?.to_owned();
        let out_order_no = out_order_no(&body)?;
        let unfreeze_unsplit = at(&body, "/unfreeze_unsplit")
            .ok_or_else(|| Answer::param_error("/unfreeze_unsplit", "此字段为必填项 (缺少参数)"))?
            .as_bool()
            .ok_or_else(|| Answer::param_error("/unfreeze_unsplit", "必须是 true 或 false"))?;
        let list = at(&body, "/receivers")
            .and_then(Value::as_array)
            .filter(|list| (1..=MAX_RECEIVERS).contains(&list.len()))
            .ok_or_else(|| Answer::param_error("/receivers", "1 到 50 个分账接收方 (an array)"))?;
        let mut asked = Vec::with_capacity(list.len());
        let mut pointers = Vec::with_capacity(list.len());
        for (i, _) in list.iter().enumerate() {
            let at_i = format!("/receivers/{i}");
            let (kind, account) = receiver_id(&body, &at_i)?;
            let amount = required_fen(&body, &format!("{at_i}/amount"))?;
            let description = required_str(&body, &format!("{at_i}/description"))?;
            if asked
                .iter()
                .any(|(k, a, _, _): &(&str, &str, i64, &str)| *k == kind && *a == account)
            {
                return Err(Answer::param_error(
                    &at_i,
                    "同一分账接收方在一次请求中只能出现一次",
                ));
            }
            asked.push((kind, account, amount, description));
            pointers.push(format!("{at_i}/name"));
        }
        let pointers: Vec<&str> = pointers.iter().map(String::as_str).collect();
        let names = open_names(&body, &pointers, call)?;
        let key = (sub.clone(), out_order_no.clone());
        // 同一分账单号多次请求等同一次: the same receivers answer the same order.
        if let Some(known) = self.orders.get(&key) {
            let same = known.transaction_id == transaction_id
                && !known.unfreeze
                && known.receivers.len() == asked.len()
                && known
                    .receivers
                    .iter()
                    .zip(&asked)
                    .all(|(r, (k, a, amount, _))| {
                        r.kind == *k && r.account == *a && r.amount == *amount
                    });
            return if same {
                Ok(Answer::json(200, &known.render()))
            } else {
                Err(invalid("分账接收方与原请求不一致"))
            };
        }
        let funds = self.funds(
            payments,
            &sub,
            &transaction_id,
            call.now,
            "非分账订单不支持分账",
        )?;
        let (total, splittable, ledger) = (funds.total, funds.splittable, funds.ledger);
        if funds.window == Window::TooEarly {
            return Err(invalid("订单处理中，请稍后重试"));
        }
        if ledger.unfrozen {
            return Err(invalid("已解冻的订单不支持继续分账"));
        }
        if ledger.requests >= MAX_REQUESTS {
            return Err(invalid("一笔订单最多可分账 50 次"));
        }
        for (i, (kind, account, _, _)) in asked.iter().enumerate() {
            let receiver = self
                .receivers
                .get(&(sub.clone(), (*kind).to_owned(), (*account).to_owned()))
                .filter(|r| r.bound)
                .ok_or_else(|| {
                    Answer::error(
                        400,
                        "INVALID_REQUEST",
                        &format!("分账接收方不存在: {kind} {account} 未添加 (add it with v3/profitsharing/receivers/add first)"),
                        Some(json!({"field": format!("/receivers/{i}/account"), "location": "body"})),
                    )
                })?;
            if let (Some(given), Some(bound)) =
                (names.get(i).and_then(Option::as_ref), &receiver.name)
            {
                if given != bound {
                    return Err(Answer::param_error(
                        &format!("/receivers/{i}/name"),
                        "分账接收方姓名与添加时不一致",
                    ));
                }
            }
        }
        let sum: i64 = asked.iter().map(|(_, _, amount, _)| amount).sum();
        let cap = total * self.max_ratio(&sub) / 10_000;
        if ledger.shared + sum > cap || sum > splittable - ledger.shared {
            return Err(Answer::error(403, "NOT_ENOUGH", "分账金额不足", None));
        }
        let order_id = self.fresh_id("30000", call.now, 28);
        let receivers = asked
            .iter()
            .map(|(kind, account, amount, description)| Share {
                kind: (*kind).to_owned(),
                account: (*account).to_owned(),
                amount: *amount,
                description: (*description).to_owned(),
                result: ReceiverResult::Pending,
                fail_reason: None,
                detail_id: self.fresh_id("3600", call.now, 28),
                created: call.now,
                finished: None,
                returned: 0,
            })
            .collect();
        if let Some(ledger) = self.ledgers.get_mut(&transaction_id) {
            ledger.shared += sum;
            ledger.requests += 1;
            ledger.unfrozen |= unfreeze_unsplit;
        }
        let created = Order {
            sub,
            transaction_id,
            out_order_no,
            order_id,
            unfreeze: false,
            receivers,
        };
        let answer = Answer::json(200, &created.render());
        self.orders.insert(key, created);
        Ok(answer)
    }

    fn query(&self, call: &Call<'_>) -> Result<Answer, Answer> {
        let sub = query_param(call.query, "sub_mchid").unwrap_or_default();
        let transaction_id = query_param(call.query, "transaction_id")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Answer::query_error("transaction_id", "此字段为必填项 (缺少参数)"))?;
        let no = query_param(call.params, "out_order_no").unwrap_or_default();
        self.orders
            .get(&(sub.to_owned(), no.to_owned()))
            .filter(|o| o.transaction_id == transaction_id)
            .map(|o| Answer::json(200, &o.render()))
            .ok_or_else(not_found)
    }

    fn unfreeze(&mut self, payments: &mut Payments, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let sub = partner_sub(&body, call.mchid)?;
        let transaction_id = required_str(&body, "/transaction_id")?.to_owned();
        let out_order_no = out_order_no(&body)?;
        required_str(&body, "/description")?;
        let key = (sub.clone(), out_order_no.clone());
        // The same number again is the same request: a sharing request's
        // number answers that request, and nothing unfreezes (SK: "接口返回
        // 成功但实际不解冻").
        if let Some(known) = self.orders.get(&key) {
            return if known.transaction_id == transaction_id {
                Ok(Answer::json(200, &known.render()))
            } else {
                Err(invalid("商户分账单号已被其他订单使用"))
            };
        }
        let funds = self.funds(
            payments,
            &sub,
            &transaction_id,
            call.now,
            "非分账订单不支持解冻剩余资金",
        )?;
        let ledger = funds.ledger;
        let rest = (funds.splittable - ledger.shared).max(0);
        if ledger.unfrozen || rest == 0 {
            return Err(Answer::error(403, "NOT_ENOUGH", "分账金额为0", None));
        }
        let sharer = if sub.is_empty() { call.mchid } else { &sub };
        let created = Order {
            sub: sub.clone(),
            transaction_id: transaction_id.clone(),
            out_order_no,
            order_id: self.fresh_id("30000", call.now, 28),
            unfreeze: true,
            receivers: vec![Share {
                kind: "MERCHANT_ID".to_owned(),
                account: sharer.to_owned(),
                amount: rest,
                description: "解冻给分账方".to_owned(),
                result: ReceiverResult::Success,
                fail_reason: None,
                detail_id: self.fresh_id("3600", call.now, 28),
                created: call.now,
                finished: Some(call.now),
                returned: 0,
            }],
        };
        if let Some(ledger) = self.ledgers.get_mut(&transaction_id) {
            ledger.unfrozen = true;
        }
        let answer = Answer::json(200, &created.render());
        self.orders.insert(key, created);
        Ok(answer)
    }

    fn return_order(&mut self, call: &Call<'_>) -> Result<Served, Answer> {
        let body = parse_body(call.body)?;
        let sub = partner_sub(&body, call.mchid)?;
        let out_return_no = out_no(&body, "/out_return_no")?;
        let return_mchid = required_str(&body, "/return_mchid")?.to_owned();
        let amount = required_fen(&body, "/amount")?;
        let description = required_str(&body, "/description")?.to_owned();
        let order_key = match (
            optional_str(&body, "/order_id"),
            optional_str(&body, "/out_order_no"),
        ) {
            (Some(id), _) => self
                .orders
                .key_of(BY_ORDER_ID, id)
                .filter(|(s, _)| *s == sub)
                .cloned()
                .ok_or_else(not_found)?,
            (None, Some(no)) => (sub.clone(), no.to_owned()),
            (None, None) => {
                return Err(Answer::param_error(
                    "/out_order_no",
                    "order_id 和 out_order_no 必须传一个",
                ))
            }
        };
        let key = (sub.clone(), out_return_no.clone());
        if let Some(known) = self.returns.get(&key) {
            let same = known.amount == amount
                && known.return_mchid == return_mchid
                && known.out_order_no == order_key.1;
            return if same {
                Ok((Answer::json(200, &known.render()), Vec::new()))
            } else {
                Err(invalid(
                    "请求内容和上次请求不一致，商户回退单号已经被其他请求使用",
                ))
            };
        }
        let order = self
            .orders
            .get_mut(&order_key)
            .filter(|o| !o.unfreeze)
            .ok_or_else(not_found)?;
        // Only what reached a merchant receiver comes back.
        let share = order
            .receivers
            .iter_mut()
            .find(|r| {
                r.kind == "MERCHANT_ID"
                    && r.account == return_mchid
                    && r.result == ReceiverResult::Success
            })
            .ok_or_else(|| invalid("回退方不存在"))?;
        if amount > share.amount - share.returned {
            return Err(Answer::error(
                400,
                "INVALID_REQUEST",
                "回退金额超过该接收方分得且未回退的金额",
                Some(json!({"returnable": share.amount - share.returned})),
            ));
        }
        share.returned += amount;
        let (order_id, transaction_id) = (order.order_id.clone(), order.transaction_id.clone());
        let sequence = self.next_sequence();
        let created = Return {
            sub: sub.clone(),
            order_id: order_id.clone(),
            out_order_no: order_key.1.clone(),
            out_return_no,
            return_id: format!("3008{}{sequence:016}", &clock::compact(call.now)[..8]),
            return_mchid: return_mchid.clone(),
            amount,
            description: description.clone(),
            created: call.now,
        };
        let answer = Answer::json(200, &created.render());
        self.returns.insert(key, created);
        // The receiver hears of it; its `receiver` is the sharer the money returns to.
        let sharer = if sub.is_empty() { call.mchid } else { &sub };
        let resource = self.notice_resource(
            call.mchid,
            &sub,
            &transaction_id,
            &order_id,
            &order_key.1,
            json!({"type": "MERCHANT_ID", "account": sharer, "amount": amount, "description": description}),
            call.now,
        );
        let events = self.event(Notice::Returned, resource).into_iter().collect();
        Ok((answer, events))
    }

    fn query_return(&self, call: &Call<'_>) -> Result<Answer, Answer> {
        let sub = query_param(call.query, "sub_mchid").unwrap_or_default();
        let out_order_no = query_param(call.query, "out_order_no")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Answer::query_error("out_order_no", "此字段为必填项 (缺少参数)"))?;
        let no = query_param(call.params, "out_return_no").unwrap_or_default();
        self.returns
            .get(&(sub.to_owned(), no.to_owned()))
            .filter(|r| r.out_order_no == out_order_no)
            .map(|r| Answer::json(200, &r.render()))
            .ok_or_else(not_found)
    }

    fn amounts(&mut self, payments: &mut Payments, call: &Call<'_>) -> Result<Answer, Answer> {
        let id = query_param(call.params, "transaction_id").unwrap_or_default();
        let order = payments
            .find_by_transaction(id)
            .filter(|o| matches!(o.state, TradeState::Success | TradeState::Refund))
            .ok_or_else(not_found)?;
        let unsplit = if profit_sharing(order) {
            let splittable = splittable(order);
            let paid_at = order.success_time.unwrap_or(call.now);
            let wait = self.settings.wait_after_payment;
            let ledger = self.ledger(id, paid_at, call.now, wait);
            if ledger.unfrozen {
                0
            } else {
                (splittable - ledger.shared).max(0)
            }
        } else {
            0
        };
        Ok(Answer::json(
            200,
            &json!({"transaction_id": id, "unsplit_amount": unsplit}),
        ))
    }

    /// The frozen funds of paid order `transaction_id`: refused as
    /// `not_sharing` says when it was paid without profit sharing.
    fn funds(
        &mut self,
        payments: &mut Payments,
        sub: &str,
        transaction_id: &str,
        now: i64,
        not_sharing: &str,
    ) -> Result<Funds, Answer> {
        let order = payments
            .by_transaction_mut(sub, transaction_id)
            .map(|order| &*order)
            .filter(|o| matches!(o.state, TradeState::Success | TradeState::Refund))
            .ok_or_else(not_found)?;
        if !profit_sharing(order) {
            return Err(invalid(not_sharing));
        }
        let paid_at = order.success_time.unwrap_or(now);
        let (total, splittable) = (order.total(), splittable(order));
        let wait = self.settings.wait_after_payment;
        Ok(Funds {
            total,
            splittable,
            window: sharing_window(paid_at, now, wait),
            ledger: self.ledger(transaction_id, paid_at, now, wait),
        })
    }

    /// The ledger of `transaction_id`, made when first needed, with the
    /// passage of time applied (30 days after payment the rest unfreezes).
    fn ledger(&mut self, transaction_id: &str, paid_at: i64, now: i64, wait: i64) -> Ledger {
        let key = transaction_id.to_owned();
        if self.ledgers.get(&key).is_none() {
            self.ledgers.insert(key.clone(), Ledger::default());
        }
        let Some(ledger) = self.ledgers.get_mut(&key) else {
            return Ledger::default();
        };
        if sharing_window(paid_at, now, wait) == Window::Unfrozen {
            ledger.unfrozen = true;
        }
        ledger.clone()
    }

    /// A control ends PENDING receiver `account` of request `out_order_no`;
    /// a merchant receiver's SUCCESS queues the 分账 notification.
    pub(crate) fn resolve(
        &mut self,
        sub: &str,
        out_order_no: &str,
        account: &str,
        outcome: &ReceiverOutcome,
        mchid: &str,
        now: i64,
    ) -> Result<(Value, Option<Event>), Answer> {
        let whose = if sub.is_empty() {
            "the merchant".to_owned()
        } else {
            format!("sub-merchant {sub}")
        };
        let order = self
            .orders
            .get_mut(&(sub.to_owned(), out_order_no.to_owned()))
            .filter(|o| !o.unfreeze)
            .ok_or_else(|| {
                Answer::error(
                    404,
                    "RESOURCE_NOT_EXISTS",
                    &format!("记录不存在: {whose} has no sharing request {out_order_no} (a partner's needs ?sub_mchid=)"),
                    None,
                )
            })?;
        let share = order
            .receivers
            .iter_mut()
            .find(|r| r.account == account)
            .ok_or_else(|| {
                Answer::error(
                    404,
                    "RESOURCE_NOT_EXISTS",
                    &format!(
                        "记录不存在: sharing request {out_order_no} has no receiver {account}"
                    ),
                    None,
                )
            })?;
        if share.result != ReceiverResult::Pending {
            return Err(Answer::error(
                409,
                "INVALID_RECEIVER_STATE",
                &format!(
                    "cannot resolve receiver {account} of {out_order_no}: it is {}, only a PENDING receiver ends",
                    share.result.as_str()
                ),
                Some(json!({"result": share.result.as_str()})),
            ));
        }
        share.finished = Some(now);
        let shared = match outcome {
            ReceiverOutcome::Succeed => {
                share.result = ReceiverResult::Success;
                (share.kind == "MERCHANT_ID").then(|| {
                    json!({"type": share.kind, "account": share.account,
                           "amount": share.amount, "description": share.description})
                })
            }
            ReceiverOutcome::Close(reason) => {
                share.result = ReceiverResult::Closed;
                share.fail_reason = Some(reason.clone());
                // [inference] what never left stays with the order, splittable again.
                let amount = share.amount;
                if let Some(ledger) = self.ledgers.get_mut(&order.transaction_id) {
                    ledger.shared -= amount;
                }
                None
            }
        };
        let rendered = order.render();
        let (transaction_id, order_id) = (order.transaction_id.clone(), order.order_id.clone());
        let event = shared.and_then(|receiver| {
            let resource = self.notice_resource(
                mchid,
                sub,
                &transaction_id,
                &order_id,
                out_order_no,
                receiver,
                now,
            );
            self.event(Notice::Shared, resource)
        });
        Ok((rendered, event))
    }

    /// The decrypted resource of a 分账动账通知 (FLOWS §4.4).
    #[allow(clippy::too_many_arguments)]
    fn notice_resource(
        &self,
        mchid: &str,
        sub: &str,
        transaction_id: &str,
        order_id: &str,
        out_order_no: &str,
        receiver: Value,
        now: i64,
    ) -> Value {
        let mut out = Map::new();
        if sub.is_empty() {
            out.insert("mchid".into(), json!(mchid));
        } else {
            out.insert("sp_mchid".into(), json!(mchid));
            out.insert("sub_mchid".into(), json!(sub));
        }
        out.insert("transaction_id".into(), json!(transaction_id));
        out.insert("order_id".into(), json!(order_id));
        out.insert("out_order_no".into(), json!(out_order_no));
        out.insert("receiver".into(), receiver);
        out.insert("success_time".into(), json!(clock::rfc3339(now)));
        Value::Object(out)
    }

    /// The notification, when the merchant platform has a URL for it: the
    /// observed envelope by default, the documented one when set.
    fn event(&self, notice: Notice, resource: Value) -> Option<Event> {
        let notify_url = self.settings.notify_url.clone()?;
        let (event_type, original_type) = match (self.settings.documented_events, notice) {
            (false, _) => ("TRANSACTION.SUCCESS", "transaction"),
            (true, Notice::Shared) => ("PROFITSHARING.SUCCESS", "profitsharing"),
            (true, Notice::Returned) => ("PROFITSHARING.RETURN", "profitsharing"),
        };
        let summary = match notice {
            Notice::Shared => "分账",
            Notice::Returned => "分账回退",
        };
        Some(Event {
            notify_url,
            event_type,
            summary,
            original_type,
            associated_data: original_type,
            resource,
        })
    }

    fn next_sequence(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// `prefix`, the day, then a sequence number: `len` digits in all.
    fn fresh_id(&mut self, prefix: &str, now: i64, len: usize) -> String {
        let sequence = self.next_sequence();
        let head = format!("{prefix}{}", &clock::compact(now)[..8]);
        let width = len.saturating_sub(head.len());
        format!("{head}{sequence:0width$}")
    }

    /// Requests held (sharing and unfreezing).
    pub(crate) fn len(&self) -> usize {
        self.orders.len()
    }

    /// The `newest` requests, oldest first, one row per receiver, as the
    /// console and `GET /_mock/profitsharing/orders` list them.
    pub(crate) fn list(&self, newest: usize) -> Vec<Value> {
        let mut rows = Vec::new();
        for (_, order) in self.orders.newest(newest) {
            let mut row = order.render();
            row["sub_mchid"] = json!(order.sub);
            row["kind"] = json!(if order.unfreeze { "UNFREEZE" } else { "SHARE" });
            rows.push(row);
        }
        rows
    }
}

impl ProfitSharing {
    /// The `newest` requests as the console shows them: one row per
    /// receiver (`receiver` the request's entry), the request's fields beside it.
    pub(crate) fn receiver_rows(&self, newest: usize) -> Vec<Value> {
        let mut rows = Vec::new();
        for request in self.list(newest) {
            for receiver in request["receivers"].as_array().into_iter().flatten() {
                let mut row = request.clone();
                if let Some(map) = row.as_object_mut() {
                    map.remove("receivers");
                    map.insert("receiver".into(), receiver.clone());
                }
                rows.push(row);
            }
        }
        rows
    }
}

fn none(answer: Answer) -> Served {
    (answer, Vec::new())
}

/// 400 `INVALID_REQUEST` with WeChat Pay's `message`.
fn invalid(message: &str) -> Answer {
    Answer::error(400, "INVALID_REQUEST", message, None)
}

fn not_found() -> Answer {
    Answer::error(404, "RESOURCE_NOT_EXISTS", "记录不存在", None)
}

/// The body's `sub_mchid` (a partner's request), `""` for a direct merchant.
fn partner_sub(body: &Map<String, Value>, caller: &str) -> Result<String, Answer> {
    match at(body, "/sub_mchid") {
        None => Ok(String::new()),
        Some(_) => {
            let sub = required_str(body, "/sub_mchid")?;
            if sub == caller {
                return Err(Answer::param_error(
                    "/sub_mchid",
                    "子商户mchid不能与自身mchid相同",
                ));
            }
            Ok(sub.to_owned())
        }
    }
}

/// `type` and `account` at `prefix` (`""` or `/receivers/3`).
fn receiver_id<'a>(
    body: &'a Map<String, Value>,
    prefix: &str,
) -> Result<(&'a str, &'a str), Answer> {
    let field = format!("{prefix}/type");
    let kind = required_str(body, &field)?;
    if !RECEIVER_TYPES.contains(&kind) {
        return Err(Answer::param_error(
            &field,
            "只能是 MERCHANT_ID, PERSONAL_OPENID 或 PERSONAL_SUB_OPENID",
        ));
    }
    let account = required_str(body, &format!("{prefix}/account"))?;
    if account.len() > 64 {
        return Err(Answer::param_error(
            &format!("{prefix}/account"),
            "最多 64 个字符",
        ));
    }
    Ok((kind, account))
}

/// `out_order_no`: at most 64 of `[0-9a-zA-Z_*@|-]` (GO `CreateOrderRequest`).
fn out_order_no(body: &Map<String, Value>) -> Result<String, Answer> {
    out_no(body, "/out_order_no")
}

fn out_no(body: &Map<String, Value>, pointer: &str) -> Result<String, Answer> {
    let no = required_str(body, pointer)?;
    if no.len() > 64
        || !no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
    {
        return Err(Answer::error(
            400,
            "PARAM_ERROR",
            "订单号格式不正确",
            Some(json!({"field": pointer, "location": "body",
                        "issue": "最多 64 个字符, 只能是数字、大小写字母或 _-|*@"})),
        ));
    }
    Ok(no.to_owned())
}

/// What of a paid order may be split (FLOWS §4.4: amount − fee): what
/// refunds left of it, less WeChat Pay's fee on that at the bills' rate
/// (a refund gives its fee back). A full refund leaves nothing.
fn splittable(order: &Payment) -> i64 {
    let net = (order.total() - order.refunded).max(0);
    net - fee_on(net)
}

/// Whether the order was placed with `settle_info.profit_sharing=true`.
fn profit_sharing(order: &Payment) -> bool {
    at(&order.request, "/settle_info/profit_sharing").and_then(Value::as_bool) == Some(true)
}

/// Opens the encrypted `name`s at `pointers` (absent ones are `None`) with
/// the WeChat Pay key the request's `Wechatpay-Serial` names, refusing as
/// WeChat Pay does (FLOWS §4.4, §9): no header, or not a ciphertext.
fn open_names(
    body: &Map<String, Value>,
    pointers: &[&str],
    call: &Call<'_>,
) -> Result<Vec<Option<String>>, Answer> {
    let mut out = Vec::with_capacity(pointers.len());
    for pointer in pointers {
        let Some(value) = at(body, pointer) else {
            out.push(None);
            continue;
        };
        let Some(serial) = call.serial.filter(|s| !s.is_empty()) else {
            return Err(Answer::error(
                400,
                "PARAM_ERROR",
                "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)",
                Some(json!({"field": "Wechatpay-Serial", "location": "header"})),
            ));
        };
        let opened = value
            .as_str()
            .zip(private_key_named(call.keys, serial))
            .and_then(|(text, key)| rsa_oaep_decrypt(&key, text))
            .and_then(|plain| String::from_utf8(plain).ok())
            .ok_or_else(|| {
                Answer::error(
                    400,
                    "PARAM_ERROR",
                    "请确认待处理的消息是否为加密后的密文",
                    Some(json!({"field": pointer, "location": "body"})),
                )
            })?;
        out.push(Some(opened));
    }
    Ok(out)
}

/// The private half of the WeChat Pay key `serial` names: the public key's
/// or a platform certificate's.
fn private_key_named(keys: &ServerKeys, serial: &str) -> Option<PKey<Private>> {
    if same_serial(serial, keys.credentials.platform_public_key_id) {
        return Some(keys.public_key_private.clone());
    }
    let platform = keys.platform.read().ok()?;
    platform
        .certificates
        .iter()
        .find(|issued| same_serial(issued.certificate.id(), serial))
        .map(|issued| issued.private.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::flows::payments::{Call as PaymentCall, Operation as PaymentOperation};

    const MCHID: &str = "1900000109";
    const PAID_AT: i64 = 1_767_240_000;

    fn paid_order(book: &mut Payments, no: &str, total: i64, sharing: bool) -> String {
        let body = json!({"appid": "wxd678efh567hg6787", "mchid": MCHID, "description": "d",
            "out_trade_no": no, "notify_url": "https://example.com/n", "amount": {"total": total},
            "settle_info": {"profit_sharing": sharing}})
        .to_string();
        let created = book.serve(&PaymentCall {
            operation: PaymentOperation::Create("NATIVE"),
            partner: false,
            params: &[],
            query: &[],
            body: body.as_bytes(),
            mchid: MCHID,
            base_url: "http://127.0.0.1/",
            now: PAID_AT,
        });
        assert_eq!(created.status, 200);
        let (paid, _) = book.pay("", no, MCHID, None, PAID_AT).unwrap();
        paid["transaction_id"].as_str().unwrap().to_owned()
    }

    fn call<'a>(
        operation: Operation,
        params: &'a [(String, String)],
        body: &'a str,
        keys: &'a ServerKeys,
        now: i64,
    ) -> Call<'a> {
        Call {
            operation,
            params,
            query: &[],
            body: body.as_bytes(),
            mchid: MCHID,
            serial: None,
            keys,
            now,
        }
    }

    fn error_message(answer: &Answer) -> String {
        let value: Value = serde_json::from_slice(&answer.body).unwrap();
        value["message"].as_str().unwrap_or_default().to_owned()
    }

    #[test]
    fn the_window_opens_a_minute_after_payment_and_closes_after_thirty_days() {
        let w = |after| sharing_window(PAID_AT, PAID_AT + after, WAIT_AFTER_PAYMENT);
        assert_eq!(w(0), Window::TooEarly);
        assert_eq!(w(59), Window::TooEarly);
        assert_eq!(w(60), Window::Open);
        assert_eq!(w(30 * 86_400 - 1), Window::Open);
        assert_eq!(w(30 * 86_400), Window::Unfrozen);
    }

    #[test]
    fn sharing_waits_a_minute_and_the_funds_unfreeze_after_thirty_days() {
        let keys = ServerKeys::load().unwrap();
        let mut book = Payments::default();
        let id = paid_order(&mut book, "PS-TIME-1", 1000, true);
        let mut sharing = ProfitSharing::default();
        let add = json!({"appid": "wxd678efh567hg6787", "type": "PERSONAL_OPENID",
            "account": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "relation_type": "USER"})
        .to_string();
        let (added, _) = sharing.serve(
            &mut book,
            &call(Operation::AddReceiver, &[], &add, &keys, PAID_AT),
        );
        assert_eq!(added.status, 200);
        let share = |no: &str| {
            json!({"transaction_id": id, "out_order_no": no, "unfreeze_unsplit": false,
                "receivers": [{"type": "PERSONAL_OPENID", "account": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                               "amount": 10, "description": "分给用户"}]})
            .to_string()
        };
        // SK 分账常见问题: within 1 minute of payment "订单处理中，请稍后重试".
        let early = share("P-EARLY");
        let (answer, _) = sharing.serve(
            &mut book,
            &call(Operation::Share, &[], &early, &keys, PAID_AT + 30),
        );
        assert_eq!(
            (answer.status, error_message(&answer)),
            (400, "订单处理中，请稍后重试".to_owned())
        );
        let on_time = share("P-ON-TIME");
        let (answer, _) = sharing.serve(
            &mut book,
            &call(Operation::Share, &[], &on_time, &keys, PAID_AT + 60),
        );
        assert_eq!(answer.status, 200);
        // 30 days on: unfrozen by itself; no more sharing, nothing left.
        let late = share("P-LATE");
        let month = PAID_AT + FROZEN_FOR;
        let (answer, _) =
            sharing.serve(&mut book, &call(Operation::Share, &[], &late, &keys, month));
        assert_eq!(
            (answer.status, error_message(&answer)),
            (400, "已解冻的订单不支持继续分账".to_owned())
        );
        let params = [("transaction_id".to_owned(), id.clone())];
        let (answer, _) = sharing.serve(
            &mut book,
            &call(Operation::Amounts, &params, "", &keys, month),
        );
        let value: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(value["unsplit_amount"], 0);
    }

    #[test]
    fn the_store_forgets_the_oldest_requests_and_their_index() {
        let keys = ServerKeys::load().unwrap();
        let mut book = Payments::default();
        let id = paid_order(&mut book, "PS-EVICT-1", 100_000, true);
        let mut sharing = ProfitSharing::with_limit(2);
        sharing.settings.wait_after_payment = 0;
        let add = json!({"appid": "wxd678efh567hg6787", "type": "PERSONAL_OPENID",
            "account": "o1", "relation_type": "USER"})
        .to_string();
        sharing.serve(
            &mut book,
            &call(Operation::AddReceiver, &[], &add, &keys, PAID_AT),
        );
        for i in 0..4 {
            let body = json!({"transaction_id": id, "out_order_no": format!("P{i}"), "unfreeze_unsplit": false,
                "receivers": [{"type": "PERSONAL_OPENID", "account": "o1", "amount": 1, "description": "d"}]})
            .to_string();
            let (answer, _) = sharing.serve(
                &mut book,
                &call(Operation::Share, &[], &body, &keys, PAID_AT),
            );
            assert_eq!(answer.status, 200, "{}", error_message(&answer));
        }
        assert_eq!(
            (sharing.orders.len(), sharing.orders.ids_in(BY_ORDER_ID)),
            (2, 2)
        );
        assert_eq!(sharing.list(10).len(), 2);
    }

    #[test]
    fn outcomes_are_named_by_their_control() {
        assert_eq!(
            ReceiverOutcome::from_action("succeed", None).unwrap(),
            ReceiverOutcome::Succeed
        );
        assert_eq!(
            ReceiverOutcome::from_action("close", Some("RECEIVER_HIGH_RISK")).unwrap(),
            ReceiverOutcome::Close("RECEIVER_HIGH_RISK".to_owned())
        );
        assert!(ReceiverOutcome::from_action("close", None).is_err());
        assert!(ReceiverOutcome::from_action("close", Some("BECAUSE")).is_err());
        assert!(ReceiverOutcome::from_action("succeed", Some("NO_AUTH")).is_err());
        assert_eq!(
            ReceiverOutcome::from_action("pay", None)
                .unwrap_err()
                .status,
            404
        );
    }
}
