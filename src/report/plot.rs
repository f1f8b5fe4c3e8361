//! Plots for the HTML reports, drawn by plotters' SVG backend into strings
//! that the page inlines: no files beside the page, no scripts, no fonts
//! (the browser draws the text plotters places).
//!
//! Every time plot of a run shares one x axis (hours from T+0, labelled in
//! the postmortem's clock when the scenario gives `t0`), so the plots line up
//! when read top to bottom. Colors are the Okabe–Ito palette, which stays
//! distinguishable for the common color-vision deficiencies and in grey print.
//!
//! Text must stay readable wherever the page is read, but an inline SVG
//! scales as a whole: a 900-unit plot shown 364 px wide (a 380 px phone
//! window) draws 14-unit text at under 6 px. So each plot is drawn twice,
//! at two [`Fit`]s: `Wide` (900 units, for a laptop window and print) and
//! `Narrow` (440 units, fewer ticks, names above their bars), and the page's
//! CSS shows the one that fits (`.w` / `.n` in `report/mod.rs`). Font sizes
//! are chosen for the narrowest width each is shown at: the wide one on an
//! A4 page (186 mm of text width, 703 px: a scale of 0.78) and at 761 px,
//! the narrow one at 380 px (364 px of column: 0.83), so axis labels, ticks
//! and legends are at least 10 px in each. `tests/report.rs` measures the
//! rendered size of every plot text in Chromium and fails below 10 px.
//! Legends sit above the plot area, never over the curves.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::data::{lay_out_labels_scaled, Bin, CheckMark, Clock, Lane, Series};

/// Which of a plot's two drawings: for a wide column (a laptop window,
/// an A4 page) or a narrow one (a phone).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    Wide,
    Narrow,
}

impl Fit {
    /// Width in SVG units.
    pub fn width(self) -> u32 {
        match self {
            Fit::Wide => 900,
            Fit::Narrow => 440,
        }
    }
    /// A time plot's height in SVG units.
    fn height(self) -> u32 {
        match self {
            Fit::Wide => 340,
            Fit::Narrow => 320,
        }
    }
    /// Tick labels and axis titles, in plotters' size (its SVG writes
    /// `font-size` = size / 1.24: 14.5 and 13.7 units).
    fn text(self) -> u32 {
        match self {
            Fit::Wide => 18,
            Fit::Narrow => 17,
        }
    }
    /// Legends, checkpoint labels, lane names and values on bars (13.7 and
    /// 12.9 units).
    fn small(self) -> u32 {
        match self {
            Fit::Wide => 17,
            Fit::Narrow => 16,
        }
    }
    /// Ticks on a time axis.
    fn x_labels(self) -> usize {
        match self {
            Fit::Wide => 8,
            Fit::Narrow => 4,
        }
    }
    /// The width of an average glyph of small text, in units: about 0.5 em
    /// in a sans-serif face (measured: 0.4 em for lane names in Chromium's
    /// default face), so an estimate errs towards wrapping early.
    fn char_w(self) -> f64 {
        self.small() as f64 / 1.24 * 0.5
    }
    /// Characters of small text in `units` of width.
    fn chars(self, units: u32) -> usize {
        (units as f64 / self.char_w()).floor() as usize
    }
    /// The room right of a time axis' end: half of its last tick label
    /// (`Sun 12:00`) and a little more.
    fn right(self) -> u32 {
        match self {
            Fit::Wide => 48,
            Fit::Narrow => 40,
        }
    }
}

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

/// Draws into a fresh SVG of `size` and returns its text, without the XML
/// declaration (the SVG goes inline in the page).
fn svg(size: (u32, u32), draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), String>) -> PlotResult {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(&root)?;
        root.present().map_err(err)?;
    }
    let t = text.trim_start_matches(|c: char| c != '<');
    let t = match t.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map_or(rest, |x| x.1),
        None => t,
    };
    Ok(t.trim().to_string())
}

/// Both drawings of a plot, each in the box the page's CSS shows at its
/// width (`.w` wide, `.n` narrow).
fn both(draw: impl Fn(Fit) -> PlotResult) -> PlotResult {
    Ok(format!("<div class=\"w\">{}</div>\n<div class=\"n\">{}</div>", draw(Fit::Wide)?, draw(Fit::Narrow)?))
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().into()
}

fn anchored(size: u32, h: HPos) -> TextStyle<'static> {
    font(size).pos(Pos::new(h, VPos::Center))
}

/// Splits `text` into lines of at most `width` characters, breaking after
/// a space, `/` or `,` where it can, and inside a word only when the word
/// is longer than a line: a long name wraps instead of being cut.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut pieces: Vec<String> = vec![String::new()];
    for c in text.chars() {
        pieces.last_mut().expect("one piece at least").push(c);
        if matches!(c, ' ' | '/' | ',') {
            pieces.push(String::new());
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for mut piece in pieces.into_iter().filter(|p| !p.is_empty()) {
        if line.chars().count() + piece.trim_end().chars().count() > width && !line.is_empty() {
            lines.push(line.trim_end().to_string());
            line = String::new();
        }
        while line.is_empty() && piece.trim_end().chars().count() > width {
            let head: String = piece.chars().take(width).collect();
            piece = piece.chars().skip(width).collect();
            lines.push(head);
        }
        line.push_str(&piece);
    }
    if !line.trim().is_empty() {
        lines.push(line.trim_end().to_string());
    }
    lines
}

/// How a legend entry's swatch is drawn: as its series is.
#[derive(Clone, Copy, PartialEq)]
enum Swatch {
    Line,
    /// The wide pale line drawn under the others (the first of several).
    Under,
    /// A band's box.
    Band,
}

/// A legend entry: name, color, swatch.
type Entry = (String, RGBColor, Swatch);

/// The legend of lines: the first of several drawn wide and pale, under.
fn line_entries(series: &[Series]) -> Vec<Entry> {
    series
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.clone(), color(s.color.unwrap_or(i)), if i == 0 { Swatch::Under } else { Swatch::Line }))
        .collect()
}

/// The legend's rows: entries left to right, a new row when the next would
/// pass the width.
fn legend_rows(entries: &[Entry], fit: Fit) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let (mut x, limit) = (0u32, fit.width() - 24);
    let char_w = fit.char_w();
    for (i, e) in entries.iter().enumerate() {
        let w = 30 + (e.0.chars().count() as f64 * char_w).ceil() as u32 + 18;
        if rows.is_empty() || x + w > limit {
            rows.push(Vec::new());
            x = 0;
        }
        rows.last_mut().expect("a row").push(i);
        x += w;
    }
    rows
}

const LEGEND_LINE: u32 = 22;

/// Draws a legend of `entries` above the plot area, where it covers no
/// curve, and returns the area left for the plot (all of `root` when one
/// series needs no legend).
fn legend_above<'b>(
    root: &DrawingArea<SVGBackend<'b>, Shift>,
    entries: &[Entry],
    fit: Fit,
) -> Result<DrawingArea<SVGBackend<'b>, Shift>, String> {
    if entries.len() < 2 {
        return Ok(root.clone());
    }
    let rows = legend_rows(entries, fit);
    let (top, rest) = root.split_vertically(8 + LEGEND_LINE * rows.len() as u32);
    let char_w = fit.char_w();
    for (r, row) in rows.iter().enumerate() {
        let y = 8 + (LEGEND_LINE * r as u32 + LEGEND_LINE / 2) as i32;
        let mut x = 16i32;
        for &i in row {
            let (name, c, swatch) = &entries[i];
            match swatch {
                Swatch::Band => top.draw(&Rectangle::new([(x, y - 6), (x + 22, y + 6)], c.mix(0.6).filled())),
                Swatch::Under => top.draw(&PathElement::new(vec![(x, y), (x + 22, y)], c.mix(0.45).stroke_width(6))),
                Swatch::Line => top.draw(&PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))),
            }
            .map_err(err)?;
            top.draw(&Text::new(name.clone(), (x + 28, y), anchored(fit.small(), HPos::Left))).map_err(err)?;
            x += 30 + (name.chars().count() as f64 * char_w).ceil() as i32 + 18;
        }
    }
    Ok(rest)
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
}

/// A chart over hours from T+0 (labelled on `clock`) and `0..y_max`, its
/// mesh and axis descriptions drawn: the frame every time plot shares.
type TimeChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>>;

/// A y label formatter.
type YLabel<'f> = &'f dyn Fn(&f64) -> String;

fn time_chart<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    clock: &Clock,
    (end_h, y_max): (f64, f64),
    y_desc: &str,
    y_label: YLabel,
    fit: Fit,
) -> Result<TimeChart<'a, 'b>, String> {
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .margin_right(fit.right())
        .x_label_area_size(if fit == Fit::Wide { 52 } else { 50 })
        .y_label_area_size(if fit == Fit::Wide { 76 } else { 64 })
        .build_cartesian_2d(0f64..end_h, 0f64..y_max)
        .map_err(err)?;
    let x_desc = if fit == Fit::Wide { clock.axis() } else { clock.short_axis() };
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(fit.x_labels())
        .y_labels(6)
        .x_label_formatter(&|h| clock.tick(*h))
        .y_label_formatter(y_label)
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(font(fit.text()))
        .axis_desc_style(font(fit.text()))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// How much wider, as a share of the axis, a checkpoint label is on a
/// narrow plot than on a wide one (`data::LABEL_WIDTH`): its plot area is
/// about 360 units against 790, its text 12.9 units against 13.7.
pub const NARROW_LABEL_SCALE: f64 = 2.2;

/// Draws a [`TimePlot`]. The first series is drawn wide and pale under the
/// others, so a curve that another one covers (delivered = accepted) stays
/// visible.
pub fn time_lines(p: TimePlot) -> PlotResult {
    both(|fit| time_lines_at(p, fit))
}

fn time_lines_at(p: TimePlot, fit: Fit) -> PlotResult {
    let TimePlot { clock, end_s, y_desc, y_max, series, marks, step, percent } = p;
    let end_h = (end_s as f64 / 3600.0).max(1.0 / 60.0);
    // On a narrow plot a label takes more of the axis: laid out again.
    let mut narrow_marks = marks.to_vec();
    if fit == Fit::Narrow {
        lay_out_labels_scaled(&mut narrow_marks, end_s, NARROW_LABEL_SCALE);
    }
    let marks = &narrow_marks;
    let entries = line_entries(series);
    let rows = if entries.len() > 1 { legend_rows(&entries, fit).len() as u32 } else { 0 };
    svg((fit.width(), fit.height() + rows * LEGEND_LINE), |root| {
        let area = legend_above(root, &entries, fit)?;
        let y_label = |y: &f64| match () {
            _ if percent => format!("{y:.0}%"),
            _ if y_max <= 10.0 => format!("{y:.1}"),
            _ => format!("{y:.0}"),
        };
        let mut chart = time_chart(&area, clock, (end_h, y_max), y_desc, &y_label, fit)?;
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
            chart.draw_series(LineSeries::new(pts, style)).map_err(err)?;
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
            chart.draw_series(std::iter::once(Text::new(m.label.clone(), (lx, y), font(fit.small()).color(&c)))).map_err(err)?;
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

/// The width of a wide timeline's lane names, in SVG units (about 44
/// characters a line; a longer name wraps onto more lines).
const LANE_NAMES: u32 = 340;

/// Where a name above its bar starts on a narrow plot, in units.
const NARROW_NAME_X: i32 = 12;

/// Rows of names beside (wide) or above (narrow) bars: each row's name in
/// lines, its share of the plot's height in units (a line each; on a
/// narrow plot one more for its bar), and where its bar's middle is.
struct Rows {
    names: Vec<Vec<String>>,
    /// Per row: (the y of its top, in units from the plot's bottom; its units).
    spans: Vec<(f64, f64)>,
    total: f64,
}

impl Rows {
    fn new(names: impl Iterator<Item = String>, fit: Fit, name_units: u32) -> Rows {
        let chars = fit.chars(name_units);
        let names: Vec<Vec<String>> = names.map(|n| wrap(&n, chars)).collect();
        let units: Vec<f64> = names
            .iter()
            .map(|n| match fit {
                // A second line of a name is closer to the first than a row to the next.
                Fit::Wide => 1.0 + 0.65 * n.len().saturating_sub(1) as f64,
                Fit::Narrow => 0.75 * n.len() as f64 + 1.0,
            })
            .collect();
        let total = units.iter().sum::<f64>().max(1.0);
        let mut top = total;
        let mut spans = Vec::new();
        for u in units {
            spans.push((top, u));
            top -= u;
        }
        Rows { names, spans, total }
    }
    /// The middle of row `i`'s bar, in units.
    fn bar(&self, i: usize, fit: Fit) -> f64 {
        let (top, u) = self.spans[i];
        match fit {
            Fit::Wide => top - u / 2.0,
            Fit::Narrow => top - u + 0.5,
        }
    }
    /// The y of each line of row `i`'s name, in units.
    fn lines(&self, i: usize, fit: Fit) -> Vec<f64> {
        let (top, u) = self.spans[i];
        let n = self.names[i].len();
        match fit {
            Fit::Wide => (0..n).map(|k| top - u / 2.0 + 0.65 * ((n as f64 - 1.0) / 2.0 - k as f64)).collect(),
            Fit::Narrow => (0..n).map(|k| top - 0.45 - 0.75 * k as f64).collect(),
        }
    }
    /// The plot's height in SVG units for `unit` units per row line.
    fn height(&self, unit: f64) -> u32 {
        (self.total * unit).ceil() as u32
    }
}

/// The timeline band: one lane per fault kind, the alerts, and each
/// recovery step, as spans on the run's time axis (an open span runs to
/// the end). A lane's name is beside its bar on a wide plot and above it
/// on a narrow one, wrapped, never cut.
pub fn timeline(clock: &Clock, end_s: u64, lanes: &[Lane]) -> PlotResult {
    both(|fit| timeline_at(clock, end_s, lanes, fit))
}

fn timeline_at(clock: &Clock, end_s: u64, lanes: &[Lane], fit: Fit) -> PlotResult {
    let end_h = (end_s as f64 / 3600.0).max(1.0 / 60.0);
    let (names_w, unit) = match fit {
        Fit::Wide => (LANE_NAMES, 26.0),
        Fit::Narrow => (0, 22.0),
    };
    let rows = Rows::new(
        lanes.iter().map(|l| l.name.clone()),
        fit,
        if fit == Fit::Wide { LANE_NAMES - 16 } else { fit.width() - 2 * NARROW_NAME_X as u32 },
    );
    let height = 76 + rows.height(unit);
    svg((fit.width(), height), |root| {
        let (left, plot) = root.split_horizontally(names_w);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_right(fit.right())
            .margin_left(if fit == Fit::Wide { 8 } else { 40 })
            .x_label_area_size(52)
            .build_cartesian_2d(0f64..end_h, 0f64..rows.total)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(fit.x_labels())
            .x_label_formatter(&|h| clock.tick(*h))
            .x_desc(if fit == Fit::Wide { clock.axis() } else { clock.short_axis() })
            .label_style(font(fit.text()))
            .axis_desc_style(font(fit.text()))
            .draw()
            .map_err(err)?;
        for (row, lane) in lanes.iter().enumerate() {
            let y = rows.bar(row, fit);
            let c = color(lane.color);
            for s in &lane.spans {
                let a = s.start_s as f64 / 3600.0;
                // A point event (an alert, an instant fault) gets a visible width.
                let z = (s.end_s.unwrap_or(end_s) as f64 / 3600.0).max(a + end_h / 400.0);
                let style = if s.failed { MISS.filled() } else { c.mix(if s.end_s.is_some() { 0.85 } else { 0.45 }).filled() };
                chart.draw_series(std::iter::once(Rectangle::new([(a, y - 0.32), (z, y + 0.32)], style))).map_err(err)?;
            }
            for (line, ly) in rows.names[row].iter().zip(rows.lines(row, fit)) {
                let (_, py) = chart.backend_coord(&(0.0, ly));
                match fit {
                    // Right-aligned beside its row.
                    Fit::Wide => left.draw(&Text::new(line.clone(), (names_w as i32 - 10, py), anchored(fit.small(), HPos::Right))),
                    // Above its bar, from the plot's left edge.
                    Fit::Narrow => root.draw(&Text::new(line.clone(), (NARROW_NAME_X, py), anchored(fit.small(), HPos::Left))),
                }
                .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// The delivery-delay CDF on a log time axis: `series` points are (delay
/// in seconds, share in percent).
pub fn delay_cdf(series: &[Series]) -> PlotResult {
    both(|fit| delay_cdf_at(series, fit))
}

fn delay_cdf_at(series: &[Series], fit: Fit) -> PlotResult {
    let max_s = series.iter().flat_map(|s| s.points.iter().map(|p| p.0)).fold(10.0f64, f64::max);
    let entries: Vec<Entry> = series.iter().enumerate().map(|(i, s)| (s.name.clone(), color(s.color.unwrap_or(i)), Swatch::Line)).collect();
    let rows = if entries.len() > 1 { legend_rows(&entries, fit).len() as u32 } else { 0 };
    svg((fit.width(), fit.height() + rows * LEGEND_LINE), |root| {
        let area = legend_above(root, &entries, fit)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .margin_right(fit.right())
            .x_label_area_size(if fit == Fit::Wide { 52 } else { 50 })
            .y_label_area_size(if fit == Fit::Wide { 76 } else { 64 })
            .build_cartesian_2d((1f64..max_s * 1.5).log_scale(), 0f64..100.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(if fit == Fit::Wide { 10 } else { 5 })
            .x_label_formatter(&|s| seconds(*s))
            .y_label_formatter(&|y| format!("{y:.0}%"))
            .x_desc(if fit == Fit::Wide { "delay, author to mailbox (log scale)" } else { "delay (log scale)" })
            .y_desc(if fit == Fit::Wide { "mails delivered within" } else { "delivered within" })
            .label_style(font(fit.text()))
            .axis_desc_style(font(fit.text()))
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let c = color(s.color.unwrap_or(i));
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(x, y)| (x.max(1.0), y)).collect();
            chart.draw_series(LineSeries::new(pts, c.stroke_width(2))).map_err(err)?;
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

/// Horizontal bars, one per `(label, value, color index)`; `max` is the
/// axis end. Labels are beside the bars on a wide plot, above them on a
/// narrow one.
pub fn bars(rows: &[(String, f64, usize)], max: f64, x_desc: &str, percent: bool) -> PlotResult {
    both(|fit| bars_at(rows, max, x_desc, percent, fit))
}

fn bars_at(bars: &[(String, f64, usize)], max: f64, x_desc: &str, percent: bool, fit: Fit) -> PlotResult {
    let (names_w, unit) = match fit {
        Fit::Wide => (260, 34.0),
        Fit::Narrow => (0, 24.0),
    };
    let rows = Rows::new(
        bars.iter().map(|b| b.0.clone()),
        fit,
        if fit == Fit::Wide { names_w - 16 } else { fit.width() - 2 * NARROW_NAME_X as u32 },
    );
    let height = (76 + rows.height(unit)).max(170);
    svg((fit.width(), height), |root| {
        let (left, plot) = root.split_horizontally(names_w);
        let mut chart = ChartBuilder::on(&plot)
            .margin(8)
            .margin_left(if fit == Fit::Wide { 8 } else { 16 })
            .margin_right(76)
            .x_label_area_size(52)
            .build_cartesian_2d(0f64..max.max(1e-9), 0f64..rows.total)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .disable_y_mesh()
            .disable_y_axis()
            .x_labels(if fit == Fit::Wide { 6 } else { 3 })
            .x_label_formatter(&|x| if percent { format!("{x:.0}%") } else { format!("{x}") })
            .x_desc(x_desc)
            .label_style(font(fit.text()))
            .axis_desc_style(font(fit.text()))
            .draw()
            .map_err(err)?;
        for (i, (_, v, c)) in bars.iter().enumerate() {
            let y = rows.bar(i, fit);
            chart.draw_series(std::iter::once(Rectangle::new([(0.0, y - 0.3), (*v, y + 0.3)], color(*c).filled()))).map_err(err)?;
            let shown = if percent { format!("{v:.1}%") } else { format!("{v}") };
            let (px, py) = chart.backend_coord(&(*v, y));
            root.draw(&Text::new(shown, (px + 5, py), anchored(fit.small(), HPos::Left))).map_err(err)?;
            for (line, ly) in rows.names[i].iter().zip(rows.lines(i, fit)) {
                let (_, ly) = chart.backend_coord(&(0.0, ly));
                match fit {
                    Fit::Wide => left.draw(&Text::new(line.clone(), (names_w as i32 - 10, ly), anchored(fit.small(), HPos::Right))),
                    Fit::Narrow => root.draw(&Text::new(line.clone(), (NARROW_NAME_X, ly), anchored(fit.small(), HPos::Left))),
                }
                .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// A histogram of values over seeds: `bins` are (low, high, count). One
/// drawing: the page shows it in a column 320 to 480 px wide (`.grid`),
/// so its 13.7-unit text is drawn at 11 px or more.
pub fn histogram(bins: &[Bin], x_desc: &str, label: &dyn Fn(f64) -> String) -> PlotResult {
    let lo = bins.first().map_or(0.0, |b| b.low);
    let hi = bins.last().map_or(1.0, |b| b.high).max(lo + 1e-9);
    let top = bins.iter().map(|b| b.count).max().unwrap_or(1).max(1) as f64 * 1.1;
    let fit = Fit::Narrow;
    svg((400, 290), |root| {
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(56)
            .build_cartesian_2d(lo..hi, 0f64..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID)
            .x_labels(4)
            .y_labels(5)
            .x_label_formatter(&|x| label(*x))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .x_desc(x_desc)
            .y_desc("seeds")
            .label_style(font(fit.text()))
            .axis_desc_style(font(fit.text()))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(
                bins.iter().filter(|b| b.count > 0).map(|b| Rectangle::new([(b.low, 0.0), (b.high, b.count as f64)], color(0).filled())),
            )
            .map_err(err)?;
        Ok(())
    })
}

/// Medians and bands over seeds of two plans on one time axis: each
/// series' `band` (low, high) is shaded, its points drawn as the median.
/// The legend is above the plot area, so it covers no band.
pub fn bands(clock: &Clock, end_s: u64, y_desc: &str, y_max: f64, series: &[Series]) -> PlotResult {
    both(|fit| bands_at(clock, end_s, y_desc, y_max, series, fit))
}

fn bands_at(clock: &Clock, end_s: u64, y_desc: &str, y_max: f64, series: &[Series], fit: Fit) -> PlotResult {
    let end_h = (end_s as f64 / 3600.0).max(1.0 / 60.0);
    let entries: Vec<Entry> = series.iter().enumerate().map(|(i, s)| (s.name.clone(), color(s.color.unwrap_or(i)), Swatch::Band)).collect();
    let rows = if entries.len() > 1 { legend_rows(&entries, fit).len() as u32 } else { 0 };
    svg((fit.width(), fit.height() + rows * LEGEND_LINE), |root| {
        let area = legend_above(root, &entries, fit)?;
        let mut chart = time_chart(&area, clock, (end_h, y_max), y_desc, &|y: &f64| format!("{y:.0}%"), fit)?;
        for (i, s) in series.iter().enumerate() {
            let c = color(s.color.unwrap_or(i));
            if !s.band.is_empty() {
                let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.x / 3600.0, b.low)).collect();
                poly.extend(s.band.iter().rev().map(|b| (b.x / 3600.0, b.high)));
                chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.2).filled()))).map_err(err)?;
            }
            let pts: Vec<(f64, f64)> = s.points.iter().map(|&(t, y)| (t / 3600.0, y)).collect();
            chart.draw_series(LineSeries::new(pts, c.stroke_width(2))).map_err(err)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_wraps_at_a_break_and_is_never_cut() {
        let name = "fault: local-device-failure on mx-1: its queue disk, with a very long tail";
        let lines = wrap(name, 30);
        assert!(lines.iter().all(|l| l.chars().count() <= 30), "{lines:?}");
        assert_eq!(lines.join(" ").replace("  ", " ").replace("/ ", "/"), name, "every character kept: {lines:?}");
        assert_eq!(lines[0], "fault: local-device-failure on");
        // A word longer than a line is split inside, and still kept whole.
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("short", 40), ["short"]);
        assert_eq!(wrap("filer: shelf-a/controller-a", 20), ["filer: shelf-a/", "controller-a"]);
    }

    #[test]
    fn a_legend_that_does_not_fit_one_line_takes_more() {
        let e = |n: &str| (n.to_string(), PALETTE[0], Swatch::Line);
        let two = [e("A: report-lock"), e("B: report-lock-late")];
        assert_eq!(legend_rows(&two, Fit::Wide), [vec![0, 1]]);
        let many: Vec<Entry> = (0..6).map(|i| e(&format!("mailboxes offline on plan {i}"))).collect();
        let rows = legend_rows(&many, Fit::Narrow);
        assert!(rows.len() >= 3 && rows.iter().flatten().count() == 6, "{rows:?}");
    }
}
