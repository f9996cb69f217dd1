//! Reporters: the JSON Schema of `ExperimentReport`, and every file `write_all` writes.

use hypergrad::optim::{OuterConfig, StepSchedule};
use hypergrad::EstimatorSpec;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use ufom_bench::harness::methods::{MethodSpec, OuterSpec};
use ufom_bench::harness::record::*;
use ufom_bench::harness::report::*;

fn schema_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/schema")
}

fn load_schema(name: &str) -> Value {
    let path = schema_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("schema is JSON")
}

fn validator(name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&load_schema(name)).expect("schema compiles")
}

fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn run(method: &str, seed: u64, loss: f64, acc: f64, status: RunStatus) -> RunRecord {
    let curve = (0..5u64)
        .map(|i| CurvePoint {
            iter: i * 10,
            calls: i * 200,
            wall_s: i as f64 * 0.5,
            metrics: BTreeMap::from([
                (Metric::TestCe, loss * (1.0 + 1.0 / (i + 1) as f64)),
                (Metric::TestAcc, acc * (i + 1) as f64 / 5.0),
            ]),
        })
        .collect();
    RunRecord {
        method: method.into(),
        seed,
        status,
        iterations: 40,
        calls: CallCount {
            grad: 600,
            hvp: 200,
            total: 800,
        },
        discarded_calls: Some(0),
        wall_s: 2.0 + seed as f64 * 0.1,
        seconds_per_call: (2.0 + seed as f64 * 0.1) / 800.0,
        peak_state_bytes: 3 * 1024 * 1024 / 2,
        final_metrics: BTreeMap::from([(Metric::TestCe, loss), (Metric::TestAcc, acc)]),
        curve,
        extra: BTreeMap::from([("q".to_string(), vec![1.0, 2.0, 4.0])]),
        code: None,
    }
}

fn method(name: &str, losses: [f64; 2], accs: [f64; 2]) -> MethodReport {
    let runs = vec![
        run(name, 0, losses[0], accs[0], RunStatus::Finished),
        run(name, 1, losses[1], accs[1], RunStatus::Finished),
    ];
    let summary = BTreeMap::from([
        (Metric::TestCe, Stat::of(&losses).unwrap()),
        (Metric::TestAcc, Stat::of(&accs).unwrap()),
    ]);
    let seconds_per_call = runs.iter().map(|r| r.seconds_per_call).sum::<f64>() / 2.0;
    let mut spec = MethodSpec::estimator(
        EstimatorSpec::Ufom {
            q: 0.1,
            backward_clip: None,
        },
        OuterSpec {
            optimizer: OuterConfig::Sgd(StepSchedule::InverseK(10.0)),
            clip: None,
        },
    );
    spec.label = name.into();
    MethodReport {
        method: name.into(),
        spec,
        runs,
        summary,
        diverged: 0,
        seconds_per_call,
    }
}

const PUBLISHED_UFOM: f64 = 0.8731;
const PUBLISHED_FOM: f64 = 0.8412;
const TITLE_CURVES: &str = "Test loss against function calls";
const TITLE_ERR: &str = "Hypergradient error (log scale)";

fn sample_report() -> ExperimentReport {
    let ufom = method("UFOM", [0.31, 0.35], [0.87, 0.89]);
    let fom = method("FOM", [0.42, 0.40], [0.83, 0.85]);
    let table = Table {
        caption: "Table 2: test accuracy after the matched budget".into(),
        columns: vec!["test_acc".into(), "test_ce".into()],
        headers: vec!["Accuracy".into(), "Loss".into()],
        rows: vec![
            TableRow {
                label: "UFOM".into(),
                ours: ufom.cells_of(Metric::ALL),
                published: BTreeMap::from([("test_acc".to_string(), PUBLISHED_UFOM)]),
            },
            TableRow {
                label: "FOM".into(),
                ours: fom.cells_of(Metric::ALL),
                published: BTreeMap::from([("test_acc".to_string(), PUBLISHED_FOM)]),
            },
        ],
    };
    let calls: Vec<f64> = (0..5).map(|i| (i * 200) as f64).collect();
    let curves = Figure {
        id: "loss_vs_calls".into(),
        title: TITLE_CURVES.into(),
        x_label: "function calls".into(),
        y_label: "test loss".into(),
        log_x: false,
        log_y: false,
        scatter: false,
        series: vec![
            Series {
                label: "UFOM".into(),
                x: calls.clone(),
                y: vec![0.66, 0.5, 0.44, 0.41, 0.33],
                y_err: Some(vec![0.02, 0.02, 0.01, 0.01, 0.02]),
            },
            Series {
                label: "FOM".into(),
                x: calls.clone(),
                y: vec![0.8, 0.6, 0.5, 0.45, 0.41],
                y_err: None,
            },
        ],
    };
    let errors = Figure {
        id: "hypergrad_error".into(),
        title: TITLE_ERR.into(),
        x_label: "q".into(),
        y_label: "relative error".into(),
        log_x: true,
        log_y: true,
        scatter: false,
        series: vec![
            Series {
                label: "UFOM".into(),
                x: vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0],
                y: vec![0.5, f64::NAN, 0.0, 0.06, 0.03, 0.02, 0.01],
                y_err: Some(vec![0.1, 0.1, 0.1, 0.2, 0.01, 0.005, f64::NAN]),
            },
            Series {
                label: "single".into(),
                x: vec![4.0],
                y: vec![0.2],
                y_err: None,
            },
            Series {
                label: "empty".into(),
                x: vec![],
                y: vec![],
                y_err: None,
            },
        ],
    };
    ExperimentReport {
        schema_version: SCHEMA_VERSION,
        experiment: ExperimentId::Hypercleaning,
        title: "Data hyper-cleaning on MNIST".into(),
        scale: Scale::Smoke,
        scale_note: "1 000 training points instead of 20 000.".into(),
        config: json!({ "inner_steps": 10, "lr": 0.1 }),
        seeds: vec![0, 1],
        budget: BudgetNote {
            calls: 800,
            description: "calls of 40 exact outer iterations".into(),
        },
        data: vec![DataFile {
            dataset: "mnist".into(),
            path: "/data/mnist/train-images-idx3-ubyte.gz".into(),
            sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609".into(),
        }],
        environment: Environment {
            git_commit: Some("0123456789abcdef".into()),
            device: "cpu".into(),
            dtype: "f32".into(),
            crate_versions: BTreeMap::from([("candle-core".to_string(), "0.11.1".to_string())]),
            platform: "linux-x86_64".into(),
            threads: 2,
        },
        methods: vec![ufom, fom],
        tables: vec![table],
        figures: vec![curves, errors],
        notes: vec![
            "UFOM beats FOM, as in the paper.".into(),
            "Smoke scale: numbers are noisy.".into(),
        ],
        claims: vec![ClaimVerdict {
            statement: "UFOM ≥ FOM on test accuracy".into(),
            source: "Table 1".into(),
            metric: Metric::TestAcc,
            test: "paired t-test over seeds, two-sided, α = 0.05".into(),
            n: 2,
            diverged: 0,
            effect: Some(0.04),
            ci95: Some([-0.1, 0.18]),
            effect_size_dz: Some(2.8),
            p_value: Some(0.2),
            verdict: Verdict::NotResolved,
        }],
        simulations: Vec::new(),
        analysed_by: None,
    }
}

#[test]
fn report_matches_schema() {
    let v = validator("experiment.schema.json");
    let report = serde_json::to_value(sample_report()).unwrap();
    assert_eq!(errors(&v, &report), Vec::<String>::new());

    // Negative controls: each must fail.
    let mut missing = report.clone();
    missing.as_object_mut().unwrap().remove("budget");
    assert!(!v.is_valid(&missing), "missing required field accepted");

    let mut bad_scale = report.clone();
    bad_scale["scale"] = json!("huge");
    assert!(!v.is_valid(&bad_scale), "unknown scale accepted");

    let mut bad_status = report.clone();
    bad_status["methods"][0]["runs"][0]["status"] = json!("crashed");
    assert!(!v.is_valid(&bad_status), "unknown status accepted");

    let mut bad_version = report.clone();
    bad_version["schema_version"] = json!(1);
    assert!(!v.is_valid(&bad_version), "other schema version accepted");

    let mut bad_type = report.clone();
    bad_type["methods"][0]["summary"]["test_acc"]["n"] = json!("two");
    assert!(!v.is_valid(&bad_type), "string count accepted");

    let mut extra_field = report;
    extra_field["figures"][0]["colour"] = json!("red");
    assert!(!v.is_valid(&extra_field), "unknown field accepted");
}

#[test]
fn schema_matches_every_serialized_field() {
    // A report with every optional part present and absent still validates.
    let v = validator("experiment.schema.json");
    let mut r = sample_report();
    r.environment.git_commit = None;
    r.scale = Scale::Paper;
    r.methods[0].runs[1].status = RunStatus::Diverged;
    r.methods[0].summary.insert(
        Metric::Objective,
        Stat {
            mean: f64::NAN,
            std: f64::INFINITY,
            n: 0,
        },
    );
    r.config = Value::Null;
    let value = serde_json::to_value(&r).unwrap();
    assert_eq!(errors(&v, &value), Vec::<String>::new());
}

fn list_dir(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    list_dir(dir)
        .into_iter()
        .map(|n| (n.clone(), std::fs::read(dir.join(&n)).unwrap()))
        .collect()
}

#[test]
fn write_all_writes_every_file() {
    let report = sample_report();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    let paths = write_all(std::slice::from_ref(&report), &out).unwrap();

    let expected = [
        "bencher.json",
        "hypercleaning.json",
        "hypercleaning.md",
        "hypercleaning_hypergrad_error.svg",
        "hypercleaning_loss_vs_calls.svg",
    ];
    assert_eq!(
        list_dir(&out),
        expected,
        "exactly these files, no temp files left"
    );
    let mut returned: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    returned.sort();
    assert_eq!(returned, expected);
    for p in &paths {
        assert!(
            p.starts_with(&out),
            "{} outside the output folder",
            p.display()
        );
    }

    // JSON: round-trips and validates.
    let json_text = std::fs::read_to_string(out.join("hypercleaning.json")).unwrap();
    let json: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(
        errors(&validator("experiment.schema.json"), &json),
        Vec::<String>::new()
    );
    assert_eq!(json["experiment"], "hypercleaning");

    // Markdown.
    let md = std::fs::read_to_string(out.join("hypercleaning.md")).unwrap();
    assert!(md.starts_with("# Data hyper-cleaning on MNIST\n"), "{md}");
    for needle in [
        "smoke",
        "1 000 training points instead of 20 000.",
        "800 function calls per run",
        "calls of 40 exact outer iterations",
        "0, 1",
        "`0123456789abcdef`",
        "cpu",
        "f32",
        "Table 2: test accuracy after the matched budget",
        "| Method | Accuracy (ours) | Accuracy (paper) | Loss (ours) | Loss (paper) |",
        "- UFOM beats FOM, as in the paper.",
        "(hypercleaning_loss_vs_calls.svg)",
        "(hypercleaning_hypergrad_error.svg)",
        "1.5 MiB",
    ] {
        assert!(md.contains(needle), "markdown lacks {needle:?}:\n{md}");
    }
    assert!(
        md.contains(&fmt_num(PUBLISHED_UFOM)) && md.contains("0.8731"),
        "{md}"
    );
    assert!(md.contains(&fmt_num(PUBLISHED_FOM)), "{md}");
    for m in &report.methods {
        for stat in m.summary.values() {
            assert!(
                md.contains(&fmt_stat(stat)),
                "markdown lacks {} of {}:\n{md}",
                fmt_stat(stat),
                m.method
            );
        }
    }
    // UFOM accuracy: mean 0.88 ± std 0.01414 beside the published 0.8731; loss has no
    // published number → em dash.
    assert!(
        md.contains("| UFOM | 0.88 ± 0.01414 | 0.8731 | 0.33 ± 0.02828 | — |"),
        "{md}"
    );

    // SVG.
    for (file, title) in [
        ("hypercleaning_loss_vs_calls.svg", TITLE_CURVES),
        ("hypercleaning_hypergrad_error.svg", TITLE_ERR),
    ] {
        let svg = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(
            svg.trim_start().starts_with("<svg"),
            "{file}: {}",
            &svg[..svg.len().min(200)]
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{file}");
        assert!(svg.contains(title), "{file} lacks its title");
        assert!(svg.contains("UFOM"), "{file} lacks the legend");
        assert!(
            !svg.contains("NaN") && !svg.contains("inf"),
            "{file} has a non-finite coordinate"
        );
        assert_eq!(
            svg.matches('<').count(),
            svg.matches('>').count(),
            "{file} unbalanced tags"
        );
    }
    let curves = std::fs::read_to_string(out.join("hypercleaning_loss_vs_calls.svg")).unwrap();
    assert!(
        curves.contains("function calls") && curves.contains("test loss"),
        "axis labels"
    );
    assert!(
        curves.contains("<polygon") || curves.contains("<path"),
        "error band drawn"
    );

    // Bencher.
    let bmf: Value =
        serde_json::from_slice(&std::fs::read(out.join("bencher.json")).unwrap()).unwrap();
    assert_eq!(
        errors(&validator("bencher.schema.json"), &bmf),
        Vec::<String>::new()
    );
    let keys: Vec<&String> = bmf.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["hypercleaning/FOM", "hypercleaning/UFOM"]);
    let ufom = &bmf["hypercleaning/UFOM"];
    let measures: Vec<&String> = ufom.as_object().unwrap().keys().collect();
    assert_eq!(measures.len(), 4, "{ufom}");
    for m in ["test_acc", "test_ce", "function_calls", "seconds_per_call"] {
        assert!(ufom[m]["value"].is_f64(), "{m}: {ufom}");
    }
    let acc = &ufom["test_acc"];
    assert!((acc["value"].as_f64().unwrap() - 0.88).abs() < 1e-12);
    let std = (0.0002f64).sqrt();
    assert!((acc["lower_value"].as_f64().unwrap() - (0.88 - std)).abs() < 1e-12);
    assert!((acc["upper_value"].as_f64().unwrap() - (0.88 + std)).abs() < 1e-12);
    assert_eq!(ufom["function_calls"]["value"], json!(800.0));

    // Deterministic: a second write gives the same bytes, and no temp files.
    let first = read_all(&out);
    write_all(std::slice::from_ref(&report), &out).unwrap();
    assert_eq!(read_all(&out), first);
}

#[test]
fn hostile_records_do_not_panic() {
    let mut r = sample_report();
    r.title = "A <title> & \"quotes\" | pipes\nnewline".into();
    r.methods[0].seconds_per_call = f64::NAN;
    r.methods[0].summary.insert(
        Metric::Theta,
        Stat {
            mean: f64::INFINITY,
            std: f64::NAN,
            n: 2,
        },
    );
    r.methods[1].runs.clear();
    r.tables[0].headers.clear();
    r.tables.push(Table {
        caption: String::new(),
        columns: vec![],
        headers: vec![],
        rows: vec![],
    });
    let weird =
        |id: &str, log: bool, scatter: bool, x: Vec<f64>, y: Vec<f64>, err: Option<Vec<f64>>| {
            Figure {
                id: id.into(),
                title: format!("weird {id}"),
                x_label: String::new(),
                y_label: String::new(),
                log_x: log,
                log_y: log,
                scatter,
                series: vec![Series {
                    label: String::new(),
                    x,
                    y,
                    y_err: err,
                }],
            }
        };
    r.figures = vec![
        Figure {
            series: vec![],
            ..weird("none", false, false, vec![], vec![], None)
        },
        weird("empty", true, false, vec![], vec![], None),
        weird(
            "flat",
            false,
            false,
            vec![1.0, 1.0],
            vec![3.0, 3.0],
            Some(vec![0.0, 0.0]),
        ),
        weird(
            "flat_log",
            true,
            true,
            vec![5.0, 5.0, 5.0],
            vec![2.0, 2.0, 2.0],
            None,
        ),
        weird(
            "all_nan",
            false,
            false,
            vec![f64::NAN; 3],
            vec![f64::NAN; 3],
            Some(vec![f64::NAN; 3]),
        ),
        weird(
            "nonpositive_log",
            true,
            false,
            vec![-1.0, 0.0, -3.0],
            vec![1.0, 2.0, 3.0],
            None,
        ),
        weird(
            "ragged",
            false,
            false,
            vec![1.0, 2.0, 3.0],
            vec![1.0],
            Some(vec![]),
        ),
        weird(
            "huge",
            false,
            true,
            vec![-f64::MAX, 0.0, f64::MAX, 1e299],
            vec![f64::MAX, 1.0, 1e-300, -1e299],
            None,
        ),
        weird(
            "tiny",
            true,
            false,
            vec![1e-300, 1e-299],
            vec![f64::MIN_POSITIVE, 1e-310],
            Some(vec![1e300, 1.0]),
        ),
        weird("zero", false, false, vec![0.0, 0.0], vec![0.0, 0.0], None),
        weird(
            "wide_log",
            true,
            false,
            vec![1e-300, 1e-150, 1e150, 1e300],
            vec![1e300, 1e150, 1e-150, 1e-300],
            Some(vec![1e300, 1.0, 1.0, 1.0]),
        ),
        weird(
            "near_flat",
            false,
            false,
            vec![1e15, 1e15 + 0.25, 1e15 + 0.5],
            vec![-1e15, -1e15 - 0.25, 1e-300],
            None,
        ),
        weird(
            "tiny_span",
            false,
            true,
            vec![1e-300, 2e-300, 1.5e-300],
            vec![-1e-300, 3e-300, f64::MIN_POSITIVE],
            Some(vec![1e-301, 1e-300, 0.0]),
        ),
        weird(
            "near_flat_tiny",
            false,
            false,
            vec![1.0, 1.0 + f64::EPSILON],
            vec![1e-300, 1.0000000001e-300],
            None,
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let paths = write_all(std::slice::from_ref(&r), tmp.path()).unwrap();
    for p in &paths {
        assert!(
            p.starts_with(tmp.path()),
            "{} escaped the output folder",
            p.display()
        );
        let text = std::fs::read_to_string(p).unwrap();
        if p.extension().is_some_and(|e| e == "svg") {
            assert!(
                text.starts_with("<svg") && !text.contains("NaN"),
                "{}",
                p.display()
            );
        }
    }
    let names = list_dir(tmp.path());
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".svg")).count(),
        r.figures.len(),
        "{names:?}"
    );
    assert!(names.iter().all(|n| !n.ends_with(".tmp")), "{names:?}");
    let md = std::fs::read_to_string(
        paths
            .iter()
            .find(|p| p.extension().is_some_and(|e| e == "md"))
            .unwrap(),
    )
    .unwrap();
    assert!(
        md.starts_with("# A <title> & \"quotes\" | pipes newline\n"),
        "{md}"
    );
    let bmf: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join(BENCHER_FILE)).unwrap()).unwrap();
    assert_eq!(
        errors(&validator("bencher.schema.json"), &bmf),
        Vec::<String>::new()
    );
    assert!(
        bmf["hypercleaning/UFOM"].get("theta").is_none(),
        "non-finite mean kept: {bmf}"
    );
}

#[test]
fn write_all_of_nothing_writes_an_empty_bencher_file() {
    let tmp = tempfile::tempdir().unwrap();
    let paths = write_all(&[], tmp.path()).unwrap();
    assert_eq!(paths, [tmp.path().join(BENCHER_FILE)]);
    assert_eq!(std::fs::read_to_string(&paths[0]).unwrap(), "{}\n");
}

#[test]
fn log_axis_within_one_decade_is_labelled() {
    let fig = Figure {
        id: "one_decade".into(),
        title: "Within one decade".into(),
        x_label: "x".into(),
        y_label: "y".into(),
        log_x: false,
        log_y: true,
        scatter: true,
        series: vec![Series {
            label: "s".into(),
            x: vec![1.0, 2.0, 3.0],
            y: vec![0.3, 0.5, 0.9],
            y_err: Some(vec![0.05, 0.6, 0.05]),
        }],
    };
    let svg = render_figure(&fig, 640, 400).unwrap();
    let label = |v: &str| svg.contains(&format!("\n{v}\n</text>"));
    assert!(label("0.3") && label("0.5") && label("1"), "{svg}");
    // Same bytes every time.
    assert_eq!(render_figure(&fig, 640, 400).unwrap(), svg);
}
