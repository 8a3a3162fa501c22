//! Where a run's policies come from: the spec's `Policies` (relative to the spec), the
//! `--policy` flags and `RKIT_POLICIES` (comma-separated: the team-wide place, set once on a
//! CI machine), each a `.rego` file, a directory, or a bundle's reference. A bundle is
//! fetched, its publisher's signature checked against the trusted keys (the source's
//! `TrustedKeys`, `RKIT_POLICY_KEYS`), and pinned in `rkit.lock` by manifest digest and
//! content digest: later runs load only that bundle.
//!
//! Invariants: a bundle loads only when signed by a trusted key (or with `--allow-unsigned`,
//! warned); a pinned bundle whose content is not the pinned content is refused; nothing of a
//! bundle is written to disk but its pin.

use super::events::{Event, Events};
use super::lock::{Lock, LockedPolicy, lock_path};
use crate::policy::load::{File, read_files};
use crate::policy::{Policies, Source};
use crate::registry::{self, ModuleRef, sha256_digest, signing};
use crate::spec::LoadedSpec;
use anyhow::{Context as _, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::path::Path;

/// The largest bundle rkit loads (bytes).
const BUNDLE_BYTES: usize = 16 << 20;

/// The policies of a run on `spec`: its own, then `given` (paths relative to the current
/// directory), then `RKIT_POLICIES`.
pub async fn load(
    spec: &LoadedSpec,
    given: &[Source],
    allow_unsigned: bool,
    events: &Events,
) -> Result<Policies> {
    let mut sources: Vec<(Source, &Path)> = spec
        .spec
        .policies
        .iter()
        .map(|e| (e.source(), spec.dir()))
        .collect();
    sources.extend(given.iter().map(|s| (s.clone(), Path::new("."))));
    for place in std::env::var("RKIT_POLICIES")
        .unwrap_or_default()
        .split(',')
    {
        if !place.trim().is_empty() {
            sources.push((Source::at(place.trim()), Path::new(".")));
        }
    }
    if sources.is_empty() {
        return Ok(Policies::default());
    }
    let mut files = Vec::new();
    let mut bundles = Bundles {
        lock_path: lock_path(spec.dir()),
        lock: None,
        allow_unsigned,
        events,
    };
    for (source, base) in &sources {
        // Decided by how the source is written, never by what the disk holds: a directory
        // named like a reference must not stand in for the signed bundle.
        let found = if is_reference(&source.source) {
            bundles.files(source, base).await?
        } else {
            let path = base.join(&source.source);
            read_files(&path, &source.source, source.sensitive)?
        };
        if found.iter().all(|f| f.name.ends_with("_test.rego")) {
            bail!(
                "policy {}: no policy in it (only tests): a source that checks nothing is refused",
                crate::text::escaped(&source.source)
            );
        }
        let origin = source.source.clone();
        files.extend(found.into_iter().map(|f| File {
            origin: origin.clone(),
            ..f
        }));
    }
    Policies::new(files)
}

/// Whether `place` names a bundle rather than a path: `file://DIR:TAG`, or
/// `HOST[:PORT]/REPOSITORY:TAG` / `…@sha256:…` (a first segment with a dot, a colon or
/// `localhost`, not `.` or `..`). Anything else is a path (write `./x` to be sure).
pub fn is_reference(place: &str) -> bool {
    if place.starts_with("file://") {
        return true;
    }
    let Some((first, rest)) = place.split_once('/') else {
        return false;
    };
    let last = rest.rsplit('/').next().unwrap_or_default();
    let host =
        first != "." && first != ".." && (first.contains(['.', ':']) || first == "localhost");
    host && !rest.is_empty()
        && (last.contains(':') || last.contains('@'))
        && !place.ends_with(".rego")
}

/// Fetching bundles for one spec, keeping its lock.
struct Bundles<'a> {
    lock_path: std::path::PathBuf,
    lock: Option<Lock>,
    allow_unsigned: bool,
    events: &'a Events,
}

impl Bundles<'_> {
    /// The files of the bundle `source` names: the pinned one, else fetched, verified and
    /// pinned now.
    async fn files(&mut self, source: &Source, base: &Path) -> Result<Vec<File>> {
        let place = &source.source;
        if self.lock.is_none() {
            self.lock = Some(Lock::load(&self.lock_path)?);
        }
        let reference = registry::relative_to(ModuleRef::parse(place)?, base);
        let pinned = self
            .lock
            .as_ref()
            .and_then(|l| l.policies.get(place))
            .cloned();
        let fetched = match &pinned {
            Some(pin) => {
                let at = ModuleRef::parse(&super::resolve::pin(place, &pin.manifest_digest))?;
                registry::fetch_policies(&registry::relative_to(at, base)).await?
            }
            None => registry::fetch_policies(&reference).await?,
        };
        let digest = sha256_digest(&fetched.module);
        let signer = match &pinned {
            Some(pin) if pin.digest != digest => bail!(
                "policy bundle {place}: its content ({digest}) is not the one pinned in {} \
                 ({}): it was changed at the registry; remove its entry from the lock to take \
                 the new one",
                self.lock_path.display(),
                pin.digest
            ),
            // Verified on every load: a key no longer trusted, or a pin made with
            // --allow-unsigned, does not carry over.
            _ => self.verify(source, &fetched)?,
        };
        if pinned.is_none() {
            let lock = self.lock.as_mut().expect("loaded");
            lock.policies.insert(
                place.clone(),
                LockedPolicy {
                    manifest_digest: fetched.manifest_digest.clone(),
                    digest,
                    signer,
                },
            );
            lock.save(&self.lock_path)?;
        }
        unpack(place, &fetched.module, source.sensitive)
    }

    /// The signer of a bundle not pinned yet; refused unless signed by a trusted key (or
    /// `--allow-unsigned`).
    fn verify(&self, source: &Source, fetched: &registry::Fetched) -> Result<Option<String>> {
        let mut trusted = source.trusted_keys.clone();
        trusted.extend(
            std::env::var("RKIT_POLICY_KEYS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(String::from),
        );
        let problem = match &fetched.signature {
            Some(signature) => match signing::verify(signature, &fetched.manifest_digest, &trusted)
            {
                Ok(signer) => return Ok(Some(signer)),
                Err(err) => err.to_string(),
            },
            None => "it is not signed".to_string(),
        };
        if self.allow_unsigned {
            self.events.event(Event::Warning {
                message: format!(
                    "policy bundle {}: {problem}; loaded because of --allow-unsigned",
                    source.source
                ),
            });
            return Ok(None);
        }
        bail!(
            "policy bundle {} is refused: {problem}. List its publisher's key in the source's \
             TrustedKeys (or RKIT_POLICY_KEYS), or pass --allow-unsigned",
            source.source
        )
    }
}

/// A bundle's layer: `{"Files": {"NAME.rego": TEXT, …}}`.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct Bundle {
    files: BTreeMap<String, String>,
}

/// The policy files of a bundle's layer.
fn unpack(place: &str, layer: &[u8], sensitive: bool) -> Result<Vec<File>> {
    if layer.len() > BUNDLE_BYTES {
        bail!("policy bundle {place}: larger than {BUNDLE_BYTES} bytes");
    }
    let bundle: Bundle = serde_json::from_slice(layer)
        .map_err(|e| anyhow!("policy bundle {place}: not a policy bundle: {e}"))?;
    Ok(bundle
        .files
        .into_iter()
        .filter(|(name, _)| name.ends_with(".rego"))
        .map(|(name, text)| File {
            name: format!("{place}//{}", crate::text::escaped(&name)),
            text,
            sensitive,
            origin: place.to_string(),
        })
        .collect())
}

/// A bundle of the `.rego` files in `dir` (tests included), for `rkit policy publish`.
pub fn pack(dir: &Path) -> Result<Vec<u8>> {
    let shown = dir.display().to_string();
    let files = read_files(dir, &shown, false)?;
    let mut bundle = Bundle {
        files: BTreeMap::new(),
    };
    for file in files {
        let name = file
            .name
            .strip_prefix(&shown)
            .unwrap_or(&file.name)
            .trim_start_matches('/')
            .to_string();
        bundle.files.insert(name, file.text);
    }
    serde_json::to_vec(&bundle).context("packing the policies")
}
