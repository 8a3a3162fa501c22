//! EC2 resource types and what they share: how a type's objects are described (its
//! [`Describe`], declared once) and the reads built on it (one object by ID; many at once,
//! one request per 200 objects by an ID filter; all those carrying tags), tagging, undoing a
//! half-done create, CIDR checks.

pub mod instance;
pub mod internet_gateway;
pub mod route_table;
pub mod security_group;
pub mod subnet;
pub mod volume;
pub mod volume_attachment;
pub mod vpc;

use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Diagnostic, Error, Observed, Resource, Result, Tags};
use std::collections::{HashMap, HashSet};

/// How many objects of a type one batched read asks for: EC2 takes up to 200 values in one
/// filter.
pub const READ_BATCH: u32 = 200;

/// How one type's objects are described: its `Describe*` action, where the answer lists
/// them, and how they are named by ID.
pub struct Describe {
    /// The action: `DescribeVpcs`.
    pub action: &'static str,
    /// The answer's list: `vpcSet`.
    pub set: &'static str,
    /// The list inside each entry of `set` that holds the objects, where they are nested
    /// (`instancesSet`: DescribeInstances lists reservations); `None`: `set` lists them.
    pub nested: Option<&'static str>,
    /// The parameter naming one object (`VpcId`, sent as `VpcId.1`).
    pub id_param: &'static str,
    /// The filter selecting objects by ID in a batched read: `vpc-id`.
    pub filter: &'static str,
    /// The object's ID in the answer: `vpcId`.
    pub id_field: &'static str,
}

impl Describe {
    /// The object `id`; `None` when AWS answers that it does not exist.
    pub fn one(&self, aws: &Aws, id: &str) -> Result<Option<Element>> {
        let params = Params::new().set(format!("{}.1", self.id_param), id);
        match aws.api.ec2(self.action, params) {
            Ok(root) => Ok(root
                .items(self.set)
                .next()
                .and_then(|entry| match self.nested {
                    Some(list) => entry.items(list).next(),
                    None => Some(entry),
                })
                .cloned()),
            Err(err) if err.is_not_found() => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The objects with `ids`, described in one request (and its pages), keyed by ID. By
    /// the [`Self::filter`], not an ID list: an ID that no longer exists is simply absent,
    /// where in an ID list it fails the whole request.
    pub fn many(&self, aws: &Aws, ids: &[&str]) -> Result<HashMap<String, Element>> {
        let params = Params::new().filters([(self.filter.to_string(), ids.to_vec())]);
        Ok(self
            .objects(describe_pages(aws, self.action, self.set, params)?)
            .into_iter()
            .map(|e| (e.string(self.id_field), e))
            .collect())
    }

    /// Every object carrying all `tags` and matching `params`, page by page.
    pub fn tagged(&self, aws: &Aws, tags: &Tags, params: Params) -> Result<Vec<Element>> {
        let entries = describe_pages(aws, self.action, self.set, params.tag_filters(tags))?;
        Ok(self.objects(entries))
    }

    /// The objects of the entries of `set`: the entries, or the objects nested in them.
    fn objects(&self, entries: Vec<Element>) -> Vec<Element> {
        match self.nested {
            Some(list) => entries
                .iter()
                .flat_map(|e| e.items(list).cloned())
                .collect(),
            None => entries,
        }
    }
}

/// A type read by describing its objects: its [`Describe`] and what it makes of an object.
/// Its `Resource::read` and `read_many` are [`read`] and [`read_many`]
/// (`described_reads!(ec2)`).
pub trait Described: Resource<Provider = Aws> {
    const DESCRIBE: Describe;

    /// The ID of the object that holds the resource `id`, last known as `known`: its own
    /// ID, unless it lives on another object (an attachment on its volume).
    fn object_id<'a>(id: &'a str, _known: &'a Self::Properties) -> &'a str {
        id
    }

    /// What the described `object` says of the resource last known as `known`; `None` when
    /// it is as good as gone (a volume being deleted, a terminated instance).
    fn observe(
        aws: &Aws,
        object: &Element,
        known: &Self::Properties,
    ) -> Result<Option<Observed<Self>>>;
}

/// `Resource::read` of a [`Described`] type: one describe by ID, then
/// [`Described::observe`].
pub fn read<R: Described>(
    aws: &Aws,
    id: &str,
    known: &R::Properties,
) -> Result<Option<Observed<R>>> {
    match R::DESCRIBE.one(aws, R::object_id(id, known))? {
        Some(object) => R::observe(aws, &object, known),
        None => Ok(None),
    }
}

/// `Resource::read_many` of a [`Described`] type: one describe (and its pages) for the
/// batch ([`Describe::many`], each object asked for once), then each item, in order, with
/// what [`Described::observe`] makes of its object (`None` when it is absent).
pub fn read_many<R: Described>(
    aws: &Aws,
    items: &[(&str, &R::Properties)],
) -> Result<Vec<Result<Option<Observed<R>>>>> {
    let mut ids: Vec<&str> = items
        .iter()
        .map(|(id, known)| R::object_id(id, known))
        .collect();
    let mut seen = HashSet::new();
    ids.retain(|id| seen.insert(*id));
    let found = R::DESCRIBE.many(aws, &ids)?;
    Ok(items
        .iter()
        .map(|(id, known)| match found.get(R::object_id(id, known)) {
            Some(object) => R::observe(aws, object, known),
            None => Ok(None),
        })
        .collect())
}

/// Every item of `set` `action` answers with `params`, following `nextToken` page by page.
fn describe_pages(aws: &Aws, action: &str, set: &str, params: Params) -> Result<Vec<Element>> {
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = params.clone().opt("NextToken", token.as_deref());
        let root = aws.api.ec2(action, page)?;
        found.extend(root.items(set).cloned());
        match root.text("nextToken") {
            Some(next) => token = Some(next.to_string()),
            None => return Ok(found),
        }
    }
}

/// What a create answered, if it already says the object is ready (`ready`), else what
/// `wait` finds: no describe when the create's own answer shows the object usable.
pub fn ready_or_wait(
    created: Element,
    ready: impl Fn(&Element) -> bool,
    wait: impl FnOnce() -> Result<Element>,
) -> Result<Element> {
    if ready(&created) { Ok(created) } else { wait() }
}

/// Deletes `id` with `action` (`DeleteVpc` with `VpcId`), retrying while AWS says another
/// object still uses it (a terminated instance's interfaces take a while to go); one already
/// gone counts as deleted.
pub fn delete_when_free(aws: &Aws, what: &str, action: &str, param: &str, id: &str) -> Result<()> {
    aws.wait
        .while_in_use(&format!("{what} {id} to be free of dependents"), || {
            aws.api.ec2(action, Params::new().set(param, id)).map(drop)
        })
}

/// Adds `tags` to an existing object (an update keeps tags in step with the spec).
pub fn tag(aws: &Aws, id: &str, tags: &Tags) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    aws.api.ec2(
        "CreateTags",
        Params::new().set("ResourceId.1", id).ec2_tags(tags),
    )?;
    Ok(())
}

/// `result` of a create's later steps. If it failed for good, `undo` deletes the object made
/// in the first step, so a failed create leaves nothing behind (and if even that fails, the
/// error says so: the object keeps rkit's tags, and the next create adopts it). If it may pass
/// later (`transient`, `outcome-unknown`), the object stays: rkit lists it by its tags, adopts
/// it and updates what is missing, rather than deleting and making it again.
pub fn or_undo<T>(result: Result<T>, id: &str, undo: impl FnOnce() -> Result<()>) -> Result<T> {
    let err = match result {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    if matches!(
        err.kind,
        rkit_sdk::ErrorKind::Transient | rkit_sdk::ErrorKind::OutcomeUnknown
    ) {
        return Err(Error::new(
            rkit_sdk::ErrorKind::OutcomeUnknown,
            format!(
                "{} ({id} was made and is left for rkit to adopt)",
                err.message
            ),
        ));
    }
    match undo() {
        Ok(()) => Err(err),
        Err(undo_err) => Err(Error::new(
            err.kind,
            format!(
                "{}; deleting the half-made {id} failed too ({}); it carries rkit's tags and the \
                 next apply adopts it",
                err.message, undo_err.message
            ),
        )),
    }
}

/// An IPv4 CIDR block: address and prefix length.
pub fn parse_cidr(text: &str) -> Option<(u32, u8)> {
    let (addr, prefix) = text.split_once('/')?;
    let addr: std::net::Ipv4Addr = addr.parse().ok()?;
    let prefix: u8 = prefix.parse().ok().filter(|p| *p <= 32)?;
    Some((u32::from(addr), prefix))
}

/// Checks that `value` of `field` is an IPv4 CIDR block with a prefix in `prefixes`.
pub fn check_cidr(
    field: &str,
    value: &str,
    prefixes: std::ops::RangeInclusive<u8>,
) -> Vec<Diagnostic> {
    match parse_cidr(value) {
        None => vec![Diagnostic::error(
            field,
            format!("{value:?} is not an IPv4 CIDR block (a.b.c.d/n)"),
        )],
        Some((_, p)) if !prefixes.contains(&p) => vec![Diagnostic::error(
            field,
            format!(
                "the prefix /{p} is outside what AWS allows here (/{} to /{})",
                prefixes.start(),
                prefixes.end()
            ),
        )],
        Some((addr, p)) if p < 32 && addr & (u32::MAX >> p) != 0 => vec![Diagnostic::warning(
            field,
            format!("{value} has host bits set; AWS uses the network address"),
        )],
        Some(_) => Vec::new(),
    }
}

/// `Some(true)` or `Some(false)` for an EC2 boolean text.
pub fn boolean(text: Option<&str>) -> Option<bool> {
    text.map(|t| t == "true")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_blocks_are_checked() {
        assert_eq!(parse_cidr("10.0.0.0/16"), Some((0x0a00_0000, 16)));
        assert!(parse_cidr("10.0.0.0").is_none());
        assert!(parse_cidr("10.0.0.300/16").is_none());
        assert!(check_cidr("CidrBlock", "10.0.0.0/16", 16..=28).is_empty());
        assert!(
            check_cidr("CidrBlock", "10.0.0.0/8", 16..=28)[0]
                .message
                .contains("/8")
        );
        assert_eq!(check_cidr("CidrBlock", "x", 16..=28)[0].field, "CidrBlock");
        let host_bits = check_cidr("CidrBlock", "10.0.1.5/24", 16..=28);
        assert_eq!(host_bits[0].severity, rkit_sdk::Severity::Warning);
    }
}
