//! Rows a transaction writes at commit, gathered column by column.
//!
//! On PostgreSQL each column goes as one array parameter and the rows come
//! back out of `unnest`, so a statement's text is the same whatever the
//! number of rows: it is parsed and planned once per connection, not once
//! per batch (a `VALUES` list of placeholders makes a new statement for
//! every row count, and a busy node sees dozens of counts). On SQLite, which
//! has no arrays, the rows go as one JSON parameter read by `json_each`:
//! the same gain, the commit's script prepared once, not once per batch.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{Postgres, QueryBuilder, Sqlite};
use uuid::Uuid;

/// The values of one column, in row order.
enum Column {
    Uuid(Vec<Uuid>),
    OptUuid(Vec<Option<Uuid>>),
    BigInt(Vec<i64>),
    OptBigInt(Vec<Option<i64>>),
    Int(Vec<i32>),
    Text(Vec<String>),
    OptText(Vec<Option<String>>),
    Time(Vec<DateTime<Utc>>),
    OptTime(Vec<Option<DateTime<Utc>>>),
    Date(Vec<NaiveDate>),
}

impl Column {
    /// PostgreSQL's name of the column's array type.
    fn pg_array(&self) -> &'static str {
        match self {
            Column::Uuid(_) | Column::OptUuid(_) => "uuid[]",
            Column::BigInt(_) | Column::OptBigInt(_) => "bigint[]",
            Column::Int(_) => "integer[]",
            Column::Text(_) | Column::OptText(_) => "text[]",
            Column::Time(_) | Column::OptTime(_) => "timestamptz[]",
            Column::Date(_) => "date[]",
        }
    }
}

/// Rows of one statement; [`Rows::of`] fills them.
#[derive(Default)]
pub(super) struct Rows {
    columns: Vec<Column>,
    len: usize,
}

/// One row being added: each call appends the next column's value.
pub(super) struct Row<'r> {
    rows: &'r mut Rows,
    at: usize,
}

/// A setter of `Row` for one column type: `$own` makes the value stored.
macro_rules! row_setter {
    ($name:ident, $variant:ident, $ty:ty, $own:expr) => {
        pub fn $name(&mut self, value: $ty) -> &mut Self {
            if self.at == self.rows.columns.len() {
                self.rows.columns.push(Column::$variant(Vec::new()));
            }
            match &mut self.rows.columns[self.at] {
                Column::$variant(values) => values.push($own(value)),
                _ => unreachable!("column {} holds another type in an earlier row", self.at),
            }
            self.at += 1;
            self
        }
    };
}

impl Row<'_> {
    row_setter!(uuid, Uuid, Uuid, std::convert::identity);
    row_setter!(opt_uuid, OptUuid, Option<Uuid>, std::convert::identity);
    row_setter!(bigint, BigInt, i64, std::convert::identity);
    row_setter!(opt_bigint, OptBigInt, Option<i64>, std::convert::identity);
    row_setter!(int, Int, i32, std::convert::identity);
    row_setter!(text, Text, &str, str::to_owned);
    row_setter!(opt_text, OptText, Option<&str>, |v: Option<&str>| v
        .map(str::to_owned));
    row_setter!(time, Time, DateTime<Utc>, std::convert::identity);
    row_setter!(
        opt_time,
        OptTime,
        Option<DateTime<Utc>>,
        std::convert::identity
    );
    row_setter!(date, Date, NaiveDate, std::convert::identity);
}

impl Rows {
    /// One row per item, its columns in the order `row` adds them (the
    /// same for every item).
    pub fn of<T>(items: impl IntoIterator<Item = T>, mut row: impl FnMut(&mut Row, T)) -> Rows {
        let mut rows = Rows::default();
        for item in items {
            let mut next = Row {
                rows: &mut rows,
                at: 0,
            };
            row(&mut next, item);
            debug_assert_eq!(
                next.at,
                next.rows.columns.len(),
                "every row fills every column"
            );
            rows.len += 1;
        }
        rows
    }
}

/// Appends rows as a row source: `SELECT * FROM unnest(…)` on PostgreSQL,
/// `SELECT … FROM json_each(…)` on SQLite. Either can follow `INSERT INTO t (cols)`
/// or stand in a `WITH name (cols) AS (…)`.
pub(super) trait PushRows {
    fn push_rows(&mut self, rows: Rows) -> &mut Self;
}

impl PushRows for QueryBuilder<Postgres> {
    fn push_rows(&mut self, rows: Rows) -> &mut Self {
        self.push("SELECT * FROM unnest(");
        let mut arrays = self.separated(", ");
        for column in rows.columns {
            let array = column.pg_array();
            match column {
                Column::Uuid(v) => arrays.push_bind(v),
                Column::OptUuid(v) => arrays.push_bind(v),
                Column::BigInt(v) => arrays.push_bind(v),
                Column::OptBigInt(v) => arrays.push_bind(v),
                Column::Int(v) => arrays.push_bind(v),
                Column::Text(v) => arrays.push_bind(v),
                Column::OptText(v) => arrays.push_bind(v),
                Column::Time(v) => arrays.push_bind(v),
                Column::OptTime(v) => arrays.push_bind(v),
                Column::Date(v) => arrays.push_bind(v),
            };
            arrays.push_unseparated("::").push_unseparated(array);
        }
        self.push(")")
    }
}

impl PushRows for QueryBuilder<Sqlite> {
    fn push_rows(&mut self, rows: Rows) -> &mut Self {
        self.push("SELECT ");
        let mut values = self.separated(", ");
        for (i, column) in rows.columns.iter().enumerate() {
            match column {
                // Stored as sqlx stores a uuid on SQLite: 16 bytes.
                Column::Uuid(_) | Column::OptUuid(_) => {
                    values.push(format_args!("unhex(value ->> {i})"))
                }
                _ => values.push(format_args!("value ->> {i}")),
            };
        }
        // `WHERE true` keeps an `ON CONFLICT` after it from reading as a join.
        self.push(" FROM json_each(")
            .push_bind(sqlite_json(&rows))
            .push(") WHERE true")
    }
}

/// The rows as one JSON array of row arrays, each value written as sqlx
/// would bind it on SQLite (uuids as hex, times as RFC 3339, dates as
/// `YYYY-MM-DD`), so that what is stored is the same either way.
fn sqlite_json(rows: &Rows) -> String {
    use std::io::{Result, Write};
    type Out = Vec<u8>;
    fn uuid(out: &mut Out, id: &Uuid) -> Result<()> {
        write!(out, "\"{}\"", id.simple())
    }
    fn number(out: &mut Out, n: i64) -> Result<()> {
        write!(out, "{n}")
    }
    fn text(out: &mut Out, t: &str) -> Result<()> {
        Ok(serde_json::to_writer(out, t)?)
    }
    fn time(out: &mut Out, t: &DateTime<Utc>) -> Result<()> {
        let t = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
        write!(out, "\"{t}\"")
    }
    fn or_null<T>(
        out: &mut Out,
        value: Option<T>,
        write: fn(&mut Out, T) -> Result<()>,
    ) -> Result<()> {
        match value {
            Some(value) => write(out, value),
            None => out.write_all(b"null"),
        }
    }
    let mut out = Vec::with_capacity(rows.len * rows.columns.len() * 24 + 2);
    let write = |out: &mut Out| -> Result<()> {
        out.push(b'[');
        for i in 0..rows.len {
            out.extend_from_slice(if i == 0 { b"[" } else { b",[" });
            for (c, column) in rows.columns.iter().enumerate() {
                if c > 0 {
                    out.push(b',');
                }
                match column {
                    Column::Uuid(v) => uuid(out, &v[i])?,
                    Column::OptUuid(v) => or_null(out, v[i].as_ref(), uuid)?,
                    Column::BigInt(v) => number(out, v[i])?,
                    Column::OptBigInt(v) => or_null(out, v[i], number)?,
                    Column::Int(v) => number(out, v[i].into())?,
                    Column::Text(v) => text(out, &v[i])?,
                    Column::OptText(v) => or_null(out, v[i].as_deref(), text)?,
                    Column::Time(v) => time(out, &v[i])?,
                    Column::OptTime(v) => or_null(out, v[i].as_ref(), time)?,
                    Column::Date(v) => write!(out, "\"{}\"", v[i].format("%F"))?,
                }
            }
            out.push(b']');
        }
        out.push(b']');
        Ok(())
    };
    write(&mut out).expect("writing into memory does not fail");
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::{Connection, SqliteConnection};

    const COLUMNS: &str = "u, ou, b, ob, i, t, ot, tm, otm, d";

    /// The same values bound one by one, as sqlx binds them.
    fn bound(q: &mut QueryBuilder<Sqlite>, v: &Values) {
        let mut s = q.separated(", ");
        s.push_bind(v.0)
            .push_bind(v.1)
            .push_bind(v.2)
            .push_bind(v.3)
            .push_bind(v.4)
            .push_bind(v.5.clone())
            .push_bind(v.6.clone())
            .push_bind(v.7)
            .push_bind(v.8)
            .push_bind(v.9);
    }

    type Values = (
        Uuid,
        Option<Uuid>,
        i64,
        Option<i64>,
        i32,
        String,
        Option<String>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        NaiveDate,
    );

    /// A value sent through `json_each` is stored exactly as sqlx stores
    /// it when bound: same type and same bytes, so reads and comparisons
    /// cannot tell which path wrote a row.
    #[tokio::test]
    async fn rows_sent_as_json_are_stored_as_bound_values_are() {
        let mut c = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query(
            "CREATE TABLE t (path TEXT, n INTEGER, u BLOB, ou BLOB, b INTEGER, ob INTEGER, i INTEGER, \
             t TEXT, ot TEXT, tm TEXT, otm TEXT, d TEXT)",
        )
        .execute(&mut c)
        .await
        .unwrap();
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let rows: Vec<Values> = vec![
            (
                Uuid::now_v7(),
                Some(Uuid::new_v4()),
                i64::MAX,
                Some(i64::MIN),
                -7,
                "رسوم \"تسجيل\" \\ مركبة\n\t\u{1}\u{0}end".into(),
                Some("Fine 'A' & <b>".into()),
                at("2026-11-30T12:34:56.123456789Z"),
                Some(at("2018-01-01T00:00:00Z")),
                NaiveDate::from_ymd_opt(2018, 6, 30).unwrap(),
            ),
            (
                Uuid::nil(),
                None,
                0,
                None,
                0,
                String::new(),
                None,
                at("2026-01-01T00:00:00.5Z"),
                None,
                NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
            ),
        ];
        for (n, v) in rows.iter().enumerate() {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "INSERT INTO t (path, n, {COLUMNS}) VALUES ('bound', {n}, "
            ));
            bound(&mut q, v);
            q.push(")").build().execute(&mut c).await.unwrap();
        }
        let mut q = QueryBuilder::<Sqlite>::new(format!("INSERT INTO t ({COLUMNS}) "));
        q.push_rows(Rows::of(&rows, |r, v| {
            r.uuid(v.0)
                .opt_uuid(v.1)
                .bigint(v.2)
                .opt_bigint(v.3)
                .int(v.4)
                .text(&v.5)
                .opt_text(v.6.as_deref())
                .time(v.7)
                .opt_time(v.8)
                .date(v.9);
        }));
        q.build().execute(&mut c).await.unwrap();
        // Rows 3 and 4 are the json path's 0 and 1.
        sqlx::query("UPDATE t SET path = 'json', n = rowid - 3 WHERE path IS NULL")
            .execute(&mut c)
            .await
            .unwrap();

        let quoted = COLUMNS
            .split(", ")
            .map(|c| format!("typeof({c}) || ':' || quote({c})"))
            .collect::<Vec<_>>()
            .join(" || ' ' || ");
        let stored: Vec<(String, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT path, n, {quoted} FROM t ORDER BY path, n"
        )))
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert_eq!(stored.len(), 4);
        let (bound, json) = stored.split_at(2);
        for (b, j) in bound.iter().zip(json) {
            assert_eq!((b.0.as_str(), j.0.as_str()), ("bound", "json"));
            assert_eq!(b.1, j.1);
            assert_eq!(b.2, j.2, "row {}", b.1);
        }
        // And what comes back decodes to what went in.
        let back: Vec<Values> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM t WHERE path = 'json' ORDER BY n"
        )))
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert_eq!(back, rows);
    }
}
