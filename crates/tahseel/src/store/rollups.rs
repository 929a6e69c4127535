//! Daily rollups: per Bahrain-time day, agency, service, channel and
//! method, the count and value captured and refunded. Moved in the same
//! transaction as each capture and refund, so reports read a few thousand
//! rows instead of millions of payments; `rollups verify` recomputes them
//! from the ledger.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use tahseel_core::time::to_local;

use super::columns::{PushRows, Rows};
use super::{at_commit, on_db, Store, Tx};
use crate::error::Result;

/// The Bahrain-time business day of an instant.
pub fn local_day(t: DateTime<Utc>) -> NaiveDate {
    to_local(t).date_naive()
}

/// The key of one rollup row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RollupKey {
    pub day: NaiveDate,
    pub agency: String,
    pub service: String,
    pub channel: String,
    pub method: String,
}

/// Counts and values of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RollupValues {
    pub captured_count: i64,
    pub captured_fils: i64,
    pub refunded_count: i64,
    pub refunded_fils: i64,
}

impl RollupValues {
    pub(super) fn add(&mut self, o: &RollupValues) {
        self.captured_count += o.captured_count;
        self.captured_fils += o.captured_fils;
        self.refunded_count += o.refunded_count;
        self.refunded_fils += o.refunded_fils;
    }
}

/// Sums deltas per key, in key order (the order rows are locked in).
pub(super) fn merge(
    deltas: impl IntoIterator<Item = (RollupKey, RollupValues)>,
) -> BTreeMap<RollupKey, RollupValues> {
    let mut out: BTreeMap<RollupKey, RollupValues> = BTreeMap::new();
    for (k, v) in deltas {
        out.entry(k).or_default().add(&v);
    }
    out
}

/// Adds deltas to the rollups in the caller's transaction, in one statement.
pub(super) async fn add(tx: &mut Tx, deltas: &BTreeMap<RollupKey, RollupValues>) -> Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push(
            "INSERT INTO daily_rollups (day, agency, service, channel, method, captured_count, captured_fils, refunded_count, refunded_fils) ",
        );
        qb.push_rows(Rows::of(deltas, |r, (k, v)| {
            r.date(k.day)
                .text(&k.agency)
                .text(&k.service)
                .text(&k.channel)
                .text(&k.method)
                .bigint(v.captured_count)
                .bigint(v.captured_fils)
                .bigint(v.refunded_count)
                .bigint(v.refunded_fils);
        }));
        qb.push(
            " ON CONFLICT (day, agency, service, channel, method) DO UPDATE SET \
             captured_count = daily_rollups.captured_count + excluded.captured_count, \
             captured_fils = daily_rollups.captured_fils + excluded.captured_fils, \
             refunded_count = daily_rollups.refunded_count + excluded.refunded_count, \
             refunded_fils = daily_rollups.refunded_fils + excluded.refunded_fils",
        );
    });
    Ok(())
}

/// What reports group by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    Agency,
    Service,
    Channel,
    Method,
    Month,
}

impl Dimension {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "agency" => Dimension::Agency,
            "service" => Dimension::Service,
            "channel" => Dimension::Channel,
            "method" => Dimension::Method,
            "month" => Dimension::Month,
            _ => return None,
        })
    }

    fn column(self, pg: bool) -> &'static str {
        match (self, pg) {
            (Dimension::Agency, _) => "agency",
            // A service is named with its agency: `GDT/vehicle-registration`.
            (Dimension::Service, _) => "agency || '/' || service",
            (Dimension::Channel, _) => "channel",
            (Dimension::Method, _) => "method",
            (Dimension::Month, true) => "to_char(day, 'YYYY-MM')",
            (Dimension::Month, false) => "substr(day, 1, 7)",
        }
    }
}

/// One group of a rollup query: its key parts in the order asked, and sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    pub key: Vec<String>,
    pub values: RollupValues,
}

/// A rollup that disagrees with the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollupDiff {
    pub key: RollupKey,
    pub stored: RollupValues,
    pub from_ledger: RollupValues,
}

type SumRow = (i64, i64, i64, i64);

impl Store {
    /// Sums the rollups of the days `from..=to`, grouped by `by` (none: one total row).
    pub async fn rollup_sums(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        by: &[Dimension],
    ) -> Result<Vec<RollupRow>> {
        let pg = matches!(self, Store::Postgres(..));
        let keys: Vec<String> = by
            .iter()
            .enumerate()
            .map(|(i, d)| format!("{} AS k{i}", d.column(pg)))
            .collect();
        let group: Vec<String> = (0..by.len()).map(|i| format!("k{i}")).collect();
        let sums = "CAST(COALESCE(SUM(captured_count), 0) AS BIGINT), CAST(COALESCE(SUM(captured_fils), 0) AS BIGINT), \
                    CAST(COALESCE(SUM(refunded_count), 0) AS BIGINT), CAST(COALESCE(SUM(refunded_fils), 0) AS BIGINT)";
        let select = if keys.is_empty() {
            sums.to_owned()
        } else {
            format!("{}, {sums}", keys.join(", "))
        };
        let grouping = if group.is_empty() {
            String::new()
        } else {
            format!(
                " GROUP BY {} ORDER BY {}",
                group.join(", "),
                group.join(", ")
            )
        };
        // Only fixed column expressions are spliced in; the dates are bound.
        let sql =
            format!("SELECT {select} FROM daily_rollups WHERE day >= $1 AND day <= $2{grouping}");
        let n = by.len();
        let rows: Vec<RollupRow> = on_db!(pool self, |c, pg| {
            let raw = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(from).bind(to).fetch_all(c).await?;
            let mut out = Vec::with_capacity(raw.len());
            for r in raw {
                use sqlx::Row;
                let mut key = Vec::with_capacity(n);
                for i in 0..n {
                    key.push(r.try_get::<String, _>(i)?);
                }
                let (cc, cf, rc, rf): SumRow = (r.try_get(n)?, r.try_get(n + 1)?, r.try_get(n + 2)?, r.try_get(n + 3)?);
                out.push(RollupRow {
                    key,
                    values: RollupValues { captured_count: cc, captured_fils: cf, refunded_count: rc, refunded_fils: rf },
                });
            }
            out
        });
        Ok(rows)
    }

    /// The rollups as the ledger says they should be: every capture entry
    /// and every refund paid, bucketed by Bahrain-time day.
    async fn rollups_from_ledger(&self) -> Result<BTreeMap<RollupKey, RollupValues>> {
        type Row = (NaiveDate, String, String, String, String, i64, i64);
        let (captures, refunds): (Vec<Row>, Vec<Row>) = on_db!(pool self, |c, pg| {
            let day = if pg { "CAST((e.posted_at AT TIME ZONE 'Asia/Bahrain') AS DATE)" } else { "date(e.posted_at, '+3 hours')" };
            let captures = format!(
                "SELECT {day} AS d, a.code, s.code, p.channel, p.method, CAST(COUNT(*) AS BIGINT), CAST(SUM(po.amount_fils) AS BIGINT) \
                 FROM journal_entries e JOIN postings po ON po.entry_id = e.id AND po.side = 'credit' \
                 JOIN payments p ON p.id = e.payment_id JOIN bills b ON b.id = e.bill_id \
                 JOIN agencies a ON a.id = b.agency_id JOIN services s ON s.id = b.service_id \
                 WHERE e.kind = 'capture' GROUP BY d, a.code, s.code, p.channel, p.method"
            );
            let refunds = format!(
                "SELECT {day} AS d, a.code, s.code, p.channel, p.method, CAST(COUNT(*) AS BIGINT), CAST(SUM(po.amount_fils) AS BIGINT) \
                 FROM journal_entries e JOIN postings po ON po.entry_id = e.id AND po.side = 'credit' \
                 JOIN refunds r ON r.id = e.refund_id JOIN payments p ON p.id = r.payment_id JOIN bills b ON b.id = r.bill_id \
                 JOIN agencies a ON a.id = b.agency_id JOIN services s ON s.id = b.service_id \
                 WHERE e.kind = 'refund_paid' GROUP BY d, a.code, s.code, p.channel, p.method"
            );
            (
                sqlx::query_as(sqlx::AssertSqlSafe(captures)).fetch_all(c).await?,
                sqlx::query_as(sqlx::AssertSqlSafe(refunds)).fetch_all(c).await?,
            )
        });
        let key = |(day, agency, service, channel, method, _, _): &Row| RollupKey {
            day: *day,
            agency: agency.clone(),
            service: service.clone(),
            channel: channel.clone(),
            method: method.clone(),
        };
        let mut deltas = Vec::new();
        for r in &captures {
            deltas.push((
                key(r),
                RollupValues {
                    captured_count: r.5,
                    captured_fils: r.6,
                    ..Default::default()
                },
            ));
        }
        for r in &refunds {
            deltas.push((
                key(r),
                RollupValues {
                    refunded_count: r.5,
                    refunded_fils: r.6,
                    ..Default::default()
                },
            ));
        }
        Ok(merge(deltas))
    }

    async fn stored_rollups(&self) -> Result<BTreeMap<RollupKey, RollupValues>> {
        type Row = (
            NaiveDate,
            String,
            String,
            String,
            String,
            i64,
            i64,
            i64,
            i64,
        );
        let rows: Vec<Row> = on_db!(pool self, |c, pg| {
            sqlx::query_as(
                "SELECT day, agency, service, channel, method, captured_count, captured_fils, refunded_count, refunded_fils FROM daily_rollups",
            )
            .fetch_all(c)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(day, agency, service, channel, method, cc, cf, rc, rf)| {
                (
                    RollupKey {
                        day,
                        agency,
                        service,
                        channel,
                        method,
                    },
                    RollupValues {
                        captured_count: cc,
                        captured_fils: cf,
                        refunded_count: rc,
                        refunded_fils: rf,
                    },
                )
            })
            .collect())
    }

    /// Every rollup that differs from what the ledger says.
    pub async fn verify_rollups(&self) -> Result<Vec<RollupDiff>> {
        let expected = self.rollups_from_ledger().await?;
        let stored = self.stored_rollups().await?;
        let mut diffs = Vec::new();
        let keys: std::collections::BTreeSet<&RollupKey> =
            expected.keys().chain(stored.keys()).collect();
        for k in keys {
            let e = expected.get(k).copied().unwrap_or_default();
            let s = stored.get(k).copied().unwrap_or_default();
            if e != s {
                diffs.push(RollupDiff {
                    key: k.clone(),
                    stored: s,
                    from_ledger: e,
                });
            }
        }
        Ok(diffs)
    }

    /// Replaces the rollups with what the ledger says, in one transaction.
    pub async fn rebuild_rollups(&self) -> Result<usize> {
        let mut tx = self.begin().await?;
        on_db!(tx &mut tx, |c, pg| {
            if pg {
                // Keep captures out while the table is rebuilt.
                sqlx::query("LOCK TABLE daily_rollups IN EXCLUSIVE MODE").execute(&mut *c).await?;
            }
            sqlx::query("DELETE FROM daily_rollups").execute(&mut *c).await?;
        });
        // Read after taking the lock: a capture committed before it is in the
        // ledger read here; one still open adds its delta after this commits.
        let expected = self.rollups_from_ledger().await?;
        add(&mut tx, &expected).await?;
        tx.commit().await?;
        Ok(expected.len())
    }
}
