//! The twin's process (one long-lived `python jax_twin.py` answering JSON lines) and the
//! safetensors files through which it reads ufom's inputs and returns its values.

use super::TwinValues;
use crate::harness::perf::engine::TwinVersions;
use crate::harness::perf::oracle_timing::Timing;
use anyhow::{bail, Context, Result};
use candle_core::{Device, Tensor};
use hypergrad::ParamList;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

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
