//! A state in S3 (or an S3-compatible store), shared by a team: the snapshot at `KEY`, the
//! journal as one object per write (the changes of the operations that finished together) at
//! `KEY.journal/SLOT` (20-digit slots), the lease at
//! `KEY.lock` (see [`super::lease`]). Requests go through `object_store`, with S3's native
//! conditional writes; the snapshot is sent as it is made, by a PUT object_store presigns
//! (see [`put`]).
//!
//! Invariants:
//! - Every journal object is created with `If-None-Match: *` at the next slot, so two writers
//!   never both write one slot; slots only grow (the snapshot records the next one), so a slot
//!   is never reused after compaction.
//! - Whoever takes over a lease that was not released (expired, or force-unlocked) first
//!   writes a fence object at the next slot: the old holder's next write collides with it (or
//!   with what came after) and fails with whose lease it was, instead of landing. A holder
//!   whose lease is near its end by its own clock (it was paused, or renewals failed) checks
//!   the lease before writing. Loading reads no journal object below the snapshot's slot, so
//!   a write that slipped past both (into a slot freed by compaction) is never part of the
//!   state (the next compaction deletes it), and refuses one with a lower token than one
//!   before it (only a replay puts it there). With a key, the writes are chained (see
//!   [`super::chain`]): a changed, deleted, moved or replayed object is refused by name.
//! - Every request may be carried out and its answer lost: every write (journal, snapshot,
//!   fence, lease) goes through [`super::reconcile`], which reads the object back after a lost
//!   answer or a refused condition and decides from what is there: a journal object is ours
//!   when its bytes are, the snapshot when the SHA-256 of its bytes is one of this write's
//!   tries' (each made again, sealed under a fresh salt), the lease when its ID and token
//!   are (whatever its `Until`: a renewal whose answer was lost is never taken for another's
//!   takeover).
//! - The snapshot is replaced only if its ETag is still the one read (`If-Match`), and only
//!   while the lease is still ours; journal objects are deleted only after the snapshot that
//!   holds them is written.
//! - Secrets stay in the host (the credentials are resolved as for the AWS provider and used
//!   by `object_store` here); requests run on this backend's own runtime thread.

mod body;
mod put;

use super::Locked;
use super::backend::{Backend, Loaded, Open, Part, Write};
use super::lease::{self, Decision, Lease};
use super::location::{Location, S3Location};
use super::reconcile::{self, There, Tried, Written};
use super::sdk_credentials::SdkCredentials;
use super::snapshot::Snapshot;
use crate::duration::rfc3339;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a lease holds without renewal (`RKIT_STATE_LEASE_SECONDS`, default 30).
fn lease_seconds() -> u64 {
    std::env::var("RKIT_STATE_LEASE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|s| *s >= 1)
        .unwrap_or(30)
}

/// The first line of a journal object: who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Header {
    token: u64,
    #[serde(rename = "Lease")]
    lease_id: String,
    /// A fence: no entry follows; the lease was taken over from this holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fence: Option<String>,
}

/// How many journal objects loading reads at once.
const JOURNAL_READS: usize = 16;

/// The first line of the snapshot object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnapshotHeader {
    /// Journal objects below this slot are in the snapshot (or were written by a fenced
    /// writer after it): not read.
    next_slot: u64,
    /// The fencing token of the lease that wrote it: journal objects with a lower one are a
    /// fenced writer's, not read.
    token: u64,
}

/// The ETag a write under `mode` is conditional on (an update's).
fn expected(mode: &PutMode) -> Option<String> {
    match mode {
        PutMode::Update(v) => v.e_tag.clone(),
        _ => None,
    }
}

/// Requests to one bucket, run on a runtime of their own (callers may be inside another).
#[derive(Clone)]
struct Remote {
    store: Arc<AmazonS3>,
    handle: tokio::runtime::Handle,
}

impl Remote {
    fn run<T: Send + 'static>(&self, fut: impl Future<Output = T> + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .expect("the state's runtime runs until the backend is dropped")
    }

    fn get(&self, path: &StorePath) -> Result<There> {
        let (store, path) = (self.store.clone(), path.clone());
        self.run(async move {
            match store.get(&path).await {
                Ok(got) => {
                    let etag = got.meta.e_tag.clone();
                    Ok(Some((Vec::from(got.bytes().await?), etag)))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(err),
            }
        })
        .map_err(|e| anyhow!("{e}"))
    }

    /// The object at `path` as it arrives, its size and its ETag; `None` if there is none.
    fn get_streamed(&self, path: &StorePath) -> Result<Option<(body::Body, u64, Option<String>)>> {
        let (store, path) = (self.store.clone(), path.clone());
        let got = self
            .run(async move {
                match store.get(&path).await {
                    Ok(got) => Ok(Some(got)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(err) => Err(err),
                }
            })
            .map_err(|e| anyhow!("{e}"))?;
        Ok(got.map(|got| {
            let (size, etag) = (got.meta.size, got.meta.e_tag.clone());
            (body::Body::new(self.clone(), got.into_stream()), size, etag)
        }))
    }

    /// Reads `paths` (at most `JOURNAL_READS` at a time), in their order; a missing one is
    /// `None`.
    fn get_many(&self, paths: Vec<StorePath>) -> Result<Vec<Option<Vec<u8>>>> {
        use futures_util::{StreamExt, TryStreamExt};
        let store = self.store.clone();
        self.run(async move {
            futures_util::stream::iter(paths)
                .map(|path| {
                    let store = store.clone();
                    async move {
                        match store.get(&path).await {
                            Ok(got) => Ok(Some(Vec::from(got.bytes().await?))),
                            Err(object_store::Error::NotFound { .. }) => Ok(None),
                            Err(err) => Err(err),
                        }
                    }
                })
                .buffered(JOURNAL_READS)
                .try_collect::<Vec<_>>()
                .await
        })
        .map_err(|e| anyhow!("{e}"))
    }

    /// The ETag of the object at `path`; `None` if there is none.
    fn etag(&self, path: &StorePath) -> Result<Option<String>> {
        let (store, path) = (self.store.clone(), path.clone());
        self.run(async move {
            match store.head(&path).await {
                Ok(meta) => Ok(meta.e_tag),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(err) => Err(err),
            }
        })
        .map_err(|e| anyhow!("{e}"))
    }

    fn present(&self, path: &StorePath) -> Result<bool> {
        let (store, path) = (self.store.clone(), path.clone());
        self.run(async move {
            match store.head(&path).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(err) => Err(err),
            }
        })
        .map_err(|e| anyhow!("{e}"))
    }

    /// A conditional put: `Ok(Some(etag))`, or `Ok(None)` if the condition failed.
    fn put(&self, path: &StorePath, bytes: Bytes, mode: PutMode) -> Result<Option<String>> {
        let (store, path) = (self.store.clone(), path.clone());
        self.run(async move {
            let opts = PutOptions {
                mode,
                ..PutOptions::default()
            };
            match store.put_opts(&path, PutPayload::from(bytes), opts).await {
                Ok(put) => Ok(Some(put.e_tag.unwrap_or_default())),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => Ok(None),
                Err(err) => Err(err),
            }
        })
        .map_err(|e| anyhow!("{e}"))
    }

    /// A conditional write of `bytes` decided from what is there (see [`super::reconcile`]).
    /// `ours` recognises this write's content (or the caller's identity in it); `what` names
    /// it in errors.
    fn write(
        &self,
        path: &StorePath,
        bytes: &Bytes,
        mode: PutMode,
        ours: &dyn Fn(&[u8]) -> bool,
        what: &str,
    ) -> Result<Written> {
        let mut put = || {
            Ok(match self.put(path, bytes.clone(), mode.clone()) {
                Ok(Some(etag)) => Tried::Landed(etag),
                Ok(None) => Tried::ConditionFailed,
                Err(err) => Tried::Unanswered(err.to_string()),
            })
        };
        let expected = expected(&mode);
        reconcile::write(
            expected.as_deref(),
            &mut put,
            &|| self.get(path),
            ours,
            what,
        )
    }

    fn list(&self, prefix: &StorePath) -> Result<Vec<StorePath>> {
        use futures_util::TryStreamExt;
        let (store, prefix) = (self.store.clone(), prefix.clone());
        self.run(async move {
            store
                .list(Some(&prefix))
                .map_ok(|meta| meta.location)
                .try_collect::<Vec<_>>()
                .await
        })
        .map_err(|e| anyhow!("{e}"))
    }

    fn delete(&self, path: &StorePath) -> Result<()> {
        let (store, path) = (self.store.clone(), path.clone());
        self.run(async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(err) => Err(err),
            }
        })
        .map_err(|e| anyhow!("{e}"))
    }
}

/// The lease this process holds, shared with its renewer.
struct Held {
    lease: Lease,
    etag: String,
    /// Set when a renewal found the lease no longer ours: whose it is now.
    lost: Option<String>,
}

/// A state in S3.
pub struct S3Backend {
    remote: Remote,
    runtime: Option<tokio::runtime::Runtime>,
    location: Location,
    key: String,
    snapshot_etag: Option<String>,
    /// The next journal slot to write.
    next_slot: u64,
    /// Journal objects read or written since the last compaction.
    journaled: Vec<StorePath>,
    /// Loads begun again because a compaction changed the state while it was read.
    reloads: u32,
    held: Option<Arc<Mutex<Held>>>,
    /// The lease taken over (expired, not released), fenced at load.
    took_over: Option<Lease>,
    /// Whose it was, for the user.
    taken_from: Option<String>,
    renewer: Option<(std::thread::JoinHandle<()>, Arc<AtomicBool>)>,
    /// The client snapshots are sent with (see [`put`]), built at the first.
    sender: Option<reqwest::Client>,
}

fn slot_path(key: &str, slot: u64) -> StorePath {
    StorePath::from(format!("{key}.journal/{slot:020}"))
}

fn slot_of(path: &StorePath) -> Option<u64> {
    let name = path.filename()?;
    (name.len() == 20).then(|| name.parse().ok()).flatten()
}

/// The bucket client for `s3`, with credentials, region and endpoint found as the AWS
/// provider's are (the SDK's chain: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`, the shared
/// files, web identity, the container's endpoint, the instance profile), on `runtime`.
fn client(s3: &S3Location, runtime: &tokio::runtime::Handle) -> Result<AmazonS3> {
    let (region, endpoint) = (s3.region.clone(), s3.endpoint.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let sources = crate::credentials::Sources::process();
        let found =
            crate::credentials::aws_access("S3", region.as_deref(), endpoint.as_deref(), &sources)
                .await;
        let _ = tx.send(found);
    });
    let access = rx
        .recv()
        .context("the state's runtime stopped")?
        .with_context(|| format!("the state s3://{}/{}", s3.bucket, s3.key))?;
    if let Err(why) = &access.first {
        bail!(
            "no AWS credentials for the state s3://{}/{}: {} (looked in the environment, \
             the shared files' profile, web identity, the container's endpoint and the \
             instance profile)",
            s3.bucket,
            s3.key,
            crate::text::escape(why)
        );
    }
    crate::tls::install();
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&s3.bucket)
        .with_region(access.region.as_deref().unwrap_or("us-east-1"))
        .with_credentials(Arc::new(SdkCredentials(access.provider)));
    let roots = crate::tls::fallback_roots();
    if !roots.is_empty() {
        let mut options = object_store::ClientOptions::new();
        for root in roots {
            options = options.with_root_certificate(object_store::Certificate::from_der(root)?);
        }
        builder = builder.with_client_options(options);
    }
    if let Some(endpoint) = &access.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    builder
        .build()
        .with_context(|| format!("the state s3://{}/{}", s3.bucket, s3.key))
}

impl S3Backend {
    /// Connects to the state at `s3`; with `lock`, takes its lease (waiting at most
    /// `--lock-timeout`, default 0, for a held one).
    pub fn open(s3: &S3Location, lock: bool) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rkit-state")
            .enable_all()
            .build()
            .context("starting the state's runtime")?;
        let store = match client(s3, runtime.handle()) {
            Ok(store) => Arc::new(store),
            Err(err) => {
                // Opened from an async context: a runtime is never dropped there blocking.
                runtime.shutdown_background();
                return Err(err);
            }
        };
        let remote = Remote {
            store,
            handle: runtime.handle().clone(),
        };
        let mut backend = Self {
            remote,
            runtime: Some(runtime),
            location: Location::S3(s3.clone()),
            key: s3.key.clone(),
            snapshot_etag: None,
            next_slot: 0,
            journaled: Vec::new(),
            reloads: 0,
            held: None,
            took_over: None,
            taken_from: None,
            renewer: None,
            sender: None,
        };
        if lock {
            backend.acquire(super::lock_timeout())?;
        }
        Ok(backend)
    }

    /// The object at the state's key followed by `suffix` (a stack's bundle), if there is one;
    /// refused unread when it is larger than `max` bytes.
    pub fn read_beside(&self, suffix: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let (store, path) = (
            self.remote.store.clone(),
            StorePath::from(format!("{}{suffix}", self.key)),
        );
        let shown = format!("s3://{}/{path}", self.location_bucket());
        self.remote.run(async move {
            let got = match store.get(&path).await {
                Ok(got) => got,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(err) => return Err(anyhow!("{err}")),
            };
            if got.meta.size > max {
                bail!("{shown} is {} bytes, over {max}", got.meta.size);
            }
            Ok(Some(Vec::from(
                got.bytes().await.map_err(|e| anyhow!("{e}"))?,
            )))
        })
    }

    /// Replaces the object at the state's key followed by `suffix` with `bytes` (one PUT:
    /// readers see the old object or the new one, never a part; sent again, it lands the same).
    pub fn write_beside(&self, suffix: &str, bytes: Vec<u8>) -> Result<()> {
        let path = StorePath::from(format!("{}{suffix}", self.key));
        self.remote.put(&path, bytes.into(), PutMode::Overwrite)?;
        Ok(())
    }

    fn lease_path(&self) -> StorePath {
        StorePath::from(format!("{}.lock", self.key))
    }

    fn what(&self) -> String {
        self.location.to_string()
    }

    /// Takes the lease, waiting up to `wait` for a held one; starts its renewal.
    fn acquire(&mut self, wait: Duration) -> Result<()> {
        let started = std::time::Instant::now();
        let path = self.lease_path();
        let mut told = false;
        loop {
            let (current, etag) = self.read_lease(&path)?;
            let gone = |l: &Lease| l.process.as_ref().is_some_and(lease::Process::gone);
            match lease::decide(current.as_ref(), super::now(), &gone) {
                Decision::Held(held) => self.wait_for(held, started, wait, &mut told)?,
                Decision::Take { token, from } => {
                    if self.take(&path, token, from, etag)? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// The lease at `path` and its ETag, if there is one.
    fn read_lease(&self, path: &StorePath) -> Result<(Option<Lease>, Option<String>)> {
        Ok(match self.remote.get(path)? {
            Some((bytes, etag)) => (
                Some(
                    serde_json::from_slice::<Lease>(&bytes)
                        .with_context(|| format!("reading the lease {}.lock", self.what()))?,
                ),
                etag,
            ),
            None => (None, None),
        })
    }

    /// Waits a while for the lease `held` by another, saying so once (`told`); fails naming
    /// its holder once `wait` has passed since `started`.
    fn wait_for(
        &self,
        held: Lease,
        started: std::time::Instant,
        wait: Duration,
        told: &mut bool,
    ) -> Result<()> {
        // Whose, and for how long at most (a holder that stops renewing loses it then; one on
        // this machine whose process is gone, at once).
        let left = held.until.saturating_sub(super::now());
        let holder = format!(
            "{}, until {} ({left} s left)",
            held.holder,
            rfc3339(held.until)
        );
        if started.elapsed() >= wait {
            return Err(Locked {
                location: self.location.clone(),
                holder,
                lock_id: Some(held.id),
            }
            .into());
        }
        if !std::mem::replace(told, true) {
            super::waiting_for(&self.location, &holder);
        }
        std::thread::sleep(Duration::from_millis(500));
        Ok(())
    }

    /// Writes a new lease with `token` over the one at `etag` (`from`: the one taken over,
    /// not released) and holds it; false if someone else was quicker (decide again).
    fn take(
        &mut self,
        path: &StorePath,
        token: u64,
        from: Option<Lease>,
        etag: Option<String>,
    ) -> Result<bool> {
        let mine = Lease {
            id: lease::new_id(),
            token,
            holder: lease::holder(),
            until: super::now() + lease_seconds(),
            released: false,
            process: lease::Process::this(),
        };
        let bytes = Bytes::from(serde_json::to_vec(&mine)?);
        let mode = match etag {
            None => PutMode::Create,
            Some(e) => PutMode::Update(UpdateVersion {
                e_tag: Some(e),
                version: None,
            }),
        };
        // Ours is recognised by its ID (a lost answer, a retry refused by its own condition);
        // someone else quicker → decide again.
        let ours = |b: &[u8]| same_lease(b, &mine);
        let etag = match self.remote.write(path, &bytes, mode, &ours, "the lease")? {
            Written::Landed(etag) => etag,
            Written::Refused(_) => return Ok(false),
        };
        self.hold(mine, etag, from);
        Ok(true)
    }

    /// Holds `lease` (written with `etag`), taken over `from` another's if it was not
    /// released, and starts its renewal.
    fn hold(&mut self, lease: Lease, etag: String, from: Option<Lease>) {
        self.taken_from = from.as_ref().map(|l| match l.until < super::now() {
            true => format!("{}, expired {}", l.holder, rfc3339(l.until)),
            false => format!("{}, whose process is gone", l.holder),
        });
        self.took_over = from;
        let held = Arc::new(Mutex::new(Held {
            lease,
            etag,
            lost: None,
        }));
        self.held = Some(held.clone());
        self.renewer = Some(self.renew(held));
    }

    /// Renews the lease a third of the way through, until stopped or lost.
    fn renew(&self, held: Arc<Mutex<Held>>) -> (std::thread::JoinHandle<()>, Arc<AtomicBool>) {
        let stop = Arc::new(AtomicBool::new(false));
        let (remote, path, flag) = (self.remote.clone(), self.lease_path(), stop.clone());
        let every = Duration::from_millis(lease_seconds() * 1000 / 3);
        let thread = std::thread::spawn(move || {
            loop {
                let deadline = std::time::Instant::now() + every;
                while std::time::Instant::now() < deadline {
                    if flag.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                let (mut lease, etag) = {
                    let h = held.lock().expect("lease");
                    if h.lost.is_some() {
                        return;
                    }
                    (h.lease.clone(), h.etag.clone())
                };
                lease.until = super::now() + lease_seconds();
                let Ok(bytes) = serde_json::to_vec(&lease) else {
                    return;
                };
                let mode = PutMode::Update(UpdateVersion {
                    e_tag: Some(etag),
                    version: None,
                });
                // Ours by ID and token, whatever its `Until`: a renewal whose answer was lost
                // landed all the same, and the next one's condition fails on it.
                let ours = |b: &[u8]| same_lease(b, &lease);
                let bytes = Bytes::from(bytes);
                match remote.write(&path, &bytes, mode, &ours, "the lease's renewal") {
                    Ok(Written::Landed(etag)) => {
                        let mut h = held.lock().expect("lease");
                        h.lease = lease;
                        h.etag = etag;
                    }
                    Ok(Written::Refused(there)) => {
                        let whose = match there {
                            Some(b) => holder_of(&b).unwrap_or_else(|| "someone".into()),
                            None => "nobody (the lease was deleted)".into(),
                        };
                        held.lock().expect("lease").lost = Some(whose);
                    }
                    // Renewals that all went unanswered are tried again at the next turn; the
                    // journal's fencing is what keeps a lost lease from writing.
                    Err(_) => {}
                }
            }
        });
        (thread, stop)
    }

    /// Fails if the lease is lost: known from a renewal, or found so when it is read (always,
    /// or when it is near its end by this process's clock: paused, or renewals failing).
    fn check_lease(&self, always: bool) -> Result<()> {
        let Some(held) = &self.held else {
            return Ok(());
        };
        let (lost, mine) = {
            let h = held.lock().expect("lease");
            (h.lost.clone(), h.lease.clone())
        };
        let lost = match lost {
            Some(whose) => Some(whose),
            None if always || mine.until <= super::now() + lease_seconds() / 3 => {
                match self.remote.get(&self.lease_path())? {
                    Some((b, _)) if same_lease(&b, &mine) => None,
                    there => Some(
                        there
                            .and_then(|(b, _)| holder_of(&b))
                            .unwrap_or_else(|| "nobody (the lease is gone)".into()),
                    ),
                }
            }
            None => None,
        };
        if let Some(whose) = lost {
            held.lock().expect("lease").lost = Some(whose.clone());
            bail!(
                "the lease on the state {} was taken over by another rkit ({whose}); this run \
                 stops without writing: run it again",
                self.what()
            );
        }
        Ok(())
    }

    fn token(&self) -> (u64, String) {
        match &self.held {
            Some(h) => {
                let h = h.lock().expect("lease");
                (h.lease.token, h.lease.id.clone())
            }
            None => (0, String::new()),
        }
    }

    /// Writes `body` at the next slot; if someone else wrote it, fails naming the lease holder.
    fn write_slot(&mut self, body: Vec<u8>) -> Result<()> {
        let path = slot_path(&self.key, self.next_slot);
        let body = Bytes::from(body);
        let ours = |b: &[u8]| b == &body[..];
        let what = format!(
            "journal entry {} of the state {}",
            self.next_slot,
            self.what()
        );
        match self
            .remote
            .write(&path, &body, PutMode::Create, &ours, &what)?
        {
            Written::Landed(_) => {}
            Written::Refused(_) => {
                let whose = self
                    .remote
                    .get(&self.lease_path())
                    .ok()
                    .flatten()
                    .and_then(|(b, _)| holder_of(&b))
                    .unwrap_or_else(|| "unknown".to_string());
                bail!(
                    "another rkit wrote to the state {} (the lease is now held by {whose}); \
                         this run stops without writing: run it again",
                    self.what()
                );
            }
        }
        self.journaled.push(path);
        self.next_slot += 1;
        Ok(())
    }

    /// Fences the journal after taking over a lease that was not released; whether the old
    /// holder wrote a slot after the journal was listed (then it must be read again).
    fn fence(&mut self, from: &Lease) -> Result<bool> {
        let (token, lease_id) = self.token();
        let header = Header {
            token,
            lease_id,
            fence: Some(from.holder.clone()),
        };
        let mut body = serde_json::to_vec(&header)?;
        body.push(b'\n');
        let body = Bytes::from(body);
        let mut raced = false;
        loop {
            let path = slot_path(&self.key, self.next_slot);
            let ours = |b: &[u8]| b == &body[..];
            let what = format!("the fence of the state {}", self.what());
            match self
                .remote
                .write(&path, &body, PutMode::Create, &ours, &what)?
            {
                Written::Landed(_) => {
                    self.journaled.push(path);
                    self.next_slot += 1;
                    return Ok(raced);
                }
                // The old holder wrote this slot meanwhile: it is journal, part of the state;
                // fence the one after.
                Written::Refused(_) => {
                    raced = true;
                    self.next_slot += 1;
                }
            }
        }
    }
}

/// Whether `bytes` is the lease `mine` (same ID and token, not released), whatever its `Until`.
fn same_lease(bytes: &[u8], mine: &Lease) -> bool {
    serde_json::from_slice::<Lease>(bytes)
        .is_ok_and(|l| l.id == mine.id && l.token == mine.token && !l.released)
}

/// Whether `bytes` is the lease `mine` released (same ID and token).
fn released_lease(bytes: &[u8], mine: &Lease) -> bool {
    serde_json::from_slice::<Lease>(bytes)
        .is_ok_and(|l| l.released && l.id == mine.id && l.token == mine.token)
}

/// Whose the lease in `bytes` is, if they hold one that can be read.
fn holder_of(bytes: &[u8]) -> Option<String> {
    serde_json::from_slice::<Lease>(bytes)
        .ok()
        .map(|l| l.holder)
}

/// The entries of journal object `name` (its `bytes` past their header line), `None` for a
/// fence; refused if its token is below `last_token`, which becomes its own.
fn journal_part(name: String, bytes: &[u8], last_token: &mut u64) -> Result<Option<Part>> {
    let (first, rest) = match bytes.iter().position(|b| *b == b'\n') {
        Some(i) => (&bytes[..i], bytes[i + 1..].to_vec()),
        None => (bytes, Vec::new()),
    };
    let header: Header =
        serde_json::from_slice(first).with_context(|| format!("{name}: corrupt journal object"))?;
    // A holder writes only below the fence of whoever took its lease over (above it, its write
    // collides with the fence), so a lower token after a higher one was put there by someone
    // else.
    if header.token < *last_token {
        bail!(
            "{name}: written under lease token {} after a write under token {}: a write \
             replayed or moved; {}",
            header.token,
            last_token,
            super::chain::RESTORE
        );
    }
    *last_token = header.token;
    Ok(header.fence.is_none().then_some(Part {
        name,
        bytes: rest,
        may_be_torn: false,
    }))
}

impl Backend for S3Backend {
    fn taken_over(&self) -> Option<String> {
        self.taken_from.clone()
    }

    fn exists(&mut self) -> Result<bool> {
        Ok(self.remote.present(&StorePath::from(self.key.clone()))?
            || !self
                .remote
                .list(&StorePath::from(format!("{}.journal", self.key)))?
                .is_empty())
    }

    fn load(&mut self, open: Open<'_>) -> Result<Loaded> {
        let (snapshot, journal) = self.load_with(open)?;
        Ok(Loaded { snapshot, journal })
    }

    fn tidy(&mut self) -> Result<bool> {
        if !self.journaled.is_empty() {
            return Ok(false);
        }
        // What a compaction would find first: a lease taken over is reported, not skipped.
        self.check_lease(true)?;
        Ok(true)
    }

    fn append(&mut self, line: &[u8], _sync: bool) -> Result<()> {
        self.check_lease(false)?;
        let (token, lease_id) = self.token();
        let header = Header {
            token,
            lease_id,
            fence: None,
        };
        let mut body = serde_json::to_vec(&header)?;
        body.push(b'\n');
        body.extend_from_slice(line);
        self.write_slot(body)
    }

    /// The snapshot sent after its header as it is made (see [`put`]): counted first, then
    /// made again for each try (a 100,000-resource state is ~30 MB, never held whole).
    fn compact(&mut self, write: Write<'_>, _serial: u64) -> Result<String> {
        let header = SnapshotHeader {
            next_slot: self.next_slot,
            token: self.token().0,
        };
        let mut head = serde_json::to_vec(&header)?;
        head.push(b'\n');
        let mut counted = Counted(head.len());
        write(&mut counted)?;
        // Still ours? (A holder whose lease was taken over must not replace the snapshot.)
        // Asked once the snapshot was counted, right before it is sent.
        self.check_lease(true)?;
        let client = match &self.sender {
            Some(client) => client.clone(),
            None => self.sender.insert(put::client()?).clone(),
        };
        let path = StorePath::from(self.key.clone());
        let mode = match self.snapshot_etag.take() {
            None => PutMode::Create,
            Some(e) => PutMode::Update(UpdateVersion {
                e_tag: Some(e),
                version: None,
            }),
        };
        let expected = expected(&mode);
        let tries = put::Tries::default();
        let remote = &self.remote;
        let mut try_once = || {
            // Still ours? A try can take a while: asked again before each one after the first.
            if tries.count() > 0 {
                self.check_lease(false)?;
            }
            let body = (head.as_slice(), counted.0 as u64);
            let (tried, made) = put::put(remote, &client, &path, mode.clone(), body, &mut *write)?;
            tries.tried(&tried, made);
            Ok(tried)
        };
        let read_back = || tries.read(put::read_back(remote, &path)?);
        let ours = |sha: &[u8]| tries.ours(sha);
        let what = format!("the snapshot of the state {}", self.what());
        let decided =
            reconcile::write(expected.as_deref(), &mut try_once, &read_back, &ours, &what);
        let etag = match decided? {
            Written::Landed(etag) => etag,
            Written::Refused(_) => bail!(
                "the state {} was replaced by another rkit since this one read it; this run \
                 stops without compacting: run it again",
                self.what()
            ),
        };
        let digest = tries.landed();
        self.snapshot_etag = Some(etag);
        for path in std::mem::take(&mut self.journaled) {
            self.remote.delete(&path)?;
        }
        Ok(digest)
    }
}

/// A writer that only counts what it is given.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl S3Backend {
    /// Releases `lease` (held with `etag`), idempotent by its ID and token: a release whose
    /// answer was lost is found done, and a stale ETag (a renewal landed unanswered) is
    /// replaced by the one of the lease there while that lease is still this one (same ID and
    /// token).
    fn release(&self, lease: &mut Lease, etag: String) {
        let held = lease.clone();
        lease.released = true;
        lease.until = 0;
        let Ok(bytes) = serde_json::to_vec(&lease).map(Bytes::from) else {
            return;
        };
        let ours = |b: &[u8]| released_lease(b, lease);
        let path = self.lease_path();
        let mut etag = Some(etag);
        for _ in 0..2 {
            let mode = PutMode::Update(UpdateVersion {
                e_tag: etag.take(),
                version: None,
            });
            match self
                .remote
                .write(&path, &bytes, mode, &ours, "the lease's release")
            {
                Ok(Written::Refused(Some(there))) if same_lease(&there, &held) => {
                    etag = match self.remote.get(&path) {
                        Ok(Some((b, e))) if same_lease(&b, &held) => e,
                        _ => return,
                    };
                }
                _ => return,
            }
        }
    }

    /// Reads the state, the snapshot given to `open` as it arrives. The passes: the snapshot
    /// read, the journal listed, the journal objects at or above the snapshot's slot read,
    /// and the journal fenced after a lease taken over (all read again, what was read let go
    /// first, when the state changed under them).
    fn load_with<T>(
        &mut self,
        open: &mut dyn FnMut(Snapshot) -> Result<T>,
    ) -> Result<(Option<T>, Vec<Part>)> {
        let what = self.what();
        loop {
            self.journaled.clear();
            let (folded, snapshot) = self.read_snapshot(&what, &mut *open)?;
            let unread = self.list_journal(folded.next_slot)?;
            let Some(journal) = self.read_journal(&what, unread)? else {
                continue;
            };
            // Without the lease, another rkit may have compacted while the snapshot was read:
            // its journal objects gone before the listing, the snapshot read older than the
            // one holding them. A compaction replaces the snapshot before it deletes, so the
            // same snapshot still there means the listing missed nothing.
            if self.held.is_none() && !self.snapshot_unchanged(&what)? {
                continue;
            }
            if let Some(from) = self.took_over.take()
                && self.fence(&from)?
            {
                // What the old holder wrote before the fence is state: read it too (the fence
                // is in place, so nothing else of that holder's can land).
                continue;
            }
            return Ok((snapshot, journal));
        }
    }

    /// The snapshot's header (the default if there is none) and what `open` makes of what
    /// follows it, read as it arrives; notes its ETag and the next slot it records.
    fn read_snapshot<T>(
        &mut self,
        what: &str,
        open: &mut dyn FnMut(Snapshot) -> Result<T>,
    ) -> Result<(SnapshotHeader, Option<T>)> {
        let key = StorePath::from(self.key.clone());
        let Some((mut body, size, etag)) = self.remote.get_streamed(&key)? else {
            self.snapshot_etag = None;
            return Ok((SnapshotHeader::default(), None));
        };
        self.snapshot_etag = etag;
        let reading = |err| anyhow::Error::new(err).context(format!("reading {what}"));
        let Some(line) = body.first_line().map_err(reading)? else {
            bail!("{what}: not an rkit state (no header line)");
        };
        let folded: SnapshotHeader = serde_json::from_slice(&line[..line.len() - 1])
            .with_context(|| format!("{what}: not an rkit state"))?;
        self.next_slot = self.next_slot.max(folded.next_slot);
        let size = (size as usize).saturating_sub(line.len());
        let opened = open(Snapshot::Stream {
            body: Box::new(body),
            size,
        })?;
        Ok((folded, Some(opened)))
    }

    /// Whether the snapshot is still the one read (its ETag, or still none); counts a
    /// reload when it is not.
    fn snapshot_unchanged(&mut self, what: &str) -> Result<bool> {
        let now = self.remote.etag(&StorePath::from(self.key.clone()))?;
        if now == self.snapshot_etag {
            return Ok(true);
        }
        self.reloads += 1;
        if self.reloads > 5 {
            bail!("{what} kept changing while it was read (compacted 5 times): run again");
        }
        Ok(false)
    }

    /// Lists the journal objects, in slot order, noting each and the next free slot; those at
    /// or above the snapshot's slot `from` (the rest are folded into it, or a fenced
    /// writer's after it).
    fn list_journal(&mut self, from: u64) -> Result<Vec<StorePath>> {
        let mut slots: Vec<(u64, StorePath)> = self
            .remote
            .list(&StorePath::from(format!("{}.journal", self.key)))?
            .into_iter()
            .filter_map(|p| slot_of(&p).map(|s| (s, p)))
            .collect();
        slots.sort();
        let mut unread = Vec::new();
        for (slot, path) in slots {
            self.journaled.push(path.clone());
            self.next_slot = self.next_slot.max(slot + 1);
            // Below the snapshot's slot: folded into it (or a fenced writer's, after it).
            if slot >= from {
                unread.push(path);
            }
        }
        Ok(unread)
    }

    /// The entries of the journal objects `unread`, in order (fences skipped); `None` if one
    /// was deleted by a compaction since the listing (the state must be read again).
    fn read_journal(&mut self, what: &str, unread: Vec<StorePath>) -> Result<Option<Vec<Part>>> {
        let bodies = self.remote.get_many(unread.clone())?;
        let mut journal = Vec::with_capacity(unread.len());
        // Tokens grow along the journal (the snapshot's own is not compared: a lock object
        // deleted by hand starts its next holder at token 1 again).
        let mut last_token = 0;
        for (path, bytes) in unread.into_iter().zip(bodies) {
            let Some(bytes) = bytes else {
                // Deleted by a compaction since the listing: the snapshot read before it is
                // older than the one that holds it. Read it all again.
                self.reloads += 1;
                if self.reloads > 5 {
                    bail!("{what} kept changing while it was read (compacted 5 times): run again");
                }
                return Ok(None);
            };
            let name = format!("s3://{}/{path}", self.location_bucket());
            if let Some(part) = journal_part(name, &bytes, &mut last_token)? {
                journal.push(part);
            }
        }
        Ok(Some(journal))
    }

    fn location_bucket(&self) -> String {
        match &self.location {
            Location::S3(s3) => s3.bucket.clone(),
            Location::File(_) => String::new(),
        }
    }
}

impl Drop for S3Backend {
    fn drop(&mut self) {
        if let Some((thread, stop)) = self.renewer.take() {
            stop.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
        if let Some(held) = self.held.take() {
            let (mut lease, etag, lost) = {
                let h = held.lock().expect("lease");
                (h.lease.clone(), h.etag.clone(), h.lost.is_some())
            };
            if !lost {
                self.release(&mut lease, etag);
            }
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `rkit force-unlock`: releases the lease `id` of the state at `s3` (whoever holds it) and
/// fences the journal, so its holder's next write fails. The lease it was.
pub fn force_unlock(s3: &S3Location, id: &str) -> Result<Lease> {
    let mut backend = S3Backend::open(s3, false)?;
    let path = backend.lease_path();
    let Some((bytes, etag)) = backend.remote.get(&path)? else {
        bail!("the state {} has no lock", backend.what());
    };
    let lease: Lease = serde_json::from_slice(&bytes)
        .with_context(|| format!("reading the lease {}.lock", backend.what()))?;
    if lease.released {
        bail!("the state {} is not locked", backend.what());
    }
    if lease.id != id {
        bail!(
            "the state {} is locked with lock ID {} ({}), not {id}",
            backend.what(),
            lease.id,
            lease.holder
        );
    }
    let mut released = lease.clone();
    released.released = true;
    released.until = 0;
    // The next holder's token: the forced one is fenced out by a fence with a newer token.
    released.token = lease.token + 1;
    let mode = PutMode::Update(UpdateVersion {
        e_tag: etag,
        version: None,
    });
    let bytes = Bytes::from(serde_json::to_vec(&released)?);
    // Reconciled like every write: an unanswered release is read back, and it is ours when
    // the lease there is this release (same ID and token, released).
    let ours = |b: &[u8]| released_lease(b, &released);
    let what = format!("the release of the lock of the state {}", backend.what());
    if let Written::Refused(_) = backend.remote.write(&path, &bytes, mode, &ours, &what)? {
        bail!(
            "the lock of the state {} changed meanwhile: look again",
            backend.what()
        );
    }
    backend.held = Some(Arc::new(Mutex::new(Held {
        lease: released.clone(),
        etag: String::new(),
        lost: Some("force-unlock".into()),
    })));
    backend.took_over = Some(lease.clone());
    // Loaded for the fence it writes after the snapshot's slot: the snapshot is not read past
    // its header.
    backend.load_with(&mut |_| Ok(()))?;
    backend.held = None;
    Ok(lease)
}
