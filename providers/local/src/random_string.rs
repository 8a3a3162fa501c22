//! `RandomString`: a random string drawn once at creation and kept (its computed `Value`).
//! Every property is force-new: a new length or charset means a new string.

use crate::Local;
use crate::meta::{self, Sidecar};
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

const ALPHANUMERIC: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const MAX_LENGTH: u32 = 4096;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct RandomStringProperties {
    /// Number of characters, 1 to 4096.
    pub length: u32,
    /// The characters to draw from (default: ASCII letters and digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct RandomStringAttributes {
    /// The random string.
    #[schemars(extend("sensitive" = true))]
    pub value: String,
}

pub struct RandomString;

impl RandomStringProperties {
    fn charset(&self) -> Vec<char> {
        let mut chars: Vec<char> = self
            .charset
            .as_deref()
            .unwrap_or(ALPHANUMERIC)
            .chars()
            .collect();
        chars.sort_unstable();
        chars.dedup();
        chars
    }
}

/// Draws `length` characters uniformly from `charset` (rejection sampling: no modulo bias).
fn draw(length: u32, charset: &[char]) -> Result<String> {
    let n = charset.len();
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(length as usize);
    let mut buf = [0u8; 64];
    while out.chars().count() < length as usize {
        getrandom::fill(&mut buf).map_err(|e| Error::other(format!("random source: {e}")))?;
        for &b in &buf {
            if (b as usize) < limit && out.chars().count() < length as usize {
                out.push(charset[b as usize % n]);
            }
        }
    }
    Ok(out)
}

fn new_id() -> Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| Error::other(format!("random source: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Resource for RandomString {
    type Provider = Local;
    type Properties = RandomStringProperties;
    type Attributes = RandomStringAttributes;
    const TYPE: &'static str = "RandomString";
    const DESCRIPTION: &'static str = "A random string, drawn once and kept";
    const FORCE_NEW: &'static [&'static str] = &["Length", "Charset"];

    fn validate(props: &RandomStringProperties) -> Vec<Diagnostic> {
        let mut diagnostics = Vec::new();
        if props.length == 0 || props.length > MAX_LENGTH {
            diagnostics.push(Diagnostic::error(
                "Length",
                format!("must be between 1 and {MAX_LENGTH}, not {}", props.length),
            ));
        }
        let charset = props.charset();
        if charset.is_empty() || charset.len() > 256 {
            diagnostics.push(Diagnostic::error(
                "Charset",
                "must hold between 1 and 256 distinct characters",
            ));
        }
        diagnostics
    }

    fn create(
        _: &Local,
        props: &RandomStringProperties,
        tags: &Tags,
    ) -> Result<Created<RandomStringAttributes>> {
        let id = new_id()?;
        let attributes = RandomStringAttributes {
            value: draw(props.length, &props.charset())?,
        };
        meta::write(
            Self::TYPE,
            &id,
            &Sidecar {
                tags: tags.clone(),
                properties: props,
                attributes: &attributes,
            },
        )?;
        Ok(Created { id, attributes })
    }

    fn read(_: &Local, id: &str, _: &RandomStringProperties) -> Result<Option<Observed<Self>>> {
        Ok(
            meta::read::<RandomStringProperties, RandomStringAttributes>(Self::TYPE, id)?.map(
                |s| Observed {
                    id: id.to_string(),
                    properties: s.properties,
                    attributes: s.attributes,
                    tags: s.tags,
                },
            ),
        )
    }

    fn delete(_: &Local, id: &str, _: &RandomStringProperties) -> Result<()> {
        meta::remove(Self::TYPE, id)
    }

    fn list(p: &Local, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        crate::list_recorded::<Self>(p, tags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_only_from_the_charset() {
        let s = draw(500, &['a', 'b', 'c']).unwrap();
        assert_eq!(s.chars().count(), 500);
        assert!(s.chars().all(|c| "abc".contains(c)));
        assert!(s.contains('a') && s.contains('b') && s.contains('c'));
    }
}
