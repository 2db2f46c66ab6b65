//! The Refund: the answer of create and query, and the resource of a
//! `REFUND.*` notification (FLOWS.md §2; wechatpay-go's
//! `refunddomestic.Refund`, wechatpay-java's `RefundNotification`).

use serde::{Deserialize, Serialize};

use super::{open_enum, Extra};

/// A refund as WeChat Pay describes it. The answers say `status`, the
/// notification's resource says `refund_status` (FLOWS.md §2):
/// [`Refund::state`] reads whichever came.
///
/// ```
/// use wechatpay_chain::models::{Refund, RefundStatus};
///
/// let answer: Refund = serde_json::from_str(r#"{"out_refund_no": "R1", "status": "PROCESSING"}"#)?;
/// let resource: Refund = serde_json::from_str(r#"{"out_refund_no": "R1", "refund_status": "SUCCESS"}"#)?;
/// assert_eq!(answer.state(), Some(&RefundStatus::Processing));
/// assert_eq!(resource.state(), Some(&RefundStatus::Success));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Refund {
    /// WeChat Pay's refund number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<String>,
    /// The merchant's refund number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_refund_no: Option<String>,
    /// WeChat Pay's order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The merchant's order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// The merchant id (notifications of a direct merchant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mchid: Option<String>,
    /// The partner's merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// The sub-merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// Where the money goes back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<RefundChannel>,
    /// The account that receives it, in words (`招商银行信用卡0403`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// When it succeeded (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// When it was accepted (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    /// Its state, in the create and query answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RefundStatus>,
    /// Its state, in a `REFUND.*` notification's resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_status: Option<RefundStatus>,
    /// The account the money comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funds_account: Option<FundsAccount>,
    /// The amounts, in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<RefundAmount>,
    /// Coupons refunded, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_detail: Option<Vec<serde_json::Value>>,
    /// Every field this type does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Refund {
    /// The state, from `status` (answers) or `refund_status` (notifications).
    pub fn state(&self) -> Option<&RefundStatus> {
        self.status.as_ref().or(self.refund_status.as_ref())
    }
}

/// The amounts of a [`Refund`], in fen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RefundAmount {
    /// The order total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// This refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund: Option<i64>,
    /// What the user paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// What goes back to the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<i64>,
    /// The refund less non-settled coupons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_refund: Option<i64>,
    /// The settled order total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_total: Option<i64>,
    /// Discounts refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_refund: Option<i64>,
    /// The fee refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_fee: Option<i64>,
    /// `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Which accounts the refund came from, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<serde_json::Value>>,
    /// Every field this type does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// A refund's `status` / `refund_status` (FLOWS.md §2: wechatpay-go's
    /// `Status`).
    pub enum RefundStatus {
        /// Refunded.
        Success = "SUCCESS",
        /// Closed: refund again with a new `out_refund_no`.
        Closed = "CLOSED",
        /// Being refunded (1–3 working days).
        Processing = "PROCESSING",
        /// Failed: use the abnormal-refund API.
        Abnormal = "ABNORMAL",
    }
}

open_enum! {
    /// Where a refund goes (FLOWS.md §2: wechatpay-go's `Channel`).
    pub enum RefundChannel {
        /// Back the way it came.
        Original = "ORIGINAL",
        /// To the user's balance.
        Balance = "BALANCE",
        /// To another balance.
        OtherBalance = "OTHER_BALANCE",
        /// To another bank card.
        OtherBankcard = "OTHER_BANKCARD",
    }
}

open_enum! {
    /// The account a refund is paid from (FLOWS.md §2: wechatpay-go's
    /// `FundsAccount`, and `ECNY_BASIC`).
    pub enum FundsAccount {
        /// Unsettled funds.
        Unsettled = "UNSETTLED",
        /// Available funds.
        Available = "AVAILABLE",
        /// Unavailable funds.
        Unavailable = "UNAVAILABLE",
        /// The operation account.
        Operation = "OPERATION",
        /// The basic account.
        Basic = "BASIC",
        /// The e-CNY basic account.
        EcnyBasic = "ECNY_BASIC",
    }
}
