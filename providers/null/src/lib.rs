//! The `null` provider: resources that keep nothing and touch nothing (like Terraform's
//! `terraform_data`), to measure and test the engine without any I/O.
//!
//! - `Null`: its `Input` comes back as the `Output` attribute; a change updates in place.
//! - `Versioned`: like `Null`, but `Input` is force-new and replacement is
//!   create-before-destroy.
//! - `Sleepy`: `create` waits `Ms` milliseconds on a host timer (a WASI clock subscription,
//!   not a busy loop): a provider with latency, for apply under latency.
//! - `Flaky`: `create` fails with a transient error the first `Failures` times for each `Key`
//!   (counted per instance), to exercise the engine's retries.

use rkit_sdk::{Created, Error, NoConfig, Observed, Provider, Registry, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;

/// The provider.
pub struct NullProvider;

impl Provider for NullProvider {
    const NAME: &'static str = "null";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Resources that do nothing: for benchmarks";
    type Config = NoConfig;

    fn configure(_: NoConfig) -> Result<Self> {
        Ok(NullProvider)
    }

    fn register(types: &mut Registry<Self>) {
        types
            .add::<Null>()
            .add::<Versioned>()
            .add::<Keyed>()
            .add::<Sleepy>()
            .add::<Flaky>();
    }
}

rkit_sdk::export_provider!(NullProvider);

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct NullProperties {
    /// Any value; a change updates the resource in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// What it reports as its health (for trying a group's rolling update); healthy if
    /// unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
}

impl NullProperties {
    /// The attributes a null resource reports: its input and health, as given.
    fn echoed(&self) -> NullAttributes {
        NullAttributes {
            output: self.input.clone(),
            healthy: self.healthy,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct NullAttributes {
    /// The input, as given.
    pub output: Option<Value>,
    /// `Healthy`, as given: the engine's rolling update waits for members not to report
    /// `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
}

/// A resource that exists only in rkit's state.
pub struct Null;

impl Resource for Null {
    type Provider = NullProvider;
    type Properties = NullProperties;
    type Attributes = NullAttributes;
    const TYPE: &'static str = "Null";
    const DESCRIPTION: &'static str = "Nothing, with an ID";
    /// Read 500 at once (the SDK's default `read_many`): refresh at scale goes through the
    /// engine's batched path, as it does for real APIs.
    const READ_BATCH: u32 = 500;

    fn create(_: &NullProvider, p: &NullProperties, _: &Tags) -> Result<Created<NullAttributes>> {
        Ok(Created {
            id: new_id()?,
            attributes: p.echoed(),
        })
    }

    fn read(_: &NullProvider, id: &str, p: &NullProperties) -> Result<Option<Observed<Self>>> {
        exists(id, p.clone(), p.echoed())
    }

    fn update(
        _: &NullProvider,
        _: &str,
        _: &NullProperties,
        new: &NullProperties,
        _: &Tags,
    ) -> Result<NullAttributes> {
        Ok(new.echoed())
    }

    fn delete(_: &NullProvider, _: &str, _: &NullProperties) -> Result<()> {
        Ok(())
    }

    /// Null resources are nowhere to be found but in rkit's state.
    fn list(_: &NullProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}

/// A null resource exists for as long as rkit says so: `read` echoes what it is given.
fn exists<R: Resource>(
    id: &str,
    properties: R::Properties,
    attributes: R::Attributes,
) -> Result<Option<Observed<R>>> {
    Ok(Some(Observed {
        id: id.to_string(),
        properties,
        attributes,
        tags: Tags::new(),
    }))
}

fn new_id() -> Result<String> {
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| Error::other(format!("random source: {e}")))?;
    Ok(id.iter().map(|b| format!("{b:02x}")).collect())
}

/// `Null` with a force-new `Input`, replaced create-before-destroy.
pub struct Versioned;

impl Resource for Versioned {
    type Provider = NullProvider;
    type Properties = NullProperties;
    type Attributes = NullAttributes;
    const TYPE: &'static str = "Versioned";
    const DESCRIPTION: &'static str =
        "Nothing, replaced create-before-destroy when its input changes";
    const FORCE_NEW: &'static [&'static str] = &["Input"];
    const CREATE_BEFORE_DESTROY: bool = true;

    fn create(
        p: &NullProvider,
        props: &NullProperties,
        tags: &Tags,
    ) -> Result<Created<NullAttributes>> {
        Null::create(p, props, tags)
    }

    fn read(_: &NullProvider, id: &str, p: &NullProperties) -> Result<Option<Observed<Self>>> {
        exists(id, p.clone(), p.echoed())
    }

    fn delete(_: &NullProvider, _: &str, _: &NullProperties) -> Result<()> {
        Ok(())
    }

    fn list(_: &NullProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}

/// `Null` replaced when what nested force-new paths name changes: `Input.Key`, or the `Asn`
/// of any of `Input.Peers` (SPI 0.4's nested paths); any other change is made in place.
pub struct Keyed;

impl Resource for Keyed {
    type Provider = NullProvider;
    type Properties = NullProperties;
    type Attributes = NullAttributes;
    const TYPE: &'static str = "Keyed";
    const DESCRIPTION: &'static str =
        "Nothing, replaced when its Input.Key or an Input.Peers[*].Asn changes";
    const FORCE_NEW: &'static [&'static str] = &["Input.Key", "Input.Peers[*].Asn"];

    fn create(
        p: &NullProvider,
        props: &NullProperties,
        tags: &Tags,
    ) -> Result<Created<NullAttributes>> {
        Null::create(p, props, tags)
    }

    fn read(_: &NullProvider, id: &str, p: &NullProperties) -> Result<Option<Observed<Self>>> {
        exists(id, p.clone(), p.echoed())
    }

    fn update(
        _: &NullProvider,
        _: &str,
        _: &NullProperties,
        new: &NullProperties,
        _: &Tags,
    ) -> Result<NullAttributes> {
        Ok(new.echoed())
    }

    fn delete(_: &NullProvider, _: &str, _: &NullProperties) -> Result<()> {
        Ok(())
    }

    fn list(_: &NullProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FlakyProperties {
    /// What the failures are counted by.
    pub key: String,
    /// How many creates of this key fail (transiently) before one succeeds.
    pub failures: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FlakyAttributes {
    /// How many attempts the successful create was.
    pub attempts: u32,
}

thread_local! {
    static ATTEMPTS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

/// A resource whose creation fails transiently a given number of times.
pub struct Flaky;

impl Resource for Flaky {
    type Provider = NullProvider;
    type Properties = FlakyProperties;
    type Attributes = FlakyAttributes;
    const TYPE: &'static str = "Flaky";
    const DESCRIPTION: &'static str = "Nothing, created only after Failures transient errors";
    const FORCE_NEW: &'static [&'static str] = &["Key", "Failures"];

    fn create(_: &NullProvider, p: &FlakyProperties, _: &Tags) -> Result<Created<FlakyAttributes>> {
        let attempts = ATTEMPTS.with(|a| {
            let mut a = a.borrow_mut();
            let n = a.entry(p.key.clone()).or_default();
            *n += 1;
            *n
        });
        if attempts <= p.failures {
            return Err(Error::transient(format!(
                "throttled: attempt {attempts} of {} fails",
                p.failures
            )));
        }
        Ok(Created {
            id: new_id()?,
            attributes: FlakyAttributes { attempts },
        })
    }

    fn read(_: &NullProvider, id: &str, p: &FlakyProperties) -> Result<Option<Observed<Self>>> {
        exists(
            id,
            p.clone(),
            FlakyAttributes {
                attempts: p.failures + 1,
            },
        )
    }

    fn delete(_: &NullProvider, _: &str, _: &FlakyProperties) -> Result<()> {
        Ok(())
    }

    fn list(_: &NullProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct SleepyProperties {
    /// How long `create` takes, in milliseconds.
    pub ms: u64,
}

/// A resource whose creation takes a fixed time.
pub struct Sleepy;

impl Resource for Sleepy {
    type Provider = NullProvider;
    type Properties = SleepyProperties;
    type Attributes = NullAttributes;
    const TYPE: &'static str = "Sleepy";
    const DESCRIPTION: &'static str = "Nothing, created after Ms milliseconds";
    const FORCE_NEW: &'static [&'static str] = &["Ms"];

    fn create(_: &NullProvider, p: &SleepyProperties, _: &Tags) -> Result<Created<NullAttributes>> {
        std::thread::sleep(std::time::Duration::from_millis(p.ms));
        Ok(Created {
            id: new_id()?,
            attributes: NullAttributes {
                output: None,
                healthy: None,
            },
        })
    }

    fn read(_: &NullProvider, id: &str, p: &SleepyProperties) -> Result<Option<Observed<Self>>> {
        exists(
            id,
            p.clone(),
            NullAttributes {
                output: None,
                healthy: None,
            },
        )
    }

    fn delete(_: &NullProvider, _: &str, _: &SleepyProperties) -> Result<()> {
        Ok(())
    }

    fn list(_: &NullProvider, _: &Tags) -> Result<Vec<Observed<Self>>> {
        Ok(Vec::new())
    }
}
