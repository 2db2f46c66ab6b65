//! Optional typed answers for the flows a merchant writes every day: the
//! [`Transaction`] (query answer and `TRANSACTION.SUCCESS` resource), the
//! [`Refund`] (create and query answers, `REFUND.*` resource) and the
//! [`TradeBillRow`] (a row of the trade bill).
//!
//! The chain's `Value` stays the default; these types are for code that
//! wants field names checked by the compiler. They never break on what
//! WeChat Pay adds: every field is optional (answers of an unpaid order
//! leave most out, FLOWS.md §1.4), every struct keeps the fields it does not
//! name in `extra`, and every enum keeps a value it does not know as
//! `Other(String)` — the way typed SDKs broke when WeChat Pay added a field
//! or a state (wechatpay-go #211, gopay #43).
//!
//! ```
//! use wechatpay_chain::models::{TradeState, Transaction};
//!
//! let tx: Transaction = serde_json::from_str(r#"{"out_trade_no": "T1", "trade_state": "SUCCESS",
//!     "amount": {"total": 1, "currency": "CNY"}, "a_new_field": 7}"#)?;
//! assert_eq!(tx.trade_state, Some(TradeState::Success));
//! assert_eq!(tx.extra["a_new_field"], 7);
//! # Ok::<(), serde_json::Error>(())
//! ```

mod bill;
mod refund;
mod transaction;

pub use bill::{TradeBillRow, Yuan};
pub use refund::{FundsAccount, Refund, RefundAmount, RefundChannel, RefundStatus};
pub use transaction::{Payer, TradeState, TradeType, Transaction, TransactionAmount};

/// The fields a type does not name, kept as they came.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// An enum of WeChat Pay's text values that keeps any other value as
/// `Other(String)`: parses from and serializes to the text.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(from = "String", into = "String")]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as WeChat Pay writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $( $text => $name::$variant, )*
                    _ => $name::Other(text),
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                match value {
                    $name::Other(text) => text,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use open_enum;
