//! The outgoing-HTTP gate: the `send_request` hook of wasi-http. It forwards requests to
//! granted destinations and denies everything else with `HttpRequestDenied`, recording what it
//! denied (and why) so the call's error can say which capability was missing.
//!
//! Invariants, for every request:
//! - the destination (scheme, host, port) must match a grant;
//! - it carries no `Host` header but its URL's;
//! - a request to an endpoint resolved for the provider's credentials must carry no
//!   `Authorization` of its own; its body is read (bounded) and it is routed to one operation
//!   as the service itself routes it ([`super::route`]); every IAM action it needs
//!   ([`super::needs`]: the operation's own, and those its headers and fields imply) must be
//!   declared and approved, on the resources it acts on ([`super::actions`]), and a Cloud
//!   Control request must name a resource type declared and approved
//!   ([`super::resource_types`]); only then is it
//!   signed here, with credentials the guest never sees; a request anywhere else is never
//!   signed;
//! - the connection goes to an address vetted by [`super::egress`] against
//!   [`super::addresses`] (no metadata, link-local, private or loopback address through a
//!   grant by name, loopback only for `localhost`); redirects are returned to the guest,
//!   never followed;
//! - a signed request is sent again (re-signed) only where repeating it is harmless, per
//!   [`super::retry`], and one write at most [`super::send_budget::MAX_SENDS`] times per
//!   operation in all.

use super::actions::ApiActions;
use super::allow::HttpAllow;
use super::resource_types::ResourceTypes;
use super::send_budget::{self, SendBudget};
use super::signing::{AwsSigner, Signable};
use super::{egress, needs, retry, route};
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
    pub resource_types: ResourceTypes,
    /// Requests let through, counted across the provider's instances.
    pub sent: AtomicU64,
}

/// The HTTP gate of one sandboxed instance.
pub struct HttpPolicy {
    gate: Arc<HttpGate>,
    /// Requests denied since the last [`HttpPolicy::take_denied`].
    denied: Arc<Mutex<Vec<String>>>,
    /// The send budget of the operation the current call belongs to.
    budget: Arc<SendBudget>,
}

impl HttpPolicy {
    pub fn new(gate: Arc<HttpGate>) -> Self {
        Self {
            gate,
            denied: Arc::default(),
            budget: Arc::default(),
        }
    }

    /// Starts a call: its requests count against the budget of the operation under way.
    pub fn begin_call(&mut self) {
        self.budget = send_budget::current();
    }

    /// The grant that allows `uri`, if any.
    fn grant(&self, uri: &http::Uri) -> Option<&HttpAllow> {
        let (scheme, host) = (uri.scheme_str()?, uri.host()?);
        self.gate
            .allowed
            .iter()
            .find(|a| a.allows(scheme, host, uri.port_u16()))
    }

    /// The descriptions of the requests denied since the last call.
    pub fn take_denied(&mut self) -> Vec<String> {
        std::mem::take(&mut *self.denied.lock().expect("denials lock"))
    }

    /// The grant `request` goes out under, or why it may not go to its destination at all.
    fn admit(&self, request: &http::Request<WasiBody>, what: &str) -> Result<&HttpAllow, String> {
        let Some(grant) = self.grant(request.uri()) else {
            let granted: Vec<String> = self.gate.allowed.iter().map(|a| a.to_string()).collect();
            return Err(format!(
                "{what} (granted: {})",
                if granted.is_empty() {
                    "no HTTP at all".to_string()
                } else {
                    granted.join(", ")
                }
            ));
        };
        // A Host header picks another site behind the same address: only the URL's own.
        let authority = request
            .uri()
            .authority()
            .map(|a| a.as_str())
            .unwrap_or_default();
        match request.headers().get(http::header::HOST) {
            Some(host) if !host.as_bytes().eq_ignore_ascii_case(authority.as_bytes()) => {
                Err(format!(
                    "{what}: its Host header {} is not its URL's host",
                    escaped(&String::from_utf8_lossy(host.as_bytes()))
                ))
            }
            _ => Ok(grant),
        }
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
        let budget = self.budget.clone();
        let what = format!(
            "HTTP {} {}",
            request.method(),
            escaped(&request.uri().to_string())
        );
        let localhost = match self.admit(&request, &what) {
            Ok(grant) => grant.names_localhost(),
            Err(why) => {
                let err = deny(&denied, why);
                return Box::new(async move { Err(err) });
            }
        };
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
            // Checked (and so read) before the name is resolved.
            let outgoing = match signed {
                Some(signer) => Outgoing::Signed(
                    check(request, &signer, &gate, &what)
                        .await
                        .map_err(|why| deny(&denied, why))?,
                    signer,
                ),
                None => Outgoing::Plain(request),
            };
            let addrs = egress::addresses(&host, port, localhost)
                .await
                .map_err(|why| deny(&denied, format!("{what}: {why}")))?;
            match outgoing {
                Outgoing::Plain(plain) => {
                    gate.sent.fetch_add(1, Ordering::Relaxed);
                    egress::send(plain, addrs, options).await
                }
                Outgoing::Signed(checked, signer) => {
                    let to = retry::Destination {
                        addrs: &addrs,
                        options,
                        sent: &gate.sent,
                        budget: &budget,
                    };
                    retry::send(&checked, &signer, to)
                        .await
                        .map_err(|e| match e {
                            retry::Failed::Http(e) => e,
                            retry::Failed::Refused(why) => deny(&denied, format!("{what}: {why}")),
                        })
                }
            }
        })
    }
}

/// A request on its way out: as the guest sent it, or checked for signing.
enum Outgoing {
    Plain(http::Request<WasiBody>),
    Signed(Signable, Arc<AwsSigner>),
}

/// Checks a request to an AWS endpoint: no signature of its own, routed to one operation as
/// the service would route it, every action it needs declared and approved on what it acts on.
async fn check(
    request: http::Request<WasiBody>,
    signer: &AwsSigner,
    gate: &HttpGate,
    what: &str,
) -> Result<Signable, String> {
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
    let uri = &parts.uri;
    let candidates = signer.services_at(
        uri.scheme_str().unwrap_or_default(),
        uri.host().unwrap_or_default(),
        uri.port_u16(),
    );
    let routed =
        route::route(&parts, &body, &candidates).map_err(|why| format!("{what}: {why}"))?;
    for need in
        needs::needs(&routed, &body, signer.region()).map_err(|why| format!("{what}: {why}"))?
    {
        gate.actions
            .check(&need)
            .map_err(|why| format!("{what}: {why}"))?;
    }
    gate.resource_types
        .check(&routed, &body)
        .map_err(|why| format!("{what}: {why}"))?;
    // Whatever signing headers the guest set, the host's replace them.
    for name in ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"] {
        parts.headers.remove(name);
    }
    let repeatable = parts.headers.remove(retry::REPEATABLE_HEADER).is_some();
    let operation = routed.operation.name.clone();
    Ok(Signable {
        what: format!("{}:{operation}", routed.service.signing_name),
        read_only: retry::read_only(&operation),
        service: routed.service.signing_name.clone(),
        operation,
        parts,
        body,
        repeatable,
    })
}
