//! Refunds (`v3/refund/domestic/refunds`), direct and partner (the body's or
//! query's `sub_mchid`): everything that happens to a refund (FLOWS.md §2).
//!
//! ```text
//! create → PROCESSING ──► SUCCESS | CLOSED | ABNORMAL
//! ABNORMAL ──apply-abnormal-refund──► PROCESSING
//! ```
//!
//! The refunded order turns REFUND when a refund is accepted; refunds of an
//! order never add up to more than was paid (a CLOSED one gives its amount
//! back). Keyed by `(sub_mchid, out_refund_no)`; at most
//! [`super::kept::KEPT_ORDERS`] are kept, the oldest goes first.

use serde_json::{json, Map, Value};

use super::bills::RefundRecord;
use super::kept::{Book, Ids};
use super::payments::{Payments, TradeState};
use crate::clock;
use crate::mock::wire::answer::Answer;
use crate::mock::wire::body::{
    check_notify_url, merchant_number, optional_str, parse_body, query_param, required,
    required_fen, required_str,
};
use crate::mock::wire::notify::Event;

/// Partial refunds an order may have (FLOWS.md §2: at most 50).
const MAX_REFUNDS: u32 = 50;

/// `status` of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum RefundStatus {
    Processing,
    Success,
    Closed,
    Abnormal,
}

impl RefundStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RefundStatus::Processing => "PROCESSING",
            RefundStatus::Success => "SUCCESS",
            RefundStatus::Closed => "CLOSED",
            RefundStatus::Abnormal => "ABNORMAL",
        }
    }
}

/// How a PROCESSING refund ends, as the back office decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefundOutcome {
    /// The money reached the payer: `REFUND.SUCCESS`.
    Success,
    /// It could not (a closed card, a frozen account): `REFUND.ABNORMAL`;
    /// the merchant may then apply for an abnormal refund.
    Abnormal,
    /// WeChat Pay closed it: `REFUND.CLOSED`; its amount is refundable again.
    Closed,
}

impl RefundOutcome {
    /// From the control's last path segment: `succeed`, `abnormal`, `close`.
    pub(crate) fn from_action(action: &str) -> Option<Self> {
        match action {
            "succeed" => Some(RefundOutcome::Success),
            "abnormal" => Some(RefundOutcome::Abnormal),
            "close" => Some(RefundOutcome::Closed),
            _ => None,
        }
    }

    fn status(self) -> RefundStatus {
        match self {
            RefundOutcome::Success => RefundStatus::Success,
            RefundOutcome::Abnormal => RefundStatus::Abnormal,
            RefundOutcome::Closed => RefundStatus::Closed,
        }
    }

    fn event(self) -> (&'static str, &'static str) {
        match self {
            RefundOutcome::Success => ("REFUND.SUCCESS", "退款成功"),
            RefundOutcome::Abnormal => ("REFUND.ABNORMAL", "退款异常"),
            RefundOutcome::Closed => ("REFUND.CLOSED", "退款关闭"),
        }
    }
}

/// One refund.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Refund {
    sub_mchid: String,
    refund_id: String,
    out_refund_no: String,
    transaction_id: String,
    out_trade_no: String,
    /// The amounts as first asked (re-entry must repeat them).
    #[serde(deserialize_with = "crate::mock::wire::store::fen")]
    refund: i64,
    #[serde(deserialize_with = "crate::mock::wire::store::fen")]
    total: i64,
    currency: String,
    status: RefundStatus,
    #[serde(deserialize_with = "crate::mock::wire::store::unix")]
    created: i64,
    #[serde(deserialize_with = "crate::mock::wire::store::unix_opt")]
    success_time: Option<i64>,
    notify_url: Option<String>,
    funds_account: String,
    #[serde(deserialize_with = "channel")]
    channel: StaticStr,
    /// The refunded payment as the bill shows it.
    payment: Option<super::bills::PaymentRecord>,
}

impl Refund {
    fn render(&self) -> Value {
        let mut out = json!({
            "refund_id": self.refund_id,
            "out_refund_no": self.out_refund_no,
            "transaction_id": self.transaction_id,
            "out_trade_no": self.out_trade_no,
            "channel": self.channel,
            "user_received_account": "支付用户零钱",
            "create_time": clock::rfc3339(self.created),
            "status": self.status.as_str(),
            "funds_account": self.funds_account,
            "amount": self.amount(),
            "promotion_detail": [],
        });
        if let Some(time) = self.success_time {
            out["success_time"] = json!(clock::rfc3339(time));
        }
        out
    }

    fn amount(&self) -> Value {
        json!({"total": self.total, "refund": self.refund, "from": [], "payer_total": self.total,
               "payer_refund": self.refund, "settlement_refund": self.refund,
               "settlement_total": self.total, "discount_refund": 0, "currency": self.currency})
    }

    /// The resource of a REFUND.* notification: `refund_status`, not `status`.
    fn notification(&self, mchid: &str) -> Value {
        let mut out = Map::new();
        if self.sub_mchid.is_empty() {
            out.insert("mchid".into(), json!(mchid));
        } else {
            out.insert("sp_mchid".into(), json!(mchid));
            out.insert("sub_mchid".into(), json!(self.sub_mchid));
        }
        out.insert("out_trade_no".into(), json!(self.out_trade_no));
        out.insert("transaction_id".into(), json!(self.transaction_id));
        out.insert("out_refund_no".into(), json!(self.out_refund_no));
        out.insert("refund_id".into(), json!(self.refund_id));
        out.insert("refund_status".into(), json!(self.status.as_str()));
        if let Some(time) = self.success_time {
            out.insert("success_time".into(), json!(clock::rfc3339(time)));
        }
        out.insert("user_received_account".into(), json!("支付用户零钱"));
        out.insert(
            "amount".into(),
            json!({"total": self.total, "refund": self.refund, "payer_total": self.total, "payer_refund": self.refund}),
        );
        Value::Object(out)
    }
}

/// `&'static str` under a name serde's derive does not read as borrowed.
type StaticStr = &'static str;

/// A stored `channel`, back as the `&'static str` the book keeps.
fn channel<'de, D: serde::Deserializer<'de>>(value: D) -> Result<&'static str, D::Error> {
    crate::mock::wire::store::known_str(
        value,
        &["ORIGINAL", "BALANCE", "OTHER_BALANCE", "OTHER_BANKCARD"],
    )
}

/// The store's name for the refunds.
const KIND: &str = "refund";

impl Refunds {
    /// Notes changes from now on, for [`Refunds::save`].
    pub(crate) fn track(&mut self) {
        self.refunds.track();
    }

    /// Keeps at most `limit` refunds from now on (the retention setting).
    pub(crate) fn set_retention(&mut self, limit: usize) {
        self.refunds.set_limit(limit);
    }

    /// The refunds changed or forgotten since the last save.
    pub(crate) fn save(&mut self, batch: &mut crate::mock::wire::store::Batch) {
        self.refunds.save_changes(KIND, batch);
    }

    /// Rebuilds the book (and its index) from the store.
    pub(crate) fn load(&mut self, store: &crate::mock::wire::store::Store) -> Result<(), String> {
        let mut next = self.next;
        self.refunds.load(store, KIND, |refund: &Refund| {
            // Refund ids end with the book's sequence number.
            next = next.max(super::kept::trailing_sequence(&refund.refund_id, 16));
        })?;
        self.next = next;
        Ok(())
    }
}

/// Which operation a request is, from its catalog template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Query,
    ApplyAbnormal,
}

impl Operation {
    pub(crate) fn from_template(method: &str, template: &str) -> Option<Self> {
        match (method, template) {
            ("POST", "v3/refund/domestic/refunds") => Some(Operation::Create),
            ("GET", "v3/refund/domestic/refunds/{out_refund_no}") => Some(Operation::Query),
            ("POST", "v3/refund/domestic/refunds/{refund_id}/apply-abnormal-refund") => {
                Some(Operation::ApplyAbnormal)
            }
            _ => None,
        }
    }
}

/// One request to this flow.
pub(crate) struct Call<'a> {
    pub(crate) operation: Operation,
    pub(crate) params: &'a [(String, String)],
    pub(crate) query: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    pub(crate) mchid: &'a str,
    pub(crate) now: i64,
}

/// The one index of the refunds (index 0): the `refund_id` WeChat Pay gave.
impl Ids<1> for Refund {
    fn ids(&self) -> [Option<&str>; 1] {
        [Some(&self.refund_id)]
    }
}

/// The refunds.
#[derive(Default)]
pub(crate) struct Refunds {
    refunds: Book<Refund, 1>,
    next: u64,
}

impl Refunds {
    /// Serves one request; the payments are locked by the caller (always
    /// before the refunds).
    pub(crate) fn serve(&mut self, payments: &mut Payments, call: &Call<'_>) -> Answer {
        let result = match call.operation {
            Operation::Create => self.create(payments, call),
            Operation::Query => self.query(call),
            Operation::ApplyAbnormal => self.apply_abnormal(call),
        };
        result.unwrap_or_else(|refusal| refusal)
    }

    fn create(&mut self, payments: &mut Payments, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let sub = optional_str(&body, "/sub_mchid")
            .unwrap_or_default()
            .to_owned();
        let out_refund_no = merchant_number(
            &body,
            "/out_refund_no",
            1..=64,
            b"_-|*@",
            "最多 64 个字符, 只能是数字、大小写字母或 _-|*@",
        )?
        .to_owned();
        required(&body, "/amount")?;
        let refund = required_fen(&body, "/amount/refund")?;
        let total = required_fen(&body, "/amount/total")?;
        let currency = required_str(&body, "/amount/currency")?.to_owned();
        check_notify_url(&body, "/notify_url")?;
        let notify_url = optional_str(&body, "/notify_url").map(str::to_owned);
        let funds_account = match optional_str(&body, "/funds_account") {
            None => "UNAVAILABLE",
            Some("AVAILABLE") => "AVAILABLE",
            Some(_) => {
                return Err(Answer::param_error(
                    "/funds_account",
                    "只能是 AVAILABLE (可用余额), 或不传",
                ))
            }
        };
        let key = (sub.clone(), out_refund_no.clone());
        if let Some(existing) = self.refunds.get(&key) {
            let names_another_order = optional_str(&body, "/transaction_id")
                .is_some_and(|id| id != existing.transaction_id)
                || optional_str(&body, "/out_trade_no")
                    .is_some_and(|no| no != existing.out_trade_no);
            if names_another_order {
                return Err(Answer::error(
                    400,
                    "INVALID_REQUEST",
                    "请求内容和上次请求不一致，商户订单号/商户退款单号已经被其他请求使用。",
                    None,
                ));
            }
            // A retry must reuse out_refund_no with the same amounts.
            return if existing.refund == refund && existing.total == total {
                Ok(Answer::json(200, &existing.render()))
            } else {
                Err(Answer::error(
                    400,
                    "INVALID_REQUEST",
                    "订单金额或退款金额与之前请求不一致，请核实后再试",
                    None,
                ))
            };
        }
        let order = match (
            optional_str(&body, "/transaction_id"),
            optional_str(&body, "/out_trade_no"),
        ) {
            (Some(id), _) => payments.by_transaction_mut(&sub, id),
            (None, Some(no)) => payments.get_mut(&sub, no, call.now),
            (None, None) => {
                return Err(Answer::param_error(
                    "/transaction_id",
                    "transaction_id 和 out_trade_no 必须传一个",
                ))
            }
        }
        .filter(|o| matches!(o.state, TradeState::Success | TradeState::Refund))
        .ok_or_else(|| Answer::error(404, "RESOURCE_NOT_EXISTS", "订单不存在", None))?;
        if total != order.total() {
            return Err(Answer::param_error(
                "/amount/total",
                &format!("原订单金额为 {} 分, 与请求不一致", order.total()),
            ));
        }
        if currency != order.currency() {
            return Err(Answer::param_error(
                "/amount/currency",
                &format!("与原订单币种 {} 不一致", order.currency()),
            ));
        }
        if order.refund_count >= MAX_REFUNDS {
            return Err(Answer::error(
                400,
                "INVALID_REQUEST",
                "一笔订单最多可部分退款 50 次",
                None,
            ));
        }
        let transaction_id = order.transaction_id.clone().unwrap_or_default();
        let refundable = order.total() - order.refunded;
        if refundable <= 0 {
            return Err(Answer::error(
                400,
                "INVALID_REQUEST",
                "订单已全额退款",
                None,
            ));
        }
        if refund > refundable {
            return Err(Answer::error(
                400,
                "INVALID_REQUEST",
                "申请退款金额超过订单可退金额",
                Some(json!({"refundable": refundable})),
            ));
        }
        // Without its own notify_url, the refund's news goes where the order's did.
        let notify_url = notify_url.or_else(|| Some(order.notify_url().to_owned()));
        order.state = TradeState::Refund;
        order.refunded += refund;
        order.refund_count += 1;
        self.next += 1;
        let created = Refund {
            sub_mchid: sub,
            refund_id: format!("50300{}{:016}", &clock::compact(call.now)[..8], self.next),
            out_refund_no,
            transaction_id,
            out_trade_no: order.out_trade_no().to_owned(),
            refund,
            total,
            currency,
            status: RefundStatus::Processing,
            created: call.now,
            success_time: None,
            notify_url,
            funds_account: funds_account.to_owned(),
            channel: "ORIGINAL",
            payment: order.record(call.mchid),
        };
        let answer = Answer::json(200, &created.render());
        self.refunds.insert(key, created);
        Ok(answer)
    }

    fn query(&self, call: &Call<'_>) -> Result<Answer, Answer> {
        let sub = query_param(call.query, "sub_mchid").unwrap_or_default();
        let no = query_param(call.params, "out_refund_no").unwrap_or_default();
        self.refunds
            .get(&(sub.to_owned(), no.to_owned()))
            .map(|r| Answer::json(200, &r.render()))
            .ok_or_else(|| Answer::error(404, "RESOURCE_NOT_EXISTS", "退款单不存在", None))
    }

    fn apply_abnormal(&mut self, call: &Call<'_>) -> Result<Answer, Answer> {
        let body = parse_body(call.body)?;
        let sub = optional_str(&body, "/sub_mchid").unwrap_or_default();
        let out_refund_no = required_str(&body, "/out_refund_no")?;
        let kind = required_str(&body, "/type")?;
        match kind {
            "MERCHANT_BANK_CARD" => {}
            "USER_BANK_CARD" => {
                for field in ["/bank_type", "/bank_account", "/real_name"] {
                    required_str(&body, field)?;
                }
            }
            _ => {
                return Err(Answer::param_error(
                    "/type",
                    "只能是 USER_BANK_CARD 或 MERCHANT_BANK_CARD",
                ))
            }
        }
        let refund_id = query_param(call.params, "refund_id").unwrap_or_default();
        let refund = self
            .refunds
            .get_mut(&(sub.to_owned(), out_refund_no.to_owned()))
            .filter(|r| r.refund_id == refund_id)
            .ok_or_else(|| Answer::error(404, "RESOURCE_NOT_EXISTS", "退款单不存在", None))?;
        if refund.status != RefundStatus::Abnormal {
            return Err(Answer::error(
                400,
                "INVALID_REQUEST",
                "退款单状态不是异常 (ABNORMAL)，无需发起异常退款",
                Some(json!({"status": refund.status.as_str()})),
            ));
        }
        refund.status = RefundStatus::Processing;
        refund.channel = "OTHER_BANKCARD";
        Ok(Answer::json(200, &refund.render()))
    }

    /// The back office ends PROCESSING refund `out_refund_no`; a CLOSED one
    /// gives its amount back to the order (`payments` locked by the caller,
    /// before the refunds).
    pub(crate) fn resolve(
        &mut self,
        payments: &mut Payments,
        sub: &str,
        out_refund_no: &str,
        outcome: RefundOutcome,
        mchid: &str,
        now: i64,
    ) -> Result<(Value, Option<Event>), Answer> {
        let refund = self
            .refunds
            .get_mut(&(sub.to_owned(), out_refund_no.to_owned()))
            .ok_or_else(|| {
                let (code, zh) = ("RESOURCE_NOT_EXISTS", "退款单不存在");
                Answer::not_held(code, zh, sub, "refund", "refund", out_refund_no)
            })?;
        if refund.status != RefundStatus::Processing {
            return Err(Answer::error(
                409,
                "INVALID_REFUND_STATE",
                &format!(
                    "cannot resolve refund {out_refund_no}: it is {}, only a PROCESSING refund ends",
                    refund.status.as_str()
                ),
                Some(json!({"status": refund.status.as_str()})),
            ));
        }
        refund.status = outcome.status();
        if outcome == RefundOutcome::Closed {
            // Back to the payment it refunded (its transaction_id), not to
            // whatever order now has its number (issue 26); never below 0.
            if let Some(order) = payments.by_transaction_mut(sub, &refund.transaction_id) {
                order.refunded = (order.refunded - refund.refund).max(0);
            }
        }
        if outcome == RefundOutcome::Success {
            refund.success_time = Some(now);
        }
        let (event_type, summary) = outcome.event();
        let event = refund.notify_url.clone().map(|notify_url| Event {
            notify_url,
            event_type,
            summary,
            original_type: "refund",
            // The documented sample carries an empty associated_data.
            associated_data: "",
            resource: refund.notification(mchid),
        });
        Ok((refund.render(), event))
    }

    /// PROCESSING refunds and when each was accepted (Unix seconds on the
    /// mock's clock), to resolve by themselves.
    pub(crate) fn processing_since(&self) -> Vec<(String, String, i64)> {
        self.refunds
            .iter()
            .filter(|(_, r)| r.status == RefundStatus::Processing)
            .map(|((sub, no), r)| (sub.clone(), no.clone(), r.created))
            .collect()
    }

    /// Refunds held.
    pub(crate) fn len(&self) -> usize {
        self.refunds.len()
    }

    /// The `newest` most recent refunds, oldest first, as the console and
    /// `GET /_mock/refunds` list them.
    pub(crate) fn list(&self, newest: usize) -> Vec<Value> {
        self.refunds
            .newest(newest)
            .map(|(_, refund)| {
                let mut row = refund.render();
                row["sub_mchid"] = json!(refund.sub_mchid);
                row["notify_url"] = json!(refund.notify_url);
                row
            })
            .collect()
    }

    /// Refunds as bill rows.
    pub(crate) fn records(&self) -> Vec<RefundRecord> {
        self.refunds
            .iter()
            .filter_map(|(_, refund)| {
                Some(RefundRecord {
                    time: refund.success_time.unwrap_or(refund.created),
                    payment: refund.payment.clone()?,
                    refund_id: refund.refund_id.clone(),
                    out_refund_no: refund.out_refund_no.clone(),
                    refund: refund.refund,
                    status: refund.status.as_str().to_owned(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::flows::payments::tests::create_of;

    #[test]
    fn the_refunds_forget_the_oldest_past_their_limit() {
        let now = 1_767_240_000;
        let mut book = Payments::default();
        assert_eq!(create_of(&mut book, "EVICT-1", 100, now).status, 200);
        book.pay("", "EVICT-1", "1900000109", None, now).unwrap();
        let mut refunds = Refunds {
            refunds: Book::with_limit(2),
            next: 0,
        };
        for i in 0..4 {
            let body = json!({"out_trade_no": "EVICT-1", "out_refund_no": format!("R{i}"),
                "amount": {"refund": 1, "total": 100, "currency": "CNY"}})
            .to_string();
            assert_eq!(
                refunds.serve(&mut book, &refund_call(&body, now)).status,
                200
            );
        }
        assert_eq!(
            (
                refunds.refunds.len(),
                refunds.refunds.ids_in(0),
                refunds.refunds.keys().len()
            ),
            (2, 2, 2)
        );
        assert!(refunds
            .refunds
            .get(&(String::new(), "R3".to_owned()))
            .is_some());
        assert!(refunds
            .refunds
            .get(&(String::new(), "R0".to_owned()))
            .is_none());
    }

    fn refund_call(body: &str, now: i64) -> Call<'_> {
        Call {
            operation: Operation::Create,
            params: &[],
            query: &[],
            body: body.as_bytes(),
            mchid: "1900000109",
            now,
        }
    }

    /// Issue 26, defect 1: closing a refund gave its amount back to
    /// whatever order then had the same `out_trade_no`. Once the paid order
    /// is forgotten (the book's bound) and a new order takes its number,
    /// closing the old refund let the new order of 100 fen accept a refund
    /// of 200 (docs/mock.md promises that non-CLOSED refunds never exceed
    /// what was paid). The give-back goes to the refunded payment itself,
    /// by its transaction_id, never below 0.
    #[test]
    fn closing_a_refund_gives_back_only_to_the_payment_it_refunded() {
        let now = 1_767_240_000;
        let mut book = Payments::with_limit(2);
        let mut refunds = Refunds::default();
        assert_eq!(create_of(&mut book, "REUSE00001", 100, now).status, 200);
        book.pay("", "REUSE00001", "1900000109", None, now).unwrap();
        let full = json!({"out_trade_no": "REUSE00001", "out_refund_no": "R-OLD",
            "amount": {"refund": 100, "total": 100, "currency": "CNY"}})
        .to_string();
        assert_eq!(
            refunds.serve(&mut book, &refund_call(&full, now)).status,
            200
        );
        // two other orders: REUSE00001 is forgotten
        for no in ["OTHER00001", "OTHER00002"] {
            assert_eq!(create_of(&mut book, no, 1, now).status, 200);
        }
        assert!(book.find("", "REUSE00001").is_none());
        // the number is placed and paid again: a new payment of 100 fen
        assert_eq!(create_of(&mut book, "REUSE00001", 100, now).status, 200);
        book.pay("", "REUSE00001", "1900000109", None, now).unwrap();
        refunds
            .resolve(
                &mut book,
                "",
                "R-OLD",
                RefundOutcome::Closed,
                "1900000109",
                now,
            )
            .unwrap();
        // the new payment still has exactly its own 100 fen to refund
        let over = json!({"out_trade_no": "REUSE00001", "out_refund_no": "R-NEW-1",
            "amount": {"refund": 101, "total": 100, "currency": "CNY"}})
        .to_string();
        let refused = refunds.serve(&mut book, &refund_call(&over, now));
        assert_eq!(
            refused.status,
            400,
            "{}",
            String::from_utf8_lossy(&refused.body)
        );
        let all = json!({"out_trade_no": "REUSE00001", "out_refund_no": "R-NEW-2",
            "amount": {"refund": 100, "total": 100, "currency": "CNY"}})
        .to_string();
        assert_eq!(
            refunds.serve(&mut book, &refund_call(&all, now)).status,
            200
        );
        assert_eq!(book.find("", "REUSE00001").map(|o| o.refunded), Some(100));
    }

    #[test]
    fn outcomes_are_named_by_their_control() {
        assert_eq!(
            RefundOutcome::from_action("succeed"),
            Some(RefundOutcome::Success)
        );
        assert_eq!(
            RefundOutcome::from_action("abnormal"),
            Some(RefundOutcome::Abnormal)
        );
        assert_eq!(
            RefundOutcome::from_action("close"),
            Some(RefundOutcome::Closed)
        );
        assert_eq!(RefundOutcome::from_action("refund"), None);
    }
}
