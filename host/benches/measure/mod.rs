//! Measuring one process: its wall time and its peak resident memory (GNU time's `%M`, taken
//! from `wait4`), killed with its whole process group at a time limit. Shared by the benches
//! that run the real `rkit` binary (`compare`, `memory`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A process to measure.
pub struct Cmd {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>, dir: &Path) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            dir: dir.to_path_buf(),
            env: Vec::new(),
        }
    }

    pub fn args<S: AsRef<str>>(mut self, args: &[S]) -> Self {
        self.args
            .extend(args.iter().map(|a| a.as_ref().to_string()));
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.env
            .push((key.into(), value.as_ref().to_string_lossy().into_owned()));
        self
    }
}

/// What one measured process took: wall time and peak RSS; `None` if it was killed at the
/// time limit.
pub type Measured = Option<(Duration, f64)>;

/// Runs `cmd` under GNU time (which forks it from its own small process, so the peak RSS is
/// the command's alone: on Linux, exec folds the parent's high-water mark into a child's
/// maxrss), killing it (its whole process group) after `limit`. Panics if it fails.
pub fn run(cmd: Cmd, limit: Duration) -> Measured {
    use std::os::unix::process::CommandExt;
    let rss_file = tempfile::NamedTempFile::new().unwrap();
    let mut command = Command::new("/usr/bin/time");
    command
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(rss_file.path())
        .arg(&cmd.program)
        .args(&cmd.args)
        .current_dir(&cmd.dir)
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    let started = Instant::now();
    let child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "{:?} (GNU time is Debian's `time` package): {e}",
            cmd.program
        )
    });
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    let finished = rx.recv_timeout(limit).is_ok();
    let took = started.elapsed();
    if !finished {
        // SAFETY: signalling the process group this function created.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
    }
    let out = waiter.join().unwrap().unwrap();
    if !finished {
        return None;
    }
    assert!(
        out.status.success(),
        "{:?} {:?} failed: {}",
        cmd.program,
        cmd.args,
        String::from_utf8_lossy(&out.stderr)
    );
    let kib: f64 = std::fs::read_to_string(rss_file.path())
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time wrote the peak RSS");
    Some((took, kib / 1024.0))
}

/// The value after `--NAME` on the bench's command line.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `--sizes N,…` (else `default`).
pub fn sizes(default: &str) -> Vec<usize> {
    flag("--sizes")
        .unwrap_or_else(|| default.into())
        .split(',')
        .map(|s| s.parse().expect("--sizes takes numbers"))
        .collect()
}
