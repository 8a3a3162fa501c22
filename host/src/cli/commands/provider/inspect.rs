//! `rkit provider inspect`: what a provider module is and what it asks for.

use crate::engine::Interrupt;
use crate::sandbox::ProviderModule;
use crate::spi::TypeInfo;
use crate::text::escape;
use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print a provider's name, version, resource types with their property schemas, and the
/// capabilities it asks for.
#[derive(Args)]
pub struct InspectArgs {
    /// The provider component (.wasm).
    pub module: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Only this resource type, described whole (repeatable). A provider with many types
    /// (awscc) lists them by name only, and describes those asked for here.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
}

/// Loads the module (granted nothing) and prints its description, as text or JSON.
pub async fn exec(args: InspectArgs, _: &Interrupt) -> Result<ExitCode> {
    let limits = crate::sandbox::Grants::default();
    let mut module = super::sandbox()?.load_file(&args.module, &limits).await?;
    if !args.types.is_empty() {
        module = only_types(module.described(&args.types, &limits).await?, &args.types)?;
    }
    if args.json {
        crate::outln!(
            "{}",
            crate::text::escape_json(&serde_json::to_string_pretty(&to_json(&module))?)
        );
    } else {
        crate::out!("{}", to_text(&module));
    }
    Ok(ExitCode::SUCCESS)
}

/// `module` with only the types `names`, in that order; an error naming a type it lacks.
fn only_types(module: ProviderModule, names: &[String]) -> Result<ProviderModule> {
    let info = module.info();
    let mut types = Vec::with_capacity(names.len());
    for name in names {
        match info.type_info(name) {
            Some(ty) => types.push(ty.clone()),
            None => anyhow::bail!(
                "provider {} has no type {:?} ({} types: `rkit provider inspect {}` lists them)",
                info.name,
                escape(name),
                info.types.len(),
                module.origin()
            ),
        }
    }
    Ok(module.with_types(types))
}

/// The module as JSON, its keys in PascalCase as everywhere else in rkit (the JSON Schemas a
/// provider gives are its own words and stay as they are).
fn to_json(module: &ProviderModule) -> Value {
    let mut value = pascal(serde_json::to_value(module.info()).expect("serialisable"));
    value["Module"] = json!({
        "Path": module.origin(),
        "Digest": format!("sha256:{}", module.digest()),
    });
    value
}

/// `value` with every object key in PascalCase (`memory_mib` → `MemoryMiB`), except inside a
/// `…_schema` value.
fn pascal(value: Value) -> Value {
    match value {
        Value::Object(map) => map
            .into_iter()
            .map(|(key, v)| {
                let v = if key.ends_with("_schema") {
                    v
                } else {
                    pascal(v)
                };
                (pascal_key(&key), v)
            })
            .collect(),
        Value::Array(items) => items.into_iter().map(pascal).collect(),
        other => other,
    }
}

fn pascal_key(key: &str) -> String {
    key.split('_')
        .map(|word| match word {
            "mib" => "MiB".to_string(),
            _ => {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
        })
        .collect()
}

fn to_text(module: &ProviderModule) -> String {
    let info = module.info();
    let caps = &info.capabilities;
    let mut out = String::new();
    let _ = writeln!(out, "provider {} {}", info.name, info.version);
    if !info.description.is_empty() {
        let _ = writeln!(out, "  {}", info.description);
    }
    let _ = writeln!(out, "module:  {}", module.origin());
    let _ = writeln!(out, "digest:  sha256:{}", module.digest());
    let _ = writeln!(out, "capabilities requested:");
    let http = if caps.http_hosts.is_empty() {
        "none".to_string()
    } else {
        caps.http_hosts.join(", ")
    };
    let _ = writeln!(out, "  http:       {http}");
    let fs = if caps.filesystem {
        "one granted directory"
    } else {
        "none"
    };
    let _ = writeln!(out, "  filesystem: {fs}");
    let memory = match caps.memory_mib {
        0 => "host default".to_string(),
        mib => format!("{mib} MiB"),
    };
    let _ = writeln!(out, "  memory:     {memory}");
    let credentials = if caps.credentials.is_empty() {
        "none".to_string()
    } else {
        format!(
            "{} (resolved by rkit, which signs the provider's requests; never passed to it)",
            caps.credentials.join(", ")
        )
    };
    let _ = writeln!(out, "  credentials: {credentials}");
    let actions = if caps.api_actions.is_empty() {
        "none".to_string()
    } else {
        caps.api_actions.join(", ")
    };
    let _ = writeln!(out, "  api actions: {actions}");
    if !caps.resource_types.is_empty() {
        let _ = writeln!(
            out,
            "  cloud control resource types: {}",
            caps.resource_types.join(", ")
        );
    }
    let _ = writeln!(out, "configuration:");
    write_properties(&mut out, &info.config_schema, &[]);
    let _ = writeln!(out, "types:");
    for ty in &info.types {
        write_type(&mut out, ty);
    }
    out
}

fn write_type(out: &mut String, ty: &TypeInfo) {
    let _ = write!(out, "  {}", ty.name);
    if !ty.description.is_empty() {
        let _ = write!(out, ": {}", ty.description);
    }
    if ty.create_before_destroy {
        let _ = write!(out, " (replaced create-before-destroy)");
    }
    if ty.outline {
        let _ = writeln!(out, " (--type {} describes it)", ty.name);
        return;
    }
    out.push('\n');
    let _ = writeln!(out, "    properties:");
    write_properties(out, &ty.properties_schema, &ty.force_new);
    let _ = writeln!(out, "    attributes:");
    write_properties(out, &ty.attributes_schema, &[]);
}

/// One line per top-level property of a JSON Schema object.
fn write_properties(out: &mut String, schema: &Value, force_new: &[String]) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        let _ = writeln!(out, "      (none)");
        return;
    };
    if props.is_empty() {
        let _ = writeln!(out, "      (none)");
    }
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in props {
        let mut flags = vec![type_name(prop)];
        if required.contains(&name.as_str()) {
            flags.push("required".into());
        }
        if force_new.iter().any(|f| f == name) {
            flags.push("force-new".into());
        }
        let nested: Vec<&str> = force_new
            .iter()
            .filter(|f| {
                f.strip_prefix(name.as_str())
                    .is_some_and(|r| r.starts_with(['.', '[']))
            })
            .map(String::as_str)
            .collect();
        if !nested.is_empty() {
            flags.push(format!("force-new at {}", nested.join(", ")));
        }
        if prop.get("sensitive") == Some(&Value::Bool(true)) {
            flags.push("sensitive".into());
        }
        // Schemas are the provider's text: escaped for the terminal.
        let _ = write!(
            out,
            "      {} ({})",
            escape(name),
            escape(&flags.join(", "))
        );
        if let Some(doc) = prop.get("description").and_then(Value::as_str) {
            let _ = write!(out, ": {}", escape(&doc.replace('\n', " ")));
        }
        out.push('\n');
    }
}

/// A short name for a property's schema type.
fn type_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return reference
            .rsplit('/')
            .next()
            .unwrap_or(reference)
            .to_string();
    }
    match schema.get("type") {
        Some(Value::String(t)) if t == "array" => {
            format!(
                "array of {}",
                schema.get("items").map_or("any".into(), type_name)
            )
        }
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}
