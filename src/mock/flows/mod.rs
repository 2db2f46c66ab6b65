//! The flows: one module per product, each owning its state machine over
//! the shared store (`kept`), sending through the wire's notifier.

pub(crate) mod bills;
pub(crate) mod combine;
pub(crate) mod invocation;
pub(crate) mod kept;
pub(crate) mod payments;
pub(crate) mod payscore;
pub(crate) mod profitsharing;
pub(crate) mod refunds;
pub(crate) mod transfers;
pub(crate) mod v2;
