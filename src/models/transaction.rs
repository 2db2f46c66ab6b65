//! The Transaction: the answer of the order queries and the resource of a
//! `TRANSACTION.SUCCESS` notification (FLOWS.md §1.4, §1.6; field names of
//! wechatpay-go's `payments.Transaction`).

use serde::{Deserialize, Serialize};

use super::{open_enum, Extra};

/// A payment order as WeChat Pay describes it. Direct-merchant and partner
/// (服务商) answers both parse: the partner's `sp_*`/`sub_*` fields are
/// named too.
///
/// ```
/// # async fn demo(client: wechatpay_chain::Client) -> wechatpay_chain::Result<()> {
/// use wechatpay_chain::json;
/// use wechatpay_chain::models::{TradeState, Transaction};
///
/// let tx: Transaction = client["v3/pay/transactions/out-trade-no/{out_trade_no}"]
///     .get(json!({"out_trade_no": "1217752501201407033233368018", "query": {"mchid": "1900000109"}}))
///     .await?
///     .json()?;
/// if tx.trade_state == Some(TradeState::Success) {
///     println!("paid {} fen", tx.amount.as_ref().and_then(|a| a.total).unwrap_or_default());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Transaction {
    /// The merchant's appid (direct merchant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appid: Option<String>,
    /// The merchant id (direct merchant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mchid: Option<String>,
    /// The partner's appid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_appid: Option<String>,
    /// The partner's merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_mchid: Option<String>,
    /// The sub-merchant's appid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_appid: Option<String>,
    /// The sub-merchant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_mchid: Option<String>,
    /// The merchant's order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_trade_no: Option<String>,
    /// WeChat Pay's order number (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// How it was paid (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<TradeType>,
    /// Its state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_state: Option<TradeState>,
    /// The state in words (`支付成功`, `订单未支付`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_state_desc: Option<String>,
    /// The paying bank (`BOC_CREDIT`, `OTHERS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    /// The merchant's `attach`, returned as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// When it was paid (RFC 3339, `+08:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// Who paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    /// The amounts, in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<TransactionAmount>,
    /// Coupons and discounts, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_detail: Option<Vec<serde_json::Value>>,
    /// The scene (`device_id`, …), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene_info: Option<serde_json::Value>,
    /// Every field this type does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The amounts of a [`Transaction`], in fen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransactionAmount {
    /// The order total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// What the user paid (the total less discounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// The order's currency (`CNY`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The user's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
    /// Every field this type does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Who paid a [`Transaction`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Payer {
    /// The user's openid under the merchant's appid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openid: Option<String>,
    /// Under the partner's appid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sp_openid: Option<String>,
    /// Under the sub-merchant's appid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_openid: Option<String>,
    /// Every field this type does not name.
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// `trade_state` (FLOWS.md §1.3: wechatpay-java's `TradeStateEnum`),
    /// also the trade bill's 交易状态.
    ///
    /// ```
    /// use wechatpay_chain::models::TradeState;
    /// assert_eq!(TradeState::from("NOTPAY".to_owned()), TradeState::NotPay);
    /// assert_eq!(TradeState::from("SOMETHING_NEW".to_owned()), TradeState::Other("SOMETHING_NEW".into()));
    /// ```
    pub enum TradeState {
        /// Paid.
        Success = "SUCCESS",
        /// Refunded (in part or whole).
        Refund = "REFUND",
        /// Not paid yet.
        NotPay = "NOTPAY",
        /// Closed unpaid.
        Closed = "CLOSED",
        /// Revoked (payment code only).
        Revoked = "REVOKED",
        /// The user is paying (payment code only).
        UserPaying = "USERPAYING",
        /// Payment failed (payment code only).
        PayError = "PAYERROR",
        /// Accepted, not yet paid.
        Accept = "ACCEPT",
    }
}

open_enum! {
    /// `trade_type` (FLOWS.md §1.3: wechatpay-java's `TradeTypeEnum`; H5 is
    /// `MWEB`).
    ///
    /// ```
    /// use wechatpay_chain::models::TradeType;
    /// assert_eq!(TradeType::from("MWEB".to_owned()).as_str(), "MWEB");
    /// ```
    pub enum TradeType {
        /// JSAPI and mini-programs.
        Jsapi = "JSAPI",
        /// A QR code.
        Native = "NATIVE",
        /// An app.
        App = "APP",
        /// A payment code.
        Micropay = "MICROPAY",
        /// H5 in a mobile browser.
        Mweb = "MWEB",
        /// Face payment.
        Facepay = "FACEPAY",
    }
}
