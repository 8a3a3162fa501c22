//! Bootstrapping from one seed (issue 30), the whole flow against moto (EC2, S3, IAM), the
//! test playing the machines' part: it reads each new instance's user data through the EC2
//! API and runs it with `sh` in a directory of its own, as cloud-init would. The user data
//! installs rkit from the registry the spec's `Bootstrap.Rkit` pins (a real docker-registry,
//! fetched with curl and checked with sha256sum), and the machine's rkit gets its credentials
//! from an instance metadata service (IMDSv2) serving a role's session made in moto's STS: no
//! key in any machine's environment. What exists is checked with boto3.

use crate::common;

use common::metadata::{Metadata, RouteAnswer};
use common::moto::Moto;
use common::registry::Registry;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const STACK: &str = "selfrun";
const BUCKET: &str = "rkit-state";
const BUNDLE_KEY: &str = "selfrun.json.bundle";

/// The role session the metadata service hands out (made in moto before it starts).
static SESSION: Mutex<Option<Value>> = Mutex::new(None);

/// EC2's instance metadata service of instance `id`, IMDSv2: a token first, then its ID or
/// the role's credentials.
fn imds(id: &str, method: &str, path: &str, headers: &[(String, String)]) -> RouteAnswer {
    let token = headers
        .iter()
        .any(|(k, v)| k == "x-aws-ec2-metadata-token" && v == "t");
    let session = SESSION.lock().unwrap().clone().unwrap_or_default();
    match (method, path) {
        ("PUT", "/latest/api/token") => (
            200,
            vec![("x-aws-ec2-metadata-token-ttl-seconds", "21600".into())],
            "t".into(),
        ),
        (_, _) if !token => (401, vec![], String::new()),
        ("GET", "/latest/meta-data/instance-id") => (200, vec![], id.to_string()),
        ("GET", "/latest/meta-data/iam/security-credentials/") => {
            (200, vec![], "rkit-manager".into())
        }
        ("GET", "/latest/meta-data/iam/security-credentials/rkit-manager") => {
            let document = json!({
                "Code": "Success", "Type": "AWS-HMAC", "LastUpdated": "2026-01-01T00:00:00Z",
                "AccessKeyId": session["AccessKeyId"], "SecretAccessKey": session["SecretAccessKey"],
                "Token": session["SessionToken"], "Expiration": "2099-01-01T00:00:00Z"
            });
            (200, vec![], document.to_string())
        }
        _ => (404, vec![], String::new()),
    }
}

/// A machine the test plays: its directory, and the processes its user data started.
struct Machine {
    id: String,
    /// Its name in the stack (`Managers[1]`).
    name: String,
    dir: PathBuf,
    alive: bool,
    /// Its instance metadata service (its own: it answers with its ID).
    _metadata: Metadata,
}

impl Machine {
    fn pid(&self, file: &str) -> Option<i32> {
        std::fs::read_to_string(self.dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// What its converge printed.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("converge.log")).unwrap_or_default()
    }

    /// Stops it as a power-off would: the service's loop, then its converge.
    fn power_off(&self) {
        for file in ["supervisor.pid", "converge.pid"] {
            if let Some(pid) = self.pid(file) {
                let _ = std::process::Command::new("kill")
                    .args(["-9", &pid.to_string()])
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.power_off();
    }
}

/// Everything the flow needs: the cloud, the registry, the metadata service, the operator's
/// directory (the laptop) and the machines' directories.
struct World {
    moto: Moto,
    _registry: Registry,
    laptop: tempfile::TempDir,
    machines_root: tempfile::TempDir,
    machines: Vec<Machine>,
}

impl World {
    fn new() -> Self {
        let moto = Moto::start();
        *SESSION.lock().unwrap() = Some(moto.emulator_with(&["role-session"]));
        moto.emulator_with(&["bucket", BUCKET]);
        let world = Self {
            moto,
            _registry: Registry::start(),
            laptop: tempfile::tempdir().unwrap(),
            machines_root: tempfile::tempdir().unwrap(),
            machines: Vec::new(),
        };
        world.ok(&["provider", "keygen", "ops"]);
        world
    }

    /// rkit on the operator's machine (keys in its environment, as a laptop has them).
    fn rkit(&self, args: &[&str]) -> (i32, String) {
        let mut env = self.moto.env();
        env.push((
            "RKIT_CACHE_DIR".into(),
            common::cache_dir().display().to_string(),
        ));
        common::rkit(self.laptop.path(), &env, args)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.rkit(args);
        assert_eq!(code, 0, "rkit {}: {out}", args.join(" "));
        out
    }

    /// Publishes the rkit under test to the registry; its pinned reference.
    fn publish_rkit(&self) -> String {
        let reference = format!("{}/ops/rkit:test", self._registry.host);
        let out = self.ok(&["bundle", "publish-rkit", &reference]);
        let pinned = out.lines().last().unwrap().trim().to_string();
        assert!(pinned.contains("@sha256:"), "{out}");
        pinned
    }

    /// Writes the spec: managers (running rkit) in the account's default network, a network
    /// and a group of workers in it.
    fn write_spec(&self, pinned: &str, workers: u32) {
        self.write_spec_with(pinned, workers, "t3.micro");
    }

    fn write_spec_with(&self, pinned: &str, workers: u32, manager_type: &str) {
        let public = std::fs::read_to_string(self.laptop.path().join("ops.pub")).unwrap();
        let instance = |size: u32, subnet: Option<&str>, user_data: &str| {
            let it = if subnet.is_none() {
                manager_type
            } else {
                "t3.micro"
            };
            let mut properties = json!({"ImageId": "ami-0c02fb55956c7d316",
                "InstanceType": it, "UserData": user_data});
            if let Some(subnet) = subnet {
                properties["SubnetId"] = subnet.into();
            }
            json!({"Size": size, "Plugin": "aws", "Type": "Instance", "Properties": properties})
        };
        let spec = json!({
            "Stack": STACK,
            "State": {"Backend": "s3", "Bucket": BUCKET, "Key": "selfrun.json"},
            "Providers": {"aws": {"Source": common::provider_wasm("aws")}},
            "Bootstrap": {"TrustedKeys": [public.trim()], "Rkit": pinned, "Interval": "1s"},
            "Resources": {
                "Network": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.40.0.0/16"}},
                "Private": {"Plugin": "aws", "Type": "Subnet", "Properties": {
                    "VpcId": "{{.Resources.Network.ID}}", "CidrBlock": "10.40.1.0/24"}}
            },
            "Groups": {
                "Managers": instance(3, None, "{{.Bootstrap.UserData}}"),
                "Workers": instance(workers, Some("{{.Resources.Private.ID}}"), "#!/bin/sh\necho worker\n")
            }
        });
        std::fs::write(
            self.laptop.path().join("selfrun.json"),
            serde_json::to_string_pretty(&spec).unwrap(),
        )
        .unwrap();
    }

    fn bootstrap(&self) -> String {
        self.ok(&[
            "bootstrap",
            "selfrun.json",
            "--group",
            "Managers",
            "--sign",
            "ops.key",
            "--yes",
            "--approve",
        ])
    }

    /// The stack's instances not terminated: (ID, tags).
    fn instances(&self) -> Vec<Value> {
        self.moto
            .emulator_with(&["stack-instances", STACK])
            .as_array()
            .unwrap()
            .clone()
    }

    fn in_group(&self, group: &str) -> Vec<Value> {
        self.instances()
            .into_iter()
            .filter(|i| i["tags"]["rkit:group"] == group)
            .collect()
    }

    fn networks(&self) -> usize {
        self.moto.state()["vpcs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["tags"]["rkit:stack"] == STACK)
            .count()
    }

    /// Plays instance `id`: runs its user data in its own directory as cloud-init would,
    /// with the cloud's endpoint and the metadata service as the machine's network gives
    /// them, and no key.
    fn boot(&mut self, id: &str) {
        let user_data = self.moto.emulator_with(&["user-data", id])["user_data"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(user_data.contains("# rkit bootstrap:"), "{user_data}");
        let dir = self.machines_root.path().join(id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("user-data"), &user_data).unwrap();
        let machine_id = id.to_string();
        let metadata = Metadata::start(move |m, p, h| imds(&machine_id, m, p, h));
        let out = std::process::Command::new("sh")
            .arg(dir.join("user-data"))
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &dir)
            .env("RKIT_HOME", &dir)
            .env("RKIT_NO_SYSTEMD", "1")
            .env("RKIT_CACHE_DIR", common::cache_dir())
            .env("AWS_ENDPOINT_URL", &self.moto.endpoint)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata.origin)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the user data of {id} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let name = self
            .instances()
            .iter()
            .find(|i| i["id"] == id)
            .and_then(|i| i["tags"]["rkit:name"].as_str().map(String::from))
            .unwrap_or_default();
        self.machines.push(Machine {
            id: id.to_string(),
            name,
            dir,
            alive: true,
            _metadata: metadata,
        });
    }

    /// Waits until `want` holds (checked every 500 ms), or fails saying what the machines
    /// printed.
    fn until(&self, what: &str, within: Duration, want: impl Fn(&World) -> bool) {
        let start = Instant::now();
        while !want(self) {
            if start.elapsed() > within {
                let logs: Vec<String> = self
                    .machines
                    .iter()
                    .map(|m| format!("--- {}:\n{}", m.id, tail(&m.log(), 40)))
                    .collect();
                panic!(
                    "{what}: not within {within:?}; instances: {:#}\n{}",
                    json!(self.instances()),
                    logs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The PID of the process holding the state's lease now, if one does (read straight from
    /// moto's S3, which checks no signature, fast enough to catch a tick in the act).
    fn lease_holder(&self) -> Option<i32> {
        use std::io::{Read, Write};
        let address = self.moto.endpoint.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).ok()?;
        let request = format!(
            "GET /{BUCKET}/selfrun.json.lock HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, \
             SignedHeaders=host, Signature=00\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let body = answer.split_once("\r\n\r\n")?.1;
        let lease: Value = serde_json::from_str(body).ok()?;
        if lease["Released"] == true {
            return None;
        }
        let holder = lease["Holder"].as_str()?;
        holder.strip_prefix("pid ")?.split(',').next()?.parse().ok()
    }

    /// Kills (`kill -9`, machine and service) the manager that started creating `resource`,
    /// as soon as its log says so: mid-apply, holding the lease (checked). Its ID.
    fn kill_the_holder_mid_apply(&mut self, resource: &str) -> Option<String> {
        let line = format!("{resource}: Creating…");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if let Some(i) = self
                .machines
                .iter()
                .position(|m| m.alive && m.log().contains(&line))
            {
                let holder = self.lease_holder_of(&self.machines[i]);
                let m = &mut self.machines[i];
                m.power_off();
                m.alive = false;
                assert!(holder, "{} applied without holding the lease", m.id);
                return Some(m.id.clone());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    /// Whether machine `m`'s converge holds the state's lease.
    fn lease_holder_of(&self, m: &Machine) -> bool {
        let holder = self.lease_holder();
        holder.is_some() && m.pid("converge.pid") == holder
    }

    /// Plays the cloud's part in a rolling update of the managers until every manager is of
    /// `manager_type` and runs rkit: a machine whose instance is terminated powers off, a new
    /// instance boots. The fewest managers running rkit on a running instance at any time.
    fn roll_managers(&mut self, manager_type: &str) -> usize {
        let start = Instant::now();
        let mut fewest = usize::MAX;
        loop {
            let managers = self.in_group("Managers");
            let running = ids(&managers);
            for m in self.machines.iter_mut().filter(|m| m.alive) {
                if !running.contains(&m.id) {
                    m.power_off();
                    m.alive = false;
                }
            }
            for id in &running {
                if !self.machines.iter().any(|m| &m.id == id) {
                    self.boot(id);
                }
            }
            let converging = self.machines.iter().filter(|m| m.alive).count();
            fewest = fewest.min(converging);
            let done = managers.len() == 3
                && managers.iter().all(|m| m["type"] == manager_type)
                && converging == 3;
            if done {
                return fewest;
            }
            assert!(
                start.elapsed() < Duration::from_secs(240),
                "the managers' rolling update did not finish: {managers:#?}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Rewrites the stored bundle's spec without signing it again.
    fn tamper_bundle(&self) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let objects = self.moto.emulator_with(&["objects", BUCKET]);
        let mut sealed: Value =
            serde_json::from_str(objects[BUNDLE_KEY].as_str().unwrap()).unwrap();
        let mut bundle: Value =
            serde_json::from_slice(&b64.decode(sealed["Bundle"].as_str().unwrap()).unwrap())
                .unwrap();
        let spec = b64
            .decode(bundle["Files"]["selfrun.json"].as_str().unwrap())
            .unwrap();
        let spec = String::from_utf8(spec).unwrap();
        let evil = spec.replace("\"Size\": 6", "\"Size\": 9");
        assert_ne!(evil, spec, "the tampering changes the spec");
        bundle["Files"]["selfrun.json"] = b64.encode(evil).into();
        bundle["Serial"] = json!(bundle["Serial"].as_u64().unwrap_or(0) + 10);
        sealed["Bundle"] = b64.encode(serde_json::to_vec(&bundle).unwrap()).into();
        self.moto.emulator_with(&[
            "put-object",
            BUCKET,
            BUNDLE_KEY,
            &serde_json::to_string(&sealed).unwrap(),
        ]);
    }
}

impl Drop for World {
    fn drop(&mut self) {
        for machine in &self.machines {
            machine.power_off();
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn ids(instances: &[Value]) -> Vec<String> {
    instances
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// One lock for the suite: the metadata service's session is process-wide.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The flow, phase by phase, on one world (each phase starts where the last one left it).
#[test]
fn one_seed_builds_the_stack_which_then_runs_itself_until_destroyed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut world = World::new();
    let pinned = world.publish_rkit();
    world.write_spec(&pinned, 2);
    let seed = from_an_empty_account_one_seed_even_when_run_twice(&world);
    the_seed_builds_the_rest_and_the_managers_boot(&mut world, &seed);
    a_pushed_bundle_is_applied_once(&world, &pinned);
    the_holder_killed_mid_apply_is_taken_over(&mut world, &pinned);
    the_managers_roll_handing_over_their_own_machines(&mut world, &pinned);
    a_tampered_bundle_is_refused_by_every_manager(&world);
    destroyed_from_outside_nothing_is_left_or_built_again(&world);
}

/// From an empty account: one seed, tagged as one, nothing else yet; bootstrap run again reports
/// it and duplicates nothing. The seed's ID.
fn from_an_empty_account_one_seed_even_when_run_twice(w: &World) -> String {
    let out = w.bootstrap();
    assert!(out.contains("seed Managers[0] is i-"), "{out}");
    let seeds = w.in_group("Managers");
    assert_eq!(seeds.len(), 1, "{seeds:?}");
    assert_eq!(seeds[0]["tags"]["rkit:config-hash"], "bootstrap");
    assert_eq!(w.instances().len(), 1);
    assert_eq!(
        w.networks(),
        0,
        "the seed builds the network, not bootstrap"
    );

    // Bootstrap run again: the seed is reported, not duplicated.
    let again = w.bootstrap();
    assert!(
        again.contains("group Managers is running already"),
        "{again}"
    );
    assert!(again.contains(seeds[0]["id"].as_str().unwrap()), "{again}");
    assert_eq!(w.instances().len(), 1);

    ids(&seeds).remove(0)
}

/// The seed boots: its converge adopts it, relabels it and builds the rest; the other
/// managers boot and run rkit too.
fn the_seed_builds_the_rest_and_the_managers_boot(w: &mut World, seed: &str) {
    w.boot(seed);
    w.until("the seed builds the stack", Duration::from_secs(180), |w| {
        w.in_group("Managers").len() == 3 && w.in_group("Workers").len() == 2 && w.networks() == 1
    });
    w.until("the seed is relabelled", Duration::from_secs(60), |w| {
        w.in_group("Managers")
            .iter()
            .all(|m| m["tags"]["rkit:config-hash"] != "bootstrap")
    });
    assert!(
        ids(&w.in_group("Managers")).contains(&seed.to_string()),
        "the seed is a member, never replaced for being one"
    );

    // The other managers boot, and run rkit too.
    for id in ids(&w.in_group("Managers")) {
        if id != *seed {
            w.boot(&id);
        }
    }
}

/// A pushed bundle is applied by the managers, exactly once; every manager followed it.
fn a_pushed_bundle_is_applied_once(w: &World, pinned: &str) {
    w.write_spec(pinned, 3);
    w.ok(&["bundle", "push", "selfrun.json", "--sign", "ops.key"]);
    w.until(
        "the managers apply the pushed bundle",
        Duration::from_secs(120),
        |w| w.in_group("Workers").len() == 3,
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(w.in_group("Workers").len(), 3, "nothing duplicated");
    assert_eq!(w.in_group("Managers").len(), 3);
    assert_eq!(w.networks(), 1);
    for machine in &w.machines {
        assert!(
            machine.log().contains("following the bundle"),
            "{}: {}",
            machine.id,
            tail(&machine.log(), 30)
        );
    }
}

/// The manager applying (holding the lease) is killed mid-apply: another takes over, the
/// apply completes, nothing is duplicated.
fn the_holder_killed_mid_apply_is_taken_over(w: &mut World, pinned: &str) {
    w.write_spec(pinned, 6);
    w.ok(&["bundle", "push", "selfrun.json", "--sign", "ops.key"]);
    let killed = w.kill_the_holder_mid_apply("Workers[3]");
    assert!(
        killed.is_some(),
        "no manager was caught holding the lease mid-apply"
    );
    let workers = |w: &World| -> std::collections::BTreeSet<String> {
        ids(&w.in_group("Workers")).into_iter().collect()
    };
    // What the killed apply made (the create in flight included, once it shows) is adopted
    // as it is by the manager that takes over, not replaced.
    let made = workers(w);
    w.until(
        "another manager completes the apply",
        Duration::from_secs(120),
        |w| w.in_group("Workers").len() == 6,
    );
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(w.in_group("Workers").len(), 6, "nothing duplicated");
    let now = workers(w);
    assert!(
        made.is_subset(&now),
        "the takeover replaced workers the killed apply made: {made:?} → {now:?}"
    );
    assert_eq!(w.in_group("Managers").len(), 3);
}

/// A rolling update of the manager group itself: each manager leaves its own replacement to
/// another (handing over), so none deletes its own machine and the stack always has a
/// converging manager.
fn the_managers_roll_handing_over_their_own_machines(w: &mut World, pinned: &str) {
    w.write_spec_with(pinned, 6, "t3.small");
    w.ok(&["bundle", "push", "selfrun.json", "--sign", "ops.key"]);
    let fewest = w.roll_managers("t3.small");
    assert!(fewest >= 1, "a moment without a converging manager");
    assert!(
        w.machines
            .iter()
            .any(|m| m.log().contains("left to another manager (handing over)")),
        "no manager handed its own replacement over"
    );
    for m in &w.machines {
        assert!(
            !m.log()
                .lines()
                .any(|l| l.contains("deleted") && l.contains(&format!("[{}]", m.id))),
            "{} ({}) deleted its own machine: {}",
            m.name,
            m.id,
            tail(&m.log(), 40)
        );
    }
    assert_eq!(w.in_group("Workers").len(), 6);
}

/// A tampered bundle: every manager refuses it; the stack keeps its last good spec.
fn a_tampered_bundle_is_refused_by_every_manager(w: &World) {
    w.tamper_bundle();
    w.until(
        "every manager refuses the tampered bundle",
        Duration::from_secs(60),
        |w| {
            w.machines
                .iter()
                .filter(|m| m.alive)
                .all(|m| m.log().contains("the last good bundle keeps running"))
        },
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(w.in_group("Workers").len(), 6);
}

/// Destroyed from outside, with the same spec: nothing left, and nothing built again.
fn destroyed_from_outside_nothing_is_left_or_built_again(w: &World) {
    w.ok(&["bundle", "push", "selfrun.json", "--sign", "ops.key"]);
    let out = w.ok(&[
        "destroy",
        "selfrun.json",
        "--yes",
        "--approve",
        "--lock-timeout",
        "2m",
    ]);
    assert!(out.contains("Destroy complete"), "{out}");
    assert!(out.contains("is marked destroyed (by "), "{out}");
    let objects = w.moto.emulator_with(&["objects", BUCKET]);
    let sealed: Value = serde_json::from_str(objects[BUNDLE_KEY].as_str().unwrap()).unwrap();
    assert!(
        sealed["Destroyed"]
            .as_str()
            .is_some_and(|d| d.starts_with("by ")),
        "{sealed}"
    );
    assert_eq!(w.instances(), Vec::<Value>::new());
    assert_eq!(w.networks(), 0);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        w.instances(),
        Vec::<Value>::new(),
        "the managers built nothing again"
    );
}
