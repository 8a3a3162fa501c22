//! rkit on a machine finds credentials as an AWS SDK does there (issue 30): the instance
//! profile through IMDSv2, the container's credentials endpoint (ECS), web identity (EKS), with
//! no key in the environment. The real binary against moto; the metadata services are loopback
//! servers answering as EC2's and ECS's do, and recording what they were asked.

use crate::common;

use common::metadata::{Metadata, RouteAnswer};
use common::moto::Moto;
use serde_json::{Value, json};
use std::sync::Mutex;

/// The keys the metadata services hand out: a role's session made in moto, which checks
/// signatures and session tokens.
static KEYS: Mutex<Option<(String, String, String)>> = Mutex::new(None);

fn keys() -> (String, String, String) {
    KEYS.lock().unwrap().clone().expect("keys made first")
}

/// The credentials document EC2's and ECS's endpoints give.
fn document() -> String {
    let (key, secret, token) = keys();
    json!({
        "Code": "Success", "Type": "AWS-HMAC", "LastUpdated": "2026-01-01T00:00:00Z",
        "AccessKeyId": key, "SecretAccessKey": secret, "Token": token,
        "Expiration": "2099-01-01T00:00:00Z"
    })
    .to_string()
}

/// EC2's instance metadata service, IMDSv2 only: a token first, then the role's credentials.
fn imds(method: &str, path: &str, headers: &[(String, String)]) -> RouteAnswer {
    let token = headers
        .iter()
        .any(|(k, v)| k == "x-aws-ec2-metadata-token" && v == "imds-token");
    match (method, path) {
        ("PUT", "/latest/api/token") => (
            200,
            vec![("x-aws-ec2-metadata-token-ttl-seconds", "21600".into())],
            "imds-token".into(),
        ),
        (_, _) if !token => (401, vec![], String::new()),
        ("GET", "/latest/meta-data/iam/security-credentials/") => {
            (200, vec![], "rkit-manager".into())
        }
        ("GET", "/latest/meta-data/iam/security-credentials/rkit-manager") => {
            (200, vec![], document())
        }
        _ => (404, vec![], String::new()),
    }
}

/// ECS's container credentials endpoint, which wants its authorization token.
fn ecs(method: &str, path: &str, headers: &[(String, String)]) -> RouteAnswer {
    let authorized = headers
        .iter()
        .any(|(k, v)| k == "authorization" && v == "container-token");
    match (method, path) {
        ("GET", "/v2/credentials") if authorized => (200, vec![], document()),
        ("GET", "/v2/credentials") => (401, vec![], String::new()),
        _ => (404, vec![], String::new()),
    }
}

/// A spec of one VPC, its state in the emulator's bucket `rkit-state`.
fn spec() -> Value {
    json!({
        "State": {"Backend": "s3", "Bucket": "rkit-state", "Key": "machine.json"},
        "Providers": {"aws": {"Source": common::provider_wasm("aws")}},
        "Resources": {"Net": {"Plugin": "aws", "Type": "Vpc", "Properties": {"CidrBlock": "10.7.0.0/16"}}}
    })
}

/// moto checking signatures after a role's session is made (four requests); the session is
/// what the metadata services serve. (moto's signature check misreads S3's list queries, so
/// the state lives in a second, plain moto: [`state_moto`].)
fn checking_moto() -> Moto {
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "4")]);
    let session = moto.emulator_with(&["role-session"]);
    let text = |k: &str| session[k].as_str().unwrap().to_string();
    *KEYS.lock().unwrap() = Some((
        text("AccessKeyId"),
        text("SecretAccessKey"),
        text("SessionToken"),
    ));
    moto
}

/// A moto holding the state's bucket `rkit-state`.
fn state_moto() -> Moto {
    let moto = Moto::start();
    moto.emulator_with(&["bucket", "rkit-state"]);
    moto
}

/// Runs rkit as on a machine: the emulator's endpoint and region, no key, and `extra`.
fn on_machine(
    moto: &Moto,
    dir: &std::path::Path,
    extra: &[(&str, &str)],
    args: &[&str],
) -> (i32, String) {
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .collect();
    env.push(("HOME".into(), dir.display().to_string()));
    env.push((
        "RKIT_CACHE_DIR".into(),
        common::cache_dir().display().to_string(),
    ));
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut args = args.to_vec();
    common::approving(&mut args);
    common::rkit(dir, &env, &args)
}

/// `rkit apply spec.json --yes` as on a machine with `extra`, which must succeed; its output.
fn applied(moto: &Moto, dir: &std::path::Path, extra: &[(&str, &str)]) -> String {
    let (code, out) = on_machine(moto, dir, extra, &["apply", "spec.json", "--yes"]);
    assert_eq!(code, 0, "{out}");
    out
}

/// `emulator.py ARGS…` signed with [`KEYS`] when moto checks signatures.
fn emulator(moto: &Moto, args: &[&str]) -> Value {
    let mut command = moto.emulator_command(args);
    if let Some((key, secret, token)) = KEYS.lock().unwrap().clone() {
        command
            .env("AWS_ACCESS_KEY_ID", key)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_SESSION_TOKEN", token);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn vpcs(moto: &Moto) -> usize {
    emulator(moto, &["state"])["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["tags"]["rkit:name"] == "Net")
        .count()
}

#[test]
fn the_instance_profile_signs_through_imdsv2_for_the_provider_and_the_state() {
    let _serial = KEYS_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let moto = checking_moto();
    let state = state_moto();
    let metadata = Metadata::start(imds);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.json"), spec().to_string()).unwrap();
    let machine = [
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            metadata.origin.as_str(),
        ),
        ("AWS_ENDPOINT_URL_S3", state.endpoint.as_str()),
    ];
    let out = applied(&moto, dir.path(), &machine);
    let (key, _, _) = keys();
    let hint = format!("{}…{}", &key[..4], &key[key.len() - 4..]);
    assert!(
        out.contains(&format!(
            "aws credentials (access key {hint}, from the instance profile (IMDSv2))"
        )),
        "{out}"
    );
    assert_eq!(
        vpcs(&moto),
        1,
        "created, with requests moto's signature check passed"
    );
    let asked = metadata.asked();
    assert_eq!(
        asked.first().map(String::as_str),
        Some("PUT /latest/api/token"),
        "{asked:?}"
    );
    assert!(
        asked.contains(&"GET /latest/meta-data/iam/security-credentials/rkit-manager".into()),
        "{asked:?}"
    );
    // The state went to S3 with the same credentials; a second apply reads it: nothing to do.
    let out = applied(&moto, dir.path(), &machine);
    assert_eq!(vpcs(&moto), 1, "{out}");
    let objects = state.emulator_with(&["objects", "rkit-state"]).to_string();
    assert!(objects.contains("machine.json"), "{objects}");
}

#[test]
fn a_container_gets_its_credentials_from_the_ecs_endpoint_with_its_token() {
    let _serial = KEYS_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    let moto = checking_moto();
    let state = state_moto();
    let endpoint = Metadata::start(ecs);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.json"), spec().to_string()).unwrap();
    let uri = format!("{}/v2/credentials", endpoint.origin);
    let container = [
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri.as_str()),
        ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "container-token"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL_S3", state.endpoint.as_str()),
    ];
    let out = applied(&moto, dir.path(), &container);
    assert!(
        out.contains("from the container's credentials endpoint)"),
        "{out}"
    );
    assert_eq!(vpcs(&moto), 1);
    assert!(
        endpoint
            .headers_at("/v2/credentials", "authorization")
            .iter()
            .all(|t| t == "container-token"),
        "{:?}",
        endpoint.asked()
    );
}

#[test]
fn web_identity_assumes_the_role_through_sts() {
    let _serial = KEYS_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    *KEYS.lock().unwrap() = None;
    let moto = Moto::start();
    moto.emulator_with(&["bucket", "rkit-state"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.json"), spec().to_string()).unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.e30.c2ln").unwrap();
    let eks = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/rkit-manager",
        ),
        ("AWS_ROLE_SESSION_NAME", "rkit"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let out = applied(&moto, dir.path(), &eks);
    assert!(
        out.contains("from web identity (AWS_WEB_IDENTITY_TOKEN_FILE))"),
        "{out}"
    );
    assert_eq!(vpcs(&moto), 1);
}

#[test]
fn with_no_source_at_all_the_state_says_where_it_looked() {
    let _serial = KEYS_IN_USE.lock().unwrap_or_else(|e| e.into_inner());
    *KEYS.lock().unwrap() = None;
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spec.json"), spec().to_string()).unwrap();
    let nothing = [("AWS_EC2_METADATA_DISABLED", "true")];
    let (code, out) = on_machine(&moto, dir.path(), &nothing, &["plan", "spec.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no AWS credentials for the state s3://rkit-state/machine.json:"),
        "{out}"
    );
    assert!(out.contains("the instance profile)"), "{out}");
}

/// The tests sharing [`KEYS`] run one at a time.
static KEYS_IN_USE: Mutex<()> = Mutex::new(());
