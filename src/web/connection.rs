//! Connection time-outs, so a slow or silent client cannot hold a connection (and its memory) for ever:
//! a request's headers must arrive within the header time-out of its first byte, and a connection that waits for its
//! next request longer than the idle time-out is closed. A request body that makes no progress is the router's
//! business ([`tower_http::timeout::RequestBodyTimeoutLayer`]), since only the body knows when it is complete.
//!
//! The listener wraps each accepted stream in [`TimedIo`], which follows HTTP/1 just enough to tell the phases
//! apart: waiting for a request (until the first byte), reading its head (until the blank line), and serving it
//! (from then until the server writes, after which the connection waits for the next request again). An HTTP/2
//! connection (cleartext, from a proxy) interleaves its requests, so it is left to HTTP/2's own flow control.

use axum::serve::Listener;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// How long a client may take at each step of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From a request's first byte to the end of its headers.
    pub header: Duration,
    /// Between two chunks of a request body.
    pub body: Duration,
    /// Between requests on a kept-alive connection (and before the first).
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts { header: Duration::from_secs(10), body: Duration::from_secs(30), idle: Duration::from_secs(60) }
    }
}

/// A TCP listener whose connections time out as [`Timeouts`] says.
pub struct TimedListener {
    inner: TcpListener,
    timeouts: Timeouts,
}

impl TimedListener {
    pub fn new(inner: TcpListener, timeouts: Timeouts) -> TimedListener {
        TimedListener { inner, timeouts }
    }
}

impl Listener for TimedListener {
    type Io = TimedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TimedIo, SocketAddr) {
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (TimedIo::new(stream, self.timeouts), addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Listener::local_addr(&self.inner)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No byte of the next request yet.
    Waiting,
    /// Reading a request's head; `tail` holds its last bytes, to find the blank line across reads.
    Head { tail: [u8; 3] },
    /// The head is in: the body and the handler are not timed here.
    Serving,
    /// HTTP/2 without TLS (a proxy's prior knowledge): requests interleave in frames, so none is timed here.
    Multiplexed,
}

/// How an HTTP/2 connection opens.
const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

pub struct TimedIo {
    stream: TcpStream,
    timeouts: Timeouts,
    phase: Phase,
    deadline: Pin<Box<Sleep>>,
}

impl TimedIo {
    fn new(stream: TcpStream, timeouts: Timeouts) -> TimedIo {
        let deadline = Box::pin(tokio::time::sleep(timeouts.idle));
        TimedIo { stream, timeouts, phase: Phase::Waiting, deadline }
    }

    /// A response is going out: what is read next belongs to the next request. An interim `100 Continue` is not
    /// a response: the body follows it.
    fn wrote(&mut self, cx: &mut Context<'_>, bytes: &[u8]) {
        if self.phase != Phase::Multiplexed && !bytes.starts_with(b"HTTP/1.1 1") {
            self.phase = Phase::Waiting;
            self.deadline.as_mut().reset(Instant::now() + self.timeouts.idle);
            // The server may not read again before the client speaks: have the deadline wake it.
            let _ = self.deadline.as_mut().poll(cx);
        }
    }

    fn read(&mut self, bytes: &[u8]) {
        let next = self.phase.after(bytes);
        if self.phase == Phase::Waiting && next != Phase::Waiting {
            self.deadline.as_mut().reset(Instant::now() + self.timeouts.header);
        }
        self.phase = next;
    }
}

impl Phase {
    /// The phase once `bytes` are read.
    fn after(self, bytes: &[u8]) -> Phase {
        let tail = match self {
            Phase::Serving | Phase::Multiplexed => return self,
            Phase::Waiting if bytes.is_empty() => return Phase::Waiting,
            Phase::Waiting if bytes.starts_with(HTTP2_PREFACE) => return Phase::Multiplexed,
            Phase::Waiting => [0; 3],
            Phase::Head { tail } => tail,
        };
        let mut window: Vec<u8> = tail.iter().chain(bytes).copied().collect();
        if window.windows(4).any(|w| w == b"\r\n\r\n") {
            return Phase::Serving;
        }
        let keep = window.split_off(window.len() - 3);
        Phase::Head { tail: [keep[0], keep[1], keep[2]] }
    }
}

impl AsyncRead for TimedIo {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(result) => {
                this.read(&buf.filled()[before..]);
                Poll::Ready(result)
            }
            Poll::Pending => {
                if matches!(this.phase, Phase::Serving | Phase::Multiplexed) {
                    return Poll::Pending;
                }
                ready!(this.deadline.as_mut().poll(cx));
                let what = match this.phase {
                    Phase::Head { .. } => "the request's headers did not arrive in time",
                    _ => "the connection was idle too long",
                };
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)))
            }
        }
    }
}

impl AsyncWrite for TimedIo {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = ready!(Pin::new(&mut this.stream).poll_write(cx, buf));
        this.wrote(cx, buf);
        Poll::Ready(written)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let written = ready!(Pin::new(&mut this.stream).poll_write_vectored(cx, bufs));
        this.wrote(cx, bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]));
        Poll::Ready(written)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn phase_after(chunks: &[&[u8]]) -> Phase {
        chunks.iter().fold(Phase::Waiting, |phase, chunk| phase.after(chunk))
    }

    #[test]
    fn the_blank_line_ends_the_head_even_split_across_reads() {
        assert_eq!(phase_after(&[b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"]), Phase::Serving);
        assert_eq!(phase_after(&[b"GET / HTTP/1.1\r\nHost: x\r", b"\n", b"\r", b"\n"]), Phase::Serving);
        assert!(matches!(phase_after(&[b"GET / HTTP/1.1\r\nHost: x\r\n"]), Phase::Head { .. }));
        assert!(matches!(phase_after(&[b"G"]), Phase::Head { .. }));
        assert_eq!(phase_after(&[]), Phase::Waiting);
        assert_eq!(phase_after(&[b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\x00\x00\x12\x04"]), Phase::Multiplexed);
    }
}
