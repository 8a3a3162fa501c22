//! Where a state lives: a file beside the spec (the default), or an object in S3
//! (`s3://BUCKET/KEY`, or the spec's `"State": {"Backend": "s3", …}`).
//!
//! Invariants: a location reads back from its own text (`Display` then `parse` is the
//! identity), so saved plans and messages name it the same way; a bucket name is checked as S3
//! checks it before any request is made; the S3 key never ends with `/`.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// A state in S3 (or an S3-compatible store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    pub key: String,
    /// `None`: from the AWS variables and files.
    pub region: Option<String>,
    /// `None`: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, or AWS's.
    pub endpoint: Option<String>,
}

/// Where a state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    S3(S3Location),
}

impl Location {
    /// `s3://BUCKET/KEY` (optionally `?region=R&endpoint=URL`), else a file path.
    pub fn parse(text: &str) -> Result<Self> {
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.is_empty() {
                bail!("the state's location is empty");
            }
            return Ok(Location::File(PathBuf::from(text)));
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some((bucket, key)) = path.split_once('/') else {
            bail!("{text:?}: expected s3://BUCKET/KEY");
        };
        let mut s3 = S3Location::new(bucket, key)?;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("region", r)) if !r.is_empty() => s3.region = Some(r.to_string()),
                Some(("endpoint", e)) if !e.is_empty() => s3.endpoint = Some(e.to_string()),
                _ => bail!("{text:?}: unknown option {pair:?} (region=…, endpoint=…)"),
            }
        }
        Ok(Location::S3(s3))
    }

    /// The file, for a file state.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Location::File(path) => Some(path),
            Location::S3(_) => None,
        }
    }
}

impl S3Location {
    /// Checks the bucket name as S3 does and the key.
    pub fn new(bucket: &str, key: &str) -> Result<Self> {
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid_bucket {
            bail!(
                "{bucket:?} is not an S3 bucket name (3 to 63 lowercase letters, digits, - and .)"
            );
        }
        let key = key.trim_start_matches('/');
        if key.is_empty() || key.ends_with('/') || key.len() > 900 {
            bail!("{key:?}: the state's key names an object (not empty, not ending with /)");
        }
        if key.chars().any(|c| c.is_control()) {
            bail!("the state's key has a control character");
        }
        Ok(Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
            region: None,
            endpoint: None,
        })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::S3(s3) => {
                write!(f, "s3://{}/{}", s3.bucket, s3.key)?;
                let mut sep = '?';
                if let Some(r) = &s3.region {
                    write!(f, "{sep}region={r}")?;
                    sep = '&';
                }
                if let Some(e) = &s3.endpoint {
                    write!(f, "{sep}endpoint={e}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::str::FromStr for Location {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        Location::parse(s)
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Location::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// The default state of the spec at `spec`: a file beside it, `<dir>/<stem>.rkit-state.json`.
pub fn beside(spec: &Path) -> Location {
    let stem = spec
        .file_stem()
        .map_or("spec".into(), |s| s.to_string_lossy());
    Location::File(spec.with_file_name(format!("{stem}.rkit-state.json")))
}

/// A spec's `"State"` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct StateSpec {
    /// `file` (the default) or `s3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// A file state's path, relative to the spec (default: `<stem>.rkit-state.json` beside it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Encryption at rest of the state and of saved plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<super::crypt::EncryptionSpec>,
}

impl StateSpec {
    /// Where it says the state of the spec at `spec` lives. The error is the message (the
    /// caller names the field).
    pub fn location(&self, spec: &Path) -> Result<Location, String> {
        match self.backend.as_deref().unwrap_or("file") {
            "file" => {
                if let Some(field) = [
                    ("Bucket", &self.bucket),
                    ("Key", &self.key),
                    ("Region", &self.region),
                    ("Endpoint", &self.endpoint),
                ]
                .iter()
                .find_map(|(name, v)| v.as_ref().map(|_| name))
                {
                    return Err(format!(
                        "{field} is for Backend \"s3\"; a file state takes Path"
                    ));
                }
                Ok(match &self.path {
                    None => beside(spec),
                    Some(path) if path.is_empty() => return Err("Path is empty".into()),
                    Some(path) => Location::File(spec.parent().unwrap_or(Path::new("")).join(path)),
                })
            }
            "s3" => {
                if self.path.is_some() {
                    return Err(
                        "Path is for Backend \"file\"; an S3 state takes Bucket and Key".into(),
                    );
                }
                let (Some(bucket), Some(key)) = (&self.bucket, &self.key) else {
                    return Err("Backend \"s3\" needs Bucket and Key".into());
                };
                let mut s3 = S3Location::new(bucket, key).map_err(|e| e.to_string())?;
                s3.region = self.region.clone();
                s3.endpoint = self.endpoint.clone();
                Ok(Location::S3(s3))
            }
            other => Err(format!(
                "Backend {other:?}: rkit keeps a state in a \"file\" (the default) or in \"s3\""
            )),
        }
    }

    /// Where the state's key comes from, if it is encrypted.
    pub fn key_from(&self) -> Option<&str> {
        self.encryption.as_ref().map(|e| e.key_from.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_read_back_from_their_text() {
        for text in [
            "s3://rkit-state/stacks/web.json",
            "s3://rkit-state/web.json?region=eu-west-1&endpoint=http://127.0.0.1:5000",
            "dir/web.rkit-state.json",
        ] {
            let l = Location::parse(text).unwrap();
            assert_eq!(l.to_string(), text);
            assert_eq!(Location::parse(&l.to_string()).unwrap(), l);
        }
        assert!(matches!(
            Location::parse("web.json").unwrap(),
            Location::File(_)
        ));
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        let err = |t: &str| Location::parse(t).unwrap_err().to_string();
        assert_eq!(
            err("s3://bucket"),
            "\"s3://bucket\": expected s3://BUCKET/KEY"
        );
        assert_eq!(
            err("s3://St/x"),
            "\"St\" is not an S3 bucket name (3 to 63 lowercase letters, digits, - and .)"
        );
        assert_eq!(
            err("s3://rkit-state/dir/"),
            "\"dir/\": the state's key names an object (not empty, not ending with /)"
        );
        let spec = |v: serde_json::Value| {
            serde_json::from_value::<StateSpec>(v)
                .unwrap()
                .location(Path::new("d/web.json"))
        };
        assert_eq!(
            spec(serde_json::json!({"Backend": "s3", "Bucket": "b"})).unwrap_err(),
            "Backend \"s3\" needs Bucket and Key"
        );
        assert_eq!(
            spec(serde_json::json!({"Bucket": "bkt"})).unwrap_err(),
            "Bucket is for Backend \"s3\"; a file state takes Path"
        );
        assert_eq!(
            spec(serde_json::json!({"Backend": "gcs"})).unwrap_err(),
            "Backend \"gcs\": rkit keeps a state in a \"file\" (the default) or in \"s3\""
        );
        assert_eq!(
            spec(serde_json::json!({"Encryption": {"KeyFrom": "env:K"}})).unwrap(),
            Location::File("d/web.rkit-state.json".into())
        );
        assert_eq!(
            spec(serde_json::json!({"Path": "s/x.json"})).unwrap(),
            Location::File("d/s/x.json".into())
        );
        assert_eq!(
            err("s3://rkit-state/k?colour=red"),
            "\"s3://rkit-state/k?colour=red\": unknown option \"colour=red\" (region=…, endpoint=…)"
        );
    }
}
