//! The AWS emulator for the AWS tests and benchmark: moto's server from the project's
//! virtualenv, started on a free loopback port and stopped on drop, and boto3 from the same
//! virtualenv as the independent view of what it holds (`tests/aws/emulator.py`).

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The virtualenv holding moto and boto3: `$RKIT_TEST_VENV`, else `.venv` in the workspace.
pub fn venv() -> PathBuf {
    let dir = std::env::var_os("RKIT_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv"));
    assert!(
        dir.join("bin/moto_server").exists(),
        "{}: no moto_server there. Set up the AWS emulator first: python3 -m venv .venv && \
         .venv/bin/pip install -r tests/aws/requirements.txt (see README.md)",
        dir.display()
    );
    dir
}

/// A running moto server.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    log: PathBuf,
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it accepts connections.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// As [`Moto::start`], with extra environment for the server (e.g. turning on its
    /// signature checks with `INITIAL_NO_AUTH_ACTION_COUNT`).
    pub fn start_with(env: &[(&str, &str)]) -> Self {
        Self::spawn(Command::new(venv().join("bin/moto_server")), env)
    }

    /// moto with the Cloud Control API in front (`tests/aws/server.py`, same port), with
    /// extra environment (its `CLOUDCONTROL_*` knobs).
    pub fn with_cloud_control(env: &[(&str, &str)]) -> Self {
        let mut server = Command::new(venv().join("bin/python"));
        server.arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/aws/server.py"));
        Self::spawn(server, env)
    }

    fn spawn(mut server: Command, env: &[(&str, &str)]) -> Self {
        let port = super::free_port();
        let log = std::env::temp_dir().join(format!("rkit-moto-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = server
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("starting moto_server");
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        let log = moto.log.clone();
        super::wait_listening(
            &mut moto.child,
            port,
            "moto_server",
            Duration::from_secs(60),
            || std::fs::read_to_string(&log).unwrap_or_default(),
        );
        moto
    }

    /// The AWS SDKs' variables pointing at this emulator, with test credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn emulator(&self, command: &str) -> Value {
        self.emulator_with(&[command])
    }

    /// Runs `emulator.py ARGS…` and reads the JSON it prints.
    pub fn emulator_with(&self, args: &[&str]) -> Value {
        let command = args.join(" ");
        let out = self
            .emulator_command(args)
            .output()
            .expect("running tests/aws/emulator.py");
        assert!(
            out.status.success(),
            "emulator.py {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The command running `emulator.py ARGS…` against this emulator (to start it beside
    /// something else: `watch`).
    pub fn emulator_command(&self, args: &[&str]) -> Command {
        self.script("emulator.py", args)
    }

    /// Runs `tests/aws/SCRIPT ARGS…` with boto3 against this emulator; the JSON it prints.
    pub fn boto3(&self, script: &str, args: &[&str]) -> Value {
        let out = self
            .script(script, args)
            .output()
            .expect("running a boto3 script");
        assert!(
            out.status.success(),
            "{script} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn script(&self, script: &str, args: &[&str]) -> Command {
        let mut command = Command::new(venv().join("bin/python"));
        command
            .arg(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../tests/aws")
                    .join(script),
            )
            .args(args)
            .envs(self.env());
        command
    }

    /// What EC2 and ELBv2 hold, read with boto3 (`tests/aws/emulator.py state`).
    pub fn state(&self) -> Value {
        self.emulator("state")
    }

    /// Changes the example stack behind rkit's back (`emulator.py drift`): terminates WebA,
    /// revokes WebSecurityGroup's SSH rule, turns off PublicA's public IPs.
    pub fn drift(&self) -> Value {
        self.emulator("drift")
    }

    /// A new IAM access key allowed everything: (key ID, secret).
    pub fn access_key(&self) -> (String, String) {
        let key = self.emulator("access-key");
        (
            key["AccessKeyId"].as_str().unwrap().to_string(),
            key["SecretAccessKey"].as_str().unwrap().to_string(),
        )
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}
