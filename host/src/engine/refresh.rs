//! Refresh: reading back every recorded resource, in batches.
//!
//! Recorded resources are grouped by provider and type, in the state's order, into batches of
//! at most the type's `read-batch` (what its provider declared, capped by
//! [`crate::spi::MAX_READ_BATCH`]); a batch of one is a plain `read`. The batches are the
//! nodes of one [`walk`] with no ordering between them, so `--parallelism` bounds the calls in
//! flight, not the resources.
//!
//! Invariants: every recorded resource gets exactly one answer or the refresh fails (the
//! batches of one provider and type are disjoint ranges of names covering all of its
//! resources); a batch is its range, its first and last names, and holds the IDs and
//! properties of its own resources only while it runs (nothing is copied for the whole state
//! up front, not even its names); a failure of the whole call is retried as a batch (one
//! owner of retries: [`repeating_as`]); a retryable failure of one resource in a batch is
//! retried with `read` for that one alone; any other failure names the resource. The answer
//! holds only what differs from the record: a resource gone (`None`), or read back with other
//! properties or attributes; one read back exactly as recorded is left out (the plan then
//! works from the record, the same values), so a no-op plan never holds a second copy of every
//! object.

use super::context::Context;
use super::events::{Event, Op, OpAction};
use super::retry::{repeating_as, retryable};
use super::walk::{Outcome, walk};
use crate::interned::Name;
use crate::spi::Observed;
use crate::text::escaped;
use anyhow::{Result, anyhow, bail};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

/// Resources of one provider and type read in one call: the `count` recorded with its
/// provider and type from `first` to `last` (both included, in the state's order). Held as
/// that range, not as a list of names: the batches of a refresh last as long as it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub plugin: Name,
    pub type_name: Name,
    pub first: String,
    pub last: String,
    pub count: usize,
}

/// Splits `recorded` (name, plugin, type), in the state's order (by name), into batches:
/// per provider and type, at most `size(plugin, type)` names each (at least one).
pub fn batches<'a>(
    recorded: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    size: impl Fn(&str, &str) -> usize,
) -> Vec<Batch> {
    let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    // plugin, type, first, last, count
    let mut out: Vec<(&str, &str, &str, &str, usize)> = Vec::new();
    let mut before: Option<&str> = None;
    for (name, plugin, type_name) in recorded {
        debug_assert!(before < Some(name), "batches are read in the state's order");
        before = Some(name);
        let limit = size(plugin, type_name).max(1);
        match open.get(&(plugin, type_name)) {
            Some(&i) if out[i].4 < limit => {
                out[i].3 = name;
                out[i].4 += 1;
            }
            _ => {
                open.insert((plugin, type_name), out.len());
                out.push((plugin, type_name, name, name, 1));
            }
        }
    }
    out.into_iter()
        .map(|(plugin, type_name, first, last, count)| Batch {
            plugin: Name::new(plugin),
            type_name: Name::new(type_name),
            first: first.to_string(),
            last: last.to_string(),
            count,
        })
        .collect()
}

/// Reads back every recorded resource, `parallelism` calls at once: those gone (`None`) and
/// those that differ from their record.
pub async fn refresh(
    ctx: &Arc<Context>,
    parallelism: usize,
) -> Result<BTreeMap<String, Option<Observed>>> {
    let batches: Arc<Vec<Batch>> = {
        let store = ctx.store.lock().expect("state lock");
        let size = |plugin: &str, type_name: &str| {
            ctx.providers
                .get(plugin)
                .ok()
                .and_then(|b| b.module.info().type_info(type_name))
                .map_or(1, |t| t.read_batch as usize)
        };
        Arc::new(batches(
            store
                .state
                .resources
                .iter()
                .map(|(n, r)| (n.as_str(), r.plugin.as_str(), r.type_name.as_str())),
            size,
        ))
    };
    let independent = super::walk::Successors::independent(batches.len());
    let outcomes = walk(&independent, parallelism, &ctx.interrupt, None, |i| {
        let (ctx, batches) = (ctx.clone(), batches.clone());
        async move { read(&ctx, &batches[i]).await }
    })
    .await;
    if ctx.interrupt.raised() {
        bail!("interrupted");
    }
    let mut observed = BTreeMap::new();
    for (batch, outcome) in batches.iter().zip(outcomes) {
        match outcome {
            Outcome::Done(read) => observed.extend(read),
            Outcome::Failed(err) => return Err(err),
            Outcome::Panicked(m) => {
                bail!("refreshing {}: stopped unexpectedly: {m}", batch.first)
            }
            Outcome::Skipped(_) | Outcome::Cancelled => bail!("interrupted"),
        }
    }
    record_lasting_ids(ctx, &observed).await?;
    Ok(observed)
}

/// Records the lasting ID of each object recorded under a provisional one (created `pending`
/// by a run that ended before it was ready, SPI 0.4) that a read now names otherwise: once,
/// for provisional records only, never an ID another resource of its type is recorded under
/// (that is reported and left alone), each change said in a warning.
async fn record_lasting_ids(
    ctx: &Context,
    observed: &BTreeMap<String, Option<Observed>>,
) -> Result<()> {
    let renamed: Vec<(String, crate::state::ResourceState)> = {
        let store = ctx.store.lock().expect("state lock");
        let resources = &store.state.resources;
        let taken = |r: &crate::state::ResourceState, id: &str| {
            resources
                .values()
                .any(|o| o.plugin == r.plugin && o.type_name == r.type_name && o.id() == id)
        };
        observed
            .iter()
            .filter_map(|(name, o)| {
                let (o, r) = (o.as_ref()?, resources.get(name)?);
                let renamed = r.provisional() && !o.id.is_empty() && o.id != r.id();
                if renamed && taken(r, &o.id) {
                    ctx.events.event(Event::Warning {
                        message: format!(
                            "{name}: its provider reads it as {}, which another resource is \
                             recorded as; it stays recorded as {}",
                            escaped(&o.id),
                            escaped(r.id())
                        ),
                    });
                    return None;
                }
                renamed.then(|| {
                    let mut lasting = r.clone();
                    lasting.set_id(&o.id);
                    lasting.set_provisional(false);
                    (name.clone(), lasting)
                })
            })
            .collect()
    };
    for (name, lasting) in renamed {
        ctx.events.event(Event::Warning {
            message: format!(
                "{name}: created under a provisional ID, now recorded as {}",
                escaped(lasting.id())
            ),
        });
        ctx.change(&name, crate::state::Change::Resource(Some(lasting)))
            .await
            .map_err(|f| anyhow!("{f}"))?;
    }
    Ok(())
}

/// Reads one batch: each name that is gone (`None`) or differs from its record, with what was
/// found.
async fn read(ctx: &Context, batch: &Batch) -> Result<Vec<(String, Option<Observed>)>> {
    let found = read_all(ctx, batch).await?;
    let store = ctx.store.lock().expect("state lock");
    let mut differ: Vec<_> = found
        .into_iter()
        .filter(
            |(name, read)| match (read, store.state.resources.get(name)) {
                (Some(o), Some(r)) => {
                    r.properties() != o.properties
                        || r.attributes() != o.attributes
                        || o.id != r.id()
                }
                _ => true,
            },
        )
        .collect();
    // Collected in place, it would keep the batch's whole allocation: held until the refresh
    // ends, for each batch (at a read of one each, ~200 bytes a resource for nothing).
    differ.shrink_to_fit();
    Ok(differ)
}

/// Reads one batch: each name with what was found (`None`: gone).
async fn read_all(ctx: &Context, batch: &Batch) -> Result<Vec<(String, Option<Observed>)>> {
    let provider = ctx.providers.get(&batch.plugin)?.provider.clone();
    // The batch's IDs and last known properties, taken from the state now (a resource removed
    // meanwhile is simply not read).
    // Properties as the text the provider is sent, not as trees: up to `--parallelism`
    // batches of hundreds are held at once. Written from their value (not the record's text
    // as it is): a state edited by hand may repeat a key, which a value reads as its last.
    let items: Vec<(String, String, Box<str>)> = {
        let store = ctx.store.lock().expect("state lock");
        let range = (
            Bound::Included(batch.first.as_str()),
            Bound::Included(batch.last.as_str()),
        );
        store
            .state
            .resources
            .range::<str, _>(range)
            .filter(|(_, r)| r.plugin == batch.plugin && r.type_name == batch.type_name)
            .map(|(n, r)| {
                let properties = r.properties().value().to_string().into();
                (n.clone(), r.id().to_string(), properties)
            })
            .collect()
    };
    let Some((first, ..)) = items.first() else {
        return Ok(Vec::new());
    };
    let label = match items.len() {
        1 => first.clone(),
        n => format!("{first} and {} more", n - 1),
    };
    let op = Op::new(&ctx.events, &label, OpAction::Read);
    let type_name = &batch.type_name;
    let asked: Vec<(&str, &str)> = items.iter().map(|(_, id, p)| (id.as_str(), &**p)).collect();
    let answers = repeating_as(&ctx.interrupt, Some(&op), || {
        provider.read_batch(type_name, &asked)
    })
    .await
    .map_err(|e| anyhow!("refreshing {label}: {e}"))?;
    let mut out = Vec::with_capacity(items.len());
    for ((name, id, properties), answer) in items.iter().zip(answers) {
        let read = match answer {
            Ok(read) => read,
            // This one alone hit something passing: read it again, alone.
            Err(err) if retryable(err.kind) => {
                let op = Op::new(&ctx.events, name, OpAction::Read);
                op.retrying(1, super::retry::ATTEMPTS, std::time::Duration::ZERO, &err);
                repeating_as(&ctx.interrupt, Some(&op), || {
                    provider.read_text(type_name, id, properties)
                })
                .await
                .map_err(|e| anyhow!("refreshing {name}: {e}"))?
            }
            Err(err) => bail!("refreshing {name}: {err}"),
        };
        out.push((name.clone(), read));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of `recorded` (in order) that `batch` reads.
    fn names<'a>(batch: &Batch, recorded: &[(&'a str, &str, &str)]) -> Vec<&'a str> {
        let within = |n: &str| batch.first.as_str() <= n && n <= batch.last.as_str();
        recorded
            .iter()
            .filter(|(n, p, t)| within(n) && batch.plugin == *p && batch.type_name == *t)
            .map(|(n, ..)| *n)
            .collect()
    }

    #[test]
    fn batches_group_by_provider_and_type_in_order_up_to_each_size() {
        let recorded = [
            ("r1", "aws", "Instance"),
            ("r2", "aws", "Vpc"),
            ("r3", "aws", "Instance"),
            ("r4", "null", "Instance"),
            ("r5", "aws", "Instance"),
            ("r6", "aws", "Instance"),
            ("r7", "aws", "Vpc"),
        ];
        let size = |plugin: &str, type_name: &str| match (plugin, type_name) {
            ("aws", "Instance") => 3,
            ("aws", _) => 0,
            _ => 5,
        };
        let got = batches(recorded, size);
        let shown: Vec<(&str, &str, Vec<&str>, usize)> = got
            .iter()
            .map(|b| {
                (
                    b.plugin.as_str(),
                    b.type_name.as_str(),
                    names(b, &recorded),
                    b.count,
                )
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                ("aws", "Instance", vec!["r1", "r3", "r5"], 3),
                ("aws", "Vpc", vec!["r2"], 1),
                ("null", "Instance", vec!["r4"], 1),
                ("aws", "Instance", vec!["r6"], 1),
                ("aws", "Vpc", vec!["r7"], 1),
            ]
        );
        assert_eq!((got[0].first.as_str(), got[0].last.as_str()), ("r1", "r5"));
    }

    #[test]
    fn every_resource_is_in_exactly_one_batch() {
        let mut all: Vec<String> = (0..2_345).map(|i| format!("r{i}")).collect();
        all.sort();
        let recorded: Vec<(&str, &str, &str)> = all
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), "p", if i % 3 == 0 { "A" } else { "B" }))
            .collect();
        let got = batches(
            recorded.iter().copied(),
            |_, t| if t == "A" { 100 } else { 250 },
        );
        let mut seen: Vec<&str> = got.iter().flat_map(|b| names(b, &recorded)).collect();
        assert_eq!(seen.len(), recorded.len());
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), recorded.len());
        assert!(
            got.iter()
                .all(|b| b.count <= 250 && names(b, &recorded).len() == b.count)
        );
        assert_eq!(got.iter().filter(|b| b.type_name == "A").count(), 8);
        assert_eq!(got.iter().filter(|b| b.type_name == "B").count(), 7);
    }
}
