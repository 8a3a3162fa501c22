//! `converge --listen ADDR`: `/healthz` and `/metrics` (Prometheus text) over HTTP/1 (hyper),
//! on loopback unless an address says otherwise. Read-only: nothing it serves changes
//! anything, and it serves nothing but the counters.

use crate::engine::Metrics;
use anyhow::{Context as _, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// `ADDR` as given: `HOST:PORT`, or `:PORT` for loopback.
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let full = match text.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => text.to_string(),
    };
    full.parse()
        .map_err(|_| format!("{text:?}: expected HOST:PORT or :PORT (loopback)"))
}

/// Binds `addr` and answers until the process ends; the bound address.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--listen {addr}: cannot listen"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = respond(&request, &metrics);
                    async move { Ok::<_, Infallible>(response) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Ok(bound)
}

fn respond<B>(request: &Request<B>, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match request.uri().path() {
        "/metrics" => (
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.prometheus(),
        ),
        "/healthz" if metrics.healthy.load(Ordering::Relaxed) => {
            (StatusCode::OK, "text/plain", "ok\n".to_string())
        }
        "/healthz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            format!(
                "the last tick failed: {}\n",
                metrics
                    .last_error
                    .lock()
                    .expect("metrics")
                    .clone()
                    .unwrap_or_else(|| "an operation failed".into())
            ),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: /healthz or /metrics\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_port_listens_on_loopback() {
        assert_eq!(
            parse_listen(":9100").unwrap(),
            "127.0.0.1:9100".parse().unwrap()
        );
        assert!(parse_listen("nowhere").is_err());
    }
}
