//! The retry policy: which failures are worth another attempt, and how long to wait.
//!
//! This module owns the decisions, not the loop (that lives in [`super::client`], which also
//! counts and logs). Avnology's SDKs retry 429, 502, 503 and 504 with exponential backoff and
//! jitter and honour `Retry-After`; the client does the same, and adds:
//!
//! - 500, but only when replaying cannot duplicate a write: GETs, and requests that carry an
//!   `Idempotency-Key` (the server replays the first answer). A 500 after any other write may
//!   mean the write happened.
//! - transport failures that say nothing about the server's state: timeouts, refused, reset or
//!   aborted connections, and connections closed before a response arrived. TLS and DNS
//!   failures are not retried: they are configuration problems that waiting does not fix.
//!
//! Delays come from backon's exponential backoff (base [`BASE_DELAY`], doubling, capped at
//! [`MAX_DELAY`], with jitter); a `Retry-After` is the minimum wait. With `fast_retry` (tests)
//! every wait is capped at [`FAST_DELAY`].

use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};

/// First backoff delay; later ones double.
pub const BASE_DELAY: Duration = Duration::from_millis(200);
/// Longest computed backoff delay.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// Longest `Retry-After` the client honours. A server asking for more than this is treated as
/// asking for this much: a migration should fail loudly rather than sleep for an hour.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Cap on every wait with `fast_retry`.
pub const FAST_DELAY: Duration = Duration::from_millis(20);

/// How many attempts and how fast, fixed per client.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    /// Total attempts per request, including the first (at least 1).
    pub max_attempts: u32,
    /// Cap every delay at [`FAST_DELAY`].
    pub fast: bool,
}

impl Policy {
    /// The backoff delays for one request: `max_attempts - 1` of them, jittered.
    pub fn backoff(self) -> impl Iterator<Item = Duration> + Send + use<> {
        ExponentialBuilder::default()
            .with_min_delay(BASE_DELAY)
            .with_max_delay(MAX_DELAY)
            .with_factor(2.0)
            .with_jitter()
            .with_max_times(self.max_attempts.max(1) as usize - 1)
            .build()
    }

    /// The wait before the next attempt: the backoff delay, at least the server's
    /// `Retry-After` (itself capped at [`MAX_RETRY_AFTER`]), and at most [`FAST_DELAY`] in
    /// fast mode.
    pub fn wait(self, backoff: Duration, retry_after: Option<Duration>) -> Duration {
        let floor = retry_after
            .map(|d| d.min(MAX_RETRY_AFTER))
            .unwrap_or_default();
        let wait = backoff.max(floor);
        if self.fast {
            wait.min(FAST_DELAY)
        } else {
            wait
        }
    }
}

/// Whether a response status is worth retrying. `replay_safe` is true for GETs and for
/// requests carrying an `Idempotency-Key`.
pub(crate) fn status_is_retryable(status: u16, replay_safe: bool) -> bool {
    match status {
        429 | 502 | 503 | 504 => true,
        500 => replay_safe,
        _ => false,
    }
}

/// Why a transport failure is worth retrying, or `None` if it is not.
///
/// reqwest hides hyper's error kinds, and hyper is not a direct dependency, so the
/// "closed before a response" cases are recognised by hyper's stable messages; the I/O cases
/// by their `io::ErrorKind` anywhere in the source chain.
pub(crate) fn transport_reason(err: &reqwest::Error) -> Option<&'static str> {
    /// hyper's messages for a connection closed before a response.
    const CLOSED: &[&str] = &[
        "connection closed before message completed",
        "end of file before message length reached",
        "connection reset",
        "broken pipe",
        "unexpected eof",
    ];
    if err.is_builder() || err.is_redirect() || err.is_decode() || err.is_dns() {
        return None;
    }
    if err.is_timeout() {
        return Some("timed out");
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut text = String::new();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{
                BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset, TimedOut,
                UnexpectedEof,
            };
            match io.kind() {
                ConnectionRefused => return Some("connection refused"),
                ConnectionReset | ConnectionAborted | BrokenPipe => {
                    return Some("connection reset");
                }
                UnexpectedEof => return Some("connection closed without a response"),
                TimedOut => return Some("timed out"),
                _ => {}
            }
        }
        text.push_str(&e.to_string().to_ascii_lowercase());
        text.push('\n');
        source = e.source();
    }
    if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        return None;
    }
    if CLOSED.iter().any(|m| text.contains(m)) {
        return Some("connection closed without a response");
    }
    None
}

/// A short name for a transport failure, for messages: what [`transport_reason`] says for the
/// retried kinds, `DNS lookup failed` and `TLS handshake failed` for the others, else the
/// innermost error's own words.
pub fn transport_cause(err: &reqwest::Error) -> String {
    if let Some(reason) = transport_reason(err) {
        return reason.to_string();
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut text = String::new();
    let mut innermost = err.to_string();
    while let Some(e) = source {
        innermost = e.to_string();
        text.push_str(&innermost.to_ascii_lowercase());
        text.push('\n');
        source = e.source();
    }
    if err.is_dns() || text.contains("dns error") || text.contains("failed to lookup address") {
        "DNS lookup failed".into()
    } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        "TLS handshake failed".into()
    } else {
        innermost
    }
}

/// Parses a `Retry-After` value: delta seconds (`120`, leniently `1.5`) or an HTTP-date
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), relative to `now`. A date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())));
    }
    // IMF-fixdate is a valid RFC 2822 date ("GMT" is an accepted zone name).
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date);
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // 06 Nov 1994 08:49:37
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:30 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn statuses() {
        for s in [429, 502, 503, 504] {
            assert!(status_is_retryable(s, false), "{s}");
        }
        assert!(status_is_retryable(500, true));
        assert!(!status_is_retryable(500, false));
        for s in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!status_is_retryable(s, true), "{s}");
        }
    }

    #[test]
    fn backoff_grows_and_is_bounded() {
        let policy = Policy {
            max_attempts: 8,
            fast: false,
        };
        let delays: Vec<_> = policy.backoff().collect();
        assert_eq!(delays.len(), 7);
        assert!(
            delays[0] >= BASE_DELAY && delays[0] <= BASE_DELAY * 2,
            "{delays:?}"
        );
        assert!(delays.iter().all(|d| *d <= MAX_DELAY * 2), "{delays:?}");
        assert_eq!(
            Policy {
                max_attempts: 1,
                fast: false
            }
            .backoff()
            .count(),
            0
        );
        assert_eq!(
            Policy {
                max_attempts: 0,
                fast: false
            }
            .backoff()
            .count(),
            0
        );
    }

    #[test]
    fn retry_after_is_a_floor_and_fast_mode_caps_everything() {
        let slow = Policy {
            max_attempts: 3,
            fast: false,
        };
        let d = Duration::from_millis(200);
        assert_eq!(
            slow.wait(d, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
        assert_eq!(slow.wait(d, Some(Duration::from_millis(1))), d);
        assert_eq!(
            slow.wait(d, Some(Duration::from_secs(86_400))),
            MAX_RETRY_AFTER
        );
        let fast = Policy {
            max_attempts: 3,
            fast: true,
        };
        assert_eq!(fast.wait(d, Some(Duration::from_secs(2))), FAST_DELAY);
        assert_eq!(
            fast.wait(Duration::from_millis(5), None),
            Duration::from_millis(5)
        );
    }

    /// Real reqwest errors against loopback sockets: refused, and closed without a response.
    #[tokio::test]
    async fn transport_failures_are_classified() {
        let http = crate::live::tls::client_builder()
            .no_proxy()
            .build()
            .unwrap();

        // A port nobody listens on: bind, note the port, close.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = http
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            transport_reason(&err),
            Some("connection refused"),
            "{err:?}"
        );

        // A server that reads the request and hangs up without answering.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            drop(sock);
        });
        let err = http
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert!(transport_reason(&err).is_some(), "{err:?}");
        server.await.unwrap();

        // A timeout.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_millis(500)).await;
            drop(sock);
        });
        let err = http
            .get(format!("http://{addr}/"))
            .timeout(Duration::from_millis(50))
            .send()
            .await
            .unwrap_err();
        assert_eq!(transport_reason(&err), Some("timed out"), "{err:?}");
        server.await.unwrap();
    }
}
