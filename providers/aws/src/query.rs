//! Request parameters of the AWS Query protocol: a flat list of `Name=value` pairs, with
//! lists numbered from 1 (`SubnetId.1`, EC2) or as members (`Subnets.member.1`, ELBv2).

use rkit_sdk::Tags;

/// The parameters of one Query request (besides `Action` and `Version`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value`.
    pub fn set(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.0.push((name.into(), value.to_string()));
        self
    }

    /// Sets `name` if `value` is present.
    pub fn opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(v) => self.set(name, v),
            None => self,
        }
    }

    /// An EC2 list: `prefix.1`, `prefix.2`, …
    pub fn list<T: ToString>(mut self, prefix: &str, values: impl IntoIterator<Item = T>) -> Self {
        for (i, v) in values.into_iter().enumerate() {
            self.0.push((format!("{prefix}.{}", i + 1), v.to_string()));
        }
        self
    }

    /// An ELBv2 list: `prefix.member.1`, `prefix.member.2`, …
    pub fn members<T: ToString>(self, prefix: &str, values: impl IntoIterator<Item = T>) -> Self {
        self.list(&format!("{prefix}.member"), values)
    }

    /// EC2 filters: `Filter.N.Name` with its values `Filter.N.Value.M`, numbered after any
    /// filters already set.
    pub fn filters<'a>(
        mut self,
        filters: impl IntoIterator<Item = (String, Vec<&'a str>)>,
    ) -> Self {
        let before = self
            .0
            .iter()
            .filter(|(k, _)| k.starts_with("Filter.") && k.ends_with(".Name"))
            .count();
        for (i, (name, values)) in filters.into_iter().enumerate() {
            let at = format!("Filter.{}", before + i + 1);
            self = self
                .set(format!("{at}.Name"), name)
                .list(&format!("{at}.Value"), values);
        }
        self
    }

    /// EC2 `tag:KEY` filters for every tag.
    pub fn tag_filters(self, tags: &Tags) -> Self {
        self.filters(
            tags.iter()
                .map(|(k, v)| (format!("tag:{k}"), vec![v.as_str()])),
        )
    }

    /// EC2 tags set at creation: `TagSpecification.1` for `resource_type`.
    pub fn tag_specification(mut self, resource_type: &str, tags: &Tags) -> Self {
        if tags.is_empty() {
            return self;
        }
        self = self.set("TagSpecification.1.ResourceType", resource_type);
        for (i, (k, v)) in tags.iter().enumerate() {
            let at = format!("TagSpecification.1.Tag.{}", i + 1);
            self = self
                .set(format!("{at}.Key"), k)
                .set(format!("{at}.Value"), v);
        }
        self
    }

    /// EC2 `Tag.N.Key`/`Tag.N.Value` (CreateTags).
    pub fn ec2_tags(mut self, tags: &Tags) -> Self {
        for (i, (k, v)) in tags.iter().enumerate() {
            let at = format!("Tag.{}", i + 1);
            self = self
                .set(format!("{at}.Key"), k)
                .set(format!("{at}.Value"), v);
        }
        self
    }

    /// ELBv2 `Tags.member.N.Key`/`.Value`.
    pub fn elbv2_tags(mut self, tags: &Tags) -> Self {
        for (i, (k, v)) in tags.iter().enumerate() {
            let at = format!("Tags.member.{}", i + 1);
            self = self
                .set(format!("{at}.Key"), k)
                .set(format!("{at}.Value"), v);
        }
        self
    }

    /// The form-encoded body of `action` in API `version`.
    pub fn encode(&self, action: &str, version: &str) -> String {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("Action", action)
            .append_pair("Version", version);
        for (k, v) in &self.0 {
            form.append_pair(k, v);
        }
        form.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_added_later_are_numbered_after_earlier_ones() {
        let tags: Tags = [("k".to_string(), "v".to_string())].into();
        let params = Params::new()
            .filters([("instance-state-name".to_string(), vec!["running"])])
            .tag_filters(&tags);
        assert!(params.0.contains(&("Filter.2.Name".into(), "tag:k".into())));
    }

    #[test]
    fn lists_filters_and_tags_are_numbered_from_one() {
        let tags: Tags = [("rkit:name".to_string(), "Web Tier".to_string())].into();
        let body = Params::new()
            .set("VpcId", "vpc-1")
            .list("SubnetId", ["a", "b"])
            .members("Subnets", ["s"])
            .tag_filters(&tags)
            .tag_specification("vpc", &tags)
            .encode("DescribeThings", "2016-11-15");
        assert_eq!(
            body,
            "Action=DescribeThings&Version=2016-11-15&VpcId=vpc-1&SubnetId.1=a&SubnetId.2=b\
             &Subnets.member.1=s&Filter.1.Name=tag%3Arkit%3Aname&Filter.1.Value.1=Web+Tier\
             &TagSpecification.1.ResourceType=vpc&TagSpecification.1.Tag.1.Key=rkit%3Aname\
             &TagSpecification.1.Tag.1.Value=Web+Tier"
        );
    }
}
