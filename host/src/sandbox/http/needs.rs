//! What a routed request needs: every IAM action it implies, each on the resources it names.
//!
//! - The operation's own action (or its `...Version` form when S3's `versionId` is given), on
//!   the request's resources: S3's bucket or object from the path (and each key a
//!   `DeleteObjects` body lists), EC2's resource IDs in `...Id` fields, ELBv2's ARNs in
//!   `...Arn` fields (as `arn:aws:ec2:REGION::TYPE/ID`: the account is not known here).
//! - The actions IAM adds for what the request carries (the table's implied rules: ACL,
//!   tagging and object-lock headers, tags on create, an instance profile), on the same
//!   resources; and for `x-amz-copy-source`, `s3:GetObject` (or `GetObjectVersion`) on the
//!   source.
//!
//! Invariants: nothing here decides; [`super::actions::ApiActions::check`] does. A resource
//! this file cannot read is not invented: a request whose resources are unknown names none,
//! and a grant limited to resources refuses it.

use super::aws_api::Mode;
use super::route::{Routed, top};
use percent_encoding::percent_decode_str;

/// One IAM action a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    /// `service:Action`, as IAM spells it.
    pub action: String,
    /// The ARNs it acts on, as far as the gate can read them (none: unknown).
    pub resources: Vec<String>,
    /// What in the request implies it (`header x-amz-acl`), when it is not the operation's
    /// own action.
    pub why: Option<String>,
}

/// Every action `routed` (with its `body`) needs in `region`.
pub fn needs(routed: &Routed, body: &[u8], region: &str) -> Result<Vec<Need>, String> {
    let op = routed.operation;
    let s = &routed.signals;
    let resources = own_resources(routed, body, region)?;
    let mut action = op.action.clone();
    let mut why = None;
    for rule in op.implied.iter().filter(|r| r.mode == Mode::Replaces) {
        if s.get(&rule.signal).is_some() {
            action = rule.action.clone();
            why = Some(describe(&rule.signal));
        }
    }
    let mut out = vec![Need {
        action,
        resources: resources.clone(),
        why,
    }];
    for rule in &op.implied {
        let Some(value) = s.get(&rule.signal) else {
            continue;
        };
        match rule.mode {
            Mode::Replaces => {}
            Mode::Adds => out.push(Need {
                action: rule.action.clone(),
                resources: resources.clone(),
                why: Some(describe(&rule.signal)),
            }),
            Mode::OnSource => out.push(copy_source(value, &rule.action)?),
        }
    }
    if op.name == "DeleteObjects" && delete_list(body)?.1 {
        out.push(Need {
            action: "s3:DeleteObjectVersion".into(),
            resources,
            why: Some("a VersionId in its body".into()),
        });
    }
    Ok(out)
}

fn describe(signal: &str) -> String {
    let (kind, name) = signal.split_at_checked(2).unwrap_or(("", signal));
    let kind = match kind {
        "h:" => "header",
        "q:" => "query key",
        _ => "field",
    };
    format!("{kind} {name}")
}

/// The resources the request itself names.
fn own_resources(routed: &Routed, body: &[u8], region: &str) -> Result<Vec<String>, String> {
    let s = &routed.signals;
    match routed.service.signing_name.as_str() {
        "s3" => {
            let Some(bucket) = s.get("l:Bucket") else {
                return Ok(Vec::new());
            };
            if !bucket_name(bucket) {
                return Err(format!(
                    "its bucket {} is not a valid S3 bucket name",
                    crate::text::escaped(bucket)
                ));
            }
            if routed.operation.name == "DeleteObjects" {
                return delete_list(body).map(|(keys, _)| {
                    keys.iter()
                        .map(|k| format!("arn:aws:s3:::{bucket}/{k}"))
                        .collect()
                });
            }
            Ok(vec![match s.get("l:Key") {
                Some(key) => format!("arn:aws:s3:::{bucket}/{key}"),
                None => format!("arn:aws:s3:::{bucket}"),
            }])
        }
        "ec2" => Ok(s
            .form
            .iter()
            .filter(|(k, _)| {
                let t = top(k);
                t.ends_with("Id") || t.ends_with("Ids")
            })
            .filter_map(|(_, v)| ec2_arn(v, region))
            .collect()),
        "elasticloadbalancing" => Ok(s
            .form
            .iter()
            .filter(|(k, v)| {
                let t = top(k);
                (t.ends_with("Arn") || t.ends_with("Arns")) && v.starts_with("arn:")
            })
            .map(|(_, v)| v.clone())
            .collect()),
        _ => Ok(Vec::new()),
    }
}

/// S3's bucket naming rules (3 to 63 of `a-z0-9.-`, starting and ending alphanumeric).
fn bucket_name(b: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && edge(b.chars().next())
        && edge(b.chars().last())
}

/// The partition of `region` (`aws`, `aws-cn`, `aws-us-gov`).
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARN of the EC2 resource `id` (`vpc-0abc…`), if it is one the gate recognises.
fn ec2_arn(id: &str, region: &str) -> Option<String> {
    const TYPES: [(&str, &str); 22] = [
        ("vpc", "vpc"),
        ("subnet", "subnet"),
        ("i", "instance"),
        ("sg", "security-group"),
        ("vol", "volume"),
        ("rtb", "route-table"),
        ("igw", "internet-gateway"),
        ("eni", "network-interface"),
        ("eipalloc", "elastic-ip"),
        ("ami", "image"),
        ("snap", "snapshot"),
        ("nat", "natgateway"),
        ("acl", "network-acl"),
        ("pcx", "vpc-peering-connection"),
        ("lt", "launch-template"),
        ("key", "key-pair"),
        ("vpce", "vpc-endpoint"),
        ("tgw", "transit-gateway"),
        ("eigw", "egress-only-internet-gateway"),
        ("dopt", "dhcp-options"),
        ("fl", "vpc-flow-log"),
        ("pl", "prefix-list"),
    ];
    let (prefix, hex) = id.split_once('-')?;
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (_, kind) = TYPES.iter().find(|(p, _)| *p == prefix)?;
    Some(format!(
        "arn:{}:ec2:{region}::{kind}/{id}",
        partition(region)
    ))
}

/// `s3:GetObject` (or `GetObjectVersion`) on the source of `x-amz-copy-source`
/// (`[/]BUCKET/KEY[?versionId=V]`, URL-encoded).
fn copy_source(value: &str, action: &str) -> Result<Need, String> {
    let bad = || {
        format!(
            "its x-amz-copy-source {} is not BUCKET/KEY",
            crate::text::escaped(value)
        )
    };
    let (path, query) = value.split_once('?').unwrap_or((value, ""));
    let path = percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| bad())?
        .into_owned();
    let (bucket, key) = path
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(bad)?;
    if !bucket_name(bucket) || key.is_empty() || key.chars().any(char::is_control) {
        return Err(bad());
    }
    let versioned = form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == "versionId");
    let action = if versioned {
        format!("{action}Version")
    } else {
        action.to_string()
    };
    Ok(Need {
        action,
        resources: vec![format!("arn:aws:s3:::{bucket}/{key}")],
        why: Some("header x-amz-copy-source (the copy reads its source)".into()),
    })
}

/// The keys a `DeleteObjects` body lists, and whether it names versions; refused if it is
/// not plain XML (no DOCTYPE, comment or CDATA section: S3 would read those, the gate need
/// not).
fn delete_list(body: &[u8]) -> Result<(Vec<String>, bool), String> {
    let text = std::str::from_utf8(body).map_err(|_| "its DeleteObjects body is not UTF-8")?;
    if text.contains("<!") {
        return Err("its DeleteObjects body holds a DOCTYPE, comment or CDATA section".into());
    }
    let document = roxmltree::Document::parse(text)
        .map_err(|e| format!("its DeleteObjects body is not XML: {e}"))?;
    let keys = document
        .descendants()
        .filter(|n| n.has_tag_name("Key"))
        .map(|n| n.text().unwrap_or_default().to_string())
        .collect();
    let versions = document.descendants().any(|n| n.has_tag_name("VersionId"));
    Ok((keys, versions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec2_ids_become_arns_in_their_partition() {
        assert_eq!(
            ec2_arn("vpc-0a1b", "us-east-1").as_deref(),
            Some("arn:aws:ec2:us-east-1::vpc/vpc-0a1b")
        );
        assert_eq!(
            ec2_arn("i-12", "cn-north-1").as_deref(),
            Some("arn:aws-cn:ec2:cn-north-1::instance/i-12")
        );
        for not in ["vpc-", "vpc-xyz", "rtbassoc-12", "10.0.0.0/16", "i"] {
            assert_eq!(ec2_arn(not, "us-east-1"), None, "{not}");
        }
    }

    #[test]
    fn copy_sources_are_read_as_s3_reads_them() {
        let need = copy_source("/src-bucket/a%20b/c.txt?versionId=3", "s3:GetObject").unwrap();
        assert_eq!(need.action, "s3:GetObjectVersion");
        assert_eq!(need.resources, ["arn:aws:s3:::src-bucket/a b/c.txt"]);
        let need = copy_source("src-bucket/k", "s3:GetObject").unwrap();
        assert_eq!(need.action, "s3:GetObject");
        for bad in ["nokey", "/B/k", "/b/", "/bucket/%FF"] {
            assert!(copy_source(bad, "s3:GetObject").is_err(), "{bad}");
        }
    }

    #[test]
    fn delete_objects_bodies_name_their_keys() {
        let body = b"<Delete><Object><Key>a/1</Key></Object><Object><Key>b&amp;2</Key><VersionId>v</VersionId></Object></Delete>";
        assert_eq!(
            delete_list(body).unwrap(),
            (vec!["a/1".into(), "b&2".into()], true)
        );
        assert!(delete_list(b"<Delete><Key><![CDATA[x]]></Key></Delete>").is_err());
        assert!(delete_list(b"not xml").is_err());
    }

    #[test]
    fn bucket_names_follow_s3s_rules() {
        for good in ["abc", "my-bucket.2", "a1b"] {
            assert!(bucket_name(good), "{good}");
        }
        for bad in ["ab", "Abc", "-abc", "abc-", "a_b", "a/b", &"a".repeat(64)] {
            assert!(!bucket_name(bad), "{bad}");
        }
    }
}
