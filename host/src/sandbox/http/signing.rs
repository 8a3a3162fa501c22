//! SigV4 signing on a provider's behalf: the credentials stay in the host and are used only on
//! requests to the endpoints that were resolved for them.
//!
//! Invariants: the secret never leaves this type (its `Debug` redacts it, nothing returns it);
//! [`AwsSigner::services_at`] knows only the resolved endpoints, so a request anywhere else is
//! never signed; what is signed is the request as it will be sent (method, URI, content type,
//! `X-Amz-Target`, the whole body).

use super::allow::HttpAllow;
use super::aws_api::{self, Service};
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::fmt;
use std::time::SystemTime;
use wasmtime_wasi_http::WasiBody;

/// One resolved service endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub origin: HttpAllow,
    /// The SigV4 signing name (`ec2`, `elasticloadbalancing`, `s3`): the service's entry in
    /// [`super::aws_api`], which says how its requests are routed.
    pub service: String,
}

/// Signs requests to one set of AWS endpoints with one set of credentials.
pub struct AwsSigner {
    /// Asked on every request (the chain refreshes temporary credentials before expiry);
    /// when it finds none, requests to the endpoints are refused, saying where they come from.
    credentials: SharedCredentialsProvider,
    /// The access key ID found when the signer was made, if any (for [`Self::access_key_hint`]).
    first_key: Option<String>,
    region: String,
    /// The resolved endpoints: origin and SigV4 signing name (`ec2`); services sharing one
    /// origin, as emulators do, are told apart by their protocol's own signals.
    endpoints: Vec<Endpoint>,
}

impl fmt::Debug for AwsSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSigner")
            .field("access_key", &self.access_key_hint())
            .field("region", &self.region)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

/// An access key ID with its middle masked (`AKIA…WXYZ`), to say whose credentials are used
/// without showing them.
pub fn access_key_hint(id: &str) -> String {
    if id.len() <= 8 || !id.is_ascii() {
        return "…".into();
    }
    format!("{}…{}", &id[..4], &id[id.len() - 4..])
}

impl AwsSigner {
    /// A signer for `endpoints` (origin, signing name) in `region`, with fixed keys.
    pub fn new(
        access_key: String,
        secret: String,
        session_token: Option<String>,
        region: String,
        endpoints: Vec<Endpoint>,
    ) -> Self {
        let first_key = Some(access_key.clone());
        let credentials = Credentials::new(access_key, secret, session_token, None, "rkit");
        Self::asking(
            SharedCredentialsProvider::new(credentials),
            first_key,
            region,
            endpoints,
        )
    }

    /// A signer for `endpoints` in `region` that asks `credentials` before each request;
    /// `first_key` is the access key ID it gave first, if any.
    pub fn asking(
        credentials: SharedCredentialsProvider,
        first_key: Option<String>,
        region: String,
        endpoints: Vec<Endpoint>,
    ) -> Self {
        Self {
            credentials,
            first_key,
            region,
            endpoints,
        }
    }

    /// The access key ID found first, its middle masked (`AKIA…WXYZ`); `none` if none was.
    pub fn access_key_hint(&self) -> String {
        self.first_key
            .as_deref()
            .map_or_else(|| "none".into(), access_key_hint)
    }

    /// Whether `scheme://host:port` is a resolved endpoint (requests there are signed).
    pub fn signs_for(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.origin.allows(scheme, host, port))
    }

    /// The services resolved at `scheme://host:port` (several where they share an origin).
    pub fn services_at(
        &self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
    ) -> Vec<&'static Service> {
        self.endpoints
            .iter()
            .filter(|e| e.origin.allows(scheme, host, port))
            .filter_map(|e| aws_api::service(&e.service))
            .collect()
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The headers that sign a request (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` with a session token).
    pub async fn sign(
        &self,
        service: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let credentials = self.credentials.provide_credentials().await.map_err(|e| {
            format!(
                "{NO_CREDENTIALS} ({})",
                crate::text::escape(&format!("{:#}", anyhow::Error::from(e)))
            )
        })?;
        let identity: Identity = credentials.into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(service)
            .time(SystemTime::now())
            .settings(settings(service))
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let signable = SignableRequest::new(
            method,
            uri,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("signing: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        Ok(instructions
            .headers()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }
}

/// What a request is refused with when no credentials are found, before the chain's reason.
const NO_CREDENTIALS: &str = "no AWS credentials: set AWS_ACCESS_KEY_ID and \
    AWS_SECRET_ACCESS_KEY, a profile in ~/.aws (AWS_PROFILE), web identity \
    (AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN), or run where a container or an instance \
    profile provides them";

/// How requests to `service` are signed: S3 wants its payload's hash in
/// `x-amz-content-sha256` and its paths encoded once and never normalised.
fn settings(service: &str) -> SigningSettings {
    let mut settings = SigningSettings::default();
    if service == "s3" {
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    }
    settings
}

/// A request to an AWS endpoint that passed the gate (routed, every action it needs
/// approved), its body read: it can be signed, anew for each attempt.
pub struct Signable {
    pub parts: http::request::Parts,
    pub body: bytes::Bytes,
    /// The signing name (`ec2`).
    pub service: String,
    /// The operation (`DescribeVpcs`), and `service:Operation` for messages.
    pub operation: String,
    pub what: String,
    /// Only reads: sent again on any failure that may pass.
    pub read_only: bool,
    /// The provider marked it safe to send again ([`super::retry::REPEATABLE_HEADER`]).
    pub repeatable: bool,
}

impl Signable {
    /// The request, signed now.
    pub async fn signed(&self, signer: &AwsSigner) -> Result<http::Request<WasiBody>, String> {
        let parts = &self.parts;
        // Every header that carries meaning is signed: the content type, the target, and
        // every x-amz-* header the provider set (S3's x-amz-tagging, ...), as SigV4 requires.
        let signed: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter(|(name, _)| {
                name.as_str().starts_with("x-amz-") || *name == http::header::CONTENT_TYPE
            })
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .collect();
        let headers = signer
            .sign(
                &self.service,
                parts.method.as_str(),
                &parts.uri.to_string(),
                &signed,
                &self.body,
            )
            .await?;
        let mut request = http::Request::new(super::egress::body(self.body.clone()));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> AwsSigner {
        AwsSigner::new(
            "AKIDEXAMPLEKEY1234".into(),
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            Some("SESSION".into()),
            "us-east-1".into(),
            ["ec2", "elasticloadbalancing"]
                .iter()
                .map(|service| Endpoint {
                    origin: HttpAllow::parse("http://127.0.0.1:5000").unwrap(),
                    service: service.to_string(),
                })
                .collect(),
        )
    }

    #[test]
    fn signs_only_for_resolved_endpoints_and_never_shows_the_secret() {
        let s = signer();
        let at = |port| -> Vec<&str> {
            s.services_at("http", "127.0.0.1", Some(port))
                .iter()
                .map(|s| s.signing_name.as_str())
                .collect()
        };
        assert_eq!(at(5000), ["ec2", "elasticloadbalancing"]);
        assert!(at(5001).is_empty());
        assert!(s.signs_for("http", "127.0.0.1", Some(5000)));
        assert!(!s.signs_for("https", "evil.example", None));
        let shown = format!("{s:?}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("SESSION"), "{shown}");
        assert_eq!(s.access_key_hint(), "AKID…1234");
    }

    #[tokio::test]
    async fn the_signature_covers_the_scope_and_carries_the_token() {
        let headers = signer()
            .sign(
                "ec2",
                "POST",
                "http://127.0.0.1:5000/",
                &[("content-type", "application/x-www-form-urlencoded")],
                b"Action=DescribeVpcs&Version=2016-11-15",
            )
            .await
            .unwrap();
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
                .unwrap_or_default()
        };
        assert!(
            get("authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLEKEY1234/"),
            "{headers:?}"
        );
        assert!(get("authorization").contains("/us-east-1/ec2/aws4_request"));
        assert!(!get("authorization").contains("wJalr"));
        assert_eq!(get("x-amz-security-token"), "SESSION");
    }
}
