//! `Directory`: a directory (and its parents). Deleting a non-empty directory is a conflict:
//! rkit deletes what it put inside first, and never removes what it did not create.

use crate::meta::{self, Sidecar};
use crate::{Local, paths};
use rkit_sdk::{Created, Diagnostic, Error, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DirectoryProperties {
    /// Path relative to the granted directory.
    pub path: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DirectoryAttributes {}

pub struct Directory;

impl Resource for Directory {
    type Provider = Local;
    type Properties = DirectoryProperties;
    type Attributes = DirectoryAttributes;
    const TYPE: &'static str = "Directory";
    const DESCRIPTION: &'static str = "A directory";
    const FORCE_NEW: &'static [&'static str] = &["Path"];

    fn validate(props: &DirectoryProperties) -> Vec<Diagnostic> {
        paths::check("Path", &props.path)
    }

    fn create(
        _: &Local,
        props: &DirectoryProperties,
        tags: &Tags,
    ) -> Result<Created<DirectoryAttributes>> {
        std::fs::create_dir_all(paths::resolve(&props.path)?)
            .map_err(paths::io("creating", &props.path))?;
        let attributes = DirectoryAttributes {};
        meta::write(
            Self::TYPE,
            &props.path,
            &Sidecar {
                tags: tags.clone(),
                properties: props,
                attributes: &attributes,
            },
        )?;
        Ok(Created {
            id: props.path.clone(),
            attributes,
        })
    }

    fn read(_: &Local, id: &str, _: &DirectoryProperties) -> Result<Option<Observed<Self>>> {
        match std::fs::metadata(paths::resolve(id)?) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => return Ok(None),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err.into()),
        }
        let tags = meta::read::<DirectoryProperties, DirectoryAttributes>(Self::TYPE, id)?
            .map(|s| s.tags)
            .unwrap_or_default();
        Ok(Some(Observed {
            id: id.to_string(),
            properties: DirectoryProperties {
                path: id.to_string(),
            },
            attributes: DirectoryAttributes {},
            tags,
        }))
    }

    fn delete(_: &Local, id: &str, _: &DirectoryProperties) -> Result<()> {
        let path = paths::resolve(id)?;
        match std::fs::read_dir(&path) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(Error::conflict(format!(
                        "directory {id:?} is not empty; rkit removes only what it created"
                    )));
                }
                std::fs::remove_dir(&path).map_err(paths::io("deleting", id))?;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err.into()),
        }
        meta::remove(Self::TYPE, id)
    }

    fn list(p: &Local, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        crate::list_recorded::<Self>(p, tags)
    }
}
