//! Routing a request to an AWS operation as the service itself does, from the signals that
//! service routes on and nothing else (the table in [`super::aws_api`]):
//! - EC2 and Query (ELBv2, IAM, STS): a form POSTed to `/`, `Action` and `Version` in it;
//! - JSON 1.0/1.1: a JSON object POSTed to `/`, `X-Amz-Target: PREFIX.Operation`;
//! - REST (S3): method, path and query, and the headers an operation requires
//!   (`x-amz-copy-source` makes a PUT a copy).
//!
//! Invariants: a request carrying a signal its protocol does not use, or a second one, is
//! refused, never read one way here and another way by the service: a target header on a
//! Query or REST service, an `Action` anywhere but the form, a query string on a Query or JSON
//! request, a duplicate key (form, query, JSON object at any depth), a key or header the
//! operation does not take, another content type or a content encoding, a `Host` header other
//! than the URL's, an encoded separator (`%2F`, `%5C`) or a dot segment in a REST path. An
//! operation the table does not know is refused. Every string quoted in a refusal is escaped.

use super::aws_api::{Operation, Protocol, Service};
use crate::text::escaped;
use percent_encoding::percent_decode_str;
use std::collections::HashSet;

/// A request routed to one operation of one service.
#[derive(Debug)]
pub struct Routed {
    pub service: &'static Service,
    pub operation: &'static Operation,
    /// The request as the service reads it.
    pub signals: Signals,
}

/// What a request carries, decoded once, as the service decodes it.
#[derive(Debug, Default)]
pub struct Signals {
    /// Query/EC2: the form's fields; JSON: the object's top-level keys (values not kept).
    pub form: Vec<(String, String)>,
    /// REST: the query's keys and values.
    pub query: Vec<(String, String)>,
    /// REST: the path's labels (`Bucket`, `Key`), decoded.
    pub labels: Vec<(String, String)>,
    /// Lowercase header names and values (text ones).
    pub headers: Vec<(String, String)>,
}

impl Signals {
    /// The value of form field, query key, label or header `name` (`f:`, `q:`, `l:`, `h:`).
    pub fn get(&self, signal: &str) -> Option<&str> {
        let (kind, name) = signal.split_at_checked(2)?;
        let list = match kind {
            "f:" => &self.form,
            "q:" => &self.query,
            "l:" => &self.labels,
            "h:" => &self.headers,
            _ => return None,
        };
        list.iter()
            .find(|(k, _)| k == name || (kind == "f:" && top(k) == name))
            .map(|(_, v)| v.as_str())
    }
}

/// The top-level member a form key belongs to (`TagSpecification.1.Tag.1.Key`).
pub fn top(key: &str) -> &str {
    key.split('.').next().unwrap_or(key)
}

/// Headers SigV4 itself sets (the gate replaces them): never a routing signal.
const SIGNING_HEADERS: [&str; 3] = ["x-amz-date", "x-amz-security-token", "x-amz-content-sha256"];

/// Routes `parts` + `body` to an operation of one of `candidates` (the services resolved at
/// the request's origin).
pub fn route(
    parts: &http::request::Parts,
    body: &[u8],
    candidates: &[&'static Service],
) -> Result<Routed, String> {
    let headers = headers(parts)?;
    common(parts, &headers)?;
    let service = pick(candidates, &headers, body)?;
    let mut signals = Signals {
        headers,
        ..Signals::default()
    };
    let operation = match service.protocol {
        Protocol::Ec2 | Protocol::Query => query(service, parts, body, &mut signals)?,
        Protocol::Json => json(service, parts, body, &mut signals)?,
        Protocol::RestXml | Protocol::RestJson => rest(service, parts, &mut signals)?,
    };
    Ok(Routed {
        service,
        operation,
        signals,
    })
}

/// The request's headers, lowercase, each once; refused if one is not text or repeats.
fn headers(parts: &http::request::Parts) -> Result<Vec<(String, String)>, String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (name, value) in &parts.headers {
        let value = value
            .to_str()
            .map_err(|_| format!("header {name} is not text"))?;
        if !seen.insert(name.as_str()) {
            return Err(format!("header {name} is given twice"));
        }
        out.push((name.as_str().to_string(), value.to_string()));
    }
    Ok(out)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// What every protocol refuses: another Host than the URL's, an encoded body.
fn common(parts: &http::request::Parts, headers: &[(String, String)]) -> Result<(), String> {
    if let Some(host) = header(headers, "host") {
        let authority = parts
            .uri
            .authority()
            .map(|a| a.as_str())
            .unwrap_or_default();
        if !host.eq_ignore_ascii_case(authority) {
            return Err(format!(
                "its Host header {} is not its URL's host {}",
                escaped(host),
                escaped(authority)
            ));
        }
    }
    match header(headers, "content-encoding") {
        None | Some("identity") => Ok(()),
        Some(other) => Err(format!(
            "its body is encoded ({}), which the gate cannot read",
            escaped(other)
        )),
    }
}

/// The service at a shared origin that the request's own protocol signals name: a JSON
/// service by its target prefix, else a Query service by the form's `Version`, else the REST
/// service; one candidate is taken as it is. The chosen service's routing then refuses every
/// signal its protocol does not use.
fn pick(
    candidates: &[&'static Service],
    headers: &[(String, String)],
    body: &[u8],
) -> Result<&'static Service, String> {
    if let [only] = candidates {
        return Ok(*only);
    }
    let target = header(headers, "x-amz-target");
    let version = form_urlencoded::parse(body)
        .find(|(k, _)| k == "Version")
        .map(|(_, v)| v.into_owned());
    let by_target = |s: &&&Service| {
        s.protocol == Protocol::Json
            && target.is_some_and(|t| {
                t.rsplit_once('.')
                    .is_some_and(|(p, _)| p == s.target_prefix)
            })
    };
    let by_version =
        |s: &&&Service| s.protocol.is_query() && version.as_deref() == Some(&s.api_version);
    let rest = |s: &&&Service| s.protocol.is_rest();
    for fits in [
        &by_target as &dyn Fn(&&&Service) -> bool,
        &by_version,
        &rest,
    ] {
        if let [one] = candidates
            .iter()
            .filter(fits)
            .collect::<Vec<_>>()
            .as_slice()
        {
            return Ok(**one);
        }
    }
    Err(format!(
        "names API version {}, which no service resolved at this endpoint speaks",
        escaped(version.as_deref().or(target).unwrap_or("(none)"))
    ))
}

/// The media type of a content type (`application/x-www-form-urlencoded; charset=utf-8`),
/// lowercase, with the parameters it may carry checked.
fn media_type(value: &str) -> Result<String, String> {
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    for param in parts {
        let param = param.trim().to_ascii_lowercase().replace(' ', "");
        if param != "charset=utf-8" {
            return Err(format!(
                "content type {} has a parameter rkit does not read",
                escaped(value)
            ));
        }
    }
    Ok(media)
}

fn expect_post_to_root(parts: &http::request::Parts, protocol: &str) -> Result<(), String> {
    if parts.method != http::Method::POST {
        return Err(format!(
            "{protocol} requests are POSTs, not {}",
            parts.method
        ));
    }
    if parts.uri.path() != "/" {
        return Err(format!(
            "{protocol} requests go to /, not {}",
            escaped(parts.uri.path())
        ));
    }
    if parts.uri.query().is_some() {
        return Err(format!(
            "{protocol} requests carry no query string (the service would read it as parameters)"
        ));
    }
    Ok(())
}

/// EC2 and Query: the form's one `Action` and `Version`; every key one the operation takes.
fn query(
    service: &'static Service,
    parts: &http::request::Parts,
    body: &[u8],
    signals: &mut Signals,
) -> Result<&'static Operation, String> {
    expect_post_to_root(parts, "Query")?;
    if header(&signals.headers, "x-amz-target").is_some() {
        return Err(format!(
            "carries X-Amz-Target, which {} (a Query service) does not read",
            service.signing_name
        ));
    }
    let ct = header(&signals.headers, "content-type").ok_or("has no content type")?;
    if media_type(ct)? != "application/x-www-form-urlencoded" {
        return Err(format!(
            "has content type {}; Query requests are forms (application/x-www-form-urlencoded)",
            escaped(ct)
        ));
    }
    let form = unique_pairs(form_urlencoded::parse(body), "form field")?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let action = field("Action").ok_or("names no API action (no Action field)")?;
    let version = field("Version").unwrap_or("(none)");
    if version != service.api_version {
        return Err(format!(
            "names API version {}; {} speaks {}",
            escaped(version),
            service.signing_name,
            service.api_version
        ));
    }
    let operation = known(service, action)?;
    for (key, _) in &form {
        let top = top(key);
        if top != "Action" && top != "Version" && !operation.keys.iter().any(|k| k == top) {
            return Err(format!(
                "form field {} is not one {} takes",
                escaped(key),
                operation.name
            ));
        }
    }
    signals.form = form;
    Ok(operation)
}

fn known(service: &'static Service, name: &str) -> Result<&'static Operation, String> {
    service.operation(name).ok_or_else(|| {
        format!(
            "names {} {}, an operation rkit does not know (see tools/aws-api)",
            service.signing_name,
            escaped(name)
        )
    })
}

/// Pairs with every key once; refused naming the repeated key.
fn unique_pairs<'a>(
    pairs: impl Iterator<Item = (std::borrow::Cow<'a, str>, std::borrow::Cow<'a, str>)>,
    what: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (k, v) in pairs {
        if !seen.insert(k.clone()) {
            return Err(format!("{what} {} is given twice", escaped(&k)));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// JSON 1.0/1.1: `X-Amz-Target` names the operation; the body is one JSON object whose keys
/// the operation takes, no key repeated at any depth.
fn json(
    service: &'static Service,
    parts: &http::request::Parts,
    body: &[u8],
    signals: &mut Signals,
) -> Result<&'static Operation, String> {
    expect_post_to_root(parts, "JSON")?;
    let wanted = format!("application/x-amz-json-{}", service.json_version);
    let ct = header(&signals.headers, "content-type").ok_or("has no content type")?;
    if media_type(ct)? != wanted {
        return Err(format!(
            "has content type {}; {} takes {wanted}",
            escaped(ct),
            service.signing_name
        ));
    }
    let target =
        header(&signals.headers, "x-amz-target").ok_or("names no API action (no X-Amz-Target)")?;
    let name = target
        .strip_prefix(&format!("{}.", service.target_prefix))
        .ok_or_else(|| {
            format!(
                "X-Amz-Target {} is not {}.Operation",
                escaped(target),
                service.target_prefix
            )
        })?;
    let operation = known(service, name)?;
    let keys = crate::json_strict::top_keys(body).map_err(|why| format!("its JSON body {why}"))?;
    for key in &keys {
        if !operation.keys.contains(key) {
            return Err(format!(
                "JSON key {} is not one {} takes",
                escaped(key),
                operation.name
            ));
        }
    }
    signals.form = keys.into_iter().map(|k| (k, String::new())).collect();
    Ok(operation)
}

/// REST: the operation whose method, path template, query literals and required members the
/// request fits most specifically; then every query key and `x-amz-` header must be one it
/// takes.
fn rest(
    service: &'static Service,
    parts: &http::request::Parts,
    signals: &mut Signals,
) -> Result<&'static Operation, String> {
    refuse_other_protocols(service, signals)?;
    let path = rest_path(parts.uri.path())?;
    signals.query = rest_query(parts.uri.query())?;
    let (op, labels) = best_fit(service, parts, &path, signals)?;
    check_amz_headers(op, signals)?;
    signals.labels = labels;
    Ok(op)
}

/// A REST request carries no other protocol's signal: no `X-Amz-Target`, no form content
/// type.
fn refuse_other_protocols(service: &Service, signals: &Signals) -> Result<(), String> {
    if header(&signals.headers, "x-amz-target").is_some() {
        return Err(format!(
            "carries X-Amz-Target, which {} (a REST service) does not read",
            service.signing_name
        ));
    }
    if let Some(ct) = header(&signals.headers, "content-type") {
        let media = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if media == "application/x-www-form-urlencoded" || media.starts_with("multipart/") {
            return Err(format!(
                "has content type {}, which {} may read as a form of parameters",
                escaped(ct),
                service.signing_name
            ));
        }
    }
    Ok(())
}

/// The one operation of `service` the request (its `path` segments) fits most specifically,
/// with its labels; none, or several as specific, is refused.
fn best_fit(
    service: &'static Service,
    parts: &http::request::Parts,
    path: &[String],
    signals: &Signals,
) -> Result<(&'static Operation, Labels), String> {
    let what = || {
        format!(
            "{} {}",
            parts.method,
            escaped(parts.uri.path_and_query().map_or("/", |p| p.as_str()))
        )
    };
    let mut best: Vec<(usize, &'static Operation, Labels)> = Vec::new();
    for op in service
        .operations
        .iter()
        .filter(|o| o.method == parts.method.as_str())
    {
        let Some((labels, score)) = fits(op, path, signals) else {
            continue;
        };
        match best.first() {
            Some((top, ..)) if *top > score => {}
            Some((top, ..)) if *top == score => best.push((score, op, labels)),
            _ => best = vec![(score, op, labels)],
        }
    }
    match best.len() {
        1 => {
            let (_, op, labels) = best.pop().expect("one");
            Ok((op, labels))
        }
        0 => Err(format!(
            "{} is no {} operation rkit knows",
            what(),
            service.signing_name
        )),
        _ => {
            let names: Vec<&str> = best.iter().map(|(_, o, _)| o.name.as_str()).collect();
            Err(format!(
                "{} could be any of {}: refused",
                what(),
                names.join(", ")
            ))
        }
    }
}

/// Every `x-amz-` header but the signing ones is one the operation `op` takes.
fn check_amz_headers(op: &Operation, signals: &Signals) -> Result<(), String> {
    for (name, _) in &signals.headers {
        let takes = op.headers.iter().any(|h| match h.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => h == name,
        });
        if name.starts_with("x-amz-") && !SIGNING_HEADERS.contains(&name.as_str()) && !takes {
            return Err(format!(
                "header {} is not one {} takes",
                escaped(name),
                op.name
            ));
        }
    }
    Ok(())
}

/// A REST path's labels (`Bucket`, `Key`) and their decoded values.
type Labels = Vec<(String, String)>;

/// A REST path's segments, decoded; refused with an encoded separator, a backslash, a dot
/// segment, a malformed escape or a control character.
fn rest_path(raw: &str) -> Result<Vec<String>, String> {
    let lower = raw.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") || raw.contains('\\') {
        return Err(format!(
            "its path {} holds an encoded separator, which services and proxies read differently",
            escaped(raw)
        ));
    }
    let rest = raw
        .strip_prefix('/')
        .ok_or("its path does not start with /")?;
    let mut segments = Vec::new();
    for raw_segment in rest.split('/') {
        let segment = decode(raw_segment).ok_or_else(|| {
            format!(
                "its path {} is not well-formed percent-encoded UTF-8",
                escaped(raw)
            )
        })?;
        if segment == "." || segment == ".." || segment.chars().any(char::is_control) {
            return Err(format!(
                "its path {} has a dot segment or a control character",
                escaped(raw)
            ));
        }
        segments.push(segment);
    }
    Ok(segments)
}

/// Percent-decodes `s` (valid escapes only), as UTF-8.
fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%'
            && !(bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
        {
            return None;
        }
    }
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A REST query's pairs, decoded, every key once.
fn rest_query(raw: Option<&str>) -> Result<Vec<(String, String)>, String> {
    let Some(raw) = raw.filter(|q| !q.is_empty()) else {
        return Ok(Vec::new());
    };
    let mut pairs = Vec::new();
    for pair in raw.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let bad = || format!("its query {} is not well-formed", escaped(raw));
        let k = decode(&k.replace('+', " ")).ok_or_else(bad)?;
        let v = decode(&v.replace('+', " ")).ok_or_else(bad)?;
        if k.is_empty() || k.chars().any(char::is_control) {
            return Err(bad());
        }
        pairs.push((k, v));
    }
    let borrowed = pairs.iter().map(|(k, v)| {
        (
            std::borrow::Cow::Borrowed(k.as_str()),
            std::borrow::Cow::Borrowed(v.as_str()),
        )
    });
    unique_pairs(borrowed, "query key")
}

/// Whether `op` fits: its path template, its query literals, its required members, and every
/// query key one it takes; with its labels and how specific the fit is.
fn fits(
    op: &Operation,
    path: &[String],
    signals: &Signals,
) -> Option<(Vec<(String, String)>, usize)> {
    let (template, literals) = op.uri.split_once('?').unwrap_or((&op.uri, ""));
    let labels = match_template(template, path)?;
    let mut score = 0;
    let mut literal_keys = Vec::new();
    for literal in literals.split('&').filter(|l| !l.is_empty()) {
        let (k, v) = literal
            .split_once('=')
            .map_or((literal, None), |(k, v)| (k, Some(v)));
        let got = signals.query.iter().find(|(qk, _)| qk == k)?;
        if v.is_some_and(|v| v != got.1) {
            return None;
        }
        literal_keys.push(k);
        score += 1;
    }
    for required in &op.required {
        signals.get(required)?;
        score += 1;
    }
    for (k, v) in &signals.query {
        let ok = literal_keys.contains(&k.as_str())
            || op.query.contains(k)
            || op.open_query
            || (k == "x-id" && v == &op.name);
        if !ok {
            return None;
        }
    }
    Some((labels, score))
}

/// Matches a URI template (`/{Bucket}/{Key+}`) against decoded path segments; the labels.
fn match_template(template: &str, path: &[String]) -> Option<Vec<(String, String)>> {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    // `/{Bucket}` also takes `/bucket/` (S3 reads the bucket alone).
    let path: &[String] = match path {
        [bucket, empty] if empty.is_empty() && parts.len() == 1 && !bucket.is_empty() => &path[..1],
        _ => path,
    };
    let mut labels = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if let Some(label) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            let rest = path.get(i..)?.join("/");
            if rest.is_empty() {
                return None;
            }
            labels.push((label.to_string(), rest));
            return Some(labels);
        }
        let segment = path.get(i)?;
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(label) if !segment.is_empty() => labels.push((label.to_string(), segment.clone())),
            Some(_) => return None,
            None if part == segment => {}
            None => return None,
        }
    }
    (path.len() == parts.len()).then_some(labels)
}

#[cfg(test)]
mod tests;
