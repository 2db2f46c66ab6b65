//! `/_mock/clock`: read the mock's clock and move it forward.
//!
//! | request | effect |
//! |---|---|
//! | `GET /_mock/clock` | the time, how far ahead of real time, the timers waiting |
//! | `POST /_mock/clock/advance` `{"seconds": n}` or `{"duration": "2h" \| "PT2H"}` | moves forward, firing what falls due; answers what happened |
//! | `POST /_mock/clock/set` `{"time": "2026-01-02T10:00:00+08:00"}` | the same, to a time (never back) |

use axum::response::Response;
use serde_json::{json, Value};

use super::Shared;
use crate::clock::rfc3339;
use crate::mock::wire::answer::{reply, Answer};
use crate::mock::wire::clock::{parse_duration, parse_time};

/// One move at most: a year and a day (refunds are allowed a year).
pub(super) const MOST_SECONDS: i64 = 366 * 86_400;

/// The refusal of a longer move.
pub(super) fn too_far() -> String {
    format!("at most {MOST_SECONDS} seconds (366 days) per move")
}

/// Timers listed by `GET /_mock/clock` (the count says how many wait).
const LISTED: usize = 50;

/// The clock's state, as `GET /_mock/clock` answers.
pub(crate) fn state(shared: &Shared) -> Value {
    let now_ms = shared.clock.now_ms();
    let pending = shared.clock.pending();
    let listed: Vec<Value> = pending
        .iter()
        .take(LISTED)
        .map(|due| {
            let mut row = serde_json::to_value(&due.timer).unwrap_or_default();
            row["time"] = json!(rfc3339(due.at_ms.div_euclid(1000)));
            row
        })
        .collect();
    json!({
        "now": rfc3339(now_ms.div_euclid(1000)),
        "unix": now_ms.div_euclid(1000),
        "ahead_of_real_time_seconds": shared.clock.offset_ms() / 1000,
        "follows_real_time": true,
        "pending_count": pending.len(),
        "pending": listed,
    })
}

/// Answers a `/_mock/clock…` request; `None` for any other path.
pub(crate) async fn handle(
    shared: &Shared,
    method: &str,
    segments: &[&str],
    body: &[u8],
) -> Option<Response> {
    let target = match (method, segments) {
        ("GET", ["clock"]) => return Some(reply(&Answer::json(200, &state(shared)))),
        ("POST", ["clock", "advance"]) => advance_target(shared, body),
        ("POST", ["clock", "set"]) => set_target(body),
        _ => return None,
    }
    .and_then(|to_ms| {
        if to_ms - shared.clock.now_ms() > MOST_SECONDS * 1000 {
            return Err(Answer::param_error("/", &too_far()));
        }
        Ok(to_ms)
    });
    let answer = match target {
        Err(refusal) => refusal,
        Ok(to_ms) => {
            let from = shared.clock.now();
            match shared.advance_to(to_ms).await {
                Ok(happened) => Answer::json(
                    200,
                    &json!({"from": rfc3339(from), "now": rfc3339(shared.clock.now()),
                            "happened": happened}),
                ),
                Err(why) => Answer::error(400, "INVALID_REQUEST", &why, None),
            }
        }
    };
    Some(reply(&answer))
}

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Answer> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Answer::param_error("/", "expected a JSON object")),
    }
}

/// `{"seconds": n}` or `{"duration": "2h"}`, as the time to move to.
fn advance_target(shared: &Shared, body: &[u8]) -> Result<i64, Answer> {
    let map = object(body)?;
    let seconds = match (map.get("seconds"), map.get("duration")) {
        (Some(seconds), None) => seconds.as_i64().filter(|s| *s >= 0).ok_or_else(|| {
            Answer::param_error("/seconds", "a whole number of seconds, 0 or more")
        })?,
        (None, Some(Value::String(text))) => {
            parse_duration(text).map_err(|e| Answer::param_error("/duration", &e))?
        }
        _ => {
            return Err(Answer::param_error(
                "/",
                "give one of {\"seconds\": 7200} or {\"duration\": \"2h\" | \"PT2H\"}",
            ))
        }
    };
    if let Some(other) = map.keys().find(|k| *k != "seconds" && *k != "duration") {
        return Err(Answer::param_error(&format!("/{other}"), "unknown field"));
    }
    // Refused before the sum: a huge number must not overflow it.
    if seconds > MOST_SECONDS {
        return Err(Answer::param_error("/", &too_far()));
    }
    Ok(shared.clock.now_ms() + seconds * 1000)
}

/// `{"time": "…"}`, as the time to move to.
fn set_target(body: &[u8]) -> Result<i64, Answer> {
    let map = object(body)?;
    let text = map.get("time").and_then(Value::as_str).ok_or_else(|| {
        Answer::param_error("/time", "give {\"time\": \"2026-01-02T10:00:00+08:00\"}")
    })?;
    parse_time(text).map_err(|e| Answer::param_error("/time", &e))
}
