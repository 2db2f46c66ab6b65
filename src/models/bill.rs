//! A row of the trade bill (FLOWS.md §5: the 27 columns of a real
//! `tradebill`), read from a [`BillTable`](crate::download::BillTable) with
//! [`rows_as`](crate::download::BillTable::rows_as).

use serde::{Deserialize, Serialize};

use super::{TradeState, TradeType};
use crate::error::Result;

/// An amount as a bill writes it, yuan as text (`19.99`); [`Yuan::fen`]
/// reads it exactly.
///
/// ```
/// let total = wechatpay_chain::models::Yuan::from("19.99".to_owned());
/// assert_eq!(total.fen()?, 1999);
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Yuan(pub String);

impl Yuan {
    /// The amount in fen, without floating point (see
    /// [`download::fen`](crate::download::fen) for what is refused).
    pub fn fen(&self) -> Result<i64> {
        crate::download::fen(&self.0)
    }

    /// The text as the bill wrote it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Yuan {
    fn from(text: String) -> Self {
        Yuan(text)
    }
}

/// One row of a trade bill (交易账单), its columns named as WeChat Pay's
/// header names them (FLOWS.md §5). A payment and its refund are rows of
/// their own (交易状态 `SUCCESS` and `REFUND`). A column this type does not
/// name lands in `extra`; a column it names but the bill lacks is `None`.
///
/// ```
/// use wechatpay_chain::download::BillTable;
/// use wechatpay_chain::models::{TradeBillRow, TradeState};
///
/// let csv = "\u{feff}交易时间,商户订单号,交易状态,订单金额,新的一列\r\n`2026-01-01 12:00:00,`T1,`SUCCESS,`19.99,`x\r\n";
/// let rows: Vec<TradeBillRow> = BillTable::parse(csv)?.rows_as()?;
/// assert_eq!(rows[0].out_trade_no.as_deref(), Some("T1"));
/// assert_eq!(rows[0].trade_state, Some(TradeState::Success));
/// assert_eq!(rows[0].total.as_ref().map(|t| t.fen()).transpose()?, Some(1999));
/// assert_eq!(rows[0].extra["新的一列"], "x");
/// # Ok::<(), wechatpay_chain::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TradeBillRow {
    /// 交易时间 (`2026-01-01 12:00:00`, Beijing time).
    #[serde(rename = "交易时间", default)]
    pub trade_time: Option<String>,
    /// 公众账号ID.
    #[serde(rename = "公众账号ID", default)]
    pub appid: Option<String>,
    /// 商户号.
    #[serde(rename = "商户号", default)]
    pub mchid: Option<String>,
    /// 特约商户号 (`0` for a direct merchant).
    #[serde(rename = "特约商户号", default)]
    pub sub_mchid: Option<String>,
    /// 设备号.
    #[serde(rename = "设备号", default)]
    pub device_info: Option<String>,
    /// 微信订单号.
    #[serde(rename = "微信订单号", default)]
    pub transaction_id: Option<String>,
    /// 商户订单号.
    #[serde(rename = "商户订单号", default)]
    pub out_trade_no: Option<String>,
    /// 用户标识 (openid).
    #[serde(rename = "用户标识", default)]
    pub openid: Option<String>,
    /// 交易类型.
    #[serde(rename = "交易类型", default)]
    pub trade_type: Option<TradeType>,
    /// 交易状态 (`SUCCESS`, `REFUND`, …).
    #[serde(rename = "交易状态", default)]
    pub trade_state: Option<TradeState>,
    /// 付款银行.
    #[serde(rename = "付款银行", default)]
    pub bank_type: Option<String>,
    /// 货币种类.
    #[serde(rename = "货币种类", default)]
    pub currency: Option<String>,
    /// 应结订单金额.
    #[serde(rename = "应结订单金额", default)]
    pub settlement_total: Option<Yuan>,
    /// 代金券金额.
    #[serde(rename = "代金券金额", default)]
    pub coupon_amount: Option<Yuan>,
    /// 微信退款单号 (`0` on a payment row).
    #[serde(rename = "微信退款单号", default)]
    pub refund_id: Option<String>,
    /// 商户退款单号.
    #[serde(rename = "商户退款单号", default)]
    pub out_refund_no: Option<String>,
    /// 退款金额.
    #[serde(rename = "退款金额", default)]
    pub refund_amount: Option<Yuan>,
    /// 充值券退款金额.
    #[serde(rename = "充值券退款金额", default)]
    pub coupon_refund_amount: Option<Yuan>,
    /// 退款类型 (`ORIGINAL`, …).
    #[serde(rename = "退款类型", default)]
    pub refund_type: Option<String>,
    /// 退款状态 (the bill's own values, not the API's refund `status`).
    #[serde(rename = "退款状态", default)]
    pub refund_status: Option<String>,
    /// 商品名称.
    #[serde(rename = "商品名称", default)]
    pub description: Option<String>,
    /// 商户数据包 (the order's `attach`).
    #[serde(rename = "商户数据包", default)]
    pub attach: Option<String>,
    /// 手续费: 5 decimals (`0.01000`), not always a whole number of fen.
    #[serde(rename = "手续费", default)]
    pub fee: Option<Yuan>,
    /// 费率 (`0.60%`).
    #[serde(rename = "费率", default)]
    pub rate: Option<String>,
    /// 订单金额.
    #[serde(rename = "订单金额", default)]
    pub total: Option<Yuan>,
    /// 申请退款金额.
    #[serde(rename = "申请退款金额", default)]
    pub requested_refund: Option<Yuan>,
    /// 费率备注.
    #[serde(rename = "费率备注", default)]
    pub rate_remark: Option<String>,
    /// Every column this type does not name, by its header name.
    #[serde(flatten)]
    pub extra: super::Extra,
}
