//! What a request may hold before anything about it is checked: its body,
//! read with a cap on its size, on the time it may take to arrive, and on
//! the bytes all unfinished bodies may reserve together. Anyone can open
//! connections to the mock: 48 of them, each announcing an 8 MiB body and
//! sending one byte less, held 389 MiB (issue 26).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use tokio::sync::Semaphore;

use super::answer::Answer;

/// Largest request body the mock reads; a larger one is refused, before
/// any of it is read when its `Content-Length` says so.
pub const MAX_BODY: usize = 8 << 20;

/// What the bodies being read may reserve together: four bodies of
/// [`MAX_BODY`], or thousands of API calls of a few KiB.
pub const BODY_BUDGET: usize = 32 << 20;

/// How long a body may take to arrive once its headers have.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The budget is counted in KiB (a semaphore's permits are `u32`).
const UNIT: usize = 1024;

/// The budget of unfinished bodies.
pub(crate) struct Intake {
    budget: Arc<Semaphore>,
}

impl Default for Intake {
    fn default() -> Self {
        Intake {
            budget: Arc::new(Semaphore::new(BODY_BUDGET / UNIT)),
        }
    }
}

/// Why a body was not read; each closes the connection.
pub(crate) struct Refused(pub(crate) Answer);

impl Intake {
    /// The whole body, or the answer that refuses it: 400 `PARAM_ERROR`
    /// when it is (or says it will be) over [`MAX_BODY`] or is cut short,
    /// 503 when the budget is spent (at once: the caller may retry), 408
    /// when it does not arrive within [`BODY_TIMEOUT`]. What it reserved
    /// is given back when the body is read or refused.
    pub(crate) async fn read(&self, body: Body) -> Result<Bytes, Refused> {
        // hyper's hint is exact with a Content-Length (and 0 without a
        // body); a chunked body may be anything up to the limit.
        let announced = body.size_hint().upper().map_or(MAX_BODY as u64, |n| n);
        if announced > MAX_BODY as u64 {
            return Err(Refused(too_large()));
        }
        let units = (announced as usize).div_ceil(UNIT);
        let _reserved = match units {
            0 => None,
            n => Some(
                self.budget
                    .clone()
                    .try_acquire_many_owned(n as u32)
                    .map_err(|_| Refused(busy()))?,
            ),
        };
        match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(_)) => Err(Refused(too_large())),
            Err(_) => Err(Refused(Answer::error(
                408,
                "PARAM_ERROR",
                &format!(
                    "请求体未在 {} 秒内送达 (the body did not arrive in time; the connection is closed)",
                    BODY_TIMEOUT.as_secs()
                ),
                None,
            ))),
        }
    }
}

fn too_large() -> Answer {
    Answer::param_error("/", &format!("请求体过大或不完整 (上限 {MAX_BODY} 字节)"))
}

fn busy() -> Answer {
    Answer::error(
        503,
        "SYSTEM_ERROR",
        &format!(
            "系统繁忙，请稍后重试 (the mock holds at most {} MiB of unfinished request bodies at once; retry when others have arrived)",
            BODY_BUDGET >> 20
        ),
        None,
    )
}
