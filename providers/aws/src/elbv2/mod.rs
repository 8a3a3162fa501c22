//! ELBv2 resource types and what they share: how a type's objects are described (its
//! [`Describe`], declared once) and the reads built on it (one object by ARN; up to 20 at
//! once, batched reads: one describe and one DescribeTags per 20 objects; all of them, by
//! tags), pages of describe answers, tags (kept apart from the objects in this API:
//! DescribeTags and AddTags).

pub mod listener;
pub mod load_balancer;
pub mod target_group;

use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Observed, Resource, Result, Tags};
use std::collections::{BTreeMap, HashMap, HashSet};

/// How many objects of a type one batched read asks for: ELBv2's describes and DescribeTags
/// take up to 20 ARNs.
pub const READ_BATCH: u32 = 20;

/// How one type's objects are described: its `Describe*` action, how it names them by ARN,
/// and where its answer lists them.
pub struct Describe {
    /// The action: `DescribeListeners`.
    pub action: &'static str,
    /// The parameter listing ARNs (`ListenerArns`, sent as `ListenerArns.member.N`).
    pub arns_param: &'static str,
    /// The answer's list: `Listeners`.
    pub list: &'static str,
    /// The object's ARN in the answer: `ListenerArn`.
    pub arn_field: &'static str,
}

impl Describe {
    /// Every object `params` selects, page by page.
    pub fn all(&self, aws: &Aws, params: Params) -> Result<Vec<Element>> {
        describe_all(aws, self.action, params, self.list)
    }

    /// The one object `arn`; `None` if not found.
    pub fn one(&self, aws: &Aws, arn: &str) -> Result<Option<Element>> {
        match self.all(aws, Params::new().members(self.arns_param, [arn])) {
            Ok(found) => Ok(found.into_iter().next()),
            Err(err) if err.kind == rkit_sdk::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// The objects with `arns` (at most 20), with their tags: one describe and one
    /// DescribeTags. An ARN that no longer exists fails the whole describe in this API: then
    /// each is described alone, and those gone are absent.
    pub fn many(&self, aws: &Aws, arns: &[&str]) -> Result<HashMap<String, (Element, Tags)>> {
        let objects = match self.all(aws, Params::new().members(self.arns_param, arns)) {
            Ok(found) => found,
            Err(err) if err.kind == rkit_sdk::ErrorKind::NotFound => {
                let mut found = Vec::new();
                for arn in arns {
                    found.extend(self.one(aws, arn)?);
                }
                found
            }
            Err(err) => return Err(err),
        };
        let found: Vec<String> = objects.iter().map(|o| o.string(self.arn_field)).collect();
        let mut tags = tags_of(aws, &found)?;
        Ok(objects
            .into_iter()
            .map(|o| {
                let arn = o.string(self.arn_field);
                let own = tags.remove(&arn).unwrap_or_default();
                (arn, (o, own))
            })
            .collect())
    }

    /// Of `objects`, those carrying all of `wanted`, with their tags.
    pub fn tagged(
        &self,
        aws: &Aws,
        objects: Vec<Element>,
        wanted: &Tags,
    ) -> Result<Vec<(Element, Tags)>> {
        let arns: Vec<String> = objects.iter().map(|o| o.string(self.arn_field)).collect();
        let mut tags = tags_of(aws, &arns)?;
        Ok(objects
            .into_iter()
            .filter_map(|o| {
                let have = tags.remove(&o.string(self.arn_field)).unwrap_or_default();
                wanted
                    .iter()
                    .all(|(k, v)| have.get(k) == Some(v))
                    .then_some((o, have))
            })
            .collect())
    }
}

/// A type read by describing its objects: its [`Describe`] and what it makes of an object
/// and its tags. Its `Resource::read` and `read_many` are [`read`] and [`read_many`]
/// (`described_reads!(elbv2)`).
pub trait Described: Resource<Provider = Aws> {
    const DESCRIBE: Describe;

    /// What the described `object` and its `tags` say of the resource last known as `known`.
    fn observe(
        aws: &Aws,
        object: &Element,
        known: &Self::Properties,
        tags: Tags,
    ) -> Result<Observed<Self>>;
}

/// `Resource::read` of a [`Described`] type: one describe by ARN and one DescribeTags, then
/// [`Described::observe`].
pub fn read<R: Described>(
    aws: &Aws,
    arn: &str,
    known: &R::Properties,
) -> Result<Option<Observed<R>>> {
    let Some(object) = R::DESCRIBE.one(aws, arn)? else {
        return Ok(None);
    };
    let tags = tags_of(aws, &[arn.to_string()])?
        .remove(arn)
        .unwrap_or_default();
    R::observe(aws, &object, known, tags).map(Some)
}

/// `Resource::read_many` of a [`Described`] type: [`Describe::many`] for the batch (each
/// ARN asked for once), then each item, in order, with what [`Described::observe`] makes of
/// its object and tags (`None` when it is gone; an ARN asked for twice is answered twice).
pub fn read_many<R: Described>(
    aws: &Aws,
    items: &[(&str, &R::Properties)],
) -> Result<Vec<Result<Option<Observed<R>>>>> {
    let mut arns: Vec<&str> = items.iter().map(|(arn, _)| *arn).collect();
    let mut seen = HashSet::new();
    arns.retain(|arn| seen.insert(*arn));
    let found = R::DESCRIBE.many(aws, &arns)?;
    Ok(items
        .iter()
        .map(|(arn, known)| match found.get(*arn) {
            Some((object, tags)) => R::observe(aws, object, known, tags.clone()).map(Some),
            None => Ok(None),
        })
        .collect())
}

/// The entries of `list` in every page of `action`'s answer (`Marker`/`NextMarker`).
fn describe_all(aws: &Aws, action: &str, params: Params, list: &str) -> Result<Vec<Element>> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = params.clone().opt("Marker", marker.as_deref());
        let root = aws.api.elbv2(action, page)?;
        let result = root
            .child(&format!("{action}Result"))
            .cloned()
            .unwrap_or_default();
        found.extend(result.items(list).cloned());
        match result.text("NextMarker") {
            Some(next) => marker = Some(next.to_string()),
            None => return Ok(found),
        }
    }
}

/// The tags of each of `arns` (DescribeTags takes 20 at a time).
fn tags_of(aws: &Aws, arns: &[String]) -> Result<BTreeMap<String, Tags>> {
    let mut found = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let root = aws
            .api
            .elbv2("DescribeTags", Params::new().members("ResourceArns", chunk))?;
        for d in root.items("DescribeTagsResult/TagDescriptions") {
            found.insert(d.string("ResourceArn"), d.tags("Tags"));
        }
    }
    Ok(found)
}

/// Adds `tags` to the object `arn` (an update keeps tags in step with the spec).
pub fn add_tags(aws: &Aws, arn: &str, tags: &Tags) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    aws.api.elbv2(
        "AddTags",
        Params::new()
            .members("ResourceArns", [arn])
            .elbv2_tags(tags),
    )?;
    Ok(())
}
