//! Two WASI filesystem calls, narrowed beyond what wasmtime-wasi (cap-std) already enforces
//! inside a grant (no path resolves outside it, no absolute link target):
//!
//! - `symlink-at` refuses a link target holding `..`: whatever directory the link is made in,
//!   its target then stays inside the grant, so no host program or other provider following it
//!   is led out of the directory the user granted;
//! - `open-at` refuses to open anything but a regular file or a directory (a FIFO, a device, a
//!   socket): opening a FIFO blocks a host thread until someone writes to it, which neither a
//!   timeout nor exiting could undo; and a file it creates is made private (0600) at once,
//!   before the guest can write to it: WASI has no call to set permissions, and a secret a
//!   provider writes must never be readable by others.
//!
//! Both are installed over wasmtime-wasi's own definitions (linker shadowing) and delegate to
//! them once the check passes.

use super::instance::HostState;
use anyhow::Result;
use std::path::{Component, Path};
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::FsResult;
use wasmtime_wasi::p2::bindings::filesystem::types::{
    Descriptor, DescriptorFlags, DescriptorType, ErrorCode, HostDescriptor, OpenFlags, PathFlags,
};

/// The interface whose functions are narrowed, as wasmtime-wasi 48 registers it.
const INTERFACE: &str = "wasi:filesystem/types@0.2.12";

/// Whether a link target could lead out of the directory tree it is made in.
pub fn link_target_escapes(target: &str) -> bool {
    let path = Path::new(target);
    path.has_root()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
}

fn flatten<T>(result: FsResult<T>) -> wasmtime::Result<Result<T, ErrorCode>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(err) => Ok(Err(err.downcast()?)),
    }
}

/// Installs the narrowed `symlink-at` and `open-at` over wasmtime-wasi's.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(INTERFACE)?;
    types.func_wrap_async(
        "[method]descriptor.symlink-at",
        |mut store: StoreContextMut<'_, HostState>,
         (fd, target, link): (Resource<Descriptor>, String, String)| {
            Box::new(async move {
                if link_target_escapes(&target) {
                    return Ok((Err(ErrorCode::NotPermitted),));
                }
                let mut fs = store.data_mut().filesystem();
                Ok((flatten(
                    HostDescriptor::symlink_at(&mut fs, fd, target, link).await,
                )?,))
            })
        },
    )?;
    types.func_wrap_async(
        "[method]descriptor.open-at",
        |mut store: StoreContextMut<'_, HostState>,
         (fd, path_flags, path, open_flags, flags): (
            Resource<Descriptor>,
            PathFlags,
            String,
            OpenFlags,
            DescriptorFlags,
        )| {
            Box::new(async move {
                let mut fs = store.data_mut().filesystem();
                let dir = Resource::<Descriptor>::new_borrow(fd.rep());
                // What is there now (nothing yet is fine: it will be made as a regular file).
                let existing =
                    HostDescriptor::stat_at(&mut fs, dir, path_flags, path.clone()).await;
                if let Ok(stat) = &existing
                    && !matches!(
                        stat.type_,
                        DescriptorType::RegularFile | DescriptorType::Directory
                    )
                {
                    return Ok((Err(ErrorCode::NotPermitted),));
                }
                let opened =
                    HostDescriptor::open_at(&mut fs, fd, path_flags, path, open_flags, flags).await;
                if existing.is_err()
                    && let Ok(file) = &opened
                {
                    private(fs.table, file).map_err(wasmtime::Error::msg)?;
                }
                Ok((flatten(opened)?,))
            })
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Makes a file the guest just created readable and writable by the user alone (0600): a
/// provider cannot set permissions through WASI, and what it writes (a generated key, a
/// token) must never land in a file others can read.
fn private(
    table: &mut wasmtime::component::ResourceTable,
    file: &Resource<Descriptor>,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let wasmtime_wasi::filesystem::Descriptor::File(f) = table.get(file)? {
        f.file
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| anyhow::anyhow!("making a new file private: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_with_parent_steps_or_roots_escape() {
        for bad in ["../x", "a/../../b", "/etc/passwd", "a/.."] {
            assert!(link_target_escapes(bad), "{bad}");
        }
        for good in ["x", "a/b", "./a/b"] {
            assert!(!link_target_escapes(good), "{good}");
        }
    }
}
