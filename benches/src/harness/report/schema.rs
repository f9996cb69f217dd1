//! The report schemas, generated from the Rust types that write the reports (schemars):
//! `reports/schema/*.schema.json` are this module's output (`ufom schema`, `just schema`), and
//! `benches/tests/schema.rs` fails when the checked-in files differ from it.
//!
//! On top of what the types say, the experiment schema states what serde_json does with them:
//! a non-finite `f64` is written as `null` (so every number may be `null`), every struct
//! refuses unknown fields, and `schema_version` is this build's.

use super::bencher::BencherFile;
use crate::harness::record::{ExperimentReport, SCHEMA_VERSION};
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::Value;

/// The file name of the experiment reports' schema under `reports/schema/`.
pub const EXPERIMENT_SCHEMA_FILE: &str = "experiment.schema.json";
/// The file name of `bencher.json`'s schema.
pub const BENCHER_SCHEMA_FILE: &str = "bencher.schema.json";

/// Every schema, with its file name, as written to `reports/schema/` (pretty JSON + newline).
pub fn schemas() -> Vec<(&'static str, String)> {
    [
        (EXPERIMENT_SCHEMA_FILE, experiment_schema()),
        (BENCHER_SCHEMA_FILE, bencher_schema()),
    ]
    .into_iter()
    .map(|(name, v)| {
        let text = serde_json::to_string_pretty(&v).unwrap_or_default() + "\n";
        (name, text)
    })
    .collect()
}

fn generate<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// `<experiment>.json`: an [`ExperimentReport`].
pub fn experiment_schema() -> Value {
    let mut root = generate::<ExperimentReport>();
    nullable_numbers(&mut root);
    closed_structs(&mut root);
    if let Some(v) = root.pointer_mut("/properties/schema_version") {
        v["const"] = SCHEMA_VERSION.into();
    }
    root
}

/// `bencher.json`: Bencher Metric Format ([`BencherFile`]; only finite numbers are written).
pub fn bencher_schema() -> Value {
    let mut root = generate::<BencherFile>();
    closed_structs(&mut root);
    root
}

/// Every `"type": "number"` becomes `["number", "null"]`: serde_json writes NaN and ±∞ as null.
fn nullable_numbers(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("type") == Some(&Value::from("number")) {
                map.insert("type".into(), serde_json::json!(["number", "null"]));
            }
            map.values_mut().for_each(nullable_numbers);
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_numbers),
        _ => {}
    }
}

/// Structs (the root and each definition that is an object with properties) refuse unknown
/// fields. Left open: enum variants, and a struct that an internally tagged variant extends
/// (`{"$ref": ..., "properties": {"kind": ...}}`), whose `kind` its own properties lack.
fn closed_structs(root: &mut Value) {
    let mut extended = Vec::new();
    extended_refs(root, &mut extended);
    let close = |s: &mut Value| {
        if s.get("properties").is_some() && s.get("additionalProperties").is_none() {
            s["additionalProperties"] = false.into();
        }
    };
    close(root);
    if let Some(Value::Object(defs)) = root.get_mut("$defs") {
        for (name, def) in defs.iter_mut() {
            if !extended.contains(&format!("#/$defs/{name}")) {
                close(def);
            }
        }
    }
}

/// The `$ref`s that sit beside `properties` of their own (a tagged variant around a struct).
fn extended_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let (Some(Value::String(r)), Some(_)) = (map.get("$ref"), map.get("properties")) {
                out.push(r.clone());
            }
            map.values().for_each(|x| extended_refs(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| extended_refs(x, out)),
        _ => {}
    }
}
