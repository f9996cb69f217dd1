//! What a figure's series become before drawing: the drawable points split into runs, the
//! error bands, the colours, and the axis ranges and logarithmic ticks (the rules in
//! [`super`]'s header).

use crate::harness::record::Figure;
use plotters::prelude::RGBColor;

/// Largest magnitude drawn on a linear axis; beyond it a value counts as infinite (keeps
/// ranges finite).
pub(super) const MAX_ABS: f64 = 1e300;

/// Values drawn on a logarithmic axis lie in [1/LOG_MAX, LOG_MAX], so that the ratio of the
/// bounds stays finite (plotters' log ticks loop forever on an infinite ratio).
pub(super) const LOG_MAX: f64 = 1e150;

/// Line colours, cycled (colour-blind-friendly Okabe–Ito palette).
pub(super) const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(0, 0, 0),
];

/// A series cleaned for drawing.
pub(super) struct Prepared {
    pub(super) label: String,
    pub(super) color: RGBColor,
    /// Runs of consecutive drawable points.
    pub(super) segments: Vec<Vec<(f64, f64)>>,
    /// Runs of consecutive points with a usable error: (x, y − err or None if not drawable, y + err).
    pub(super) bands: Vec<Vec<(f64, Option<f64>, f64)>>,
}

pub(super) fn usable(v: f64, log: bool) -> bool {
    if log {
        (1.0 / LOG_MAX..=LOG_MAX).contains(&v)
    } else {
        v.is_finite() && v.abs() <= MAX_ABS
    }
}

pub(super) fn prepare(fig: &Figure) -> Vec<Prepared> {
    fig.series
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n = s.x.len().min(s.y.len());
            let mut segments = vec![Vec::new()];
            let mut bands = vec![Vec::new()];
            for k in 0..n {
                let (x, y) = (s.x[k], s.y[k]);
                if !(usable(x, fig.log_x) && usable(y, fig.log_y)) {
                    segments.push(Vec::new());
                    bands.push(Vec::new());
                    continue;
                }
                segments.last_mut().expect("never empty").push((x, y));
                let err = s.y_err.as_ref().and_then(|e| e.get(k)).copied();
                match err.map(f64::abs).filter(|e| e.is_finite()) {
                    Some(e) if usable(y + e, fig.log_y) => {
                        let lo = Some(y - e).filter(|&lo| usable(lo, fig.log_y));
                        bands.last_mut().expect("never empty").push((x, lo, y + e));
                    }
                    _ => bands.push(Vec::new()),
                }
            }
            segments.retain(|s| !s.is_empty());
            bands.retain(|b| !b.is_empty());
            Prepared {
                label: s.label.clone(),
                color: COLORS[i % COLORS.len()],
                segments,
                bands,
            }
        })
        .collect()
}

/// Min and max of the values, if any.
pub(super) fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A drawable axis range around `extent`, with a margin; never empty.
pub(super) fn axis_range(extent: Option<(f64, f64)>, log: bool) -> (f64, f64) {
    match (extent, log) {
        (None, false) => (0.0, 1.0),
        (None, true) => (1.0, 10.0),
        (Some((lo, hi)), false) => {
            let span = hi - lo;
            if span <= 1e-12 * lo.abs().max(hi.abs()) || span <= f64::MIN_POSITIVE {
                let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
                (lo - d, hi + d)
            } else {
                (lo - 0.05 * span, hi + 0.05 * span)
            }
        }
        (Some((lo, hi)), true) => {
            // In decades, so that even 1e-150..1e150 keeps finite, positive bounds.
            let (lo, hi) = (lo.log10(), hi.log10());
            let span = hi - lo;
            let pad = if span < 1e-9 { 0.3 } else { 0.05 * span };
            let bound = LOG_MAX.log10();
            let lo = (lo - pad).clamp(-bound, bound);
            let hi = (hi + pad).clamp(-bound, bound);
            (10f64.powf(lo), 10f64.powf(hi))
        }
    }
}

/// Tick values of a log axis over [lo, hi] (0 < lo < hi, finite): 1–9 × 10^k within about a
/// decade, 1, 2, 5 × 10^k within three, powers of ten beyond (every n-th one past 8 decades).
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (lo_l, hi_l) = (lo.log10(), hi.log10());
    let decades = hi_l - lo_l;
    let mantissas: &[f64] = if decades < 1.2 {
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    } else if decades < 3.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let step = ((decades / 8.0).ceil() as i32).max(1);
    let (k0, k1) = (lo_l.floor() as i32 - 1, hi_l.ceil() as i32 + 1);
    let slack = 1e-9 * (hi - lo);
    let mut ticks: Vec<f64> = (k0..=k1)
        .filter(|k| k.rem_euclid(step) == 0)
        .flat_map(|k| mantissas.iter().map(move |m| m * 10f64.powi(k)))
        .filter(|v| *v >= lo - slack && *v <= hi + slack)
        .collect();
    if ticks.is_empty() {
        ticks.push((lo * hi).sqrt());
    }
    ticks
}
