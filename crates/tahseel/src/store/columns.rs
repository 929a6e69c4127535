//! Rows a transaction writes at commit, gathered column by column.
//!
//! On PostgreSQL each column goes as one array parameter and the rows come
//! back out of `unnest`, so a statement's text is the same whatever the
//! number of rows: it is parsed and planned once per connection, not once
//! per batch (a `VALUES` list of placeholders makes a new statement for
//! every row count, and a busy node sees dozens of counts). On SQLite, whose
//! statements go to the connection's thread as one script, they stay a
//! `VALUES` list.

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
    row_setter!(opt_text, OptText, Option<String>, std::convert::identity);
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
/// `VALUES (…), (…)` on SQLite. Either can follow `INSERT INTO t (cols)`
/// or stand in a `WITH name (cols) AS (…)`.
pub(super) trait PushRows {
    fn push_rows(&mut self, rows: Rows) -> &mut Self;
}

impl PushRows for QueryBuilder<Postgres> {
    fn push_rows(&mut self, rows: Rows) -> &mut Self {
        self.push("SELECT * FROM unnest(");
        for (i, column) in rows.columns.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            let array = column.pg_array();
            match column {
                Column::Uuid(v) => self.push_bind(v),
                Column::OptUuid(v) => self.push_bind(v),
                Column::BigInt(v) => self.push_bind(v),
                Column::OptBigInt(v) => self.push_bind(v),
                Column::Int(v) => self.push_bind(v),
                Column::Text(v) => self.push_bind(v),
                Column::OptText(v) => self.push_bind(v),
                Column::Time(v) => self.push_bind(v),
                Column::OptTime(v) => self.push_bind(v),
                Column::Date(v) => self.push_bind(v),
            };
            self.push("::").push(array);
        }
        self.push(")")
    }
}

impl PushRows for QueryBuilder<Sqlite> {
    fn push_rows(&mut self, rows: Rows) -> &mut Self {
        let mut columns = rows.columns;
        self.push_values(0..rows.len, |mut b, i| {
            for column in &mut columns {
                match column {
                    Column::Uuid(v) => b.push_bind(v[i]),
                    Column::OptUuid(v) => b.push_bind(v[i]),
                    Column::BigInt(v) => b.push_bind(v[i]),
                    Column::OptBigInt(v) => b.push_bind(v[i]),
                    Column::Int(v) => b.push_bind(v[i]),
                    Column::Text(v) => b.push_bind(std::mem::take(&mut v[i])),
                    Column::OptText(v) => b.push_bind(v[i].take()),
                    Column::Time(v) => b.push_bind(v[i]),
                    Column::OptTime(v) => b.push_bind(v[i]),
                    Column::Date(v) => b.push_bind(v[i]),
                };
            }
        });
        self
    }
}
