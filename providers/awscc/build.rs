//! Splits the schema artifact (`schemas/us-east-1.json.gz`, made by `tools/awscc/generate.py`)
//! into one deflated blob per type and an index of them, in `OUT_DIR`, so that the component
//! inflates only the types a run uses (a plan using three types inflates three, ~10 KB, not
//! the whole 6 MB). Nothing is added or changed: each blob is the type's JSON text as the
//! artifact holds it.
//!
//! Writes `types.bin` (the blobs, one after another), `index.tsv` (`NAME\tOFFSET\tLENGTH` per
//! type, sorted by name) and `meta.json` (the artifact's Format, Region, SchemaDate, Source).

use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::{Read, Write};
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Artifact {
    format: u32,
    region: String,
    schema_date: String,
    source: String,
    types: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Named {
    #[serde(rename = "TypeName")]
    type_name: String,
}

fn main() {
    let src = "schemas/us-east-1.json.gz";
    println!("cargo::rerun-if-changed={src}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(src).expect("the schema artifact"))
        .read_to_string(&mut text)
        .expect("the schema artifact is gzip");
    let artifact: Artifact = serde_json::from_str(&text).expect("the schema artifact's outline");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let (mut blobs, mut index) = (Vec::new(), String::new());
    let mut types: Vec<(String, &RawValue)> = artifact
        .types
        .iter()
        .map(|raw| {
            let named: Named = serde_json::from_str(raw.get()).expect("a type has a TypeName");
            (named.type_name, raw.as_ref())
        })
        .collect();
    types.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, raw) in types {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(raw.get().as_bytes()).expect("deflating");
        let blob = z.finish().expect("deflating");
        index.push_str(&format!("{name}\t{}\t{}\n", blobs.len(), blob.len()));
        blobs.extend(blob);
    }
    let meta = serde_json::json!({
        "Format": artifact.format,
        "Region": artifact.region,
        "SchemaDate": artifact.schema_date,
        "Source": artifact.source,
    });
    std::fs::write(out.join("types.bin"), blobs).expect("writing types.bin");
    std::fs::write(out.join("index.tsv"), index).expect("writing index.tsv");
    std::fs::write(out.join("meta.json"), meta.to_string()).expect("writing meta.json");
}
