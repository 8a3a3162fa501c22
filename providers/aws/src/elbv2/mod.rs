//! ELBv2 resource types and what they share: pages of describe answers, tags (kept apart
//! from the objects in this API: DescribeTags and AddTags), lookups by ARN.

pub mod listener;
pub mod load_balancer;
pub mod target_group;

use crate::Aws;
use crate::query::Params;
use crate::xml::Element;
use rkit_sdk::{Result, Tags};
use std::collections::BTreeMap;

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
