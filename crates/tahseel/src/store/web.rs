//! What the browser channels keep: kiosks and their cash boxes, browser
//! sessions, sign-ins under way, and payment search for the admin area.
//! Everything lives in the database, so any node can serve any request.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use tahseel_core::agency::{AgencyCode, Names};
use tahseel_core::ledger::{AccountId, JournalEntry};
use tahseel_core::time::HUB_TIME_ZONE;
use tahseel_core::Fils;
use uuid::Uuid;

use super::ledger::{post_entry, EntryRefs};
use super::{now, on_db, Store};
use crate::auth;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct Kiosk {
    pub id: Uuid,
    pub code: String,
    pub name: Names,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct KioskRow {
    id: Uuid,
    code: String,
    name_en: String,
    name_ar: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<KioskRow> for Kiosk {
    fn from(r: KioskRow) -> Self {
        Kiosk {
            id: r.id,
            code: r.code,
            name: Names {
                en: r.name_en,
                ar: r.name_ar,
            },
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

const KIOSK_COLUMNS: &str = "id, code, name_en, name_ar, created_at, revoked_at";

/// Kiosk keys read `tkk_` then 64 hex digits.
pub const KIOSK_KEY_PREFIX: &str = "tkk_";

/// A kiosk code: 2 to 20 capital letters, digits and dashes (`MUH-01`).
pub fn check_kiosk_code(code: &str) -> Result<()> {
    let ok = (2..=20).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "kiosk code {code:?} must be 2 to 20 capital letters, digits or dashes, like MUH-01"
        )))
    }
}

/// What counting a kiosk's cash box found.
#[derive(Debug, Clone, Serialize)]
pub struct Cashup {
    pub kiosk: String,
    /// What the ledger says the box holds: cash payments since the last count.
    pub expected: Fils,
    pub counted: Fils,
    /// Counted less expected: negative when cash is missing.
    pub difference: Fils,
    /// Cash payments taken since the last count.
    pub payments: i64,
    pub since: Option<DateTime<Utc>>,
    pub counted_at: DateTime<Utc>,
}

/// Who a browser session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A citizen signed in through the identity provider.
    Citizen,
    /// An operator of the hub, signed in with an admin API key.
    Admin,
    /// One person at a kiosk, from the first lookup until they finish or
    /// walk away.
    KioskVisit,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Citizen => "citizen",
            SessionKind::Admin => "admin",
            SessionKind::KioskVisit => "kiosk_visit",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebSession {
    pub payer: Option<String>,
    pub name: Option<String>,
    pub kiosk: Option<String>,
    pub last_seen_at: DateTime<Utc>,
}

/// A new session's details.
pub struct NewSession<'a> {
    pub kind: SessionKind,
    pub payer: Option<&'a str>,
    pub name: Option<&'a str>,
    pub kiosk: Option<&'a str>,
    pub lifetime: Duration,
}

/// How long a sign-in may take at the identity provider.
const LOGIN_TIMEOUT_MINUTES: i64 = 10;

/// Filters for the admin payment search; every one optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct PaymentSearch {
    pub agency: Option<String>,
    pub state: Option<String>,
    pub channel: Option<String>,
    pub method: Option<String>,
    pub kiosk: Option<String>,
    pub reference: Option<String>,
    pub payer: Option<String>,
    /// Bahrain dates, inclusive; an empty form field means no bound.
    #[serde(deserialize_with = "empty_as_none")]
    pub from: Option<NaiveDate>,
    #[serde(deserialize_with = "empty_as_none")]
    pub to: Option<NaiveDate>,
}

fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveDate>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => t
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("{t:?} is not a date like 2018-06-30"))),
    }
}

/// One bill line of a payment, as search and export show it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct FoundLine {
    pub payment_id: Uuid,
    pub line_no: i32,
    pub created_at: DateTime<Utc>,
    pub captured_at: Option<DateTime<Utc>>,
    pub state: String,
    pub channel: String,
    pub method: String,
    pub kiosk: Option<String>,
    pub receipt_no: Option<i64>,
    pub total_fils: i64,
    pub agency: String,
    pub service: String,
    pub reference: String,
    pub payer: String,
    pub amount_fils: i64,
}

/// Where a page of search results starts: after this payment line.
pub type SearchCursor = (Uuid, i32);

enum Bind {
    Text(String),
    Time(DateTime<Utc>),
    Id(Uuid),
    Int(i32),
}

/// Midnight at the start of a Bahrain date, in UTC.
fn local_midnight(day: NaiveDate) -> DateTime<Utc> {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_local_timezone(HUB_TIME_ZONE)
        .single()
        .expect("Bahrain has no DST")
        .with_timezone(&Utc)
}

impl Store {
    /// Registers a kiosk; returns it with its key, shown only now.
    pub async fn add_kiosk(&self, code: &str, name: Names) -> Result<(Kiosk, String)> {
        check_kiosk_code(code)?;
        if name.en.trim().is_empty() || name.ar.trim().is_empty() {
            return Err(Error::Invalid(
                "a kiosk needs an English and an Arabic name (where it stands)".into(),
            ));
        }
        let key = format!(
            "{KIOSK_KEY_PREFIX}{}",
            hex::encode(auth::random_bytes::<32>())
        );
        let id = Uuid::now_v7();
        let at = now();
        let inserted = on_db!(pool self, |c, pg| {
            sqlx::query("INSERT INTO kiosks (id, code, name_en, name_ar, key_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(id)
                .bind(code)
                .bind(name.en.trim())
                .bind(name.ar.trim())
                .bind(auth::hash_key(&key))
                .bind(at)
                .execute(c)
                .await
                .map(|_| ())
        });
        match inserted {
            Ok(_) => Ok((self.kiosk(code).await?, key)),
            Err(e) => {
                let e = Error::from(e);
                if e.is_unique_violation_of("code") {
                    Err(Error::Conflict(format!("a kiosk {code} exists already")))
                } else {
                    Err(e)
                }
            }
        }
    }

    pub async fn kiosk(&self, code: &str) -> Result<Kiosk> {
        let row: Option<KioskRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {KIOSK_COLUMNS} FROM kiosks WHERE code = $1")))
                .bind(code)
                .fetch_optional(c)
                .await?
        });
        row.map(Kiosk::from).ok_or(Error::NotFound("kiosk"))
    }

    pub async fn kiosks(&self) -> Result<Vec<Kiosk>> {
        let rows: Vec<KioskRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {KIOSK_COLUMNS} FROM kiosks ORDER BY code")))
                .fetch_all(c)
                .await?
        });
        Ok(rows.into_iter().map(Kiosk::from).collect())
    }

    /// The kiosk a key belongs to, unless the key was revoked.
    pub async fn kiosk_by_key(&self, key: &str) -> Result<Option<Kiosk>> {
        if !key.starts_with(KIOSK_KEY_PREFIX) {
            return Ok(None);
        }
        let row: Option<KioskRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {KIOSK_COLUMNS} FROM kiosks WHERE key_hash = $1 AND revoked_at IS NULL")))
                .bind(auth::hash_key(key))
                .fetch_optional(c)
                .await?
        });
        Ok(row.map(Kiosk::from))
    }

    pub async fn revoke_kiosk(&self, code: &str) -> Result<Kiosk> {
        let done = on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE kiosks SET revoked_at = $1 WHERE code = $2 AND revoked_at IS NULL")
                .bind(now())
                .bind(code)
                .execute(c)
                .await?
                .rows_affected()
        });
        let kiosk = self.kiosk(code).await?;
        if done == 0 {
            return Err(Error::Conflict(format!("kiosk {code} was revoked already")));
        }
        Ok(kiosk)
    }

    /// Empties a kiosk's cash box in the ledger against what was counted,
    /// in one transaction: the box account goes to zero, the bank gets the
    /// counted cash, and any difference is posted to over/short.
    pub async fn cashup(&self, code: &str, counted: Fils) -> Result<Cashup> {
        if counted.is_negative() {
            return Err(Error::Invalid("a counted amount cannot be negative".into()));
        }
        let kiosk = self.kiosk(code).await?;
        let account = AccountId::kiosk_cash(code);
        let mut tx = self.begin().await?;
        let at = now();
        let (expected, since): (i64, Option<DateTime<Utc>>) = on_db!(tx &mut tx, |c, pg| {
            let lock = if pg { " FOR UPDATE" } else { "" };
            let expected: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT debits_fils - credits_fils FROM ledger_accounts WHERE name = $1{lock}"
            )))
            .bind(account.as_str())
            .fetch_optional(&mut *c)
            .await?;
            let since: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT MAX(counted_at) FROM cashups WHERE kiosk_id = $1")
                .bind(kiosk.id)
                .fetch_one(&mut *c)
                .await?;
            (expected.unwrap_or(0), since)
        });
        let expected = Fils::new(expected);
        let entry_id = if expected.is_positive() || counted.is_positive() {
            let entry = JournalEntry::cash_collected(code, expected, counted)?;
            Some(post_entry(&mut tx, &entry, EntryRefs::default()).await?)
        } else {
            None
        };
        let payments: i64 = on_db!(tx &mut tx, |c, pg| {
            sqlx::query("INSERT INTO cashups (id, kiosk_id, expected_fils, counted_fils, entry_id, counted_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(Uuid::now_v7())
                .bind(kiosk.id)
                .bind(expected.as_i64())
                .bind(counted.as_i64())
                .bind(entry_id)
                .bind(at)
                .execute(&mut *c)
                .await?;
            let epoch = DateTime::<Utc>::UNIX_EPOCH;
            sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE kiosk = $1 AND method = 'cash' AND state = 'captured' AND captured_at > $2 AND captured_at <= $3")
                .bind(code)
                .bind(since.unwrap_or(epoch))
                .bind(at)
                .fetch_one(&mut *c)
                .await?
        });
        tx.commit().await?;
        Ok(Cashup {
            kiosk: kiosk.code,
            expected,
            counted,
            difference: counted.checked_sub(expected)?,
            payments,
            since,
            counted_at: at,
        })
    }

    /// Starts a browser session; returns the cookie value, kept only as a hash.
    pub async fn start_session(&self, new: NewSession<'_>) -> Result<String> {
        let token = hex::encode(auth::random_bytes::<32>());
        let at = now();
        on_db!(pool self, |c, pg| {
            sqlx::query("INSERT INTO web_sessions (token_hash, kind, payer, name, kiosk, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)")
                .bind(auth::hash_key(&token))
                .bind(new.kind.as_str())
                .bind(new.payer)
                .bind(new.name)
                .bind(new.kiosk)
                .bind(at)
                .bind(at + new.lifetime)
                .execute(c)
                .await?;
        });
        Ok(token)
    }

    /// The live session of `kind` a cookie names. With `idle`, a session
    /// not seen for that long is ended and not returned, and a live one is
    /// marked seen now; without, reading it writes nothing.
    pub async fn session(
        &self,
        token: &str,
        kind: SessionKind,
        idle: Option<Duration>,
    ) -> Result<Option<WebSession>> {
        let hash = auth::hash_key(token);
        let at = now();
        let found: Option<WebSession> = on_db!(pool self, |c, pg| {
            sqlx::query_as("SELECT payer, name, kiosk, last_seen_at FROM web_sessions WHERE token_hash = $1 AND kind = $2 AND ended_at IS NULL AND expires_at > $3")
                .bind(&hash)
                .bind(kind.as_str())
                .bind(at)
                .fetch_optional(c)
                .await?
        });
        let Some(session) = found else {
            return Ok(None);
        };
        let Some(idle) = idle else {
            return Ok(Some(session));
        };
        if at - session.last_seen_at > idle {
            self.end_session(token).await?;
            return Ok(None);
        }
        on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE web_sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(at)
                .bind(&hash)
                .execute(c)
                .await?;
        });
        Ok(Some(session))
    }

    pub async fn end_session(&self, token: &str) -> Result<()> {
        on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE web_sessions SET ended_at = $1 WHERE token_hash = $2 AND ended_at IS NULL")
                .bind(now())
                .bind(auth::hash_key(token))
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// Remembers a sign-in sent to the identity provider.
    pub async fn save_login(&self, state: &str, nonce: &str, return_to: &str) -> Result<()> {
        on_db!(pool self, |c, pg| {
            sqlx::query("INSERT INTO login_attempts (state, nonce, return_to, created_at) VALUES ($1, $2, $3, $4)")
                .bind(state)
                .bind(nonce)
                .bind(return_to)
                .bind(now())
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// Takes back a sign-in by its state, once: `(nonce, return_to)`, or
    /// nothing for an unknown, used or stale state.
    pub async fn take_login(&self, state: &str) -> Result<Option<(String, String)>> {
        let oldest = now() - Duration::minutes(LOGIN_TIMEOUT_MINUTES);
        let row: Option<(String, String, DateTime<Utc>)> = on_db!(pool self, |c, pg| {
            sqlx::query_as("DELETE FROM login_attempts WHERE state = $1 RETURNING nonce, return_to, created_at")
                .bind(state)
                .fetch_optional(c)
                .await?
        });
        Ok(row
            .filter(|(_, _, created)| *created > oldest)
            .map(|(nonce, back, _)| (nonce, back)))
    }

    /// Payment lines matching `q`, newest payment first, at most `limit`,
    /// starting after `after`.
    pub async fn search_payments(
        &self,
        q: &PaymentSearch,
        limit: u32,
        after: Option<SearchCursor>,
    ) -> Result<Vec<FoundLine>> {
        let mut sql = String::from(
            "SELECT p.id AS payment_id, l.line_no, p.created_at, p.captured_at, p.state, p.channel, p.method, p.kiosk, p.receipt_no, p.total_fils, \
             a.code AS agency, s.code AS service, b.reference, b.payer, l.amount_fils \
             FROM payments p JOIN payment_lines l ON l.payment_id = p.id JOIN bills b ON b.id = l.bill_id \
             JOIN agencies a ON a.id = l.agency_id JOIN services s ON s.id = b.service_id WHERE 1 = 1",
        );
        let mut binds = Vec::new();
        let mut add = |sql: &mut String, clause: &str, value: Bind| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        let text = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        if let Some(v) = text(&q.agency) {
            AgencyCode::parse(&v)?;
            add(&mut sql, " AND a.code = ?", Bind::Text(v));
        }
        for (column, value) in [
            ("p.state", &q.state),
            ("p.channel", &q.channel),
            ("p.method", &q.method),
            ("p.kiosk", &q.kiosk),
            ("b.reference", &q.reference),
            ("b.payer", &q.payer),
        ] {
            if let Some(v) = text(value) {
                add(&mut sql, &format!(" AND {column} = ?"), Bind::Text(v));
            }
        }
        if let Some(from) = q.from {
            add(
                &mut sql,
                " AND p.created_at >= ?",
                Bind::Time(local_midnight(from)),
            );
        }
        if let Some(to) = q.to {
            let next = to
                .succ_opt()
                .ok_or_else(|| Error::Invalid("date out of range".into()))?;
            add(
                &mut sql,
                " AND p.created_at < ?",
                Bind::Time(local_midnight(next)),
            );
        }
        if let Some((id, line)) = after {
            add(&mut sql, " AND (p.id < ?", Bind::Id(id));
            add(&mut sql, " OR (p.id = ?", Bind::Id(id));
            add(&mut sql, " AND l.line_no > ?))", Bind::Int(line));
        }
        sql.push_str(&format!(" ORDER BY p.id DESC, l.line_no LIMIT {limit}"));
        let rows: Vec<FoundLine> = on_db!(pool self, |c, pg| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            for b in &binds {
                query = match b {
                    Bind::Text(v) => query.bind(v.clone()),
                    Bind::Time(v) => query.bind(*v),
                    Bind::Id(v) => query.bind(*v),
                    Bind::Int(v) => query.bind(*v),
                };
            }
            query.fetch_all(c).await?
        });
        Ok(rows)
    }
}
