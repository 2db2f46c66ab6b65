//! The one door to the wire: every request the library sends — APIv3 JSON,
//! uploads, downloads, certificate downloads, APIv2 calls and APIv2 files —
//! goes through [`Inner::perform`] or [`Inner::open_stream`].
//!
//! One request is: a tracing span → (per attempt: sign afresh → send →
//! status → read, always capped → classify → verify) → retry or fail over
//! as far as [`crate::retry`] says is safe.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::Url;
use tracing::Instrument;

use super::inner::Inner;
use crate::error::{ApiError, Error, Result, TimeoutLimit};
use crate::request::{PreparedRequest, Protocol};
use crate::response::Response;
use crate::retry::{self, Failure};
use crate::sign::unix_now;
use crate::verify::headers::REQUEST_ID;

/// Largest response read into memory (JSON and XML responses are a few
/// KiB; files stream through the download functions instead).
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;

/// A failed attempt: the error, how it failed as far as repeating goes
/// (`None`: never repeat), and the server's `Retry-After`.
pub(crate) struct Failed {
    error: Error,
    failure: Option<Failure>,
    retry_after: Option<Duration>,
}

impl From<Error> for Failed {
    /// A failure that must not be repeated (bad signature, bad input).
    fn from(error: Error) -> Self {
        Failed {
            error,
            failure: None,
            retry_after: None,
        }
    }
}

impl Inner {
    /// Sends `request` and reads its response whole (capped), verified by
    /// its protocol's rule.
    pub(crate) async fn perform(&self, request: &PreparedRequest) -> Result<Response> {
        self.run(request, |raw, sent| self.read_verified(request, raw, sent))
            .await
    }

    /// Sends `request` and hands back a 2xx response whose body is still to
    /// be streamed: only for the unsigned downloads, whose content is
    /// checked by hash. Refusals are read (capped) and returned as errors.
    pub(crate) async fn open_stream(&self, request: &PreparedRequest) -> Result<reqwest::Response> {
        if request.expects_signature() {
            return Err(Error::NotADownload {
                template: request.template.clone(),
            });
        }
        self.run(request, |raw, _| async move { Ok(raw) }).await
    }

    /// The span and the retry loop around [`Inner::attempt`].
    async fn run<T, F, Fut>(&self, request: &PreparedRequest, deliver: F) -> Result<T>
    where
        F: Fn(reqwest::Response, Instant) -> Fut,
        Fut: Future<Output = std::result::Result<T, Failed>>,
    {
        let span = tracing::info_span!(
            "wechatpay.request",
            method = %request.method,
            template = %request.template,
            attempt = tracing::field::Empty,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        async {
            let started = Instant::now();
            let span = tracing::Span::current();
            let mut attempt: u32 = 1;
            loop {
                span.record("attempt", attempt);
                let outcome = match self.attempt(request, attempt).await {
                    Ok((raw, sent)) => deliver(raw, sent).await,
                    Err(failed) => Err(failed),
                };
                span.record("latency_ms", saturating_millis(started.elapsed()));
                let failed = match outcome {
                    Ok(delivered) => return Ok(delivered),
                    Err(failed) => failed,
                };
                let Some(failure) = failed.failure else {
                    return Err(self.explained(failed.error));
                };
                let delay = self
                    .retry
                    .delay(attempt.saturating_add(1), failed.retry_after);
                let in_time = started
                    .elapsed()
                    .checked_add(delay)
                    .is_some_and(|at| at < self.retry.max_elapsed_time());
                if attempt >= self.retry.attempts()
                    || !in_time
                    || !retry::may_retry(failure, request.idempotent)
                {
                    return Err(self.explained(failed.error));
                }
                tracing::debug!(
                    attempt,
                    ?failure,
                    delay_ms = saturating_millis(delay),
                    "retrying: {}",
                    failed.error
                );
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
        }
        .instrument(span)
        .await
    }

    /// `error` as the caller gets it: a refused connection to the mock a
    /// profile named says it has stopped ([`super::stopped_mock`]).
    fn explained(&self, error: Error) -> Error {
        match &self.mock_origin {
            Some(origin) => origin.explain(error),
            None => error,
        }
    }

    /// One attempt up to a 2xx status: sign afresh, send, and turn a
    /// non-2xx status into its error (body read capped). Returns the 2xx
    /// response and when it was sent (for telling the timeouts apart).
    async fn attempt(
        &self,
        request: &PreparedRequest,
        attempt: u32,
    ) -> std::result::Result<(reqwest::Response, Instant), Failed> {
        // Failover: every other repeat goes to the backup host.
        let url = match &self.backup_url {
            Some(backup) if attempt % 2 == 0 => rebase(&request.url, &self.base_url, backup),
            _ => request.url.clone(),
        };
        let http = match request.protocol {
            Protocol::V2 { security: true } => self.apiv2_tls_client()?,
            _ => &self.http,
        };
        let mut headers = request.headers.clone();
        if request.protocol == Protocol::V3 {
            headers.insert(AUTHORIZATION, self.authorization(request, &url).await?);
        }
        let mut builder = http.request(request.method.clone(), url).headers(headers);
        if let Some(limit) = request.timeout {
            builder = builder.timeout(limit);
        }
        match (&request.upload, &request.body) {
            (Some(media), Some(meta)) => builder = builder.multipart(media.form(meta).await?),
            (_, Some(body)) => builder = builder.body(body.clone()),
            _ => {}
        }
        let limit = request.timeout.or(self.timeout);
        let sent = Instant::now();
        let mut raw = builder.send().await.map_err(|e| classify(e, sent, limit))?;
        let status = raw.status().as_u16();
        let span = tracing::Span::current();
        span.record("status", status);
        if let Some(id) = raw.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()) {
            span.record("request_id", id);
        }
        if (200..300).contains(&status) {
            return Ok((raw, sent));
        }
        let headers = std::mem::take(raw.headers_mut());
        let body = read_capped(raw, sent, limit).await?;
        let retry_after = retry::retry_after(&headers, std::time::SystemTime::now());
        let mut api = ApiError::from_response(status, request_id(&headers).as_deref(), body);
        api.headers = headers;
        Err(Failed {
            error: api.into(),
            failure: Some(Failure::Answered(status)),
            retry_after,
        })
    }

    /// The `Authorization` header for `request` sent to `url`, signed now.
    async fn authorization(
        &self,
        request: &PreparedRequest,
        url: &Url,
    ) -> std::result::Result<HeaderValue, Failed> {
        let canonical = url[url::Position::BeforePath..].to_owned();
        let signed = if self.sign_off_thread {
            let (signer, method, body) = (
                self.signer.clone(),
                request.method.clone(),
                request.body().to_vec(),
            );
            tokio::task::spawn_blocking(move || {
                signer.sign_with_message(method.as_str(), &canonical, &body)
            })
            .await
            .map_err(|e| Error::Config(format!("the signing task failed: {e}")))?
        } else {
            self.signer
                .sign_with_message(request.method.as_str(), &canonical, request.body())
        };
        let (authorization, message) = signed?;
        if self.trace_signed_messages {
            // The message is what was signed; the signature itself is never logged.
            tracing::debug!(message = %String::from_utf8_lossy(&message), "signed message");
        }
        let mut value = HeaderValue::from_str(&authorization.to_string()).map_err(|_| {
            Error::Config("mchid or merchant serial is not printable ASCII".to_owned())
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// Reads a 2xx body whole (capped) and verifies it by its protocol.
    async fn read_verified(
        &self,
        request: &PreparedRequest,
        mut raw: reqwest::Response,
        sent: Instant,
    ) -> std::result::Result<Response, Failed> {
        let status = raw.status().as_u16();
        let headers = std::mem::take(raw.headers_mut());
        let limit = request.timeout.or(self.timeout);
        let body = read_capped(raw, sent, limit).await?;
        let response = match request.protocol {
            Protocol::V3 => self.verify_v3(request, status, headers, body)?,
            Protocol::V2 { .. } => {
                let key = self.apiv2_key()?;
                crate::v2::verify::check(key, request, status, headers, body)?
            }
        };
        Ok(response)
    }

    /// An APIv3 2xx: signed by a trusted WeChat Pay key, unless it is an
    /// unsigned download or the caller opted out.
    fn verify_v3(
        &self,
        request: &PreparedRequest,
        status: u16,
        headers: HeaderMap,
        body: Bytes,
    ) -> Result<Response> {
        if !request.expects_signature() {
            return Ok(Response::new(status, headers, body, None));
        }
        let id = self
            .verifier()
            .verify(&headers, &body, unix_now())
            .map_err(|kind| Error::Verify {
                kind,
                request_id: request_id(&headers),
            })?
            .to_owned();
        Ok(Response::new(status, headers, body, Some(id)))
    }
}

/// `Request-ID` of a response, when it is text.
pub(crate) fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads the whole body, refusing more than [`MAX_RESPONSE_BYTES`].
async fn read_capped(
    mut raw: reqwest::Response,
    sent: Instant,
    limit: Option<Duration>,
) -> std::result::Result<Bytes, Failed> {
    let too_large = || {
        Failed::from(Error::ResponseTooLarge {
            limit: MAX_RESPONSE_BYTES,
        })
    };
    if raw
        .content_length()
        .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = raw.chunk().await.map_err(|e| classify(e, sent, limit))? {
        if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads the next chunk of a streamed body, its errors classified.
pub(crate) async fn next_chunk(raw: &mut reqwest::Response) -> Result<Option<Bytes>> {
    raw.chunk()
        .await
        .map_err(|e| classify(e, Instant::now(), None).error)
}

/// A transport error as the caller sees it, and whether the request may
/// have reached the server. `limit` is the whole-request limit in force.
fn classify(error: reqwest::Error, sent: Instant, limit: Option<Duration>) -> Failed {
    let failure = if error.is_connect() {
        Failure::NotSent
    } else {
        Failure::MaybeSent
    };
    let error = if error.is_timeout() {
        let limit = if error.is_connect() {
            TimeoutLimit::Connect
        } else if limit
            .is_some_and(|t| sent.elapsed().saturating_add(Duration::from_millis(50)) >= t)
        {
            TimeoutLimit::Request
        } else {
            TimeoutLimit::Read
        };
        Error::Timeout {
            limit,
            source: error,
        }
    } else {
        Error::Transport(error)
    };
    Failed {
        error,
        failure: Some(failure),
        retry_after: None,
    }
}

fn saturating_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// `url` moved from `base` to `backup`, path and query kept.
fn rebase(url: &Url, base: &str, backup: &str) -> Url {
    url.as_str()
        .strip_prefix(base)
        .and_then(|rest| Url::parse(&format!("{backup}{rest}")).ok())
        .unwrap_or_else(|| url.clone())
}
