//! etcd for the Python provider's tests: Debian's `etcd` (package `etcd-server`) started on
//! free loopback ports with a data directory of its own, stopped on drop; `etcdctl` (package
//! `etcd-client`) as the independent view of what it holds.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running single-member etcd.
pub struct Etcd {
    child: Child,
    pub endpoint: String,
    _data: tempfile::TempDir,
    log: PathBuf,
}

impl Etcd {
    /// Starts etcd on free loopback ports and waits until it accepts connections.
    pub fn start() -> Self {
        let (client, peer) = (super::free_port(), super::free_port());
        let data = tempfile::tempdir().unwrap();
        let log = data.path().join("etcd.log");
        let out = std::fs::File::create(&log).unwrap();
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args([
                "--data-dir",
                &data.path().join("data").display().to_string(),
            ])
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("default={peer_url}")])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("starting etcd (Debian package etcd-server; see README.md)");
        let mut etcd = Self {
            child,
            endpoint: client_url,
            _data: data,
            log,
        };
        let log = etcd.log.clone();
        super::wait_listening(
            &mut etcd.child,
            client,
            "etcd",
            Duration::from_secs(60),
            || std::fs::read_to_string(&log).unwrap_or_default(),
        );
        etcd
    }

    /// `etcdctl ARGS…` against this etcd: its standard output, or a panic with its error.
    pub fn ctl(&self, args: &[&str]) -> String {
        let out = Command::new("etcdctl")
            .args(["--endpoints", &self.endpoint])
            .args(args)
            .env("ETCDCTL_API", "3")
            .output()
            .expect("running etcdctl (Debian package etcd-client)");
        assert!(
            out.status.success(),
            "etcdctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The value of `key`, if it exists.
    pub fn get(&self, key: &str) -> Option<String> {
        let out = self.ctl(&["get", key, "--print-value-only"]);
        (!out.is_empty()).then(|| out.trim_end_matches('\n').to_string())
    }

    /// Every key under `prefix`, with its value.
    pub fn under(&self, prefix: &str) -> Vec<(String, String)> {
        let out = self.ctl(&["get", prefix, "--prefix"]);
        let lines: Vec<&str> = out.lines().collect();
        lines
            .chunks(2)
            .map(|kv| (kv[0].to_string(), kv.get(1).unwrap_or(&"").to_string()))
            .collect()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
