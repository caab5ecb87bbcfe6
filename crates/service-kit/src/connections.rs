//! Per-connection bookkeeping for [`crate::server::serve`]: what each connection is doing, so
//! slow or idle clients are closed on time and shutdown closes what has no request in flight.
//!
//! A connection is *active* from the moment hyper hands a request to the service until its
//! response body has been written (or dropped); otherwise it is *idle*. An idle connection
//! gets one deadline:
//! - before its first request: `header_read_timeout` from accept (a client that connects and
//!   sends nothing, or sends headers slowly);
//! - once bytes of a next request arrive: `header_read_timeout` from the first byte (slow
//!   headers on a keep-alive connection);
//! - otherwise: `idle_timeout` from the end of the last response (idle keep-alive).
//!
//! An active connection whose client stops reading the response (the socket takes no more
//! writes) is closed after `idle_timeout` without progress; the request body has its own
//! deadline, `body_read_timeout`.
//!
//! hyper's own `http1::Builder::header_read_timeout` is left off on purpose: in hyper 1.12
//! (`proto/h1/conn.rs`, `poll_read_head` and `State::idle`) its timer starts as soon as a
//! keep-alive connection goes idle, so it would also be the idle timeout and the two settings
//! could not differ.

use crate::config::{ConfigError, Env};
use axum::body::Body;
use axum::http::HeaderValue;
use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// After the shutdown signal, how long a request whose first bytes have arrived may take to
/// send the rest of its headers. Long enough for a real client whose request crossed the
/// signal (closing it would fail that request); short enough that a client holding half a
/// request open cannot hold up shutdown.
pub const SHUTDOWN_HEAD_LINGER: Duration = Duration::from_millis(500);

/// After the shutdown signal, how long an idle keep-alive connection stays open. HTTP/1.1 has
/// no way to tell a client "do not reuse this connection" other than closing it, and a client
/// that picked the connection from its pool just before our close sees its request fail. For
/// this short moment a request that arrives is still served (its response says
/// `Connection: close`); clients sending back to back have all moved off by then, so closing
/// afterwards fails none of them. Measured with `cargo xtask bench conns` (32 clients):
/// closing at once failed 4 to 14 of ~3,400 requests per SIGTERM; with this linger and
/// `Connection: close` on every response after the signal, 0 in 4 rounds of ~9,500.
pub const SHUTDOWN_IDLE_LINGER: Duration = Duration::from_millis(100);

/// How [`crate::server::serve`] treats connections. [`ServeSettings::from_env`] reads them;
/// a bare `Duration` converts into the defaults with that shutdown grace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSettings {
    /// How long in-flight requests may run after the shutdown signal.
    pub shutdown_grace: Duration,
    /// `HTTP_HEADER_READ_TIMEOUT_SECONDS`: the whole request head must arrive within this.
    pub header_read_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT_SECONDS`: a keep-alive connection with no request is closed after this.
    pub idle_timeout: Duration,
    /// `HTTP_BODY_READ_TIMEOUT_SECONDS`: the whole request body must arrive within this
    /// (counted from the end of the headers); otherwise 408 and the connection is closed.
    pub body_read_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS`: open connections at most. At the cap a new connection closes
    /// the longest-idle one; when none is idle, the new one is closed at once.
    pub max_connections: usize,
    /// `METRICS_ENABLED`: serve `/metrics` and count requests ([`crate::metrics`]); `false`
    /// leaves both out (e.g. to measure their cost).
    pub metrics: bool,
}

impl ServeSettings {
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
    /// Well below the usual 1,024 file descriptors, leaving room for the database pool,
    /// outgoing HTTP clients and the process's own files.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

    /// The defaults, with `shutdown_grace`.
    pub fn with_grace(shutdown_grace: Duration) -> ServeSettings {
        ServeSettings {
            shutdown_grace,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            body_read_timeout: Self::DEFAULT_BODY_READ_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            metrics: true,
        }
    }

    /// Reads the `HTTP_*` settings; `shutdown_grace` comes from the service's own config.
    pub fn from_env(env: &Env, shutdown_grace: Duration) -> Result<ServeSettings, ConfigError> {
        let seconds = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
            let value: u64 = env.parse_or(
                name,
                default.as_secs(),
                "a whole number of seconds, at least 1",
            )?;
            if value == 0 {
                return Err(ConfigError {
                    variable: name.to_owned(),
                    message: "is 0; it must be at least 1 second (0 would close every connection at once)".into(),
                });
            }
            Ok(Duration::from_secs(value))
        };
        let max_connections: usize = env.parse_or(
            "HTTP_MAX_CONNECTIONS",
            Self::DEFAULT_MAX_CONNECTIONS,
            "a whole number of connections, at least 1",
        )?;
        if max_connections == 0 {
            return Err(ConfigError {
                variable: "HTTP_MAX_CONNECTIONS".into(),
                message: "is 0; it must be at least 1 (keep it below the file-descriptor limit, `ulimit -n`)".into(),
            });
        }
        Ok(ServeSettings {
            shutdown_grace,
            header_read_timeout: seconds(
                "HTTP_HEADER_READ_TIMEOUT_SECONDS",
                Self::DEFAULT_HEADER_READ_TIMEOUT,
            )?,
            idle_timeout: seconds("HTTP_IDLE_TIMEOUT_SECONDS", Self::DEFAULT_IDLE_TIMEOUT)?,
            body_read_timeout: seconds(
                "HTTP_BODY_READ_TIMEOUT_SECONDS",
                Self::DEFAULT_BODY_READ_TIMEOUT,
            )?,
            max_connections,
            metrics: env.parse_or("METRICS_ENABLED", true, "true or false")?,
        })
    }
}

impl From<Duration> for ServeSettings {
    fn from(shutdown_grace: Duration) -> ServeSettings {
        ServeSettings::with_grace(shutdown_grace)
    }
}

/// What one connection is doing; shared by its task, its IO wrapper and its request bodies.
pub(crate) struct Conn {
    state: Mutex<State>,
    /// Wakes the connection's task to recompute its deadline.
    changed: Notify,
    /// Set when the connection must close now (evicted to make room).
    evict: Notify,
    /// Asked to close and not yet closed: not picked again, so each eviction frees a slot.
    evicting: AtomicBool,
}

struct State {
    active: u32,
    served: u64,
    idle_since: Instant,
    first_byte: Option<Instant>,
    /// Since when the socket has refused our writes (the client stopped reading).
    write_stalled: Option<Instant>,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            state: Mutex::new(State {
                active: 0,
                served: 0,
                idle_since: Instant::now(),
                first_byte: None,
                write_stalled: None,
            }),
            changed: Notify::new(),
            evict: Notify::new(),
            evicting: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When this connection must close if nothing changes; `None` while a request is active.
    /// Once shutdown began (`stopping`, since when), an idle connection closes after
    /// [`SHUTDOWN_IDLE_LINGER`], and one whose next request is arriving gets
    /// [`SHUTDOWN_HEAD_LINGER`] to finish sending its headers.
    pub(crate) fn deadline(
        &self,
        settings: &ServeSettings,
        stopping: Option<Instant>,
    ) -> Option<Instant> {
        let s = self.lock();
        if s.active > 0 {
            // A response the client stopped reading (full socket buffers) counts as idle.
            return s.write_stalled.map(|t| t + settings.idle_timeout);
        }
        let normal = match s.first_byte {
            _ if s.served == 0 => s.idle_since + settings.header_read_timeout,
            Some(first) => first + settings.header_read_timeout,
            None => s.idle_since + settings.idle_timeout,
        };
        let Some(stopped_at) = stopping else {
            return Some(normal);
        };
        Some(match s.first_byte {
            Some(first) => normal.min(first + SHUTDOWN_HEAD_LINGER),
            // From the stop or from the end of the last response, whichever is later: that
            // response may have left before the stop, without `Connection: close`.
            None => normal.min(stopped_at.max(s.idle_since) + SHUTDOWN_IDLE_LINGER),
        })
    }

    pub(crate) fn is_idle(&self) -> bool {
        self.lock().active == 0
    }

    fn idle_since(&self) -> Option<Instant> {
        let s = self.lock();
        (s.active == 0).then_some(s.idle_since)
    }

    /// A request's head has arrived and is being served.
    pub(crate) fn begin_request(self: &Arc<Self>) -> ActiveGuard {
        {
            let mut s = self.lock();
            s.active += 1;
            s.served += 1;
            s.first_byte = None;
        }
        self.changed.notify_one();
        ActiveGuard(self.clone())
    }

    fn saw_bytes(&self) {
        let mut s = self.lock();
        if s.active == 0 && s.first_byte.is_none() {
            s.first_byte = Some(Instant::now());
            drop(s);
            self.changed.notify_one();
        }
    }

    fn write_result<T>(&self, result: &Poll<T>) {
        let mut s = self.lock();
        match (result.is_pending(), s.write_stalled) {
            (true, None) => {
                s.write_stalled = Some(Instant::now());
                drop(s);
                self.changed.notify_one();
            }
            (false, Some(_)) => {
                s.write_stalled = None;
                drop(s);
                self.changed.notify_one();
            }
            _ => {}
        }
    }

    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Resolves when asked to make room; call [`Conn::spared`] if it then stays open.
    pub(crate) async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// Eviction was asked but a request had just begun: the connection stays and may be
    /// picked again later.
    pub(crate) fn spared(&self) {
        self.evicting.store(false, Ordering::Relaxed);
    }
}

/// Keeps its connection active until dropped (with the response body, once written).
pub(crate) struct ActiveGuard(Arc<Conn>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        {
            let mut s = self.0.lock();
            s.active = s.active.saturating_sub(1);
            if s.active == 0 {
                s.idle_since = Instant::now();
            }
        }
        self.0.changed.notify_one();
    }
}

/// Every open connection, for the cap and for eviction.
#[derive(Default)]
pub(crate) struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Registers a new connection; it leaves the registry when the returned handle drops.
    pub(crate) fn register(self: &Arc<Self>) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        self.lock().insert(id, conn.clone());
        Registered {
            registry: self.clone(),
            id,
            conn,
        }
    }

    /// Asks the connection that has been idle longest to close; false when none is idle.
    pub(crate) fn evict_oldest_idle(&self) -> bool {
        let oldest = self
            .lock()
            .values()
            .filter(|c| !c.evicting.load(Ordering::Relaxed))
            .filter_map(|c| c.idle_since().map(|t| (t, c.clone())))
            .min_by_key(|(t, _)| *t);
        match oldest {
            Some((_, conn)) => {
                conn.evicting.store(true, Ordering::Relaxed);
                conn.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

pub(crate) struct Registered {
    registry: Arc<Registry>,
    id: u64,
    pub(crate) conn: Arc<Conn>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
    }
}

/// The socket, noting the first byte of a request that arrives on an idle connection and
/// when writes stall.
pub(crate) struct WatchedIo<T> {
    pub(crate) inner: T,
    pub(crate) conn: Arc<Conn>,
}

impl<T: AsyncRead + Unpin> AsyncRead for WatchedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.saw_bytes();
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WatchedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.conn.write_result(&result);
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.conn.write_result(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that must arrive whole by a deadline. tower-http's `TimeoutBody` restarts
/// its timer on every frame, so a client sending one byte every few seconds would never hit
/// it; this deadline counts from the end of the headers.
pub(crate) struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
    done: bool,
}

impl DeadlineBody {
    pub(crate) fn new(inner: Body, timeout: Duration, timed_out: Arc<AtomicBool>) -> DeadlineBody {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timed_out,
            done: false,
        }
    }
}

/// The error a body read gets when [`DeadlineBody`]'s deadline passes.
#[derive(Debug)]
pub(crate) struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

impl http_body::Body for DeadlineBody {
    type Data = axum::body::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if frame.is_none() {
                    self.done = true;
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    self.done = true;
                    self.timed_out.store(true, Ordering::Relaxed);
                    Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its connection active until it is written or dropped, so a
/// streaming response (server-sent events) is never taken for an idle connection.
pub(crate) struct GuardedBody {
    inner: Body,
    _guard: ActiveGuard,
}

impl GuardedBody {
    pub(crate) fn new(inner: Body, guard: ActiveGuard) -> GuardedBody {
        GuardedBody {
            inner,
            _guard: guard,
        }
    }
}

impl http_body::Body for GuardedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// `Connection: close`, for a response after which the rest of the request cannot be read.
pub(crate) const CLOSE: HeaderValue = HeaderValue::from_static("close");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_and_refuse_zero_with_the_variable_named() {
        let grace = Duration::from_secs(20);
        assert_eq!(
            ServeSettings::from_env(&Env::default(), grace),
            Ok(ServeSettings::with_grace(grace))
        );
        let custom = ServeSettings::from_env(
            &Env::from_pairs([
                ("HTTP_HEADER_READ_TIMEOUT_SECONDS", "3"),
                ("HTTP_IDLE_TIMEOUT_SECONDS", "4"),
                ("HTTP_BODY_READ_TIMEOUT_SECONDS", "5"),
                ("HTTP_MAX_CONNECTIONS", "6"),
            ]),
            grace,
        )
        .unwrap();
        assert_eq!(custom.header_read_timeout, Duration::from_secs(3));
        assert_eq!(custom.idle_timeout, Duration::from_secs(4));
        assert_eq!(custom.body_read_timeout, Duration::from_secs(5));
        assert_eq!(custom.max_connections, 6);
        let err = ServeSettings::from_env(
            &Env::from_pairs([("HTTP_IDLE_TIMEOUT_SECONDS", "0")]),
            grace,
        )
        .unwrap_err();
        assert_eq!(err.variable, "HTTP_IDLE_TIMEOUT_SECONDS");
        let err =
            ServeSettings::from_env(&Env::from_pairs([("HTTP_MAX_CONNECTIONS", "lots")]), grace)
                .unwrap_err();
        assert_eq!(err.variable, "HTTP_MAX_CONNECTIONS");
        assert!(err.message.contains("\"lots\""), "{err}");
    }
}
