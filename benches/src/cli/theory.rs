//! `ufom counterexample` and `ufom qstar`: the paper's closed forms.

use super::{ensure_finite, non_negative, positive, print_json};
use anyhow::Result;
use clap::Args;
use hypergrad::problems::CounterexampleConfig;
use hypergrad::theory::{qstar as solve_qstar, CostModel};
use serde_json::json;

/// Arguments of `ufom counterexample`.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct CounterexampleArgs {
    /// Bias level D of Theorem 2.
    #[arg(long, value_parser = positive)]
    d: f64,
    /// Inner steps r.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    r: u64,
    /// Inner step size α.
    #[arg(long, default_value_t = 0.1, value_parser = positive)]
    alpha: f64,
    /// Curvature a1 of task 1.
    #[arg(long, default_value_t = 0.5, value_parser = positive)]
    a1: f64,
    /// Curvature a2 of task 2.
    #[arg(long, default_value_t = 1.5, value_parser = positive)]
    a2: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Prints b2 (eq. 37) and A (eq. 38) for the settings.
pub fn counterexample(a: &CounterexampleArgs) -> Result<()> {
    let cfg = CounterexampleConfig {
        d: a.d,
        r: a.r as usize,
        alpha: a.alpha,
        a1: a.a1,
        a2: a.a2,
    };
    let (b2, cap_a) = (cfg.b2()?, cfg.cap_a()?);
    ensure_finite(
        "b2",
        &[b2, cap_a],
        "D is too large for these r, alpha, a1, a2",
    )?;
    if a.json {
        return print_json(&json!({
            "d": a.d, "r": a.r, "alpha": a.alpha, "a1": a.a1, "a2": a.a2,
            "b1": 0.0, "b2": b2, "A": cap_a,
        }));
    }
    let c = hypergrad::params::compact;
    println!(
        "counterexample (D = {}, r = {}, alpha = {}, a1 = {}, a2 = {})",
        c(a.d),
        a.r,
        c(a.alpha),
        c(a.a1),
        c(a.a2)
    );
    println!("b1 = 0");
    println!("b2 = {b2:.6}");
    println!("A  = {cap_a:.6}");
    Ok(())
}

/// Arguments of `ufom qstar`.
#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct QstarArgs {
    /// D² (eq. 14).
    #[arg(long, value_parser = non_negative)]
    d2: f64,
    /// V² (eq. 16).
    #[arg(long, value_parser = non_negative)]
    v2: f64,
    /// Inner steps r.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    r: u64,
    /// Time of one gradient, C1.
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    c1: f64,
    /// Time of one HVP, C2.
    #[arg(long, default_value_t = 1.0, value_parser = positive)]
    c2: f64,
    /// ε ∈ [0, 0.5) of the rate.
    #[arg(long, default_value_t = 0.0, value_parser = non_negative)]
    eps: f64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Prints q* and whether eq. 20 holds.
pub fn qstar(a: &QstarArgs) -> Result<()> {
    let cost = CostModel {
        c1: a.c1,
        c2: a.c2,
        eps: a.eps,
    };
    let s = solve_qstar(a.d2, a.v2, a.r as usize, &cost)?;
    ensure_finite(
        "q*",
        &[s.q],
        "eq. 21 is undefined for these D², V², r (e.g. D² = V² = 0, or values beyond f64)",
    )?;
    if a.json {
        return print_json(&json!({
            "d2": a.d2, "v2": a.v2, "r": a.r, "c1": a.c1, "c2": a.c2, "eps": a.eps,
            "condition_holds": s.condition_holds, "qstar": s.q,
        }));
    }
    println!("eq. 20 (UFOM beats exact) holds: {}", s.condition_holds);
    println!("q* = {:.6}", s.q);
    Ok(())
}
