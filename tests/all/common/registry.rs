//! A real OCI registry for the publishing tests: Debian's `docker-registry` (the CNCF
//! distribution registry) serving a temporary directory on a free loopback port, stopped on
//! drop.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The registry binary: `$RKIT_TEST_REGISTRY`, else Debian's.
fn binary() -> PathBuf {
    let path = std::env::var_os("RKIT_TEST_REGISTRY")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"));
    assert!(
        path.exists(),
        "{}: no registry. Install Debian's: apt-get install docker-registry (see README.md)",
        path.display()
    );
    path
}

/// A running registry.
pub struct Registry {
    child: Option<Child>,
    /// `127.0.0.1:PORT`, the registry part of references.
    pub host: String,
    /// Its storage, deleted with it.
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry with filesystem storage in a new temporary directory.
    pub fn start() -> Self {
        let port = super::free_port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new(binary())
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let mut child = child;
        let log = dir.path().join("log");
        super::wait_listening(
            &mut child,
            port,
            "docker-registry",
            Duration::from_secs(30),
            || std::fs::read_to_string(&log).unwrap_or_default(),
        );
        Self {
            child: Some(child),
            host: format!("127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Stops the registry (to prove what follows needs no network).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// GET `path` on the registry with `accept`; the body.
    pub fn get(&self, path: &str, accept: &str) -> String {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(&self.host).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n",
            self.host
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
        body.to_string()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
