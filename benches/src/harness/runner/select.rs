//! Selecting what runs: every experiment's plan after `--methods` and `--seeds`, with names
//! checked ([`plan`]), and the time its unfinished cells should take ([`Planned`]).

use super::{previous_report, BenchOptions, UnknownName};
use crate::harness::experiments::{registry, Availability, Plan};
use crate::harness::methods::MethodSpec;
use crate::harness::record::ExperimentId;
use crate::harness::record::{Scale, Stat};
use crate::harness::store::CellStore;
use anyhow::{Context as _, Result};
use std::path::Path;

/// One selected experiment with its (filtered) plan.
pub struct Planned {
    /// Which experiment.
    pub id: ExperimentId,
    /// Its registry name.
    pub name: &'static str,
    /// The plan after `--methods` and `--seeds`.
    pub plan: Plan,
    /// Why it cannot run here, if it cannot.
    pub missing: Option<String>,
}

impl Planned {
    /// Cells: methods × seeds.
    pub fn cells(&self) -> usize {
        self.plan.methods.len() * self.plan.seeds.len()
    }

    /// The (method, seed) runs a resume would still train: those `store` lacks (computed by
    /// its code on its data); every run without a store.
    pub fn unfinished(&self, store: Option<&CellStore>) -> Vec<(&MethodSpec, u64)> {
        self.plan
            .methods
            .iter()
            .flat_map(|m| self.plan.seeds.iter().map(move |&s| (m, s)))
            .filter(|(m, s)| store.is_none_or(|st| st.load(m, *s).is_none()))
            .collect()
    }

    /// Estimated training seconds for the runs not finished in `store` (all without one), from
    /// the seconds per call measured by the last run of this experiment at this scale in `out`
    /// (its report): each method's own rate, or the report's mean rate for a method it lacks.
    /// `None` without such a report.
    pub fn estimate_seconds(
        &self,
        out: &Path,
        scale: Scale,
        store: Option<&CellStore>,
    ) -> Option<f64> {
        let old = previous_report(out, self.name, scale)?;
        let rates: Vec<f64> = old.methods.iter().map(|m| m.seconds_per_call).collect();
        let mean = Stat::of(&rates)?.mean;
        let seconds = self
            .unfinished(store)
            .into_iter()
            .map(|(m, _)| {
                let rate = old
                    .methods
                    .iter()
                    .find(|r| r.method == m.label)
                    .map_or(mean, |r| r.seconds_per_call);
                self.plan.budget.calls as f64 * rate
            })
            .sum();
        Some(seconds)
    }
}

/// The selected experiments with their plans after `--methods` and `--seeds`; errors on a
/// method name that matches no method of the selected experiments.
pub fn plan(opts: &BenchOptions) -> Result<Vec<Planned>> {
    let all = registry();
    let explicit = !opts.experiments.is_empty();
    let mut planned = Vec::new();
    for exp in all
        .into_iter()
        .filter(|e| !explicit || opts.experiments.contains(&e.id()))
    {
        let mut plan = exp
            .plan(&opts.ctx)
            .with_context(|| format!("planning {}", exp.name()))?;
        if let Some(n) = opts.seeds {
            plan.seeds = (0..n).collect();
        }
        let missing = match exp.availability(&opts.ctx) {
            Availability::Ready => None,
            Availability::Missing(why) => Some(why),
        };
        planned.push(Planned {
            id: exp.id(),
            name: exp.name(),
            plan,
            missing,
        });
    }
    for n in &opts.methods {
        if !planned
            .iter()
            .any(|p| p.plan.methods.iter().any(|m| m.matches(n)))
        {
            let labels = planned
                .iter()
                .flat_map(|p| p.plan.methods.iter().map(|m| m.label.clone()));
            return Err(unknown("method", n, labels));
        }
    }
    if !opts.methods.is_empty() {
        for p in &mut planned {
            p.plan
                .methods
                .retain(|m| opts.methods.iter().any(|n| m.matches(n)));
        }
    }
    Ok(planned)
}

fn unknown(
    what: &'static str,
    name: &str,
    available: impl Iterator<Item = String>,
) -> anyhow::Error {
    let mut list: Vec<String> = available.collect();
    list.dedup();
    UnknownName {
        what,
        name: name.to_string(),
        available: list.join(", "),
    }
    .into()
}
