//! The SPI's operations on one type, as Cloud Control requests ([`CloudControl`]), stateless
//! between calls.
//!
//! Invariants:
//! - **Exactly once.** A create sends rkit's idempotency token as `ClientToken` (Cloud Control
//!   answers a repeated token with the first request's progress, so a lost answer is simply
//!   asked again, and a second object is never made under one token); a request that failed
//!   other than by a definite refusal is `outcome-unknown`: it may have left its object, so the
//!   engine looks for it by its tags, and a later run starts over with a new token.
//! - **Waiting is shared.** A create waits a little ([`CREATE_WAIT`]) for a fast handler, then
//!   answers `pending` under a provisional ID (`request:TOKEN@STARTED`) that reads resolve:
//!   the engine polls every pending object of the type in shared rounds and records the
//!   lasting identifier the read returns (SPI 0.4).
//! - **Never stuck for ever.** A create request still in progress [`Ops::stuck_after`] after
//!   it started is cancelled (`CancelResourceRequest`) and reported; updates and deletes wait
//!   within one call, up to [`CALL_WAIT`], then report the request still running (never
//!   cancelled halfway: the next run reads what it did).
//! - **Reads in the spec's shape.** What `GetResource` returns is split into the attributes
//!   (the type's read-only top-level properties) and the properties, projected onto the known
//!   ones ([`crate::shape`]) without rkit's own tags.

use crate::client::{CallError, CloudControl};
use crate::patch;
use crate::progress::{Progress, ProgressEvent};
use crate::schema::TypeSpec;
use crate::shape;
use crate::tags::{rkits, tags_of, with_tags, without_tags};
use rkit_sdk::{Error, ErrorKind, Tags};
use serde_json::{Map, Value, json};

/// How long a create waits for its request before answering `pending` (seconds).
pub const CREATE_WAIT: f64 = 10.0;
/// How long an update or delete waits for its request within one call (seconds).
pub const CALL_WAIT: f64 = 240.0;
/// The prefix of a provisional ID.
pub const REQUEST: &str = "request:";
/// How many objects a `read-many` must ask for before `ListResources` is tried.
pub const LIST_FROM: usize = 20;
/// How many objects one `read-many` takes (the engine never sends more).
pub const READ_BATCH: u32 = 100;

/// What an object is, as the SPI's `observed` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub id: String,
    pub properties: Value,
    pub attributes: Value,
    pub tags: Tags,
    pub pending: bool,
}

/// The operations on one type.
pub struct Ops<'a, C: CloudControl> {
    pub cc: &'a C,
    pub spec: &'a TypeSpec,
    /// A request in progress longer than this (seconds) is cancelled and reported.
    pub stuck_after: f64,
    /// Now, in seconds since the epoch.
    pub now: fn() -> f64,
}

impl<C: CloudControl> Ops<'_, C> {
    /// Creates the object with the engine's idempotency `token` (see the module's invariants).
    pub fn create(&self, properties: &Value, tags: &Tags, token: &str) -> Result<Seen, Error> {
        let desired = with_tags(properties, tags, self.spec).to_string();
        let started = (self.now)();
        let body = json!({
            "TypeName": self.spec.name,
            "DesiredState": desired,
            "ClientToken": token,
        });
        let event = self.progress("CreateResource", &body)?;
        match self.settle(event, CREATE_WAIT)? {
            Settled::Done(id, model) => self.created(&id, model, properties),
            Settled::Running(request) => Ok(Seen {
                id: format!("{REQUEST}{request}@{}", started as u64),
                properties: properties.clone(),
                attributes: Value::Object(Map::new()),
                tags: tags.clone(),
                pending: true,
            }),
            // A failure that may have left the object is outcome-unknown (kind_for): the
            // engine looks for it by its tags before anything is sent again.
            Settled::Failed(err) => Err(err),
        }
    }

    /// The object just made, as ready: as its request's last event read it, else read whole.
    fn created(&self, id: &str, model: Option<Value>, properties: &Value) -> Result<Seen, Error> {
        let read = match model {
            Some(model) => Some(model),
            None => self.get(id)?,
        };
        match read {
            Some(read) => Ok(self.seen(id, &read, properties)),
            None => Err(Error::new(
                ErrorKind::OutcomeUnknown,
                format!("{}: created as {id}, but it cannot be read", self.spec.name),
            )),
        }
    }

    /// Reads the object `id` (a provisional ID: its request first), `known` its last known
    /// properties; `None` when it does not exist (or its request left nothing).
    pub fn read(&self, id: &str, known: &Value) -> Result<Option<Seen>, Error> {
        let Some(request) = id.strip_prefix(REQUEST) else {
            return Ok(self.get(id)?.map(|read| self.seen(id, &read, known)));
        };
        let (token, started) = match request.rsplit_once('@') {
            Some((token, at)) => (token, at.parse::<f64>().unwrap_or(0.0)),
            None => (request, 0.0),
        };
        let event = self.progress("GetResourceRequestStatus", &json!({"RequestToken": token}))?;
        match event.progress() {
            Progress::Running { .. } if (self.now)() - started > self.stuck_after => {
                Err(self.cancel(&event, (self.now)() - started))
            }
            Progress::Running { .. } => Ok(Some(Seen {
                id: id.to_string(),
                properties: known.clone(),
                attributes: Value::Object(Map::new()),
                tags: Tags::new(),
                pending: true,
            })),
            Progress::Done { identifier } => match identifier {
                Some(lasting) => Ok(self.get(&lasting)?.map(|r| self.seen(&lasting, &r, known))),
                None => Ok(None),
            },
            // Failed: what it left, if anything, is found by its identifier, unless the
            // service refused it outright (its identifier then names another's object: one
            // that already existed).
            Progress::Failed(err) => match event.identifier.as_deref() {
                Some(lasting) if !refused(&err) => {
                    Ok(self.get(lasting)?.map(|r| self.seen(lasting, &r, known)))
                }
                _ => Ok(None),
            },
        }
    }

    /// Reads many objects of the type (`(id, known)` each), in order. From [`LIST_FROM`]
    /// objects on, `ListResources` pages are read first (at most a quarter as many pages as
    /// objects asked for, so listing never costs more than reading one by one), and what they
    /// give whole is taken from them; every other object, and any the listing did not show
    /// (a list may lag behind a create), is read by itself.
    pub fn read_many(&self, asked: &[(String, Value)]) -> Vec<Result<Option<Seen>, Error>> {
        let listed = match asked.len() >= LIST_FROM && self.spec.listable {
            true => self.listed(asked.len().div_ceil(4)),
            false => Map::new(),
        };
        asked
            .iter()
            .map(|(id, known)| match listed.get(id) {
                Some(read) if !id.starts_with(REQUEST) && holds(read, known) => {
                    Ok(Some(self.seen(id, read, known)))
                }
                _ => self.read(id, known),
            })
            .collect()
    }

    /// The objects of the type whose list handler gives them whole (more than their
    /// identifier), by identifier, from at most `pages` pages; none if listing fails.
    fn listed(&self, pages: usize) -> Map<String, Value> {
        let mut found = Map::new();
        // A listing that fails leaves what it gave so far; the rest is read alone.
        let _ = self.each_listed(Some(pages), |id, read| {
            let whole = read
                .as_object()
                .is_some_and(|m| m.keys().any(|k| !self.spec.identifier.contains(k)));
            if whole {
                found.insert(id.to_string(), read);
            }
            Ok(())
        });
        found
    }

    /// Changes the object from `old` to `new` (as recorded and as desired) with a minimal
    /// patch, waiting for it; its attributes then.
    pub fn update(&self, id: &str, old: &Value, new: &Value, tags: &Tags) -> Result<Value, Error> {
        let current = self.get(id)?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("{} {id} no longer exists", self.spec.name),
            )
        })?;
        // rkit's own tags as they are now, so that a change of them is patched too (the spec's
        // keep their order on both sides).
        let old = with_tags(old, &rkits(&tags_of(&current, self.spec)), self.spec);
        let new = with_tags(new, tags, self.spec);
        let mut ops = patch::diff(&old, &new, &self.resent());
        if let Some(tagging) = self.spec.tagging.as_ref().filter(|t| !t.updatable) {
            let at = format!("/{}", tagging.property);
            ops.retain(|op| op["path"] != at.as_str());
        }
        if !ops.is_empty() {
            let body = json!({
                "TypeName": self.spec.name,
                "Identifier": id,
                "PatchDocument": Value::Array(ops).to_string(),
                "ClientToken": fresh_token()?,
            });
            let event = self.progress("UpdateResource", &body)?;
            let model = match self.settle(event, CALL_WAIT)? {
                Settled::Done(_, model) => model,
                Settled::Running(_) => unreachable!("settle waits for CALL_WAIT or cancels"),
                Settled::Failed(err) => return Err(self.not_updatable(err)),
            };
            let read = match model {
                Some(model) => model,
                None => self.get(id)?.unwrap_or(current),
            };
            return Ok(self.attributes(&read));
        }
        Ok(self.attributes(&current))
    }

    /// The write-only paths an update sends again: not those under a create-only path (an
    /// update may not name those at all).
    fn resent(&self) -> Vec<String> {
        let under = |path: &str, parent: &str| {
            path.strip_prefix(parent)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        };
        self.spec
            .write_only
            .iter()
            .filter(|p| !self.spec.force_new.iter().any(|f| under(p, f)))
            .cloned()
            .collect()
    }

    /// A `NotUpdatable` answer names the way out when a conditional create-only property
    /// changed.
    fn not_updatable(&self, err: Error) -> Error {
        if err.message.contains("NotUpdatable") && !self.spec.conditional_force_new.is_empty() {
            return Error::new(
                err.kind,
                format!(
                    "{}; a change of {} may need a replacement: run with --replace NAME",
                    err.message,
                    self.spec.conditional_force_new.join(", ")
                ),
            );
        }
        err
    }

    /// Deletes the object (its request's object, for a provisional ID), waiting for it; gone
    /// already is done.
    pub fn delete(&self, id: &str, known: &Value) -> Result<(), Error> {
        let lasting = match id.strip_prefix(REQUEST) {
            Some(_) => match self.read(id, known)? {
                Some(seen) if seen.pending => {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!("{}: its create is still in progress ({id})", self.spec.name),
                    ));
                }
                Some(seen) => seen.id,
                None => return Ok(()),
            },
            None => id.to_string(),
        };
        let body = json!({
            "TypeName": self.spec.name,
            "Identifier": lasting,
            "ClientToken": fresh_token()?,
        });
        let event = match self.progress("DeleteResource", &body) {
            Err(err) if err.kind == ErrorKind::NotFound => return Ok(()),
            other => other?,
        };
        match self.settle(event, CALL_WAIT)? {
            Settled::Done(..) => Ok(()),
            Settled::Failed(err) if err.kind == ErrorKind::NotFound => Ok(()),
            Settled::Failed(err) => Err(err),
            Settled::Running(_) => unreachable!("settle waits for CALL_WAIT or cancels"),
        }
    }

    /// Every object of the type carrying all of `wanted`, read whole.
    pub fn list(&self, wanted: &Tags) -> Result<Vec<Seen>, Error> {
        if !self.spec.listable {
            return Err(Error::invalid(
                "Type",
                format!("Cloud Control cannot list {}", self.spec.name),
            ));
        }
        let mut found = Vec::new();
        self.each_listed(None, |id, listed| {
            // A list handler may give identifiers only: the tags need a read.
            let read = match tags_of(&listed, self.spec).is_empty() {
                true => self.get(id)?,
                false => Some(listed),
            };
            let Some(read) = read else { return Ok(()) };
            let have = tags_of(&read, self.spec);
            if wanted.iter().all(|(k, v)| have.get(k) == Some(v)) {
                found.push(self.seen(id, &read, &Value::Null));
            }
            Ok(())
        })?;
        Ok(found)
    }

    /// Calls `f` with each object `ListResources` gives (its identifier and its listed
    /// properties), page by page, every page or at most `pages`; a failed page ends it with
    /// its error.
    fn each_listed(
        &self,
        pages: Option<usize>,
        mut f: impl FnMut(&str, Value) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let mut next: Option<String> = None;
        for _ in 0..pages.unwrap_or(usize::MAX) {
            let mut body = json!({"TypeName": self.spec.name});
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let page = self.cc.call("ListResources", &body).map_err(Error::from)?;
            for item in page["ResourceDescriptions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if let Some(id) = item["Identifier"].as_str() {
                    f(id, parse_properties(&item["Properties"]))?;
                }
            }
            next = page["NextToken"].as_str().map(str::to_string);
            if next.is_none() {
                break;
            }
        }
        Ok(())
    }

    /// `GetResource`: the object's properties as the service reads them; `None` if it does
    /// not exist.
    fn get(&self, id: &str) -> Result<Option<Value>, Error> {
        let body = json!({"TypeName": self.spec.name, "Identifier": id});
        match self.cc.call("GetResource", &body) {
            Ok(answer) => Ok(Some(parse_properties(
                &answer["ResourceDescription"]["Properties"],
            ))),
            Err(err) if err.code == "ResourceNotFoundException" => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// What `read` (the service's properties) shows of the object `id`, known as `known`
    /// (`null`: nothing known, as when listing).
    fn seen(&self, id: &str, read: &Value, known: &Value) -> Seen {
        let attributes = self.attributes(read);
        let tags = tags_of(read, self.spec);
        let mut properties = without_tags(read, &rkits(&tags), self.spec);
        if let Some(map) = properties.as_object_mut() {
            map.retain(|k, _| attributes.get(k).is_none());
        }
        let properties = match known {
            Value::Null => properties,
            known => shape::as_known(&properties, known, self.spec),
        };
        Seen {
            id: id.to_string(),
            properties,
            attributes,
            tags,
            pending: false,
        }
    }

    /// The type's read-only top-level properties of `read`: its attributes.
    fn attributes(&self, read: &Value) -> Value {
        let names = self.spec.attributes_schema["properties"].as_object();
        let picked: Map<String, Value> = read
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| names.is_some_and(|n| n.contains_key(*k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(picked)
    }

    /// A request's `ProgressEvent`.
    fn progress(&self, op: &str, body: &Value) -> Result<ProgressEvent, Error> {
        let answer = self.cc.call(op, body).map_err(Error::from)?;
        serde_json::from_value(answer["ProgressEvent"].clone()).map_err(|e| {
            Error::from(CallError {
                op: op.into(),
                code: "MalformedResponse".into(),
                message: format!("no ProgressEvent: {e}"),
                status: 200,
            })
        })
    }

    /// Follows a request for up to `wait` seconds (honouring `RetryAfter`; looking again after
    /// 0.25 s, then twice as long each time, at most 5 s apart): done, failed, or still running
    /// (a create's); an update's or delete's request running past `wait` is cancelled and
    /// reported.
    fn settle(&self, mut event: ProgressEvent, wait: f64) -> Result<Settled, Error> {
        let started = (self.now)();
        let mut pause: f64 = 0.25;
        loop {
            match event.progress() {
                Progress::Done { identifier } => {
                    let model = event
                        .resource_model
                        .as_ref()
                        .map(|m| parse_properties(&json!(m)));
                    let model = model.filter(Value::is_object);
                    return Ok(Settled::Done(identifier.unwrap_or_default(), model));
                }
                Progress::Failed(err) => return Ok(Settled::Failed(err)),
                Progress::Running { retry_after } => {
                    let waited = (self.now)() - started;
                    if waited >= wait {
                        return match event.operation.as_str() {
                            "CREATE" => Ok(Settled::Running(event.request_token)),
                            _ => Err(self.still_running(&event, waited)),
                        };
                    }
                    let until = retry_after.map_or(pause, |at| at - (self.now)());
                    self.cc.pause(until.clamp(pause, 10.0).min(wait - waited));
                    pause = (pause * 2.0).min(5.0);
                    let token = json!({"RequestToken": event.request_token});
                    event = self.progress("GetResourceRequestStatus", &token)?;
                }
            }
        }
    }

    /// The error for an update or delete request still running after `seconds`: left to run
    /// (cancelling it halfway could leave the object between two states).
    fn still_running(&self, event: &ProgressEvent, seconds: f64) -> Error {
        Error::other(format!(
            "{}: the {} request {} was still in progress after {} s; rkit left it running: the \
             next run reads what it did",
            self.spec.name,
            event.operation.to_lowercase(),
            event.request_token,
            seconds as u64
        ))
    }

    /// Cancels a request stuck in progress for `seconds`; the error reporting it.
    fn cancel(&self, event: &ProgressEvent, seconds: f64) -> Error {
        let body = json!({"RequestToken": event.request_token});
        let cancelled = match self.cc.call("CancelResourceRequest", &body) {
            Ok(_) => "cancelled it".to_string(),
            Err(err) => format!("cancelling it failed: {err}"),
        };
        Error::other(format!(
            "{}: the {} request {} was still in progress after {} s; rkit {cancelled}",
            self.spec.name,
            event.operation.to_lowercase(),
            event.request_token,
            seconds as u64
        ))
    }
}

/// Whether `err` says the service refused a request outright (nothing of it was made).
fn refused(err: &Error) -> bool {
    matches!(
        err.kind,
        ErrorKind::InvalidInput | ErrorKind::Denied | ErrorKind::Conflict | ErrorKind::NotFound
    )
}

/// Where a followed request ended.
enum Settled {
    /// Done: the object's identifier, and its properties if the event carried them.
    Done(String, Option<Value>),
    /// Still running (a create, after its wait): its request token.
    Running(String),
    /// Failed.
    Failed(Error),
}

/// Whether a listed model holds every property `known` sets (a list handler may give fewer
/// than a read: then the object is read by itself, so nothing missing reads as drift).
fn holds(listed: &Value, known: &Value) -> bool {
    known
        .as_object()
        .is_none_or(|k| k.keys().all(|key| listed.get(key).is_some()))
}

/// A resource model's properties: Cloud Control sends them as JSON text.
fn parse_properties(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        Value::Object(_) => value.clone(),
        _ => Value::Null,
    }
}

/// A new random `ClientToken` (for an update or a delete: the same bytes are resent by the
/// gate, so a lost answer does not make the change twice).
fn fresh_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::other(format!("random source: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Catalog;
    use std::cell::{Cell, RefCell};

    thread_local! {
        /// The fake clock: seconds since the epoch, moved on by pauses.
        static CLOCK: Cell<f64> = const { Cell::new(1000.0) };
    }

    fn now() -> f64 {
        CLOCK.with(Cell::get)
    }

    type Answer = Box<dyn Fn(&str, &Value) -> Result<Value, CallError>>;

    /// Cloud Control answering as `answer` says, recording every call.
    struct Fake {
        answer: Answer,
        calls: RefCell<Vec<(String, Value)>>,
    }

    impl CloudControl for Fake {
        fn call(&self, op: &str, body: &Value) -> Result<Value, CallError> {
            self.calls.borrow_mut().push((op.to_string(), body.clone()));
            (self.answer)(op, body)
        }
        fn pause(&self, seconds: f64) {
            CLOCK.with(|c| c.set(c.get() + seconds));
        }
    }

    impl Fake {
        fn new(answer: impl Fn(&str, &Value) -> Result<Value, CallError> + 'static) -> Self {
            Self {
                answer: Box::new(answer),
                calls: RefCell::default(),
            }
        }
        fn sent(&self) -> Vec<(String, Value)> {
            self.calls.borrow().clone()
        }
    }

    fn event(status: &str, extra: Value) -> Result<Value, CallError> {
        let mut e = json!({"Operation": "CREATE", "OperationStatus": status, "RequestToken": "r1"});
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        Ok(json!({"ProgressEvent": e}))
    }

    fn queue() -> TypeSpec {
        Catalog::builtin()
            .unwrap()
            .get("AWS::SQS::Queue")
            .unwrap()
            .unwrap()
    }

    fn ops<'a>(cc: &'a Fake, spec: &'a TypeSpec) -> Ops<'a, Fake> {
        Ops {
            cc,
            spec,
            stuck_after: 60.0,
            now,
        }
    }

    fn model() -> Result<Value, CallError> {
        let props = json!({"QueueName": "q", "VisibilityTimeout": 30, "Arn": "arn:q", "QueueUrl": "u1",
                           "Tags": [{"Key": "rkit:name", "Value": "Q"}]});
        Ok(json!({"ResourceDescription": {"Identifier": "u1", "Properties": props.to_string()}}))
    }

    #[test]
    fn a_create_carries_rkits_token_and_a_failure_midway_is_outcome_unknown() {
        let creates = Cell::new(0);
        let cc = Fake::new(move |op, _| match op {
            "CreateResource" => {
                creates.set(creates.get() + 1);
                match creates.get() {
                    1 => event("FAILED", json!({"ErrorCode": "ServiceInternalError"})),
                    _ => event("SUCCESS", json!({"Identifier": "u1"})),
                }
            }
            "GetResource" => model(),
            other => panic!("{other}"),
        });
        let spec = queue();
        let tags: Tags = [("rkit:name".to_string(), "Q".to_string())].into();
        let props = json!({"QueueName": "q", "VisibilityTimeout": 30});
        let err = ops(&cc, &spec).create(&props, &tags, "tok").unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::OutcomeUnknown,
            "it may have left its object"
        );
        let seen = ops(&cc, &spec).create(&props, &tags, "tok").unwrap();
        let sent = cc.sent();
        let tokens: Vec<&Value> = sent
            .iter()
            .filter(|(o, _)| o == "CreateResource")
            .map(|(_, b)| &b["ClientToken"])
            .collect();
        assert_eq!(
            tokens,
            [&json!("tok"), &json!("tok")],
            "never another token"
        );
        assert_eq!(seen.id, "u1");
        assert!(!seen.pending);
        assert_eq!(seen.attributes, json!({"Arn": "arn:q", "QueueUrl": "u1"}));
        assert_eq!(
            seen.properties,
            json!({"QueueName": "q", "VisibilityTimeout": 30})
        );
        let desired: Value =
            serde_json::from_str(sent[0].1["DesiredState"].as_str().unwrap()).unwrap();
        assert_eq!(
            desired["Tags"],
            json!([{"Key": "rkit:name", "Value": "Q"}]),
            "rkit's tags are sent"
        );
    }

    #[test]
    fn a_failed_request_naming_anothers_object_is_not_followed() {
        let cc = Fake::new(|op, _| match op {
            "GetResourceRequestStatus" => event(
                "FAILED",
                json!({"ErrorCode": "AlreadyExists", "Identifier": "theirs"}),
            ),
            "GetResource" => model(),
            other => panic!("{other}"),
        });
        let spec = queue();
        let read = ops(&cc, &spec).read("request:r1@1000", &json!({})).unwrap();
        assert!(read.is_none(), "the other object is not taken for ours");
        assert!(cc.sent().iter().all(|(op, _)| op != "GetResource"));
    }

    #[test]
    fn a_failure_that_left_its_object_is_outcome_unknown() {
        let cc = Fake::new(|op, _| match op {
            "CreateResource" => event(
                "FAILED",
                json!({"ErrorCode": "NotStabilized", "Identifier": "u1"}),
            ),
            "GetResource" => model(),
            other => panic!("{other}"),
        });
        let spec = queue();
        let err = ops(&cc, &spec)
            .create(&json!({"QueueName": "q"}), &Tags::new(), "tok")
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::OutcomeUnknown);
        assert_eq!(
            cc.sent()
                .iter()
                .filter(|(o, _)| o == "CreateResource")
                .count(),
            1
        );
    }

    #[test]
    fn a_slow_create_is_pending_under_its_request_and_read_by_it_later() {
        let done = Cell::new(false);
        let cc = Fake::new(move |op, _| match (op, done.get()) {
            ("CreateResource" | "GetResourceRequestStatus", false) => {
                event("IN_PROGRESS", json!({}))
            }
            ("GetResourceRequestStatus", true) => event("SUCCESS", json!({"Identifier": "u1"})),
            ("GetResource", _) => model(),
            (other, _) => panic!("{other}"),
        });
        let spec = queue();
        let started = now();
        let seen = ops(&cc, &spec)
            .create(&json!({"QueueName": "q"}), &Tags::new(), "tok")
            .unwrap();
        assert!(seen.pending);
        assert_eq!(seen.id, format!("request:r1@{}", started as u64));
        assert!(now() - started >= CREATE_WAIT, "it waited its while first");
        let still = ops(&cc, &spec)
            .read(&seen.id, &json!({"QueueName": "q"}))
            .unwrap()
            .unwrap();
        assert!(still.pending && still.id == seen.id);
        let cc_done = Fake::new(|op, _| match op {
            "GetResourceRequestStatus" => event("SUCCESS", json!({"Identifier": "u1"})),
            "GetResource" => model(),
            other => panic!("{other}"),
        });
        let ready = ops(&cc_done, &spec)
            .read(&seen.id, &json!({"QueueName": "q"}))
            .unwrap()
            .unwrap();
        assert_eq!(ready.id, "u1", "the lasting identifier");
        assert!(!ready.pending);
    }

    #[test]
    fn a_request_in_progress_past_its_bound_is_cancelled() {
        let cc = Fake::new(|op, _| match op {
            "GetResourceRequestStatus" => event("IN_PROGRESS", json!({})),
            "CancelResourceRequest" => Ok(json!({})),
            other => panic!("{other}"),
        });
        let spec = queue();
        let id = format!("request:r1@{}", (now() - 61.0) as u64);
        let err = ops(&cc, &spec).read(&id, &json!({})).unwrap_err();
        assert!(
            err.message.starts_with(
                "AWS::SQS::Queue: the create request r1 was still in progress after 6"
            ),
            "{}",
            err.message
        );
        assert!(
            err.message.ends_with("rkit cancelled it"),
            "{}",
            err.message
        );
        assert_eq!(cc.sent().last().unwrap().0, "CancelResourceRequest");
    }

    #[test]
    fn an_update_sends_the_minimal_patch_and_waits() {
        let cc = Fake::new(|op, _| match op {
            "GetResource" => model(),
            "UpdateResource" => Ok(json!({"ProgressEvent": {"Operation": "UPDATE",
                "OperationStatus": "IN_PROGRESS", "RequestToken": "r2"}})),
            "GetResourceRequestStatus" => Ok(json!({"ProgressEvent": {"Operation": "UPDATE",
                "OperationStatus": "SUCCESS", "RequestToken": "r2"}})),
            other => panic!("{other}"),
        });
        let spec = queue();
        let tags: Tags = [("rkit:name".to_string(), "Q".to_string())].into();
        let attributes = ops(&cc, &spec)
            .update(
                "u1",
                &json!({"QueueName": "q", "VisibilityTimeout": 30}),
                &json!({"QueueName": "q", "VisibilityTimeout": 60}),
                &tags,
            )
            .unwrap();
        assert_eq!(attributes["Arn"], "arn:q");
        let update = cc
            .sent()
            .iter()
            .find(|(o, _)| o == "UpdateResource")
            .unwrap()
            .1
            .clone();
        assert_eq!(update["Identifier"], "u1");
        let patch: Value = serde_json::from_str(update["PatchDocument"].as_str().unwrap()).unwrap();
        assert_eq!(
            patch,
            json!([{"op": "add", "path": "/VisibilityTimeout", "value": 60}])
        );
    }

    #[test]
    fn many_reads_take_what_a_listing_gives_whole_and_read_the_rest() {
        let listed: Vec<Value> = (0..30)
            .map(|i| {
                let props =
                    json!({"QueueUrl": format!("u{i}"), "QueueName": format!("q{i}"), "Arn": "a"});
                json!({"Identifier": format!("u{i}"), "Properties": props.to_string()})
            })
            .collect();
        let cc = Fake::new(move |op, body| match op {
            "ListResources" => Ok(json!({"ResourceDescriptions": listed})),
            "GetResource" if body["Identifier"] == "u99" => Err(CallError {
                op: op.into(),
                code: "ResourceNotFoundException".into(),
                message: "gone".into(),
                status: 404,
            }),
            "GetResource" => model(),
            other => panic!("{other}"),
        });
        let spec = queue();
        let mut asked: Vec<(String, Value)> = (0..29)
            .map(|i| (format!("u{i}"), json!({"QueueName": format!("q{i}")})))
            .collect();
        asked.push(("u99".into(), json!({"QueueName": "q99"})));
        let read = ops(&cc, &spec).read_many(&asked);
        assert_eq!(read.len(), 30);
        assert_eq!(
            read[3].as_ref().unwrap().as_ref().unwrap().properties,
            json!({"QueueName": "q3"})
        );
        assert!(
            read[29].as_ref().unwrap().is_none(),
            "not listed, and not found alone: gone"
        );
        let calls: Vec<String> = cc.sent().into_iter().map(|(op, _)| op).collect();
        assert_eq!(
            calls,
            ["ListResources", "GetResource"],
            "one page, and the one not listed"
        );
        let few = ops(&cc, &spec).read_many(&asked[..3]);
        assert_eq!(few.len(), 3);
        assert_eq!(cc.sent().len(), 5, "fewer than LIST_FROM: read one by one");
    }

    #[test]
    fn an_update_never_resends_a_write_only_value_under_a_create_only_path() {
        let mut spec = queue();
        spec.write_only = vec!["Secret".into(), "Fixed.Key".into(), "Fixedly".into()];
        spec.force_new = vec!["Fixed".into()];
        let cc = Fake::new(|op, _| panic!("{op}"));
        assert_eq!(ops(&cc, &spec).resent(), ["Secret", "Fixedly"]);
    }
}
