//! Charts for the HTML report, drawn by plotters as inline SVG: throughput per
//! target and level, latency percentile curves on a log scale, and a figure
//! over time (CPU, memory).
//!
//! Text is left to the browser (SVG `<text>`), so no font is needed to draw.

use anyhow::anyhow;
use plotters::coord::combinators::IntoLogRange;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The size every chart is drawn at; the page scales it down to fit.
const SIZE: (u32, u32) = (760, 360);

/// Series colours by target index, distinguishable with common colour blindness.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(60, 60, 60),
];

/// The colour of the target at `index`, as CSS, so the page's legends match the charts.
pub fn css_colour(index: usize) -> String {
    let RGBColor(red, green, blue) = colour(index);
    format!("#{red:02x}{green:02x}{blue:02x}")
}

fn colour(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// One line or one set of bars: a target's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    /// The target's index, which picks its colour.
    pub colour_index: usize,
    pub points: Vec<(f64, f64)>,
}

/// Grouped bars: one group per level label, one bar per series. A series'
/// point `(level index, value)` places its bar in the group of that level.
pub fn bars(
    title: &str,
    levels: &[String],
    series: &[Series],
    y_desc: &str,
) -> anyhow::Result<String> {
    let top = series
        .iter()
        .flat_map(|series| series.points.iter().map(|(_, value)| *value))
        .fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let group_count = levels.len().max(1);
    let width = 0.8 / series.len().max(1) as f64;

    draw(title, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..group_count as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 14))
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(y_desc)
            .draw()?;

        // Level names sit under the middle of their group, just below the axis.
        let names = levels.iter().enumerate().map(|(index, level)| {
            let style = ("sans-serif", 14).into_font().into_text_style(root);
            let anchored = style.pos(Pos::new(HPos::Center, VPos::Top));
            EmptyElement::at((index as f64 + 0.5, 0.0)) + Text::new(level.clone(), (0, 8), anchored)
        });
        chart.draw_series(names)?;

        for (position, one) in series.iter().enumerate() {
            let fill = colour(one.colour_index).filled();
            let left = |level: f64| level + 0.1 + position as f64 * width;
            let rectangles = one.points.iter().map(|(level, value)| {
                Rectangle::new([(left(*level), 0.0), (left(*level) + width, *value)], fill)
            });
            chart
                .draw_series(rectangles)?
                .label(one.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill));
        }
        legend(&mut chart)
    })
}

/// Where a percentile sits on the "nines" axis: 50 at 0.3, 90 at 1, 99 at 2, 99.9 at 3.
fn nines(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(1e-4);
    -rest.log10()
}

/// Latency percentile curves: percentiles spread by their nines across, the
/// latency in milliseconds up a log scale. Points are `(percentile, ms)`.
pub fn percentile_curves(title: &str, series: &[Series]) -> anyhow::Result<String> {
    let values = series
        .iter()
        .flat_map(|one| one.points.iter().map(|(_, ms)| *ms));
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(low, high), ms| {
        (low.min(ms), high.max(ms))
    });
    // Zero latencies (sub-millisecond answers) cannot sit on a log axis.
    let floor = 0.1;
    let (low, high) = if low > high {
        (1.0, 10.0)
    } else {
        (low.max(floor), high.max(floor))
    };
    // Whole decades at both ends, so the log axis always has labelled ticks.
    let low = 10f64.powf(low.log10().floor());
    let high = 10f64.powf(high.log10().ceil()).max(low * 10.0);

    draw(title, |root| {
        let y_range = (low..high).log_scale();
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..nines(100.0), y_range)?;
        let label = |x: &f64| percentile_label(*x);
        chart
            .configure_mesh()
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 14))
            .x_labels(5)
            .x_label_formatter(&label)
            .y_label_formatter(&|ms: &f64| format_ms(*ms))
            .x_desc("percentile")
            .y_desc("latency (ms, log scale)")
            .draw()?;

        for one in series {
            let style = colour(one.colour_index).stroke_width(2);
            let points: Vec<(f64, f64)> = one
                .points
                .iter()
                .map(|(percentile, ms)| (nines(*percentile), ms.max(floor)))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), style))?
                .label(one.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], style));
            chart.draw_series(
                points
                    .into_iter()
                    .map(|point| Circle::new(point, 3, style.filled())),
            )?;
        }
        legend(&mut chart)
    })
}

/// The name of a tick on the nines axis; the axis ends at the maximum.
fn percentile_label(x: f64) -> String {
    if x >= nines(100.0) - 1e-9 {
        return "max".to_string();
    }
    let percentile = 100.0 * (1.0 - 10f64.powf(-x));
    let rounded = (percentile * 10.0).round() / 10.0;
    format!("p{rounded}")
}

fn format_ms(ms: f64) -> String {
    if ms >= 10.0 {
        format!("{ms:.0}")
    } else {
        format!("{ms:.1}")
    }
}

/// Lines over time: points are `(seconds, value)`.
pub fn over_time(title: &str, series: &[Series], y_desc: &str) -> anyhow::Result<String> {
    let points = || series.iter().flat_map(|one| one.points.iter().copied());
    let right = points().map(|(seconds, _)| seconds).fold(0.0_f64, f64::max);
    let top = points().map(|(_, value)| value).fold(0.0_f64, f64::max);
    let right = if right > 0.0 { right } else { 1.0 };
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };

    draw(title, |root| {
        let mut chart = ChartBuilder::on(root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(76)
            .build_cartesian_2d(0.0..right, 0.0..top)?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 14))
            .x_desc("seconds")
            .y_desc(y_desc)
            .y_label_formatter(&|value: &f64| format_ms(*value))
            .draw()?;
        for one in series {
            let style = colour(one.colour_index).stroke_width(2);
            chart
                .draw_series(LineSeries::new(one.points.clone(), style))?
                .label(one.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], style));
        }
        legend(&mut chart)
    })
}

type Root<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;
type DrawResult = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// Draws onto a white SVG canvas and returns the SVG text.
fn draw(title: &str, paint: impl FnOnce(&Root<'_>) -> DrawResult) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)
            .and_then(|()| paint(&root))
            .and_then(|()| root.present())
            .map_err(|error| anyhow!("cannot draw the chart \"{title}\": {error}"))?;
    }
    Ok(svg)
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .label_font(("sans-serif", 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()
}
