//! The outgoing-HTTP gate: the `send_request` hook of wasi-http, which forwards requests to
//! granted destinations and denies everything else with `HttpRequestDenied`, recording what
//! it denied so the host can say which capability was missing.

use super::grants::HttpAllow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

/// The HTTP gate of one sandboxed instance.
pub struct HttpPolicy {
    allowed: Arc<[HttpAllow]>,
    /// Requests let through, counted across the provider's instances.
    sent: Arc<AtomicU64>,
    /// Requests denied since the last [`HttpPolicy::take_denied`].
    denied: Vec<String>,
}

impl HttpPolicy {
    pub fn new(allowed: Arc<[HttpAllow]>, sent: Arc<AtomicU64>) -> Self {
        Self {
            allowed,
            sent,
            denied: Vec::new(),
        }
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.allowed
            .iter()
            .any(|a| a.allows(scheme, host, uri.port_u16()))
    }

    /// The descriptions of the requests denied since the last call.
    pub fn take_denied(&mut self) -> Vec<String> {
        std::mem::take(&mut self.denied)
    }
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if !self.allows(request.uri()) {
            let granted: Vec<String> = self.allowed.iter().map(|a| a.to_string()).collect();
            self.denied.push(format!(
                "HTTP {} {} (granted: {})",
                request.method(),
                request.uri(),
                if granted.is_empty() {
                    "no HTTP at all".to_string()
                } else {
                    granted.join(", ")
                }
            ));
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        let _ = fut;
        self.sent.fetch_add(1, Ordering::Relaxed);
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}
