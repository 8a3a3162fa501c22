//! `File`: a file with the given content. A content or mode change updates it in place; a
//! path change replaces it.

use crate::meta::{self, Sidecar};
use crate::{Local, paths};
use rkit_sdk::{Created, Diagnostic, Observed, Resource, Result, Tags};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FileProperties {
    /// Path relative to the granted directory; parent directories are created.
    pub path: String,
    /// The file's content (UTF-8 text).
    #[serde(default)]
    pub content: String,
    /// Permission bits as octal text: "0600", the only mode the sandbox gives (every file a
    /// provider creates is readable and writable by the user alone; WASI has no call to set
    /// permissions, so a wider mode cannot be honoured and is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "PascalCase")]
pub struct FileAttributes {
    /// Size of the content in bytes.
    pub size: u64,
}

pub struct File;

fn attributes(props: &FileProperties) -> FileAttributes {
    FileAttributes {
        size: props.content.len() as u64,
    }
}

fn write(props: &FileProperties, tags: &Tags) -> Result<FileAttributes> {
    let path = paths::resolve(&props.path)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(paths::io("creating the parent of", &props.path))?;
    }
    std::fs::write(&path, &props.content).map_err(paths::io("writing", &props.path))?;
    let attrs = attributes(props);
    meta::write(
        File::TYPE,
        &props.path,
        &Sidecar {
            tags: tags.clone(),
            properties: props,
            attributes: &attrs,
        },
    )?;
    Ok(attrs)
}

impl Resource for File {
    type Provider = Local;
    type Properties = FileProperties;
    type Attributes = FileAttributes;
    const TYPE: &'static str = "File";
    const DESCRIPTION: &'static str = "A file with the given content";
    const FORCE_NEW: &'static [&'static str] = &["Path"];

    fn validate(props: &FileProperties) -> Vec<Diagnostic> {
        let mut diagnostics = paths::check("Path", &props.path);
        if let Some(mode) = &props.mode {
            let bits = (!mode.is_empty() && mode.len() <= 4)
                .then(|| u32::from_str_radix(mode, 8).ok())
                .flatten();
            match bits {
                None => diagnostics.push(Diagnostic::error(
                    "Mode",
                    format!("{mode:?} is not octal permission bits like \"0600\""),
                )),
                Some(0o600) => {}
                Some(_) => diagnostics.push(Diagnostic::error(
                    "Mode",
                    format!(
                        "{mode:?} cannot be honoured: files the sandbox creates are readable \
                         and writable by you alone (\"0600\"), and WASI cannot change that"
                    ),
                )),
            }
        }
        diagnostics
    }

    fn create(_: &Local, props: &FileProperties, tags: &Tags) -> Result<Created<FileAttributes>> {
        Ok(Created {
            id: props.path.clone(),
            attributes: write(props, tags)?,
        })
    }

    fn read(_: &Local, id: &str, _: &FileProperties) -> Result<Option<Observed<Self>>> {
        let content = match std::fs::read(paths::resolve(id)?) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(paths::io("reading", id)(err)),
        };
        let sidecar = meta::read::<FileProperties, FileAttributes>(Self::TYPE, id)?;
        let (tags, mode) = sidecar.map_or((Tags::new(), None), |s| (s.tags, s.properties.mode));
        let properties = FileProperties {
            path: id.to_string(),
            content,
            mode,
        };
        Ok(Some(Observed {
            id: id.to_string(),
            attributes: attributes(&properties),
            properties,
            tags,
        }))
    }

    fn update(
        _: &Local,
        _id: &str,
        _old: &FileProperties,
        new: &FileProperties,
        tags: &Tags,
    ) -> Result<FileAttributes> {
        write(new, tags)
    }

    fn delete(_: &Local, id: &str, _: &FileProperties) -> Result<()> {
        match std::fs::remove_file(paths::resolve(id)?) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                return Err(paths::io("deleting", id)(err));
            }
            _ => {}
        }
        meta::remove(Self::TYPE, id)
    }

    fn list(p: &Local, tags: &Tags) -> Result<Vec<Observed<Self>>> {
        crate::list_recorded::<Self>(p, tags)
    }
}
