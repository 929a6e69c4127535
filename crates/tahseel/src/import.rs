//! `tahseel import payments FILE.csv`: the history of earlier collection
//! systems, loaded through the same domain rules and ledger postings as a
//! live capture (see `store::history`). Every line is checked first; one
//! bad line and nothing is imported. Importing the same file again adds
//! nothing: each payment is known by its `reference`.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tahseel_core::agency::AgencyCode;
use tahseel_core::payer::PayerId;
use tahseel_core::payment::{Channel, Method};
use tahseel_core::Fils;

use crate::error::{Error, Result};
use crate::store::{record_history_in, HistoricPayment, Store, HISTORY_BATCH};

/// Imported history is recorded under this acquirer name.
pub const IMPORT_ACQUIRER: &str = "legacy";

#[derive(Deserialize)]
struct Row {
    paid_at: String,
    agency: String,
    service: String,
    channel: String,
    method: String,
    amount: String,
    reference: String,
    #[serde(default)]
    payer: Option<String>,
}

/// A line that cannot be imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
}

/// Checks every line; returns the payments, or every bad line.
pub async fn check(
    store: &Store,
    text: &str,
) -> Result<std::result::Result<Vec<HistoricPayment>, Vec<BadLine>>> {
    let mut services = BTreeMap::new();
    for s in store.services(None).await? {
        services.insert((s.agency.clone(), s.code.clone()), (s.agency_id, s.id));
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut seen = HashSet::new();
    for (i, row) in reader.deserialize::<Row>().enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                bad.push(BadLine {
                    line,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        match parse_row(&row, &services) {
            Ok(p) if !seen.insert(p.import_ref.clone()) => bad.push(BadLine {
                line,
                reason: format!("reference {:?} appears twice in the file", p.import_ref),
            }),
            Ok(p) => out.push(p),
            Err(reason) => bad.push(BadLine { line, reason }),
        }
    }
    Ok(if bad.is_empty() { Ok(out) } else { Err(bad) })
}

fn parse_row(
    row: &Row,
    services: &BTreeMap<(String, String), (uuid::Uuid, uuid::Uuid)>,
) -> std::result::Result<HistoricPayment, String> {
    let paid_at = DateTime::parse_from_rfc3339(&row.paid_at)
        .map_err(|_| {
            format!(
                "paid_at {:?} is not RFC 3339 with an offset, like 2018-03-01T09:30:00+03:00",
                row.paid_at
            )
        })?
        .with_timezone(&Utc);
    let agency = AgencyCode::parse(&row.agency).map_err(|e| e.to_string())?;
    let &(agency_id, service_id) = services
        .get(&(row.agency.clone(), row.service.clone()))
        .ok_or_else(|| format!("service {}/{} does not exist", row.agency, row.service))?;
    let channel = Channel::parse(&row.channel).ok_or_else(|| {
        format!(
            "channel {:?} is not portal, mobile, kiosk, counter or import",
            row.channel
        )
    })?;
    let method = Method::parse(&row.method).ok_or_else(|| {
        format!(
            "method {:?} is not debit, credit, wallet or cash",
            row.method
        )
    })?;
    let amount = Fils::parse_amount(&row.amount).map_err(|e| e.to_string())?;
    let reference = row.reference.trim();
    if reference.is_empty() || reference.len() > 64 {
        return Err("reference must be 1 to 64 characters".into());
    }
    let payer = match row.payer.as_deref().filter(|p| !p.is_empty()) {
        Some(p) => PayerId::parse(p).map_err(|e| e.to_string())?.to_string(),
        None => "unknown".to_owned(),
    };
    Ok(HistoricPayment {
        import_ref: reference.to_owned(),
        paid_at,
        agency_id,
        agency,
        service_id,
        service: row.service.clone(),
        channel,
        method,
        amount,
        payer,
        bill_reference: format!("IMP-{reference}"),
    })
}

/// Imports checked payments in one transaction: all or nothing. Returns
/// how many were new.
pub async fn import(
    store: &Store,
    payments: &[HistoricPayment],
    progress: impl Fn(u64),
) -> Result<u64> {
    let mut tx = store.begin().await?;
    let mut written = 0;
    for chunk in payments.chunks(HISTORY_BATCH) {
        written += record_history_in(&mut tx, chunk, IMPORT_ACQUIRER).await? as u64;
        progress(chunk.len() as u64);
    }
    tx.commit().await?;
    Ok(written)
}

/// Reads, checks and imports a file; a file with any bad line is refused whole.
pub async fn import_file(store: &Store, text: &str, progress: impl Fn(u64)) -> Result<u64> {
    match check(store, text).await? {
        Ok(payments) => import(store, &payments, progress).await,
        Err(bad) => Err(Error::Invalid(format!(
            "nothing imported; fix these lines:\n{}",
            bad.iter()
                .map(|b| format!("line {}: {}", b.line, b.reason))
                .collect::<Vec<_>>()
                .join("\n")
        ))),
    }
}
