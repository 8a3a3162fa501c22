//! The sandbox running the real `local` provider component: every SPI function, through
//! wasmtime, against a temporary granted directory.

use crate::common;

use rkit::sandbox::{Grants, Provider, ProviderModule, Sandbox};
use rkit::spi::{ErrorKind, Severity, Tags};
use serde_json::json;
use std::path::Path;

async fn load() -> (Sandbox, ProviderModule) {
    let sandbox = Sandbox::new(Some(&common::cache_dir())).unwrap();
    let module = sandbox
        .load_file(
            &common::provider_wasm("local"),
            &rkit::sandbox::Grants::default(),
        )
        .await
        .unwrap();
    (sandbox, module)
}

async fn start(dir: &Path) -> Provider {
    let (_sandbox, module) = load().await;
    let grants = Grants {
        filesystem: Some(rkit::sandbox::GrantDir::open(dir).unwrap()),
        ..Grants::default()
    };
    module.start(grants, &json!({})).await.unwrap()
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_lists_types_schemas_and_capabilities() {
    let (_sandbox, module) = load().await;
    let info = module.info();
    assert_eq!(info.name, "local");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    let names: Vec<&str> = info.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Directory", "File", "RandomString"]);
    let file = info.type_info("File").unwrap();
    assert_eq!(file.force_new, ["Path"]);
    assert_eq!(file.properties_schema["required"], json!(["Path"]));
    assert_eq!(
        file.properties_schema["properties"]["Content"]["type"],
        "string"
    );
    assert_eq!(
        info.type_info("RandomString").unwrap().attributes_schema["properties"]["Value"]["type"],
        "string"
    );
    assert!(info.capabilities.filesystem);
    assert!(info.capabilities.http_hosts.is_empty());
    assert_eq!(module.digest().len(), 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_names_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path()).await;
    let ok = p
        .validate(
            "File",
            &json!({"Path": "a/b.txt", "Content": "x", "Mode": "0600"}),
        )
        .await
        .unwrap();
    assert!(ok.is_empty(), "{ok:?}");

    let cases = [
        (
            "File",
            json!({"Path": "../escape"}),
            "Path",
            "must not leave",
        ),
        ("File", json!({"Path": "a", "Mode": "rwx"}), "Mode", "octal"),
        (
            "File",
            json!({"Path": "a", "Mode": "0644"}),
            "Mode",
            "\"0644\" cannot be honoured: files the sandbox creates are readable and writable by you alone",
        ),
        (
            "File",
            json!({"Path": "a", "Contnet": "x"}),
            "Contnet",
            "unknown field `Contnet`",
        ),
        ("File", json!({"Path": 7}), "Path", "invalid type"),
        (
            "RandomString",
            json!({"Length": 0}),
            "Length",
            "between 1 and 4096",
        ),
        ("Nope", json!({}), "Type", "has no resource type \"Nope\""),
    ];
    for (ty, props, field, message) in cases {
        let found = p.validate(ty, &props).await.unwrap();
        assert_eq!(found.len(), 1, "{ty} {props}: {found:?}");
        assert_eq!(found[0].severity, Severity::Error);
        assert_eq!(found[0].field, field, "{found:?}");
        assert!(found[0].message.contains(message), "{found:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn file_lifecycle_create_read_update_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path()).await;
    let stack = tags(&[("rkit:stack", "s1"), ("rkit:name", "Greeting")]);
    let props = json!({"Path": "out/hello.txt", "Content": "hello"});

    let created = p.create("File", &props, &stack, "token").await.unwrap();
    assert_eq!(created.id, "out/hello.txt");
    assert_eq!(created.attributes, json!({"Size": 5}));
    let on_disk = dir.path().join("out/hello.txt");
    assert_eq!(std::fs::read_to_string(&on_disk).unwrap(), "hello");
    // Every file a provider creates is private: it may hold a secret (issue 25).
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&on_disk).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "created {mode:o}");

    let seen = p.read("File", &created.id, &props).await.unwrap().unwrap();
    assert_eq!(seen.properties["Content"], "hello");
    assert_eq!(seen.tags, stack);

    // Drift made behind rkit's back is what read reports.
    std::fs::write(&on_disk, "tampered").unwrap();
    let seen = p.read("File", &created.id, &props).await.unwrap().unwrap();
    assert_eq!(seen.properties["Content"], "tampered");

    let new = json!({"Path": "out/hello.txt", "Content": "hello, world"});
    let attrs = p
        .update("File", &created.id, &props, &new, &stack)
        .await
        .unwrap();
    assert_eq!(attrs, json!({"Size": 12}));
    assert_eq!(std::fs::read_to_string(&on_disk).unwrap(), "hello, world");

    let listed = p
        .list("File", &tags(&[("rkit:stack", "s1")]))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, "out/hello.txt");

    p.delete("File", &created.id, &new).await.unwrap();
    assert!(!on_disk.exists());
    assert!(p.read("File", &created.id, &new).await.unwrap().is_none());
    // Deleting what is already gone succeeds.
    p.delete("File", &created.id, &new).await.unwrap();
    assert!(p.list("File", &Tags::new()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn list_finds_only_what_carries_every_tag() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path()).await;
    for (stack, path) in [("a", "a1"), ("a", "a2"), ("b", "b1")] {
        let t = tags(&[("rkit:stack", stack), ("rkit:name", path)]);
        p.create("File", &json!({"Path": path}), &t, "token")
            .await
            .unwrap();
    }
    let ids = |found: Vec<rkit::spi::Observed>| -> Vec<String> {
        found.into_iter().map(|o| o.id).collect()
    };
    let a = p.list("File", &tags(&[("rkit:stack", "a")])).await.unwrap();
    assert_eq!(ids(a), ["a1", "a2"]);
    let one = p
        .list("File", &tags(&[("rkit:stack", "a"), ("rkit:name", "a2")]))
        .await
        .unwrap();
    assert_eq!(ids(one), ["a2"]);
    // A resource deleted behind rkit's back is not listed.
    std::fs::remove_file(dir.path().join("b1")).unwrap();
    assert!(
        p.list("File", &tags(&[("rkit:stack", "b")]))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn random_string_keeps_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path()).await;
    let props = json!({"Length": 24, "Charset": "abc"});
    let created = p
        .create("RandomString", &props, &Tags::new(), "token")
        .await
        .unwrap();
    let value = created.attributes["Value"].as_str().unwrap().to_string();
    assert_eq!(value.len(), 24);
    assert!(value.chars().all(|c| "abc".contains(c)));
    let seen = p
        .read("RandomString", &created.id, &props)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.attributes["Value"], value.as_str());
    let other = p
        .create("RandomString", &props, &Tags::new(), "token")
        .await
        .unwrap();
    assert_ne!(other.id, created.id);
    p.delete("RandomString", &created.id, &props).await.unwrap();
    assert!(
        p.read("RandomString", &created.id, &props)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn directory_refuses_to_delete_what_it_did_not_empty() {
    let dir = tempfile::tempdir().unwrap();
    let p = start(dir.path()).await;
    let props = json!({"Path": "site"});
    let created = p
        .create("Directory", &props, &Tags::new(), "token")
        .await
        .unwrap();
    assert!(dir.path().join("site").is_dir());
    std::fs::write(dir.path().join("site/keep.txt"), "mine").unwrap();
    let err = p
        .delete("Directory", &created.id, &props)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict);
    assert!(err.message.contains("not empty"), "{err}");
    std::fs::remove_file(dir.path().join("site/keep.txt")).unwrap();
    p.delete("Directory", &created.id, &props).await.unwrap();
    assert!(!dir.path().join("site").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_use_separate_instances() {
    let dir = tempfile::tempdir().unwrap();
    let p = std::sync::Arc::new(start(dir.path()).await);
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let p = p.clone();
            tokio::spawn(async move {
                let props = json!({"Path": format!("many/{i}.txt"), "Content": i.to_string()});
                p.create("File", &props, &Tags::new(), "token")
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for i in 0..16 {
        let text = std::fs::read_to_string(dir.path().join(format!("many/{i}.txt"))).unwrap();
        assert_eq!(text, i.to_string());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_filesystem_grant_the_provider_refuses_to_start() {
    let (_sandbox, module) = load().await;
    let err = match module.start(Grants::default(), &json!({})).await {
        Ok(_) => panic!("local started without a filesystem grant"),
        Err(err) => err,
    };
    assert_eq!(err.kind, ErrorKind::Denied);
    assert!(err.message.contains("needs a filesystem grant"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_configuration_fails_at_start_naming_the_field() {
    let (_sandbox, module) = load().await;
    let err = match module
        .start(Grants::default(), &json!({"Region": "x"}))
        .await
    {
        Ok(_) => panic!("configuration with an unknown field accepted"),
        Err(err) => err,
    };
    assert_eq!(err.kind, ErrorKind::InvalidInput);
    assert!(err.message.contains("configuring provider local"), "{err}");
    assert!(err.message.contains("unknown field `Region`"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_components_are_cached_by_digest() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = common::provider_wasm("local");
    let first = Sandbox::new(Some(cache.path())).unwrap();
    let module = first
        .load_file(&wasm, &rkit::sandbox::Grants::default())
        .await
        .unwrap();
    let compiled: Vec<_> = std::fs::read_dir(cache.path().join("compiled"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(compiled.len(), 1);
    assert!(compiled[0].starts_with(module.digest()), "{compiled:?}");
    // A second sandbox loads from the cache, and a corrupt entry is recompiled, not trusted.
    let second = Sandbox::new(Some(cache.path())).unwrap();
    assert_eq!(
        second
            .load_file(&wasm, &rkit::sandbox::Grants::default())
            .await
            .unwrap()
            .info()
            .name,
        "local"
    );
    let entry = cache.path().join("compiled").join(&compiled[0]);
    std::fs::write(&entry, b"garbage").unwrap();
    let third = Sandbox::new(Some(cache.path())).unwrap();
    assert_eq!(
        third
            .load_file(&wasm, &rkit::sandbox::Grants::default())
            .await
            .unwrap()
            .info()
            .name,
        "local"
    );
    assert!(std::fs::metadata(&entry).unwrap().len() > 1000);
}
