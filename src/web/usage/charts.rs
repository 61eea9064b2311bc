//! The Usage pages' charts: SVG drawn on the server by plotters, placed in the page as markup. SVG presentation
//! attributes carry the colours, so the charts need no inline style or script and pass the CSP; each chart has a
//! caption and its figures as a table beside it for screen readers and for reading exact values.

use plotters::prelude::*;

use super::super::format::{Scale, scale_for};
use crate::usage::TrendPoint;

const WIDTH: u32 = 760;
const TREND_HEIGHT: u32 = 300;
const BAR_HEIGHT: u32 = 34;
const BANDWIDTH: RGBColor = RGBColor(0x0b, 0x6b, 0xd9);
const STORAGE: RGBColor = RGBColor(0xe0, 0x8a, 0x00);
const GRID: RGBColor = RGBColor(0xe3, 0xe8, 0xee);
const INK: RGBColor = RGBColor(0x33, 0x3d, 0x4a);

/// A chart that could not be drawn is left out of the page with a note, never an error page: the figures are in
/// the table next to it.
pub(crate) type Svg = Option<String>;

/// Bandwidth and average storage per bucket, in one unit chosen for the larger of them.
pub(crate) fn trend(points: &[TrendPoint]) -> (Svg, Scale) {
    let largest = points.iter().map(|p| p.bandwidth.max(p.storage)).fold(0.0, f64::max);
    let scale = scale_for(largest);
    if points.is_empty() {
        return (None, scale);
    }
    let mut svg = String::new();
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, TREND_HEIGHT)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = (largest / scale.divisor * 1.1).max(1.0);
        let last = points.len().saturating_sub(1).max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0..last, 0.0..top)?;
        let labels: Vec<&str> = points.iter().map(|p| p.label.as_str()).collect();
        chart
            .configure_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style(("sans-serif", 13).into_font().color(&INK))
            .x_labels(labels.len().min(8))
            .x_label_formatter(&|i| labels.get(*i).map_or_else(String::new, |l| (*l).to_string()))
            .y_desc(scale.unit)
            .draw()?;
        for (color, value) in [(BANDWIDTH, 0), (STORAGE, 1)] {
            let series = points.iter().enumerate().map(|(i, p)| {
                let v = if value == 0 { p.bandwidth } else { p.storage };
                (i, v / scale.divisor)
            });
            chart.draw_series(LineSeries::new(series, color.stroke_width(2)))?;
        }
        root.present()?;
        Ok(())
    })();
    (drawn.ok().map(|_| svg), scale)
}

/// One bar per account, largest first, in the unit chosen for the largest.
pub(crate) fn top(bars: &[(String, f64)], is_size: bool) -> (Svg, Scale) {
    let largest = bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
    let scale = if is_size { scale_for(largest) } else { Scale::COUNT };
    if bars.is_empty() {
        return (None, scale);
    }
    let mut svg = String::new();
    let height = BAR_HEIGHT * bars.len() as u32 + 48;
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let right = (largest / scale.divisor * 1.05).max(1.0);
        let rows = bars.len();
        // Row 0 at the top: the axis counts up from the bottom, so the largest bar gets the highest row.
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(220)
            .build_cartesian_2d(0.0..right, (0..(rows - 1).max(1)).into_segmented())?;
        let names: Vec<String> = bars.iter().map(|(name, _)| clip(name, 28)).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(GRID)
            .bold_line_style(GRID)
            .axis_style(INK)
            .label_style(("sans-serif", 13).into_font().color(&INK))
            .y_labels(rows)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < rows => names[rows - 1 - *i].clone(),
                _ => String::new(),
            })
            .x_desc(scale.unit)
            .draw()?;
        chart.draw_series(
            Histogram::horizontal(&chart)
                .style(BANDWIDTH.mix(0.85).filled())
                .margin(6)
                .data(bars.iter().enumerate().map(|(i, (_, v))| (rows - 1 - i, v / scale.divisor))),
        )?;
        root.present()?;
        Ok(())
    })();
    (drawn.ok().map(|_| svg), scale)
}

fn clip(s: &str, max: usize) -> String {
    if s.chars().count() > max { format!("{}…", s.chars().take(max - 1).collect::<String>()) } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_without_inline_style_and_with_names_escaped() {
        let bars = vec![("<b>Acme</b>".to_string(), 2048.0), ("Beta".to_string(), 10.0)];
        let (svg, scale) = top(&bars, true);
        let svg = svg.expect("a chart");
        assert!(svg.starts_with("<svg") && !svg.contains("style=") && !svg.contains("<script"));
        assert!(svg.contains("&lt;b&gt;Acme&lt;/b&gt;") && !svg.contains("<b>"));
        assert_eq!(scale.unit, "GB");
        assert!(top(&bars[..1], false).0.is_some(), "one account still draws");
        assert!(top(&[], false).0.is_none(), "nothing to draw");

        let points: Vec<TrendPoint> = (0..3)
            .map(|i| TrendPoint { label: format!("2026-11-0{}", i + 1), bandwidth: 10.0 * f64::from(i), storage: 5.0 })
            .collect();
        let (svg, scale) = trend(&points);
        assert!(svg.expect("a chart").contains("2026-11-01"));
        assert_eq!(scale.unit, "MB");
        assert!(trend(&points[..1]).0.is_some(), "one bucket still draws");
    }
}
