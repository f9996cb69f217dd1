//! The metrics a run records, as one typed list: every metric name in the reports comes from
//! here, so a misspelt metric is a compile error, not a silently missing column. Serialized
//! under the same names as before (`"test_acc"`), and ordered by name, so maps keyed by
//! [`Metric`] write their keys in the order maps keyed by strings did.

use serde::{Deserialize, Serialize};

macro_rules! metrics {
    ($($variant:ident = $name:literal: $doc:literal,)*) => {
        /// A metric of a run: its final value, a curve point, a summary over seeds.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum Metric {
            $(#[doc = $doc] #[serde(rename = $name)] $variant,)*
        }

        impl Metric {
            /// Every metric.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant,)*];

            /// Its name in the reports.
            pub fn name(self) -> &'static str {
                match self {
                    $(Metric::$variant => $name,)*
                }
            }
        }
    };
}

metrics! {
    AbsGrad = "abs_grad": "|∂M/∂θ|: the true hypergradient's magnitude (synthetic).",
    Objective = "objective": "The outer objective M(θ) (synthetic).",
    TestAcc = "test_acc": "Test accuracy, % (hypercleaning: test set; few-shot: meta-test tasks).",
    TestAccCi95 = "test_acc_ci95": "Half-width of the 95 % interval of `test_acc` over tasks.",
    TestAccReptileEval = "test_acc_reptile_eval": "Meta-test accuracy under Reptile's own evaluation, %.",
    TestAccReptileEvalCi95 = "test_acc_reptile_eval_ci95": "Half-width of the 95 % interval of `test_acc_reptile_eval`.",
    TestAccReptileEvalTasks = "test_acc_reptile_eval_tasks": "Tasks behind `test_acc_reptile_eval`.",
    TestAccTasks = "test_acc_tasks": "Tasks behind `test_acc`.",
    TestCe = "test_ce": "Test cross-entropy.",
    Theta = "theta": "θ itself (synthetic, one dimension).",
    TrainAccClean = "train_acc_clean": "Accuracy on the clean part of the training set, % (hypercleaning).",
    ValCe = "val_ce": "Validation cross-entropy: the outer loss (hypercleaning).",
    WeightClean = "weight_clean": "Mean example weight σ(θ) on clean training examples (hypercleaning).",
    WeightCorrupted = "weight_corrupted": "Mean example weight σ(θ) on corrupted training examples (hypercleaning).",
}

impl PartialOrd for Metric {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// By name, as the strings they replace were ordered.
impl Ord for Metric {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    #[test]
    fn serialized_names_are_the_names_and_unique() {
        let mut seen = BTreeSet::new();
        for &m in Metric::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
            assert_eq!(
                serde_json::from_value::<Metric>(m.name().into()).unwrap(),
                m
            );
            assert!(seen.insert(m.name()), "{m} twice");
        }
        assert!(serde_json::from_value::<Metric>("test_accuracy".into()).is_err());
    }

    #[test]
    fn a_map_keyed_by_metric_writes_the_json_a_map_keyed_by_name_did() {
        let typed: BTreeMap<Metric, f64> = Metric::ALL.iter().rev().map(|&m| (m, 1.0)).collect();
        let named: BTreeMap<&str, f64> = Metric::ALL.iter().map(|m| (m.name(), 1.0)).collect();
        assert_eq!(
            serde_json::to_string(&typed).unwrap(),
            serde_json::to_string(&named).unwrap()
        );
        // Control: declaration order is not name order for every list; the map sorts by name.
        let keys: Vec<&str> = typed.keys().map(|m| m.name()).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
    }
}
