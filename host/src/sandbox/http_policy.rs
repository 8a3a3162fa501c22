//! The outgoing-HTTP gate: the `send_request` hook of wasi-http. It forwards requests to
//! granted destinations and denies everything else with `HttpRequestDenied`, recording what it
//! denied (and why) so the call's error can say which capability was missing.
//!
//! Invariants, for every request:
//! - the destination (scheme, host, port) must match a grant;
//! - a request to an endpoint resolved for the provider's credentials must carry no
//!   `Authorization` of its own; its body is read (bounded), its API action (Query `Action`,
//!   JSON `X-Amz-Target`, or S3's method, path and subresource, taken only by an S3
//!   endpoint) must be one the provider was granted, and only then is it signed here, with
//!   credentials the guest never sees; a request anywhere else is never signed;
//! - the connection goes to an address vetted by [`super::egress`] (no link-local or metadata
//!   address through a grant by name); redirects are returned to the guest, never followed;
//! - a signed request is sent again (re-signed) only where repeating it is harmless, per
//!   [`super::http_retry`].

use super::api_actions::{ApiActions, action_of, api_version, s3_action};
use super::aws_signing::AwsSigner;
use super::egress;
use super::grants::HttpAllow;
use super::http_retry;
use crate::text::escaped;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

type SendResult = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

/// The largest request body the gate reads to sign (AWS's Query and JSON requests are far
/// smaller).
const MAX_SIGNED_BODY: usize = 8 << 20;

/// What the gate of a provider's instances shares.
pub struct HttpGate {
    pub allowed: Vec<HttpAllow>,
    pub signer: Option<Arc<AwsSigner>>,
    pub actions: ApiActions,
    /// Requests let through, counted across the provider's instances.
    pub sent: AtomicU64,
}

/// The HTTP gate of one sandboxed instance.
pub struct HttpPolicy {
    gate: Arc<HttpGate>,
    /// Requests denied since the last [`HttpPolicy::take_denied`].
    denied: Arc<Mutex<Vec<String>>>,
}

impl HttpPolicy {
    pub fn new(gate: Arc<HttpGate>) -> Self {
        Self {
            gate,
            denied: Arc::default(),
        }
    }

    fn allows(&self, uri: &http::Uri) -> bool {
        let (Some(scheme), Some(host)) = (uri.scheme_str(), uri.host()) else {
            return false;
        };
        self.gate
            .allowed
            .iter()
            .any(|a| a.allows(scheme, host, uri.port_u16()))
    }

    /// The descriptions of the requests denied since the last call.
    pub fn take_denied(&mut self) -> Vec<String> {
        std::mem::take(&mut *self.denied.lock().expect("denials lock"))
    }
}

/// Records a denial and fails the request.
fn deny(denied: &Mutex<Vec<String>>, what: String) -> Error {
    denied.lock().expect("denials lock").push(what);
    Error::HttpRequestDenied
}

impl WasiHttpHooks for HttpPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        let _ = fut;
        let gate = self.gate.clone();
        let denied = self.denied.clone();
        let what = format!(
            "HTTP {} {}",
            request.method(),
            escaped(&request.uri().to_string())
        );
        if !self.allows(request.uri()) {
            let granted: Vec<String> = gate.allowed.iter().map(|a| a.to_string()).collect();
            let why = format!(
                "{what} (granted: {})",
                if granted.is_empty() {
                    "no HTTP at all".to_string()
                } else {
                    granted.join(", ")
                }
            );
            let err = deny(&denied, why);
            return Box::new(async move { Err(err) });
        }
        let uri = request.uri().clone();
        let scheme = uri.scheme_str().unwrap_or_default().to_string();
        let host = uri.host().unwrap_or_default().to_string();
        let port = uri
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        let signed = gate
            .signer
            .as_ref()
            .filter(|s| s.signs_for(&scheme, &host, uri.port_u16()))
            .cloned();
        Box::new(async move {
            // Checked (and so read) before the name is resolved, as before signing existed.
            let outgoing = match signed {
                Some(signer) => Outgoing::Signed(
                    check(request, &signer, &gate.actions, &what)
                        .await
                        .map_err(|why| deny(&denied, why))?,
                    signer,
                ),
                None => Outgoing::Plain(request),
            };
            let addrs = egress::addresses(&host, port)
                .await
                .map_err(|why| deny(&denied, format!("{what}: {why}")))?;
            match outgoing {
                Outgoing::Plain(plain) => {
                    gate.sent.fetch_add(1, Ordering::Relaxed);
                    egress::send(plain, addrs, options).await
                }
                Outgoing::Signed(checked, signer) => {
                    http_retry::send(&checked, &signer, &addrs, options, &gate.sent)
                        .await
                        .map_err(|e| match e {
                            http_retry::Failed::Http(e) => e,
                            http_retry::Failed::Signing(why) => {
                                deny(&denied, format!("{what}: {why}"))
                            }
                        })
                }
            }
        })
    }
}

/// A request on its way out: as the guest sent it, or checked for signing.
enum Outgoing {
    Plain(http::Request<WasiBody>),
    Signed(Checked, Arc<AwsSigner>),
}

/// A request to an AWS endpoint that passed the gate's checks (no own signature, a granted
/// action), body read: it can be signed (anew for each attempt).
pub struct Checked {
    parts: http::request::Parts,
    body: bytes::Bytes,
    service: String,
    target: Option<String>,
    content_type: Option<String>,
    /// The API action (`DescribeVpcs`, `CreateVpc`).
    pub action: String,
    /// The provider marked it safe to send again ([`super::http_retry::REPEATABLE_HEADER`]).
    pub repeatable: bool,
}

/// Checks a request to an AWS endpoint: no own signature, a granted action.
async fn check(
    request: http::Request<WasiBody>,
    signer: &AwsSigner,
    actions: &ApiActions,
    what: &str,
) -> Result<Checked, String> {
    use http_body_util::BodyExt;
    if request.headers().contains_key(http::header::AUTHORIZATION) {
        return Err(format!(
            "{what}: carries its own Authorization header; rkit signs requests to this endpoint itself"
        ));
    }
    let (mut parts, body) = request.into_parts();
    let body = http_body_util::Limited::new(body, MAX_SIGNED_BODY)
        .collect()
        .await
        .map_err(|e| format!("{what}: reading the body to sign it: {e}"))?
        .to_bytes();
    let target: Option<String> = parts
        .headers
        .get("x-amz-target")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| format!("{what}: X-Amz-Target is not text"))
        })
        .transpose()?;
    // The JSON protocols name their action in X-Amz-Target, the Query protocol in the form
    // it POSTs to `/`; anything else is S3's REST protocol (method, path and subresource),
    // and only an S3 endpoint takes it.
    let uri = &parts.uri;
    let query_style = parts.method == http::Method::POST && uri.path() == "/";
    let (action, version, rest) = match action_of(target.as_deref(), &body) {
        Some(action) if target.is_some() || query_style => {
            (action, api_version(target.as_deref(), &body), false)
        }
        _ => {
            let action =
                s3_action(parts.method.as_str(), uri.path(), uri.query()).ok_or_else(|| {
                    format!(
                        "{what}: names no API action (no Action field, no X-Amz-Target, no S3 \
                         request rkit knows)"
                    )
                })?;
            (
                action,
                Some(super::aws_signing::S3_VERSION.to_string()),
                true,
            )
        }
    };
    let service = signer
        .service_for(
            uri.scheme_str().unwrap_or_default(),
            uri.host().unwrap_or_default(),
            uri.port_u16(),
            version.as_deref(),
        )
        .ok_or_else(|| {
            format!(
                "{what}: names API version {}, which no service resolved at this endpoint speaks",
                escaped(version.as_deref().unwrap_or("(none)"))
            )
        })?
        .to_string();
    if rest && service != "s3" {
        return Err(format!(
            "{what}: names no API action (no Action field, no X-Amz-Target; {service} is not \
             S3)"
        ));
    }
    if !actions.allows(&service, &action) {
        return Err(format!(
            "{what}: API action {service}:{} was not declared and approved (the provider may call: {actions})",
            escaped(&action)
        ));
    }
    // Whatever signing headers the guest set, the host's replace them.
    for name in ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"] {
        parts.headers.remove(name);
    }
    let repeatable = parts
        .headers
        .remove(super::http_retry::REPEATABLE_HEADER)
        .is_some();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok(Checked {
        parts,
        body,
        service,
        target,
        content_type,
        action,
        repeatable,
    })
}

impl Checked {
    /// The request, signed now.
    pub fn signed(&self, signer: &AwsSigner) -> Result<http::Request<WasiBody>, String> {
        let parts = &self.parts;
        let mut signed: Vec<(&str, &str)> = Vec::new();
        if let Some(ct) = &self.content_type {
            signed.push(("content-type", ct));
        }
        if let Some(t) = &self.target {
            signed.push(("x-amz-target", t));
        }
        // Every other x-amz-* header the provider set (S3's x-amz-tagging, …) is signed too,
        // as SigV4 requires.
        for (name, value) in &parts.headers {
            if name.as_str().starts_with("x-amz-")
                && name != "x-amz-target"
                && let Ok(value) = value.to_str()
            {
                signed.push((name.as_str(), value));
            }
        }
        let headers = signer.sign(
            &self.service,
            parts.method.as_str(),
            &parts.uri.to_string(),
            &signed,
            &self.body,
        )?;
        let mut request = http::Request::new(egress::body(self.body.clone()));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        let out = request.headers_mut();
        for (name, value) in headers {
            let name = http::HeaderName::try_from(name).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::try_from(value).map_err(|e| e.to_string())?;
            out.insert(name, value);
        }
        out.insert(
            http::header::CONTENT_LENGTH,
            http::HeaderValue::from(self.body.len()),
        );
        out.remove(http::header::TRANSFER_ENCODING);
        Ok(request)
    }
}
