//! Fuzzing of the harness's JSON files: an experiment report (read with `store::read_json`,
//! then rendered with `report::write_all` when it still parses), a plan folder
//! (`cluster::read_plan` over damaged `plan.json` / `cells.jsonl`) and `ufom report DIR` on a
//! folder holding a damaged report. Each starts from a small valid file built here and applies
//! either byte-level mutations (flipped bytes, truncation, inserted or deleted runs, an
//! overwritten start, a huge number written over four bytes) or JSON-level edits (a value
//! replaced by null, a huge or negative number, an empty or long string, an empty array or
//! object; a key deleted; an array element duplicated or the array truncated), so that damage
//! also reaches past the parser.
//!
//! Invariant: no panic (proptest counts one as a failure; the binary must exit 0, 1 or 2, never
//! 101 or a signal), and an error is a non-empty message naming the damaged file (or, for the
//! plan, its folder). CI runs [`CASES`] cases per reader and [`BINARY_CASES`] runs of the binary;
//! `PROPTEST_CASES=N` runs `N` of each. The number of cases tried is printed on stderr
//! (`--nocapture`). Failures are not persisted to a regressions file: proptest prints the
//! minimal failing input.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use hypergrad::optim::{OuterConfig, StepSchedule};
use hypergrad::EstimatorSpec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::{json, Value};
use ufom_bench::harness::cluster::{self, CellLine, PlanFile, CELLS_FILE, PLAN_FILE};
use ufom_bench::harness::env::DeviceKind;
use ufom_bench::harness::methods::{MethodSpec, OuterSpec};
use ufom_bench::harness::record::*;
use ufom_bench::harness::report::write_all;
use ufom_bench::harness::store::{read_json, write_json};

/// Cases per in-process reader unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 32;
/// Runs of the binary unless `PROPTEST_CASES` says otherwise.
const BINARY_CASES: u32 = 8;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Counts the cases one property ran (shrinking included) and prints the count when the test
/// ends, passed or failed.
struct Tried {
    reader: &'static str,
    n: AtomicUsize,
    read: AtomicUsize,
}

impl Tried {
    fn new(reader: &'static str) -> Self {
        Self {
            reader,
            n: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
        }
    }

    fn hit(&self) {
        self.n.fetch_add(1, Ordering::Relaxed);
    }

    /// A case whose damaged input was still accepted.
    fn read_ok(&self) {
        self.read.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Tried {
    fn drop(&mut self) {
        let n = self.n.load(Ordering::Relaxed);
        let read = self.read.load(Ordering::Relaxed);
        eprintln!(
            "fuzz_files: {}: {n} cases tried ({read} still accepted, {} rejected cleanly)",
            self.reader,
            n - read
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations

/// One byte-level mutation; positions are taken modulo the current length.
#[derive(Debug, Clone)]
enum ByteEdit {
    Flip {
        pos: usize,
        mask: u8,
    },
    Truncate {
        at: usize,
    },
    Insert {
        pos: usize,
        bytes: Vec<u8>,
    },
    Delete {
        pos: usize,
        len: usize,
    },
    Header {
        bytes: Vec<u8>,
    },
    /// A big-endian `u32` written over four bytes.
    Huge {
        pos: usize,
        value: u32,
    },
}

/// What replaces a JSON node, or how it changes.
#[derive(Debug, Clone)]
enum JsonOp {
    Set(Value),
    /// Delete the node from its object or array.
    Remove,
    /// Push a copy of the node's first element (arrays) or of itself into its parent array.
    Duplicate,
    /// Keep the first `k` elements of an array (or characters of a string).
    Truncate(usize),
    /// Wrap the node in `depth` arrays (past serde_json's recursion limit of 128).
    Nest(usize),
}

/// One JSON-level edit: the `node`-th node in document order (modulo their count).
#[derive(Debug, Clone)]
struct JsonEdit {
    node: usize,
    op: JsonOp,
}

/// A damaged file: byte edits, or JSON edits of the parsed seed.
#[derive(Debug, Clone)]
enum Damage {
    Bytes(Vec<ByteEdit>),
    Json(Vec<JsonEdit>),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    let huge = prop_oneof![
        Just(u32::MAX),
        Just(0x8000_0000),
        Just(0x3939_3939), // "9999"
        Just(0x2d31_6533), // "-1e3"
        Just(0x3165_3939), // "1e99"
        any::<u32>(),
    ];
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(pos, mask)| ByteEdit::Flip { pos, mask }),
        1 => any::<usize>().prop_map(|at| ByteEdit::Truncate { at }),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..64))
            .prop_map(|(pos, bytes)| ByteEdit::Insert { pos, bytes }),
        1 => (any::<usize>(), 1usize..64).prop_map(|(pos, len)| ByteEdit::Delete { pos, len }),
        1 => proptest::collection::vec(any::<u8>(), 1..24)
            .prop_map(|bytes| ByteEdit::Header { bytes }),
        2 => (any::<usize>(), huge).prop_map(|(pos, value)| ByteEdit::Huge { pos, value }),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(9_007_199_254_740_993u64)),
        Just(json!(0.5)),
        Just(json!(true)),
        Just(json!("")),
        Just(json!("x".repeat(10_000))),
        Just(json!("../../etc/passwd")),
        Just(json!([])),
        Just(json!({})),
    ]
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    let op = prop_oneof![
        4 => json_value().prop_map(JsonOp::Set),
        2 => Just(JsonOp::Remove),
        1 => Just(JsonOp::Duplicate),
        1 => (0usize..3).prop_map(JsonOp::Truncate),
        1 => Just(JsonOp::Nest(200)),
    ];
    (any::<usize>(), op).prop_map(|(node, op)| JsonEdit { node, op })
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        proptest::collection::vec(byte_edit(), 1..4).prop_map(Damage::Bytes),
        proptest::collection::vec(json_edit(), 1..4).prop_map(Damage::Json),
    ]
}

fn apply_bytes(seed: &[u8], edits: &[ByteEdit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        match e {
            ByteEdit::Flip { pos, mask } => {
                if !b.is_empty() {
                    let i = pos % b.len();
                    b[i] ^= mask;
                }
            }
            ByteEdit::Truncate { at } => b.truncate(at % (b.len() + 1)),
            ByteEdit::Insert { pos, bytes } => {
                let i = pos % (b.len() + 1);
                b.splice(i..i, bytes.iter().copied());
            }
            ByteEdit::Delete { pos, len } => {
                if !b.is_empty() {
                    let i = pos % b.len();
                    let j = (i + len).min(b.len());
                    b.drain(i..j);
                }
            }
            ByteEdit::Header { bytes } => {
                let n = bytes.len().min(b.len());
                b[..n].copy_from_slice(&bytes[..n]);
            }
            ByteEdit::Huge { pos, value } => {
                if b.len() >= 4 {
                    let i = pos % (b.len() - 3);
                    b[i..i + 4].copy_from_slice(&value.to_be_bytes());
                }
            }
        }
    }
    b
}

/// JSON pointers of every node but the root, in document order.
fn pointers(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, &p, out);
            }
        }
        _ => {}
    }
}

fn apply_json(seed: &Value, edits: &[JsonEdit]) -> Value {
    let mut v = seed.clone();
    for e in edits {
        let mut all = Vec::new();
        pointers(&v, "", &mut all);
        if all.is_empty() {
            v = match &e.op {
                JsonOp::Set(x) => x.clone(),
                JsonOp::Nest(depth) => (0..*depth).fold(v, |v, _| json!([v])),
                _ => Value::Null,
            };
            continue;
        }
        let ptr = &all[e.node % all.len()];
        let (parent, key) = ptr.rsplit_once('/').unwrap_or(("", ptr));
        match &e.op {
            JsonOp::Set(x) => {
                if let Some(node) = v.pointer_mut(ptr) {
                    *node = x.clone();
                }
            }
            JsonOp::Remove => match v.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>() {
                        if i < a.len() {
                            a.remove(i);
                        }
                    }
                }
                _ => {}
            },
            JsonOp::Duplicate => {
                let node = v.pointer(ptr).cloned();
                match (v.pointer_mut(parent), node) {
                    (Some(Value::Array(a)), Some(n)) => a.push(n),
                    (_, Some(Value::Array(a))) if !a.is_empty() => {
                        let first = a[0].clone();
                        if let Some(Value::Array(a)) = v.pointer_mut(ptr) {
                            a.push(first);
                        }
                    }
                    _ => {}
                }
            }
            JsonOp::Nest(depth) => {
                if let Some(node) = v.pointer_mut(ptr) {
                    let inner = node.take();
                    *node = (0..*depth).fold(inner, |v, _| json!([v]));
                }
            }
            JsonOp::Truncate(k) => match v.pointer_mut(ptr) {
                Some(Value::Array(a)) => a.truncate(*k),
                Some(Value::String(s)) => {
                    let cut: String = s.chars().take(*k).collect();
                    *s = cut;
                }
                _ => {}
            },
        }
    }
    v
}

fn damaged(seed: &[u8], d: &Damage) -> Vec<u8> {
    match d {
        Damage::Bytes(edits) => apply_bytes(seed, edits),
        Damage::Json(edits) => {
            let v: Value = serde_json::from_slice(seed).expect("the seed is JSON");
            let mut out = serde_json::to_vec_pretty(&apply_json(&v, edits)).unwrap();
            out.push(b'\n');
            out
        }
    }
}

/// A clean error: a non-empty message (the whole chain) naming one of `names`.
fn clean_error(e: &anyhow::Error, names: &[String]) -> Result<(), TestCaseError> {
    let msg = format!("{e:#}");
    prop_assert!(!msg.trim().is_empty(), "empty error message");
    prop_assert!(
        names.iter().any(|n| msg.contains(n.as_str())),
        "error `{msg}` names none of {names:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Seeds

fn run(method: &str, seed: u64, loss: f64, acc: f64) -> RunRecord {
    let curve = (0..3u64)
        .map(|i| CurvePoint {
            iter: i * 10,
            calls: i * 200,
            wall_s: i as f64 * 0.5,
            metrics: BTreeMap::from([
                (Metric::TestCe, loss * (1.0 + 1.0 / (i + 1) as f64)),
                (Metric::TestAcc, acc * (i + 1) as f64 / 3.0),
            ]),
        })
        .collect();
    RunRecord {
        method: method.into(),
        seed,
        status: RunStatus::Finished,
        iterations: 20,
        calls: CallCount {
            grad: 300,
            hvp: 100,
            total: 400,
        },
        discarded_calls: Some(0),
        wall_s: 2.0,
        seconds_per_call: 2.0 / 400.0,
        peak_state_bytes: 1 << 20,
        final_metrics: BTreeMap::from([(Metric::TestCe, loss), (Metric::TestAcc, acc)]),
        curve,
        extra: BTreeMap::from([("q".to_string(), vec![1.0, 2.0])]),
        code: None,
    }
}

fn method(name: &str, losses: [f64; 2], accs: [f64; 2]) -> MethodReport {
    let runs = vec![
        run(name, 0, losses[0], accs[0]),
        run(name, 1, losses[1], accs[1]),
    ];
    let summary = BTreeMap::from([
        (Metric::TestCe, Stat::of(&losses).unwrap()),
        (Metric::TestAcc, Stat::of(&accs).unwrap()),
    ]);
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
        seconds_per_call: 2.0 / 400.0,
    }
}

/// A small valid experiment report (two methods of two runs, a table, a figure, a claim).
fn sample_report() -> ExperimentReport {
    let ufom = method("UFOM", [0.31, 0.35], [0.87, 0.89]);
    let fom = method("FOM", [0.42, 0.40], [0.83, 0.85]);
    let table = Table {
        caption: "Table 1: test accuracy".into(),
        columns: vec!["test_acc".into(), "test_ce".into()],
        headers: vec!["Accuracy".into(), "Loss".into()],
        rows: vec![
            TableRow {
                label: "UFOM".into(),
                ours: ufom.cells_of(Metric::ALL),
                published: BTreeMap::from([("test_acc".to_string(), 0.87)]),
            },
            TableRow {
                label: "FOM".into(),
                ours: fom.cells_of(Metric::ALL),
                published: BTreeMap::new(),
            },
        ],
    };
    let figure = Figure {
        id: "loss_vs_calls".into(),
        title: "Test loss against function calls".into(),
        x_label: "function calls".into(),
        y_label: "test loss".into(),
        log_x: false,
        log_y: true,
        scatter: false,
        series: vec![
            Series {
                label: "UFOM".into(),
                x: vec![0.0, 200.0, 400.0],
                y: vec![0.66, 0.5, 0.33],
                y_err: Some(vec![0.02, 0.01, 0.02]),
            },
            Series {
                label: "FOM".into(),
                x: vec![0.0, 200.0, 400.0],
                y: vec![0.8, 0.6, 0.41],
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
            calls: 400,
            description: "calls of 20 exact outer iterations".into(),
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
        figures: vec![figure],
        notes: vec!["Smoke scale: numbers are noisy.".into()],
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

fn report_seed() -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(&sample_report()).unwrap();
    bytes.push(b'\n');
    bytes
}

/// A valid plan folder's two files, as `cluster::write_plan` writes them.
fn plan_seed(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let cells: Vec<CellLine> = (0..3)
        .map(|i| CellLine {
            index: i,
            experiment: ExperimentId::Hypercleaning,
            method: if i < 2 { "UFOM" } else { "simulation:qstar" }.into(),
            digest: format!("{:016x}", 0xdead_beef_u64 + i as u64),
            seed: i as u64 % 2,
        })
        .collect();
    let plan = PlanFile {
        version: cluster::PLAN_VERSION,
        scale: Scale::Smoke,
        experiments: vec![ExperimentId::Hypercleaning],
        methods: vec!["UFOM".into()],
        seeds: Some(2),
        data_dir: Some("/data".into()),
        device: DeviceKind::Cpu,
        backward_clip: Some(1.0),
        cells: cells.len(),
    };
    write_json(&dir.join(PLAN_FILE), &plan).unwrap();
    let lines: String = cells
        .iter()
        .map(|c| serde_json::to_string(c).unwrap() + "\n")
        .collect();
    std::fs::write(dir.join(CELLS_FILE), &lines).unwrap();
    let (p, c) = cluster::read_plan(dir).expect("the seed plan reads");
    assert_eq!((p, c), (plan, cells));
    (
        std::fs::read(dir.join(PLAN_FILE)).unwrap(),
        lines.into_bytes(),
    )
}

/// `cells.jsonl` damaged line by line for JSON edits (each edit on one line), else as bytes.
fn damaged_lines(seed: &[u8], d: &Damage, line: usize) -> Vec<u8> {
    match d {
        Damage::Bytes(_) => damaged(seed, d),
        Damage::Json(edits) => {
            let text = String::from_utf8(seed.to_vec()).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let i = line % lines.len();
            let v: Value = serde_json::from_str(&lines[i]).expect("the seed line is JSON");
            lines[i] = serde_json::to_string(&apply_json(&v, edits)).unwrap();
            (lines.join("\n") + "\n").into_bytes()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Properties

#[test]
fn experiment_report_never_panics() {
    let tried = Tried::new("experiment report (store::read_json, then report::write_all)");
    let seed = report_seed();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hypercleaning.json");
    proptest!(config(CASES), |(d in damage())| {
        tried.hit();
        std::fs::write(&path, damaged(&seed, &d)).unwrap();
        match read_json::<ExperimentReport>(&path) {
            Err(e) => clean_error(&e, &[path.display().to_string()])?,
            Ok(report) => {
                tried.read_ok();
                // Still a report: the renderers must not panic on it either.
                let out = tempfile::tempdir().unwrap();
                if let Err(e) = write_all(&[report], out.path()) {
                    prop_assert!(!format!("{e:#}").trim().is_empty(), "empty error message");
                }
            }
        }
    });
}

#[test]
fn plan_folder_never_panics() {
    let tried = Tried::new("plan folder (cluster::read_plan)");
    let dir = tempfile::tempdir().unwrap();
    let (plan_bytes, cells_bytes) = plan_seed(dir.path());
    let (plan_path, cells_path) = (dir.path().join(PLAN_FILE), dir.path().join(CELLS_FILE));
    // 0: plan.json damaged, 1: cells.jsonl damaged, 2: both.
    proptest!(config(CASES), |(target in 0usize..3, d in damage(), line in any::<usize>())| {
        tried.hit();
        let plan = if target != 1 { damaged(&plan_bytes, &d) } else { plan_bytes.clone() };
        let cells = if target != 0 {
            damaged_lines(&cells_bytes, &d, line)
        } else {
            cells_bytes.clone()
        };
        std::fs::write(&plan_path, &plan).unwrap();
        std::fs::write(&cells_path, &cells).unwrap();
        let mut names = vec![dir.path().display().to_string()];
        if target != 1 {
            names.push(PLAN_FILE.into());
        }
        if target != 0 {
            names.push(CELLS_FILE.into());
        }
        match cluster::read_plan(dir.path()) {
            Err(e) => clean_error(&e, &names)?,
            Ok((plan, cells)) => {
                tried.read_ok();
                prop_assert_eq!(plan.version, cluster::PLAN_VERSION);
                prop_assert_eq!(plan.cells, cells.len());
            }
        }
    });
}

fn ufom_report(dir: &Path, home: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ufom"))
        .args(["report".as_ref(), dir.as_os_str()])
        .env_remove("UFOM_DATA_DIR")
        .env("HF_HOME", home)
        .env("HF_HUB_CACHE", home.join("hub"))
        .env("UFOM_CACHE_DIR", home.join("cache"))
        .output()
        .expect("run ufom")
}

#[test]
fn ufom_report_on_a_damaged_report_exits_cleanly() {
    let tried = Tried::new("`ufom report DIR` on a damaged report (binary)");
    let seed = report_seed();
    let home = tempfile::tempdir().unwrap();
    // Control: the undamaged seed renders.
    {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("hypercleaning.json"), &seed).unwrap();
        let out = ufom_report(dir.path(), home.path());
        assert_eq!(
            out.status.code(),
            Some(0),
            "the seed report does not render: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    proptest!(config(BINARY_CASES), |(d in damage())| {
        tried.hit();
        let dir = tempfile::tempdir().unwrap();
        let path: PathBuf = dir.path().join("hypercleaning.json");
        std::fs::write(&path, damaged(&seed, &d)).unwrap();
        let out = ufom_report(dir.path(), home.path());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let code = out.status.code();
        prop_assert!(code.is_some(), "killed by a signal ({:?}); stderr:\n{stderr}", out.status);
        let code = code.unwrap_or_default();
        prop_assert!(
            matches!(code, 0..=2) && !stderr.contains("panicked"),
            "exit code {code} (101 = panic); stderr:\n{stderr}"
        );
        let name = path.display().to_string();
        if code == 0 {
            tried.read_ok();
        } else {
            prop_assert!(
                stderr.lines().any(|l| l.contains(&name)),
                "exit code {code} but no stderr line names {name}:\n{stderr}"
            );
        }
    });
}
