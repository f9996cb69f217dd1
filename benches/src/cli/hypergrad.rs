//! `ufom hypergrad`: one hypergradient of M^(r) at θ, with the calls it cost.

use super::{ensure_finite, print_json, probability, UsageError};
use anyhow::Result;
use candle_core::{DType, Device};
use clap::{Args, ValueEnum};
use hypergrad::problems::{
    Counterexample, CounterexampleConfig, MlpConfig, MlpData, MlpHypercleaning, Quadratic,
    QuadraticConfig,
};
use hypergrad::{
    Autodiff, Calls, Counted, EstimatorSpec, Oracles as _, ParamList, TaskDistribution,
};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

/// Built-in problems.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProblemArg {
    /// Theorem-2 counterexample (Fig. 1a–c settings), averaged over its two tasks.
    Counterexample,
    /// Quadratic family with a closed-form gradient (s = 3, p = 4, r = 5), one sampled task.
    Quadratic,
    /// Hypercleaning-shaped MLP on synthetic data (24 examples, r = 5, folded last step).
    Mlp,
}

/// Arguments of `ufom hypergrad`.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct HypergradArgs {
    /// The problem.
    #[arg(long, value_enum)]
    problem: ProblemArg,
    /// θ: one value (repeated over every coordinate) or one value per coordinate, comma-separated.
    #[arg(
        long,
        allow_hyphen_values = true,
        value_delimiter = ',',
        required = true
    )]
    theta: Vec<f64>,
    // The help lists the estimator catalog (hypergrad::estimators::catalog).
    #[arg(long, value_name = "NAME", help = hypergrad::estimators::catalog::cli_help())]
    estimator: String,
    /// Probability of the exact branch for `ufom`, in (0, 1].
    #[arg(long, value_parser = probability)]
    q: Option<f64>,
    /// Another setting of the estimator, e.g. `--param k=5` for `truncated` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = param)]
    params: Vec<(String, serde_json::Value)>,
    /// Seed of every random draw (ξ, sampled tasks).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(a: &HypergradArgs) -> Result<()> {
    let mut params = a.params.clone();
    if let Some(q) = a.q {
        if let Some((_, v)) = params.iter().find(|(k, _)| k == "q") {
            return Err(
                UsageError(format!("--q {q} and --param q={v} both set q; give one")).into(),
            );
        }
        params.push(("q".into(), q.into()));
    }
    let spec = EstimatorSpec::parse_with(&a.estimator, params)?;
    let device = Device::Cpu;
    match a.problem {
        ProblemArg::Counterexample => {
            let p = Counterexample::from_config(&CounterexampleConfig::default())?;
            let like = p.theta(0.0)?;
            evaluate(a, "counterexample", p, &like, &spec)
        }
        ProblemArg::Quadratic => {
            let p = Quadratic::new(QuadraticConfig::default(), DType::F64, device)?;
            let like = p.theta(&vec![0.0; p.config().s])?;
            evaluate(a, "quadratic", p, &like, &spec)
        }
        ProblemArg::Mlp => {
            let (data, _) = MlpData::synthetic(24, 16, 5, 3, 0.5, 0, DType::F64, &device)?;
            let p = MlpHypercleaning::new(data, MlpConfig::default())?;
            let like = p.theta_zero()?;
            evaluate(a, "mlp", p, &like, &spec)
        }
    }
}

/// `KEY=VALUE` (clap value parser): the value as a JSON number or boolean, else a string.
fn param(s: &str) -> Result<(String, serde_json::Value), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}` is not KEY=VALUE"))?;
    if k.is_empty() {
        return Err(format!("`{s}` has no key"));
    }
    let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.into()));
    Ok((k.to_string(), value))
}

/// θ shaped like the problem's: `values` broadcast from one value or taken one per coordinate.
fn theta_like(like: &ParamList, values: &[f64]) -> Result<ParamList> {
    let n = like.numel();
    let v = match values.len() {
        1 => vec![values[0]; n],
        k if k == n => values.to_vec(),
        k => {
            return Err(UsageError(format!(
                "--theta has {k} values; this problem's θ has {n} (give 1 or {n})"
            ))
            .into())
        }
    };
    if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
        return Err(UsageError(format!("--theta value {bad} is not finite")).into());
    }
    Ok(like.with_values(&v)?)
}

/// Evaluates the estimator at θ (shaped like `like`) over the problem's tasks (all of them
/// when Ω_T is finite, weighted by probability; else one task drawn from the seed).
fn evaluate<P>(
    a: &HypergradArgs,
    name: &str,
    problem: P,
    like: &ParamList,
    spec: &EstimatorSpec,
) -> Result<()>
where
    P: TaskDistribution + 'static,
{
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let tasks = match problem.enumerate_tasks() {
        Some(t) => t,
        None => vec![(1.0, problem.sample_task(&mut rng)?)],
    };
    let theta = theta_like(like, &a.theta)?;
    let oracles = Counted::new(Autodiff::new(problem)?);
    let r = oracles.step_sizes().len();
    if let EstimatorSpec::Truncated { k } = spec {
        if *k > r {
            return Err(UsageError(format!(
                "--param k={k} exceeds {name}'s r = {r} inner steps (k = r is full back-propagation)"
            ))
            .into());
        }
    }
    let mut estimator = spec.build_with_reference::<Autodiff<P>>()?;
    let mut grad: Option<ParamList> = None;
    let (mut calls, mut drawn, mut peak_bytes) = (Calls::default(), Vec::new(), 0);
    for (w, task) in &tasks {
        let e = estimator.estimate(&oracles, &theta, task, &mut rng)?;
        let g = e.grad.scale(*w)?;
        grad = Some(match grad {
            None => g,
            Some(acc) => acc.add(&g)?,
        });
        calls += e.calls;
        drawn.extend(e.exact_drawn());
        peak_bytes = peak_bytes.max(e.peak_state_bytes);
    }
    let grad = grad.map(|g| g.to_vec()).transpose()?.unwrap_or_default();
    ensure_finite(
        "the hypergradient",
        &grad,
        "the losses overflow at this theta; try a theta of smaller magnitude",
    )?;
    if a.json {
        return print_json(&json!({
            "problem": name,
            "estimator": estimator.name(),
            "theta": theta.to_vec()?,
            "seed": a.seed,
            "tasks": tasks.len(),
            "grad": grad,
            "calls": {"grad": calls.grad, "hvp": calls.hvp},
            "exact_drawn": drawn,
            "peak_state_bytes": peak_bytes,
        }));
    }
    println!(
        "problem:   {name} ({} task{} averaged)",
        tasks.len(),
        if tasks.len() == 1 { "" } else { "s" }
    );
    println!("estimator: {}", estimator.name());
    println!("grad:      {grad:?}");
    println!("calls:     {} gradient, {} HVP", calls.grad, calls.hvp);
    if !drawn.is_empty() {
        println!("exact branch drawn: {drawn:?}");
    }
    println!("peak inner-state memory (with kept gradient graphs): {peak_bytes} bytes");
    Ok(())
}
