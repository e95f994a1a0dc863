//! Connections that a handler can cut: the `--fault-drop` fault must close a connection
//! without sending any HTTP response, which a handler cannot do through axum's API.
//!
//! [`DroppableListener`] wraps the TCP listener; each accepted stream carries a shared
//! [`ConnHandle`] that axum hands to requests as `ConnectInfo`. Tripping the handle makes
//! every later read and write of that socket fail, so hyper abandons the connection before
//! a byte of the response is written and the socket is closed when the stream is dropped.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A per-connection handle, available to handlers as `ConnectInfo<ConnHandle>`.
#[derive(Debug, Clone)]
pub struct ConnHandle {
    /// The peer's address.
    pub remote: SocketAddr,
    dropped: Arc<AtomicBool>,
}

impl ConnHandle {
    /// Makes the connection fail: nothing more is read or written on it.
    pub fn drop_connection(&self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

/// A TCP listener whose streams can be cut by their [`ConnHandle`].
#[derive(Debug)]
pub struct DroppableListener {
    inner: TcpListener,
}

impl DroppableListener {
    /// Wraps a bound listener.
    pub fn new(inner: TcpListener) -> Self {
        Self { inner }
    }
}

/// A TCP stream that fails every operation once its handle was tripped.
#[derive(Debug)]
pub struct DroppableStream {
    inner: TcpStream,
    handle: ConnHandle,
}

impl DroppableStream {
    fn cut(&self) -> Option<io::Error> {
        self.handle.dropped.load(Ordering::SeqCst).then(|| {
            io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "dropped by fault injection",
            )
        })
    }
}

impl Listener for DroppableListener {
    type Io = DroppableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, remote)) => {
                    // Small JSON responses: don't let Nagle add 40 ms to each.
                    let _ = stream.set_nodelay(true);
                    let handle = ConnHandle {
                        remote,
                        dropped: Arc::new(AtomicBool::new(false)),
                    };
                    return (
                        DroppableStream {
                            inner: stream,
                            handle,
                        },
                        remote,
                    );
                }
                // Per-connection errors (the peer left before accept) are not fatal; resource
                // exhaustion (EMFILE) gets a pause so the loop does not spin.
                Err(e) if is_connection_error(&e) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

impl Connected<IncomingStream<'_, DroppableListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, DroppableListener>) -> Self {
        stream.io().handle.clone()
    }
}

impl AsyncRead for DroppableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for DroppableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.cut() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
