//! SVG plots of a run (plotters, SVG backend), one file per measure, next to results.json.
//!
//! Timings are strip charts: one row per case and implementation, every trial a dot, the
//! median a tall tick, the p99 a short one. Scale results are line charts over the instance
//! count.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{BenchError, Result};
use crate::report::{CaseResult, RunReport, Status};
use crate::stats::Summary;

const KEEPALIVED: RGBColor = RGBColor(31, 119, 180);
const VRRPD: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(120, 120, 120);
const WIDTH: u32 = 960;
const LABEL_AREA: i32 = 330;

fn color(implementation: &str) -> RGBColor {
    if implementation == "vrrpd" {
        VRRPD
    } else {
        KEEPALIVED
    }
}

/// How values map to the x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scale {
    Linear,
    /// log10; values ≤ 0 are left out.
    Log,
}

/// One row of a strip chart.
struct Row {
    label: String,
    implementation: String,
    samples: Vec<f64>,
    note: Option<String>,
}

fn plot_err(path: &Path) -> impl Fn(String) -> BenchError + '_ {
    move |reason| BenchError::Plot {
        path: path.to_owned(),
        reason,
    }
}

fn strip_chart(path: &Path, title: &str, x_desc: &str, rows: &[Row], scale: Scale) -> Result<()> {
    let err = plot_err(path);
    let map = |v: f64| match scale {
        Scale::Linear => Some(v),
        Scale::Log => (v > 0.0).then(|| v.log10()),
    };
    let values: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.samples.iter().filter_map(|&v| map(v)))
        .collect();
    let (mut lo, mut hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if scale == Scale::Linear {
        lo = lo.min(0.0);
    }
    let pad = ((hi - lo) * 0.05).max(if scale == Scale::Log { 0.05 } else { 0.01 });
    let (lo, hi) = (lo - pad, hi + pad);
    let n = rows.len().max(1);
    let height = 110 + 34 * n as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(LABEL_AREA as u32)
        .build_cartesian_2d(lo..hi, -0.5f64..(n as f64 - 0.5))
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(format!(
            "{x_desc} · dots: trials, tall tick: median, short: p99"
        ))
        .x_label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .x_label_formatter(&|v| match scale {
            Scale::Linear => format_value(*v),
            Scale::Log => format_value(10f64.powf(*v)),
        })
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (i, row) in rows.iter().enumerate() {
        // Row 0 at the top.
        let y = (n - 1 - i) as f64;
        let c = color(&row.implementation);
        let at = chart.plotting_area().map_coordinate(&(lo, y));
        let label_style = ("sans-serif", 13)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(row.label.clone(), (at.0 - 8, at.1), label_style))
            .map_err(|e| err(e.to_string()))?;
        if let Some(note) = &row.note {
            let style = ("sans-serif", 12)
                .into_font()
                .color(&GREY)
                .pos(Pos::new(HPos::Left, VPos::Center));
            root.draw(&Text::new(note.clone(), (at.0 + 8, at.1), style))
                .map_err(|e| err(e.to_string()))?;
            continue;
        }
        let points: Vec<(f64, f64)> = row
            .samples
            .iter()
            .enumerate()
            .filter_map(|(k, &v)| Some((map(v)?, y + jitter(k))))
            .collect();
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&p| Circle::new(p, 3, c.mix(0.55).filled())),
            )
            .map_err(|e| err(e.to_string()))?;
        if let Some(s) = Summary::of(&row.samples) {
            for (v, half) in [(s.median, 0.38), (s.p99, 0.22)] {
                if let Some(x) = map(v) {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(x, y - half), (x, y + half)],
                            c.stroke_width(2),
                        )))
                        .map_err(|e| err(e.to_string()))?;
                }
            }
        }
    }
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// A deterministic vertical spread of the dots of one row.
fn jitter(k: usize) -> f64 {
    let golden = 0.618_033_988_75;
    ((k as f64 * golden).fract() - 0.5) * 0.5
}

fn format_value(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// Rows for `metric` of every case of `measure`.
fn rows(report: &RunReport, measure: &str, metric: &str, suffix: &str) -> Vec<Row> {
    report
        .results
        .iter()
        .filter(|c| c.measure == measure)
        .map(|c| row(c, metric, suffix))
        .collect()
}

fn row(c: &CaseResult, metric: &str, suffix: &str) -> Row {
    let samples = c.get(metric).map(|m| m.samples.clone()).unwrap_or_default();
    let note = match c.status {
        Status::Unsupported => Some("not possible (see results.json)".to_owned()),
        Status::Failed => Some("failed (see results.json)".to_owned()),
        Status::Ok if samples.iter().all(|v| v.is_nan()) => Some("no samples".to_owned()),
        Status::Ok => None,
    };
    Row {
        label: format!("{} · {}{suffix}", c.case, c.implementation),
        implementation: c.implementation.clone(),
        samples,
        note,
    }
}

/// A line of a line chart: its legend, its implementation (for the colour), whether it is
/// drawn faint (the short advert interval), its points.
struct Series {
    name: String,
    implementation: String,
    faint: bool,
    points: Vec<(f64, f64)>,
}

fn line_chart(path: &Path, title: &str, y_desc: &str, series: &[Series]) -> Result<()> {
    let err = plot_err(path);
    // The x axis is categorical: the instance counts measured, evenly spaced.
    let mut sizes: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    sizes.sort_by(f64::total_cmp);
    sizes.dedup();
    let position = |x: f64| sizes.iter().position(|&s| s == x).map(|i| i as f64);
    let ys: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .collect();
    let y_hi = ys.iter().copied().fold(0.0f64, f64::max) * 1.15 + 1e-3;
    let n = sizes.len().max(1);
    let root = SVGBackend::new(path, (WIDTH, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.3f64..(n as f64 - 0.7), 0f64..y_hi)
        .map_err(|e| err(e.to_string()))?;
    let sizes_for_labels = sizes.clone();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_desc("instances in one daemon")
        .y_desc(y_desc)
        .label_style(("sans-serif", 12))
        .axis_desc_style(("sans-serif", 13))
        .x_label_formatter(&move |v| {
            let i = v.round();
            match sizes_for_labels.get(i as usize) {
                Some(size) if (v - i).abs() < 1e-6 && i >= 0.0 => format!("{size:.0}"),
                _ => String::new(),
            }
        })
        .y_label_formatter(&|v| format_value(*v))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for s in series {
        let c = color(&s.implementation);
        let style = if s.faint {
            c.mix(0.45).stroke_width(2)
        } else {
            c.stroke_width(2)
        };
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .filter_map(|p| Some((position(p.0)?, p.1)))
            .collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), style))
            .map_err(|e| err(e.to_string()))?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 4, style.filled())))
            .map_err(|e| err(e.to_string()))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}

fn scale_series(report: &RunReport, metric: &str) -> Vec<Series> {
    let mut out: Vec<Series> = Vec::new();
    for c in report.results.iter().filter(|c| c.measure == "scale") {
        let (Some(size), Some(interval)) = (
            c.settings.get("instances").and_then(|v| v.as_f64()),
            c.settings
                .get("advert_interval_ms")
                .and_then(|v| v.as_f64()),
        ) else {
            continue;
        };
        let Some(median) = c.get(metric).and_then(|m| m.summary).map(|s| s.median) else {
            continue;
        };
        let name = format!(
            "{}, adverts every {}",
            c.implementation,
            crate::measures::label(std::time::Duration::from_secs_f64(interval / 1e3))
        );
        match out.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push((size, median)),
            None => out.push(Series {
                name,
                implementation: c.implementation.clone(),
                faint: interval < 1000.0,
                points: vec![(size, median)],
            }),
        }
    }
    out
}

/// Draws every plot of `report` into `dir`; returns the files written.
pub fn render_all(report: &RunReport, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let has = |m: &str| report.results.iter().any(|c| c.measure == m);
    let mut strip = |file: &str, title: &str, x: &str, rows: Vec<Row>, scale: Scale| {
        let path = dir.join(file);
        strip_chart(&path, title, x, &rows, scale).map(|()| written.push(path))
    };
    if has("host-death") {
        strip(
            "host-death.svg",
            "Host death (SIGKILL): overshoot over 3 × interval + Skew_Time",
            "ms after Master_Down_Interval, counted from the master's last advert",
            rows(report, "host-death", "overshoot_ms", ""),
            Scale::Linear,
        )?;
    }
    if has("takeover") {
        let mut r = rows(report, "takeover", "vip_all_ms", " · VIPs installed");
        r.extend(rows(report, "takeover", "announce_all_ms", " · announced"));
        strip(
            "takeover.svg",
            "Takeover: backup's first advert as master → VIPs installed / announced",
            "ms after the backup's first advert",
            r,
            Scale::Linear,
        )?;
    }
    if has("service-death") {
        strip(
            "service-death.svg",
            "Service death: backend killed on the master → VIP answered by the backup",
            "ms from the kill to the first answer from the backup (log scale)",
            rows(report, "service-death", "answered_ms", ""),
            Scale::Log,
        )?;
    }
    if has("graceful-stop") {
        strip(
            "graceful-stop.svg",
            "Graceful stop (SIGTERM) → VIP on the backup, minus Skew_Time",
            "ms beyond the backup's Skew_Time",
            rows(report, "graceful-stop", "over_skew_ms", ""),
            Scale::Linear,
        )?;
    }
    if has("timer") {
        strip(
            "timer.svg",
            "Timer accuracy: master's inter-advert gap − interval",
            "ms",
            rows(report, "timer", "gap_error_ms", ""),
            Scale::Linear,
        )?;
    }
    if has("stalls") {
        strip(
            "stalls.svg",
            "The machine: longest stall of a thread in the 2 ms after it wakes",
            "µs between two consecutive clock reads (log scale)",
            rows(report, "stalls", "longest_gap_us", ""),
            Scale::Log,
        )?;
    }
    if has("scale") {
        for (file, metric, title, y) in [
            (
                "scale-cpu.svg",
                "cpu_master_pct",
                "Scale: master CPU",
                "% of one core (median)",
            ),
            (
                "scale-rss.svg",
                "rss_master_mib",
                "Scale: master resident memory",
                "MiB (median)",
            ),
        ] {
            let path = dir.join(file);
            line_chart(&path, title, y, &scale_series(report, metric))?;
            written.push(path);
        }
    }
    Ok(written)
}
