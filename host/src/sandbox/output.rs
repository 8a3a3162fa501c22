//! The guest's stdout and stderr: kept in a small ring so that the last lines a provider
//! printed (a panic message, say) can be shown with the error of a failed call.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// How much of the guest's output is kept.
const KEEP_BYTES: usize = 8 * 1024;

/// The tail of what a guest wrote to stdout and stderr.
#[derive(Clone, Default)]
pub struct GuestOutput(Arc<Mutex<VecDeque<u8>>>);

impl GuestOutput {
    /// Takes what was written since the last call, as trimmed text.
    pub fn take(&self) -> String {
        let bytes: Vec<u8> = self.0.lock().expect("output lock").drain(..).collect();
        String::from_utf8_lossy(&bytes).trim().to_string()
    }
}

impl AsyncWrite for GuestOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let mut ring = self.0.lock().expect("output lock");
        ring.extend(buf);
        let excess = ring.len().saturating_sub(KEEP_BYTES);
        ring.drain(..excess);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}
