//! AWS Query-protocol responses as a small element tree, parsed with quick-xml.
//!
//! EC2 lists are `<xSet><item>…</item></xSet>`, ELBv2 lists `<Xs><member>…</member></Xs>`;
//! [`Element::items`] reads both.

use quick_xml::Reader;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;

/// One XML element: its local name (namespace prefix dropped), text and children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// Parses a whole document; returns its root element.
    pub fn parse(document: &str) -> Result<Element, String> {
        let mut reader = Reader::from_str(document);
        let mut stack: Vec<Element> = Vec::new();
        let local = |name: &[u8]| String::from_utf8_lossy(name).into_owned();
        loop {
            let event = reader
                .read_event()
                .map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
            match event {
                Event::Start(start) => stack.push(Element {
                    name: local(start.local_name().as_ref()),
                    ..Element::default()
                }),
                Event::Empty(empty) => {
                    let element = Element {
                        name: local(empty.local_name().as_ref()),
                        ..Element::default()
                    };
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(element),
                        None => return Ok(element),
                    }
                }
                Event::End(_) => {
                    let mut done = stack.pop().ok_or("an end tag closes nothing")?;
                    done.text = done.text.trim().to_string();
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Ok(done),
                    }
                }
                Event::Text(text) => {
                    if let Some(current) = stack.last_mut() {
                        current
                            .text
                            .push_str(&text.xml10_content().map_err(|e| e.to_string())?);
                    }
                }
                Event::CData(data) => {
                    if let Some(current) = stack.last_mut() {
                        current
                            .text
                            .push_str(&data.xml10_content().map_err(|e| e.to_string())?);
                    }
                }
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref().map_err(|e| e.to_string())? {
                        Some(c) => c.to_string(),
                        None => {
                            let name = reference.xml10_content().map_err(|e| e.to_string())?;
                            resolve_predefined_entity(&name)
                                .ok_or_else(|| format!("unknown entity &{name};"))?
                                .to_string()
                        }
                    };
                    if let Some(current) = stack.last_mut() {
                        current.text.push_str(&resolved);
                    }
                }
                Event::Eof => return Err("the document ends inside an element".into()),
                _ => {}
            }
        }
    }

    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The element at a `/`-separated path of child names.
    pub fn at(&self, path: &str) -> Option<&Element> {
        path.split('/').try_fold(self, |e, name| e.child(name))
    }

    /// The text at `path`, if the element exists and its text is not empty.
    pub fn text(&self, path: &str) -> Option<&str> {
        self.at(path)
            .map(|e| e.text.as_str())
            .filter(|t| !t.is_empty())
    }

    /// The text at `path` as an owned string, empty when absent.
    pub fn string(&self, path: &str) -> String {
        self.text(path).unwrap_or_default().to_string()
    }

    /// The entries of the list at `path` (`item` or `member` children); none if absent.
    pub fn items<'a>(&'a self, path: &str) -> impl Iterator<Item = &'a Element> + 'a {
        self.at(path)
            .into_iter()
            .flat_map(|list| list.children.iter())
            .filter(|c| c.name == "item" || c.name == "member")
    }

    /// The first element called `name` anywhere below this one (depth first).
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.children.iter().find_map(|c| {
            if c.name == name {
                Some(c)
            } else {
                c.find(name)
            }
        })
    }

    /// The `tagSet` (EC2) or `Tags` (ELBv2) entries as key → value.
    pub fn tags(&self, path: &str) -> rkit_sdk::Tags {
        self.items(path)
            .filter_map(|t| {
                let key = t.text("key").or(t.text("Key"))?;
                let value = t.text("value").or(t.text("Value")).unwrap_or_default();
                Some((key.to_string(), value.to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIBE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <vpcSet>
    <item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock>
      <tagSet><item><key>rkit:name</key><value>A &amp; B</value></item><item><key>empty</key><value/></item></tagSet>
    </item>
    <item><vpcId>vpc-2</vpcId></item>
  </vpcSet>
</DescribeVpcsResponse>"#;

    #[test]
    fn lists_texts_tags_and_entities() {
        let root = Element::parse(DESCRIBE).unwrap();
        assert_eq!(root.name, "DescribeVpcsResponse");
        let vpcs: Vec<&Element> = root.items("vpcSet").collect();
        assert_eq!(vpcs.len(), 2);
        assert_eq!(vpcs[0].text("cidrBlock"), Some("10.0.0.0/16"));
        assert_eq!(vpcs[1].text("cidrBlock"), None);
        let tags = vpcs[0].tags("tagSet");
        assert_eq!(tags["rkit:name"], "A & B");
        assert_eq!(tags["empty"], "");
        assert_eq!(root.find("vpcId").unwrap().text, "vpc-1");
    }

    #[test]
    fn elbv2_members_and_errors_parse() {
        let root = Element::parse(
            "<ErrorResponse><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code>\
             <Message>One or more load balancers not found</Message></Error></ErrorResponse>",
        )
        .unwrap();
        assert_eq!(root.text("Error/Code"), Some("LoadBalancerNotFound"));
        let members = Element::parse("<R><Xs><member><A>1</A></member><member/></Xs></R>").unwrap();
        assert_eq!(members.items("Xs").count(), 2);
    }

    #[test]
    fn malformed_documents_are_errors() {
        assert!(Element::parse("<a><b></a>").is_err());
        assert!(Element::parse("<a>").is_err());
        assert!(Element::parse("not xml").is_err());
    }
}
