//! The Cloud Control emulator the `awscc` provider's tests will run against
//! (`tests/aws/server.py`: moto's server with Cloud Control in front, carried out on moto's own
//! models): its own suite (`tests/aws/test_cloudcontrol.py`), run here so that CI runs it.
//! Each effect is checked there through the service's own API with boto3 (the VPC in EC2, the
//! role in IAM), never through the endpoint itself.

use crate::common::moto::venv;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn the_cloud_control_emulator_carries_out_requests_on_motos_models() {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/aws/test_cloudcontrol.py");
    let out = Command::new(venv().join("bin/python"))
        .arg(&script)
        .output()
        .expect("running tests/aws/test_cloudcontrol.py");
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "test_cloudcontrol.py failed:\n{report}"
    );
    assert!(
        report.contains("\nOK") && !report.contains("skipped"),
        "{report}"
    );
}
