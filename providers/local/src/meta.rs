//! The metadata rkit keeps beside local resources: one sidecar JSON file per resource under
//! `/.rkit/<Type>/`, holding its tags and last properties and attributes. It is what makes
//! list-by-tags work, and one file per resource keeps concurrent instances from racing.

use rkit_sdk::{Result, Tags};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::path::PathBuf;

/// Where sidecars live, in the guest's view of the granted directory.
pub const ROOT: &str = "/.rkit";

/// A sidecar: what rkit knows of one resource beyond the resource itself.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Sidecar<P, A> {
    pub tags: Tags,
    pub properties: P,
    pub attributes: A,
}

fn escape(id: &str) -> String {
    id.replace('%', "%25").replace('/', "%2F")
}

fn unescape(name: &str) -> String {
    name.replace("%2F", "/").replace("%25", "%")
}

fn path(type_name: &str, id: &str) -> PathBuf {
    PathBuf::from(ROOT)
        .join(type_name)
        .join(format!("{}.json", escape(id)))
}

/// Records the sidecar of `id`.
pub fn write<P: Serialize, A: Serialize>(
    type_name: &str,
    id: &str,
    sidecar: &Sidecar<P, A>,
) -> Result<()> {
    let file = path(type_name, id);
    std::fs::create_dir_all(file.parent().expect("has a parent"))?;
    let json = rkit_sdk::json::render(sidecar)?;
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, &file)?;
    Ok(())
}

/// Reads the sidecar of `id`, if there is one.
pub fn read<P: DeserializeOwned, A: DeserializeOwned>(
    type_name: &str,
    id: &str,
) -> Result<Option<Sidecar<P, A>>> {
    match std::fs::read_to_string(path(type_name, id)) {
        Ok(text) => Ok(Some(rkit_sdk::json::parse(&text)?)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Forgets `id`.
pub fn remove(type_name: &str, id: &str) -> Result<()> {
    match std::fs::remove_file(path(type_name, id)) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err.into()),
        _ => Ok(()),
    }
}

/// Every recorded resource of `type_name` carrying all of `tags`, with its sidecar, by ID.
pub fn tagged<P: DeserializeOwned, A: DeserializeOwned>(
    type_name: &str,
    tags: &Tags,
) -> Result<Vec<(String, Sidecar<P, A>)>> {
    let dir = PathBuf::from(ROOT).join(type_name);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err.into()),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            // Renamed or removed since the listing (a sidecar being written beside this
            // one goes through a temporary file): not a resource to list.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err.into()),
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let id = unescape(stem);
        if let Some(sidecar) = read::<P, A>(type_name, &id)?
            && tags.iter().all(|(k, v)| sidecar.tags.get(k) == Some(v))
        {
            found.push((id, sidecar));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips() {
        for id in ["a/b.txt", "100%/x", "plain"] {
            assert_eq!(unescape(&escape(id)), id);
            assert!(!escape(id).contains('/'));
        }
    }
}
