//! The JAX twin of the reference cases (`benches/reference/jax_twin.py`) against ufom's oracles,
//! for `just perf-jax` (`benches/benches/perf_jax.rs`).
//!
//! Measured, never copied: per case, the driver writes ufom's own inputs (θ, φ, the task's
//! data and v = ufom's gradient) to a safetensors file, the twin computes the gradient and the
//! HVP pair on them and writes its values back, and [`compare_case`] checks them against every
//! oracle implementation of the case ([`ReferenceCase::oracles`]) before timing anything: an
//! implementation the twin disagrees with by more than [`TOLERANCE`] gets no ratio. Then ufom's
//! rounds and the twin's alternate (ufom, JAX, ufom, JAX, ...), so that drift of the machine
//! affects both; each side reports the median of its rounds' medians. [`merge`] writes the
//! figures into the `engine` section of `reports/perf.json`, and without a twin removes them:
//! a JAX column is never filled from elsewhere.

use super::cases::{conv_case, mnist_mlp, BoundOracles, ReferenceCase};
use super::engine::{EngineReport, JaxRun, TwinVersions};
use super::oracle_timing::{median_ms, Timing};
use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use hypergrad::ParamList;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The largest relative difference (‖twin − ufom‖ / ‖ufom‖, per output) for which a ratio is
/// reported: f32 rounding, not a different computation.
pub const TOLERANCE: f64 = 1e-4;

/// The twin, relative to the workspace root.
pub const TWIN_SCRIPT: &str = "benches/reference/jax_twin.py";

/// The result of one (case, oracles) against the twin.
#[derive(Clone, Debug, PartialEq)]
pub struct CaseComparison {
    /// Reference case.
    pub case: String,
    /// ufom's oracle implementation.
    pub oracles: String,
    /// Largest relative difference over the gradient and the two HVP parts (absent when the
    /// twin computed nothing).
    pub rel_error: Option<f64>,
    /// ufom's medians over its rounds.
    pub ufom: Option<Timing>,
    /// The twin's medians over its rounds.
    pub jax: Option<Timing>,
    /// Why no ratio (disagreement, an error of either side).
    pub refused: Option<String>,
}

/// The twin's values on a case's inputs.
#[derive(Clone, Debug)]
pub struct TwinValues {
    /// ∂L_in/∂φ.
    pub gradient: ParamList,
    /// (∂²L_in/∂θ∂φ)ᵀv.
    pub hvp_theta: ParamList,
    /// ∇²_φ L_in v.
    pub hvp_phi: ParamList,
}

/// The twin's model for a reference case (`mlp` or `conv`).
pub fn model(case: ReferenceCase) -> &'static str {
    match case {
        ReferenceCase::Mlp { .. } => "mlp",
        ReferenceCase::Conv { .. } => "conv",
    }
}

/// The data L_in sees in `case` (inputs, one-hot targets): the MLP's training set, the conv
/// net's support set (NCHW images).
pub fn case_data(case: ReferenceCase, device: &Device) -> Result<(Tensor, Tensor)> {
    Ok(match case {
        ReferenceCase::Mlp { n_train } => {
            let p = mnist_mlp(n_train, 1, device)?;
            (p.data().train_x.clone(), p.data().train_y.clone())
        }
        ReferenceCase::Conv { filters } => {
            let (_, _, task) = conv_case(filters, device)?;
            (task.support_x, task.support_y)
        }
    })
}

/// A running twin: one Python process answering one JSON line per command.
pub struct Twin {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// What it runs on.
    pub versions: TwinVersions,
}

impl Twin {
    /// Starts `python script` (the twin's errors, e.g. a failed `import jax`, go to stderr) and
    /// waits until it is ready.
    pub fn spawn(python: &Path, script: &Path) -> Result<Self> {
        if !script.is_file() {
            bail!("no twin at {}", script.display());
        }
        let mut child = Command::new(python)
            .arg(script)
            .env("JAX_PLATFORMS", "cpu")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", python.display()))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("no pipes to the twin");
        };
        let mut twin = Self {
            child,
            stdin,
            stdout: BufReader::new(stdout),
            versions: TwinVersions {
                jax: String::new(),
                jaxlib: String::new(),
                numpy: String::new(),
                python: String::new(),
                devices: vec![],
                x64: false,
            },
        };
        let ready = twin
            .read_line()
            .context("the twin did not start (is jax installed in that Python?)")?;
        twin.versions = serde_json::from_value(ready.clone())
            .with_context(|| format!("the twin's first line: {ready}"))?;
        Ok(twin)
    }

    fn read_line(&mut self) -> Result<serde_json::Value> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the twin exited (its error is above)");
        }
        serde_json::from_str(&line).with_context(|| format!("the twin said: {line}"))
    }

    fn ask(&mut self, cmd: serde_json::Value) -> Result<serde_json::Value> {
        writeln!(self.stdin, "{cmd}")?;
        self.stdin.flush()?;
        let answer = self.read_line()?;
        if answer["ok"] != serde_json::Value::Bool(true) {
            bail!("the twin failed: {}", answer["error"]);
        }
        Ok(answer)
    }

    /// Loads a case's inputs, compiles, and writes the twin's values to `outputs`; returns
    /// the seconds compiling and the first calls took.
    pub fn load(&mut self, model: &str, inputs: &Path, outputs: &Path) -> Result<f64> {
        let answer = self.ask(serde_json::json!({
            "cmd": "load", "model": model, "inputs": inputs, "outputs": outputs,
        }))?;
        answer["compile_s"]
            .as_f64()
            .context("the twin's load answer has no compile_s")
    }

    /// Medians of `reps` timed gradients and HVP pairs after `warm_up` untimed ones each.
    pub fn time(&mut self, reps: usize, warm_up: usize) -> Result<Timing> {
        let answer = self.ask(serde_json::json!({
            "cmd": "time", "reps": reps, "warm_up": warm_up,
        }))?;
        Ok(serde_json::from_value(answer)?)
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "{}", serde_json::json!({"cmd": "quit"}));
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

fn named(out: &mut HashMap<String, Tensor>, prefix: &str, p: &ParamList) {
    for (i, t) in p.tensors().iter().enumerate() {
        out.insert(format!("{prefix}.{i}"), t.detach());
    }
}

/// Writes the twin's inputs: `theta.i`, `phi.i`, `v.i`, `x`, `y`.
pub fn write_inputs(
    path: &Path,
    (theta, phi, v): (&ParamList, &ParamList, &ParamList),
    x: &Tensor,
    y: &Tensor,
) -> Result<()> {
    let mut out = HashMap::new();
    named(&mut out, "theta", theta);
    named(&mut out, "phi", phi);
    named(&mut out, "v", v);
    out.insert("x".into(), x.clone());
    out.insert("y".into(), y.clone());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    candle_core::safetensors::save(&out, path)
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads the twin's values (`gradient.i`, `hvp_theta.i`, `hvp_phi.i`).
pub fn read_values(path: &Path) -> Result<TwinValues> {
    let mut t = candle_core::safetensors::load(path, &Device::Cpu)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut list = |prefix: &str| -> Result<ParamList> {
        let mut v = Vec::new();
        while let Some(x) = t.remove(&format!("{prefix}.{}", v.len())) {
            v.push(x);
        }
        if v.is_empty() {
            bail!("no {prefix}.0 in {}", path.display());
        }
        Ok(ParamList::new(v)?)
    };
    Ok(TwinValues {
        gradient: list("gradient")?,
        hvp_theta: list("hvp_theta")?,
        hvp_phi: list("hvp_phi")?,
    })
}

/// ‖a − b‖ / ‖b‖ over all tensors (0 when both are zero, ∞ when only `b` is); the shapes must
/// match.
pub fn relative_error(a: &ParamList, b: &ParamList) -> Result<f64> {
    let (ta, tb) = (a.tensors(), b.tensors());
    if ta.len() != tb.len() {
        bail!("{} tensors against {}", ta.len(), tb.len());
    }
    let (mut diff, mut norm) = (0f64, 0f64);
    for (x, y) in ta.iter().zip(tb) {
        if x.dims() != y.dims() {
            bail!("shape {:?} against {:?}", x.dims(), y.dims());
        }
        let x = x.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        let y = y.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?;
        for (p, q) in x.iter().zip(&y) {
            diff += (p - q) * (p - q);
            norm += q * q;
        }
    }
    Ok(if diff == 0.0 {
        0.0
    } else if norm == 0.0 {
        f64::INFINITY
    } else {
        (diff / norm).sqrt()
    })
}

/// Rounds and calls of [`compare_case`].
#[derive(Clone, Copy, Debug)]
pub struct Rounds {
    /// ufom rounds and JAX rounds, alternated.
    pub rounds: usize,
    /// Timed calls per round.
    pub reps: usize,
    /// Untimed calls before each round's timed ones.
    pub warm_up: usize,
}

/// The twin against each of `oracles` (name, oracles bound to the case's point) on one case:
/// values first, then alternated timing rounds for the implementations it agrees with. The
/// twin computes on the first implementation's point with v = its gradient, in `dir`. Never
/// fails: an error refuses the case (and names the error).
#[allow(clippy::too_many_arguments)]
pub fn compare_case(
    twin: &mut Twin,
    case: &str,
    model: &str,
    oracles: &[(String, Box<dyn BoundOracles>)],
    (x, y): (&Tensor, &Tensor),
    dir: &Path,
    r: Rounds,
) -> Vec<CaseComparison> {
    let refuse_all = |why: String| {
        oracles
            .iter()
            .map(|(name, _)| CaseComparison {
                case: case.into(),
                oracles: name.clone(),
                rel_error: None,
                ufom: None,
                jax: None,
                refused: Some(why.clone()),
            })
            .collect()
    };
    let values = (|| -> Result<(ParamList, TwinValues)> {
        let Some((_, first)) = oracles.first() else {
            bail!("no oracles");
        };
        let v = first.gradient()?;
        let (inputs, outputs) = (twin_path(dir, case, "in"), twin_path(dir, case, "out"));
        write_inputs(&inputs, (first.theta(), first.phi(), &v), x, y)?;
        let _ = std::fs::remove_file(&outputs);
        twin.load(model, &inputs, &outputs)?;
        Ok((v, read_values(&outputs)?))
    })();
    let (v, twin_values) = match values {
        Ok(x) => x,
        Err(e) => return refuse_all(format!("the twin computed nothing: {e:#}")),
    };
    let mut out: Vec<CaseComparison> = oracles
        .iter()
        .map(|(name, o)| {
            let rel = (|| -> Result<f64> {
                let g = o.gradient()?;
                let (ht, hp) = o.hvp(&v)?;
                Ok(relative_error(&twin_values.gradient, &g)?
                    .max(relative_error(&twin_values.hvp_theta, &ht)?)
                    .max(relative_error(&twin_values.hvp_phi, &hp)?))
            })();
            let (rel_error, refused) = match rel {
                Ok(e) if e <= TOLERANCE => (Some(e), None),
                Ok(e) => (
                    Some(e),
                    Some(format!(
                        "the twin disagrees: relative error {e:.2e} > {TOLERANCE:.0e}"
                    )),
                ),
                Err(e) => (None, Some(format!("comparing values: {e:#}"))),
            };
            CaseComparison {
                case: case.into(),
                oracles: name.clone(),
                rel_error,
                ufom: None,
                jax: None,
                refused,
            }
        })
        .collect();
    if out.iter().all(|c| c.refused.is_some()) {
        return out;
    }
    let timed = (|| -> Result<(Vec<Vec<Timing>>, Vec<Timing>)> {
        let mut ufom = vec![Vec::new(); oracles.len()];
        let mut jax = Vec::new();
        for _ in 0..r.rounds {
            for ((_, o), (rounds, c)) in oracles.iter().zip(ufom.iter_mut().zip(&out)) {
                if c.refused.is_none() {
                    let cpu = &Device::Cpu;
                    rounds.push(Timing {
                        gradient_ms: median_ms(cpu, r.warm_up, r.reps, || o.gradient())?,
                        hvp_ms: median_ms(cpu, r.warm_up, r.reps, || o.hvp(&v))?,
                    });
                }
            }
            jax.push(twin.time(r.reps, r.warm_up)?);
        }
        Ok((ufom, jax))
    })();
    match timed {
        Ok((ufom, jax)) => {
            for (c, rounds) in out.iter_mut().zip(&ufom) {
                if c.refused.is_none() {
                    c.ufom = median_timing(rounds);
                    c.jax = median_timing(&jax);
                }
            }
        }
        Err(e) => {
            for c in out.iter_mut().filter(|c| c.refused.is_none()) {
                c.refused = Some(format!("timing failed: {e:#}"));
            }
        }
    }
    out
}

fn twin_path(dir: &Path, case: &str, what: &str) -> PathBuf {
    dir.join(format!("{case}.{what}.safetensors"))
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(xs[n / 2]),
        _ => Some(0.5 * (xs[n / 2 - 1] + xs[n / 2])),
    }
}

/// Medians of the rounds' gradient and HVP figures.
fn median_timing(rounds: &[Timing]) -> Option<Timing> {
    Some(Timing {
        gradient_ms: median(rounds.iter().map(|t| t.gradient_ms).collect())?,
        hvp_ms: median(rounds.iter().map(|t| t.hvp_ms).collect())?,
    })
}

/// Writes the comparison into the `engine` section: first removes every JAX figure, then, with
/// a run, fills each (case, oracles) that the twin agreed with and that was timed, and lists
/// the others in `jax.refused`. `merge(engine, None)` leaves no JAX field.
pub fn merge(engine: &mut EngineReport, run: Option<(JaxRun, &[CaseComparison])>) {
    engine.jax = None;
    for row in &mut engine.cases {
        row.clear_jax();
    }
    let Some((mut run, comparisons)) = run else {
        return;
    };
    for c in comparisons {
        let label = format!("{} {}", c.case, c.oracles);
        let Some(row) = engine
            .cases
            .iter_mut()
            .find(|r| r.case == c.case && r.oracles == c.oracles)
        else {
            run.refused.push(format!(
                "{label}: no such row in the engine section (run `just perf` first)"
            ));
            continue;
        };
        row.jax_rel_error = c.rel_error;
        match (&c.refused, &c.ufom, &c.jax) {
            (None, Some(u), Some(j)) => {
                row.jax_gradient_ms = Some(j.gradient_ms);
                row.jax_hvp_ms = Some(j.hvp_ms);
                row.paired_gradient_ms = Some(u.gradient_ms);
                row.paired_hvp_ms = Some(u.hvp_ms);
                row.gradient_over_jax = Some(u.gradient_ms / j.gradient_ms);
                row.hvp_over_jax = Some(u.hvp_ms / j.hvp_ms);
            }
            (Some(why), _, _) => run.refused.push(format!("{label}: {why}")),
            _ => run.refused.push(format!("{label}: not timed")),
        }
    }
    engine.jax = Some(run);
}

/// The JAX rows of the `engine` section as a Markdown table.
pub fn table(engine: &EngineReport) -> String {
    let f = |x: Option<f64>| x.map_or("—".to_string(), |x| format!("{x:.2}"));
    let mut s = String::from(
        "| case | oracles | gradient ufom (ms) | gradient JAX (ms) | ufom / JAX | \
         HVP ufom (ms) | HVP JAX (ms) | ufom / JAX | relative error |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &engine.cases {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.case,
            r.oracles,
            f(r.paired_gradient_ms),
            f(r.jax_gradient_ms),
            f(r.gradient_over_jax),
            f(r.paired_hvp_ms),
            f(r.jax_hvp_ms),
            f(r.hvp_over_jax),
            r.jax_rel_error
                .map_or("—".to_string(), |e| format!("{e:.1e}")),
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::perf::cases::{bind_oracles, synthetic_mlp, MlpShape};
    use crate::harness::perf::engine::EngineCase;
    use hypergrad::problems::{synthetic_source, ConvNet, Maml, MlpAnalytic, MlpTask};
    use hypergrad::Autodiff;
    use rand::SeedableRng;

    fn engine() -> EngineReport {
        let row = |case: &str, oracles: &str| EngineCase {
            case: case.into(),
            oracles: oracles.into(),
            gradient_ms: 2.0,
            hvp_ms: 4.0,
            hvp_over_gradient: 2.0,
            ..EngineCase::default()
        };
        EngineReport {
            process: Default::default(),
            matmul_gflops: 100.0,
            cases: vec![
                row("a", "autodiff"),
                row("a", "analytic"),
                row("b", "autodiff"),
            ],
            hypergradient_r10_ms: Default::default(),
            notes: vec![],
            jax: None,
        }
    }

    fn run() -> JaxRun {
        JaxRun {
            command: "test".into(),
            twin: TWIN_SCRIPT.into(),
            git_commit: None,
            versions: TwinVersions {
                jax: "0".into(),
                jaxlib: "0".into(),
                numpy: "0".into(),
                python: "3".into(),
                devices: vec!["cpu".into()],
                x64: false,
            },
            rounds: 1,
            reps: 1,
            warm_up: 0,
            tolerance: TOLERANCE,
            process: Default::default(),
            refused: vec![],
            notes: vec![],
        }
    }

    fn compared(case: &str, oracles: &str, rel: f64, refused: Option<&str>) -> CaseComparison {
        let t = |g, h| {
            Some(Timing {
                gradient_ms: g,
                hvp_ms: h,
            })
        };
        CaseComparison {
            case: case.into(),
            oracles: oracles.into(),
            rel_error: Some(rel),
            ufom: t(3.0, 6.0),
            jax: t(1.5, 2.0),
            refused: refused.map(String::from),
        }
    }

    const JAX_KEYS: [&str; 8] = [
        "jax_gradient_ms",
        "jax_hvp_ms",
        "paired_gradient_ms",
        "paired_hvp_ms",
        "gradient_over_jax",
        "hvp_over_jax",
        "jax_rel_error",
        "\"jax\"",
    ];

    #[test]
    fn without_a_twin_no_jax_field_is_written() {
        let mut e = engine();
        merge(
            &mut e,
            Some((run(), &[compared("a", "autodiff", 1e-6, None)])),
        );
        assert!(e.jax.is_some());
        merge(&mut e, None);
        let text = serde_json::to_string(&e).unwrap();
        for key in JAX_KEYS {
            assert!(!text.contains(key), "{key} in {text}");
        }
        // A section written before the JAX fields existed reads back unchanged.
        let back: EngineReport = serde_json::from_str(&text).unwrap();
        assert_eq!(back, e);
        assert_eq!(back, engine());
    }

    #[test]
    fn merge_fills_agreeing_rows_and_refuses_the_others() {
        let mut e = engine();
        let why = "the twin disagrees: relative error 1.00e-2 > 1e-4";
        let cs = [
            compared("a", "autodiff", 1e-6, None),
            compared("a", "analytic", 1e-2, Some(why)),
            compared("c", "autodiff", 1e-6, None),
        ];
        merge(&mut e, Some((run(), &cs)));
        let [a, an, b] = &e.cases[..] else { panic!() };
        assert_eq!(a.jax_gradient_ms, Some(1.5));
        assert_eq!(a.paired_hvp_ms, Some(6.0));
        assert_eq!(a.gradient_over_jax, Some(2.0));
        assert_eq!(a.hvp_over_jax, Some(3.0));
        assert_eq!(a.gradient_ms, 2.0, "criterion's figure is left alone");
        assert_eq!(an.jax_rel_error, Some(1e-2));
        assert_eq!((an.jax_gradient_ms, an.hvp_over_jax), (None, None));
        assert_eq!(b, &engine().cases[2]);
        let refused = &e.jax.as_ref().unwrap().refused;
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].contains("a analytic") && refused[0].contains(why));
        assert!(refused[1].contains("c autodiff"));
        // Round trip through JSON, the JAX fields included.
        let text = serde_json::to_string_pretty(&e).unwrap();
        assert_eq!(serde_json::from_str::<EngineReport>(&text).unwrap(), e);
    }

    #[test]
    fn relative_error_of_param_lists() -> Result<()> {
        let dev = &Device::Cpu;
        let p = |v: &[f32]| ParamList::new(vec![Tensor::new(v, dev).unwrap()]).unwrap();
        assert_eq!(relative_error(&p(&[1.0, 2.0]), &p(&[1.0, 2.0]))?, 0.0);
        assert_eq!(relative_error(&p(&[0.0]), &p(&[0.0]))?, 0.0);
        assert_eq!(relative_error(&p(&[1.0]), &p(&[0.0]))?, f64::INFINITY);
        let e = relative_error(&p(&[3.0, 4.0 + 5e-3]), &p(&[3.0, 4.0]))?;
        assert!((e - 1e-3).abs() < 1e-6, "{e}");
        assert!(relative_error(&p(&[1.0]), &p(&[1.0, 2.0])).is_err());
        Ok(())
    }

    /// The twin's Python, if this machine has one with jax (`just perf-jax` installs it): the
    /// twin is exercised where it exists, never required.
    fn twin() -> Option<Twin> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()?
            .to_path_buf();
        let python = std::env::var_os("UFOM_JAX_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target/jax-venv/bin/python"));
        if !python.exists() {
            eprintln!("no {}: the twin is not exercised", python.display());
            return None;
        }
        match Twin::spawn(&python, &root.join(TWIN_SCRIPT)) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("the twin is not exercised: {e:#}");
                None
            }
        }
    }

    fn check(c: &[CaseComparison], agree: &[bool]) {
        assert_eq!(c.len(), agree.len());
        for (c, &agree) in c.iter().zip(agree) {
            let rel = c.rel_error.unwrap();
            assert_eq!(c.refused.is_none(), agree, "{c:?}");
            if agree {
                assert!(rel <= TOLERANCE, "{c:?}");
                assert!(c.ufom.is_some() && c.jax.is_some(), "{c:?}");
            } else {
                assert!(rel > TOLERANCE && c.jax.is_none(), "{c:?}");
            }
        }
    }

    /// Small versions of both models against the twin: autodiff and analytic agree with it, and
    /// oracles at another point are refused.
    #[test]
    fn the_twin_agrees_on_small_cases_where_jax_is_installed() -> Result<()> {
        let Some(mut twin) = twin() else {
            return Ok(());
        };
        let dir = tempfile::tempdir()?;
        let once = Rounds {
            rounds: 1,
            reps: 1,
            warm_up: 0,
        };
        let shape = MlpShape {
            n_train: 16,
            n_val: 4,
            dim: 6,
            hidden: 5,
            classes: 3,
        };
        let p = synthetic_mlp(shape, 1, &Device::Cpu)?;
        let theta = ParamList::single(Tensor::randn(0f32, 1.0, 16, &Device::Cpu)?);
        let phi = p.phi0().clone();
        let (x, y) = (p.data().train_x.clone(), p.data().train_y.clone());
        let elsewhere = phi.scale(1.5)?;
        let oracles = vec![
            (
                "autodiff".to_string(),
                bind_oracles(
                    Autodiff::new(p.clone())?,
                    theta.clone(),
                    phi.clone(),
                    MlpTask::default(),
                ),
            ),
            (
                "analytic".to_string(),
                bind_oracles(
                    MlpAnalytic::new(p.clone())?,
                    theta.clone(),
                    phi,
                    MlpTask::default(),
                ),
            ),
            (
                "elsewhere".to_string(),
                bind_oracles(MlpAnalytic::new(p)?, theta, elsewhere, MlpTask::default()),
            ),
        ];
        let c = compare_case(
            &mut twin,
            "mlp_small",
            "mlp",
            &oracles,
            (&x, &y),
            dir.path(),
            once,
        );
        check(&c, &[true, true, false]);

        let net = ConvNet {
            channels: 1,
            filters: 2,
            layers: 2,
            classes: 3,
            in_hw: 8,
        };
        let source = synthetic_source(net.clone(), 1, 1, DType::F32, Device::Cpu);
        let task = source(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3))?;
        let theta = net.init(0, DType::F32, &Device::Cpu)?;
        let (x, y) = (task.support_x.clone(), task.support_y.clone());
        let o = Autodiff::new(Maml::new(net, 1, 0.1)?.with_source(source))?;
        let oracles = vec![(
            "autodiff".to_string(),
            bind_oracles(o, theta.clone(), theta, task),
        )];
        let c = compare_case(
            &mut twin,
            "conv_small",
            "conv",
            &oracles,
            (&x, &y),
            dir.path(),
            once,
        );
        check(&c, &[true]);
        Ok(())
    }
}
