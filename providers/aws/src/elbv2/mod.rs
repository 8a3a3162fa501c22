//! ELBv2 resource types and what they share: pages of describe answers, tags (kept apart
//! from the objects in this API: DescribeTags and AddTags), lookups by ARN, one at a time or
//! 20 at once (batched reads: one describe and one DescribeTags per 20 objects).

pub mod listener;
pub mod load_balancer;
pub mod target_group;

use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Observed, Resource, Result, Tags};
use std::collections::{BTreeMap, HashMap};

/// The entries of `list` in every page of `action`'s answer (`Marker`/`NextMarker`).
pub fn describe_all(aws: &Aws, action: &str, params: Params, list: &str) -> Result<Vec<Element>> {
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

/// The one object `action` describes under `param.member.1` = `arn`; `None` if not found.
pub fn describe_arn(
    aws: &Aws,
    action: &str,
    param: &str,
    arn: &str,
    list: &str,
) -> Result<Option<Element>> {
    match describe_all(aws, action, Params::new().members(param, [arn]), list) {
        Ok(found) => Ok(found.into_iter().next()),
        Err(err) if err.kind == rkit_sdk::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err),
    }
}

/// How many objects of a type one batched read asks for: ELBv2's describes and DescribeTags
/// take up to 20 ARNs.
pub const READ_BATCH: u32 = 20;

/// The objects with `arns` (at most 20) that `action` describes under `param`, with their
/// tags: one describe and one DescribeTags. An ARN that no longer exists fails the whole
/// describe in this API: then each is described alone, and those gone are absent.
pub fn describe_arns(
    aws: &Aws,
    (action, param, list, arn_field): (&str, &str, &str, &str),
    arns: &[&str],
) -> Result<HashMap<String, (Element, Tags)>> {
    let objects = match describe_all(aws, action, Params::new().members(param, arns), list) {
        Ok(found) => found,
        Err(err) if err.kind == rkit_sdk::ErrorKind::NotFound => {
            let mut found = Vec::new();
            for arn in arns {
                found.extend(describe_arn(aws, action, param, arn, list)?);
            }
            found
        }
        Err(err) => return Err(err),
    };
    let found: Vec<String> = objects.iter().map(|o| o.string(arn_field)).collect();
    let mut tags = tags_of(aws, &found)?;
    Ok(objects
        .into_iter()
        .map(|o| {
            let arn = o.string(arn_field);
            let own = tags.remove(&arn).unwrap_or_default();
            (arn, (o, own))
        })
        .collect())
}

/// `read_many` from [`describe_arns`]: each requested ARN with what `observe` makes of its
/// object and tags (`None` when it is gone).
pub fn read_arns<R: Resource<Provider = Aws>>(
    aws: &Aws,
    items: &[(&str, &R::Properties)],
    describe: (&str, &str, &str, &str),
    observe: impl Fn(&Element, &R::Properties, Tags) -> Result<Observed<R>>,
) -> Result<Vec<Result<Option<Observed<R>>>>> {
    let arns: Vec<&str> = items.iter().map(|(arn, _)| *arn).collect();
    let mut found = describe_arns(aws, describe, &arns)?;
    Ok(items
        .iter()
        .map(|(arn, known)| match found.remove(*arn) {
            Some((e, tags)) => observe(&e, known, tags).map(Some),
            None => Ok(None),
        })
        .collect())
}

/// The tags of each of `arns` (DescribeTags takes 20 at a time).
pub fn tags_of(aws: &Aws, arns: &[String]) -> Result<BTreeMap<String, Tags>> {
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

/// Of `objects` (with their ARN at `arn_field`), those carrying all of `wanted`, with their tags.
pub fn tagged(
    aws: &Aws,
    objects: Vec<Element>,
    arn_field: &str,
    wanted: &Tags,
) -> Result<Vec<(Element, Tags)>> {
    let arns: Vec<String> = objects.iter().map(|o| o.string(arn_field)).collect();
    let mut tags = tags_of(aws, &arns)?;
    Ok(objects
        .into_iter()
        .filter_map(|o| {
            let have = tags.remove(&o.string(arn_field)).unwrap_or_default();
            wanted
                .iter()
                .all(|(k, v)| have.get(k) == Some(v))
                .then_some((o, have))
        })
        .collect())
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

/// The one tag set of `arn`.
pub fn tags_of_one(aws: &Aws, arn: &str) -> Result<Tags> {
    Ok(tags_of(aws, &[arn.to_string()])?
        .remove(arn)
        .unwrap_or_default())
}
