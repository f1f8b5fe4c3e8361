//! Plots for the HTML reports, drawn by plotters' SVG backend into strings
//! that the page inlines: no files beside the page, no scripts, no fonts
//! (the browser draws the text plotters places).
//!
//! Every time plot of a run shares one x axis (hours from T+0, labelled in
//! the postmortem's clock when the scenario gives `t0`), so the plots line up
//! when read top to bottom. Colors are the Okabe–Ito palette, which stays
//! distinguishable for the common color-vision deficiencies and in grey print.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::data::{CheckMark, Clock, Lane, Series};

/// Width and height of a time plot, in SVG units (the page scales them).
pub const WIDE: (u32, u32) = (900, 320);

/// The Okabe–Ito palette (black last).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

const HIT: RGBColor = RGBColor(0, 158, 115);
const MISS: RGBColor = RGBColor(213, 0, 0);
const GRID: RGBColor = RGBColor(225, 225, 225);

/// A plotting error, as text (plotters' errors carry the backend's).
pub type PlotResult = Result<String, String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw a plot: {e:?}")
}

/// Draws into a fresh SVG of `size` and returns its text.
fn svg(size: (u32, u32), draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>) -> PlotResult {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(text)
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().into()
}

/// A line plot over a run's time axis.
#[derive(Clone, Copy)]
pub struct TimePlot<'a> {
    pub clock: &'a Clock,
    pub end_s: u64,
    pub y_desc: &'a str,
    /// The top of the y axis, in the series' unit.
    pub y_max: f64,
    /// y values already in the plot's unit (a percentage or a count).
    pub series: &'a [Series],
    /// Checkpoints drawn over the curves.
    pub marks: &'a [CheckMark],
    /// Each value held until the next point.
    pub step: bool,
    pub percent: bool,
    /// Where the legend goes (where the curves are not).
    pub legend: Legend,
}

/// Where a legend goes.
#[derive(Clone, Copy, Debug)]
pub enum Legend {
    UpperRight,
    MiddleRight,
}

/// A chart over hours from T+0 (labelled on `clock`) and `0..y_max`, its
/// mesh and axis descriptions drawn: the frame every time plot shares.
type TimeChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

fn time_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    clock: &Clock,
    end_h: f64,
    y_max: f64,
    y_desc: &str,
    y_label: &dyn Fn(&f64) -> String,
) -> Result<TimeChart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(root)
        .margin(12)
        .margin_right(24)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..end_h, 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&|h| clock.tick(*h))
        .y_label_formatter(y_label)
        .x_desc(clock.axis())
        .y_desc(y_desc)
        .label_style(font(14))
        .axis_desc_style(font(14))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// The series' legend box at `at`.
fn draw_legend<'a, 'b>(chart: &mut TimeChart<'a, 'b>, at: SeriesLabelPosition) -> Result<(), String>
where
    'b: 'a,
{
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(font(13))
        .draw()
        .map_err(err)
}

/// Draws a [`TimePlot`]. The first series is drawn wide and pale under the
/// others, so a curve that another one covers (delivered = accepted) stays
/// visible.
pub fn time_lines(p: TimePlot) -> PlotResult {
    let TimePlot { clock, end_s, y_desc, y_max, series, marks, step, percent, legend } = p;
    let end_h = (end_s as f64 / 3600.0).max(1.0 / 60.0);
    svg(WIDE, |root| {
        let y_label = |y: &f64| match () {
            _ if percent => format!("{y:.0}%"),
            _ if y_max <= 10.0 => format!("{y:.1}"),
            _ => format!("{y:.0}"),
        };
        let mut chart = time_chart(root, clock, end_h, y_max, y_desc, &y_label)?;
        // Checkpoint windows first, under the curves.
        for m in marks.iter().filter(|m| m.window.is_some()) {
            let (a, z) = m.window.expect("filtered");
            let shade = if m.hit { HIT.mix(0.12) } else { MISS.mix(0.12) };
            chart
                .draw_series(std::iter::once(Rectangle::new([(a as f64 / 3600.0, 0.0), (z as f64 / 3600.0, y_max)], shade.filled())))
                .map_err(err)?;
        }
        for (i, s) in series.iter().enumerate() {
            let c = color(s.color.unwrap_or(i));
            let pts = points(&s.points, step, end_s);
            let style = if i == 0 && series.len() > 1 { c.mix(0.45).stroke_width(6) } else { c.stroke_width(2) };
            chart
                .draw_series(LineSeries::new(pts, style))
                .map_err(err)?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        }
        for m in marks {
            let c = if m.hit { HIT } else { MISS };
            let x = m.at_s as f64 / 3600.0;
            if let Some((lo, hi)) = m.range {
                // The claim's tolerance as an error bar, the simulated value as a dot.
                let (lo, hi) = (lo.min(y_max), hi.min(y_max));
                chart.draw_series(std::iter::once(PathElement::new(vec![(x, lo), (x, hi)], c.stroke_width(3)))).map_err(err)?;
                if let Some(v) = m.value {
                    chart.draw_series(std::iter::once(Circle::new((x, v.min(y_max)), 5, c.filled()))).map_err(err)?;
                }
            } else if let Some(v) = m.value {
                // An event's simulated time, over its window.
                let x = v / 3600.0;
                chart.draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, y_max)], c.stroke_width(2)))).map_err(err)?;
            }
            // Labels close in time take rows further down (`label_row`),
            // and one at the axis' end starts left of it (`label_at_s`).
            let y = y_max * (0.97 - 0.07 * m.label_row as f64);
            let lx = m.label_at_s as f64 / 3600.0;
            chart.draw_series(std::iter::once(Text::new(m.label.clone(), (lx, y), font(13).color(&c)))).map_err(err)?;
        }
        if series.len() > 1 {
            let at = match legend {
                Legend::UpperRight => SeriesLabelPosition::UpperRight,
                Legend::MiddleRight => SeriesLabelPosition::MiddleRight,
            };
            draw_legend(&mut chart, at)?;
        }
        Ok(())
    })
}

/// A step curve holds each value until the next point (and to the end).
fn points(p: &[(f64, f64)], step: bool, end_s: u64) -> Vec<(f64, f64)> {
    let h = |t: f64| t / 3600.0;
    if !step {
        return p.iter().map(|&(t, y)| (h(t), y)).collect();
    }
    let mut out = Vec::with_capacity(p.len() * 2 + 1);
    for (i, &(t, y)) in p.iter().enumerate() {
        if i > 0 {
            out.push((h(t), p[i - 1].1));
        }
        out.push((h(t), y));
    }
    if let Some(&(t, y)) = p.last() {
        if (t as u64) < end_s {
            out.push((h(end_s as f64), y));
        }
    }
    out
}

/// The width of the timeline's lane names, in SVG units: room for
/// [`LANE_NAME_CHARS`] characters at 13 px (`fault: controller-failure
/// shelf-a/controller-a`).
const LANE_NAMES: u32 = 340;
/// The longest lane name shown whole; a longer one ends in `…`.
pub const LANE_NAME_CHARS: usize = 48;

/// The timeline band: one lane per fault kind, the alerts, and each
/// recovery step, as spans on the run's time axis (an open span runs to
/// the end).
pub fn timeline(clock: &Clock, end_s: u64, lanes: &[Lane]) -> PlotResult {
    let end_h = (end_s as f64 / 3600.0).max(1.0 / 60.0);
    let rows = lanes.len().max(1);
    let height = 70 + 26 * rows as u32;
    svg((WIDE.0, height), |root| {
        let (left, plot) = root.split_horizontally(LANE_NAMES);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(24)
            .x_label_area_size(44)
            .build_cartesian_2d(0f64..end_h, 0f64..rows as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(8)
            .x_label_formatter(&|h| clock.tick(*h))
            .x_desc(clock.axis())
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        for (row, lane) in lanes.iter().enumerate() {
            let y = (rows - 1 - row) as f64;
            let c = color(lane.color);
            for s in &lane.spans {
                let a = s.start_s as f64 / 3600.0;
                // A point event (an alert, an instant fault) gets a visible width.
                let z = (s.end_s.unwrap_or(end_s) as f64 / 3600.0).max(a + end_h / 400.0);
                let style = if s.failed { MISS.filled() } else { c.mix(if s.end_s.is_some() { 0.85 } else { 0.45 }).filled() };
                chart.draw_series(std::iter::once(Rectangle::new([(a, y + 0.18), (z, y + 0.82)], style))).map_err(err)?;
            }
            // The lane's name, right-aligned beside its row.
            let (_, py) = chart.backend_coord(&(0.0, y + 0.5));
            let name: String = if lane.name.chars().count() > LANE_NAME_CHARS {
                lane.name.chars().take(LANE_NAME_CHARS - 1).chain(std::iter::once('…')).collect()
            } else {
                lane.name.clone()
            };
            let style = font(13).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Center,
            ));
            left.draw(&Text::new(name, (LANE_NAMES as i32 - 8, py), style)).map_err(err)?;
        }
        Ok(())
    })
}

/// The delivery-delay CDF on a log time axis: `series` points are (delay
/// in seconds, share in percent).
pub fn delay_cdf(series: &[Series]) -> PlotResult {
    let max_s = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(10.0f64, f64::max);
    svg(WIDE, |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((1f64..max_s * 1.5).log_scale(), 0f64..100.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_label_formatter(&|s| seconds(*s))
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .x_desc("delay, author to mailbox (log scale)")
            .y_desc("mails delivered within")
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let c = color(s.color.unwrap_or(i));
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x.max(1.0), y)).collect();
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(err)?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3)));
        }
        if series.len() > 1 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.3))
                .label_font(font(13))
                .draw()
                .map_err(err)?;
        }
        Ok(())
    })
}

/// A duration in seconds as a short axis label (`30s`, `5m`, `2h`, `3d`).
pub fn seconds(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

/// Horizontal bars, one per `(label, value, color index)`; `unit` follows
/// each value, `max` is the axis end.
pub fn bars(rows: &[(String, f64, usize)], max: f64, x_desc: &str, percent: bool) -> PlotResult {
    let n = rows.len().max(1);
    let height = (70 + 34 * n as u32).max(170);
    svg((WIDE.0, height), |root| {
        let (left, plot) = root.split_horizontally(260);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(70)
            .x_label_area_size(40)
            .build_cartesian_2d(0f64..max.max(1e-9), 0f64..n as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(6)
            .x_label_formatter(&|x| if percent { format!("{x:.0}%") } else { format!("{x}") })
            .x_desc(x_desc)
            .label_style(font(14))
            .axis_desc_style(font(14))
            .draw()
            .map_err(err)?;
        for (i, (label, v, c)) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, y + 0.2), (*v, y + 0.8)], color(*c).filled()))).map_err(err)?;
            let shown = if percent { format!("{v:.1}%") } else { format!("{v}") };
            let (px, py) = chart.backend_coord(&(*v, y + 0.5));
            plot.draw(&Text::new(shown, (px + 4 - 260, py - 8), font(13))).map_err(err)?;
            let (_, ly) = chart.backend_coord(&(0.0, y + 0.5));
            let style = font(13).pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Right,
                plotters::style::text_anchor::VPos::Center,
            ));
            left.draw(&Text::new(label.clone(), (252, ly), style)).map_err(err)?;
        }
        Ok(())
    })
}

/// A histogram of values over seeds: `bins` are (low, high, count).
pub fn histogram(bins: &[(f64, f64, u64)], x_desc: &str, label: &dyn Fn(f64) -> String) -> PlotResult {
    let lo = bins.first().map_or(0.0, |b| b.0);
    let hi = bins.last().map_or(1.0, |b| b.1).max(lo + 1e-9);
    let top = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.1;
    svg((480, 300), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .margin_right(22)
            .x_label_area_size(50)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(5)
            .y_labels(5)
            .x_label_formatter(&|x| label(*x))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc(x_desc)
            .y_desc("seeds")
            .label_style(font(17))
            .axis_desc_style(font(17))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(bins.iter().filter(|b| b.2 > 0).map(|&(a, z, n)| Rectangle::new([(a, 0.0), (z, n as f64)], color(0).filled())))
            .map_err(err)?;
        Ok(())
    })
}

/// Medians and bands over seeds of two plans on one time axis: each
/// series' `band` (low, high) is shaded, its points drawn as the median.
pub fn bands(clock: &Clock, end_s: u64, y_desc: &str, y_max: f64, series: &[Series]) -> PlotResult {
    let end_h = (end_s as f64 / 3600.0).max(1.0 / 60.0);
    svg(WIDE, |root| {
        let mut chart = time_chart(root, clock, end_h, y_max, y_desc, &|y: &f64| format!("{y:.0}%"))?;
        for (i, s) in series.iter().enumerate() {
            let c = color(s.color.unwrap_or(i));
            if !s.band.is_empty() {
                let mut poly: Vec<(f64, f64)> = s.band.iter().map(|&(t, lo, _)| (t / 3600.0, lo)).collect();
                poly.extend(s.band.iter().rev().map(|&(t, _, hi)| (t / 3600.0, hi)));
                chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.2).filled()))).map_err(err)?;
            }
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(t, y)| (t / 3600.0, y)).collect();
            chart
                .draw_series(LineSeries::new(pts, c.stroke_width(2)))
                .map_err(err)?
                .label(s.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], c.mix(0.6).filled()));
        }
        draw_legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        Ok(())
    })
}
