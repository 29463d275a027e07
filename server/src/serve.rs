//! Serving connections. Our own accept loop over hyper rather than `axum::serve`, for what a
//! server facing the internet needs and `axum::serve` does not give: a deadline for a
//! request's headers and one for idle connections (slowloris, idle keep-alive), a cap on open
//! connections that refuses the excess at once, and a request body that is read to its end
//! (up to a bound) when a handler answers without it, so a client still sending sees its 413
//! instead of a reset connection. Plain HTTP and TLS share it.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// What bounds a connection (the settings `GATEHOUSE_HEADER_READ_TIMEOUT`,
/// `GATEHOUSE_IDLE_TIMEOUT`, `GATEHOUSE_MAX_CONNECTIONS`).
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// A body a handler answered without reading is read on, and thrown away, up to this much.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;
/// …and for at most this long.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The answer to a connection over the cap: written without reading anything, then closed.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Retry-After: 1\r\nConnection: close\r\nContent-Length: 85\r\n\r\n\
{\"error\":{\"code\":\"overloaded\",\"message\":\"Too many connections. Try again shortly.\"}}";

/// Serves `app` on `listener` (through TLS when `tls` is given) until `stop` resolves, then
/// lets open connections finish their requests and returns once all are closed.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping, stop_seen) = watch::channel(false);
    let mut stop = std::pin::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, mostly: the cap should keep this from happening.
                    tracing::error!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            crate::metrics::connection_refused();
            tokio::spawn(refuse(stream, tls.is_some()));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (app, tls, stop_seen) = (app.clone(), tls.clone(), stop_seen.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, peer, app, limits, stop_seen).await,
                Some(tls) => match tokio::time::timeout(limits.header_read_timeout, tls.accept(stream)).await {
                    Ok(Ok(stream)) => serve_connection(stream, peer, app, limits, stop_seen).await,
                    Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                    Err(_) => tracing::debug!("TLS handshake timed out"),
                },
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every connection holds a slot until it is done.
    let _ = slots.acquire_many(limits.max_connections as u32).await;
}

/// Answers a connection over the cap with a 503 (plain HTTP) or just closes it (TLS: no
/// handshake is spent on it), so the client learns at once instead of waiting.
async fn refuse(mut stream: TcpStream, tls: bool) {
    if !tls {
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(TOO_MANY_CONNECTIONS)).await;
        let _ = stream.shutdown().await;
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    mut stop_seen: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let in_flight = InFlight::begin(&activity);
            request.extensions_mut().insert(ConnectInfo(peer));
            let request = request.map(|body| Body::new(DrainOnDrop(Some(body))));
            let answer = app.clone().oneshot(request);
            async move {
                let response = answer.await;
                drop(in_flight);
                response
            }
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let mut connection = std::pin::pin!(builder.serve_connection_with_upgrades(io, service));
    let mut deadline = std::pin::pin!(activity.expired(limits));
    let mut stopping = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = &mut deadline => {
                // Nothing in flight (see `Activity::expired`): closing loses no answer.
                tracing::debug!("connection closed: headers or idle time out");
                return;
            }
            changed = stop_seen.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// What a connection is doing, as its reads, writes and requests tell it, for its deadlines.
/// Kept in atomics: the watched reads and writes of every request update it.
struct Activity {
    started: Instant,
    /// Requests being answered now.
    in_flight: AtomicUsize,
    /// Whether a request has been answered on this connection.
    answered_one: AtomicBool,
    /// Milliseconds since `started` of the last read or write, or of the last answer.
    last_activity: AtomicU64,
    /// Milliseconds since `started` of the first byte of the request being read (its
    /// headers), when no request is in flight; `u64::MAX` when none is being read.
    head_started: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            answered_one: AtomicBool::new(false),
            last_activity: AtomicU64::new(0),
            head_started: AtomicU64::new(u64::MAX),
        }
    }

    fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn read(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let now = self.elapsed_ms();
        self.last_activity.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Relaxed) == 0 && self.head_started.load(Ordering::Relaxed) == u64::MAX {
            self.head_started.store(now, Ordering::Relaxed);
        }
    }

    fn wrote(&self) {
        self.last_activity.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    /// When the connection is to be closed if nothing changes, or `None` while a request is in
    /// flight and moving. A first request's headers are due `header_read_timeout` after the
    /// connection opened; a later one's that long after its first byte; a connection with
    /// nothing in flight (or a request whose body stopped coming) lasts `idle_timeout` after
    /// its last traffic.
    fn deadline(&self, limits: ConnectionLimits) -> Instant {
        let ms = Duration::from_millis;
        let idle_until = self.started + ms(self.last_activity.load(Ordering::Relaxed)) + limits.idle_timeout;
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return idle_until;
        }
        if !self.answered_one.load(Ordering::Relaxed) {
            return self.started + limits.header_read_timeout;
        }
        match self.head_started.load(Ordering::Relaxed) {
            u64::MAX => idle_until,
            head => (self.started + ms(head) + limits.header_read_timeout).min(idle_until),
        }
    }

    /// Resolves once the deadline has passed with no request in flight. Sleeps at most the
    /// shorter of the two timeouts at a time, since traffic can bring a deadline closer (a
    /// first request answered, or the first byte of headers on an idle connection): a
    /// deadline is then kept to within twice its timeout.
    async fn expired(&self, limits: ConnectionLimits) {
        loop {
            let deadline = self.deadline(limits);
            let now = Instant::now();
            if deadline <= now {
                if self.in_flight.load(Ordering::Relaxed) == 0 {
                    return;
                }
                // A handler still working without traffic (a slow database): its own bounds
                // end it; look again later.
                tokio::time::sleep(limits.idle_timeout).await;
                continue;
            }
            let recheck = limits.header_read_timeout.min(limits.idle_timeout);
            tokio::time::sleep_until(deadline.min(now + recheck)).await;
        }
    }
}

/// Marks a request in flight on its connection for as long as it lives.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn begin(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.head_started.store(u64::MAX, Ordering::Relaxed);
        Self(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.answered_one.store(true, Ordering::Relaxed);
        activity.wrote();
        activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's byte stream, telling its [`Activity`] about traffic.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            this.activity.read(buf.filled().len() - before);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(written)) = polled {
            if written > 0 {
                this.activity.wrote();
            }
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(written)) = polled {
            if written > 0 {
                this.activity.wrote();
            }
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request body that, dropped before its end (a handler answered 413, or 401 before
/// reading), is read on in the background and thrown away, up to [`DRAIN_LIMIT`] and
/// [`DRAIN_TIME`]: the client, still sending, then reads the answer instead of a reset.
struct DrainOnDrop(Option<Incoming>);

impl hyper::body::Body for DrainOnDrop {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.get_mut().0.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(hyper::body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.0.as_ref().map(hyper::body::Body::size_hint).unwrap_or_else(|| SizeHint::with_exact(0))
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(body) = self.0.take() else { return };
        if hyper::body::Body::is_end_stream(&body) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let _ = tokio::time::timeout(DRAIN_TIME, drain(body)).await;
        });
    }
}

async fn drain(mut body: Incoming) {
    use http_body_util::BodyExt;
    let mut read = 0u64;
    while read <= DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |data| data.len() as u64),
            _ => return,
        }
    }
}
