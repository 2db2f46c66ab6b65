//! The pages and controls: the console, the cashier, the bridge stand-in
//! and the `/_mock/` controls, views and actions over the same flows (never
//! a second copy of the state).

pub(crate) mod actions;
pub(crate) mod bridge;
pub(crate) mod cashier;
pub(crate) mod console;
pub(crate) mod control;
pub(crate) mod html;
pub(crate) mod transfer;
