//! The listener the server accepts connections on. Every connection's bytes pass through unchanged,
//! except the few answers hyper writes by itself before any service runs (a request line or header
//! it cannot read: 400; a request target over 64 KiB: 414; a header section too large: 431). Those
//! come as a bare status with no body; here they are replaced, on the way out, by the same JSON
//! envelope and `x-request-id` as every other answer (CONTRACT §2).

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A TCP listener whose connections answer hyper's own rejections in the envelope.
pub struct EnvelopeListener(pub TcpListener);

/// The client's address, as the handlers that limit by address read it.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub SocketAddr);

impl Listener for EnvelopeListener {
    type Io = EnvelopeIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        (
            EnvelopeIo {
                inner: stream,
                pending: None,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl Connected<IncomingStream<'_, EnvelopeListener>> for ClientAddr {
    fn connect_info(stream: IncomingStream<'_, EnvelopeListener>) -> Self {
        ClientAddr(*stream.remote_addr())
    }
}

pub struct EnvelopeIo {
    inner: TcpStream,
    /// A replacement being written: its bytes, how many went out, and how many bytes of hyper's
    /// own answer it stands for.
    pending: Option<(Vec<u8>, usize, usize)>,
}

/// The envelope for one of hyper's bodiless rejections, or `None` for anything else. hyper writes
/// these heads with `content-length: 0`; every answer of the application has a body, so nothing
/// the application says is ever touched.
fn envelope_for(head: &[u8]) -> Option<Vec<u8>> {
    let (status, message) = if head.starts_with(b"HTTP/1.1 400 ") {
        (
            "400 Bad Request",
            "Bad request: the request line or a header could not be read",
        )
    } else if head.starts_with(b"HTTP/1.1 414 ") {
        ("414 URI Too Long", "The request URI is too long")
    } else if head.starts_with(b"HTTP/1.1 431 ") {
        (
            "431 Request Header Fields Too Large",
            "The request headers are too large",
        )
    } else {
        return None;
    };
    let text = std::str::from_utf8(head).ok()?;
    let bodiless = text.ends_with("\r\n\r\n")
        && text
            .lines()
            .any(|line| line.eq_ignore_ascii_case("content-length: 0"));
    if !bodiless {
        return None;
    }
    let body = serde_json::json!({"success": false, "message": message, "errors": []}).to_string();
    let id = uuid::Uuid::new_v4();
    Some(
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nx-request-id: {id}\r\n\
             connection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl AsyncRead for EnvelopeIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for EnvelopeIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.is_none() {
            match envelope_for(buf) {
                Some(replacement) => self.pending = Some((replacement, 0, buf.len())),
                None => return Pin::new(&mut self.inner).poll_write(cx, buf),
            }
        }
        // Write the replacement out in full, then tell hyper its own bytes went.
        loop {
            let this = &mut *self;
            let Some((bytes, written, stands_for)) = this.pending.as_mut() else {
                return Poll::Ready(Ok(buf.len()));
            };
            match Pin::new(&mut this.inner).poll_write(cx, &bytes[*written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    *written += n;
                    if *written == bytes.len() {
                        let stands_for = *stands_for;
                        this.pending = None;
                        return Poll::Ready(Ok(stands_for));
                    }
                }
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    // One buffer per write, so a head hyper writes by itself arrives whole in `poll_write`.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bodiless_rejections_are_replaced() {
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let replaced = String::from_utf8(envelope_for(hyper_400).unwrap()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(replaced.contains("x-request-id: "));
        assert!(
            replaced.ends_with(r#""success":false}"#) || replaced.contains(r#""success":false"#)
        );
        let app_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 52\r\n\r\n{\"success\":false}";
        assert!(envelope_for(app_400).is_none());
        assert!(envelope_for(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(envelope_for(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n"
        )
        .is_some());
    }
}
