//! Charts of a report, period against comparison period: collections by
//! month as two lines, by any other grouping as paired bars. Drawn as SVG
//! (text stays text, so Arabic is shaped by whatever shows it) and turned
//! into PNG with resvg, which shapes Arabic with the system's fonts.

use plotters::prelude::*;

use crate::error::{Error, Result};
use crate::i18n::{t, Lang};
use crate::report::Report;
use crate::store::Dimension;

const WIDTH: u32 = 960;
const HEIGHT: u32 = 540;
const NOW: RGBColor = RGBColor(11, 83, 148);
const BEFORE: RGBColor = RGBColor(160, 170, 180);

/// What the bars or lines measure.
#[derive(Clone, Copy)]
enum Measure {
    /// Thousands of dinars (chart scale only; figures stay in fils).
    Amount,
    Count,
}

fn thousands_bhd(fils: i64) -> f64 {
    fils as f64 / 1_000_000.0
}

fn label(lang: Lang, g: &crate::report::Group) -> String {
    match lang {
        Lang::En => g.name.en.clone(),
        Lang::Ar => g.name.ar.clone(),
    }
}

fn draw_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Invalid(format!("chart: {e:?}"))
}

/// The chart for a report grouped by one dimension, as SVG.
pub fn svg(report: &Report, lang: Lang) -> Result<String> {
    let [dim] = report.by[..] else {
        return Err(Error::Invalid("a chart needs a report grouped by one dimension (--by month, channel, service, agency or method)".into()));
    };
    let measure =
        if dim == Dimension::Month || dim == Dimension::Service || dim == Dimension::Agency {
            Measure::Amount
        } else {
            Measure::Count
        };
    let value = |f: &crate::report::Figures, before: bool| match (measure, before) {
        (Measure::Amount, false) => thousands_bhd(f.amount.as_i64()),
        (Measure::Amount, true) => thousands_bhd(f.compare_amount.as_i64()),
        (Measure::Count, false) => f.count as f64,
        (Measure::Count, true) => f.compare_count as f64,
    };
    let title = t(
        lang,
        "report-title",
        &[
            ("period", report.period.describe(lang)),
            ("compare", report.compare.describe(lang)),
        ],
    );
    let unit = match measure {
        Measure::Amount => t(lang, "chart-thousands-bhd", &[]),
        Measure::Count => t(lang, "col-count", &[]),
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        if dim == Dimension::Month {
            // The months of the period, each against the same month a year earlier.
            let mut groups: Vec<&crate::report::Group> = report
                .groups
                .iter()
                .filter(|g| {
                    g.key.as_str() >= report.period.from.format("%Y-%m").to_string().as_str()
                })
                .collect();
            groups.sort_by(|a, b| a.key.cmp(&b.key));
            // The comparison months come back as groups of their own, with
            // only comparison figures.
            let mut before: Vec<&crate::report::Group> = report
                .groups
                .iter()
                .filter(|g| {
                    g.key.as_str() < report.period.from.format("%Y-%m").to_string().as_str()
                })
                .collect();
            before.sort_by(|a, b| a.key.cmp(&b.key));
            let earlier: Vec<f64> = before.iter().map(|g| value(&g.figures, true)).collect();
            let now: Vec<f64> = groups.iter().map(|g| value(&g.figures, false)).collect();
            let top = now.iter().chain(&earlier).cloned().fold(1.0, f64::max) * 1.15;
            let n = now.len().max(earlier.len()).max(1);
            let mut chart = ChartBuilder::on(&root)
                .caption(&title, ("sans-serif", 22))
                .margin(20)
                .x_label_area_size(40)
                .y_label_area_size(80)
                .build_cartesian_2d(0..n.saturating_sub(1).max(1), 0.0..top)
                .map_err(draw_err)?;
            let months: Vec<String> = groups.iter().map(|g| g.key.clone()).collect();
            chart
                .configure_mesh()
                .x_labels(n)
                .x_label_formatter(&|i| months.get(*i).cloned().unwrap_or_default())
                .y_label_formatter(&|v| format!("{v:.0}"))
                .y_desc(unit.as_str())
                .draw()
                .map_err(draw_err)?;
            chart
                .draw_series(LineSeries::new(
                    earlier.iter().enumerate().map(|(i, v)| (i, *v)),
                    BEFORE.stroke_width(3),
                ))
                .map_err(draw_err)?
                .label(report.compare.describe(lang))
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], BEFORE.stroke_width(3))
                });
            chart
                .draw_series(LineSeries::new(
                    now.iter().enumerate().map(|(i, v)| (i, *v)),
                    NOW.stroke_width(3),
                ))
                .map_err(draw_err)?
                .label(report.period.describe(lang))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], NOW.stroke_width(3)));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .background_style(WHITE)
                .border_style(BLACK)
                .draw()
                .map_err(draw_err)?;
        } else {
            let groups: Vec<&crate::report::Group> = report.groups.iter().take(12).collect();
            let top = groups
                .iter()
                .flat_map(|g| [value(&g.figures, false), value(&g.figures, true)])
                .fold(1.0, f64::max)
                * 1.15;
            let n = groups.len().max(1);
            let mut chart = ChartBuilder::on(&root)
                .caption(&title, ("sans-serif", 22))
                .margin(20)
                .x_label_area_size(60)
                .y_label_area_size(80)
                .build_cartesian_2d(0.0..n as f64, 0.0..top)
                .map_err(draw_err)?;
            let names: Vec<String> = groups.iter().map(|g| label(lang, g)).collect();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n * 2 + 1)
                .x_label_formatter(&|x| {
                    let i = x.floor() as usize;
                    if (x - i as f64 - 0.5).abs() < 0.01 {
                        names.get(i).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .y_label_formatter(&|v| format!("{v:.0}"))
                .y_desc(unit.as_str())
                .draw()
                .map_err(draw_err)?;
            chart
                .draw_series(groups.iter().enumerate().map(|(i, g)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x + 0.12, 0.0), (x + 0.48, value(&g.figures, true))],
                        BEFORE.filled(),
                    )
                }))
                .map_err(draw_err)?
                .label(report.compare.describe(lang))
                .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], BEFORE.filled()));
            chart
                .draw_series(groups.iter().enumerate().map(|(i, g)| {
                    let x = i as f64;
                    Rectangle::new(
                        [(x + 0.52, 0.0), (x + 0.88, value(&g.figures, false))],
                        NOW.filled(),
                    )
                }))
                .map_err(draw_err)?
                .label(report.period.describe(lang))
                .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], NOW.filled()));
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE)
                .border_style(BLACK)
                .draw()
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    if lang.is_rtl() {
        // Let viewers lay the labels out right to left.
        out = out.replacen("<svg ", "<svg direction=\"rtl\" ", 1);
    }
    Ok(out)
}

/// An SVG rendered to PNG, with the system's fonts (Arabic from Noto, where installed).
pub fn png(svg: &str) -> Result<Vec<u8>> {
    let mut options = resvg::usvg::Options::default();
    let db = options.fontdb_mut();
    db.load_system_fonts();
    for family in ["Noto Sans", "DejaVu Sans"] {
        if db
            .faces()
            .any(|f| f.families.iter().any(|(name, _)| name == family))
        {
            db.set_sans_serif_family(family);
            break;
        }
    }
    let tree = resvg::usvg::Tree::from_str(svg, &options).map_err(draw_err)?;
    let size = tree.size().to_int_size();
    let mut pixmap = resvg::tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| Error::Invalid("chart: empty size".into()))?;
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::default(),
        &mut pixmap.as_mut(),
    );
    pixmap.encode_png().map_err(draw_err)
}
