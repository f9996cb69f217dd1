//! Every consumer of the estimator catalog runs every entry that does not skip it by name:
//! Table 1's methods, the map's settings, the perf benches, the device check, the CLI help and
//! the checked-in report schema's `kind` constants (generated: `just schema`). A new catalog entry (or a consumer that stops deriving from
//! the catalog) fails here.

use candle_core::Device;
use hypergrad::estimators::catalog::{catalog, registered_kinds, CatalogEntry, Consumer};
use hypergrad::EstimatorSpec;
use std::collections::BTreeSet;
use std::path::Path;
use ufom_bench::harness::experiments::{hypercleaning::Hypercleaning, Context, Experiment};
use ufom_bench::harness::record::Scale;

fn kinds<'a>(specs: impl IntoIterator<Item = &'a EstimatorSpec>) -> BTreeSet<String> {
    specs.into_iter().map(EstimatorSpec::kind).collect()
}

/// The kinds a consumer runs, from the consumer's own code path.
fn consumer_kinds(consumer: Consumer) -> BTreeSet<String> {
    match consumer {
        Consumer::Table1 => {
            let ctx = Context {
                scale: Scale::Default,
                data: Default::default(),
                device: Device::Cpu,
                backward_clip: None,
            };
            let plan = Hypercleaning.plan(&ctx).expect("Table 1's plan");
            kinds(plan.methods.iter().filter_map(|m| m.estimator_spec()))
        }
        Consumer::Map => {
            let mut all = BTreeSet::new();
            for r in [2, 10, 30] {
                all.extend(kinds(&ufom_bench::harness::map::settings(r)));
            }
            all
        }
        Consumer::Perf => kinds(
            &ufom_bench::harness::perf::cases::perf_estimators(true)
                .into_iter()
                .map(|(_, s)| s)
                .collect::<Vec<_>>(),
        ),
        Consumer::DeviceCheck => kinds(&hypergrad::device_check::estimators_compared()),
    }
}

#[test]
fn every_consumer_runs_every_entry_it_does_not_skip() {
    for consumer in Consumer::ALL {
        let runs = consumer_kinds(consumer);
        for e in catalog() {
            let kind = e.kind();
            assert_eq!(
                runs.contains(&kind),
                e.runs_in(consumer),
                "{consumer:?} and the catalog disagree about `{kind}` (runs: {runs:?}; skip: {:?})",
                e.skip
            );
        }
    }
}

/// Negative control: a consumer list that misses one entry is caught by the same comparison.
#[test]
fn a_consumer_missing_an_entry_is_caught() {
    let mut runs = consumer_kinds(Consumer::Perf);
    runs.remove("neumann");
    let missed: Vec<String> = catalog()
        .iter()
        .filter(|e| e.runs_in(Consumer::Perf) && !runs.contains(&e.kind()))
        .map(CatalogEntry::kind)
        .collect();
    assert_eq!(missed, ["neumann"]);
}

#[test]
fn the_cli_help_lists_every_kind() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(["hypergrad", "--help"])
        .output()
        .expect("run ufom");
    let help = String::from_utf8_lossy(&out.stdout);
    for k in registered_kinds() {
        assert!(
            help.contains(&k),
            "`ufom hypergrad --help` misses {k}:\n{help}"
        );
    }
}

/// The `kind` constants of every variant under `value`.
fn kind_consts(value: &serde_json::Value, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(k) = value
                .pointer("/properties/kind/const")
                .and_then(|k| k.as_str())
            {
                out.insert(k.to_string());
            }
            map.values().for_each(|v| kind_consts(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| kind_consts(v, out)),
        _ => {}
    }
}

#[test]
fn the_schema_knows_every_kind() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema/experiment.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("schema")).expect("JSON");
    let mut listed = BTreeSet::new();
    kind_consts(&schema["$defs"]["EstimatorSpec"], &mut listed);
    assert_eq!(
        listed,
        registered_kinds().into_iter().collect::<BTreeSet<_>>(),
        "{}: the estimator kinds differ from the registry's (run `just schema`)",
        path.display()
    );
}
