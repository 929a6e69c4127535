//! The outbox: every capture, refund and bill cancellation writes an event
//! for the agency in its own transaction. Events are delivered to the
//! agency's webhook in order per bill, retried with back-off, dead-lettered
//! after the last retry, and can always be read back by polling.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::columns::{PushRows, Rows};
use super::{at_commit, now, on_db, Store, Tx};
use crate::auth;
use crate::error::{Error, Result};

/// An event as the agency reads it.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    /// The agency's position in its own stream, for `?after=`.
    pub seq: i64,
    /// Unique: the same event delivered twice carries the same id.
    pub id: Uuid,
    pub kind: String,
    pub bill_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub data: serde_json::Value,
    pub delivery: String,
    pub attempts: i32,
}

/// An event due for delivery, with where it goes.
#[derive(Debug, Clone)]
pub struct DueEvent {
    pub event: EventRecord,
    pub agency_id: Uuid,
    pub agency: String,
    pub url: String,
}

type EventRow = (
    i64,
    Uuid,
    String,
    Option<Uuid>,
    DateTime<Utc>,
    String,
    String,
    i32,
);

fn record(r: EventRow) -> Result<EventRecord> {
    let (seq, id, kind, bill_id, created_at, payload, delivery, attempts) = r;
    let data = serde_json::from_str(&payload)
        .map_err(|e| Error::Invalid(format!("stored event payload: {e}")))?;
    Ok(EventRecord {
        seq,
        id,
        kind,
        bill_id,
        created_at,
        data,
        delivery,
        attempts,
    })
}

/// Writes an event in the caller's transaction (when it commits, with the
/// transaction's other events, in the order they were emitted).
pub(super) async fn emit(
    tx: &mut Tx,
    agency_id: Uuid,
    bill_id: Option<Uuid>,
    kind: &str,
    data: serde_json::Value,
) -> Result<()> {
    tx.defer_event(NewEvent {
        id: Uuid::now_v7(),
        agency_id,
        bill_id,
        kind: kind.to_owned(),
        payload: serde_json::to_string(&data).expect("event data serializes"),
        at: now(),
    });
    Ok(())
}

/// An event waiting for its transaction's commit.
#[derive(Debug)]
pub(super) struct NewEvent {
    id: Uuid,
    agency_id: Uuid,
    bill_id: Option<Uuid>,
    kind: String,
    payload: String,
    at: chrono::DateTime<chrono::Utc>,
}

/// Inserts events in order, in one statement.
pub(super) async fn insert_events(tx: &mut Tx, events: &[NewEvent]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    at_commit!(tx, |qb, pg| {
        qb.push(
            "INSERT INTO events (id, agency_id, bill_id, kind, payload, created_at, delivery, attempts, next_attempt_at) ",
        );
        qb.push_rows(Rows::of(events, |r, e| {
            r.uuid(e.id)
                .uuid(e.agency_id)
                .opt_uuid(e.bill_id)
                .text(&e.kind)
                .text(&e.payload)
                .time(e.at)
                .text("pending")
                .int(0)
                .time(e.at);
        }));
    });
    Ok(())
}

const EVENT_COLUMNS: &str =
    "e.seq, e.id, e.kind, e.bill_id, e.created_at, e.payload, e.delivery, e.attempts";

impl Store {
    /// The agency's events after `after`, oldest first.
    pub async fn events_after(
        &self,
        agency_id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventRecord>> {
        let rows: Vec<EventRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {EVENT_COLUMNS} FROM events e WHERE e.agency_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3"
            )))
            .bind(agency_id)
            .bind(after)
            .bind(limit.clamp(1, 1000))
            .fetch_all(c)
            .await?
        });
        rows.into_iter().map(record).collect()
    }

    /// Events whose time has come, to agencies with a webhook, that no
    /// earlier undelivered event of the same bill is waiting in front of.
    pub async fn due_events(&self, at: DateTime<Utc>, limit: i64) -> Result<Vec<DueEvent>> {
        type Row = (
            i64,
            Uuid,
            String,
            Option<Uuid>,
            DateTime<Utc>,
            String,
            String,
            i32,
            Uuid,
            String,
            String,
        );
        let rows: Vec<Row> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {EVENT_COLUMNS}, a.id, a.code, a.webhook_url FROM events e JOIN agencies a ON a.id = e.agency_id \
                 WHERE e.delivery = 'pending' AND e.next_attempt_at <= $1 AND a.webhook_url IS NOT NULL \
                 AND NOT EXISTS (SELECT 1 FROM events f WHERE f.bill_id = e.bill_id AND f.seq < e.seq AND f.delivery = 'pending') \
                 ORDER BY e.seq LIMIT $2"
            )))
            .bind(at)
            .bind(limit)
            .fetch_all(c)
            .await?
        });
        rows.into_iter()
            .map(
                |(
                    seq,
                    id,
                    kind,
                    bill_id,
                    created_at,
                    payload,
                    delivery,
                    attempts,
                    agency_id,
                    agency,
                    url,
                )| {
                    Ok(DueEvent {
                        event: record((
                            seq, id, kind, bill_id, created_at, payload, delivery, attempts,
                        ))?,
                        agency_id,
                        agency,
                        url,
                    })
                },
            )
            .collect()
    }

    /// Takes an event for delivery until `lease_until`, so another node
    /// does not send it at the same time. False if someone else has it.
    pub async fn claim_event(
        &self,
        seq: i64,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<bool> {
        let n = on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE events SET next_attempt_at = $1 WHERE seq = $2 AND delivery = 'pending' AND next_attempt_at <= $3")
                .bind(lease_until)
                .bind(seq)
                .bind(at)
                .execute(c)
                .await?
                .rows_affected()
        });
        Ok(n == 1)
    }

    pub async fn event_delivered(&self, seq: i64) -> Result<()> {
        on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE events SET delivery = 'delivered', attempts = attempts + 1, delivered_at = $1, last_error = NULL WHERE seq = $2")
                .bind(now())
                .bind(seq)
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// Records a failed attempt: retried at `retry_at`, or dead when `None`.
    pub async fn event_failed(
        &self,
        seq: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let (delivery, next) = match retry_at {
            Some(t) => ("pending", t),
            None => ("dead", now()),
        };
        on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE events SET delivery = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3 WHERE seq = $4")
                .bind(delivery)
                .bind(next)
                .bind(error)
                .bind(seq)
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// Puts dead-lettered events back in the queue: one agency's, or all.
    pub async fn redeliver(&self, agency: Option<&str>) -> Result<u64> {
        let agency_id = match agency {
            Some(code) => Some(self.agency_by_code(code).await?.id),
            None => None,
        };
        Ok(on_db!(pool self, |c, pg| {
            sqlx::query(
                "UPDATE events SET delivery = 'pending', attempts = 0, next_attempt_at = $1 WHERE delivery = 'dead' AND ($2 IS NULL OR agency_id = $2)",
            )
            .bind(now())
            .bind(agency_id)
            .execute(c)
            .await?
            .rows_affected()
        }))
    }

    pub async fn set_webhook(&self, agency_id: Uuid, url: Option<&str>) -> Result<()> {
        on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE agencies SET webhook_url = $1 WHERE id = $2").bind(url).bind(agency_id).execute(c).await?;
        });
        Ok(())
    }

    /// A new signing secret; earlier ones keep signing for `overlap` so
    /// the agency can switch without losing an event.
    pub async fn rotate_webhook_secret(
        &self,
        agency_id: Uuid,
        overlap: chrono::Duration,
    ) -> Result<String> {
        let secret = format!("whsec_{}", hex::encode(auth::random_bytes::<32>()));
        let at = now();
        let mut tx = self.begin().await?;
        on_db!(tx &mut tx, |c, pg| {
            sqlx::query("UPDATE agency_secrets SET expires_at = $1 WHERE agency_id = $2 AND (expires_at IS NULL OR expires_at > $1)")
                .bind(at + overlap)
                .bind(agency_id)
                .execute(&mut *c)
                .await?;
            sqlx::query("INSERT INTO agency_secrets (id, agency_id, secret, created_at) VALUES ($1, $2, $3, $4)")
                .bind(Uuid::now_v7())
                .bind(agency_id)
                .bind(&secret)
                .bind(at)
                .execute(&mut *c)
                .await?;
        });
        tx.commit().await?;
        Ok(secret)
    }

    /// Secrets that sign now, newest first.
    pub async fn webhook_secrets(&self, agency_id: Uuid, at: DateTime<Utc>) -> Result<Vec<String>> {
        Ok(on_db!(pool self, |c, pg| {
            sqlx::query_scalar(
                "SELECT secret FROM agency_secrets WHERE agency_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC",
            )
            .bind(agency_id)
            .bind(at)
            .fetch_all(c)
            .await?
        }))
    }
}
