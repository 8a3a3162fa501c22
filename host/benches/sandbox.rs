//! The sandbox's fixed costs, on the real `local` provider component:
//! - `load/cold`: read, hash, compile and describe a module (no compiled cache);
//! - `load/cached`: the same with the compiled component in the on-disk cache;
//! - `start`: a new store, instantiation and `configure` (what a pool miss costs);
//! - `call/validate`: one SPI round trip on a warm instance (a small JSON body);
//! - `sign/query`: what the HTTP gate adds to a request to an AWS endpoint: read its action,
//!   check it against the grant, sign it (SigV4).
//!
//! Run with `cargo providers && cargo bench -p rkit --bench sandbox`.

#[path = "../../tests/all/common/mod.rs"]
#[allow(dead_code)] // a part of the tests' helpers
mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use rkit::sandbox::{ApiActions, AwsEndpoint, AwsSigner, Grants, HttpAllow, Sandbox};
use serde_json::json;
use std::time::Duration;

fn sandbox(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let bytes = std::fs::read(common::provider_wasm("local")).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let mut load = c.benchmark_group("load");
    load.sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let uncached = Sandbox::new(None).unwrap();
    load.bench_function("cold", |b| {
        b.to_async(&runtime).iter(|| async {
            uncached
                .load(&bytes, "local.wasm", &Grants::default())
                .await
                .unwrap()
        })
    });
    let cached = Sandbox::new(Some(dir.path())).unwrap();
    let module = runtime
        .block_on(cached.load(&bytes, "local.wasm", &Grants::default()))
        .unwrap();
    load.sample_size(100)
        .measurement_time(Duration::from_secs(5));
    load.bench_function("cached", |b| {
        b.to_async(&runtime).iter(|| async {
            cached
                .load(&bytes, "local.wasm", &Grants::default())
                .await
                .unwrap()
        })
    });
    load.finish();

    let grants = Grants {
        filesystem: Some(rkit::sandbox::GrantDir::open(dir.path()).unwrap()),
        ..Grants::default()
    };
    c.bench_function("start", |b| {
        b.to_async(&runtime)
            .iter(|| async { module.start(grants.clone(), &json!({})).await.unwrap() })
    });

    let provider = runtime
        .block_on(module.start(grants.clone(), &json!({})))
        .unwrap();
    let props = json!({"Path": "bench/a.txt", "Content": "hello", "Mode": "0644"});
    c.bench_function("call/validate", |b| {
        b.to_async(&runtime).iter(|| async {
            let found = provider.validate("File", &props).await.unwrap();
            assert!(found.is_empty());
        })
    });
}

fn signing(c: &mut Criterion) {
    let signer = AwsSigner::new(
        "AKIDEXAMPLEKEY1234".into(),
        "secret".into(),
        Some("token".into()),
        "us-east-1".into(),
        vec![AwsEndpoint {
            origin: HttpAllow::parse("https://ec2.us-east-1.amazonaws.com").unwrap(),
            service: "ec2".into(),
        }],
    );
    let actions = ApiActions::parse(&["ec2:Describe*", "ec2:CreateVpc"]).unwrap();
    let body: &[u8] = b"Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0%2F16";
    // Signing asks the credentials chain (here fixed keys, answered at once) asynchronously.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    c.bench_function("sign/query", |b| {
        b.iter(|| {
            let request = http::Request::post("https://ec2.us-east-1.amazonaws.com/")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(bytes::Bytes::from_static(body))
                .unwrap();
            let needed = rkit::sandbox::actions_needed(&signer, request).unwrap();
            assert!(needed.iter().all(|a| {
                let (service, action) = a.split_once(':').unwrap();
                actions.allows(service, action)
            }));
            runtime
                .block_on(signer.sign(
                    "ec2",
                    "POST",
                    "https://ec2.us-east-1.amazonaws.com/",
                    &[("content-type", "application/x-www-form-urlencoded")],
                    body,
                ))
                .unwrap()
        })
    });
}

criterion_group!(benches, sandbox, signing);
criterion_main!(benches);
