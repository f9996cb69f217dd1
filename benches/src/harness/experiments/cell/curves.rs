//! The cells' curves aggregated for figures: the mean ± std over seeds of a metric at each
//! checkpoint, against calls or training seconds.

use crate::harness::record::{Metric, RunRecord};

/// The x axis of a mean curve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurveX {
    /// Function calls spent.
    Calls,
    /// Training seconds (steps only, evaluations excluded).
    TrainSeconds,
}

/// The mean ± std over runs of `metric` along the curves, aligned by checkpoint index (the
/// checkpoints sit at the same call counts in every run), against mean calls.
pub fn mean_curve(
    label: &str,
    runs: &[RunRecord],
    metric: Metric,
) -> crate::harness::record::Series {
    mean_curve_against(label, runs, metric, CurveX::Calls)
}

/// [`mean_curve`] against `x`: mean calls or mean training seconds at each checkpoint.
pub fn mean_curve_against(
    label: &str,
    runs: &[RunRecord],
    metric: Metric,
    x_axis: CurveX,
) -> crate::harness::record::Series {
    let curves: Vec<Vec<(f64, f64)>> = runs
        .iter()
        .map(|r| {
            r.curve
                .iter()
                .filter_map(|p| {
                    let x = match x_axis {
                        CurveX::Calls => p.calls as f64,
                        CurveX::TrainSeconds => p.wall_s,
                    };
                    p.metrics.get(&metric).map(|v| (x, *v))
                })
                .collect()
        })
        .collect();
    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
    let (mut x, mut y, mut err) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..len {
        let xs: Vec<f64> = curves.iter().map(|c| c[i].0).collect();
        let ys: Vec<f64> = curves.iter().map(|c| c[i].1).collect();
        if let (Some(sx), Some(sy)) = (
            crate::harness::record::Stat::of(&xs),
            crate::harness::record::Stat::of(&ys),
        ) {
            x.push(sx.mean);
            y.push(sy.mean);
            err.push(sy.std);
        }
    }
    crate::harness::record::Series {
        label: label.to_string(),
        x,
        y,
        y_err: Some(err),
    }
}
