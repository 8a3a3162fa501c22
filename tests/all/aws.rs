//! The AWS provider end to end: the real `rkit` binary with the real `aws.wasm` against moto's
//! EC2 and ELBv2 emulator, started on a free loopback port per test. After every step the
//! emulator's state is read independently with boto3 (`tests/aws/emulator.py`), not only from
//! rkit's output.

use crate::common;

use common::moto::Moto;
use rkit::sandbox::{ApiActions, AwsEndpoint, AwsSigner, Grants, HttpAllow, Sandbox};
use rkit::spi::Tags;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A spec in a temporary directory, applied against one emulator.
struct Stack<'a> {
    dir: tempfile::TempDir,
    spec: PathBuf,
    moto: &'a Moto,
    /// Extra variables for rkit (they override the emulator's).
    env: Vec<(String, String)>,
}

impl<'a> Stack<'a> {
    /// A copy of `examples/aws/NAME` whose provider source points at the built `aws.wasm`.
    fn example(moto: &'a Moto, name: &str) -> Self {
        let text = std::fs::read_to_string(example(name)).unwrap();
        let wasm = common::provider_wasm("aws");
        let text = text.replace(
            "../../target/wasm32-wasip2/release/aws.wasm",
            wasm.to_str().unwrap(),
        );
        Self::with_text(moto, name, &text)
    }

    fn with_text(moto: &'a Moto, name: &str, text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let spec = dir.path().join(name);
        std::fs::write(&spec, text).unwrap();
        Self {
            dir,
            spec,
            moto,
            env: Vec::new(),
        }
    }

    /// Edits the spec's text.
    fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.spec).unwrap();
        assert!(text.contains(from), "the spec has no {from:?}");
        std::fs::write(&self.spec, text.replace(from, to)).unwrap();
    }

    /// Runs rkit with the emulator's variables (and nothing else from this environment: its
    /// HOME is the stack's directory, so no ~/.aws of the machine is read).
    fn rkit(&self, args: &[&str]) -> (i32, String) {
        let spec = self.spec.to_str().unwrap();
        let mut args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "SPEC" { spec } else { a })
            .collect();
        common::approving(&mut args);
        let mut env = vec![
            ("HOME".to_string(), self.dir.path().display().to_string()),
            (
                "RKIT_CACHE_DIR".to_string(),
                common::cache_dir().display().to_string(),
            ),
        ];
        env.extend(self.moto.env());
        env.extend(self.env.iter().cloned());
        common::rkit(self.dir.path(), &env, &args)
    }

    /// `rkit converge SPEC --json --approve ARGS…` with only the emulator's variables (as
    /// [`Stack::rkit`]), its JSON events on a pipe.
    fn converge(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_rkit"));
        command
            .args([
                "converge",
                self.spec.to_str().unwrap(),
                "--json",
                "--approve",
            ])
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("RKIT_CACHE_DIR", common::cache_dir())
            .envs(self.moto.env())
            .stdout(std::process::Stdio::piped());
        command
    }

    /// Runs rkit and asserts its exit code.
    fn expect(&self, code: i32, args: &[&str]) -> String {
        let (got, text) = self.rkit(args);
        assert_eq!(got, code, "rkit {args:?}:\n{text}");
        text
    }

    /// What rkit's state records: logical name → ID.
    fn ids(&self) -> std::collections::BTreeMap<String, String> {
        let state = self.expect(0, &["state", "list", "SPEC"]);
        state
            .lines()
            .filter_map(|l| {
                let mut cols = l.split('\t');
                Some((cols.next()?.to_string(), cols.nth(1)?.to_string()))
            })
            .collect()
    }

    fn state_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".rkit-state.json"))
            .collect()
    }
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/aws")
        .join(name)
}

/// The objects of `kind` in the emulator's state.
fn objects<'v>(state: &'v Value, kind: &str) -> &'v Vec<Value> {
    state[kind].as_array().unwrap()
}

/// The one object of `kind` whose rkit:name tag is `name`.
fn named<'v>(state: &'v Value, kind: &str, name: &str) -> &'v Value {
    let found: Vec<&Value> = objects(state, kind)
        .iter()
        .filter(|o| o["tags"]["rkit:name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "{kind} named {name}: {found:?}");
    found[0]
}

fn live_instances(state: &Value) -> Vec<&Value> {
    objects(state, "instances")
        .iter()
        .filter(|i| i["state"] == "running")
        .collect()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

#[test]
fn the_seed_example_applies_as_written_and_a_lost_state_adopts_instead_of_duplicating() {
    let moto = Moto::start();
    let stack = Stack::example(&moto, "seed.json");
    let wasm = common::provider_wasm("aws");
    let bind = format!("infrakit-resource-aws={}", wasm.display());
    let out = stack.expect(0, &["apply", "SPEC", "--provider", &bind, "--yes"]);
    assert!(out.contains("2 created"), "{out}");
    assert!(
        out.contains("bracket left open"),
        "the seed's unclosed root is read with a warning: {out}"
    );

    let state = moto.state();
    let vpc = named(&state, "vpcs", "MyVpc");
    assert_eq!(vpc["cidr"], "10.0.0.0/16");
    assert_eq!(vpc["tags"]["rkit:stack"], "seed");
    let group = named(&state, "security_groups", "MySecurityGroup");
    assert_eq!(group["name"], "MySecurityGroup");
    assert_eq!(group["vpc"], vpc["id"]);
    let ids = stack.ids();
    assert_eq!(ids["MyVpc"], vpc["id"].as_str().unwrap());
    assert_eq!(ids["MySecurityGroup"], group["id"].as_str().unwrap());

    // Re-applying changes nothing.
    stack.expect(
        0,
        &["plan", "SPEC", "--provider", &bind, "--detailed-exitcode"],
    );

    // The state is lost (as if rkit died before recording): the next apply finds both by
    // their tags and adopts them, no duplicates.
    for file in stack.state_files() {
        std::fs::remove_file(file).unwrap();
    }
    let out = stack.expect(0, &["apply", "SPEC", "--provider", &bind, "--yes"]);
    assert!(out.contains("2 created"), "{out}");
    let again = moto.state();
    assert_eq!(objects(&again, "vpcs").len(), 1, "{again}");
    assert_eq!(objects(&again, "security_groups").len(), 1, "{again}");
    assert_eq!(stack.ids(), ids, "the same objects were adopted");

    let out = stack.expect(0, &["destroy", "SPEC", "--provider", &bind, "--yes"]);
    assert!(out.contains("2 deleted"), "{out}");
    let gone = moto.state();
    assert!(
        objects(&gone, "vpcs").is_empty() && objects(&gone, "security_groups").is_empty(),
        "{gone}"
    );
}

#[test]
fn the_full_stack_applies_is_a_no_op_again_updates_a_rule_replaces_a_subnet_and_destroys() {
    let moto = Moto::start();
    let stack = Stack::example(&moto, "stack.json");

    // Apply from an empty account.
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("13 created, 0 updated"), "{out}");
    assert!(
        out.contains("aws: ") && out.contains(" HTTP requests"),
        "{out}"
    );
    let s = moto.state();
    let vpc = named(&s, "vpcs", "Network");
    assert_eq!(vpc["cidr"], "10.20.0.0/16");
    let (a, b) = (
        named(&s, "subnets", "PublicA"),
        named(&s, "subnets", "PublicB"),
    );
    assert_eq!(
        (&a["vpc"], &a["cidr"], &a["zone"]),
        (&vpc["id"], &json!("10.20.1.0/24"), &json!("us-east-1a"))
    );
    assert_eq!(
        (&b["cidr"], &b["zone"]),
        (&json!("10.20.2.0/24"), &json!("us-east-1b"))
    );
    assert_eq!(a["public_ip"], true);
    let gateway = named(&s, "gateways", "Gateway");
    assert_eq!(gateway["vpcs"], json!([vpc["id"]]));
    let routes = named(&s, "route_tables", "PublicRoutes");
    assert_eq!(
        strings(&routes["routes"]),
        [format!("0.0.0.0/0->{}", gateway["id"].as_str().unwrap())]
    );
    let mut both = vec![a["id"].as_str().unwrap(), b["id"].as_str().unwrap()];
    both.sort();
    assert_eq!(strings(&routes["subnets"]), both);
    let group = named(&s, "security_groups", "WebSecurityGroup");
    assert_eq!(
        strings(&group["ingress"]),
        ["tcp:22-22:203.0.113.0/24", "tcp:80-80:0.0.0.0/0"]
    );
    assert_eq!(
        strings(&group["egress"]),
        ["-1:all:0.0.0.0/0"],
        "egress is left to AWS's default"
    );
    let (web_a, web_b) = (
        named(&s, "instances", "WebA"),
        named(&s, "instances", "WebB"),
    );
    assert_eq!(
        (&web_a["state"], &web_a["subnet"]),
        (&json!("running"), &a["id"])
    );
    assert_eq!(
        (&web_b["state"], &web_b["subnet"]),
        (&json!("running"), &b["id"])
    );
    assert_eq!(web_a["groups"], json!([group["id"]]));
    let volume = named(&s, "volumes", "Data");
    assert_eq!(
        (&volume["size"], &volume["type"], &volume["zone"]),
        (&json!(20), &json!("gp3"), &json!("us-east-1a"))
    );
    assert_eq!(
        volume["attachments"],
        json!([{"instance": web_a["id"], "device": "/dev/sdf", "state": "attached"}])
    );
    let lb = &objects(&s, "load_balancers")[0];
    assert_eq!(lb["name"], "web");
    assert_eq!(strings(&lb["subnets"]), both);
    assert_eq!(lb["groups"], json!([group["id"]]));
    let tg = &objects(&s, "target_groups")[0];
    let mut targets = vec![web_a["id"].as_str().unwrap(), web_b["id"].as_str().unwrap()];
    targets.sort();
    assert_eq!((&tg["port"], &tg["vpc"]), (&json!(80), &vpc["id"]));
    assert_eq!(strings(&tg["targets"]), targets);
    let listener = &objects(&s, "listeners")[0];
    assert_eq!(
        (&listener["load_balancer"], &listener["port"]),
        (&lb["arn"], &json!(80))
    );
    assert_eq!(listener["forward"], json!([tg["arn"]]));
    assert!(
        out.contains(&format!("Url = \"http://{}", "web-")),
        "outputs: {out}"
    );

    // list by tags finds every resource of the stack, type by type, through the sandbox.
    list_by_tags_finds_the_stack(&moto);

    // Again: nothing to do (every property read back equals the spec's).
    stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("No changes"), "{out}");

    // A security-group rule changes in place: same group, new rule, nothing else touched.
    stack.edit(
        "\"FromPort\": 22, \"ToPort\": 22",
        "\"FromPort\": 2222, \"ToPort\": 2222",
    );
    let plan = stack.expect(2, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(
        plan.contains("0 to create, 1 to update, 0 to replace"),
        "{plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let s2 = moto.state();
    let group2 = named(&s2, "security_groups", "WebSecurityGroup");
    assert_eq!(group2["id"], group["id"]);
    assert_eq!(
        strings(&group2["ingress"]),
        ["tcp:2222-2222:203.0.113.0/24", "tcp:80-80:0.0.0.0/0"]
    );
    assert_eq!(live_instances(&s2).len(), 2);

    // An instance's type (stopped, modified, started) and a volume's size change in place.
    stack.edit(
        "\"InstanceType\": \"t3.micro\",\n        \"SubnetId\": \"{{.Resources.PublicB.ID}}\"",
        "\"InstanceType\": \"t3.small\",\n        \"SubnetId\": \"{{.Resources.PublicB.ID}}\"",
    );
    stack.edit("\"Size\": 20", "\"Size\": 30");
    let plan = stack.expect(2, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(
        plan.contains("0 to create, 2 to update, 0 to replace"),
        "{plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let s2 = moto.state();
    let resized = named(&s2, "instances", "WebB");
    assert_eq!(
        (&resized["id"], &resized["type"], &resized["state"]),
        (&web_b["id"], &json!("t3.small"), &json!("running"))
    );
    let grown = named(&s2, "volumes", "Data");
    assert_eq!((&grown["id"], &grown["size"]), (&volume["id"], &json!(30)));
    assert_eq!(grown["attachments"][0]["state"], "attached");
    stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);

    // A subnet's CIDR changes: it is replaced, and so is the instance in it (its SubnetId is
    // force-new); the route table, load balancer and target group follow in place.
    stack.edit(
        "\"CidrBlock\": \"10.20.2.0/24\"",
        "\"CidrBlock\": \"10.20.3.0/24\"",
    );
    let plan = stack.expect(2, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(
        plan.contains("0 to create, 3 to update, 2 to replace"),
        "{plan}"
    );
    assert!(
        plan.contains("PublicB (aws Subnet): CidrBlock forces replacement"),
        "{plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let s3 = moto.state();
    let b3 = named(&s3, "subnets", "PublicB");
    assert_eq!(b3["cidr"], "10.20.3.0/24");
    assert_ne!(b3["id"], b["id"]);
    assert_eq!(
        objects(&s3, "subnets").len(),
        2,
        "the old subnet is gone: {s3}"
    );
    let live = live_instances(&s3);
    assert_eq!(live.len(), 2);
    let web_b3 = live
        .iter()
        .find(|i| i["tags"]["rkit:name"] == "WebB")
        .unwrap();
    assert_ne!(web_b3["id"], web_b["id"]);
    assert_eq!(web_b3["subnet"], b3["id"]);
    let old_b = objects(&s3, "instances")
        .iter()
        .find(|i| i["id"] == web_b["id"])
        .unwrap();
    assert_eq!(old_b["state"], "terminated");
    let mut both3 = vec![a["id"].as_str().unwrap(), b3["id"].as_str().unwrap()];
    both3.sort();
    assert_eq!(
        strings(&named(&s3, "route_tables", "PublicRoutes")["subnets"]),
        both3
    );
    assert_eq!(
        strings(&objects(&s3, "load_balancers")[0]["subnets"]),
        both3
    );
    let mut targets3 = vec![
        web_a["id"].as_str().unwrap(),
        web_b3["id"].as_str().unwrap(),
    ];
    targets3.sort();
    assert_eq!(
        strings(&objects(&s3, "target_groups")[0]["targets"]),
        targets3
    );
    assert_eq!(
        named(&s3, "vpcs", "Network")["id"],
        vpc["id"],
        "the VPC stays"
    );
    stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);

    // Destroy: everything goes, dependents first.
    let out = stack.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(out.contains("13 deleted; 0 failed"), "{out}");
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- ")?.split(':').next())
        .filter(|l| !l.contains(' '))
        .collect();
    let at = |name: &str| {
        order
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("{name} in {order:?}"))
    };
    assert!(
        at("DataAttachment") < at("Data") && at("DataAttachment") < at("WebA"),
        "{order:?}"
    );
    assert!(
        at("WebA") < at("PublicA") && at("WebB") < at("PublicB"),
        "{order:?}"
    );
    assert!(
        at("Http") < at("WebLoadBalancer") && at("Http") < at("WebTargets"),
        "{order:?}"
    );
    assert!(at("WebLoadBalancer") < at("WebSecurityGroup"), "{order:?}");
    assert!(
        at("PublicRoutes") < at("Gateway") && at("Gateway") < at("Network"),
        "{order:?}"
    );
    assert_eq!(order.last(), Some(&"Network"), "{order:?}");
    let end = moto.state();
    for kind in [
        "vpcs",
        "subnets",
        "gateways",
        "route_tables",
        "security_groups",
        "volumes",
        "load_balancers",
        "target_groups",
    ] {
        assert!(objects(&end, kind).is_empty(), "{kind} left: {end}");
    }
    assert!(live_instances(&end).is_empty(), "{end}");
}

/// Every kind of replacement reaches what references the replaced object in the same apply
/// (issue 25), checked in EC2 itself: `--replace Gateway` and the route table routes to the
/// new gateway; a security group's new name (force-new) makes the new group first, moves the
/// instances and the load balancer onto it, and only then deletes the old one (which AWS
/// refuses while it is in use); `--replace` of a target group a listener forwards to ends in
/// seconds with AWS's own refusal, as a conflict retrying will not resolve.
#[test]
fn replacements_reach_their_users_in_the_same_apply_and_in_use_is_said_at_once() {
    let moto = Moto::start();
    let stack = Stack::example(&moto, "stack.json");
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let old = named(&moto.state(), "gateways", "Gateway")["id"].clone();
    let plan = stack.expect(0, &["plan", "SPEC", "--replace", "Gateway"]);
    assert!(
        plan.contains("-/+ Gateway") && plan.contains("~ PublicRoutes"),
        "{plan}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes", "--replace", "Gateway"]);
    let s = moto.state();
    let gateway = named(&s, "gateways", "Gateway");
    assert_ne!(gateway["id"], old, "replaced");
    let routes = named(&s, "route_tables", "PublicRoutes");
    assert_eq!(
        strings(&routes["routes"]),
        [format!("0.0.0.0/0->{}", gateway["id"].as_str().unwrap())]
    );
    stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);

    let old_group = named(&s, "security_groups", "WebSecurityGroup")["id"].clone();
    stack.edit("\"GroupName\": \"web\"", "\"GroupName\": \"web-2\"");
    let plan = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        plan.contains(
            "-/+ WebSecurityGroup (aws SecurityGroup): GroupName forces replacement; \
             in use by WebA, WebB, WebLoadBalancer (create before destroy)"
        ),
        "{plan}"
    );
    let events = stack.expect(0, &["apply", "SPEC", "--yes", "--json"]);
    let finished = common::finished_operations(&events);
    let at = |what: &str| {
        finished
            .iter()
            .position(|f| f == what)
            .unwrap_or_else(|| panic!("{what}: {finished:?}"))
    };
    for user in ["update WebA", "update WebB", "update WebLoadBalancer"] {
        assert!(at("replace WebSecurityGroup") < at(user), "{finished:?}");
        assert!(
            at(user) < at("delete-for-replace WebSecurityGroup"),
            "{finished:?}"
        );
    }
    let s = moto.state();
    let group = named(&s, "security_groups", "WebSecurityGroup");
    assert_eq!(group["name"], "web-2");
    assert_ne!(group["id"], old_group);
    assert_eq!(
        objects(&s, "security_groups").len(),
        1,
        "the old group is gone: {s}"
    );
    for web in live_instances(&s) {
        assert_eq!(strings(&web["groups"]), [group["id"].as_str().unwrap()]);
    }
    let balancer = named(&s, "load_balancers", "WebLoadBalancer");
    assert_eq!(
        strings(&balancer["groups"]),
        [group["id"].as_str().unwrap()]
    );

    let targets = named(&s, "target_groups", "WebTargets")["arn"].clone();
    let started = std::time::Instant::now();
    let out = stack.expect(1, &["apply", "SPEC", "--yes", "--replace", "WebTargets"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert!(
        out.contains(
            "is currently in use by a listener or a rule (still in use after 20 s) [conflict]"
        ),
        "{out}"
    );
    assert_eq!(
        named(&moto.state(), "target_groups", "WebTargets")["arn"],
        targets
    );

    // An object made by hand, imported: the plan speaks only of what the spec sets, not of the
    // egress rule AWS gave it by default (which no apply would change).
    let vpc = stack.ids()["Network"].clone();
    let hand = moto.emulator_with(&["security-group", &vpc, "hand"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    stack.edit(
        "\"WebSecurityGroup\": {",
        "\"Hand\": {\"Plugin\": \"aws\", \"Type\": \"SecurityGroup\", \"Properties\": \
         {\"GroupName\": \"hand\", \"Description\": \"by hand\", \"VpcId\": \"{{.Resources.Network.ID}}\"}},\n    \
         \"WebSecurityGroup\": {",
    );
    stack.expect(0, &["import", "SPEC", "Hand", &hand]);
    let plan = stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);
    assert!(plan.contains("No changes"), "{plan}");
}

/// Lists every type of the full stack by its stack tag through the sandboxed provider.
fn list_by_tags_finds_the_stack(moto: &Moto) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let provider = start_provider(moto, &moto.endpoint, &moto.endpoint).await;
        let stack: Tags = [("rkit:stack".to_string(), "web".to_string())].into();
        let expected = [
            ("Vpc", vec!["Network"]),
            ("Subnet", vec!["PublicA", "PublicB"]),
            ("InternetGateway", vec!["Gateway"]),
            ("RouteTable", vec!["PublicRoutes"]),
            ("SecurityGroup", vec!["WebSecurityGroup"]),
            ("Volume", vec!["Data"]),
            ("VolumeAttachment", vec!["DataAttachment"]),
            ("Instance", vec!["WebA", "WebB"]),
            ("LoadBalancer", vec!["WebLoadBalancer"]),
            ("TargetGroup", vec!["WebTargets"]),
            ("Listener", vec!["Http"]),
        ];
        for (type_name, names) in expected {
            let found = provider.list(type_name, &stack).await.unwrap();
            let got: BTreeSet<&str> = found.iter().map(|o| o.tags["rkit:name"].as_str()).collect();
            assert_eq!(got, names.into_iter().collect(), "list {type_name}");
        }
        let nobody: Tags = [("rkit:stack".to_string(), "nobody".to_string())].into();
        assert!(provider.list("Subnet", &nobody).await.unwrap().is_empty());
    });
}

/// Grants as rkit gives the AWS provider: HTTP to `granted`, requests to `endpoints` (EC2's,
/// then ELBv2's) signed with the emulator's test keys, the provider's declared actions.
fn aws_grants(
    module: &rkit::sandbox::ProviderModule,
    granted: &str,
    endpoints: [&str; 2],
) -> Grants {
    let signed = endpoints
        .iter()
        .zip(["ec2", "elasticloadbalancing"])
        .filter_map(|(url, service)| {
            Some(AwsEndpoint {
                origin: HttpAllow::parse(url).ok()?,
                service: service.into(),
            })
        })
        .collect();
    Grants {
        http: vec![HttpAllow::parse(granted).unwrap()],
        signer: Some(Arc::new(AwsSigner::new(
            "testing".into(),
            "testing".into(),
            None,
            "us-east-1".into(),
            signed,
        ))),
        api_actions: ApiActions::parse(&module.info().capabilities.api_actions).unwrap(),
        ..Grants::default()
    }
}

/// The AWS provider started straight from the library, granted HTTP to the emulator only,
/// configured to send EC2 calls to `ec2` and ELBv2 calls to `elbv2`.
async fn start_provider(moto: &Moto, ec2: &str, elbv2: &str) -> rkit::sandbox::Provider {
    let sandbox = Sandbox::new(Some(&common::cache_dir())).unwrap();
    let module = sandbox
        .load_file(
            &common::provider_wasm("aws"),
            &rkit::sandbox::Grants::default(),
        )
        .await
        .unwrap();
    assert_eq!(module.info().capabilities.credentials, ["aws"]);
    let grants = aws_grants(&module, &moto.endpoint, [ec2, elbv2]);
    let config = json!({
        "Region": "us-east-1",
        "Endpoints": {"Ec2": ec2, "Elbv2": elbv2},
        "MaxAttempts": 1,
    });
    module.start(grants, &config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_reaches_its_endpoint_and_no_other_host() {
    let moto = Moto::start();
    // Another loopback server the provider is told to use but not granted: it must see no
    // connection at all.
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    let other_url = format!("http://{}", other.local_addr().unwrap());
    other.set_nonblocking(true).unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let watcher = std::thread::spawn(move || {
        for _ in 0..100 {
            if other.accept().is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    });
    let vpc = json!({"CidrBlock": "10.9.0.0/16"});

    let misdirected = start_provider(&moto, &other_url, &moto.endpoint).await;
    let err = misdirected
        .create("Vpc", &vpc, &Tags::new(), "token")
        .await
        .unwrap_err();
    assert!(
        err.message.contains(&format!("POST {other_url}"))
            && err.message.contains("granted: ")
            && err.message.contains(&moto.endpoint),
        "the denial names the request and the grant: {err}"
    );

    let granted = start_provider(&moto, &moto.endpoint, &moto.endpoint).await;
    let created = granted
        .create("Vpc", &vpc, &Tags::new(), "token")
        .await
        .unwrap();
    assert!(created.id.starts_with("vpc-"), "{created:?}");
    watcher.join().unwrap();
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "the ungranted host saw a connection"
    );
    let state = moto.state();
    assert_eq!(objects(&state, "vpcs").len(), 1, "{state}");
    assert_eq!(misdirected.http_requests(), 0);
}

#[test]
fn converge_repairs_what_was_changed_outside_rkit_within_two_ticks() {
    use std::io::BufRead;
    let moto = Moto::start();
    let stack = Stack::example(&moto, "stack.json");
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    let before = moto.state();
    let old_a = named(&before, "instances", "WebA")["id"].clone();
    let done = moto.drift();
    assert_eq!(done["terminated"], old_a);

    // Observe only: the three changes are reported, nothing is touched, exit 2.
    let out = stack.expect(2, &["converge", "SPEC", "--once", "--observe-only"]);
    assert!(
        out.contains("WebA: to create: it was deleted outside rkit"),
        "{out}"
    );
    assert!(
        out.contains("WebSecurityGroup: differs from the spec (IpPermissions)"),
        "{out}"
    );
    assert!(
        out.contains("PublicA: differs from the spec (MapPublicIpOnLaunch)"),
        "{out}"
    );
    let s = moto.state();
    assert!(
        live_instances(&s)
            .iter()
            .all(|i| i["tags"]["rkit:name"] != "WebA")
    );
    assert_eq!(named(&s, "subnets", "PublicA")["public_ip"], false);

    // The loop: repaired within two ticks of a 1 s interval.
    let mut child = stack
        .converge(&["--interval", "1s"])
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut ticks = Vec::new();
    for line in lines.map_while(Result::ok) {
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["type"] == "drift" {
            ticks.push(event.clone());
        }
        if event["type"] == "tick_finished" {
            ticks.push(event.clone());
            let finished = ticks
                .iter()
                .filter(|t| t["type"] == "tick_finished")
                .count();
            if event["drift"] == 0 || finished == 3 {
                break;
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let drifts = ticks.clone();
    ticks.retain(|t| t["type"] == "tick_finished");
    assert!(ticks.len() <= 2 || ticks[2]["drift"] == 0, "{drifts:#?}");
    assert!(ticks[0]["repaired"].as_u64().unwrap() >= 3, "{ticks:#?}");
    assert_eq!(ticks[0]["failed"], 0, "{ticks:#?}");

    let s = moto.state();
    let new_a = live_instances(&s)
        .into_iter()
        .find(|i| i["tags"]["rkit:name"] == "WebA")
        .expect("WebA runs again");
    assert_ne!(new_a["id"], old_a, "a new instance");
    assert_eq!(
        strings(&named(&s, "security_groups", "WebSecurityGroup")["ingress"]),
        ["tcp:22-22:203.0.113.0/24", "tcp:80-80:0.0.0.0/0"]
    );
    assert_eq!(named(&s, "subnets", "PublicA")["public_ip"], true);
    // Exactly one live instance per name.
    let live_a = live_instances(&s)
        .iter()
        .filter(|i| i["tags"]["rkit:name"] == "WebA")
        .count();
    assert_eq!(live_a, 1);
    let out = stack.expect(0, &["converge", "SPEC", "--once", "--observe-only"]);
    assert!(out.contains("tick 1: no drift ("), "{out}");
    // A no-drift tick reads every resource once (no batching yet: issue 16).
    assert!(out.contains(" HTTP requests)"), "{out}");
    println!(
        "no-drift tick of the AWS stack: {}",
        out.lines().last().unwrap_or_default()
    );
}

/// The running members of group `Web`, read with boto3 by their tags.
fn web_members(moto: &Moto) -> Vec<Value> {
    moto.emulator_with(&["members", "Web"])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn a_group_scales_rolls_within_its_budget_and_adopts_a_hand_made_seed() {
    use std::io::BufRead;
    let moto = Moto::start();
    let stack = Stack::example(&moto, "group.json");
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("Web: 0 → 3 (+3)"), "{out}");
    assert_eq!(web_members(&moto).len(), 3);
    let out = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        out.contains("No changes"),
        "targets read back as written: {out}"
    );

    // Scaled 3 → 5 → 2, counted by tag.
    stack.edit("\"Size\": 3", "\"Size\": 5");
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("Web: 3 → 5 (+2)"), "{out}");
    assert_eq!(web_members(&moto).len(), 5);
    stack.edit("\"Size\": 5", "\"Size\": 2");
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("Web: 5 → 2 (-3)"), "{out}");
    let kept = web_members(&moto);
    let mut logical: Vec<&str> = kept
        .iter()
        .map(|m| m["tags"]["rkit:logical-id"].as_str().unwrap())
        .collect();
    logical.sort();
    assert_eq!(logical, ["0", "1"], "the highest numbers go first");

    // A template change rolls through, never fewer than Size - MaxUnavailable running, as
    // boto3 samples it while apply runs.
    stack.edit("\"t3.micro\"", "\"t3.small\"");
    let out = stack.expect(0, &["plan", "SPEC"]);
    assert!(
        out.contains("Web: rolling update of 2 members (1 at a time)")
            && out.contains("~ WebTargets (aws TargetGroup)")
            && out.contains("0 to create, 1 to update, 2 to replace"),
        "the plan shows the target group the members feed: {out}"
    );
    let stop = stack.dir.path().join("stop-watching");
    let watcher = moto
        .emulator_command(&["watch", "Web", stop.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    stack.expect(0, &["apply", "SPEC", "--yes"]);
    std::fs::write(&stop, "").unwrap();
    let seen: Value = serde_json::from_slice(&watcher.wait_with_output().unwrap().stdout).unwrap();
    println!("sampled while rolling: {seen}");
    assert!(seen["samples"].as_u64().unwrap() >= 5, "{seen}");
    assert!(
        seen["min"].as_u64().unwrap() >= 1,
        "below Size - MaxUnavailable: {seen}"
    );
    assert!(seen["max"].as_u64().unwrap() <= 3, "{seen}");
    assert!(
        seen["min_healthy_targets"].as_u64().unwrap() >= 1,
        "the target group kept Size - MaxUnavailable healthy targets: {seen}"
    );
    let rolled = web_members(&moto);
    assert_eq!(rolled.len(), 2);
    assert!(rolled.iter().all(|m| m["type"] == "t3.small"), "{rolled:?}");
    let hash = rolled[0]["tags"]["rkit:config-hash"].clone();
    assert!(rolled.iter().all(|m| m["tags"]["rkit:config-hash"] == hash));

    // A seed started by hand with the group's tags joins it when it grows (adopted and
    // relabelled, not duplicated and not replaced).
    let subnet = stack.ids()["Public"].clone();
    let seed = moto.emulator_with(&["seed", "web-group", "Web", &subnet])["id"]
        .as_str()
        .unwrap()
        .to_string();
    stack.edit("\"Size\": 2", "\"Size\": 3");
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains(&format!("adopting {seed}")), "{out}");
    let members = web_members(&moto);
    assert_eq!(members.len(), 3, "{members:?}");
    let joined = members.iter().find(|m| m["id"] == seed.as_str()).unwrap();
    assert_eq!(joined["tags"]["rkit:config-hash"], hash, "relabelled");
    assert_eq!(joined["tags"]["rkit:name"], "Web[2]");
    let out = stack.expect(0, &["plan", "SPEC"]);
    assert!(out.contains("No changes"), "{out}");
    let ids = stack.expect(0, &["output", "SPEC", "WebInstances", "--json"]);
    let mut ids: Vec<String> = serde_json::from_str(ids.trim()).unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&seed));
    // The target group holds exactly the members.
    ids.sort();
    let s = moto.state();
    let targets = &named(&s, "target_groups", "WebTargets")["targets"];
    assert_eq!(
        strings(targets),
        ids.iter().map(String::as_str).collect::<Vec<_>>()
    );
    // One member replaced by name: the target group holds the new one after the same apply.
    let out = stack.expect(0, &["plan", "SPEC", "--replace", "Web[1]"]);
    assert!(
        out.contains("-/+ Web[1]") && out.contains("~ WebTargets"),
        "{out}"
    );
    stack.expect(0, &["apply", "SPEC", "--yes", "--replace", "Web[1]"]);
    let members = web_members(&moto);
    let mut ids: Vec<&str> = members.iter().map(|m| m["id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids.len(), 3, "{members:?}");
    let s = moto.state();
    assert_eq!(
        strings(&named(&s, "target_groups", "WebTargets")["targets"]),
        ids
    );
    // converge --follow-spec rolls a template change; SIGTERM during a replacement's health
    // wait ends it with the state consistent: the next apply finishes the roll, no member is
    // duplicated, and /metrics was served meanwhile.
    stack.edit("\"HealthyFor\": \"1s\"", "\"HealthyFor\": \"20s\"");
    stack.edit("\"t3.small\"", "\"t3.medium\"");
    let port = common::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = stack
        .converge(&["--follow-spec", "--interval", "1s", "--listen", &listen])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref().map_while(Result::ok) {
        let e: Value = serde_json::from_str(&line).unwrap();
        if e["type"] == "operation_finished" && e["resource"] == "Web[0]" {
            // Old Web[0] deleted: the replacement is being made, then waited on.
            break;
        }
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let metrics = {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&listen).unwrap();
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    };
    // Mid-tick: the drift is counted (the tick and its requests when it ends): three members
    // and the target group they feed.
    assert!(
        metrics.contains("\nrkit_converge_drift_ticks_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nrkit_converge_drift_changes_total 4\n"),
        "{metrics}"
    );
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    child.wait().unwrap();
    assert!(
        rest.join("\n")
            .contains("interrupted while waiting for it to be healthy"),
        "{rest:?}"
    );
    // (HealthyFor is not part of the template: shortening it changes no member.)
    stack.edit("\"HealthyFor\": \"20s\"", "\"HealthyFor\": \"1s\"");
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("rolling update of 2 members"), "{out}");
    let members = web_members(&moto);
    assert_eq!(
        members.len(),
        3,
        "no member duplicated or lost: {members:?}"
    );
    assert!(
        members.iter().all(|m| m["type"] == "t3.medium"),
        "{members:?}"
    );
    let out = stack.expect(0, &["converge", "SPEC", "--once", "--observe-only"]);
    assert!(out.contains("tick 1: no drift ("), "{out}");
    println!(
        "no-drift tick of the group stack: {}",
        out.lines().last().unwrap_or_default()
    );
    stack.expect(0, &["destroy", "SPEC", "--yes"]);
    assert!(web_members(&moto).is_empty());
}

#[test]
fn many_objects_are_read_in_batches_and_what_vanished_is_found() {
    // 250 instances (2 batches) and 3 target groups in one spec: a no-op plan reads them in a
    // handful of requests; with one instance terminated and one target group deleted behind
    // rkit's back, the batches still answer for every object, and the plan re-creates the two.
    let moto = Moto::start();
    let mut resources = serde_json::Map::new();
    resources.insert(
        "Net".into(),
        json!({"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.9.0.0/16"}}),
    );
    resources.insert(
        "Sub".into(),
        json!({"Plugin": "aws", "Type": "Subnet", "Properties": {
            "VpcId": "{{.Resources.Net.ID}}", "CidrBlock": "10.9.0.0/20"}}),
    );
    for i in 0..250 {
        resources.insert(
            format!("Web{i:03}"),
            json!({"Plugin": "aws", "Type": "Instance", "Properties": {
                "ImageId": "ami-12c6146b", "InstanceType": "t3.micro",
                "SubnetId": "{{.Resources.Sub.ID}}"}}),
        );
    }
    for i in 0..3 {
        resources.insert(
            format!("Pool{i}"),
            json!({"Plugin": "aws", "Type": "TargetGroup", "Properties": {
                "Name": format!("pool-{i}"), "Protocol": "HTTP", "Port": 80,
                "VpcId": "{{.Resources.Net.ID}}"}}),
        );
    }
    let spec = json!({
        "Providers": {"aws": {"Source": common::provider_wasm("aws")}},
        "Resources": resources,
    });
    let stack = Stack::with_text(&moto, "many.json", &spec.to_string());
    let requests = |out: &str| -> u64 {
        out.lines()
            .find_map(|l| l.strip_prefix("aws: ")?.split(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no request count in:\n{out}"))
    };

    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("255 created"), "{out}");
    // RunInstances each, new instances polled together, the target groups' creates and tags.
    assert!(requests(&out) <= 2 * 255, "{out}");
    assert_eq!(live_instances(&moto.state()).len(), 250);

    let out = stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);
    // VPC 1, subnet 1, instances 3 (batches of 200 and 50; moto answers 100 per page),
    // target groups: 1 describe, 1 DescribeTags and one DescribeTargetHealth each. One read
    // per object would be 255.
    assert!(requests(&out) <= 10, "{out}");

    let ids = stack.ids();
    moto.emulator_with(&["remove", &ids["Web123"], &ids["Pool1"]]);
    let (code, out) = stack.rkit(&["plan", "SPEC", "--detailed-exitcode"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("2 to create, 0 to update"), "{out}");
    assert!(out.contains("+ Web123 (aws Instance)"), "{out}");
    assert!(out.contains("+ Pool1 (aws TargetGroup)"), "{out}");
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("2 created"), "{out}");
    assert_eq!(live_instances(&moto.state()).len(), 250);
    stack.expect(0, &["plan", "SPEC", "--detailed-exitcode"]);
}

#[test]
fn signatures_are_verified_by_the_emulator() {
    // moto checks SigV4 signatures (and IAM policies) after the first three requests, which
    // create the key used below.
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let (key, secret) = moto.access_key();
    let spec = json!({
        "Providers": {"aws": {"Source": common::provider_wasm("aws")}},
        "Resources": {"Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.1.0.0/16"}}}
    });
    let mut stack = Stack::with_text(&moto, "signed.json", &spec.to_string());

    stack.env = vec![
        ("AWS_ACCESS_KEY_ID".into(), key.clone()),
        ("AWS_SECRET_ACCESS_KEY".into(), "wrong".into()),
    ];
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("Net (aws Vpc): EC2 CreateVpc: AuthFailure"),
        "{out}"
    );

    stack.env = vec![
        ("AWS_ACCESS_KEY_ID".into(), key),
        ("AWS_SECRET_ACCESS_KEY".into(), secret),
    ];
    let out = stack.expect(0, &["apply", "SPEC", "--yes"]);
    assert!(out.contains("1 created"), "{out}");
}

#[test]
fn aws_errors_surface_verbatim_and_the_state_keeps_what_exists() {
    let moto = Moto::start();
    let spec = json!({
        "Providers": {"aws": {"Source": common::provider_wasm("aws")}},
        "Resources": {
            "Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.1.0.0/16"}},
            "Outside": {"Plugin": "aws", "Type": "Subnet", "Properties": {
                "VpcId": "{{.Resources.Net.ID}}", "CidrBlock": "192.168.0.0/24"}}
        }
    });
    let stack = Stack::with_text(&moto, "bad.json", &spec.to_string());
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("Outside (aws Subnet): EC2 CreateSubnet: InvalidSubnet.Range:"),
        "AWS's code and message with the resource's name: {out}"
    );
    assert!(
        out.contains("1 created") && out.contains("1 failed"),
        "{out}"
    );
    let ids = stack.ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(
        ids["Net"],
        named(&moto.state(), "vpcs", "Net")["id"].as_str().unwrap()
    );

    // A spec the provider rejects names the file, resource and field before any call.
    let bad = Stack::with_text(
        &moto,
        "typo.json",
        &json!({
            "Providers": {"aws": {"Source": common::provider_wasm("aws")}},
            "Resources": {"Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.1.0.0/33"}}}
        })
        .to_string(),
    );
    let out = bad.expect(1, &["plan", "SPEC"]);
    assert!(
        out.contains("typo.json:1:") && out.contains(": resource Net: field Properties.CidrBlock:"),
        "{out}"
    );
}

#[test]
fn without_credentials_the_error_says_where_they_come_from() {
    let moto = Moto::start();
    let spec = json!({
        "Providers": {"aws": {"Source": common::provider_wasm("aws")}},
        "Resources": {"Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.1.0.0/16"}}}
    });
    let mut stack = Stack::with_text(&moto, "nokeys.json", &spec.to_string());
    // Override the emulator's keys with empty values: rkit treats empty as unset.
    stack.env = vec![
        ("AWS_ACCESS_KEY_ID".into(), String::new()),
        ("AWS_SECRET_ACCESS_KEY".into(), String::new()),
    ];
    let out = stack.expect(1, &["apply", "SPEC", "--yes"]);
    assert!(
        out.contains("no AWS credentials: set AWS_ACCESS_KEY_ID"),
        "{out}"
    );
    assert!(objects(&moto.state(), "vpcs").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_retried_by_the_host_with_backoff_and_then_reported_verbatim() {
    // moto never throttles, so a loopback server answers every request the way EC2 answers a
    // throttled one; rkit's gate sends it again (re-signed) with backoff, at most
    // http_retry::ATTEMPTS times, then the provider gives AWS's words (and retries nothing).
    use std::io::{Read, Write};
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.local_addr().unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    std::thread::spawn(move || {
        for stream in server.incoming() {
            let mut stream = stream.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the form body announced by content-length.
            while let Ok(n) = stream.read(&mut buf) {
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_lowercase();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            count.fetch_add(1, Ordering::SeqCst);
            let body = "<Response><Errors><Error><Code>RequestLimitExceeded</Code>\
                        <Message>Request limit exceeded.</Message></Error></Errors></Response>";
            let _ = write!(
                stream,
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            // Close gently: a close with unread bytes would reset the connection under the
            // answer.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    let sandbox = Sandbox::new(Some(&common::cache_dir())).unwrap();
    let module = sandbox
        .load_file(
            &common::provider_wasm("aws"),
            &rkit::sandbox::Grants::default(),
        )
        .await
        .unwrap();
    let grants = aws_grants(&module, &url, [&url, &url]);
    let config = json!({"Region": "us-east-1", "Endpoint": url});
    let provider = module.start(grants, &config).await.unwrap();
    let started = std::time::Instant::now();
    let err = provider
        .create(
            "Vpc",
            &json!({"CidrBlock": "10.0.0.0/16"}),
            &Tags::new(),
            "token",
        )
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert_eq!(answered.load(Ordering::SeqCst), 6, "six attempts: {err}");
    assert_eq!(err.kind, rkit::spi::ErrorKind::Transient, "{err}");
    assert_eq!(
        err.message,
        "EC2 CreateVpc: RequestLimitExceeded: Request limit exceeded."
    );
    // Five pauses: 100 ms doubling, each jittered to between half and all of it.
    assert!(
        waited >= std::time::Duration::from_millis(1550),
        "backed off only {waited:?}"
    );
}
