//! API actions as a capability: which `service:Action`s a provider may call with the
//! credentials the host signs for it, and how a request's action is read.
//!
//! Invariants: deny by default (an empty grant allows nothing); a pattern is `service:Action`
//! or `service:Prefix*` with IAM's service prefixes (the SigV4 signing name); a request whose
//! action cannot be read, or is not a plain identifier, is refused like an undeclared one;
//! an S3 request with a subresource or parameter this file does not know names no action.

use std::fmt;

/// The actions one provider may call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiActions {
    patterns: Vec<(String, String)>,
}

/// A malformed action pattern.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid API action {0:?}: expected service:Action or service:Prefix* (e.g. ec2:CreateVpc, ec2:Describe*)"
)]
pub struct BadApiAction(pub String);

fn identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl ApiActions {
    /// Parses `service:Action` patterns.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, BadApiAction> {
        let mut parsed = Vec::new();
        for pattern in patterns {
            let text = pattern.as_ref();
            let bad = || BadApiAction(text.to_string());
            let (service, action) = text.split_once(':').ok_or_else(bad)?;
            let stem = action.strip_suffix('*').unwrap_or(action);
            if !identifier(service) || !(identifier(stem) || action == "*") {
                return Err(bad());
            }
            parsed.push((service.to_ascii_lowercase(), action.to_string()));
        }
        Ok(Self { patterns: parsed })
    }

    /// Whether `service:action` is allowed.
    pub fn allows(&self, service: &str, action: &str) -> bool {
        identifier(action)
            && self.patterns.iter().any(|(s, pattern)| {
                s.eq_ignore_ascii_case(service)
                    && match pattern.strip_suffix('*') {
                        Some(prefix) => action.starts_with(prefix),
                        None => action == pattern,
                    }
            })
    }
}

impl fmt::Display for ApiActions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.patterns.is_empty() {
            return f.write_str("none");
        }
        let all: Vec<String> = self
            .patterns
            .iter()
            .map(|(s, a)| format!("{s}:{a}"))
            .collect();
        f.write_str(&all.join(", "))
    }
}

/// The action a signed request calls: the JSON protocols' `X-Amz-Target` (`Service_Version.Action`)
/// or the Query protocol's `Action` form field. `None` if it names none.
pub fn action_of(target: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(target) = target {
        return target.rsplit('.').next().map(str::to_string);
    }
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "Action")
        .map(|(_, value)| value.into_owned())
}

/// The IAM action of an S3 REST request (path-style: `/BUCKET` or `/BUCKET/KEY`, the
/// subresource in the query: `?versioning`, `?tagging`, …), as IAM names what it needs:
/// `s3:CreateBucket`, `s3:PutBucketVersioning`, `s3:PutObject`, `s3:ListBucket` (which
/// listing and `HeadBucket` need). `None` for what it does not know: refused like an
/// undeclared action.
pub fn s3_action(method: &str, path: &str, query: Option<&str>) -> Option<String> {
    let path = path.strip_prefix('/')?;
    let (bucket, key) = match path.split_once('/') {
        Some((b, k)) => (b, k),
        None => (path, ""),
    };
    // The subresource: the first query key of those S3 gives a meaning.
    const SUBRESOURCES: [&str; 15] = [
        "versioning",
        "tagging",
        "policy",
        "acl",
        "cors",
        "lifecycle",
        "encryption",
        "publicAccessBlock",
        "ownershipControls",
        "website",
        "location",
        "versions",
        "delete",
        "uploads",
        "uploadId",
    ];
    // Parameters that change no action (listing, versions, parts, response headers).
    const PARAMETERS: [&str; 21] = [
        "list-type",
        "prefix",
        "delimiter",
        "max-keys",
        "continuation-token",
        "start-after",
        "encoding-type",
        "fetch-owner",
        "marker",
        "key-marker",
        "version-id-marker",
        "upload-id-marker",
        "versionId",
        "partNumber",
        "response-content-type",
        "response-content-disposition",
        "response-cache-control",
        "response-content-encoding",
        "response-content-language",
        "response-expires",
        "x-id",
    ];
    // Exactly one known subresource at most, and nothing unknown: `?replication` is not
    // `CreateBucket`.
    let mut sub = None;
    let mut version = false;
    for (name, _) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        version |= name == "versionId";
        match name.as_ref() {
            n if SUBRESOURCES.contains(&n) && sub.is_none() => sub = Some(n.to_string()),
            n if PARAMETERS.contains(&n) => {}
            _ => return None,
        }
    }
    let action = match (method, bucket.is_empty(), key.is_empty(), sub.as_deref()) {
        ("GET", true, _, None) => "ListAllMyBuckets",
        (_, true, _, _) => return None,
        // The bucket.
        ("PUT", _, true, None) => "CreateBucket",
        ("PUT", _, true, Some("versioning")) => "PutBucketVersioning",
        ("PUT", _, true, Some("tagging")) => "PutBucketTagging",
        ("PUT", _, true, Some("policy")) => "PutBucketPolicy",
        ("PUT", _, true, Some("acl")) => "PutBucketAcl",
        ("PUT", _, true, Some("cors")) => "PutBucketCORS",
        ("PUT", _, true, Some("lifecycle")) => "PutLifecycleConfiguration",
        ("PUT", _, true, Some("encryption")) => "PutEncryptionConfiguration",
        ("PUT", _, true, Some("publicAccessBlock")) => "PutBucketPublicAccessBlock",
        ("PUT", _, true, Some("ownershipControls")) => "PutBucketOwnershipControls",
        ("PUT", _, true, Some("website")) => "PutBucketWebsite",
        ("GET" | "HEAD", _, true, None) => "ListBucket",
        ("GET", _, true, Some("versions")) => "ListBucketVersions",
        ("GET", _, true, Some("versioning")) => "GetBucketVersioning",
        ("GET", _, true, Some("tagging")) => "GetBucketTagging",
        ("GET", _, true, Some("policy")) => "GetBucketPolicy",
        ("GET", _, true, Some("acl")) => "GetBucketAcl",
        ("GET", _, true, Some("cors")) => "GetBucketCORS",
        ("GET", _, true, Some("lifecycle")) => "GetLifecycleConfiguration",
        ("GET", _, true, Some("encryption")) => "GetEncryptionConfiguration",
        ("GET", _, true, Some("publicAccessBlock")) => "GetBucketPublicAccessBlock",
        ("GET", _, true, Some("ownershipControls")) => "GetBucketOwnershipControls",
        ("GET", _, true, Some("website")) => "GetBucketWebsite",
        ("GET", _, true, Some("location")) => "GetBucketLocation",
        ("GET", _, true, Some("uploads")) => "ListBucketMultipartUploads",
        ("DELETE", _, true, None) => "DeleteBucket",
        // IAM has no DeleteBucketTagging: removing tags needs PutBucketTagging.
        ("DELETE", _, true, Some("tagging")) => "PutBucketTagging",
        ("DELETE", _, true, Some("policy")) => "DeleteBucketPolicy",
        ("DELETE", _, true, Some("cors")) => "PutBucketCORS",
        ("DELETE", _, true, Some("lifecycle")) => "PutLifecycleConfiguration",
        ("DELETE", _, true, Some("encryption")) => "PutEncryptionConfiguration",
        ("DELETE", _, true, Some("publicAccessBlock")) => "PutBucketPublicAccessBlock",
        ("DELETE", _, true, Some("website")) => "DeleteBucketWebsite",
        ("POST", _, true, Some("delete")) => "DeleteObject",
        // An object.
        ("PUT", _, false, None | Some("uploadId")) => "PutObject",
        ("PUT", _, false, Some("tagging")) => "PutObjectTagging",
        ("PUT", _, false, Some("acl")) => "PutObjectAcl",
        // One version of an object: IAM's …Version actions.
        ("GET" | "HEAD", _, false, None) if version => "GetObjectVersion",
        ("DELETE", _, false, None) if version => "DeleteObjectVersion",
        ("GET" | "HEAD", _, false, None) => "GetObject",
        ("GET", _, false, Some("tagging")) => "GetObjectTagging",
        ("GET", _, false, Some("acl")) => "GetObjectAcl",
        ("GET", _, false, Some("uploadId")) => "ListMultipartUploadParts",
        ("DELETE", _, false, None) => "DeleteObject",
        ("DELETE", _, false, Some("tagging")) => "DeleteObjectTagging",
        ("DELETE", _, false, Some("uploadId")) => "AbortMultipartUpload",
        ("POST", _, false, Some("uploads" | "uploadId")) => "PutObject",
        _ => return None,
    };
    Some(action.to_string())
}

/// The API version a request names: the Query protocol's `Version` field, or the
/// `_Version` suffix of the JSON protocols' target prefix (`DynamoDB_20120810`).
pub fn api_version(target: Option<&str>, body: &[u8]) -> Option<String> {
    if let Some(target) = target {
        let prefix = target.rsplit_once('.')?.0;
        return prefix.rsplit_once('_').map(|(_, v)| v.to_string());
    }
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "Version")
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_and_prefix_patterns() {
        let a = ApiActions::parse(&["ec2:CreateVpc", "ec2:Describe*", "elasticloadbalancing:*"])
            .unwrap();
        assert!(a.allows("ec2", "CreateVpc"));
        assert!(a.allows("ec2", "DescribeVpcs"));
        assert!(a.allows("elasticloadbalancing", "CreateListener"));
        assert!(!a.allows("ec2", "CreateVpcs"));
        assert!(!a.allows("ec2", "DeleteVpc"));
        assert!(!a.allows("iam", "CreateVpc"));
        assert!(!a.allows("ec2", "Describe Vpcs"), "not an identifier");
        assert!(!ApiActions::default().allows("ec2", "DescribeVpcs"));
    }

    #[test]
    fn s3_requests_name_the_actions_iam_checks() {
        let a = |m, p, q| s3_action(m, p, q);
        assert_eq!(a("GET", "/", None).as_deref(), Some("ListAllMyBuckets"));
        assert_eq!(a("PUT", "/b", None).as_deref(), Some("CreateBucket"));
        assert_eq!(a("PUT", "/b/", None).as_deref(), Some("CreateBucket"));
        assert_eq!(
            a("PUT", "/b", Some("versioning")).as_deref(),
            Some("PutBucketVersioning")
        );
        assert_eq!(
            a("PUT", "/b", Some("tagging=")).as_deref(),
            Some("PutBucketTagging")
        );
        assert_eq!(
            a("DELETE", "/b", Some("tagging")).as_deref(),
            Some("PutBucketTagging")
        );
        assert_eq!(a("HEAD", "/b", None).as_deref(), Some("ListBucket"));
        assert_eq!(
            a("GET", "/b", Some("list-type=2&prefix=x")).as_deref(),
            Some("ListBucket")
        );
        assert_eq!(a("PUT", "/b/dir/k.txt", None).as_deref(), Some("PutObject"));
        assert_eq!(a("HEAD", "/b/k", None).as_deref(), Some("GetObject"));
        assert_eq!(
            a("GET", "/b/k", Some("tagging")).as_deref(),
            Some("GetObjectTagging")
        );
        assert_eq!(a("DELETE", "/b/k", None).as_deref(), Some("DeleteObject"));
        assert_eq!(
            a("DELETE", "/b/k", Some("versionId=3")).as_deref(),
            Some("DeleteObjectVersion")
        );
        // What it does not know is refused (None).
        assert_eq!(a("PATCH", "/b", None), None);
        assert_eq!(a("PUT", "/", None), None);
        assert_eq!(a("GET", "/b", Some("replication")), None);
        assert_eq!(a("PUT", "/b", Some("replication")), None);
        assert_eq!(a("PUT", "/b", Some("versioning&tagging")), None);
        assert_eq!(
            a("PUT", "/b/k", Some("partNumber=1&uploadId=x")).as_deref(),
            Some("PutObject")
        );
        assert_eq!(a("GET", "no-slash", None), None);
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for bad in [
            "CreateVpc",
            "ec2:",
            ":CreateVpc",
            "ec2:Create*Vpc",
            "ec 2:X",
            "ec2:A.B",
        ] {
            assert_eq!(
                ApiActions::parse(&[bad]).unwrap_err(),
                BadApiAction(bad.into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_action_comes_from_the_target_header_or_the_form() {
        assert_eq!(
            action_of(
                None,
                b"Version=2016-11-15&Action=CreateVpc&CidrBlock=10.0.0.0%2F16"
            )
            .as_deref(),
            Some("CreateVpc")
        );
        assert_eq!(
            action_of(Some("DynamoDB_20120810.PutItem"), b"{}").as_deref(),
            Some("PutItem")
        );
        assert_eq!(action_of(None, b"Version=1"), None);
        assert_eq!(
            api_version(None, b"Action=X&Version=2015-12-01").as_deref(),
            Some("2015-12-01")
        );
        assert_eq!(
            api_version(Some("DynamoDB_20120810.PutItem"), b"").as_deref(),
            Some("20120810")
        );
        assert_eq!(
            action_of(None, b"Action=Create%0AVpc").as_deref(),
            Some("Create\nVpc")
        );
    }
}
