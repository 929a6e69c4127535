//! Settlement reconciliation: an acquirer's daily settlement file matched
//! line by line against the ledger's movements through that acquirer's
//! clearing account on the same Bahrain-time business day.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use tahseel_core::time::HUB_TIME_ZONE;
use tahseel_core::Fils;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::store::{now, Store, StoredReconciliation};

/// One line of a settlement file (columns of `protocol::SETTLEMENT_HEADER`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRow {
    settlement_date: NaiveDate,
    record_type: String,
    acquirer_ref: String,
    merchant_ref: String,
    amount: Fils,
    currency: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Item {
    /// The line in the file (header is line 1); none for what only the ledger has.
    pub line: Option<usize>,
    pub record_type: String,
    pub acquirer_ref: String,
    /// The merchant reference the acquirer gave (our payment or refund id).
    pub merchant_ref: Option<String>,
    pub amount: Fils,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Mismatch {
    pub line: usize,
    pub record_type: String,
    pub acquirer_ref: String,
    pub acquirer_amount: Fils,
    pub ledger_amount: Fils,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub acquirer: String,
    pub settlement_date: NaiveDate,
    pub matched: Vec<Item>,
    /// In the acquirer's file, not in our ledger.
    pub missing_on_our_side: Vec<Item>,
    /// In our ledger, not in the acquirer's file.
    pub missing_at_acquirer: Vec<Item>,
    pub amount_mismatches: Vec<Mismatch>,
}

impl Report {
    pub fn mismatch_count(&self) -> usize {
        self.missing_on_our_side.len()
            + self.missing_at_acquirer.len()
            + self.amount_mismatches.len()
    }

    /// The report as lines for a terminal.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "settlement {} of acquirer {}",
            self.settlement_date, self.acquirer
        )];
        for i in &self.matched {
            out.push(format!(
                "MATCHED            line {:>4}  {:<7} {}  {}",
                i.line.unwrap_or(0),
                i.record_type,
                i.acquirer_ref,
                i.amount
            ));
        }
        for i in &self.missing_on_our_side {
            out.push(format!(
                "MISSING ON OUR SIDE line {:>4}  {:<7} {}  {}",
                i.line.unwrap_or(0),
                i.record_type,
                i.acquirer_ref,
                i.amount
            ));
        }
        for i in &self.missing_at_acquirer {
            out.push(format!(
                "MISSING AT ACQUIRER           {:<7} {}  {}",
                i.record_type, i.acquirer_ref, i.amount
            ));
        }
        for m in &self.amount_mismatches {
            out.push(format!(
                "AMOUNT MISMATCH    line {:>4}  {:<7} {}  acquirer {} ledger {}",
                m.line, m.record_type, m.acquirer_ref, m.acquirer_amount, m.ledger_amount
            ));
        }
        out.push(format!(
            "{} matched, {} mismatched",
            self.matched.len(),
            self.mismatch_count()
        ));
        out
    }
}

/// Reads a settlement file; every bad line is named with its number.
fn parse(text: &str) -> Result<(NaiveDate, Vec<(usize, FileRow)>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.deserialize::<FileRow>().enumerate() {
        let line = i + 2;
        match record {
            Ok(r) if r.currency != "BHD" => {
                errors.push(format!("line {line}: currency {} is not BHD", r.currency))
            }
            Ok(r) if !matches!(r.record_type.as_str(), "capture" | "refund") => {
                errors.push(format!(
                    "line {line}: record_type {:?} is not capture or refund",
                    r.record_type
                ))
            }
            Ok(r) => rows.push((line, r)),
            Err(e) => errors.push(format!("line {line}: {e}")),
        }
    }
    let mut dates: Vec<NaiveDate> = rows.iter().map(|(_, r)| r.settlement_date).collect();
    dates.dedup();
    if dates.len() > 1 {
        errors.push(format!("the file mixes settlement dates: {dates:?}"));
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(format!(
            "settlement file not read:\n{}",
            errors.join("\n")
        )));
    }
    let date = dates
        .first()
        .copied()
        .ok_or_else(|| Error::Invalid("the settlement file has no lines".into()))?;
    Ok((date, rows))
}

/// Matches `text` against the ledger, keeps the result and returns it.
pub async fn reconcile_file(
    store: &Store,
    acquirer: &str,
    source: &str,
    text: &str,
) -> Result<(Uuid, Report)> {
    let (date, rows) = parse(text)?;
    let start = HUB_TIME_ZONE
        .from_local_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("Bahrain has no DST gaps")
        .to_utc();
    let end = start + chrono::Duration::days(1);
    let mut ledger: BTreeMap<(String, String), Fils> = store
        .ledger_movements(acquirer, start, end)
        .await?
        .into_iter()
        .map(|m| ((m.record_type.to_owned(), m.acquirer_ref), m.amount))
        .collect();
    let mut report = Report {
        acquirer: acquirer.to_owned(),
        settlement_date: date,
        matched: vec![],
        missing_on_our_side: vec![],
        missing_at_acquirer: vec![],
        amount_mismatches: vec![],
    };
    for (line, row) in rows {
        let item = Item {
            line: Some(line),
            record_type: row.record_type.clone(),
            acquirer_ref: row.acquirer_ref.clone(),
            merchant_ref: Some(row.merchant_ref.clone()),
            amount: row.amount,
        };
        match ledger.remove(&(row.record_type.clone(), row.acquirer_ref.clone())) {
            None => report.missing_on_our_side.push(item),
            Some(ours) if ours == row.amount => report.matched.push(item),
            Some(ours) => report.amount_mismatches.push(Mismatch {
                line,
                record_type: row.record_type,
                acquirer_ref: row.acquirer_ref,
                acquirer_amount: row.amount,
                ledger_amount: ours,
            }),
        }
    }
    for ((record_type, acquirer_ref), amount) in ledger {
        report.missing_at_acquirer.push(Item {
            line: None,
            record_type,
            acquirer_ref,
            merchant_ref: None,
            amount,
        });
    }
    let id = Uuid::now_v7();
    store
        .save_reconciliation(&StoredReconciliation {
            id,
            acquirer: acquirer.to_owned(),
            settlement_date: date,
            source: source.to_owned(),
            matched: report.matched.len() as i32,
            mismatched: report.mismatch_count() as i32,
            report: serde_json::to_value(&report).expect("report serializes"),
            created_at: now(),
        })
        .await?;
    Ok((id, report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_named() {
        let text = "settlement_date,record_type,acquirer_ref,merchant_ref,amount,currency\n\
                    2026-11-29,capture,a,m,1.000,BHD\n\
                    2026-11-29,chargeback,b,m,1.000,BHD\n\
                    2026-11-29,capture,c,m,1.0001,BHD\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(err.contains("line 3: record_type"), "{err}");
        assert!(err.contains("line 4:"), "{err}");
        assert!(!err.contains("line 2"), "{err}");
    }
}
