//! The HTTP side: one handler that checks, routes, answers, injects faults
//! and signs, the way WeChat Pay's front door does.

mod clock_controls;
mod outcomes;
mod persist;
mod timers;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Value};

use super::answer::Answer;
use super::auth::{self, ReplayGuard};
use super::catalog::{Catalog, Route};
use super::faults::Fault;
use super::identity::ServerKeys;
use super::intake::{Intake, Refused};
use super::log::{Note, RequestLog};
use super::notify::Notifier;
use super::schema;
use super::triggers::Triggers;
use super::upload;
use crate::clock;
use crate::crypto::{aes_256_gcm_encrypt, random_alphanumeric};
use crate::keys::KeySource;
use crate::mock::flows::bills::{self, Bills};
use crate::mock::flows::combine::{self, Combines};
use crate::mock::flows::payments::{self, Payments};
use crate::mock::flows::payscore::{self, Orders};
use crate::mock::flows::profitsharing::{self, ProfitSharing};
use crate::mock::flows::refunds::{self, RefundOutcome, Refunds};
use crate::mock::flows::transfers::{self, Transfers};
use crate::mock::flows::v2::V2Orders;
use crate::mock::wire::clock::MockClock;
use crate::mock::wire::store::MAX_RETENTION;
use crate::request::is_unsigned_download;
use crate::sign::unix_now;
use crate::verify::PROBE_PREFIX;

// A move of the clock never runs out of room for the deadlines of full
// stores (five per entry) and the notifications' attempts.
const _: () = assert!(
    crate::mock::wire::clock::MAX_TIMERS
        >= 5 * MAX_RETENTION + crate::mock::wire::notify::KEPT_NOTIFICATIONS
);

/// Everything the handler shares.
pub(crate) struct Shared {
    pub(crate) keys: Arc<ServerKeys>,
    replay: Mutex<ReplayGuard>,
    pub(crate) orders: Mutex<Orders>,
    /// Combine orders (their envelopes); locked before `payments`.
    pub(crate) combines: Mutex<Combines>,
    /// Payment orders; locked before `refunds` whenever both are.
    pub(crate) payments: Mutex<Payments>,
    pub(crate) refunds: Mutex<Refunds>,
    /// Transfer bills (商家转账) and the operating account they are paid from.
    pub(crate) transfers: Mutex<Transfers>,
    /// Profit sharing; locked after `payments` whenever both are.
    pub(crate) profitsharing: Mutex<ProfitSharing>,
    /// Refunds resolve as SUCCESS by themselves this long after acceptance.
    pub(crate) refund_delay: Mutex<Option<std::time::Duration>>,
    /// What unfinished request bodies may hold together.
    intake: Intake,
    /// A `notify_url` may name a host other than this machine.
    pub(crate) remote_notify: std::sync::atomic::AtomicBool,
    catalog: Catalog,
    pub(crate) faults: Mutex<VecDeque<Fault>>,
    pub(crate) notifier: Notifier,
    pub(crate) bills: Bills,
    v2: V2Orders,
    requests: AtomicU64,
    connections: AtomicU64,
    /// Requests by "METHOD /path".
    hits: Mutex<std::collections::HashMap<String, u64>>,
    /// What became of each request.
    pub(crate) log: RequestLog,
    /// Check every APIv3 request against its operation's schema (default on).
    pub(crate) schema_check: AtomicBool,
    /// Answer an operation no flow keeps with the signed echo of the
    /// request instead of a schema-shaped body (default off).
    pub(crate) echo: AtomicBool,
    /// The one clock every flow reads.
    pub(crate) clock: Arc<MockClock>,
    /// Failures on demand (wire/triggers.rs).
    pub(crate) triggers: Triggers,
    /// The state on disk, when the mock was given a directory (wire/persist.rs).
    pub(crate) store: std::sync::OnceLock<crate::mock::wire::store::Store>,
    pub(crate) saving: Mutex<()>,
    /// The clock and settings row last written.
    pub(crate) saved_state: Mutex<String>,
    /// How many entries each book keeps (the oldest goes first).
    pub(crate) retention: std::sync::atomic::AtomicUsize,
}

impl Shared {
    /// Needs a tokio runtime: notifications are sent on it, whichever
    /// thread plays the user.
    pub(crate) fn new(keys: Arc<ServerKeys>, runtime: tokio::runtime::Handle) -> Self {
        // The schema table is parsed once per process; here rather than
        // inside the first request, whose client may have a short timeout.
        let _ = Catalog::load().corpus().schema_counts();
        let clock = Arc::new(MockClock::default());
        Shared {
            notifier: Notifier::new(keys.clone(), runtime, clock.clone()),
            keys,
            replay: Mutex::default(),
            orders: Mutex::default(),
            combines: Mutex::default(),
            payments: Mutex::default(),
            refunds: Mutex::default(),
            transfers: Mutex::default(),
            profitsharing: Mutex::default(),
            refund_delay: Mutex::default(),
            remote_notify: std::sync::atomic::AtomicBool::new(false),
            intake: Intake::default(),
            catalog: Catalog::load(),
            faults: Mutex::default(),
            bills: Bills::default(),
            v2: V2Orders::default(),
            requests: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            hits: Mutex::default(),
            log: RequestLog::default(),
            schema_check: AtomicBool::new(true),
            echo: AtomicBool::new(false),
            clock,
            triggers: Triggers::default(),
            store: std::sync::OnceLock::new(),
            saving: Mutex::default(),
            saved_state: Mutex::default(),
            retention: std::sync::atomic::AtomicUsize::new(crate::mock::flows::kept::KEPT_ORDERS),
        }
    }

    /// Makes every book keep at most `limit` entries (1 to
    /// [`MAX_RETENTION`]) from now on: each forgets its oldest past it at once.
    pub(crate) fn set_retention(&self, limit: usize) {
        let limit = limit.clamp(1, MAX_RETENTION);
        self.retention.store(limit, Ordering::Relaxed);
        if let Ok(mut book) = self.payments.lock() {
            book.set_retention(limit);
        }
        if let Ok(mut book) = self.refunds.lock() {
            book.set_retention(limit);
        }
        if let Ok(mut book) = self.orders.lock() {
            book.set_retention(limit);
        }
        if let Ok(mut book) = self.combines.lock() {
            book.set_retention(limit);
        }
        if let Ok(mut book) = self.transfers.lock() {
            book.set_retention(limit);
        }
        if let Ok(mut book) = self.profitsharing.lock() {
            book.set_retention(limit);
        }
        self.v2.set_retention(limit);
    }

    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub(crate) fn hits(&self, method: &str, path: &str) -> u64 {
        let key = format!("{method} {path}");
        self.hits
            .lock()
            .map(|h| h.get(&key).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    /// Number of APIv3 operations the catalog answers.
    pub(crate) fn catalog_len(&self) -> usize {
        self.catalog.len()
    }
}

/// What answers `/_mock/…` once the guard lets a request through: the
/// pages' entry point, handed in by whoever starts the server (`mock`), so
/// that the wire never reaches into a page. Its arguments: the state, the
/// method, the path after `/_mock/`, the query and the body.
pub(crate) type Controls = fn(&Shared, &str, &str, &str, &[u8]) -> Response;

pub(crate) fn router(shared: Arc<Shared>, controls: Controls) -> axum::Router {
    axum::Router::new()
        .fallback(handle)
        .with_state((shared, controls))
}

/// Distinct `METHOD path` pairs the hit counter keeps, and their length.
const MAX_HIT_KEYS: usize = 10_000;
const MAX_HIT_KEY: usize = 1024;

/// Answers one request and logs what became of it.
async fn handle(
    State((shared, controls)): State<(Arc<Shared>, Controls)>,
    request: Request,
) -> Response {
    let method = request.method().as_str().to_owned();
    let target = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let mut note = Note::default();
    let response = serve(&shared, controls, request, &target, &mut note).await;
    shared
        .log
        .record(&method, &target, response.status().as_u16(), note);
    response
}

async fn serve(
    shared: &Shared,
    controls: Controls,
    request: Request,
    target: &str,
    note: &mut Note,
) -> Response {
    let (parts, body) = request.into_parts();
    let requested_serial = header(&parts.headers, "wechatpay-serial").map(str::to_owned);
    let bytes = match shared.intake.read(body).await {
        Ok(bytes) => bytes,
        Err(Refused(answer)) => {
            let mut response = shared
                .finish(answer, requested_serial.as_deref(), note)
                .await;
            // What is left of the body is not read: the connection ends.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                HeaderValue::from_static("close"),
            );
            return response;
        }
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if let Ok(mut hits) = shared.hits.lock() {
        // Counted for tests; bounded, since anyone can send any path.
        let key = format!("{} {path}", parts.method);
        if key.len() <= MAX_HIT_KEY && (hits.len() < MAX_HIT_KEYS || hits.contains_key(&key)) {
            *hits.entry(key).or_default() += 1;
        }
    }
    if let Some(control) = path.strip_prefix("/_mock/") {
        note.verdict("control".to_owned());
        if let Some(refused) = super::guard::refusal(&parts) {
            return refused;
        }
        let segments: Vec<&str> = control.split('/').collect();
        // The clock's controls are the server's own: moving it walks the
        // flows and awaits the notifications on the way.
        let moved = clock_controls::handle(shared, parts.method.as_str(), &segments, &bytes);
        let answered = match moved.await {
            Some(answered) => answered,
            None => controls(shared, parts.method.as_str(), control, query, &bytes),
        };
        // What a control changed is on disk before it answers.
        shared.persist().wait().await;
        return answered;
    }
    let relative = path.trim_start_matches('/');
    if !relative.starts_with("v3/") && shared.catalog.is_v2(relative) {
        let credentials = &shared.keys.credentials;
        note.template = Some(format!("{} v2/{relative}", parts.method));
        let answer = shared.v2.serve(
            &crate::mock::flows::v2::Call {
                method: parts.method.as_str(),
                path: relative,
                query,
                body: &bytes,
                now: shared.clock.now(),
            },
            credentials.apiv2_key,
            credentials.mchid,
            note,
        );
        return shared.finish(answer, None, note).await;
    }
    let upload = match upload::parse(header(&parts.headers, "content-type"), bytes.clone()).await {
        Some(Err(answer)) => {
            return shared
                .finish(answer, requested_serial.as_deref(), note)
                .await
        }
        Some(Ok(upload)) => Some(upload),
        None => None,
    };
    let incoming = Incoming {
        method: parts.method.as_str(),
        target,
        path,
        query,
        headers: &parts.headers,
        body: &bytes,
        upload,
    };
    let answer = shared.dispatch(&incoming, note);
    shared
        .finish(answer, requested_serial.as_deref(), note)
        .await
}

/// Whether a flow keeps `method template` ([`Shared::serve_flow`] answers it).
fn has_flow(method: &str, template: &str) -> bool {
    payments::Operation::from_template(method, template).is_some()
        || refunds::Operation::from_template(method, template).is_some()
        || combine::Operation::from_template(method, template).is_some()
        || transfers::Operation::from_template(method, template).is_some()
        || profitsharing::Operation::from_template(method, template).is_some()
        || template.starts_with("v3/payscore/serviceorder")
        || template.starts_with("v3/payscore/partner/serviceorder")
        || matches!(
            (method, template),
            (
                "GET",
                "v3/certificates"
                    | "v3/bill/tradebill"
                    | "v3/bill/fundflowbill"
                    | "v3/billdownload/file"
            )
        )
}

/// A request on its way to a flow: its catalog template and placeholders.
struct FlowCall<'a> {
    method: &'a str,
    template: &'static str,
    /// The path as received, without the leading `/`.
    relative: &'a str,
    params: &'a [(String, String)],
    query: &'a [(String, String)],
    body: &'a [u8],
    base_url: &'a str,
    /// The request's `Wechatpay-Serial` (the key its encrypted fields use).
    serial: Option<&'a str>,
}

/// One request as the handler sees it.
struct Incoming<'a> {
    method: &'a str,
    /// The request-target as received (path and query).
    target: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a HeaderMap,
    body: &'a [u8],
    upload: Option<upload::Upload>,
}

fn to_object(pairs: Vec<(String, String)>) -> serde_json::Map<String, Value> {
    pairs
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl Shared {
    /// Authenticates and answers one APIv3 request.
    fn dispatch(&self, incoming: &Incoming<'_>, note: &mut Note) -> Answer {
        let Incoming {
            method,
            target,
            path,
            query,
            headers,
            body,
            ..
        } = *incoming;
        // An upload's signature covers its `meta` part, not the multipart bytes.
        let signed_body = incoming.upload.as_ref().map_or(body, |u| &u.meta[..]);
        let relative = path.trim_start_matches('/');
        let route = self.catalog.route(method, relative);
        if let Route::Found { operation, .. } = &route {
            note.template = Some(format!("{method} {}", operation.template()));
        }
        let checked = auth::check_at(
            &self.keys,
            &self.replay,
            method,
            target,
            headers,
            signed_body,
            // Real time, not the mock's clock: the merchant signs with its
            // own, which moving the mock's does not move.
            unix_now(),
        );
        if let Err(refusal) = checked {
            note.refused(&refusal.reason, refusal.signed_message.as_deref());
            return refusal.answer;
        }
        note.checked = Some(format!(
            "signature verified (merchant {}, certificate {})",
            self.keys.credentials.mchid, self.keys.credentials.merchant_serial
        ));
        let query: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let parsed: Option<Value> = match (&incoming.upload, body.is_empty()) {
            (None, false) => serde_json::from_slice(body).ok(),
            _ => None,
        };
        let routed = match &route {
            Route::Found { operation, params } => Some(schema::Routed {
                operation,
                params,
                query: &query,
                headers,
                body: parsed.as_ref(),
            }),
            _ => None,
        };
        if let Route::Found { operation, params } = &route {
            // Failures on demand, before the schema check and any flow
            // (wire/triggers.rs): a fault named for a path answers whatever
            // the body holds.
            let triggered =
                self.triggers
                    .before(method, operation.template(), relative, params, body);
            if let Some(answer) = triggered {
                note.verdict(format!(
                    "trigger: {} answered as the merchant's number asked (GET /_mock/triggers)",
                    answer.status
                ));
                return answer;
            }
        }
        // A flow's operations are checked by the flow, its own (tested) way:
        // where OA and a flow disagree, the flow wins (docs/mock.md). The
        // transfer bills, whose flow came after the table, take both: the
        // schema's rules in WeChat Pay's words, then the flow's own.
        let checked_here = |r: &&schema::Routed<'_>| {
            let template = r.operation.template();
            self.schema_check.load(Ordering::Relaxed)
                && (!has_flow(method, template)
                    || transfers::Operation::from_template(method, template).is_some())
        };
        if let Some(routed) = routed.as_ref().filter(checked_here) {
            if let Some((answer, why)) = schema::refusal(&self.keys, routed) {
                note.refused(&why, None);
                return answer;
            }
        }
        if let Route::Found { operation, params } = &route {
            let call = FlowCall {
                method,
                template: operation.template(),
                relative,
                params,
                query: &query,
                body,
                base_url: &format!("http://{}/", header(headers, "host").unwrap_or("127.0.0.1")),
                serial: header(headers, "wechatpay-serial"),
            };
            if let Some(answer) = self.serve_flow(&call) {
                self.follow_triggers(method, operation.template(), body, &answer);
                return answer;
            }
        }
        let declares_json =
            header(headers, "content-type").is_some_and(|t| t.starts_with("application/json"));
        if declares_json && !body.is_empty() && serde_json::from_slice::<Value>(body).is_err() {
            return Answer::param_error("/", "请求体不是合法的 JSON");
        }
        match &route {
            Route::Found { operation, .. } if operation.is_upload() => match &incoming.upload {
                Some(upload) => upload::answer(upload),
                None => Answer::param_error("/", "该接口需要 multipart/form-data (meta + file)"),
            },
            Route::Found { operation, params } => {
                let mut answer = if operation.success_status() == 204 {
                    Answer::no_content()
                } else if self.echo.load(Ordering::Relaxed) {
                    let echo: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                    Answer::json(
                        operation.success_status(),
                        &json!({"template": operation.template(), "method": method,
                                "path_params": to_object(params.clone()), "query": to_object(query.clone()), "echo": echo}),
                    )
                } else {
                    // Shaped like the description's answer; `{}` where it gives none.
                    let shaped = routed.as_ref().and_then(schema::shaped);
                    Answer::json(
                        operation.success_status(),
                        &shaped.unwrap_or_else(|| json!({})),
                    )
                };
                answer.signed = !(method == "GET" && is_unsigned_download(relative));
                answer
            }
            Route::MethodNotAllowed { allowed } => {
                note.verdict(format!(
                    "method-not-allowed: {relative} takes {}, not {method}",
                    allowed.join(", ")
                ));
                Answer::error(
                    405,
                    "METHOD_NOT_ALLOWED",
                    "请求方法不被允许",
                    Some(json!({"allowed": allowed})),
                )
            }
            Route::NotFound => {
                note.verdict(not_found(self.catalog.corpus(), method, relative));
                Answer::error(
                    404,
                    "RESOURCE_NOT_EXISTS",
                    "请求的资源不存在",
                    Some(json!({"url": target})),
                )
            }
        }
    }

    /// Hands a request to the flow that owns its template (see [`has_flow`]): payments,
    /// refunds, payscore, bills, certificates. `None`: no flow keeps this
    /// operation, and the catalog's signed echo answers it.
    fn serve_flow(&self, call: &FlowCall<'_>) -> Option<Answer> {
        let mchid = self.keys.credentials.mchid;
        let now = self.clock.now();
        let FlowCall {
            method, template, ..
        } = *call;
        // Every flow that keeps a notify_url: not off this machine unless allowed.
        if method == "POST"
            && has_flow(method, template)
            && !self.remote_notify.load(Ordering::Relaxed)
        {
            if let Err(refused) = super::body::check_notify_host(call.body) {
                return Some(refused);
            }
        }
        if let Some((operation, partner)) = payments::Operation::from_template(method, template) {
            let Ok(mut book) = self.payments.lock() else {
                return Some(Answer::for_status(500));
            };
            return Some(book.serve(&payments::Call {
                operation,
                partner,
                params: call.params,
                query: call.query,
                body: call.body,
                mchid,
                base_url: call.base_url,
                now,
            }));
        }
        if let Some(operation) = combine::Operation::from_template(method, template) {
            // combines before payments, always
            let (Ok(mut combines), Ok(mut book)) = (self.combines.lock(), self.payments.lock())
            else {
                return Some(Answer::for_status(500));
            };
            return Some(combines.serve(
                &mut book,
                &combine::Call {
                    operation,
                    params: call.params,
                    body: call.body,
                    mchid,
                    base_url: call.base_url,
                    now,
                },
            ));
        }
        if let Some(operation) = refunds::Operation::from_template(method, template) {
            let (Ok(mut book), Ok(mut refunds)) = (self.payments.lock(), self.refunds.lock())
            else {
                return Some(Answer::for_status(500));
            };
            return Some(refunds.serve(
                &mut book,
                &refunds::Call {
                    operation,
                    params: call.params,
                    query: call.query,
                    body: call.body,
                    mchid,
                    now,
                },
            ));
        }
        if let Some((operation, partner)) = transfers::Operation::from_template(method, template) {
            let cancel_delay = self.refund_delay.lock().ok().and_then(|d| *d);
            let now_ms = self.clock.now_ms();
            let (answer, events) = match self.transfers.lock() {
                Ok(mut book) => book.serve(
                    &transfers::Call {
                        operation,
                        partner,
                        params: call.params,
                        query: call.query,
                        body: call.body,
                        serial: call.serial,
                        keys: &self.keys,
                        now_ms,
                        cancel_delay,
                    },
                    mchid,
                ),
                Err(_) => (Answer::for_status(500), Vec::new()),
            };
            for event in events {
                self.notifier.send(event);
            }
            return Some(answer);
        }
        if let Some(operation) = profitsharing::Operation::from_template(method, template) {
            // payments before profit sharing, always
            let (Ok(mut book), Ok(mut sharing)) = (self.payments.lock(), self.profitsharing.lock())
            else {
                return Some(Answer::for_status(500));
            };
            let (answer, events) = sharing.serve(
                &mut book,
                &profitsharing::Call {
                    operation,
                    params: call.params,
                    query: call.query,
                    body: call.body,
                    mchid,
                    serial: call.serial,
                    keys: &self.keys,
                    now,
                },
            );
            drop((book, sharing));
            for event in events {
                self.notifier.send(event);
            }
            return Some(answer);
        }
        if template.starts_with("v3/payscore/serviceorder")
            || template.starts_with("v3/payscore/partner/serviceorder")
        {
            let segments: Vec<&str> = call.relative.split('/').collect();
            let payscore = payscore::parse_path(method, &segments)?;
            let (answer, event) = match self.orders.lock() {
                Ok(mut orders) => orders.serve(&payscore, mchid, call.query, call.body, now),
                Err(_) => (Answer::for_status(500), None),
            };
            if let Some(event) = event {
                self.notifier.send(event);
            }
            return Some(answer);
        }
        match (method, template) {
            ("GET", "v3/certificates") => Some(self.certificates()),
            ("GET", "v3/bill/tradebill" | "v3/bill/fundflowbill") => {
                let wrong_hash = self.take_fault(&Fault::WrongBillHash);
                Some(self.bills.request(
                    template.ends_with("fundflowbill"),
                    call.query,
                    call.base_url,
                    wrong_hash,
                    self.ledger(),
                    now,
                ))
            }
            ("GET", "v3/billdownload/file") => Some(self.bills.download(call.query, now)),
            _ => None,
        }
    }

    /// What the bills are made of: paid orders and their refunds.
    fn ledger(&self) -> bills::Ledger {
        let mchid = self.keys.credentials.mchid;
        let payments = self
            .payments
            .lock()
            .map(|book| book.records(mchid))
            .unwrap_or_default();
        let refunds = self
            .refunds
            .lock()
            .map(|refunds| refunds.records())
            .unwrap_or_default();
        bills::Ledger { payments, refunds }
    }

    /// Resolves the refunds that have waited [`Shared::refund_delay`] and
    /// applies the transfer bills' time rules; the
    /// mock's clock calls it a few times a second.
    pub(crate) fn tick(&self) {
        self.run_due();
        // Not awaited: nobody is answered here; the next answer waits for
        // these rows too (an answer waits for everything queued before it).
        let _queued = self.persist();
        // While the clock is being moved, the walk applies these rules, in
        // order, and reports them: the ticker waits for it to end.
        let Ok(_walk) = self.clock.walking.try_lock() else {
            return;
        };
        let delay = self.refund_delay.lock().ok().and_then(|d| *d);
        let mchid = self.keys.credentials.mchid;
        // Transfer bills: their 24 h and their cancels (transfers::due).
        let events = self
            .transfers
            .lock()
            .map(|mut book| book.advance(self.clock.now_ms(), delay, mchid))
            .unwrap_or_default();
        for event in events {
            self.notifier.send(event);
        }
        let Some(delay) = delay else {
            return;
        };
        // payments before refunds, always
        let (Ok(mut payments), Ok(mut refunds)) = (self.payments.lock(), self.refunds.lock())
        else {
            return;
        };
        let delay_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        let now_ms = self.clock.now_ms();
        let events: Vec<_> = refunds
            .processing_since()
            .into_iter()
            .filter(|(_, _, created)| {
                created.saturating_mul(1000).saturating_add(delay_ms) <= now_ms
            })
            .filter_map(|(sub, no, _)| {
                let outcome = RefundOutcome::Success;
                refunds
                    .resolve(&mut payments, &sub, &no, outcome, mchid, self.clock.now())
                    .ok()?
                    .1
            })
            .collect();
        drop((payments, refunds));
        for event in events {
            self.notifier.send(event);
        }
    }

    /// `GET v3/certificates`: every platform certificate, encrypted with the APIv3 key.
    fn certificates(&self) -> Answer {
        let platform = match self.keys.platform.read() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut data = Vec::with_capacity(platform.certificates.len());
        for issued in &platform.certificates {
            let cert = &issued.certificate;
            let (effective, expire) = match cert.source() {
                KeySource::Certificate {
                    not_before,
                    not_after,
                } => (*not_before, *not_after),
                _ => (0, 0),
            };
            let sealed = random_alphanumeric(12).and_then(|nonce| {
                aes_256_gcm_encrypt(
                    &self.keys.apiv3_key,
                    nonce.as_bytes(),
                    b"certificate",
                    issued.pem.as_bytes(),
                )
                .map(|ciphertext| (nonce, ciphertext))
            });
            let Ok((nonce, ciphertext)) = sealed else {
                return Answer::for_status(500);
            };
            data.push(json!({
                "serial_no": cert.id(),
                "effective_time": clock::rfc3339(effective),
                "expire_time": clock::rfc3339(expire),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": ciphertext,
                },
            }));
        }
        Answer::json(200, &json!({ "data": data }))
    }

    /// Removes `fault` from the front of the queue if it is there.
    fn take_fault(&self, fault: &Fault) -> bool {
        let Ok(mut faults) = self.faults.lock() else {
            return false;
        };
        if faults.front() == Some(fault) {
            faults.pop_front();
            true
        } else {
            false
        }
    }

    /// Applies the next queued fault, signs, and builds the HTTP response.
    async fn finish(
        &self,
        mut answer: Answer,
        requested_serial: Option<&str>,
        note: &mut Note,
    ) -> Response {
        note.settle(&answer);
        // On disk before the merchant hears of it.
        self.persist().wait().await;
        let fault = self
            .faults
            .lock()
            .ok()
            .and_then(|mut faults| faults.pop_front());
        if let Some(fault) = &fault {
            note.fault(fault);
        }
        match &fault {
            Some(Fault::Status(status)) => answer = Answer::for_status(*status),
            Some(Fault::Error {
                status,
                code,
                message,
            }) => answer = Answer::error(*status, code, message, None),
            Some(Fault::Delay(delay)) => tokio::time::sleep(*delay).await,
            _ => {}
        }
        let mut headers: Vec<(&str, String)> = Vec::with_capacity(8);
        let sequence = self.requests.fetch_add(1, Ordering::Relaxed);
        // Real time here only makes ids unique across restarts.
        headers.push((
            "Request-ID",
            format!("{:016X}{:016X}", unix_now(), sequence),
        ));
        if answer.stream.is_some() || !answer.body.is_empty() {
            headers.push(("Content-Type", answer.content_type.to_owned()));
        }
        if answer.signed {
            // Real time: the merchant checks the answer's timestamp against
            // its own clock (PROTOCOL.md, 5 minutes), not the mock's.
            let mut timestamp = unix_now();
            if fault == Some(Fault::StaleTimestamp) {
                timestamp -= 600;
            }
            let signed = self.keys.signature_headers(
                requested_serial,
                timestamp,
                &answer.body,
                |serial, signature| {
                    if fault == Some(Fault::UnknownSerial) {
                        *serial = "0000000000000000000000000000000000DEAD01".to_owned();
                    }
                    if fault == Some(Fault::ProbeSignature) {
                        *signature = format!("{PROBE_PREFIX}{signature}");
                    }
                },
            );
            headers.extend(signed);
        }
        if matches!(answer.status, 429 | 503) {
            headers.push(("Retry-After", "1".to_owned()));
        }
        if let Some(Fault::DropHeader(name)) = &fault {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        let body = match (answer.stream.as_ref(), &fault) {
            (Some(spec), Some(Fault::CloseMidBody)) => {
                let first = spec.iter().take(1).map(Ok);
                let cut = std::iter::once(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault",
                )));
                Body::from_stream(futures_util::stream::iter(first.chain(cut)))
            }
            (Some(spec), Some(Fault::TruncatedBody)) => {
                let mut chunks = spec.iter().peekable();
                let all_but_last = std::iter::from_fn(move || {
                    let chunk = chunks.next()?;
                    chunks
                        .peek()
                        .is_some()
                        .then_some(Ok::<Bytes, std::io::Error>(chunk))
                });
                Body::from_stream(futures_util::stream::iter(all_but_last))
            }
            (Some(spec), _) => Body::from_stream(futures_util::stream::iter(
                spec.iter().map(Ok::<Bytes, std::io::Error>),
            )),
            (None, Some(Fault::CloseMidBody)) => cut_body(answer.body),
            (None, Some(Fault::TruncatedBody)) => {
                Body::from(answer.body.slice(..answer.body.len() / 2))
            }
            (None, _) => Body::from(answer.body),
        };
        let mut response = Response::new(body);
        *response.status_mut() =
            axum::http::StatusCode::from_u16(answer.status).unwrap_or_default();
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// `not-found: …; did you mean …?` for the log.
fn not_found(corpus: &crate::catalog::Catalog, method: &str, relative: &str) -> String {
    let suggestions: Vec<String> = corpus
        .suggest(Some(method), relative, 3)
        .iter()
        .map(|s| format!("{} {}", s.operation.method(), s.operation.template()))
        .collect();
    match suggestions.is_empty() {
        true => format!("not-found: {relative} is not a known WeChat Pay endpoint"),
        false => format!(
            "not-found: {relative} is not a known WeChat Pay endpoint; did you mean {}?",
            suggestions.join(", ")
        ),
    }
}

/// Half of `body`, then an error that makes the server drop the connection.
fn cut_body(body: Bytes) -> Body {
    let half = body.slice(..body.len() / 2);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "fault: close_mid_body",
        )),
    ];
    Body::from_stream(futures_util::stream::iter(chunks))
}
