//! Binding the plugins a spec names to provider modules, started in the sandbox with the
//! grants and configuration the spec gives them, once approved.

use super::events::Events;
use super::resolve::{Pending, Policy, Resolver};
use crate::credentials::{self, Sources};
use crate::registry::ModuleRef;
use crate::sandbox::{
    ApiActions, DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_TIMEOUT, GrantDir, Grants, HttpAllow,
    Provider, ProviderModule, ResourceTypes, Sandbox,
};
use crate::spec::{LoadedSpec, ProviderSpec};
use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How long a module given as `--provider PATH` (no name) may take to describe itself.
const UNNAMED_DESCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// A `--provider [NAME=]PATH` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderArg {
    /// The plugin name it is bound to; `None`: the name the module declares.
    pub name: Option<String>,
    /// The module file.
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

    /// Loads and starts the providers of `plugins` (each with the types the run uses, which
    /// a module that outlines its types describes whole): `--provider NAME=PATH` first, then
    /// the spec's `Providers.NAME.Source`, then an unnamed `--provider PATH` declaring that
    /// name. Every module is approved (see [`Resolver::approve`]) before it is configured.
    pub async fn bind(
        sandbox: &Sandbox,
        spec: &LoadedSpec,
        args: &[ProviderArg],
        plugins: &BTreeMap<String, BTreeSet<String>>,
        policy: Policy,
        events: &Events,
    ) -> Result<Self> {
        let resolver = Resolver::new(sandbox, spec.dir(), policy, events.clone())?;
        let planned = planned_grants(spec, plugins)?;
        let mut binder = Binder {
            sandbox,
            spec,
            args,
            unnamed: unnamed_modules(sandbox, spec, args).await?,
            resolver,
        };
        let mut bound = BTreeMap::new();
        for (plugin, provider_spec, grants) in planned {
            let (module, source, pending) = binder.locate(plugin, &provider_spec, &grants).await?;
            let used: Vec<String> = plugins[plugin].iter().cloned().collect();
            let module = module
                .described(&used, &grants)
                .await
                .with_context(|| format!("{}: provider {plugin}", spec.path.display()))?;
            let located = (module, source, pending);
            let started = binder
                .start(plugin, &provider_spec, grants, located)
                .await?;
            bound.insert(plugin.clone(), started);
        }
        Ok(Self { bound })
    }
}

/// Every plugin's grants, before any provider runs: directories are opened (never through a
/// link) and refused when two overlap.
fn planned_grants<'a>(
    spec: &LoadedSpec,
    plugins: &'a BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<(&'a String, ProviderSpec, Grants)>> {
    let mut planned: Vec<(&String, ProviderSpec, Grants)> = Vec::new();
    for plugin in plugins.keys() {
        let provider_spec = spec.spec.providers.get(plugin).cloned().unwrap_or_default();
        let grants = grants(spec, plugin, &provider_spec)?;
        if let Some(dir) = &grants.filesystem {
            for (other, _, theirs) in &planned {
                if let Some(their_dir) = theirs.filesystem.as_ref().filter(|d| d.overlaps(dir)) {
                    bail!(
                        "{}: Providers.{plugin}.Grants.Filesystem ({}) and Providers.{other}.Grants.Filesystem ({}) overlap: one provider could plant links or files the other trusts; give each provider a directory of its own",
                        spec.path.display(),
                        dir.path().display(),
                        their_dir.path().display()
                    );
                }
            }
        }
        planned.push((plugin, provider_spec, grants));
    }
    Ok(planned)
}

/// The modules given as `--provider PATH` (no name), loaded to learn the name each declares:
/// within the defaults, and at most [`UNNAMED_DESCRIBE_TIMEOUT`], before any spec entry
/// applies.
async fn unnamed_modules(
    sandbox: &Sandbox,
    spec: &LoadedSpec,
    args: &[ProviderArg],
) -> Result<Vec<(ProviderModule, String)>> {
    let limits = Grants {
        timeout: UNNAMED_DESCRIBE_TIMEOUT,
        ..Grants::default()
    };
    let mut unnamed = Vec::new();
    for arg in args.iter().filter(|a| a.name.is_none()) {
        unnamed.push((
            sandbox.load_file(&arg.path, &limits).await?,
            from_spec_dir(spec, &arg.path),
        ));
    }
    Ok(unnamed)
}

/// A plugin's module, where it came from (for the lock and messages), and its approval.
type Located = (ProviderModule, String, Pending);

/// What binding every plugin shares.
struct Binder<'a> {
    sandbox: &'a Sandbox,
    spec: &'a LoadedSpec,
    args: &'a [ProviderArg],
    unnamed: Vec<(ProviderModule, String)>,
    resolver: Resolver<'a>,
}

impl Binder<'_> {
    /// Finds `plugin`'s module, in the order of [`Providers::bind`].
    async fn locate(&mut self, plugin: &str, p: &ProviderSpec, grants: &Grants) -> Result<Located> {
        let (sandbox, spec) = (self.sandbox, self.spec);
        let file = spec.path.display();
        if let Some(arg) = self.args.iter().find(|a| a.name.as_deref() == Some(plugin)) {
            let module = sandbox.load_file(&arg.path, grants).await?;
            return Ok((module, from_spec_dir(spec, &arg.path), Pending::file()));
        }
        if let Some(source) = p.source.as_ref().filter(|s| ModuleRef::is_reference(s)) {
            let (module, pending) = self
                .resolver
                .module(plugin, source, &p.trusted_keys, grants)
                .await
                .map_err(|e| anyhow!("{file}: Providers.{plugin}.Source: {e:#}"))?;
            return Ok((module, source.clone(), pending));
        }
        if let Some(source) = &p.source {
            let path = spec.dir().join(source);
            let module = sandbox
                .load_file(&path, grants)
                .await
                .with_context(|| format!("{file}: Providers.{plugin}.Source"))?;
            // An absolute path stays as written: the spec and its lock may move together (a
            // bundle unpacked on a machine) and still name the same module.
            let shown = if std::path::Path::new(source).is_absolute() {
                source.clone()
            } else {
                from_spec_dir(spec, &path)
            };
            return Ok((module, shown, Pending::file()));
        }
        if let Some((module, path)) = self.unnamed.iter().find(|(m, _)| m.info().name == *plugin) {
            return Ok((module.clone(), path.clone(), Pending::file()));
        }
        if let Some(source) = self.resolver.remembered_file(plugin) {
            // A module given with --provider before: the lock remembers where it is.
            let module = sandbox
                .load_file(&spec.dir().join(&source), grants)
                .await
                .with_context(|| {
                    format!(
                        "{file}: provider {plugin}, given before as --provider {plugin}={source} \
                         (remembered in rkit.lock)"
                    )
                })?;
            return Ok((module, source, Pending::file()));
        }
        Err(no_provider(spec, plugin, self.args, &self.unnamed).into())
    }

    /// Resolves the module's credentials (signed by rkit, never handed over), has it
    /// approved with everything it gets, and starts it configured.
    async fn start(
        &mut self,
        plugin: &str,
        p: &ProviderSpec,
        mut grants: Grants,
        (module, source, pending): Located,
    ) -> Result<Bound> {
        let file = self.spec.path.display();
        let capabilities = &module.info().capabilities;
        let credentials = credentials::resolve(
            &capabilities.credentials,
            &p.config,
            &capabilities.api_actions,
            &Sources::process(),
        )
        .await
        .map_err(|err| anyhow!("{file}: Providers.{plugin}.Config: {err}"))?;
        let lines = grant_lines(p, &grants);
        let mut notes = credentials.whose.clone();
        if !credentials.http.is_empty() {
            let endpoints: Vec<String> = credentials.http.iter().map(ToString::to_string).collect();
            notes.push(format!(
                "its requests to {} are signed by rkit; it never sees a key",
                endpoints.join(", ")
            ));
        }
        grants.http.extend(credentials.http);
        grants.signer = credentials.signer.map(Arc::new);
        grants.api_actions = ApiActions::parse(&capabilities.api_actions)
            .map_err(|e| anyhow!("provider {plugin} ({source}) declares an {e}"))?;
        grants.resource_types = ResourceTypes::parse(&capabilities.resource_types)
            .map_err(|e| anyhow!("provider {plugin} ({source}) declares an {e}"))?;
        if !p.grants.resource_types.is_empty() {
            grants.resource_types = grants
                .resource_types
                .within(&p.grants.resource_types)
                .map_err(|e| anyhow!("{file}: Providers.{plugin}.Grants.ResourceTypes: {e}"))?;
        }
        self.resolver
            .approve(plugin, &source, &module, pending, lines, &notes)
            .map_err(|e| anyhow!("{file}: {e:#}"))?;
        let provider = module
            .start(grants, &credentials.config)
            .await
            .map_err(|err| anyhow!("{file}: provider {plugin}: {err}"))?;
        Ok(Bound {
            module,
            provider: Arc::new(provider),
        })
    }
}

/// What the spec gives a provider, one line each, as approved and recorded in the lock:
/// spelled as the spec writes it (relative paths stay relative), so that a lock committed
/// beside the spec holds on every machine.
fn grant_lines(p: &ProviderSpec, grants: &Grants) -> Vec<String> {
    let mut lines = Vec::new();
    for host in &p.grants.http {
        lines.push(format!("HTTP to {host} (granted by the spec)"));
    }
    if !p.grants.resource_types.is_empty() {
        lines.push(format!(
            "Cloud Control resource types {} only (granted by the spec)",
            p.grants.resource_types.join(", ")
        ));
    }
    if let Some(dir) = &p.grants.filesystem {
        lines.push(format!(
            "the directory {dir} (read and write; relative to the spec)"
        ));
    }
    if grants.memory_bytes != DEFAULT_MEMORY {
        lines.push(format!("{} MiB of memory", grants.memory_bytes >> 20));
    }
    if grants.cpu != DEFAULT_CPU {
        lines.push(format!("{} s of CPU per call", grants.cpu.as_secs()));
    }
    if grants.timeout != DEFAULT_TIMEOUT {
        lines.push(format!("{} s per call", grants.timeout.as_secs()));
    }
    lines
}

/// The sandbox grants the spec gives `plugin`; a filesystem grant's directory is created and
/// opened without following links.
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
        grants.filesystem = Some(
            GrantDir::open_beneath(spec.dir(), std::path::Path::new(dir))
                .map_err(|err| anyhow!("{}: {err:#}", at("Filesystem")))?,
        );
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

/// The error for a plugin no provider is bound to, at the first resource that names it, with
/// the likely plugin meant when it is a misspelling of a known one.
fn no_provider(
    spec: &LoadedSpec,
    plugin: &str,
    args: &[ProviderArg],
    unnamed: &[(ProviderModule, String)],
) -> crate::spec::diagnostic::SpecError {
    let known: Vec<String> = spec
        .spec
        .providers
        .keys()
        .cloned()
        .chain(args.iter().filter_map(|a| a.name.clone()))
        .chain(unnamed.iter().map(|(m, _)| m.info().name.clone()))
        .filter(|k| k != plugin)
        .collect();
    let hint = crate::text::did_you_mean(plugin, known.iter().map(String::as_str));
    let message = format!(
        "plugin {plugin:?} has no provider{hint} (pass --provider {plugin}=PATH, or --provider \
         PATH to a module named {plugin:?}, or set Providers.{plugin}.Source)"
    );
    let user = spec.spec.resources.iter().find(|(_, r)| r.plugin == plugin);
    match user {
        Some((name, _)) => spec.resource_error(name, "Plugin", message),
        None => crate::spec::diagnostic::SpecError::file(&spec.path, message),
    }
}

/// A module file given with `--provider` as the lock records it: relative to the spec's
/// directory (as a spec's own `Source` is), so the same module is the same approval from any
/// working directory, and a later command without `--provider` finds it again. A path with
/// nothing in common with the spec's directory stays absolute.
fn from_spec_dir(spec: &LoadedSpec, path: &std::path::Path) -> String {
    let (Ok(file), Ok(dir)) = (std::path::absolute(path), std::path::absolute(spec.dir())) else {
        return path.display().to_string();
    };
    let (file, dir) = (
        super::resolve::lexical(&file),
        super::resolve::lexical(&dir),
    );
    let common = file
        .components()
        .zip(dir.components())
        .take_while(|(a, b)| a == b)
        .count();
    if common <= 1 {
        return file.display().to_string();
    }
    let up = dir.components().count() - common;
    let relative: PathBuf = std::iter::repeat_n(std::path::Component::ParentDir, up)
        .chain(file.components().skip(common))
        .collect();
    relative.display().to_string()
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
