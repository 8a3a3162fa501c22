//! A provider whose `describe` never returns (it blocks in a host call, spending no CPU), for
//! tests only: rkit must bound `describe` by the spec's timeout like any other call.

use rkit_sdk::{Capabilities, Provider, Registry, Result};

/// The provider; it never finishes describing itself.
pub struct Stall;

impl Provider for Stall {
    const NAME: &'static str = "stall";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    type Config = rkit_sdk::NoConfig;

    fn capabilities() -> Capabilities {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }

    fn configure(_: Self::Config) -> Result<Self> {
        Ok(Stall)
    }

    fn register(_: &mut Registry<Self>) {}
}

rkit_sdk::export_provider!(Stall);
