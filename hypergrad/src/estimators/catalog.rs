//! The estimator catalog: one entry per estimator kind, the single list every consumer derives
//! from — Table 1's estimators beyond the paper's rows, the bias–variance–cost map's settings,
//! the perf benches, the device check, the CLI help and the report schema's `kind` enum.
//!
//! Adding an estimator: its file in `estimators/`, its variant in [`EstimatorSpec`] (the
//! compiler then asks for its `label` and `build` arms), and one [`CatalogEntry`] in
//! [`catalog`]; then `just schema` regenerates the report schema. `catalog::tests` fails when a variant has no entry; the harness's catalog test
//! fails when a consumer misses an entry that does not name that consumer in
//! [`CatalogEntry::skip`].

use super::{AdaptiveConfig, EstimatorSpec};

/// A place that runs the catalog's estimators. An entry runs in every consumer unless it
/// names the consumer in [`CatalogEntry::skip`], with the reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumer {
    /// Table 1 (hypercleaning): every estimator under the same call budget.
    Table1,
    /// The bias–variance–cost map: [`CatalogEntry::sweep`] on every map problem.
    Map,
    /// The criterion perf benches: [`CatalogEntry::setting`] over r.
    Perf,
    /// The device check (`ufom doctor`): [`CatalogEntry::small`] on CPU and device.
    DeviceCheck,
}

impl Consumer {
    /// Every consumer.
    pub const ALL: [Consumer; 4] = [
        Consumer::Table1,
        Consumer::Map,
        Consumer::Perf,
        Consumer::DeviceCheck,
    ];
}

/// One estimator kind and the settings each consumer runs it at.
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    /// The name the paper or the source gives it, with where (equation or algorithm).
    pub name: &'static str,
    /// Its CLI settings in one phrase (`--q`, `--param KEY=VALUE`), for `ufom hypergrad --help`.
    pub settings_help: &'static str,
    /// Whether an estimate draws random numbers (ξ): randomised settings get more samples.
    pub randomised: bool,
    /// The representative setting: Table 1's row (where the paper has none), the perf benches.
    pub setting: EstimatorSpec,
    /// A small setting that takes every branch on r = 2..6 inner steps (the device check).
    pub small: EstimatorSpec,
    /// The map's settings for r inner steps (empty where the map skips the kind).
    pub sweep: fn(usize) -> Vec<EstimatorSpec>,
    /// The consumers that leave this kind out, each with the reason.
    pub skip: &'static [(Consumer, &'static str)],
}

impl CatalogEntry {
    /// The serde `kind` and CLI name (`fom`, `ufom`, ...), from [`CatalogEntry::setting`].
    pub fn kind(&self) -> String {
        self.setting.kind()
    }

    /// Whether `consumer` runs this kind.
    pub fn runs_in(&self, consumer: Consumer) -> bool {
        !self.skip.iter().any(|(c, _)| *c == consumer)
    }
}

const UNROLLED_NEEDS_REFERENCE: &str =
    "needs oracles with an unrolled reference (it is the reference, not a method)";

/// Every estimator kind, in the order the reports list them.
pub fn catalog() -> Vec<CatalogEntry> {
    vec![
        CatalogEntry {
            name: "FOM, the first-order heuristic (Alg. 3)",
            settings_help: "no settings",
            randomised: false,
            setting: EstimatorSpec::Fom,
            small: EstimatorSpec::Fom,
            sweep: |_| vec![EstimatorSpec::Fom],
            skip: &[],
        },
        CatalogEntry {
            name: "UFOM, the unbiased first-order method (Alg. 4, eq. 12–13)",
            settings_help: "needs --q",
            randomised: true,
            setting: ufom(0.1),
            small: ufom(0.5),
            sweep: |_| [0.1, 0.2, 0.5].map(ufom).to_vec(),
            skip: &[],
        },
        CatalogEntry {
            name: "adaptive UFOM (§4.5, eq. 20–24; the paper's settings, first draw at q_min)",
            settings_help: "its settings default to the paper's",
            randomised: true,
            setting: EstimatorSpec::Adaptive(AdaptiveConfig::default()),
            small: EstimatorSpec::Adaptive(AdaptiveConfig::default()),
            sweep: |_| Vec::new(),
            skip: &[(
                Consumer::Map,
                "UFOM with a data-chosen q: the map shows it through UFOM's q",
            )],
        },
        CatalogEntry {
            name: "exact with stored inner states (Alg. 2; ITD-BiO)",
            settings_help: "no settings",
            randomised: false,
            setting: EstimatorSpec::StoredExact,
            small: EstimatorSpec::StoredExact,
            sweep: |_| vec![EstimatorSpec::StoredExact],
            skip: &[(
                Consumer::Table1,
                "the same hypergradient as recompute_exact (verify: exact ≡ recompute); \
                 Table 1 runs the memory-efficient one, as the paper does",
            )],
        },
        CatalogEntry {
            name: "exact with recomputed inner states (Alg. 4 with q = 1)",
            settings_help: "no settings",
            randomised: false,
            setting: recompute_exact(),
            small: recompute_exact(),
            sweep: |_| vec![recompute_exact()],
            skip: &[],
        },
        CatalogEntry {
            name: "exact with checkpointing (schedule optimal for this cost model)",
            settings_help: "--param slots=S, default ⌈√r⌉",
            randomised: false,
            setting: EstimatorSpec::Checkpointed { slots: None },
            small: EstimatorSpec::Checkpointed { slots: Some(2) },
            sweep: |_| {
                vec![
                    EstimatorSpec::Checkpointed { slots: None },
                    EstimatorSpec::Checkpointed { slots: Some(2) },
                ]
            },
            skip: &[],
        },
        CatalogEntry {
            name: "truncated back-propagation through the last K steps (Shaban et al.)",
            settings_help: "needs --param k=K",
            randomised: false,
            setting: EstimatorSpec::Truncated { k: 5 },
            small: EstimatorSpec::Truncated { k: 2 },
            sweep: |r| {
                let mut ks = vec![1, r.div_ceil(4), r.div_ceil(2)];
                ks.retain(|&k| k < r);
                ks.dedup();
                ks.into_iter()
                    .map(|k| EstimatorSpec::Truncated { k })
                    .collect()
            },
            skip: &[],
        },
        CatalogEntry {
            name: "AID-BiO: implicit differentiation with N conjugate-gradient steps (Ji et al.)",
            settings_help:
                "needs --param cg_steps=N, takes warm_start=false and tol=T (default 1e-6)",
            randomised: false,
            setting: EstimatorSpec::AidCg {
                cg_steps: 10,
                warm_start: true,
                tol: None,
            },
            // Cold: the previous call's solution would differ between the devices' runs.
            small: EstimatorSpec::AidCg {
                cg_steps: 3,
                warm_start: false,
                tol: None,
            },
            // Cold: at a fixed point the warm start would make it trivially exact.
            sweep: |_| {
                [1, 5, 20]
                    .map(|n| EstimatorSpec::AidCg {
                        cg_steps: n,
                        warm_start: false,
                        tol: None,
                    })
                    .to_vec()
            },
            skip: &[],
        },
        CatalogEntry {
            name: "stocBiO's Neumann series with Q terms (Ji et al.)",
            settings_help: "needs --param terms=Q, takes eta=η (default: the last inner step)",
            randomised: false,
            setting: neumann(10),
            small: neumann(3),
            sweep: |_| [1, 5, 20].map(neumann).to_vec(),
            skip: &[],
        },
        CatalogEntry {
            name: "back-propagation through the unrolled inner loop (the reference)",
            settings_help: "no settings",
            randomised: false,
            setting: EstimatorSpec::Unrolled,
            small: EstimatorSpec::Unrolled,
            sweep: |_| Vec::new(),
            skip: &[
                (Consumer::Table1, UNROLLED_NEEDS_REFERENCE),
                (Consumer::Map, UNROLLED_NEEDS_REFERENCE),
                (Consumer::DeviceCheck, UNROLLED_NEEDS_REFERENCE),
            ],
        },
    ]
}

fn ufom(q: f64) -> EstimatorSpec {
    EstimatorSpec::Ufom {
        q,
        backward_clip: None,
    }
}

fn recompute_exact() -> EstimatorSpec {
    EstimatorSpec::RecomputeExact {
        backward_clip: None,
    }
}

fn neumann(terms: usize) -> EstimatorSpec {
    EstimatorSpec::Neumann { terms, eta: None }
}

/// The entries `consumer` runs.
pub fn runs_in(consumer: Consumer) -> impl Iterator<Item = CatalogEntry> {
    catalog().into_iter().filter(move |e| e.runs_in(consumer))
}

/// The catalog entry of `spec`'s kind.
pub fn entry_of(spec: &EstimatorSpec) -> Option<CatalogEntry> {
    let kind = spec.kind();
    catalog().into_iter().find(|e| e.kind() == kind)
}

/// The map's settings for r inner steps, in catalog order.
pub fn map_settings(r: usize) -> Vec<EstimatorSpec> {
    runs_in(Consumer::Map).flat_map(|e| (e.sweep)(r)).collect()
}

/// The CLI help of the estimator argument: every kind with its name and settings.
pub fn cli_help() -> String {
    let kinds: Vec<String> = catalog()
        .iter()
        .map(|e| format!("{} — {} ({})", e.kind(), e.name, e.settings_help))
        .collect();
    format!("The estimator: {}.", kinds.join("; "))
}

/// Every variant name of [`EstimatorSpec`], as serde knows them (from its own error message on
/// an unknown kind), so that nothing here lists them by hand.
pub fn registered_kinds() -> Vec<String> {
    let err = serde_json::from_value::<EstimatorSpec>(serde_json::json!({ "kind": "" }))
        .map(|_| ())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    let expected = err.split("expected one of").nth(1).unwrap_or_default();
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_kind_has_exactly_one_entry() {
        let kinds = registered_kinds();
        assert!(kinds.len() >= 10, "{kinds:?}");
        let entries: Vec<String> = catalog().iter().map(CatalogEntry::kind).collect();
        for k in &kinds {
            let n = entries.iter().filter(|e| *e == k).count();
            assert_eq!(n, 1, "kind `{k}` has {n} catalog entries (want 1)");
        }
        assert_eq!(entries.len(), kinds.len(), "{entries:?} vs {kinds:?}");
    }

    #[test]
    fn every_setting_of_an_entry_is_valid_and_of_its_kind() {
        for e in catalog() {
            let kind = e.kind();
            let mut all = vec![e.setting.clone(), e.small.clone()];
            all.extend((e.sweep)(10));
            for s in all {
                assert_eq!(s.kind(), kind, "{s:?} listed under {kind}");
                s.validate().unwrap_or_else(|err| panic!("{s:?}: {err}"));
                assert_eq!(entry_of(&s).map(|x| x.kind()), Some(kind.clone()));
            }
            assert_eq!(
                (e.sweep)(10).is_empty(),
                !e.runs_in(Consumer::Map),
                "{kind}: an empty sweep must say why the map skips it, and vice versa"
            );
            for (_, why) in e.skip {
                assert!(!why.is_empty(), "{kind}: a skip needs its reason");
            }
        }
    }

    #[test]
    fn the_cli_help_names_every_kind() {
        let help = cli_help();
        for k in registered_kinds() {
            assert!(help.contains(&format!("{k} — ")), "{k} missing from {help}");
        }
    }

    /// `randomised` is what an estimate does: it reports a draw ξ exactly when it is set.
    #[test]
    fn randomised_is_what_the_estimate_draws() -> crate::Result<()> {
        use crate::oracles::{Autodiff, Counted};
        use crate::problem::TaskDistribution;
        use crate::problems::{Quadratic, QuadraticConfig};
        use rand::SeedableRng;
        let p = Quadratic::new(
            QuadraticConfig::default(),
            candle_core::DType::F64,
            candle_core::Device::Cpu,
        )?;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let task = p.sample_task(&mut rng)?;
        let theta = p.theta(&[0.3, -0.7, 1.1])?;
        let o = Counted::new(Autodiff::new(p)?);
        for e in catalog() {
            let mut est = e.small.build_with_reference::<Autodiff<Quadratic>>()?;
            let drew = est.estimate(&o, &theta, &task, &mut rng)?.exact_drawn();
            assert_eq!(drew.is_some(), e.randomised, "{}", e.kind());
            assert_eq!(e.setting.is_randomised(), e.randomised);
        }
        Ok(())
    }
}
