//! The Usage pages' charts: SVG drawn on the server by plotters, placed in the page as markup. SVG presentation
//! attributes carry the colours, so the charts need no inline style or script and pass the CSP; each chart has a
//! caption and its figures as a table beside it for screen readers and for reading exact values.
//!
//! Each chart is drawn twice, for a wide and a narrow container; the page shows the one that fits (a container
//! query) at or near its own size, so labels read at 12 px on a desktop and on a phone alike instead of scaling
//! with the card.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::super::format::Scale;

/// A chart's two drawings.
pub(crate) struct Drawn {
    pub(crate) wide: String,
    pub(crate) narrow: String,
}

/// A chart that could not be drawn is left out of the page with a note, never an error page: the figures are in
/// the table next to it.
pub(crate) type Svg = Option<Drawn>;

/// One drawing's size and how much text it has room for.
#[derive(Clone, Copy)]
struct Frame {
    width: u32,
    line_height: u32,
    x_labels: usize,
    name_chars: usize,
}

const WIDE: Frame = Frame { width: 560, line_height: 210, x_labels: 6, name_chars: 26 };
const NARROW: Frame = Frame { width: 320, line_height: 190, x_labels: 3, name_chars: 14 };
/// The labels' size: plotters writes a font's size divided by 1.24 into the SVG, so this is 12 px there.
const FONT: f64 = 12.0 * 1.24;
/// About how wide a character of the label font is, to size the area for account names.
const CHAR_WIDTH: u32 = 7;
const BAR_HEIGHT: u32 = 30;

pub(crate) const BANDWIDTH: RGBColor = RGBColor(0x0b, 0x6b, 0xd9);
pub(crate) const STORAGE: RGBColor = RGBColor(0xc2, 0x6a, 0x00);
const GRID: RGBColor = RGBColor(0xe6, 0xea, 0xef);
const INK: RGBColor = RGBColor(0x33, 0x3d, 0x4a);

/// A point of a line chart: its label, its value in the chart's unit, and whether its bucket is incomplete (the
/// segments to it are dashed).
pub(crate) struct Point<'a> {
    pub(crate) label: &'a str,
    pub(crate) value: f64,
    pub(crate) partial: bool,
}

fn draw(
    frame: Frame,
    height: u32,
    paint: impl Fn(&DrawingArea<SVGBackend, Shift>, Frame) -> Drawing,
) -> Option<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (frame.width, height)).into_drawing_area();
        paint(&root, frame).ok()?;
        root.present().ok()?;
    }
    Some(svg)
}

type Drawing = Result<(), Box<dyn std::error::Error>>;

/// One series over time, its own axis starting at zero; light major grid lines only.
pub(crate) fn line(points: &[Point], color: RGBColor) -> Svg {
    if points.is_empty() {
        return None;
    }
    let paint = |root: &DrawingArea<SVGBackend, Shift>, frame: Frame| -> Drawing {
        root.fill(&WHITE)?;
        let largest = points.iter().map(|p| p.value).fold(0.0, f64::max);
        let top = if largest > 0.0 { largest * 1.15 } else { 1.0 };
        let last = points.len().saturating_sub(1).max(1);
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .margin_right(18)
            .x_label_area_size(28)
            .y_label_area_size(44)
            .build_cartesian_2d(0..last, 0.0..top)?;
        let labels: Vec<&str> = points.iter().map(|p| p.label).collect();
        chart
            .configure_mesh()
            // Minor grid lines only on the value axis, where none are asked for: plotters never ends its search
            // for zero of them on a whole-number axis.
            .y_max_light_lines(0)
            .bold_line_style(GRID)
            .disable_x_mesh()
            .axis_style(INK.mix(0.5))
            .label_style(("sans-serif", FONT).into_font().color(&INK))
            .x_labels(frame.x_labels.min(points.len()))
            .y_labels(5)
            .x_label_formatter(&|i| labels.get(*i).map_or_else(String::new, |l| (*l).to_string()))
            .y_label_formatter(&|v| figure(*v))
            .draw()?;
        for (i, pair) in points.windows(2).enumerate() {
            let segment = [(i, pair[0].value), (i + 1, pair[1].value)];
            if pair[0].partial || pair[1].partial {
                chart.draw_series(DashedLineSeries::new(segment, 5, 4, color.stroke_width(2)))?;
            } else {
                chart.draw_series(LineSeries::new(segment, color.stroke_width(2)))?;
            }
        }
        // A few points get markers, so a single bucket shows and an incomplete one is hollow.
        if points.len() <= 13 {
            chart.draw_series(points.iter().enumerate().map(|(i, p)| {
                let style = if p.partial { color.stroke_width(2) } else { color.filled() };
                Circle::new((i, p.value), 4, style)
            }))?;
        }
        Ok(())
    };
    Some(Drawn { wide: draw(WIDE, WIDE.line_height, paint)?, narrow: draw(NARROW, NARROW.line_height, paint)? })
}

/// One bar per account, largest first, each with its name on the left and its value (`shown`) at its end.
pub(crate) fn bars(bars: &[(String, f64, String)]) -> Svg {
    if bars.is_empty() {
        return None;
    }
    let rows = bars.len();
    let height = BAR_HEIGHT * rows as u32 + 20;
    let paint = |root: &DrawingArea<SVGBackend, Shift>, frame: Frame| -> Drawing {
        root.fill(&WHITE)?;
        let names: Vec<String> = bars.iter().map(|(name, ..)| clip(name, frame.name_chars)).collect();
        let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as u32;
        let name_area = (longest * CHAR_WIDTH + 10).min(frame.width * 2 / 5);
        let largest = bars.iter().map(|(_, v, _)| *v).fold(0.0, f64::max);
        // Room after the longest bar for its value.
        let right = if largest > 0.0 { largest * 1.3 } else { 1.0 };
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .y_label_area_size(name_area)
            .build_cartesian_2d(0.0..right, (0..(rows - 1).max(1)).into_segmented())?;
        // Row 0 at the bottom: the largest bar takes the highest row.
        chart
            .configure_mesh()
            .disable_mesh()
            .x_max_light_lines(0)
            .disable_x_axis()
            .axis_style(INK.mix(0.5))
            .label_style(("sans-serif", FONT).into_font().color(&INK))
            .y_labels(rows)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < rows => names[rows - 1 - *i].clone(),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(
            Histogram::horizontal(&chart)
                .style(BANDWIDTH.mix(0.85).filled())
                .margin(5)
                .data(bars.iter().enumerate().map(|(i, (_, v, _))| (rows - 1 - i, *v))),
        )?;
        let font = ("sans-serif", FONT).into_font().color(&INK).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(bars.iter().enumerate().map(|(i, (_, v, shown))| {
            EmptyElement::at((*v, SegmentValue::CenterOf(rows - 1 - i)))
                + Text::new(shown.clone(), (5, 0), font.clone())
        }))?;
        Ok(())
    };
    Some(Drawn { wide: draw(WIDE, height, paint)?, narrow: draw(NARROW, height, paint)? })
}

/// A value on an axis: no more decimals than it needs.
fn figure(v: f64) -> String {
    if v >= 10.0 || v == 0.0 { format!("{v:.0}") } else { format!("{v:.1}") }
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() > max { format!("{}…", s.chars().take(max - 1).collect::<String>()) } else { s.to_string() }
}

/// The unit for a chart of sizes (MB as Kaltura gives them) or of counts.
pub(crate) fn scale(largest: f64, is_size: bool) -> Scale {
    if is_size { super::super::format::scale_for(largest) } else { Scale::COUNT }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_without_inline_style_and_with_names_escaped() {
        let bars_in =
            vec![("<b>Acme</b>".to_string(), 2.0, "2.0 GB".to_string()), ("Beta".into(), 0.5, "512 MB".into())];
        let drawn = bars(&bars_in).expect("a chart");
        for svg in [&drawn.wide, &drawn.narrow] {
            assert!(svg.starts_with("<svg") && !svg.contains("style=") && !svg.contains("<script"));
            assert!(svg.contains("&lt;b&gt;Acme&lt;/b&gt;") && !svg.contains("<b>"));
            assert!(svg.contains("2.0 GB") && svg.contains("512 MB"), "each bar says its value");
            assert!(svg.contains(r#"font-size="12""#));
        }
        assert!(bars(&bars_in[..1]).is_some(), "one account still draws");
        assert!(bars(&[]).is_none(), "nothing to draw");

        let labels = ["11/01/2026", "11/02/2026", "11/03/2026"];
        let points: Vec<Point> =
            labels.iter().enumerate().map(|(i, l)| Point { label: l, value: i as f64, partial: i == 2 }).collect();
        let drawn = line(&points, BANDWIDTH).expect("a chart");
        assert!(drawn.wide.contains("11/01/2026"));
        assert!(drawn.wide.matches("<polyline").count() > 2, "the partial bucket's segment is drawn in dashes");
        assert!(line(&points[..1], STORAGE).is_some(), "one bucket still draws");
    }
}
