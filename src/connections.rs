//! Accepted connections: how many may be open at once, and how soon a new one must speak.
//!
//! Calls and streams are capped by the call layers (`crate::overload`), but a connection holds a
//! socket and a task before it makes any call: without a cap, anyone who can reach the port could
//! open sockets until the process runs out of file descriptors, and a socket that never sends a
//! byte would be kept forever. So the listener takes a permit before each accept (as mini-redis
//! does): at `max_connections` open it stops accepting, and new clients wait in the kernel's
//! backlog until a connection closes. A new connection must send its opening bytes (as many as the
//! HTTP/2 preface) within `handshake_timeout`, or it is closed; over TLS, it must also finish the
//! handshake within that time (`crate::tls`). Connections that went quiet later are hyper's and
//! tonic's to end: HTTP/2 keepalive pings (`--keepalive-ms`, set in `crate::server`) and HTTP/1's
//! header read timeout.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use futures::Stream;
use prometheus_client::metrics::gauge::Gauge;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::Sleep,
};
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::backoff::Backoff;

/// What a listener allows its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once (at least one).
    pub max_connections: usize,
    /// How soon a new connection must open (see the module's doc); `None`: no limit.
    pub handshake_timeout: Option<Duration>,
}

/// The accepted connections of `listener`, within `limits`, counted in `open` while they are open
/// (`dbosd_connections_open` for the gRPC port). Accept errors that belong to one
/// connection (it was reset before it was accepted) are passed on for the server to skip; when
/// the process is out of file descriptors, the stream pauses with backoff instead of spinning.
pub fn incoming(
    listener: TcpListener,
    limits: ConnectionLimits,
    open: Gauge,
) -> impl Stream<Item = io::Result<Conn>> + Send + 'static {
    let accepting = Accepting {
        permits: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        listener,
        limits,
        open,
        backoff: Backoff::new(ms(10), ms(1000)),
        warned: None,
    };
    futures::stream::unfold(accepting, Accepting::next)
}

/// A listener's accept loop, one connection at a time.
struct Accepting {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    limits: ConnectionLimits,
    open: Gauge,
    /// Pauses while the process is out of file descriptors.
    backoff: Backoff,
    /// When the listener last said it was at its cap.
    warned: Option<Instant>,
}

impl Accepting {
    async fn next(mut self) -> Option<(io::Result<Conn>, Self)> {
        let max = self.limits.max_connections;
        let permit = take_permit(&self.permits, max, &mut self.warned).await?;
        let item = match self.listener.accept().await {
            Ok((stream, _)) => {
                self.backoff.reset();
                // Calls are small request/response exchanges: send each write at once.
                let _ = stream.set_nodelay(true);
                let held = Held::new(permit, self.open.clone());
                Ok(Conn::new(stream, held, self.limits.handshake_timeout))
            }
            Err(e) => {
                if out_of_descriptors(&e) {
                    let pause = self.backoff.pause();
                    tracing::warn!(error = %e, pause_ms = pause.as_millis() as u64,
                        "cannot accept connections: out of file descriptors");
                    tokio::time::sleep(pause).await;
                }
                Err(e)
            }
        };
        Some((item, self))
    }
}

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How often a listener held at its cap says so.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// A permit for one more connection, waiting while all are taken (and saying so, at most once a
/// minute: `warned` is when it last did). `None` only if the semaphore closed, which nothing does.
async fn take_permit(
    permits: &Arc<Semaphore>,
    max: usize,
    warned: &mut Option<Instant>,
) -> Option<OwnedSemaphorePermit> {
    if let Ok(permit) = Arc::clone(permits).try_acquire_owned() {
        return Some(permit);
    }
    if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
        *warned = Some(Instant::now());
        tracing::warn!(
            max_connections = max,
            "connection limit reached: new connections wait until one closes (--max-connections)"
        );
    }
    Arc::clone(permits).acquire_owned().await.ok()
}

/// EMFILE / ENFILE: the process or the system has no file descriptor left for a new socket.
fn out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// A connection's place under the cap and in the open count, both given back when it closes.
struct Held {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Held {
    fn new(permit: OwnedSemaphorePermit, open: Gauge) -> Held {
        open.inc();
        Held {
            _permit: permit,
            open,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// How many bytes a connection must send before the deadline: the HTTP/2 preface's length, which
/// is also the most hyper reads to tell HTTP/2 from HTTP/1. A client that stops partway through
/// the preface has reached neither hyper's HTTP/2 pings nor its HTTP/1 header timeout. Every
/// HTTP/1.1 request is longer (it names its Host), and a TLS ClientHello is too.
const OPENING_BYTES: usize = 24;

/// An accepted connection: its socket, its place under the cap and, until it has sent its opening
/// bytes, the deadline for them.
pub struct Conn {
    stream: TcpStream,
    _held: Held,
    opening_by: Option<Pin<Box<Sleep>>>,
    /// Bytes read while the deadline runs.
    read: usize,
}

impl Conn {
    fn new(stream: TcpStream, held: Held, timeout: Option<Duration>) -> Conn {
        Conn {
            stream,
            _held: held,
            opening_by: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            read: 0,
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        let this = &mut *self;
        let Some(deadline) = this.opening_by.as_mut() else {
            return read;
        };
        match read {
            Poll::Ready(Ok(())) => {
                this.read += buf.filled().len() - before;
                if this.read >= OPENING_BYTES {
                    this.opening_by = None;
                }
            }
            Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection did not open within --handshake-timeout-ms",
                )));
            }
            _ => {}
        }
        read
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Connected for Conn {
    // The socket's own: the layers read the peer's address from it (audit, rate limits).
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}
