//! The `local` provider: files, directories and random strings inside the one host directory
//! the sandbox grants it (seen by the guest as `/`). Needs no cloud; used by the quickstart
//! and the tests.

mod directory;
mod file;
mod meta;
mod paths;
mod random_string;

use rkit_sdk::{Capabilities, NoConfig, Provider, Registry, Result};

/// The provider; it holds no state: everything lives in the granted directory.
pub struct Local;

impl Provider for Local {
    const NAME: &'static str = "local";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str =
        "Files, directories and random strings inside one granted host directory";
    type Config = NoConfig;

    fn capabilities() -> Capabilities {
        Capabilities {
            http_hosts: Vec::new(),
            filesystem: true,
            memory_mib: 32,
            ..Capabilities::default()
        }
    }

    fn configure(_config: NoConfig) -> Result<Self> {
        std::fs::metadata("/").map_err(|_| {
            rkit_sdk::Error::denied(
                "the local provider needs a filesystem grant (a host directory mapped into its \
                 sandbox) and has none",
            )
        })?;
        Ok(Local)
    }

    fn register(types: &mut Registry<Self>) {
        types
            .add::<directory::Directory>()
            .add::<file::File>()
            .add::<random_string::RandomString>();
    }
}

rkit_sdk::export_provider!(Local);

/// `list` for a type whose resources are recorded in sidecars: the recorded IDs carrying the
/// tags, read back (a resource deleted behind rkit's back is not listed).
fn list_recorded<R>(provider: &Local, tags: &rkit_sdk::Tags) -> Result<Vec<rkit_sdk::Observed<R>>>
where
    R: rkit_sdk::Resource<Provider = Local>,
{
    let mut found = Vec::new();
    for (id, sidecar) in meta::tagged::<R::Properties, serde_json::Value>(R::TYPE, tags)? {
        if let Some(observed) = R::read(provider, &id, &sidecar.properties)? {
            found.push(observed);
        }
    }
    Ok(found)
}
