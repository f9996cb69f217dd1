//! `<experiment>_<figure>.svg`: one plot per [`Figure`], drawn with plotters' SVG backend.
//!
//! Any record content is drawn without panicking: points with a NaN or infinite coordinate,
//! or one outside [1e-150, 1e150] on a logarithmic axis (beyond ±1e300 on a linear one), are
//! skipped (a line breaks there); series of different lengths are cut to the shorter; empty
//! figures get an empty frame; a range of one value is widened. An error band (`y_err`) is a shaded area of y ± err (error bars in scatter
//! plots and at isolated points); on a log axis a non-positive y − err is cut at the axis.
//!
//! This file writes the files and draws; [`series`] cleans the series and picks the axes.

mod series;

use super::super::record::{ExperimentReport, Figure};
use super::super::store::write_atomic;
use super::{figure_file_name, fmt_num, Reporter};
use anyhow::{anyhow, Result};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use series::{axis_range, extent, log_ticks, prepare, Prepared};
use std::path::{Path, PathBuf};

/// Writes one SVG per figure of each report.
#[derive(Clone, Copy, Debug)]
pub struct SvgReporter {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl Default for SvgReporter {
    fn default() -> Self {
        Self {
            width: 800,
            height: 500,
        }
    }
}

impl Reporter for SvgReporter {
    fn name(&self) -> &'static str {
        "svg"
    }

    fn write(&self, reports: &[ExperimentReport], out_dir: &Path) -> Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for report in reports {
            for fig in &report.figures {
                let path = out_dir.join(figure_file_name(report.experiment.name(), &fig.id));
                let svg = render_figure(fig, self.width, self.height).map_err(|e| {
                    e.context(format!(
                        "drawing figure {:?} of {}",
                        fig.id, report.experiment
                    ))
                })?;
                write_atomic(&path, svg.as_bytes())?;
                paths.push(path);
            }
        }
        Ok(paths)
    }
}

/// The SVG text of one figure.
pub fn render_figure(fig: &Figure, width: u32, height: u32) -> Result<String> {
    let prepared = prepare(fig);
    let xs = extent(
        prepared
            .iter()
            .flat_map(|p| p.segments.iter().flatten().map(|&(x, _)| x)),
    );
    let ys = extent(prepared.iter().flat_map(|p| {
        p.segments.iter().flatten().map(|&(_, y)| y).chain(
            p.bands
                .iter()
                .flatten()
                .flat_map(|&(_, lo, hi)| lo.into_iter().chain(std::iter::once(hi))),
        )
    }));
    let (x0, x1) = axis_range(xs, fig.log_x);
    let (y0, y1) = axis_range(ys, fig.log_y);

    let mut buf = String::new();
    {
        let full =
            SVGBackend::with_string(&mut buf, (width.max(64), height.max(64))).into_drawing_area();
        full.fill(&WHITE).map_err(plot_err)?;
        // The legend gets its own strip right of the plot, so it never covers data.
        let labels: Vec<&Prepared> = prepared.iter().filter(|p| !p.label.is_empty()).collect();
        let longest = labels
            .iter()
            .map(|p| p.label.chars().count())
            .max()
            .unwrap_or(0);
        let strip = if labels.is_empty() {
            0
        } else {
            (40 + 7 * longest as i32).clamp(90, (width.max(64) / 3) as i32)
        };
        let (root, legend) = full.split_horizontally(width.max(64) as i32 - strip);
        draw_legend(&legend, &labels, fig.scatter)?;
        // plotters labels a log axis only from the first power of ten up: give it our own ticks.
        let log_x = || (x0..x1).log_scale().with_key_points(log_ticks(x0, x1));
        let log_y = || (y0..y1).log_scale().with_key_points(log_ticks(y0, y1));
        match (fig.log_x, fig.log_y) {
            (false, false) => draw(&root, fig, &prepared, x0..x1, y0..y1, y0)?,
            (true, false) => draw(&root, fig, &prepared, log_x(), y0..y1, y0)?,
            (false, true) => draw(&root, fig, &prepared, x0..x1, log_y(), y0)?,
            (true, true) => draw(&root, fig, &prepared, log_x(), log_y(), y0)?,
        }
        root.present().map_err(plot_err)?;
    }
    Ok(buf)
}

/// The legend in its own strip: a line (or dot) in the series colour and its label, one row
/// each, truncated to the strip's width.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    labels: &[&Prepared],
    scatter: bool,
) -> Result<()> {
    let (w, _) = area.dim_in_pixel();
    let max_chars = ((w as i32 - 40) / 7).max(4) as usize;
    for (i, p) in labels.iter().enumerate() {
        let y = 60 + 20 * i as i32;
        if scatter {
            area.draw(&Circle::new((14, y), 3, p.color.filled()))
                .map_err(plot_err)?;
        } else {
            area.draw(&PathElement::new(
                vec![(4, y), (26, y)],
                p.color.stroke_width(2),
            ))
            .map_err(plot_err)?;
        }
        let text: String = if p.label.chars().count() > max_chars {
            let mut t: String = p.label.chars().take(max_chars - 1).collect();
            t.push('…');
            t
        } else {
            p.label.clone()
        };
        area.draw(&Text::new(
            text,
            (32, y - 7),
            ("sans-serif", 13).into_font(),
        ))
        .map_err(plot_err)?;
    }
    Ok(())
}

fn plot_err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e}")
}

fn draw<'a, X, Y>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    fig: &Figure,
    prepared: &[Prepared],
    x_spec: X,
    y_spec: Y,
    y_floor: f64,
) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(&fig.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(x_spec, y_spec)
        .map_err(plot_err)?;
    chart
        .configure_mesh()
        .x_desc(fig.x_label.as_str())
        .y_desc(fig.y_label.as_str())
        .x_label_formatter(&|v: &f64| fmt_num(*v))
        .y_label_formatter(&|v: &f64| fmt_num(*v))
        .x_max_light_lines(if fig.log_x { 0 } else { 4 })
        .y_max_light_lines(if fig.log_y { 0 } else { 4 })
        .draw()
        .map_err(plot_err)?;

    // Bands first, so every line is drawn over every band. Scatter plots and isolated points
    // get error bars instead of a shaded area.
    for p in prepared {
        for band in &p.bands {
            if fig.scatter || band.len() == 1 {
                let bars = band.iter().map(|&(x, lo, hi)| {
                    PathElement::new(
                        vec![(x, lo.unwrap_or(y_floor)), (x, hi)],
                        p.color.stroke_width(1),
                    )
                });
                chart.draw_series(bars).map_err(plot_err)?;
                continue;
            }
            let upper = band.iter().map(|&(x, _, hi)| (x, hi));
            let lower = band
                .iter()
                .rev()
                .map(|&(x, lo, _)| (x, lo.unwrap_or(y_floor)));
            let outline: Vec<(f64, f64)> = upper.chain(lower).collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    outline,
                    p.color.mix(0.2).filled(),
                )))
                .map_err(plot_err)?;
        }
    }

    for p in prepared {
        let color = p.color;
        if fig.scatter {
            let points = p
                .segments
                .iter()
                .flatten()
                .map(|&pt| Circle::new(pt, 3, color.filled()));
            chart.draw_series(points).map_err(plot_err)?;
        } else {
            for seg in &p.segments {
                if seg.len() == 1 {
                    chart
                        .draw_series(std::iter::once(Circle::new(seg[0], 3, color.filled())))
                        .map_err(plot_err)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(seg.iter().copied(), color.stroke_width(2)))
                        .map_err(plot_err)?;
                }
            }
        }
    }
    Ok(())
}
