//! Write coalescing under the WebSocket codec: every frame a socket task writes between two
//! flushes leaves in one system call.
//!
//! tungstenite is configured to hand each frame to its stream at once (`write_buffer_size(0)`,
//! so that its own buffer never holds more than the frame being written). Without this wrapper
//! that is one `write(2)` per frame; with it, bytes written are kept here until `poll_flush`,
//! and the socket task flushes once per batch of queued frames (`connection::write_batch`).
//! The buffer is released after each flush unless it is small, so an idle socket holds none of
//! it (an instance holds thousands of idle sockets, so a buffer kept by each would add up), and
//! it is drained as soon as it passes `limit`, so it stays bounded whatever the batch.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A buffer above this capacity is freed after a flush instead of kept for the next one.
const KEEP: usize = 512;

pub struct Coalesce<S> {
    inner: S,
    buf: Vec<u8>,
    /// How much of `buf` is already written (a write may take part of it).
    written: usize,
    limit: usize,
}

impl<S> Coalesce<S> {
    /// Buffers up to about `limit` bytes before writing through.
    pub fn new(inner: S, limit: usize) -> Coalesce<S> {
        Coalesce {
            inner,
            buf: Vec::new(),
            written: 0,
            limit,
        }
    }
}

impl<S: AsyncWrite + Unpin> Coalesce<S> {
    /// Writes out everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.written = 0;
        if self.buf.capacity() > KEEP {
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        if self.buf.len() >= self.limit {
            ready!(self.poll_drain(cx))?;
        }
        self.buf.extend_from_slice(data);
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn writes_leave_on_flush_in_order_and_the_buffer_is_bounded() {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut w = Coalesce::new(client, 8);
        w.write_all(b"abc").await.unwrap();
        w.write_all(b"def").await.unwrap();
        let mut got = [0u8; 16];
        let pending = tokio::time::timeout(std::time::Duration::from_millis(50), server.read(&mut got)).await;
        assert!(pending.is_err(), "nothing is written before the flush");
        w.write_all(b"ghij").await.unwrap(); // 6 bytes held, under the limit: held too
        w.write_all(b"klm").await.unwrap(); // 10 held, over the limit: those go out first
        let n = server.read(&mut got).await.unwrap();
        assert_eq!(&got[..n], b"abcdefghij");
        w.flush().await.unwrap();
        let n = server.read(&mut got).await.unwrap();
        assert_eq!(&got[..n], b"klm");
        assert!(w.buf.is_empty());
    }
}
