//! The `awscc` provider end to end (issue 28): the real binary with the real `awscc.wasm`
//! (types from the CloudFormation schemas, requests over Cloud Control) beside the
//! hand-written `aws.wasm`, against moto with the Cloud Control emulator in front
//! (`tests/aws/server.py`). Every effect is checked with boto3 through the services' own APIs
//! (`tests/aws/cloud.py`: SQS, IAM, DynamoDB, EC2), never through Cloud Control.

use crate::common;
use common::fault_proxy::{FaultProxy, Policy};
use common::moto::Moto;
use serde_json::{Value, json};

/// A spec in a temporary directory, run against one endpoint.
struct Stack {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Stack {
    /// `resources` with the aws and awscc providers, against `endpoint`.
    fn new(moto: &Moto, endpoint: &str, resources: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stack = Self {
            env: moto
                .env()
                .into_iter()
                .map(|(k, v)| match k.as_str() {
                    "AWS_ENDPOINT_URL" => (k, endpoint.to_string()),
                    _ => (k, v),
                })
                .chain([
                    ("HOME".to_string(), dir.path().display().to_string()),
                    (
                        "RKIT_CACHE_DIR".to_string(),
                        common::cache_dir().display().to_string(),
                    ),
                ])
                .collect(),
            dir,
        };
        stack.write(resources);
        stack
    }

    fn write(&self, resources: Value) {
        let spec = json!({
            "Providers": {
                "aws": {"Source": common::provider_wasm("aws")},
                "awscc": {"Source": common::provider_wasm("awscc")},
            },
            "Resources": resources,
        });
        std::fs::write(self.dir.path().join("spec.json"), spec.to_string()).unwrap();
    }

    /// Sets `Providers.awscc.KEY` of the spec to `value`.
    fn awscc(&self, key: &str, value: Value) {
        let file = self.dir.path().join("spec.json");
        let mut spec: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        spec["Providers"]["awscc"][key] = value;
        std::fs::write(file, spec.to_string()).unwrap();
    }

    fn expect(&self, code: i32, args: &[&str]) -> String {
        let mut args: Vec<&str> = args.to_vec();
        let at = if args[0] == "state" { 2 } else { 1 };
        args.insert(at, "spec.json");
        common::approving(&mut args);
        let (got, out) = common::rkit(self.dir.path(), &self.env, &args);
        assert_eq!(got, code, "rkit {}:\n{out}", args.join(" "));
        out
    }

    fn state(&self) -> Value {
        let text = self.expect(0, &["state", "pull"]);
        serde_json::from_str(&text).unwrap()
    }
}

/// The acceptance spec: a VPC from the hand-written provider; an IAM role, a queue and a
/// table from awscc, the role's description naming the VPC, the table tagged with the queue's
/// ARN (an attribute).
fn mixed(queue: &str) -> Value {
    json!({
        "Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.7.0.0/16"}},
        "Role": {"Plugin": "awscc", "Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "rkit-app",
            "Description": "for {{.Resources.Net.ID}}",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole"}]},
        }},
        "Queue": {"Plugin": "awscc", "Type": "AWS::SQS::Queue",
                  "Properties": {"QueueName": queue, "VisibilityTimeout": 30}},
        "Table": {"Plugin": "awscc", "Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": "rkit-items", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "Tags": [{"Key": "queue", "Value": "{{.Resources.Queue.Attributes.Arn}}"}],
        }},
        // AccessControl is write-only: sent, never read back, never shown.
        "Logs": {"Plugin": "awscc", "Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": "rkit-logs", "AccessControl": WRITE_ONLY,
        }},
    })
}

/// A write-only value no output may show.
const WRITE_ONLY: &str = "AuthenticatedRead";

/// What the mixed spec made, as boto3 sees it: the VPC, the role naming it, the queue, the
/// table tagged with the queue's ARN, each with rkit's tags, and the bucket's write-only ACL.
fn assert_made_as_specified(moto: &Moto, stack: &Stack) {
    let seen = moto.boto3("cloud.py", &["state"]);
    let vpc = stack.state()["Resources"]["Net"]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(seen["Vpcs"][&vpc], "10.7.0.0/16", "{seen}");
    assert_eq!(
        seen["Roles"]["rkit-app"]["Description"],
        format!("for {vpc}")
    );
    assert_eq!(
        seen["Roles"]["rkit-app"]["Tags"]["rkit:name"], "Role",
        "{seen}"
    );
    let queue = &seen["Queues"]["rkit-jobs"];
    assert_eq!(queue["VisibilityTimeout"], 30);
    assert_eq!(queue["Tags"]["rkit:name"], "Queue", "{seen}");
    let table = &seen["Tables"]["rkit-items"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        table["Tags"]["queue"], queue["Arn"],
        "an attribute reached another type"
    );
    assert_eq!(table["Tags"]["rkit:name"], "Table");
    let state = stack.state();
    assert_eq!(
        state["Resources"]["Queue"]["Attributes"]["Arn"],
        queue["Arn"]
    );
    assert_eq!(state["Resources"]["Role"]["ID"], "rkit-app");

    assert_eq!(
        seen["Buckets"]["rkit-logs"]["Groups"],
        json!(["AuthenticatedUsers"]),
        "the write-only ACL reached S3: {seen}"
    );
}

#[test]
fn a_mixed_stack_applies_repairs_drift_replaces_and_destroys_checked_with_boto3() {
    let moto = Moto::with_cloud_control(&[]);
    let stack = Stack::new(&moto, &moto.endpoint, mixed("rkit-jobs"));
    let mut outputs = vec![stack.expect(0, &["apply", "--yes"])];
    assert!(
        outputs[0].contains("Apply complete: 5 created"),
        "{}",
        outputs[0]
    );

    assert_made_as_specified(&moto, &stack);

    // Defaults the service fills in are not drift, nor write-only values it does not read.
    let out = stack.expect(0, &["plan"]);
    assert!(
        out.contains("No changes: 5 resources are up to date."),
        "{out}"
    );
    outputs.push(out);
    outputs.push(stack.expect(0, &["state", "show", "Logs"]));
    outputs.push(stack.expect(0, &["plan", "--json"]));

    // Drift made with boto3 is shown and repaired.
    moto.boto3(
        "cloud.py",
        &["set-queue", "rkit-jobs", "VisibilityTimeout", "99"],
    );
    let out = stack.expect(0, &["plan"]);
    assert!(out.contains("~ Queue (awscc AWS::SQS::Queue)"), "{out}");
    assert!(out.contains("VisibilityTimeout: 99 => 30"), "{out}");
    stack.expect(0, &["apply", "--yes"]);
    let seen = moto.boto3("cloud.py", &["state"]);
    assert_eq!(
        seen["Queues"]["rkit-jobs"]["VisibilityTimeout"], 30,
        "{seen}"
    );

    // A create-only property (QueueName) replaces; the table's tag follows the new ARN.
    stack.write(mixed("rkit-jobs-2"));
    let out = stack.expect(0, &["apply", "--yes"]);
    assert!(
        out.contains("-/+ Queue (awscc AWS::SQS::Queue): QueueName forces replacement"),
        "{out}"
    );
    let seen = moto.boto3("cloud.py", &["state"]);
    let queues: Vec<&String> = seen["Queues"].as_object().unwrap().keys().collect();
    assert_eq!(queues, ["rkit-jobs-2"], "{seen}");
    assert_eq!(
        seen["Tables"]["rkit-items"]["Tags"]["queue"],
        seen["Queues"]["rkit-jobs-2"]["Arn"]
    );
    let out = stack.expect(0, &["plan"]);
    assert!(out.contains("No changes"), "{out}");

    outputs.push(stack.expect(0, &["destroy", "--yes"]));
    for out in &outputs {
        assert!(
            !out.contains(WRITE_ONLY),
            "a write-only value is shown:\n{out}"
        );
    }
    let seen = moto.boto3("cloud.py", &["state"]);
    assert_eq!(
        seen,
        json!({"Queues": {}, "Roles": {}, "Tables": {}, "Vpcs": {}, "Buckets": {}})
    );
}

/// The answer to `CreateResource` is lost after Cloud Control accepted it: the request is
/// sent again with the same `ClientToken`, Cloud Control answers with the first request, and
/// one queue exists.
#[test]
fn a_lost_answer_to_create_resource_makes_no_duplicate() {
    let moto = Moto::with_cloud_control(&[]);
    let upstream = moto.endpoint.trim_start_matches("http://").to_string();
    let proxy = FaultProxy::start(&upstream, Policy::DropFirst("CreateResource".into()));
    let queue = json!({"Queue": {"Plugin": "awscc", "Type": "AWS::SQS::Queue",
                                 "Properties": {"QueueName": "once"}}});
    let stack = Stack::new(&moto, &proxy.endpoint, queue);
    let out = stack.expect(0, &["apply", "--yes"]);
    assert!(out.contains("Apply complete: 1 created"), "{out}");
    assert_eq!(proxy.faults(), 1, "the fault happened: {:?}", proxy.log());
    let creates = proxy
        .log()
        .iter()
        .filter(|(a, _)| a == "CreateResource")
        .count();
    assert!(creates >= 2, "the create was sent again: {:?}", proxy.log());
    let seen = moto.boto3("cloud.py", &["state"]);
    let queues: Vec<&String> = seen["Queues"].as_object().unwrap().keys().collect();
    assert_eq!(queues, ["once"], "{seen}");
    let out = stack.expect(0, &["plan"]);
    assert!(out.contains("No changes"), "{out}");
}

/// A request stuck in progress is cancelled and reported once it is older than the bound
/// (`StuckAfterSeconds`), not waited on for ever; the object stays recorded under its request
/// and the next run finds it gone.
#[test]
fn a_request_stuck_in_progress_is_cancelled_and_reported_within_its_bound() {
    let moto = Moto::with_cloud_control(&[("CLOUDCONTROL_STUCK_TYPES", "AWS::SQS::Queue")]);
    let queue = json!({"Queue": {"Plugin": "awscc", "Type": "AWS::SQS::Queue",
                                 "Properties": {"QueueName": "stuck"}}});
    let stack = Stack::new(&moto, &moto.endpoint, queue);
    stack.awscc("Config", json!({"StuckAfterSeconds": 3}));
    let started = std::time::Instant::now();
    let out = stack.expect(1, &["apply", "--yes"]);
    let took = started.elapsed().as_secs();
    assert!(
        out.contains("the create request")
            && out.contains("was still in progress after")
            && out.contains("rkit cancelled it"),
        "{out}"
    );
    assert!(took < 60, "reported within its bound, not after {took} s");
    let recorded = stack.state()["Resources"]["Queue"]["ID"].clone();
    assert!(
        recorded
            .as_str()
            .is_some_and(|id| id.starts_with("request:")),
        "recorded under its request: {recorded}"
    );
    let out = stack.expect(0, &["plan"]);
    assert!(
        out.contains("+ Queue (awscc AWS::SQS::Queue): it was deleted outside rkit"),
        "the cancelled request left nothing, and the next run sees so: {out}"
    );
}

/// The spec grants awscc queues only: a role in it is refused by the gate (its create request
/// never reaches Cloud Control), the queue is made, and the lock records the grant.
#[test]
fn a_type_the_spec_does_not_grant_is_refused_by_the_gate() {
    let moto = Moto::with_cloud_control(&[]);
    let mut resources = mixed("granted");
    resources
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "Queue" || k == "Role");
    resources["Role"]["Properties"]["Description"] = json!("no VPC");
    let stack = Stack::new(&moto, &moto.endpoint, resources);
    stack.awscc("Grants", json!({"ResourceTypes": ["AWS::SQS::*"]}));
    let out = stack.expect(1, &["apply", "--yes"]);
    assert!(
        out.contains(
            "resource type AWS::IAM::Role was not declared and approved (resource types: AWS::*; \
             granted by the spec: AWS::SQS::*)"
        ),
        "{out}"
    );
    let seen = moto.boto3("cloud.py", &["state"]);
    assert_eq!(seen["Roles"], json!({}), "{seen}");
    assert!(seen["Queues"]["granted"].is_object(), "{seen}");
    let lock = std::fs::read_to_string(stack.dir.path().join("rkit.lock")).unwrap();
    assert!(
        lock.contains("Cloud Control resource types AWS::SQS::* only (granted by the spec)"),
        "{lock}"
    );
}

/// Cloud Control throttles (~25 requests/s in a real account): throttled calls are retried by
/// the engine with backoff, and the apply completes with nothing made twice.
#[test]
fn throttling_is_retried_and_nothing_is_made_twice() {
    let moto = Moto::with_cloud_control(&[("CLOUDCONTROL_THROTTLE_FIRST", "4")]);
    let mut resources = mixed("throttled");
    resources
        .as_object_mut()
        .unwrap()
        .retain(|k, _| k == "Queue" || k == "Table");
    let stack = Stack::new(&moto, &moto.endpoint, resources);
    let out = stack.expect(0, &["apply", "--yes"]);
    assert!(out.contains("Apply complete: 2 created"), "{out}");
    let seen = moto.boto3("cloud.py", &["state"]);
    let queues: Vec<&String> = seen["Queues"].as_object().unwrap().keys().collect();
    assert_eq!(queues, ["throttled"], "{seen}");
    assert_eq!(seen["Tables"].as_object().unwrap().len(), 1, "{seen}");
}
