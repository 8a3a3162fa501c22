//! SigV4 signing on a provider's behalf: the credentials stay in the host and are used only on
//! requests to the endpoints that were resolved for them.
//!
//! Invariants: the secret never leaves this type (its `Debug` redacts it, nothing returns it);
//! [`AwsSigner::service_for`] knows only the resolved endpoints, so a request anywhere else is
//! never signed; what is signed is the request as it will be sent (method, URI, content type,
//! `X-Amz-Target`, the whole body).

use super::grants::HttpAllow;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use std::fmt;
use std::time::SystemTime;

/// One resolved service endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub origin: HttpAllow,
    /// The SigV4 signing name, also the IAM prefix of its actions (`ec2`).
    pub service: String,
    /// The API version its requests name (`Version=2016-11-15`).
    pub version: String,
}

/// Signs requests to one set of AWS endpoints with one set of credentials.
pub struct AwsSigner {
    /// `None`: none were found; requests to the endpoints are refused, saying so.
    credentials: Option<Credentials>,
    region: String,
    /// The resolved endpoints: origin, SigV4 signing name (`ec2`) and API version
    /// (`2016-11-15`, which tells services sharing one origin apart, as emulators do).
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

impl AwsSigner {
    /// A signer for `endpoints` (origin, signing name) in `region`.
    pub fn new(
        access_key: String,
        secret: String,
        session_token: Option<String>,
        region: String,
        endpoints: Vec<Endpoint>,
    ) -> Self {
        Self {
            credentials: Some(Credentials::new(
                access_key,
                secret,
                session_token,
                None,
                "rkit",
            )),
            region,
            endpoints,
        }
    }

    /// Endpoints known, but no credentials found: requests to them are refused with a message
    /// naming where credentials come from.
    pub fn without_credentials(region: String, endpoints: Vec<Endpoint>) -> Self {
        Self {
            credentials: None,
            region,
            endpoints,
        }
    }

    /// The access key ID with its middle masked (`AKIA…WXYZ`), to say whose credentials
    /// are used without showing them.
    pub fn access_key_hint(&self) -> String {
        let Some(credentials) = &self.credentials else {
            return "none".into();
        };
        let id = credentials.access_key_id();
        if id.len() <= 8 {
            return "…".into();
        }
        format!("{}…{}", &id[..4], &id[id.len() - 4..])
    }

    /// Whether `scheme://host:port` is a resolved endpoint (requests there are signed).
    pub fn signs_for(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.origin.allows(scheme, host, port))
    }

    /// The signing name of the service a request to `scheme://host:port` naming API
    /// `version` goes to: the endpoint's own, or, where services share the origin, the one
    /// whose API version the request names.
    pub fn service_for(
        &self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
        version: Option<&str>,
    ) -> Option<&str> {
        let at: Vec<&Endpoint> = self
            .endpoints
            .iter()
            .filter(|e| e.origin.allows(scheme, host, port))
            .collect();
        match at.as_slice() {
            [only] => Some(only.service.as_str()),
            several => several
                .iter()
                .find(|e| Some(e.version.as_str()) == version)
                .map(|e| e.service.as_str()),
        }
    }

    /// The headers that sign a request (`authorization`, `x-amz-date`, and
    /// `x-amz-security-token` with a session token).
    pub fn sign(
        &self,
        service: &str,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, String> {
        let Some(credentials) = &self.credentials else {
            return Err(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a \
                        profile in ~/.aws/credentials (AWS_PROFILE)"
                    .into(),
            );
        };
        let identity: Identity = credentials.clone().into();
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

/// The token that selects S3 on an origin several services share: S3's REST requests name no
/// API version, so the gate names this one for them.
pub const S3_VERSION: &str = "s3";

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
                .zip(["2016-11-15", "2015-12-01"])
                .map(|(service, version)| Endpoint {
                    origin: HttpAllow::parse("http://127.0.0.1:5000").unwrap(),
                    service: service.to_string(),
                    version: version.to_string(),
                })
                .collect(),
        )
    }

    #[test]
    fn signs_only_for_resolved_endpoints_and_never_shows_the_secret() {
        let s = signer();
        let at = |port, version| s.service_for("http", "127.0.0.1", Some(port), version);
        assert_eq!(at(5000, Some("2016-11-15")), Some("ec2"));
        assert_eq!(at(5000, Some("2015-12-01")), Some("elasticloadbalancing"));
        assert_eq!(
            at(5000, Some("2010-05-08")),
            None,
            "a shared origin needs a known API"
        );
        assert_eq!(at(5001, Some("2016-11-15")), None);
        assert!(s.signs_for("http", "127.0.0.1", Some(5000)));
        assert!(!s.signs_for("https", "evil.example", None));
        let shown = format!("{s:?}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("SESSION"), "{shown}");
        assert_eq!(s.access_key_hint(), "AKID…1234");
    }

    #[test]
    fn the_signature_covers_the_scope_and_carries_the_token() {
        let headers = signer()
            .sign(
                "ec2",
                "POST",
                "http://127.0.0.1:5000/",
                &[("content-type", "application/x-www-form-urlencoded")],
                b"Action=DescribeVpcs&Version=2016-11-15",
            )
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
