//! Binding the plugins a spec names to provider modules, started in the sandbox with the
//! grants and configuration the spec gives them.

use super::credentials::{self, Sources};
use super::resolve::{Policy, Resolver};
use crate::registry::ModuleRef;
use crate::sandbox::{Grants, HttpAllow, Provider, ProviderModule, Sandbox};
use crate::spec::{LoadedSpec, ProviderSpec};
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A `--provider [NAME=]PATH` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderArg {
    /// The plugin name it is bound to; `None`: the name the module declares.
    pub name: Option<String>,
    pub path: PathBuf,
}

impl std::str::FromStr for ProviderArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once('=') {
            Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok(Self {
                name: Some(name.to_string()),
                path: path.into(),
            }),
            Some(_) => Err(format!("{s:?}: expected [NAME=]PATH")),
            None => Ok(Self {
                name: None,
                path: s.into(),
            }),
        }
    }
}

/// Where a bound provider's module came from, as recorded in a saved plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Binding {
    pub path: PathBuf,
    /// sha256 of the module, hex.
    pub digest: String,
}

/// A started provider with its module.
pub struct Bound {
    pub module: ProviderModule,
    pub provider: Arc<Provider>,
}

/// The providers of one run, by plugin name.
#[derive(Default)]
pub struct Providers {
    bound: BTreeMap<String, Bound>,
}

impl Providers {
    /// The provider bound to `plugin`.
    pub fn get(&self, plugin: &str) -> Result<&Bound> {
        self.bound.get(plugin).ok_or_else(|| {
            anyhow!(
                "no provider is bound to plugin {plugin:?}: pass --provider {plugin}=PATH or set \
                 Providers.{plugin}.Source in the spec"
            )
        })
    }

    /// The HTTP requests each provider has sent in this run, for those that sent any.
    pub fn http_requests(&self) -> Vec<(&str, u64)> {
        self.bound
            .iter()
            .map(|(name, b)| (name.as_str(), b.provider.http_requests()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Where each provider came from.
    pub fn bindings(&self) -> BTreeMap<String, Binding> {
        self.bound
            .iter()
            .map(|(name, b)| {
                (
                    name.clone(),
                    Binding {
                        path: b.module.origin().into(),
                        digest: b.module.digest().to_string(),
                    },
                )
            })
            .collect()
    }

    /// Loads and starts the providers of `plugins`: `--provider NAME=PATH` first, then the
    /// spec's `Providers.NAME.Source`, then an unnamed `--provider PATH` declaring that name.
    pub async fn bind(
        sandbox: &Sandbox,
        spec: &LoadedSpec,
        args: &[ProviderArg],
        plugins: &BTreeSet<String>,
        policy: Policy,
    ) -> Result<Self> {
        let mut resolver: Option<Resolver> = None;
        let mut unnamed = Vec::new();
        for arg in args.iter().filter(|a| a.name.is_none()) {
            unnamed.push(sandbox.load_file(&arg.path).await?);
        }
        let mut bound = BTreeMap::new();
        for plugin in plugins {
            let named = args
                .iter()
                .find(|a| a.name.as_deref() == Some(plugin.as_str()));
            let provider_spec = spec.spec.providers.get(plugin).cloned().unwrap_or_default();
            let module = if let Some(arg) = named {
                sandbox.load_file(&arg.path).await?
            } else if let Some(source) = provider_spec
                .source
                .as_ref()
                .filter(|s| ModuleRef::is_reference(s))
            {
                let resolver = match &mut resolver {
                    Some(r) => r,
                    None => resolver.insert(Resolver::new(sandbox, spec.dir(), policy)?),
                };
                resolver
                    .module(plugin, source, &provider_spec.trusted_keys)
                    .await
                    .map_err(|e| {
                        anyhow!("{}: Providers.{plugin}.Source: {e:#}", spec.path.display())
                    })?
            } else if let Some(source) = &provider_spec.source {
                sandbox
                    .load_file(&spec.dir().join(source))
                    .await
                    .with_context(|| {
                        format!("{}: Providers.{plugin}.Source", spec.path.display())
                    })?
            } else if let Some(module) = unnamed.iter().find(|m| m.info().name == *plugin) {
                module.clone()
            } else {
                bail!(
                    "{}: plugin {plugin:?} has no provider: pass --provider {plugin}=PATH (or \
                     --provider PATH to a module named {plugin:?}) or set Providers.{plugin}.Source",
                    spec.path.display()
                );
            };
            let credentials = credentials::resolve(
                &module.info().capabilities.credentials,
                &provider_spec.config,
                &Sources::process(),
            )
            .map_err(|err| anyhow!("{}: Providers.{plugin}.Config: {err}", spec.path.display()))?;
            let mut grants = grants(spec, plugin, &provider_spec)?;
            grants.http.extend(credentials.http);
            let provider = module
                .start(grants, &credentials.config)
                .await
                .map_err(|err| anyhow!("{}: provider {plugin}: {err}", spec.path.display()))?;
            bound.insert(
                plugin.clone(),
                Bound {
                    module,
                    provider: Arc::new(provider),
                },
            );
        }
        Ok(Self { bound })
    }
}

/// The sandbox grants the spec gives `plugin`; a filesystem grant's directory is created.
fn grants(spec: &LoadedSpec, plugin: &str, p: &ProviderSpec) -> Result<Grants> {
    let at = |field: &str| format!("{}: Providers.{plugin}.Grants.{field}", spec.path.display());
    let mut grants = Grants::default();
    for (i, host) in p.grants.http.iter().enumerate() {
        grants.http.push(
            HttpAllow::parse(host)
                .map_err(|err| anyhow!("{}: {err}", at(&format!("Http[{i}]"))))?,
        );
    }
    if let Some(dir) = &p.grants.filesystem {
        let dir = spec.dir().join(dir);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("{}: creating {}", at("Filesystem"), dir.display()))?;
        grants.filesystem = Some(dir);
    }
    if let Some(mib) = p.grants.memory_mib {
        grants.memory_bytes = (mib as usize) << 20;
    }
    if let Some(s) = p.grants.cpu_seconds {
        grants.cpu = Duration::from_secs(s);
    }
    if let Some(s) = p.grants.timeout_seconds {
        grants.timeout = Duration::from_secs(s);
    }
    Ok(grants)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_args_parse_with_and_without_a_name() {
        let named: ProviderArg = "infrakit-resource-aws=aws.wasm".parse().unwrap();
        assert_eq!(named.name.as_deref(), Some("infrakit-resource-aws"));
        assert_eq!(named.path, PathBuf::from("aws.wasm"));
        let bare: ProviderArg = "target/local.wasm".parse().unwrap();
        assert_eq!(bare.name, None);
        assert!("=x.wasm".parse::<ProviderArg>().is_err());
    }
}
