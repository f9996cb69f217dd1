//! The one typed description of a method, used by the CLI (`--methods`), every experiment, the
//! cell keys, the reports and their tables. No method identity by string matching: the label is
//! derived from the spec, and code that needs to know what a method is reads the spec.

use hypergrad::optim::{OuterConfig, OuterOptimizer};
use hypergrad::EstimatorSpec;
use serde::{Deserialize, Serialize};

/// What produces θ's update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    /// Algorithm 1 with a hypergradient estimator from the engine's registry.
    Estimator(EstimatorSpec),
    /// Reptile (Nichol et al. 2018): no hypergradient, θ moves towards adapted weights.
    Reptile(ReptileConfig),
}

/// Reptile's published 1-shot 20-way Omniglot settings (openai/supervised-reptile README:
/// `--shots 1 --classes 20 --inner-batch 20 --inner-iters 10 --meta-step 1 --meta-batch 5
/// --meta-iters 200000 --eval-batch 10 --eval-iters 50 --learning-rate 0.0005
/// --meta-step-final 0 --train-shots 10 --transductive`). Inner optimiser: Adam with β1 = 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReptileConfig {
    /// Images per class of a training task.
    pub train_shots: usize,
    /// Mini-batch of an inner step.
    pub inner_batch: usize,
    /// Inner Adam steps per task (each one function call).
    pub inner_iters: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// ε at the start; decays linearly to `meta_step_final` over the call budget.
    pub meta_step: f64,
    /// ε at the end.
    pub meta_step_final: f64,
    /// Mini-batch of Reptile's own evaluation.
    pub eval_batch: usize,
    /// Adam steps of Reptile's own evaluation.
    pub eval_iters: usize,
}

impl Default for ReptileConfig {
    fn default() -> Self {
        Self {
            train_shots: 10,
            inner_batch: 20,
            inner_iters: 10,
            learning_rate: 0.0005,
            meta_step: 1.0,
            meta_step_final: 0.0,
            eval_batch: 10,
            eval_iters: 50,
        }
    }
}

/// The outer optimiser of an estimator method.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OuterSpec {
    /// SGD or Adam and its settings.
    pub optimizer: OuterConfig,
    /// Entry-wise clipping of the meta-gradient to [−c, c] before the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f64>,
}

impl OuterSpec {
    /// A fresh optimiser.
    pub fn build(&self) -> hypergrad::Result<OuterOptimizer> {
        OuterOptimizer::new(self.optimizer, self.clip)
    }
}

/// One method of an experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MethodSpec {
    /// Report name and cell key: the learner's label, `@m` appended for m-way few-shot tasks.
    pub label: String,
    /// What computes the update.
    pub learner: Learner,
    /// The outer optimiser (estimator methods).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer: Option<OuterSpec>,
    /// Tasks per outer step (meta-batch).
    pub tasks_per_step: usize,
    /// Few-shot: m of the m-way tasks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ways: Option<usize>,
}

impl MethodSpec {
    /// Algorithm 1 with `estimator` and `outer`, one task per step.
    pub fn estimator(estimator: EstimatorSpec, outer: OuterSpec) -> Self {
        Self {
            label: estimator.label(),
            learner: Learner::Estimator(estimator),
            outer: Some(outer),
            tasks_per_step: 1,
            ways: None,
        }
    }

    /// Reptile with `cfg`.
    pub fn reptile(cfg: ReptileConfig) -> Self {
        Self {
            label: "reptile".into(),
            learner: Learner::Reptile(cfg),
            outer: None,
            tasks_per_step: 1,
            ways: None,
        }
    }

    /// With `n` tasks per outer step.
    pub fn meta_batch(mut self, n: usize) -> Self {
        self.tasks_per_step = n.max(1);
        self
    }

    /// For m-way tasks: the label gains `@m`.
    pub fn ways(mut self, m: usize) -> Self {
        self.label = format!("{}@{m}", self.base_label());
        self.ways = Some(m);
        self
    }

    /// The label without the `@m` suffix.
    pub fn base_label(&self) -> &str {
        self.label.split('@').next().unwrap_or(&self.label)
    }

    /// The estimator, for estimator methods.
    pub fn estimator_spec(&self) -> Option<&EstimatorSpec> {
        match &self.learner {
            Learner::Estimator(e) => Some(e),
            Learner::Reptile(_) => None,
        }
    }

    /// Whether `--methods NAME` selects this method: its full label or its base label.
    pub fn matches(&self, name: &str) -> bool {
        self.label == name || self.base_label() == name
    }

    /// A short stable digest of the whole spec: cells are only reused for the same spec.
    pub fn digest(&self) -> String {
        short_hash(&serde_json::to_string(self).unwrap_or_default())
    }
}

/// FNV-1a of `text`, 16 hex digits: stable across runs and platforms.
pub fn short_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

/// How the reports name methods, for the notes under the tables.
pub const METHOD_NAMES_NOTE: &str = "Method names: `recompute_exact` is the memory-efficient \
     exact estimator (recomputed inner states, Alg. 4 with q = 1: O(1) memory, r + 1 + r(r−1)/2 \
     gradient and r HVP calls per task) — the paper's tables call it \"exact\"; `stored_exact` \
     keeps the states (Alg. 2); `ufom_qX` is UFOM with fixed q = X; `adaptive` is adaptive UFOM \
     with q_min = 0.05, β = 0.99 and D²/10; `_clipC` marks the authors' per-backward-step \
     clipping to [−C, C]. Every method's full settings are in `methods[].spec`.";

#[cfg(test)]
mod tests {
    use super::*;
    use hypergrad::optim::StepSchedule;

    fn sgd() -> OuterSpec {
        OuterSpec {
            optimizer: OuterConfig::Sgd(StepSchedule::Constant(0.1)),
            clip: None,
        }
    }

    #[test]
    fn labels_say_the_exact_variant_and_settings() {
        let m = |e| MethodSpec::estimator(e, sgd());
        assert_eq!(
            m(EstimatorSpec::RecomputeExact {
                backward_clip: None
            })
            .label,
            "recompute_exact"
        );
        assert_eq!(m(EstimatorSpec::StoredExact).label, "stored_exact");
        let clipped = m(EstimatorSpec::Ufom {
            q: 0.1,
            backward_clip: Some(10.0),
        })
        .ways(20);
        assert_eq!(clipped.label, "ufom_q0.1_clip10@20");
        assert!(clipped.matches("ufom_q0.1_clip10") && clipped.matches("ufom_q0.1_clip10@20"));
        assert!(!clipped.matches("ufom_q0.1"));
    }

    #[test]
    fn the_digest_changes_with_any_setting() {
        let a = MethodSpec::estimator(EstimatorSpec::Fom, sgd());
        let mut b = a.clone();
        b.outer = Some(OuterSpec {
            clip: Some(0.1),
            ..sgd()
        });
        assert_eq!(a.label, b.label);
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), a.clone().digest());
        let json = serde_json::to_string(&b).unwrap();
        assert_eq!(serde_json::from_str::<MethodSpec>(&json).unwrap(), b);
    }
}
