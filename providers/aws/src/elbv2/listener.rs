//! `Listener` (ELBv2): CreateListener; port, protocol, certificates and default actions
//! change in place (ModifyListener); DeleteListener.

use super::load_balancer::LoadBalancer;
use super::{Describe, Described, add_tags};
use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Created, Diagnostic, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A default action: forward to a target group (or another type with its target group).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Action {
    /// `forward` (the one rkit manages fully), or another ELBv2 action type.
    pub r#type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Certificate {
    pub certificate_arn: String,
}

/// CreateListener's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ListenerProps {
    /// The load balancer (force-new).
    pub load_balancer_arn: String,
    /// `HTTP`, `HTTPS`, `TCP`, …
    pub protocol: String,
    pub port: u16,
    pub default_actions: Vec<Action>,
    /// For HTTPS and TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Vec<Certificate>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl_policy: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct ListenerAttrs {
    pub listener_arn: String,
}

pub struct Listener;

fn observed(e: &Element, known: Option<&ListenerProps>, tags: Tags) -> Observed<Listener> {
    let arn = e.string("ListenerArn");
    let certificates: Vec<Certificate> = e
        .items("Certificates")
        .map(|c| Certificate {
            certificate_arn: c.string("CertificateArn"),
        })
        .collect();
    Observed {
        properties: ListenerProps {
            load_balancer_arn: e.string("LoadBalancerArn"),
            protocol: e.string("Protocol"),
            port: e
                .text("Port")
                .and_then(|p| p.parse().ok())
                .unwrap_or_default(),
            default_actions: e
                .items("DefaultActions")
                .map(|a| Action {
                    r#type: a.string("Type"),
                    target_group_arn: a.text("TargetGroupArn").map(String::from),
                })
                .collect(),
            certificates: match known.map(|k| &k.certificates) {
                Some(None) if certificates.is_empty() => None,
                _ => Some(certificates),
            },
            ssl_policy: e.text("SslPolicy").map(String::from),
        },
        attributes: ListenerAttrs {
            listener_arn: arn.clone(),
        },
        tags,
        id: arn,
    }
}

/// The settings CreateListener and ModifyListener share.
fn settings(params: Params, p: &ListenerProps) -> Params {
    let mut params = params
        .set("Protocol", &p.protocol)
        .set("Port", p.port)
        .opt("SslPolicy", p.ssl_policy.as_deref());
    for (i, action) in p.default_actions.iter().enumerate() {
        let at = format!("DefaultActions.member.{}", i + 1);
        params = params.set(format!("{at}.Type"), &action.r#type).opt(
            &format!("{at}.TargetGroupArn"),
            action.target_group_arn.as_deref(),
        );
    }
    for (i, c) in p.certificates.iter().flatten().enumerate() {
        let at = format!("Certificates.member.{}.CertificateArn", i + 1);
        params = params.set(at, &c.certificate_arn);
    }
    params
}

impl Described for Listener {
    const DESCRIBE: Describe = Describe {
        action: "DescribeListeners",
        arns_param: "ListenerArns",
        list: "Listeners",
        arn_field: "ListenerArn",
    };

    fn observe(_: &Aws, e: &Element, known: &ListenerProps, tags: Tags) -> Result<Observed<Self>> {
        Ok(observed(e, Some(known), tags))
    }
}

impl Resource for Listener {
    type Provider = Aws;
    type Properties = ListenerProps;
    type Attributes = ListenerAttrs;
    const TYPE: &'static str = "Listener";
    const DESCRIPTION: &'static str = "An ELBv2 listener with its default actions";
    const FORCE_NEW: &'static [&'static str] = &["LoadBalancerArn"];

    fn validate(p: &ListenerProps) -> Vec<Diagnostic> {
        let mut found = Vec::new();
        if p.default_actions.is_empty() {
            found.push(Diagnostic::error(
                "DefaultActions",
                "a listener needs a default action",
            ));
        }
        for (i, a) in p.default_actions.iter().enumerate() {
            if a.r#type == "forward" && a.target_group_arn.is_none() {
                found.push(Diagnostic::error(
                    format!("DefaultActions[{i}].TargetGroupArn"),
                    "a forward action names its target group",
                ));
            }
        }
        if matches!(p.protocol.as_str(), "HTTPS" | "TLS")
            && p.certificates.as_ref().is_none_or(Vec::is_empty)
        {
            found.push(Diagnostic::error(
                "Certificates",
                format!("{} listeners need a certificate", p.protocol),
            ));
        }
        found
    }

    fn create(aws: &Aws, p: &ListenerProps, tags: &Tags) -> Result<Created<ListenerAttrs>> {
        // CreateListener is idempotent for the same settings: a retry returns the same one.
        let params = settings(
            Params::new().set("LoadBalancerArn", &p.load_balancer_arn),
            p,
        );
        let root = aws.api.elbv2("CreateListener", params.elbv2_tags(tags))?;
        let arn = root.string("CreateListenerResult/Listeners/member/ListenerArn");
        Ok(Created {
            attributes: ListenerAttrs {
                listener_arn: arn.clone(),
            },
            id: arn,
        })
    }

    described_reads!(elbv2);

    fn update(
        aws: &Aws,
        arn: &str,
        _: &ListenerProps,
        new: &ListenerProps,
        tags: &Tags,
    ) -> Result<ListenerAttrs> {
        aws.api.elbv2(
            "ModifyListener",
            settings(Params::new().set("ListenerArn", arn), new),
        )?;
        add_tags(aws, arn, tags)?;
        Ok(ListenerAttrs {
            listener_arn: arn.to_string(),
        })
    }

    fn delete(aws: &Aws, arn: &str, _: &ListenerProps) -> Result<()> {
        match aws
            .api
            .elbv2("DeleteListener", Params::new().set("ListenerArn", arn))
        {
            Err(err) if !err.is_not_found() => Err(err.into()),
            _ => Ok(()),
        }
    }

    fn list(aws: &Aws, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        let mut listeners = Vec::new();
        for lb in LoadBalancer::DESCRIBE.all(aws, Params::new())? {
            let of_lb = Params::new().set("LoadBalancerArn", lb.string("LoadBalancerArn"));
            listeners.extend(Self::DESCRIBE.all(aws, of_lb)?);
        }
        Ok(Self::DESCRIBE
            .tagged(aws, listeners, tags)?
            .into_iter()
            .map(|(l, tags)| observed(&l, None, tags))
            .collect())
    }
}
