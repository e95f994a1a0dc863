//! How a [`Call`] is sent: the retry loop (decisions in [`crate::live::retry`]), pacing,
//! the rate-limit headers, the watch on a server that does not answer (the "waiting for …"
//! notices and giving up for good), and the `--verbose` trace of every attempt.

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, RETRY_AFTER};

use super::call::{Call, Reply};
use super::{Client, RateLimitHint};
use crate::live::error::{self, Error, Outage};
use crate::live::pace::PaceChange;
use crate::live::{Result, retry};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub(super) const RATE_LIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub(super) const RATE_LIMIT_REMAINING: HeaderName =
    HeaderName::from_static("x-ratelimit-remaining");
pub(super) const RATE_LIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The longest gap between "waiting for …" lines while the server does not answer.
const NOTICE_EVERY: Duration = Duration::from_secs(10);

/// What the client knows about the server's silence.
#[derive(Debug, Default)]
pub(super) struct Watch {
    /// When the server last answered (anything but 502/503/504).
    last_answer: Option<Instant>,
    /// When the oldest attempt that failed since then was sent.
    failing_since: Option<Instant>,
    /// When the last "waiting for …" line was printed.
    last_notice: Option<Instant>,
    /// Set once the client gives up; every later request fails at once.
    outage: Option<Outage>,
}

impl Watch {
    /// How long the server has been silent for an attempt sent at `sent`.
    fn silence(&self, sent: Instant, now: Instant) -> Duration {
        let mut since = self.failing_since.map_or(sent, |f| f.min(sent));
        if let Some(answer) = self.last_answer {
            since = since.max(answer);
        }
        now.saturating_duration_since(since)
    }
}

impl Client {
    /// Why the client gave up on the API, once it has: then every request fails at once.
    pub fn outage(&self) -> Option<Outage> {
        self.watch().outage.clone()
    }

    /// Sends `call`, retrying transient failures per [`retry`]. Returns the 2xx reply, or the
    /// last failure once it is not retryable or the attempts are used up.
    ///
    /// A server that does not answer (transport failures, 502/503/504) is retried until it has
    /// been silent for `give_up_after`, however many attempts that takes; then the client
    /// gives up for good ([`Error::Unreachable`]). Failures waiting cannot fix (DNS, TLS)
    /// give up at once.
    pub(super) async fn send(&self, call: Call<'_>) -> Result<Reply> {
        let inner = &self.inner;
        let method = call.method.as_str().to_string();
        let path = call.url.path().to_string();
        let headers = self.headers(&call)?;
        let replay_safe = call.method == Method::GET || call.idempotency_key.is_some();
        let give_up = inner.options.give_up_after.max(Duration::from_millis(1));
        let mut backoff = inner.policy.backoff();
        let mut last_delay = retry::BASE_DELAY;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if let Some(outage) = self.outage() {
                return Err(Error::Unreachable(outage));
            }
            // First tries and retries alike wait for the pacer, so the caller's rate holds.
            inner.pacer.wait().await;
            if let Some(outage) = self.outage() {
                return Err(Error::Unreachable(outage));
            }
            let sent = Instant::now();
            // No attempt outlives the give-up time: a server that accepts connections and
            // never answers must not hold a request for longer than one that refuses them.
            let budget = give_up.saturating_sub(self.watch().silence(sent, sent));
            let timeout = inner
                .options
                .timeout
                .min(budget)
                .max(Duration::from_millis(100));
            let mut request = inner
                .http
                .request(call.method.clone(), call.url.clone())
                .headers(headers.clone())
                .timeout(timeout);
            if let Some(body) = &call.body {
                request = request.body(body.clone());
            }
            inner.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = self
                .while_waiting(sent, async {
                    let response = request.send().await?;
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = response.bytes().await?.to_vec();
                    Ok::<_, reqwest::Error>((status, headers, body))
                })
                .await;
            let elapsed = sent.elapsed().as_millis();

            // Either return, or work out why and how long to wait before the next attempt.
            let (failure, outcome_text, why, retry_after, silent) = match outcome {
                Ok((status, headers, body)) => {
                    let hint = self.record_rate_limit(&headers);
                    let gateway = matches!(status, 502..=504);
                    if !gateway {
                        self.answered();
                    }
                    if status == 429 {
                        inner.throttled.fetch_add(1, Ordering::Relaxed);
                        self.trace_pace(inner.pacer.throttled(true, sent));
                    } else if !gateway {
                        inner.pacer.admitted();
                        if hint.is_some_and(|h| h.remaining == Some(0)) {
                            self.trace_pace(inner.pacer.throttled(false, sent));
                        }
                    }
                    if (200..300).contains(&status) {
                        self.trace(format_args!(
                            "{method} {path} → {status} (attempt {attempt}, {elapsed} ms)"
                        ));
                        return Ok(Reply { headers, body });
                    }
                    let request_id = headers.get(REQUEST_ID).and_then(|v| v.to_str().ok());
                    let err = self.with_secrets(call.secret, |known| {
                        error::decode_api_error(&method, &path, status, &body, request_id, known)
                    });
                    if !retry::status_is_retryable(status, replay_safe) {
                        self.trace(format_args!(
                            "{method} {path} → {status} (attempt {attempt}, {elapsed} ms)"
                        ));
                        return Err(err);
                    }
                    let retry_after = headers
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry::parse_retry_after(v, SystemTime::now()));
                    let why = format!("{}, ", status_reason(status));
                    let silent = gateway.then(|| {
                        (
                            self.failed_attempt(sent),
                            format!("{status} {}", status_reason(status)),
                        )
                    });
                    (err, status.to_string(), why, retry_after, silent)
                }
                Err(mut source) => {
                    // Filter values in the query stay out of error messages.
                    if let Some(url) = source.url_mut() {
                        url.set_query(None);
                    }
                    let reason = retry::transport_reason(&source);
                    let cause = if source.is_timeout() {
                        format!("no response within {} s", seconds(timeout))
                    } else {
                        retry::transport_cause(&source)
                    };
                    let err = Error::Transport {
                        method: method.clone(),
                        path: path.clone(),
                        source,
                    };
                    let Some(reason) = reason else {
                        self.trace(format_args!(
                            "{method} {path} → failed (attempt {attempt}, {elapsed} ms)"
                        ));
                        // Waiting does not fix DNS or TLS: every later request would meet
                        // the same failure.
                        return Err(self.give_up(cause, Duration::ZERO));
                    };
                    let silent = (self.failed_attempt(sent), cause);
                    (err, reason.to_string(), String::new(), None, Some(silent))
                }
            };
            let delay = match (backoff.next(), &silent) {
                (Some(delay), _) => delay,
                // A silent server is bounded by time, not by attempts.
                (None, Some(_)) => last_delay,
                (None, None) => {
                    self.trace(format_args!(
                        "{method} {path} → {outcome_text} (attempt {attempt}, {elapsed} ms); \
                         giving up after {attempt} attempts"
                    ));
                    return Err(failure);
                }
            };
            last_delay = delay;
            let mut wait = inner.policy.wait(delay, retry_after);
            if let Some((silent, cause)) = &silent {
                if *silent >= give_up {
                    self.trace(format_args!(
                        "{method} {path} → {outcome_text} (attempt {attempt}, {elapsed} ms); \
                         no answer for {} s, giving up",
                        seconds(*silent)
                    ));
                    return Err(self.give_up(cause.clone(), *silent));
                }
                self.notice(*silent, Some(cause));
                // Wake in time to give up on schedule.
                wait = wait.min(give_up.checked_sub(*silent).unwrap() + Duration::from_millis(10));
            }
            let after = match retry_after {
                Some(d) => format!(", Retry-After {} ms", d.as_millis()),
                None => String::new(),
            };
            self.trace(format_args!(
                "{method} {path} → {outcome_text} (attempt {attempt}, {elapsed} ms); {why}\
                 retrying in {} ms{after}",
                wait.as_millis()
            ));
            inner.retries.fetch_add(1, Ordering::Relaxed);
            // Counted while asleep, so a caller's concurrency control can tell a request
            // waiting out a 429 from one the server is working on. A request waiting for a
            // silent server is not counted: it keeps its place, so an outage does not draw
            // ever more requests into the retry loop.
            let throttled = silent.is_none();
            if throttled {
                inner.waiting.fetch_add(1, Ordering::Relaxed);
            }
            tokio::time::sleep(wait).await;
            if throttled {
                inner.waiting.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    pub(super) fn watch(&self) -> std::sync::MutexGuard<'_, Watch> {
        self.inner
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The server answered: it is not silent.
    fn answered(&self) {
        let mut w = self.watch();
        w.last_answer = Some(Instant::now());
        w.failing_since = None;
    }

    /// An attempt sent at `sent` got no answer: returns how long the server has been silent.
    fn failed_attempt(&self, sent: Instant) -> Duration {
        let now = Instant::now();
        let mut w = self.watch();
        w.failing_since = Some(w.failing_since.map_or(sent, |f| f.min(sent)));
        w.silence(sent, now)
    }

    /// Gives up on the server for good; the first cause recorded is the one reported.
    fn give_up(&self, cause: String, silent: Duration) -> Error {
        let url = self.inner.base.as_str().trim_end_matches('/').to_string();
        let outage = self
            .watch()
            .outage
            .get_or_insert(Outage { url, cause, silent })
            .clone();
        Error::Unreachable(outage)
    }

    /// Runs an attempt, saying on stderr that the client is waiting when the server has not
    /// answered anything for a while.
    async fn while_waiting<T>(&self, sent: Instant, attempt: impl Future<Output = T>) -> T {
        let every = self.notice_every();
        let mut attempt = std::pin::pin!(attempt);
        loop {
            if let Ok(out) = tokio::time::timeout(every, attempt.as_mut()).await {
                return out;
            }
            let silent = self.watch().silence(sent, Instant::now());
            self.notice(silent, None);
        }
    }

    /// How often to say that the client is waiting: about six times before giving up, at
    /// most every [`NOTICE_EVERY`].
    fn notice_every(&self) -> Duration {
        (self.inner.options.give_up_after / 6).clamp(Duration::from_secs(1), NOTICE_EVERY)
    }

    /// One "waiting for …" line, at most one per [`Client::notice_every`] across all
    /// requests.
    fn notice(&self, silent: Duration, cause: Option<&str>) {
        let every = self.notice_every();
        if silent < every {
            return;
        }
        let now = Instant::now();
        {
            let mut w = self.watch();
            if w.outage.is_some() || w.last_notice.is_some_and(|t| now.duration_since(t) < every) {
                return;
            }
            w.last_notice = Some(now);
        }
        let cause = cause.map(|c| format!(": {c}")).unwrap_or_default();
        self.inner.options.notices.line(&format!(
            "waiting for {} (no answer for {} s{cause}; giving up after {} s)",
            self.inner.base.as_str().trim_end_matches('/'),
            seconds(silent),
            seconds(self.inner.options.give_up_after)
        ));
    }

    fn trace_pace(&self, change: Option<PaceChange>) {
        match change {
            Some(PaceChange::Started(rate)) => {
                self.trace(format_args!("rate limited: pacing at {rate:.1}/s"));
            }
            Some(PaceChange::Cut(rate)) => {
                self.trace(format_args!("rate limited: pace cut to {rate:.1}/s"));
            }
            None => {}
        }
    }

    pub(super) fn record_rate_limit(&self, headers: &HeaderMap) -> Option<RateLimitHint> {
        let number = |name: &HeaderName| {
            let text = headers.get(name)?.to_str().ok()?.trim();
            // Tolerate the IETF draft form `100, 100;w=60`: the leading number is the value.
            let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u64>().ok()
        };
        let limit = number(&RATE_LIMIT_LIMIT);
        let remaining = number(&RATE_LIMIT_REMAINING);
        let reset = number(&RATE_LIMIT_RESET);
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            return None;
        }
        let hint = RateLimitHint {
            limit,
            remaining,
            reset,
            observed_at: Instant::now(),
        };
        *self
            .inner
            .rate_limit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hint);
        Some(hint)
    }

    fn trace(&self, line: fmt::Arguments<'_>) {
        if self.inner.options.trace.is_on() {
            let line = self.mask_trace_line(format!("avnology: {line}"));
            self.inner.options.trace.line(&line);
        }
    }
}

/// Whole seconds, for messages (at least 1 for anything above zero).
fn seconds(d: Duration) -> u64 {
    let secs = d.as_secs_f64().round() as u64;
    if secs == 0 && !d.is_zero() { 1 } else { secs }
}

/// Why a status is being retried, for the trace.
fn status_reason(status: u16) -> &'static str {
    match status {
        429 => "rate limited",
        500 => "server error on a replay-safe request",
        502 => "bad gateway",
        503 => "service unavailable",
        504 => "gateway timeout",
        _ => "transient",
    }
}
