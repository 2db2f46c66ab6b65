//! Transfer bills (商家转账, the user-confirmation mode of 2025-01-15),
//! direct (`v3/fund-app/mch-transfer/transfer-bills`) and partner
//! (`…/partner/transfer-bills`, keyed by `sub_mchid`): FLOWS.md §8.
//!
//! ```text
//! create → WAIT_USER_CONFIRM ──user confirms──► SUCCESS
//!                             (FAIL when out_bill_no names a fail_reason: FAIL…)
//! WAIT_USER_CONFIRM ──24 h unconfirmed / back office fails it──► FAIL
//! WAIT_USER_CONFIRM ──cancel──► CANCELING ──► CANCELLED
//! ```
//!
//! Creating a bill takes its amount from the merchant's operating account
//! ([`Transfers::set_balance`]); FAIL and CANCELLED give it back. Every
//! terminal state sends `MCHTRANSFER.BILL.FINISHED`. Every rule that depends
//! on time is [`due_at`]'s, read on the mock's clock (the request's, the
//! ticker's, or a move of the clock walking [`Transfers::deadlines`]).
//! Keyed by `(sub_mchid, out_bill_no)`; at most [`KEPT_TRANSFERS`] are kept
//! (the retention setting changes it), the oldest goes first.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::kept::{trailing_sequence, Kept};
use crate::clock;
use crate::crypto::{rsa_oaep_decrypt, rsa_oaep_encrypt};
use crate::keys::same_serial;
use crate::mock::wire::answer::Answer;
use crate::mock::wire::body::{
    at, check_notify_url, missing, parse_body, query_param, required, required_fen, required_str,
};
use crate::mock::wire::clock::Timer;
use crate::mock::wire::identity::ServerKeys;
use crate::mock::wire::notify::Event;
use crate::mock::wire::store::{self, Batch, StaticStr, Store};

/// The store's name for the transfer bills.
const KIND: &str = "transfer";

/// Transfer bills the mock keeps (direct and partner together); past it the
/// oldest is forgotten, as the other stores do.
pub const KEPT_TRANSFERS: usize = 20_000;

/// The operating account's balance (fen) until a setting changes it:
/// 1,000,000.00 元, enough for any test that does not ask for less.
pub const DEFAULT_TRANSFER_BALANCE: i64 = 100_000_000;

/// From this amount (fen) on, `user_name` is required: 2,000 元 (DOC
/// transfer-to-user.html, FLOWS.md §8.1).
const NAME_REQUIRED_FROM: i64 = 200_000;

/// A bill not confirmed within this many seconds fails (FLOWS.md §8.2: 24 h).
const CONFIRM_WITHIN: i64 = 24 * 3600;

/// The query covers bills of the last 30 days (DOC 4015469131).
const QUERY_WINDOW: i64 = 30 * 86_400;

/// `transfer_scene_id` values OA enumerates (FLOWS.md §8.1).
const SCENES: [&str; 8] = [
    "1000", "1002", "1004", "1005", "1009", "1010", "1011", "1013",
];

/// `fail_reason` values: FLOWS.md §8.2 (DOC 4013774966, alphabetical, the
/// stored copy cut off after `TRANSFER_QUOTA_EXCEED`); the six `BANK_CARD_*`
/// names and the tail after the cut from a public copy of the same table
/// (CAP: an open-source `WxTransferFailReason` enum, same order).
pub(crate) const FAIL_REASONS: [&str; 35] = [
    "ACCOUNT_FROZEN",
    "ACCOUNT_NOT_EXIST",
    "BANK_CARD_ACCOUNT_ABNORMAL",
    "BANK_CARD_BANK_INFO_WRONG",
    "BANK_CARD_CARD_INFO_WRONG",
    "BANK_CARD_COLLECTIONS_ABOVE_QUOTA",
    "BANK_CARD_PARAM_ERROR",
    "BANK_CARD_STATUS_ABNORMAL",
    "BLOCK_B2C_USERLIMITAMOUNT_BSRULE_MONTH",
    "BLOCK_B2C_USERLIMITAMOUNT_MONTH",
    "DAY_RECEIVED_COUNT_EXCEED",
    "DAY_RECEIVED_QUOTA_EXCEED",
    "EXCEEDED_ESTIMATED_AMOUNT",
    "ID_CARD_NOT_CORRECT",
    "MCH_CANCEL",
    "MERCHANT_REJECT",
    "MERCHANT_NOT_CONFIRM",
    "NAME_NOT_CORRECT",
    "OPENID_INVALID",
    "OTHER_FAIL_REASON_TYPE",
    "OVERDUE_CLOSE",
    "PAYEE_ACCOUNT_ABNORMAL",
    "PAYER_ACCOUNT_ABNORMAL",
    "PRODUCT_AUTH_CHECK_FAIL",
    "REALNAME_ACCOUNT_RECEIVED_QUOTA_EXCEED",
    "REAL_NAME_CHECK_FAIL",
    "RECEIVE_ACCOUNT_NOT_CONFIGURE",
    "RESERVATION_INFO_NOT_MATCH",
    "RESERVATION_SCENE_NOT_MATCH",
    "RESERVATION_STATE_INVALID",
    "TRANSFER_QUOTA_EXCEED",
    "TRANSFER_REMARK_SET_FAIL",
    "TRANSFER_RISK",
    "TRANSFER_SCENE_INVALID",
    "TRANSFER_SCENE_UNAVAILABLE",
];

/// The longest `out_bill_no`: 32 letters and digits (FLOWS.md §8.1).
const MAX_OUT_BILL_NO: usize = 32;

/// Trigger `FAIL…` (the table in `wire/triggers.rs`): the `fail_reason` an
/// `out_bill_no` names, `FAIL` followed by one of [`FAIL_REASONS`] without
/// its underscores (`T1FAILNAMENOTCORRECT`). A reason too long to write
/// whole after `FAIL` (more than 28 letters: two of them) may be cut by the
/// end of a 32-character number (`…FAILBLOCKB2CUSERLIMITAMOUNTBSRUL`) when
/// what is left begins that reason only; a shorter one must be whole, so
/// that an ordinary number ending `…FAILN` is no trigger. Anything else
/// after `FAIL` names nothing: not a trigger (`FAIL1` is an ordinary number).
pub(crate) fn marked_fail_reason(out_bill_no: &str) -> Option<&'static str> {
    const MARKER: &str = "FAIL";
    let compact = |reason: &str| reason.replace('_', "");
    for (at, _) in out_bill_no.match_indices(MARKER) {
        let rest = &out_bill_no[at + MARKER.len()..];
        let whole = FAIL_REASONS
            .iter()
            .filter(|reason| rest.starts_with(&compact(reason)))
            .max_by_key(|reason| reason.len());
        if let Some(reason) = whole {
            return Some(reason);
        }
        if out_bill_no.len() == MAX_OUT_BILL_NO && !rest.is_empty() {
            let mut begun = FAIL_REASONS
                .iter()
                .filter(|reason| compact(reason).starts_with(rest));
            if let (Some(reason), None) = (begun.next(), begun.next()) {
                if compact(reason).len() > MAX_OUT_BILL_NO - MARKER.len() {
                    return Some(reason);
                }
            }
        }
    }
    None
}

/// The `fail_reason` of a bill left unconfirmed for 24 h. FLOWS.md §8.2:
/// `OVERDUE_CLOSE` exists, but no source ties it to this case **[inference]**.
const OVERDUE: &str = "OVERDUE_CLOSE";

/// What the client shows another WeChat user (FLOWS.md §8.4).
pub(crate) const OTHER_USER: &str = "你的微信号与商家指定的微信号不一致";

/// `state` of a bill (OA enum, FLOWS.md §8.2); the mock never leaves a
/// bill in ACCEPTED or PROCESSING, it answers WAIT_USER_CONFIRM at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum State {
    WaitUserConfirm,
    Success,
    Fail,
    Canceling,
    Cancelled,
}

impl State {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::WaitUserConfirm => "WAIT_USER_CONFIRM",
            State::Success => "SUCCESS",
            State::Fail => "FAIL",
            State::Canceling => "CANCELING",
            State::Cancelled => "CANCELLED",
        }
    }
}

/// One bill.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Bill {
    sub_mchid: String,
    out_bill_no: String,
    transfer_bill_no: String,
    /// The create request as first sent, `user_name` taken out (its
    /// ciphertext differs each time): a re-post must repeat it.
    request: Map<String, Value>,
    /// The payee's name as decrypted, for re-posts; and encrypted for the
    /// merchant (its certificate's key), as queries answer it.
    user_name: Option<(String, String)>,
    #[serde(deserialize_with = "store::fen")]
    amount: i64,
    package_info: String,
    state: State,
    #[serde(deserialize_with = "fail_reason")]
    fail_reason: Option<StaticStr>,
    #[serde(deserialize_with = "store::unix")]
    created: i64,
    #[serde(deserialize_with = "store::unix")]
    updated: i64,
    /// When the merchant asked to cancel, on the mock's clock (Unix ms):
    /// the cancel delay runs from it.
    #[serde(default, deserialize_with = "store::unix_ms_opt")]
    cancel_asked_ms: Option<i64>,
}

/// A stored `fail_reason`, back as one of [`FAIL_REASONS`].
fn fail_reason<'de, D: serde::Deserializer<'de>>(
    value: D,
) -> Result<Option<&'static str>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(value)?;
    text.map(|text| {
        FAIL_REASONS
            .iter()
            .find(|known| **known == text)
            .copied()
            .ok_or_else(|| serde::de::Error::custom(format!("unknown fail_reason {text:?}")))
    })
    .transpose()
}

impl Bill {
    fn str(&self, name: &str) -> &str {
        self.request
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn notify_url(&self) -> Option<&str> {
        Some(self.str("notify_url")).filter(|u| !u.is_empty())
    }

    fn live(&self) -> bool {
        self.state == State::WaitUserConfirm
    }

    /// The create answer: `package_info` while the user can still confirm.
    fn created_answer(&self) -> Value {
        let mut out = Map::new();
        if !self.sub_mchid.is_empty() {
            out.insert("sub_mchid".into(), json!(self.sub_mchid));
        }
        out.insert("out_bill_no".into(), json!(self.out_bill_no));
        out.insert("transfer_bill_no".into(), json!(self.transfer_bill_no));
        out.insert("create_time".into(), json!(clock::rfc3339(self.created)));
        out.insert("state".into(), json!(self.state.as_str()));
        if let Some(reason) = self.fail_reason {
            out.insert("fail_reason".into(), json!(reason));
        }
        if self.live() {
            out.insert("package_info".into(), json!(self.package_info));
        }
        Value::Object(out)
    }

    /// The query answer: `mch_id` for a direct merchant (FLOWS.md §8.1),
    /// `sub_mchid` and `mchid` for a partner (OA partner yaml).
    fn render(&self, mchid: &str) -> Value {
        let mut out = Map::new();
        if self.sub_mchid.is_empty() {
            out.insert("mch_id".into(), json!(mchid));
        } else {
            out.insert("sub_mchid".into(), json!(self.sub_mchid));
            out.insert("mchid".into(), json!(mchid));
        }
        out.insert("out_bill_no".into(), json!(self.out_bill_no));
        out.insert("transfer_bill_no".into(), json!(self.transfer_bill_no));
        out.insert("appid".into(), json!(self.str("appid")));
        out.insert("state".into(), json!(self.state.as_str()));
        out.insert("transfer_amount".into(), json!(self.amount));
        out.insert("transfer_remark".into(), json!(self.str("transfer_remark")));
        if let Some(reason) = self.fail_reason {
            out.insert("fail_reason".into(), json!(reason));
        }
        out.insert("openid".into(), json!(self.str("openid")));
        if let Some((_, sealed)) = &self.user_name {
            out.insert("user_name".into(), json!(sealed));
        }
        out.insert("create_time".into(), json!(clock::rfc3339(self.created)));
        out.insert("update_time".into(), json!(clock::rfc3339(self.updated)));
        Value::Object(out)
    }

    /// The cancel answer (FLOWS.md §8.1).
    fn cancel_answer(&self) -> Value {
        let mut out = Map::new();
        if !self.sub_mchid.is_empty() {
            out.insert("sub_mchid".into(), json!(self.sub_mchid));
        }
        out.insert("out_bill_no".into(), json!(self.out_bill_no));
        out.insert("transfer_bill_no".into(), json!(self.transfer_bill_no));
        out.insert("state".into(), json!(self.state.as_str()));
        out.insert("update_time".into(), json!(clock::rfc3339(self.updated)));
        Value::Object(out)
    }

    /// The decrypted resource of `MCHTRANSFER.BILL.FINISHED` (FLOWS.md
    /// §8.3: `mchid`, not the query's `mch_id`). A partner's carries its
    /// `sub_mchid` too **[inference]**: the JSORG sample is a direct one.
    fn notification(&self, mchid: &str) -> Value {
        let mut out = Map::new();
        out.insert("mchid".into(), json!(mchid));
        if !self.sub_mchid.is_empty() {
            out.insert("sub_mchid".into(), json!(self.sub_mchid));
        }
        out.insert("out_bill_no".into(), json!(self.out_bill_no));
        out.insert("transfer_bill_no".into(), json!(self.transfer_bill_no));
        out.insert("state".into(), json!(self.state.as_str()));
        out.insert("transfer_amount".into(), json!(self.amount));
        if let Some(reason) = self.fail_reason {
            out.insert("fail_reason".into(), json!(reason));
        }
        out.insert("openid".into(), json!(self.str("openid")));
        out.insert("create_time".into(), json!(clock::rfc3339(self.created)));
        out.insert("update_time".into(), json!(clock::rfc3339(self.updated)));
        Value::Object(out)
    }
}

/// A change of state a rule of time calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// Unconfirmed for 24 h: FAIL.
    Overdue,
    /// The cancel delay has passed: CANCELLED.
    Cancelled,
}

/// Every time rule of a bill, in one place: when it ends by itself on the
/// mock's clock (Unix ms), and how; `None` while it waits on someone.
///
/// - WAIT_USER_CONFIRM for 24 h → FAIL (FLOWS.md §8.2).
/// - CANCELING → CANCELLED once `cancel_delay` has passed since the cancel
///   (the refunds' auto-resolve setting; `None`: at once, the next tick).
fn due_at(bill: &Bill, cancel_delay: Option<Duration>) -> Option<(i64, Due)> {
    match bill.state {
        State::WaitUserConfirm => Some((
            bill.created
                .saturating_add(CONFIRM_WITHIN)
                .saturating_mul(1000),
            Due::Overdue,
        )),
        State::Canceling => {
            let delay = cancel_delay.unwrap_or_default().as_millis();
            let delay = i64::try_from(delay).unwrap_or(i64::MAX);
            let asked = bill.cancel_asked_ms.unwrap_or(i64::MIN);
            Some((asked.saturating_add(delay), Due::Cancelled))
        }
        _ => None,
    }
}

/// What [`due_at`] makes of a bill at `now_ms`.
fn due(bill: &Bill, now_ms: i64, cancel_delay: Option<Duration>) -> Option<Due> {
    due_at(bill, cancel_delay).and_then(|(at, due)| (at <= now_ms).then_some(due))
}

/// Which operation a request is, from its catalog template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    QueryByOutBillNo,
    QueryByTransferBillNo,
    Cancel,
}

impl Operation {
    /// The operation and whether it is the partner one.
    pub(crate) fn from_template(method: &str, template: &str) -> Option<(Self, bool)> {
        let rest = template.strip_prefix("v3/fund-app/mch-transfer/")?;
        let (partner, rest) = match rest.strip_prefix("partner/") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let operation = match (method, rest) {
            ("POST", "transfer-bills") => Operation::Create,
            ("GET", "transfer-bills/out-bill-no/{out_bill_no}") => Operation::QueryByOutBillNo,
            ("GET", "transfer-bills/transfer-bill-no/{transfer_bill_no}") => {
                Operation::QueryByTransferBillNo
            }
            ("POST", "transfer-bills/out-bill-no/{out_bill_no}/cancel") => Operation::Cancel,
            _ => return None,
        };
        Some((operation, partner))
    }
}

/// One request to this flow.
pub(crate) struct Call<'a> {
    pub(crate) operation: Operation,
    pub(crate) partner: bool,
    pub(crate) params: &'a [(String, String)],
    pub(crate) query: &'a [(String, String)],
    pub(crate) body: &'a [u8],
    /// The request's `Wechatpay-Serial`: the key `user_name` is sealed for.
    pub(crate) serial: Option<&'a str>,
    pub(crate) keys: &'a ServerKeys,
    /// The mock's clock, Unix ms.
    pub(crate) now_ms: i64,
    /// How long a cancel takes (the refunds' auto-resolve setting).
    pub(crate) cancel_delay: Option<Duration>,
}

type Key = (String, String);

impl Call<'_> {
    /// The mock's clock, Unix seconds.
    fn now(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }
}

/// The transfer bills and the operating account they are paid from.
pub(crate) struct Transfers {
    bills: Kept<Key, Bill>,
    by_bill_no: HashMap<String, Key>,
    by_package: HashMap<String, Key>,
    /// The bills waiting for their payee, oldest first, and those being
    /// cancelled: all [`due`] has to look at (not every bill, every tick).
    waiting: BTreeSet<(i64, Key)>,
    canceling: HashSet<Key>,
    /// The operating account (运营账户), fen.
    balance: i64,
    next: u64,
}

impl Default for Transfers {
    fn default() -> Self {
        Transfers::with_limit(KEPT_TRANSFERS)
    }
}

/// How a bill ends by a hand outside WeChat Pay's API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// The payee confirms on the confirm page: SUCCESS, or FAIL with the
    /// reason a `FAIL…` number names ([`marked_fail_reason`]).
    Confirm,
    /// The payee closes the confirm page: nothing changes (FLOWS.md §8.2
    /// has no declined state; the bill waits for a confirm, a cancel or
    /// its 24 h).
    Decline,
    /// The back office fails it with a `fail_reason`.
    Fail(&'static str),
    /// Its 24 h pass now.
    Expire,
}

/// Who acts on the confirm page, and with what the front end passed.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Payee {
    /// The WeChat user on the page; another than the bill's is refused.
    pub(crate) openid: Option<String>,
    /// The `requestMerchantTransfer` parameters, checked as the client does.
    pub(crate) invocation: Option<Value>,
}

impl Transfers {
    pub(crate) fn with_limit(limit: usize) -> Self {
        Transfers {
            bills: Kept::new(limit),
            by_bill_no: HashMap::new(),
            by_package: HashMap::new(),
            waiting: BTreeSet::new(),
            canceling: HashSet::new(),
            balance: DEFAULT_TRANSFER_BALANCE,
            next: 0,
        }
    }

    /// The operating account's balance, fen.
    pub(crate) fn balance(&self) -> i64 {
        self.balance
    }

    /// Sets the operating account's balance (a top-up, or a drain to see
    /// `NOT_ENOUGH`), fen.
    pub(crate) fn set_balance(&mut self, fen: i64) {
        self.balance = fen.max(0);
    }

    /// Serves one request; a terminal state reached on the way (time) is
    /// returned as its notification.
    pub(crate) fn serve(&mut self, call: &Call<'_>, mchid: &str) -> (Answer, Vec<Event>) {
        let events = self.advance(call.now_ms, call.cancel_delay, mchid);
        let result = match call.operation {
            Operation::Create => self.create(call),
            Operation::QueryByOutBillNo | Operation::QueryByTransferBillNo => {
                self.query(call, mchid)
            }
            Operation::Cancel => self.cancel(call),
        };
        (result.unwrap_or_else(|refusal| refusal), events)
    }

    fn create(&mut self, call: &Call<'_>) -> Result<Answer, Answer> {
        let mut body = parse_body(call.body)?;
        let sub = if call.partner {
            required_str(&body, "/sub_mchid")?.to_owned()
        } else {
            String::new()
        };
        required_str(&body, "/appid")?;
        let out_bill_no = required_str(&body, "/out_bill_no")?.to_owned();
        if out_bill_no.len() > MAX_OUT_BILL_NO
            || !out_bill_no.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(Answer::param_error(
                "/out_bill_no",
                "商户单号只能由数字、大小写字母组成, 最多 32 个字符",
            ));
        }
        let scene = required_str(&body, "/transfer_scene_id")?;
        if !SCENES.contains(&scene) {
            return Err(Answer::param_error(
                "/transfer_scene_id",
                &format!("转账场景ID 只能是 {}", SCENES.join("|")),
            ));
        }
        required_str(&body, "/openid")?;
        let amount = required_fen(&body, "/transfer_amount")?;
        let remark = required_str(&body, "/transfer_remark")?;
        if remark.chars().count() > 32 {
            return Err(Answer::param_error(
                "/transfer_remark",
                "转账备注最多 32 个字符",
            ));
        }
        check_reports(&body)?;
        check_notify_url(&body, "/notify_url")?;
        if let Some(perception) = at(&body, "/user_recv_perception") {
            if !perception.is_string() {
                return Err(Answer::param_error("/user_recv_perception", "必须是字符串"));
            }
        }
        let name = match body.remove("user_name") {
            None | Some(Value::Null) => None,
            Some(Value::String(sealed)) => Some(open_name(call.keys, call.serial, &sealed)?),
            Some(_) => {
                return Err(Answer::param_error(
                    "/user_name",
                    "必须是加密后的字符串 (base64)",
                ))
            }
        };
        if amount >= NAME_REQUIRED_FROM && name.is_none() {
            return Err(Answer::param_error(
                "/user_name",
                "转账金额 >= 2,000元时, 收款用户姓名必填 (用 Wechatpay-Serial 指定的平台公钥加密)",
            ));
        }
        let key = (sub.clone(), out_bill_no.clone());
        if let Some(bill) = self.bills.get(&key) {
            // The same number re-posted: the same bill, never a second one.
            let same_name = bill.user_name.as_ref().map(|(plain, _)| plain) == name.as_ref();
            return if bill.request == body && same_name {
                Ok(Answer::json(200, &bill.created_answer()))
            } else {
                Err(Answer::error(
                    400,
                    "INVALID_REQUEST",
                    "商户单号重复, 且请求参数与原单不一致: 同一 out_bill_no 只能以相同参数重试",
                    Some(
                        json!({"location": "body", "issue": "the same out_bill_no was posted with other parameters"}),
                    ),
                ))
            };
        }
        if amount > self.balance {
            // The real body (FLOWS.md §8.2, DEV …/oCJUsw9p202oUNSDMtvYf2BUsKvA).
            return Err(Answer::error(
                403,
                "NOT_ENOUGH",
                "商户运营账户资金不足,充值后可以原单号发起重试,请勿更换商户单号",
                None,
            ));
        }
        let user_name = match name {
            Some(plain) => {
                let sealed = rsa_oaep_encrypt(&call.keys.merchant_public, plain.as_bytes())
                    .map_err(|_| Answer::for_status(500))?;
                Some((plain, sealed))
            }
            None => None,
        };
        self.next += 1;
        let bill = Bill {
            transfer_bill_no: transfer_bill_no(call.keys.credentials.mchid, call.now(), self.next),
            package_info: package_info().map_err(|_| Answer::for_status(500))?,
            sub_mchid: sub,
            out_bill_no,
            request: body,
            user_name,
            amount,
            state: State::WaitUserConfirm,
            fail_reason: None,
            created: call.now(),
            updated: call.now(),
            cancel_asked_ms: None,
        };
        self.balance -= amount;
        let answer = Answer::json(200, &bill.created_answer());
        self.insert(key, bill);
        Ok(answer)
    }

    fn insert(&mut self, key: Key, bill: Bill) {
        self.by_bill_no
            .insert(bill.transfer_bill_no.clone(), key.clone());
        self.by_package
            .insert(bill.package_info.clone(), key.clone());
        match bill.state {
            State::WaitUserConfirm => {
                self.waiting.insert((bill.created, key.clone()));
            }
            State::Canceling => {
                self.canceling.insert(key.clone());
            }
            _ => {}
        }
        let forgotten = self.bills.insert(key, bill);
        self.forget(forgotten);
    }

    /// Drops the indexes of bills the book forgot.
    fn forget(&mut self, forgotten: Vec<Bill>) {
        for gone in forgotten {
            self.by_bill_no.remove(&gone.transfer_bill_no);
            self.by_package.remove(&gone.package_info);
            let key = (gone.sub_mchid, gone.out_bill_no);
            self.waiting.remove(&(gone.created, key.clone()));
            self.canceling.remove(&key);
        }
    }

    /// Keeps at most `limit` bills from now on (the retention setting).
    pub(crate) fn set_retention(&mut self, limit: usize) {
        let forgotten = self.bills.set_limit(limit);
        self.forget(forgotten);
    }

    /// Notes changes from now on, for [`Transfers::save`].
    pub(crate) fn track(&mut self) {
        self.bills.track();
    }

    /// The bills changed or forgotten since the last save.
    pub(crate) fn save(&mut self, batch: &mut Batch) {
        self.bills.save_changes(KIND, batch);
    }

    /// Rebuilds the book and its indexes from the store (the balance is a
    /// setting: the server restores it).
    pub(crate) fn load(&mut self, store: &Store) -> Result<(), String> {
        for (key, bill) in store.load::<(Key, Bill)>(KIND)? {
            self.next = self.next.max(trailing_sequence(&bill.transfer_bill_no, 12));
            self.insert(key, bill);
        }
        Ok(())
    }

    fn query(&self, call: &Call<'_>, mchid: &str) -> Result<Answer, Answer> {
        let sub = match call.partner {
            true => query_param(call.query, "sub_mchid")
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Answer::query_error("sub_mchid", "此字段为必填项 (服务商查询须带 sub_mchid)")
                })?,
            false => "",
        };
        let key = match call.operation {
            Operation::QueryByTransferBillNo => {
                let no = query_param(call.params, "transfer_bill_no").unwrap_or_default();
                self.by_bill_no.get(no).cloned()
            }
            _ => Some((
                sub.to_owned(),
                query_param(call.params, "out_bill_no")
                    .unwrap_or_default()
                    .to_owned(),
            )),
        };
        key.and_then(|key| self.bills.get(&key))
            .filter(|bill| bill.sub_mchid == sub)
            // The query covers the last 30 days (DOC 4015469131).
            .filter(|bill| call.now() - bill.created <= QUERY_WINDOW)
            .map(|bill| Answer::json(200, &bill.render(mchid)))
            .ok_or_else(not_found)
    }

    fn cancel(&mut self, call: &Call<'_>) -> Result<Answer, Answer> {
        let sub = if call.partner {
            let body = parse_body(call.body)?;
            required_str(&body, "/sub_mchid")?.to_owned()
        } else {
            String::new()
        };
        let no = query_param(call.params, "out_bill_no").unwrap_or_default();
        let key = (sub, no.to_owned());
        let bill = self
            .bills
            .get_mut(&key)
            // The real answer to an unknown number (FLOWS.md §8.2).
            .ok_or_else(|| Answer::error(400, "INVALID_REQUEST", "单号错误,请检查", None))?;
        match bill.state {
            // Allowed in any non-terminal state (FLOWS.md §8.2); re-entrant.
            State::WaitUserConfirm => {
                bill.state = State::Canceling;
                bill.updated = call.now();
                bill.cancel_asked_ms = Some(call.now_ms);
                self.waiting.remove(&(bill.created, key.clone()));
                self.canceling.insert(key);
            }
            State::Canceling | State::Cancelled => {}
            State::Success | State::Fail => {
                return Err(Answer::error(
                    400,
                    "INVALID_REQUEST",
                    &format!(
                        "转账单已是终态 {}, 不能撤销 (only a bill the user has not confirmed can be cancelled)",
                        bill.state.as_str()
                    ),
                    Some(json!({"state": bill.state.as_str()})),
                ))
            }
        }
        Ok(Answer::json(200, &bill.cancel_answer()))
    }

    /// Applies [`due`] to every bill that waits; returns the notifications
    /// of the bills that ended. The mock's ticker calls it with the refunds'
    /// delay; a request calls it too (its `now`).
    pub(crate) fn advance(
        &mut self,
        now_ms: i64,
        cancel_delay: Option<Duration>,
        mchid: &str,
    ) -> Vec<Event> {
        // Each ended at its own time (a restart after days stopped applies
        // them late), never before its last change, in time order.
        let at_now = |bill: &Bill| {
            let (at, due) = due_at(bill, cancel_delay).filter(|(at, _)| *at <= now_ms)?;
            Some((at.max(bill.updated.saturating_mul(1000)), due))
        };
        let mut ended: Vec<(i64, Key, Due)> = Vec::new();
        for (_, key) in &self.waiting {
            // Oldest first: once one is not due, the younger are not either.
            match self.bills.get(key).and_then(at_now) {
                Some((at, due)) => ended.push((at, key.clone(), due)),
                None => break,
            }
        }
        for key in &self.canceling {
            if let Some((at, due)) = self.bills.get(key).and_then(at_now) {
                ended.push((at, key.clone(), due));
            }
        }
        ended.sort_by_key(|(at, _, _)| *at);
        let mut events = Vec::new();
        for (at, key, due) in ended {
            let (state, reason) = match due {
                Due::Overdue => (State::Fail, Some(OVERDUE)),
                Due::Cancelled => (State::Cancelled, None),
            };
            if let Some(event) = self.finish(&key, state, reason, at.div_euclid(1000), mchid) {
                events.push(event);
            }
        }
        events
    }

    /// When, within `(from_ms, to_ms]`, bills end by themselves: a move of
    /// the clock walks them in order ([`Transfers::settle`]).
    pub(crate) fn deadlines(
        &self,
        from_ms: i64,
        to_ms: i64,
        cancel_delay: Option<Duration>,
    ) -> Vec<(i64, Timer)> {
        let waiting = self.waiting.iter().map(|(_, key)| key);
        waiting
            .chain(&self.canceling)
            .filter_map(|key| {
                let (at, _) = due_at(self.bills.get(key)?, cancel_delay)?;
                (from_ms < at && at <= to_ms).then(|| {
                    let (sub_mchid, out_bill_no) = key.clone();
                    (
                        at,
                        Timer::TransferEnds {
                            sub_mchid,
                            out_bill_no,
                        },
                    )
                })
            })
            .collect()
    }

    /// Applies [`due`] to bill `key` at `now_ms`: its state and
    /// `fail_reason` when it ended now, with its notification.
    pub(crate) fn settle(
        &mut self,
        key: &Key,
        now_ms: i64,
        cancel_delay: Option<Duration>,
        mchid: &str,
    ) -> Option<(State, Option<&'static str>, Option<Event>)> {
        let (state, reason) = match due(self.bills.get(key)?, now_ms, cancel_delay)? {
            Due::Overdue => (State::Fail, Some(OVERDUE)),
            Due::Cancelled => (State::Cancelled, None),
        };
        let event = self.finish(key, state, reason, now_ms.div_euclid(1000), mchid);
        Some((state, reason, event))
    }

    /// Ends bill `key` in a terminal `state`: gives the amount back unless it
    /// was paid out, and makes the notification (if it has a `notify_url`).
    fn finish(
        &mut self,
        key: &Key,
        state: State,
        reason: Option<&'static str>,
        now: i64,
        mchid: &str,
    ) -> Option<Event> {
        let bill = self.bills.get_mut(key)?;
        self.waiting.remove(&(bill.created, key.clone()));
        self.canceling.remove(key);
        bill.state = state;
        bill.fail_reason = reason;
        bill.updated = now;
        if state != State::Success {
            // A balance set to the most it holds stays full.
            self.balance = self.balance.saturating_add(bill.amount);
        }
        let bill = self.bills.get(key)?;
        Some(Event {
            notify_url: bill.notify_url()?.to_owned(),
            event_type: "MCHTRANSFER.BILL.FINISHED",
            summary: "商家转账单据终态通知",
            original_type: "mch_payment",
            associated_data: "mch_payment",
            resource: bill.notification(mchid),
        })
    }

    /// A hand outside the API moves bill `out_bill_no` of `sub` (`""`:
    /// direct): the payee on the confirm page, the back office, time.
    /// Returns the bill as the query answers it, and its notification.
    pub(crate) fn act(
        &mut self,
        sub: &str,
        out_bill_no: &str,
        action: Action,
        payee: &Payee,
        mchid: &str,
        now: i64,
    ) -> Result<(Value, Option<Event>), Answer> {
        let key = (sub.to_owned(), out_bill_no.to_owned());
        let bill = self.bills.get(&key).ok_or_else(|| {
            let whose = if sub.is_empty() {
                "the merchant".to_owned()
            } else {
                format!("sub-merchant {sub}")
            };
            Answer::error(
                404,
                "NOT_FOUND",
                &format!("记录不存在: {whose} has no transfer bill {out_bill_no} (a partner bill needs ?sub_mchid=)"),
                None,
            )
        })?;
        let is_confirm = matches!(action, Action::Confirm | Action::Decline);
        if !is_confirm && (payee.openid.is_some() || payee.invocation.is_some()) {
            return Err(Answer::param_error(
                "/",
                "only confirm and decline take a body",
            ));
        }
        if let Some(invocation) = &payee.invocation {
            check_invocation(bill, invocation, mchid)?;
        }
        if let Some(openid) = &payee.openid {
            if openid != bill.str("openid") {
                return Err(Answer::error(403, "NO_AUTH", OTHER_USER, None));
            }
        }
        if bill.state != State::WaitUserConfirm {
            let state = bill.state.as_str();
            return Err(Answer::error(
                409,
                "INVALID_BILL_STATE",
                &format!(
                    "cannot act on transfer bill {out_bill_no}: it is {state}, only a WAIT_USER_CONFIRM bill moves"
                ),
                Some(json!({ "state": state })),
            ));
        }
        let event = match action {
            Action::Decline => None,
            // Trigger FAIL… (wire/triggers.rs): the transfer after the
            // confirm fails with the reason the number names.
            Action::Confirm => match marked_fail_reason(out_bill_no) {
                Some(reason) => self.finish(&key, State::Fail, Some(reason), now, mchid),
                None => self.finish(&key, State::Success, None, now, mchid),
            },
            Action::Fail(reason) => self.finish(&key, State::Fail, Some(reason), now, mchid),
            Action::Expire => self.finish(&key, State::Fail, Some(OVERDUE), now, mchid),
        };
        let bill = self.bills.get(&key).ok_or_else(not_found)?;
        Ok((bill.render(mchid), event))
    }

    /// `(sub_mchid, out_bill_no)` of the bill a `package` names.
    pub(crate) fn by_package(&self, package: &str) -> Option<(String, String)> {
        self.by_package.get(package).cloned()
    }

    /// Bill `out_bill_no` of `sub` as the confirm page shows it (the query
    /// answer, with its remark and amount), after checking the front end's
    /// parameters as the client does.
    pub(crate) fn shown(
        &self,
        sub: &str,
        out_bill_no: &str,
        invocation: &Value,
        mchid: &str,
    ) -> Result<Value, Answer> {
        let bill = self
            .bills
            .get(&(sub.to_owned(), out_bill_no.to_owned()))
            .ok_or_else(not_found)?;
        check_invocation(bill, invocation, mchid)?;
        if bill.state != State::WaitUserConfirm {
            let state = bill.state.as_str();
            return Err(Answer::error(
                409,
                "INVALID_BILL_STATE",
                &format!("transfer bill {out_bill_no} is {state}: there is nothing to confirm"),
                Some(json!({ "state": state })),
            ));
        }
        let mut shown = bill.render(mchid);
        if let Some(perception) = bill.request.get("user_recv_perception") {
            shown["user_recv_perception"] = perception.clone();
        }
        Ok(shown)
    }

    /// Bills held.
    pub(crate) fn len(&self) -> usize {
        self.bills.len()
    }

    /// The `newest` most recent bills, oldest first, as the console and
    /// `GET /_mock/transfer-bills` list them.
    pub(crate) fn list(&self, newest: usize, mchid: &str) -> Vec<Value> {
        self.bills
            .newest(newest)
            .map(|(_, bill)| {
                let mut row = bill.render(mchid);
                row["sub_mchid"] = json!(bill.sub_mchid);
                row["notify_url"] = json!(bill.notify_url());
                row
            })
            .collect()
    }
}

/// 404 for a bill that is not there (or older than the query's 30 days).
/// WeChat Pay's error table for these operations lists `NOT_FOUND` 记录不存在.
fn not_found() -> Answer {
    Answer::error(
        404,
        "NOT_FOUND",
        "记录不存在, 请检查单号是否正确 (the query covers bills of the last 30 days)",
        None,
    )
}

/// `transfer_scene_report_infos`: a non-empty array of
/// `{info_type, info_content}` (OA, required).
fn check_reports(body: &Map<String, Value>) -> Result<(), Answer> {
    let pointer = "/transfer_scene_report_infos";
    let infos = required(body, pointer)?
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            Answer::param_error(pointer, "必须是非空数组 [{info_type, info_content}]")
        })?;
    for (i, info) in infos.iter().enumerate() {
        let Some(info) = info.as_object() else {
            return Err(Answer::param_error(
                &format!("{pointer}/{i}"),
                "必须是对象 {info_type, info_content}",
            ));
        };
        for field in ["info_type", "info_content"] {
            match info.get(field) {
                Some(Value::String(s)) if !s.is_empty() => {}
                Some(Value::String(_)) | Some(Value::Null) | None => {
                    return Err(missing(&format!("{pointer}/{i}/{field}")))
                }
                Some(_) => {
                    return Err(Answer::param_error(
                        &format!("{pointer}/{i}/{field}"),
                        "必须是非空字符串",
                    ))
                }
            }
        }
    }
    Ok(())
}

/// Opens `user_name` with the platform key the request's `Wechatpay-Serial`
/// names (the public key or a platform certificate), with WeChat Pay's
/// refusals (FLOWS.md §9).
fn open_name(keys: &ServerKeys, serial: Option<&str>, sealed: &str) -> Result<String, Answer> {
    let Some(serial) = serial else {
        return Err(Answer::param_error(
            "/user_name",
            "HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)",
        ));
    };
    let key = if same_serial(serial, keys.credentials.platform_public_key_id) {
        Some(keys.public_key_private.clone())
    } else {
        let platform = match keys.platform.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        platform
            .certificates
            .iter()
            .find(|c| same_serial(c.certificate.id(), serial))
            .map(|c| c.private.clone())
    };
    let key = key.ok_or_else(|| {
        Answer::error(
            400,
            "PARAM_ERROR",
            &format!("Wechatpay-Serial {serial} 不是有效的微信支付平台证书序列号或公钥ID (download v3/certificates, or use the public key id)"),
            Some(json!({"location": "header", "field": "Wechatpay-Serial"})),
        )
    })?;
    let plain = rsa_oaep_decrypt(&key, sealed)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Answer::param_error("/user_name", "请确认待处理的消息是否为加密后的密文"))?;
    if plain.is_empty() {
        return Err(Answer::param_error("/user_name", "收款用户姓名不能为空"));
    }
    Ok(plain)
}

/// Checks the front end's `requestMerchantTransfer` parameters against the
/// bill as the WeChat client does (FLOWS.md §8.4): `mchId` (the merchant,
/// or the service provider), `subMchId` for a partner bill, `appId` when
/// given, `package` the bill's `package_info`, `openId` when given.
fn check_invocation(bill: &Bill, params: &Value, mchid: &str) -> Result<(), Answer> {
    let Some(params) = params.as_object() else {
        return Err(Answer::param_error(
            "/invocation",
            "requestMerchantTransfer takes an object {mchId, appId, package, …}",
        ));
    };
    let field = |name: &str| params.get(name).and_then(Value::as_str);
    let refuse =
        |name: &str, why: String| Err(Answer::param_error(&format!("/invocation/{name}"), &why));
    match field("mchId") {
        None => return refuse("mchId", "mchId is required".to_owned()),
        Some(given) if given != mchid => {
            return refuse(
                "mchId",
                format!("mchId {given} is not the merchant that created the bill"),
            )
        }
        Some(_) => {}
    }
    match (bill.sub_mchid.as_str(), field("subMchId")) {
        ("", Some(given)) => {
            return refuse(
                "subMchId",
                format!("subMchId {given} given for a direct merchant's bill"),
            )
        }
        ("", None) => {}
        (_, None) => return refuse("subMchId", "a partner's bill needs subMchId".to_owned()),
        (sub, Some(given)) if given != sub => {
            return refuse(
                "subMchId",
                format!("subMchId {given} is not the bill's sub-merchant"),
            )
        }
        _ => {}
    }
    if let Some(given) = field("appId") {
        if given != bill.str("appid") {
            return refuse(
                "appId",
                format!("appId {given} is not the appid the bill was created with"),
            );
        }
    }
    match field("package") {
        None => {
            return refuse(
                "package",
                "package (the create answer's package_info) is required".to_owned(),
            )
        }
        Some(given) if given != bill.package_info => {
            return refuse(
                "package",
                "package is not this bill's package_info (pass it as the create call answered it)"
                    .to_owned(),
            )
        }
        Some(_) => {}
    }
    if let Some(given) = field("openId") {
        if given != bill.str("openid") {
            return Err(Answer::error(403, "NO_AUTH", OTHER_USER, None));
        }
    }
    Ok(())
}

/// A `transfer_bill_no` of the real format: 34 digits starting `1330`
/// (FLOWS.md §8.1, DEV capture `1330001424260332506300083551658036`).
fn transfer_bill_no(mchid: &str, now: i64, sequence: u64) -> String {
    let digits: String = mchid.chars().filter(char::is_ascii_digit).collect();
    let date = &clock::compact(now)[2..8];
    format!(
        "1330{digits:0>12.12}{date}{:012}",
        sequence % 1_000_000_000_000
    )
}

/// An opaque `package_info` like the real ones (`ABBQO+oYAAAB…`, base64).
fn package_info() -> Result<String, openssl::error::ErrorStack> {
    let mut bytes = [0u8; 60];
    openssl::rand::rand_bytes(&mut bytes)?;
    bytes[..9].copy_from_slice(&[0x00, 0x10, 0x50, 0x3b, 0xea, 0x18, 0x00, 0x00, 0x01]);
    Ok(BASE64.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> std::sync::Arc<ServerKeys> {
        ServerKeys::load().unwrap()
    }

    fn body(no: &str, amount: i64) -> String {
        json!({"appid": "wxf636efh567hg4356", "out_bill_no": no, "transfer_scene_id": "1000",
               "openid": "o-MYE42l80oelYMDE34nYD456Xoy", "transfer_amount": amount,
               "transfer_remark": "新会员开通有礼", "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
               "transfer_scene_report_infos": [{"info_type": "活动名称", "info_content": "新会员有礼"},
                                               {"info_type": "奖励说明", "info_content": "注册会员抽奖一等奖"}]})
        .to_string()
    }

    fn create(book: &mut Transfers, keys: &ServerKeys, body: &str, now: i64) -> Answer {
        let call = Call {
            operation: Operation::Create,
            partner: false,
            params: &[],
            query: &[],
            body: body.as_bytes(),
            serial: None,
            keys,
            now_ms: now * 1000,
            cancel_delay: Some(Duration::from_secs(3600)),
        };
        book.serve(&call, "1900000109").0
    }

    fn query(book: &mut Transfers, keys: &ServerKeys, no: &str, now: i64) -> Answer {
        let params = [("out_bill_no".to_owned(), no.to_owned())];
        let call = Call {
            operation: Operation::QueryByOutBillNo,
            partner: false,
            params: &params,
            query: &[],
            body: b"",
            serial: None,
            keys,
            now_ms: now * 1000,
            cancel_delay: Some(Duration::from_secs(3600)),
        };
        book.serve(&call, "1900000109").0
    }

    #[test]
    fn ids_have_the_real_shapes() {
        let no = transfer_bill_no("1900000109", 1_767_240_000, 7);
        assert_eq!(no.len(), 34, "{no}");
        assert!(
            no.starts_with("1330") && no.bytes().all(|b| b.is_ascii_digit()),
            "{no}"
        );
        assert!(no.contains("260101"), "{no}");
        let package = package_info().unwrap();
        assert!(package.starts_with("ABBQO+oYAAAB"), "{package}");
    }

    #[test]
    fn the_store_forgets_the_oldest_past_its_limit() {
        let keys = keys();
        let mut book = Transfers::with_limit(2);
        for i in 0..4 {
            assert_eq!(
                create(
                    &mut book,
                    &keys,
                    &body(&format!("B{i}"), 100),
                    1_767_240_000
                )
                .status,
                200
            );
        }
        assert_eq!(
            (
                book.bills.len(),
                book.by_bill_no.len(),
                book.by_package.len(),
                book.waiting.len()
            ),
            (2, 2, 2, 2)
        );
        assert_eq!(query(&mut book, &keys, "B0", 1_767_240_000).status, 404);
        assert_eq!(query(&mut book, &keys, "B3", 1_767_240_000).status, 200);
    }

    #[test]
    fn time_rules_fail_a_bill_after_24_hours_and_hide_it_after_30_days() {
        let keys = keys();
        let mut book = Transfers::default();
        let t0 = 1_767_240_000;
        assert_eq!(create(&mut book, &keys, &body("OLD", 100), t0).status, 200);
        let balance = book.balance();
        // 24 h less a millisecond: still waiting
        assert!(book
            .advance((t0 + CONFIRM_WITHIN) * 1000 - 1, None, "1900000109")
            .is_empty());
        let events = book.advance((t0 + CONFIRM_WITHIN) * 1000, None, "1900000109");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].resource["state"], "FAIL");
        assert_eq!(book.balance(), balance + 100, "the amount goes back");
        assert_eq!(
            query(&mut book, &keys, "OLD", t0 + QUERY_WINDOW).status,
            200
        );
        assert_eq!(
            query(&mut book, &keys, "OLD", t0 + QUERY_WINDOW + 1).status,
            404
        );
    }

    #[test]
    fn a_cancel_ends_after_its_delay_and_leaves_no_index_behind() {
        let keys = keys();
        let mut book = Transfers::default();
        let t0 = 1_767_240_000;
        assert_eq!(create(&mut book, &keys, &body("C1", 100), t0).status, 200);
        let params = [("out_bill_no".to_owned(), "C1".to_owned())];
        let call = Call {
            operation: Operation::Cancel,
            partner: false,
            params: &params,
            query: &[],
            body: b"",
            serial: None,
            keys: &keys,
            now_ms: t0 * 1000,
            cancel_delay: Some(Duration::from_secs(3600)),
        };
        assert_eq!(book.serve(&call, "1900000109").0.status, 200);
        assert_eq!((book.waiting.len(), book.canceling.len()), (0, 1));
        let hour = Some(Duration::from_secs(3600));
        assert!(
            book.advance(t0 * 1000 + 3_599_999, hour, "1900000109")
                .is_empty(),
            "the delay has not passed"
        );
        let events = book.advance(t0 * 1000 + 3_600_000, hour, "1900000109");
        assert_eq!(events[0].resource["state"], "CANCELLED");
        assert_eq!((book.waiting.len(), book.canceling.len()), (0, 0));
    }

    #[test]
    fn a_fail_marker_names_a_reason_or_nothing() {
        assert_eq!(
            marked_fail_reason("T1FAILNAMENOTCORRECT"),
            Some("NAME_NOT_CORRECT")
        );
        // Anywhere, followed by anything.
        assert_eq!(
            marked_fail_reason("FAILACCOUNTFROZEN2026"),
            Some("ACCOUNT_FROZEN")
        );
        // A reason ending in FAIL, after an ordinary FAIL.
        assert_eq!(
            marked_fail_reason("FAILFAILREALNAMECHECKFAIL"),
            Some("REAL_NAME_CHECK_FAIL")
        );
        // Ordinary numbers, unknown and misspelt reasons: no trigger.
        for no in [
            "FAIL1",
            "FAIL",
            "PAYFAIL7",
            "FAILNAMENOTCORECT",
            "failnamenotcorrect",
        ] {
            assert_eq!(marked_fail_reason(no), None, "{no}");
        }
        // The two reasons longer than 28 fit only cut by the 32-character
        // end; a cut that begins two reasons names neither.
        assert_eq!(
            marked_fail_reason("FAILBLOCKB2CUSERLIMITAMOUNTBSRUL"),
            Some("BLOCK_B2C_USERLIMITAMOUNT_BSRULE_MONTH")
        );
        assert_eq!(
            marked_fail_reason("X1FAILREALNAMEACCOUNTRECEIVEDQUO"),
            Some("REALNAME_ACCOUNT_RECEIVED_QUOTA_EXCEED")
        );
        assert_eq!(marked_fail_reason("XXXXXXXXXFAILBLOCKB2CUSERLIMITAM"), None);
        assert_eq!(marked_fail_reason("FAILBLOCKB2CUSERLIMITAM"), None);
        // Every reason can be named within 32 characters.
        for reason in FAIL_REASONS {
            let marker: String = format!("FAIL{}", reason.replace('_', ""));
            let no = &marker[..marker.len().min(MAX_OUT_BILL_NO)];
            assert_eq!(marked_fail_reason(no), Some(reason), "{no}");
        }
    }

    /// docs/mock.md: only the two reasons longer than 28 letters are read
    /// cut by the 32-character end. An ordinary 32-character number that
    /// happens to end in `FAIL` and a letter or two is not a trigger.
    #[test]
    fn a_cut_marker_names_only_a_reason_too_long_to_write_whole() {
        for tail in ["FAILN", "FAILE", "FAILI", "FAILNAMENOT", "FAILIDCARD"] {
            let no = format!("{}{tail}", "7".repeat(MAX_OUT_BILL_NO - tail.len()));
            assert_eq!(no.len(), MAX_OUT_BILL_NO);
            assert_eq!(marked_fail_reason(&no), None, "{no}");
        }
        // The two long ones still are, once what is left begins one only.
        assert_eq!(
            marked_fail_reason("7777777777777777777777FAILREALNA"),
            None,
            "REALNA begins REAL_NAME_CHECK_FAIL too"
        );
        assert_eq!(
            marked_fail_reason(&format!("{}FAILREALNAMEA", "7".repeat(19))),
            Some("REALNAME_ACCOUNT_RECEIVED_QUOTA_EXCEED")
        );
    }

    #[test]
    fn a_marked_bill_fails_at_the_confirm_and_gives_the_amount_back() {
        let keys = keys();
        let mut book = Transfers::default();
        let t0 = 1_767_240_000;
        let no = "T1FAILNAMENOTCORRECT";
        assert_eq!(create(&mut book, &keys, &body(no, 100), t0).status, 200);
        assert_eq!(book.balance(), DEFAULT_TRANSFER_BALANCE - 100);
        let (bill, event) = book
            .act(
                "",
                no,
                Action::Confirm,
                &Payee::default(),
                "1900000109",
                t0 + 5,
            )
            .unwrap();
        assert_eq!(bill["state"], "FAIL");
        assert_eq!(bill["fail_reason"], "NAME_NOT_CORRECT");
        let event = event.unwrap();
        assert_eq!(event.resource["state"], "FAIL");
        assert_eq!(event.resource["fail_reason"], "NAME_NOT_CORRECT");
        assert_eq!(book.balance(), DEFAULT_TRANSFER_BALANCE);
    }

    #[test]
    fn user_name_needs_the_header_and_a_ciphertext() {
        let keys = keys();
        let refused = open_name(&keys, None, "AAAA").unwrap_err();
        assert!(String::from_utf8_lossy(&refused.body)
            .contains("HTTP header缺少微信支付平台证书序列号(Wechatpay-Serial)"));
        let serial = keys.credentials.platform_public_key_id;
        let refused = open_name(&keys, Some(serial), "张三").unwrap_err();
        assert!(
            String::from_utf8_lossy(&refused.body).contains("请确认待处理的消息是否为加密后的密文")
        );
        let public = openssl::pkey::PKey::public_key_from_pem(
            keys.credentials.platform_public_key.as_bytes(),
        )
        .unwrap();
        let sealed = rsa_oaep_encrypt(&public, "张三".as_bytes()).unwrap();
        assert_eq!(open_name(&keys, Some(serial), &sealed).unwrap(), "张三");
    }
}
