//! Collections reports read from the daily rollups: value and count for a
//! period against a comparison period, grouped by agency, service, channel,
//! method or month (or a pair of them), with growth; and the half-year
//! statement written from the same figures.

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use serde::Serialize;
use tahseel_core::agency::Names;
use tahseel_core::Fils;

use crate::error::{Error, Result};
use crate::i18n::{t, Lang};
use crate::store::{Dimension, RollupRow, Store};

/// An inclusive range of Bahrain-time days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    pub label: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn month_end(y: i32, m: u32) -> Option<NaiveDate> {
    date(y, m, 1)?
        .checked_add_months(Months::new(1))?
        .pred_opt()
}

impl Period {
    /// `2018`, `2018-H1`, `2018-Q2` or `2018-03`.
    pub fn parse(text: &str) -> Result<Period> {
        let bad = || {
            Error::Invalid(format!(
                "period {text:?} must look like 2018, 2018-H1, 2018-Q2 or 2018-03"
            ))
        };
        let (year, rest) = match text.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (text, None),
        };
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(1970..=9999).contains(&year) {
            return Err(bad());
        }
        let (first, last) = match rest {
            None => (1, 12),
            Some("H1") => (1, 6),
            Some("H2") => (7, 12),
            Some(q) if q.len() == 2 && q.starts_with('Q') => {
                let n: u32 = q[1..].parse().map_err(|_| bad())?;
                if !(1..=4).contains(&n) {
                    return Err(bad());
                }
                (n * 3 - 2, n * 3)
            }
            Some(m) if m.len() == 2 => {
                let n: u32 = m.parse().map_err(|_| bad())?;
                if !(1..=12).contains(&n) {
                    return Err(bad());
                }
                (n, n)
            }
            Some(_) => return Err(bad()),
        };
        Ok(Period {
            label: text.to_owned(),
            from: date(year, first, 1).ok_or_else(bad)?,
            to: month_end(year, last).ok_or_else(bad)?,
        })
    }

    pub fn between(from: NaiveDate, to: NaiveDate) -> Result<Period> {
        if from > to {
            return Err(Error::Invalid(format!("--from {from} is after --to {to}")));
        }
        Ok(Period {
            label: format!("{from}..{to}"),
            from,
            to,
        })
    }

    /// The same days a year earlier, whole months staying whole.
    pub fn year_before(&self) -> Period {
        let back = |d: NaiveDate| {
            d.checked_sub_months(Months::new(12))
                .expect("a year earlier exists")
        };
        let whole_months = self.from.day() == 1 && self.to.succ_opt().is_some_and(|n| n.day() == 1);
        let to = if whole_months {
            month_end(self.to.year() - 1, self.to.month()).expect("month end")
        } else {
            back(self.to)
        };
        let label = match self.label.split_once('-') {
            Some((y, rest)) if y.len() == 4 && !self.label.contains("..") => {
                format!("{}-{rest}", self.from.year() - 1)
            }
            _ if self.label.len() == 4 => format!("{}", self.from.year() - 1),
            _ => format!("{}..{}", back(self.from), to),
        };
        Period {
            label,
            from: back(self.from),
            to,
        }
    }

    /// "January–June 2018", "الفترة من يناير حتى يونيو 2018".
    pub fn describe(&self, lang: Lang) -> String {
        let month = |m: u32| t(lang, &format!("month-{m}"), &[]);
        if self.from.year() == self.to.year() {
            t(
                lang,
                "period-range",
                &[
                    ("from", month(self.from.month())),
                    ("to", month(self.to.month())),
                    ("year", self.from.year().to_string()),
                ],
            )
        } else {
            t(
                lang,
                "period-range-years",
                &[
                    ("from", month(self.from.month())),
                    ("fromYear", self.from.year().to_string()),
                    ("to", month(self.to.month())),
                    ("toYear", self.to.year().to_string()),
                ],
            )
        }
    }
}

/// Growth as the figures say it: percent with one decimal, and a multiple
/// with two, both from integer arithmetic; none when the earlier figure is zero.
fn tenths_pct(now: i64, before: i64) -> Option<f64> {
    if before == 0 {
        return None;
    }
    let tenths = round_div(
        (i128::from(now) - i128::from(before)) * 1000,
        i128::from(before),
    );
    Some(tenths as f64 / 10.0)
}

fn multiple(now: i64, before: i64) -> Option<f64> {
    if before == 0 {
        return None;
    }
    Some(round_div(i128::from(now) * 100, i128::from(before)) as f64 / 100.0)
}

/// `num / den` rounded half away from zero.
fn round_div(num: i128, den: i128) -> i128 {
    let q = (2 * num.abs() + den.abs()) / (2 * den.abs());
    if (num < 0) != (den < 0) {
        -q
    } else {
        q
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub amount: Fils,
    pub count: i64,
    pub compare_amount: Fils,
    pub compare_count: i64,
    pub amount_growth_pct: Option<f64>,
    pub count_growth_pct: Option<f64>,
    pub amount_multiple: Option<f64>,
    pub count_multiple: Option<f64>,
    /// Refunds paid in the period (already taken off `amount` with `--net`).
    pub refunded: Fils,
}

impl Figures {
    fn new(
        amount: i64,
        count: i64,
        compare_amount: i64,
        compare_count: i64,
        refunded: i64,
    ) -> Figures {
        Figures {
            amount: Fils::new(amount),
            count,
            compare_amount: Fils::new(compare_amount),
            compare_count,
            amount_growth_pct: tenths_pct(amount, compare_amount),
            count_growth_pct: tenths_pct(count, compare_count),
            amount_multiple: multiple(amount, compare_amount),
            count_multiple: multiple(count, compare_count),
            refunded: Fils::new(refunded),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// `GDT`, `GDT/vehicle-registration`, `mobile`, `debit`, `2018-03`, or
    /// two of them joined by `|`.
    pub key: String,
    pub name: Names,
    #[serde(flatten)]
    pub figures: Figures,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub period: Period,
    pub compare: Period,
    pub by: Vec<Dimension>,
    pub net: bool,
    pub total: Figures,
    pub groups: Vec<Group>,
}

pub struct ReportRequest {
    pub period: Period,
    pub compare: Option<Period>,
    pub by: Vec<Dimension>,
    pub net: bool,
}

/// Parses `--by service` or `--by service,channel`.
pub fn parse_dimensions(text: &str) -> Result<Vec<Dimension>> {
    let dims: Vec<Dimension> = text
        .split(',')
        .map(|d| {
            Dimension::parse(d.trim()).ok_or_else(|| {
                Error::Invalid(format!(
                    "--by {d:?} is not agency, service, channel, method or month"
                ))
            })
        })
        .collect::<Result<_>>()?;
    if dims.is_empty() || dims.len() > 2 || (dims.len() == 2 && dims[0] == dims[1]) {
        return Err(Error::Invalid(
            "--by takes one dimension or a pair of different ones".into(),
        ));
    }
    Ok(dims)
}

type Sums = (i64, i64, i64, i64);

fn fold(rows: Vec<RollupRow>) -> BTreeMap<Vec<String>, Sums> {
    rows.into_iter()
        .map(|r| {
            (
                r.key,
                (
                    r.values.captured_fils,
                    r.values.captured_count,
                    r.values.refunded_fils,
                    r.values.refunded_count,
                ),
            )
        })
        .collect()
}

/// Names for group keys, in both languages.
struct Namer {
    agencies: BTreeMap<String, Names>,
    services: BTreeMap<String, Names>,
}

impl Namer {
    async fn load(store: &Store) -> Result<Namer> {
        let agencies = store
            .agencies()
            .await?
            .into_iter()
            .map(|a| (a.code, a.name))
            .collect();
        let services = store
            .services(None)
            .await?
            .into_iter()
            .map(|s| (format!("{}/{}", s.agency, s.code), s.name))
            .collect();
        Ok(Namer { agencies, services })
    }

    fn name(&self, dim: Dimension, key: &str) -> Names {
        let both = |prefix: &str| Names {
            en: t(Lang::En, &format!("{prefix}-{key}"), &[]),
            ar: t(Lang::Ar, &format!("{prefix}-{key}"), &[]),
        };
        let known = |m: &BTreeMap<String, Names>| {
            m.get(key).cloned().unwrap_or_else(|| Names {
                en: key.to_owned(),
                ar: key.to_owned(),
            })
        };
        match dim {
            Dimension::Agency => known(&self.agencies),
            Dimension::Service => known(&self.services),
            Dimension::Channel => both("channel"),
            Dimension::Method => both("method"),
            Dimension::Month => Names {
                en: key.to_owned(),
                ar: key.to_owned(),
            },
        }
    }
}

pub async fn build(store: &Store, req: ReportRequest) -> Result<Report> {
    let compare = req.compare.unwrap_or_else(|| req.period.year_before());
    let now = fold(
        store
            .rollup_sums(req.period.from, req.period.to, &req.by)
            .await?,
    );
    let before = fold(store.rollup_sums(compare.from, compare.to, &req.by).await?);
    let value = |s: &Sums| if req.net { s.0 - s.2 } else { s.0 };
    let namer = Namer::load(store).await?;
    let mut keys: Vec<&Vec<String>> = now.keys().chain(before.keys()).collect();
    keys.sort();
    keys.dedup();
    let zero = (0, 0, 0, 0);
    let mut groups: Vec<Group> = keys
        .into_iter()
        .map(|k| {
            let (n, b) = (now.get(k).unwrap_or(&zero), before.get(k).unwrap_or(&zero));
            let names: Vec<Names> = req
                .by
                .iter()
                .zip(k)
                .map(|(d, part)| namer.name(*d, part))
                .collect();
            Group {
                key: k.join("|"),
                name: Names {
                    en: names
                        .iter()
                        .map(|n| n.en.as_str())
                        .collect::<Vec<_>>()
                        .join(" · "),
                    ar: names
                        .iter()
                        .map(|n| n.ar.as_str())
                        .collect::<Vec<_>>()
                        .join(" · "),
                },
                figures: Figures::new(value(n), n.1, value(b), b.1, n.2),
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        b.figures
            .amount
            .cmp(&a.figures.amount)
            .then(a.key.cmp(&b.key))
    });
    let sum = |m: &BTreeMap<Vec<String>, Sums>| {
        m.values().fold(zero, |acc, s| {
            (acc.0 + s.0, acc.1 + s.1, acc.2 + s.2, acc.3 + s.3)
        })
    };
    let (n, b) = (sum(&now), sum(&before));
    Ok(Report {
        total: Figures::new(value(&n), n.1, value(&b), b.1, n.2),
        period: req.period,
        compare,
        by: req.by,
        net: req.net,
        groups,
    })
}

fn pct(p: Option<f64>, lang: Lang) -> String {
    p.map(|v| format!("{v:+.1}%"))
        .unwrap_or_else(|| t(lang, "growth-none", &[]))
}

fn times(m: Option<f64>, lang: Lang) -> String {
    m.map(|v| format!("×{v:.2}"))
        .unwrap_or_else(|| t(lang, "growth-none", &[]))
}

/// Groups digits in threes: 625000 → 625,000.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

impl Report {
    pub fn text(&self, lang: Lang) -> String {
        let mut out = t(
            lang,
            "report-title",
            &[
                ("period", self.period.describe(lang)),
                ("compare", self.compare.describe(lang)),
            ],
        );
        if self.net {
            out.push(' ');
            out.push_str(&t(lang, "report-net", &[]));
        }
        out.push_str("\n\n");
        let header = [
            t(lang, "col-group", &[]),
            t(lang, "col-amount", &[]),
            t(lang, "col-count", &[]),
            t(lang, "col-compare-amount", &[]),
            t(lang, "col-compare-count", &[]),
            t(lang, "col-growth", &[]),
            t(lang, "col-multiple", &[]),
        ];
        let mut rows = vec![header.to_vec()];
        let row = |name: String, f: &Figures| {
            vec![
                name,
                f.amount.to_string(),
                grouped(f.count),
                f.compare_amount.to_string(),
                grouped(f.compare_count),
                pct(f.amount_growth_pct, lang),
                times(f.count_multiple, lang),
            ]
        };
        for g in &self.groups {
            let name = match lang {
                Lang::En => g.name.en.clone(),
                Lang::Ar => g.name.ar.clone(),
            };
            rows.push(row(name, &g.figures));
        }
        rows.push(row(t(lang, "report-total", &[]), &self.total));
        let widths: Vec<usize> = (0..7)
            .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
            .collect();
        for r in rows {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(c, v)| {
                    let pad = " ".repeat(widths[c] - v.chars().count());
                    if c == 0 {
                        format!("{v}{pad}")
                    } else {
                        format!("{pad}{v}")
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(vec![]);
        w.write_record([
            "key",
            "name_en",
            "name_ar",
            "amount",
            "count",
            "compare_amount",
            "compare_count",
            "amount_growth_pct",
            "count_growth_pct",
            "amount_multiple",
            "count_multiple",
            "refunded",
        ])
        .expect("writes to memory");
        let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
        let mut write = |key: &str, en: &str, ar: &str, f: &Figures| {
            w.write_record([
                key.to_owned(),
                en.to_owned(),
                ar.to_owned(),
                f.amount.to_string(),
                f.count.to_string(),
                f.compare_amount.to_string(),
                f.compare_count.to_string(),
                opt(f.amount_growth_pct),
                opt(f.count_growth_pct),
                opt(f.amount_multiple),
                opt(f.count_multiple),
                f.refunded.to_string(),
            ])
            .expect("writes to memory");
        };
        for g in &self.groups {
            write(&g.key, &g.name.en, &g.name.ar, &g.figures);
        }
        write("total", "Total", "المجموع", &self.total);
        String::from_utf8(w.into_inner().expect("flushes to memory"))
            .expect("CSV of UTF-8 is UTF-8")
    }
}

/// The press-release statement: value, growth, transactions, the services
/// and the channel that grew most. `by_service` and `by_channel` are the
/// same period's reports grouped that way.
pub fn statement(total: &Report, by_service: &Report, by_channel: &Report, lang: Lang) -> String {
    let f = &total.total;
    // Millions of dinars with one decimal, rounded half up, in integers.
    let tenth_millions = (f.amount.as_i64() + 50_000_000) / 100_000_000;
    let millions = format!("{}.{}", tenth_millions / 10, tenth_millions % 10);
    let growth = f
        .amount_growth_pct
        .map(|g| format!("{}", g.round() as i64))
        .unwrap_or_else(|| t(lang, "growth-none", &[]));
    let mut text = t(
        lang,
        "statement-lead",
        &[
            ("period", total.period.describe(lang)),
            ("millions", millions),
            ("growth", growth),
            ("compareYear", total.compare.from.year().to_string()),
            ("count", grouped(f.count)),
        ],
    );
    let name = |g: &Group| match lang {
        Lang::En => g.name.en.clone(),
        Lang::Ar => g.name.ar.clone(),
    };
    let mut growers: Vec<&Group> = by_service
        .groups
        .iter()
        .filter(|g| g.figures.count_multiple.is_some_and(|m| m >= 1.5))
        .collect();
    growers.sort_by(|a, b| {
        b.figures
            .count_multiple
            .partial_cmp(&a.figures.count_multiple)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let items: Vec<String> = growers
        .iter()
        .take(2)
        .map(|g| {
            t(
                lang,
                "statement-service-item",
                &[
                    ("name", name(g)),
                    (
                        "multiple",
                        format!("{:.0}", g.figures.count_multiple.unwrap_or(0.0)),
                    ),
                ],
            )
        })
        .collect();
    if !items.is_empty() {
        let services = if items.len() == 2 {
            t(
                lang,
                "statement-list-and",
                &[("first", items[0].clone()), ("second", items[1].clone())],
            )
        } else {
            items[0].clone()
        };
        text.push(' ');
        text.push_str(&t(lang, "statement-services", &[("services", services)]));
    }
    if let Some(top) = by_channel
        .groups
        .iter()
        .filter(|g| g.figures.count_multiple.is_some())
        .max_by(|a, b| {
            a.figures
                .count_multiple
                .partial_cmp(&b.figures.count_multiple)
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    {
        text.push(' ');
        text.push_str(&t(
            lang,
            "statement-channel",
            &[
                ("channel", name(top)),
                (
                    "multiple",
                    format!("{:.0}", top.figures.count_multiple.unwrap_or(0.0)),
                ),
            ],
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods() {
        let h1 = Period::parse("2018-H1").unwrap();
        assert_eq!(
            (h1.from, h1.to),
            (date(2018, 1, 1).unwrap(), date(2018, 6, 30).unwrap())
        );
        let before = h1.year_before();
        assert_eq!(
            (before.label.as_str(), before.from, before.to),
            (
                "2017-H1",
                date(2017, 1, 1).unwrap(),
                date(2017, 6, 30).unwrap()
            )
        );
        let feb = Period::parse("2016-02").unwrap().year_before();
        assert_eq!(feb.to, date(2015, 2, 28).unwrap());
        assert_eq!(
            Period::parse("2018-Q2").unwrap().to,
            date(2018, 6, 30).unwrap()
        );
        assert_eq!(
            Period::parse("2018").unwrap().to,
            date(2018, 12, 31).unwrap()
        );
        for bad in ["2018-H3", "2018-Q5", "2018-13", "18", "2018-x"] {
            assert!(Period::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(h1.describe(Lang::En), "January–June 2018");
        assert_eq!(h1.describe(Lang::Ar), "الفترة من يناير حتى يونيو 2018");
    }

    #[test]
    fn growth_is_rounded_from_integers() {
        assert_eq!(tenths_pct(174, 100), Some(74.0));
        assert_eq!(tenths_pct(1, 3), Some(-66.7));
        assert_eq!(tenths_pct(5, 0), None);
        assert_eq!(multiple(500, 100), Some(5.0));
        assert_eq!(multiple(2, 3), Some(0.67));
        assert_eq!(grouped(625000), "625,000");
    }
}
