//! A filesystem grant's directory, opened once without following symbolic links and handed to
//! every instance as that open directory (never by path again).
//!
//! Invariants:
//! - Below the spec's directory (or, for an absolute grant, below `/`) every component is
//!   opened with `O_NOFOLLOW | O_DIRECTORY`, and missing ones are created with `mkdirat`: a
//!   provider that replaced a directory by a link cannot redirect another provider's grant.
//! - Instances get the directory through `/proc/self/fd/N` of the descriptor held here: the
//!   same inode whatever happens to the path afterwards.
//! - [`GrantDir::overlaps`] compares where the directories really are, so two providers can
//!   be refused nested or shared grants.

use anyhow::{Result, anyhow, bail};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// An opened grant directory.
#[derive(Debug, Clone)]
pub struct GrantDir {
    fd: Arc<OwnedFd>,
    /// Where it really is (resolved by the kernel from the descriptor).
    real: PathBuf,
}

fn open_dir_at(dir: libc::c_int, name: &CString, follow: bool) -> std::io::Result<OwnedFd> {
    let mut flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    // SAFETY: `name` is a valid C string; the returned descriptor is owned below.
    let fd = unsafe { libc::openat(dir, name.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn c_name(name: &std::ffi::OsStr) -> Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| anyhow!("a path component holds a NUL byte"))
}

impl GrantDir {
    /// Opens `grant` below `base` (the spec's directory; an absolute `grant` starts at `/`),
    /// creating missing directories, following no symbolic link below `base`.
    pub fn open_beneath(base: &Path, grant: &Path) -> Result<Self> {
        let (start, rest): (PathBuf, &Path) = if grant.is_absolute() {
            ("/".into(), grant)
        } else {
            (base.to_path_buf(), grant)
        };
        let mut current = open_dir_at(libc::AT_FDCWD, &c_name(start.as_os_str())?, true)
            .map_err(|e| anyhow!("{}: {e}", start.display()))?;
        let mut walked = start.clone();
        for component in rest.components() {
            let name = match component {
                Component::RootDir | Component::CurDir => continue,
                Component::Normal(name) => name,
                Component::ParentDir => bail!(
                    "{}: '..' is not allowed in a filesystem grant (name a directory below the spec's, or an absolute path)",
                    grant.display()
                ),
                Component::Prefix(_) => bail!("{}: not a Unix path", grant.display()),
            };
            walked.push(name);
            let cname = c_name(name)?;
            let opened = match open_dir_at(current.as_raw_fd(), &cname, false) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    // SAFETY: a valid directory descriptor and C string.
                    let made = unsafe { libc::mkdirat(current.as_raw_fd(), cname.as_ptr(), 0o755) };
                    if made != 0 {
                        let err = std::io::Error::last_os_error();
                        if err.raw_os_error() != Some(libc::EEXIST) {
                            bail!("creating {}: {err}", walked.display());
                        }
                    }
                    open_dir_at(current.as_raw_fd(), &cname, false)
                }
                other => other,
            };
            current = opened.map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => anyhow!(
                    "{} is not a directory (a symbolic link or a file): a filesystem grant is never followed through a link",
                    walked.display()
                ),
                _ => anyhow!("{}: {e}", walked.display()),
            })?;
        }
        Self::from_fd(current)
    }

    fn from_fd(fd: OwnedFd) -> Result<Self> {
        let proc = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
        let real = std::fs::read_link(&proc).map_err(|e| anyhow!("{}: {e}", proc.display()))?;
        Ok(Self {
            fd: Arc::new(fd),
            real,
        })
    }

    /// Opens an absolute directory path (tests, tools): [`GrantDir::open_beneath`] from `/`.
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_beneath(Path::new("/"), path)
    }

    /// Where the directory really is.
    pub fn path(&self) -> &Path {
        &self.real
    }

    /// A path that opens exactly this directory (its descriptor in `/proc/self/fd`).
    pub fn handle_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }

    /// Whether one of the two directories is, or lies inside, the other.
    pub fn overlaps(&self, other: &GrantDir) -> bool {
        self.real.starts_with(&other.real) || other.real.starts_with(&self.real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_missing_directories_and_refuses_links() {
        let base = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let made = GrantDir::open_beneath(base.path(), Path::new("a/b")).unwrap();
        assert!(base.path().join("a/b").is_dir());
        assert!(made.path().ends_with("a/b"));
        std::os::unix::fs::symlink(outside.path(), base.path().join("a/link")).unwrap();
        let err = GrantDir::open_beneath(base.path(), Path::new("a/link/inner")).unwrap_err();
        assert!(
            err.to_string()
                .contains("is not a directory (a symbolic link or a file)"),
            "{err}"
        );
        assert!(
            !outside.path().join("inner").exists(),
            "nothing made through the link"
        );
        let err = GrantDir::open_beneath(base.path(), Path::new("../x")).unwrap_err();
        assert!(err.to_string().contains("'..' is not allowed"), "{err}");
    }

    #[test]
    fn the_handle_keeps_pointing_at_the_opened_directory() {
        let base = tempfile::tempdir().unwrap();
        let dir = GrantDir::open_beneath(base.path(), Path::new("g")).unwrap();
        std::fs::write(base.path().join("g/f"), "x").unwrap();
        std::fs::rename(base.path().join("g"), base.path().join("moved")).unwrap();
        std::os::unix::fs::symlink("/etc", base.path().join("g")).unwrap();
        assert_eq!(std::fs::read(dir.handle_path().join("f")).unwrap(), b"x");
    }

    #[test]
    fn nested_and_equal_grants_overlap_siblings_do_not() {
        let base = tempfile::tempdir().unwrap();
        let shared = GrantDir::open_beneath(base.path(), Path::new("shared")).unwrap();
        let inner = GrantDir::open_beneath(base.path(), Path::new("shared/inner")).unwrap();
        let again = GrantDir::open_beneath(base.path(), Path::new("./shared")).unwrap();
        let other = GrantDir::open_beneath(base.path(), Path::new("sharedx")).unwrap();
        assert!(shared.overlaps(&inner) && inner.overlaps(&shared));
        assert!(shared.overlaps(&again));
        assert!(!shared.overlaps(&other));
    }
}
