//! The wire: what every request goes through and every answer comes out of.
//! The server accepts (bounded), `intake` reads bodies within a size, a
//! time and a shared budget, the guard keeps `/_mock/` to loopback,
//! `auth` verifies the merchant's signature, `catalog` routes once by
//! template, `body` checks what every flow's body shares; on the way out one
//! signer (`identity`) signs every answer, `notify` delivers every flow's
//! notifications, `faults` misbehaves on request and `log` keeps the
//! requests.

pub(crate) mod answer;
pub(crate) mod auth;
pub(crate) mod body;
pub(crate) mod catalog;
pub(crate) mod faults;
pub(crate) mod guard;
pub(crate) mod identity;
pub(crate) mod intake;
pub(crate) mod log;
pub(crate) mod notify;
pub(crate) mod server;
pub(crate) mod upload;
