//! What `synthetic`'s `analyse` computes from the method reports for Fig. 1a–c: the task
//! losses and M^(r)(θ), |∂M/∂θ| along training, the endpoint table, the Theorem 1 / 2 notes and
//! claims. Pure functions of the reports and the problem: no I/O, no training.

use super::methods;
use crate::harness::claims::{check_all, Against, Better, Claim};
use crate::harness::experiments::cell::mean_curve;
use crate::harness::experiments::Findings;
use crate::harness::methods::METHOD_NAMES_NOTE;
use crate::harness::record::{Figure, MethodReport, Metric, Series, Stat, Table, TableRow};
use anyhow::Result;
use hypergrad::problems::{Counterexample, CounterexampleConfig};
use hypergrad::EstimatorSpec;
use std::collections::BTreeMap;

/// Fig. 1a–c's figures and table, the notes and the claims of a finished run.
pub(super) fn findings(cfg: &CounterexampleConfig, methods: &[MethodReport]) -> Result<Findings> {
    let mut f = Findings::default();
    let sqrt_d = cfg.d.sqrt();
    let p = Counterexample::from_config(cfg)?;
    // 1a: the two task losses; 1b: M^(r)(θ).
    let xs: Vec<f64> = (0..=400).map(|k| -30.0 + 70.0 * k as f64 / 400.0).collect();
    let line = |label: &str, g: &dyn Fn(f64) -> f64| Series {
        label: label.into(),
        x: xs.clone(),
        y: xs.iter().map(|&x| g(x)).collect(),
        y_err: None,
    };
    f.figures.push(Figure::lines(
        "fig1a",
        "Fig. 1a: task losses f_i",
        "φ",
        "f_i(φ)",
        vec![line("f_1", &|x| p.f(0, x)), line("f_2", &|x| p.f(1, x))],
    ));
    f.figures.push(Figure::lines(
        "fig1b",
        "Fig. 1b: ABLO objective M^(r)(θ), r = 10",
        "θ",
        "M(θ)",
        vec![line("M", &|x| p.objective(x))],
    ));
    // 1c: |∂M/∂θ| along training, mean ± std over seeds.
    let curves = methods
        .iter()
        .map(|m| mean_curve(&m.method, &m.runs, Metric::AbsGrad))
        .collect();
    f.figures.push(
        Figure::lines(
            "fig1c",
            "Fig. 1c: |∂M/∂θ| during outer SGD (mean ± std over seeds)",
            "function calls",
            "|∂M/∂θ|",
            curves,
        )
        .log_y(true),
    );
    let columns = [Metric::AbsGrad, Metric::Objective, Metric::Theta];
    let mut rows = Vec::new();
    for m in methods {
        rows.push(TableRow {
            label: m.method.clone(),
            ours: m.cells_of(&columns),
            published: BTreeMap::new(),
        });
    }
    f.tables.push(Table {
        caption: format!("Fig. 1a–c endpoint after the matched budget (√D = {sqrt_d:.4}); the paper reports these curves only as a figure"),
        columns: columns.iter().map(|m| m.name().into()).collect(),
        headers: vec!["final |∂M/∂θ|".into(), "final M(θ)".into(), "final θ".into()],
        rows,
    });
    f.notes.extend(theorem_notes(methods, sqrt_d));
    f.claims = check_all(&claims(sqrt_d), methods);
    f.notes.push(METHOD_NAMES_NOTE.to_string());
    Ok(f)
}

/// Theorems 1–2 on the counterexample as claims over seeds.
fn claims(sqrt_d: f64) -> Vec<Claim> {
    let [fom, ufom, exact] = [&methods()[0], &methods()[1], &methods()[2]].map(|m| m.clone());
    vec![
        Claim {
            statement: "FOM stalls: its final |∂M/∂θ| stays above √D".into(),
            source: "Theorem 2, Fig. 1c".into(),
            metric: Metric::AbsGrad,
            subject: fom.clone(),
            against: Against::Value(sqrt_d, "√D".into()),
            better: Better::Higher,
        },
        Claim::versus(
            "UFOM (q = 0.1) ends nearer a stationary point than FOM (smaller final |∂M/∂θ|) at a matched call budget",
            "Theorem 1, Fig. 1c",
            Metric::AbsGrad,
            &ufom,
            &fom,
            Better::Lower,
        ),
        Claim::versus(
            "exact ends nearer a stationary point than FOM at a matched call budget",
            "Fig. 1c",
            Metric::AbsGrad,
            &exact,
            &fom,
            Better::Lower,
        ),
    ]
}

/// The Theorem 1 / 2 verdicts in words.
fn theorem_notes(methods: &[MethodReport], sqrt_d: f64) -> Vec<String> {
    let mut notes = Vec::new();
    for m in methods {
        let finals: Vec<f64> = m
            .runs
            .iter()
            .filter_map(|r| r.final_metrics.get(&Metric::AbsGrad).copied())
            .collect();
        let Some(s) = Stat::of(&finals) else { continue };
        let above = finals.iter().filter(|&&g| g > sqrt_d).count();
        notes.push(format!(
            "{}: final |∂M/∂θ| = {:.4} ± {:.4} over {} seeds; {above}/{} runs end above √D = {sqrt_d:.4}{}",
            m.method, s.mean, s.std, s.n, finals.len(),
            match m.spec.estimator_spec() {
                Some(EstimatorSpec::Fom) if above == finals.len() => " — FOM stalls away from stationarity, as Theorem 2 predicts",
                Some(EstimatorSpec::Fom) => " — NOT every FOM run stalls above √D (Theorem 2 is about the liminf of the expectation)",
                _ if above == 0 => " — converging towards a stationary point (Theorem 1)",
                _ => "",
            }
        ));
    }
    notes
}
