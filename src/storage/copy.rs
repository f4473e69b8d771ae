//! `feedsift store copy`: moves an install between SQLite and PostgreSQL
//! (either way) with every row's id kept, so readers subscribed to a topic
//! feed see the same entry ids after the move, not the whole feed again.
//!
//! Both schemas have the same tables and columns (pg_schema.rs mirrors
//! schema.rs), so a table is copied column for column: the columns both
//! sides have, in the source's order. Values travel as SQLite's dynamic
//! `Value`, converted to the PostgreSQL column's type on the way in. The
//! target is created (schema migrated) by the normal open, must hold no
//! data, and is written in one transaction: a copy that fails leaves it
//! empty.

use std::collections::HashSet;

use postgres::types::{ToSql, Type};
use rusqlite::types::Value;

use super::{Postgres, Sqlite, StoreError};
use crate::config::Location;

/// Tables in an order that satisfies their references: a story's lead is
/// an item (checked at commit), an item's story exists before it.
const TABLES: &[(&str, &str)] = &[
    ("feeds", "id"),
    ("stories", "id"),
    ("items", "id"),
    ("item_sources", "feed_id, entry_key"),
    ("topics", "slug"),
    ("topic_items", "slug, item_id"),
    ("hub_subscribers", "topic, callback"),
    ("websub_subscriptions", "feed_url"),
    // Pushed documents a poller has not yet refreshed.
    ("websub_inbox", "id"),
];

/// Rows written per statement batch, and between progress reports.
const CHUNK: usize = 2000;

/// What one copy moved, per table.
#[derive(Debug, Default)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

/// Copies the database at `from` into the empty one at `to`, calling
/// `progress(table, rows copied, rows in the table)` as it goes.
pub fn copy(
    from: &Location,
    to: &Location,
    mut progress: impl FnMut(&str, u64, u64),
) -> Result<Copied, StoreError> {
    if from == to {
        return Err(StoreError::Database(
            "the source and the target are the same database".into(),
        ));
    }
    // Opening the normal way brings both schemas up to date.
    let mut source = open(from)?;
    let mut target = open(to)?;
    for (table, _) in TABLES {
        let n = target.count(table)?;
        if n > 0 {
            return Err(StoreError::Database(format!(
                "the target {to} is not empty ({n} rows in {table}): copy into a new, empty database"
            )));
        }
    }
    let mut copied = Copied::default();
    target.begin()?;
    for (table, order) in TABLES {
        let theirs: HashSet<String> = target.columns(table)?.into_iter().collect();
        let cols: Vec<String> = source
            .columns(table)?
            .into_iter()
            .filter(|c| theirs.contains(c))
            .collect();
        let total = u64::try_from(source.count(table)?).unwrap_or(0);
        let mut done = 0u64;
        let mut batch: Vec<Vec<Value>> = Vec::with_capacity(CHUNK);
        let mut failed = None;
        source.read(table, &cols, order, &mut |row| {
            batch.push(row);
            if batch.len() >= CHUNK {
                if let Err(e) = target.write(table, &cols, &batch) {
                    failed = Some(e);
                    return false;
                }
                done += batch.len() as u64;
                batch.clear();
                progress(table, done, total);
            }
            true
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        target.write(table, &cols, &batch)?;
        done += batch.len() as u64;
        progress(table, done, total);
        copied.tables.push((table, done));
    }
    target.commit()?;
    Ok(copied)
}

/// One side of a copy.
enum Side {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

fn open(at: &Location) -> Result<Side, StoreError> {
    Ok(match at {
        Location::File(path) => {
            super::Backend::close(Box::new(Sqlite::open(path)?));
            let c = rusqlite::Connection::open(path).map_err(|e| StoreError::Open {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            Side::Sqlite(c)
        }
        Location::Postgres(url) => {
            super::Backend::close(Box::new(Postgres::open(url)?));
            Side::Postgres(super::postgres::connect(url)?)
        }
    })
}

fn sqlite_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

impl Side {
    fn count(&mut self, table: &str) -> Result<i64, StoreError> {
        let sql = format!("SELECT count(*) FROM {table}");
        Ok(match self {
            Side::Sqlite(c) => c.query_row(&sql, [], |r| r.get(0)).map_err(sqlite_err)?,
            Side::Postgres(c) => c.query_one(&sql, &[])?.try_get(0)?,
        })
    }

    fn columns(&mut self, table: &str) -> Result<Vec<String>, StoreError> {
        Ok(match self {
            Side::Sqlite(c) => {
                let mut st = c
                    .prepare(&format!(
                        "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
                    ))
                    .map_err(sqlite_err)?;
                st.query_map([], |r| r.get(0))
                    .map_err(sqlite_err)?
                    .collect::<Result<_, _>>()
                    .map_err(sqlite_err)?
            }
            Side::Postgres(c) => c
                .query(
                    "SELECT column_name::text FROM information_schema.columns
                     WHERE table_schema = current_schema() AND table_name = $1
                     ORDER BY ordinal_position",
                    &[&table],
                )?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Calls `each` with every row of `table` (the `cols`, in `order`)
    /// until it returns false. PostgreSQL rows come through a cursor, a
    /// chunk at a time, so a large table is never all in memory.
    fn read(
        &mut self,
        table: &str,
        cols: &[String],
        order: &str,
        each: &mut dyn FnMut(Vec<Value>) -> bool,
    ) -> Result<(), StoreError> {
        let sql = format!("SELECT {} FROM {table} ORDER BY {order}", cols.join(", "));
        match self {
            Side::Sqlite(c) => {
                let mut st = c.prepare(&sql).map_err(sqlite_err)?;
                let mut rows = st.query([]).map_err(sqlite_err)?;
                while let Some(r) = rows.next().map_err(sqlite_err)? {
                    let row = (0..cols.len())
                        .map(|i| r.get::<_, Value>(i))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(sqlite_err)?;
                    if !each(row) {
                        break;
                    }
                }
            }
            Side::Postgres(c) => {
                let mut tx = c.transaction()?;
                let portal = tx.bind(sql.as_str(), &[])?;
                loop {
                    let rows = tx.query_portal(&portal, CHUNK as i32)?;
                    if rows.is_empty() {
                        break;
                    }
                    for r in &rows {
                        let row = (0..cols.len())
                            .map(|i| pg_value(r, i))
                            .collect::<Result<Vec<_>, _>>()?;
                        if !each(row) {
                            return Ok(());
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<(), StoreError> {
        match self {
            // The story leads are checked at commit, when the items exist.
            Side::Sqlite(c) => c
                .execute_batch("BEGIN; PRAGMA defer_foreign_keys = ON")
                .map_err(sqlite_err)?,
            Side::Postgres(c) => c.batch_execute("BEGIN; SET CONSTRAINTS ALL DEFERRED")?,
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), StoreError> {
        match self {
            Side::Sqlite(c) => c.execute_batch("COMMIT").map_err(sqlite_err)?,
            Side::Postgres(c) => {
                // New rows continue after the copied ids.
                for (table, order) in TABLES {
                    if *order == "id" {
                        c.execute(
                            &format!(
                                "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                               coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                            ),
                            &[],
                        )?;
                    }
                }
                c.batch_execute("COMMIT")?;
            }
        }
        Ok(())
    }

    fn write(
        &mut self,
        table: &str,
        cols: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let list = cols.join(", ");
        match self {
            Side::Sqlite(c) => {
                let marks = (1..=cols.len())
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>();
                let mut st = c
                    .prepare_cached(&format!(
                        "INSERT INTO {table} ({list}) VALUES ({})",
                        marks.join(", ")
                    ))
                    .map_err(sqlite_err)?;
                for row in rows {
                    st.execute(rusqlite::params_from_iter(row.iter()))
                        .map_err(sqlite_err)?;
                }
            }
            Side::Postgres(c) => {
                let marks = (1..=cols.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>();
                let st = c.prepare(&format!(
                    "INSERT INTO {table} ({list}) VALUES ({})",
                    marks.join(", ")
                ))?;
                let types = st.params().to_vec();
                for row in rows {
                    let params = row
                        .iter()
                        .zip(&types)
                        .map(|(v, t)| to_pg(v, t))
                        .collect::<Result<Vec<_>, _>>()?;
                    let refs: Vec<&(dyn ToSql + Sync)> =
                        params.iter().map(|p| p.as_ref()).collect();
                    c.execute(&st, &refs)?;
                }
            }
        }
        Ok(())
    }
}

/// A PostgreSQL value as SQLite would hold it.
fn pg_value(r: &postgres::Row, i: usize) -> Result<Value, StoreError> {
    let ty = r.columns()[i].type_();
    let v = if *ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?.map(Value::Integer)
    } else if *ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?
            .map(|n| Value::Integer(n.into()))
    } else if *ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?
            .map(|b| Value::Integer(b.into()))
    } else if *ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?.map(Value::Real)
    } else if *ty == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
    } else {
        r.try_get::<_, Option<String>>(i)?.map(Value::Text)
    };
    Ok(v.unwrap_or(Value::Null))
}

/// A SQLite value for a PostgreSQL column of type `ty`; a value that does
/// not fit (text in a number column, say) is an error naming both.
fn to_pg(v: &Value, ty: &Type) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let wrong = || StoreError::Database(format!("cannot copy {v:?} into a column of type {ty}"));
    Ok(match (v, ty) {
        (Value::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
        (Value::Null, t) if *t == Type::INT4 => Box::new(None::<i32>),
        (Value::Null, t) if *t == Type::BOOL => Box::new(None::<bool>),
        (Value::Null, t) if *t == Type::FLOAT8 => Box::new(None::<f64>),
        (Value::Null, t) if *t == Type::BYTEA => Box::new(None::<Vec<u8>>),
        (Value::Null, _) => Box::new(None::<String>),
        (Value::Integer(n), t) if *t == Type::INT8 => Box::new(*n),
        (Value::Integer(n), t) if *t == Type::INT4 => {
            Box::new(i32::try_from(*n).map_err(|_| wrong())?)
        }
        (Value::Integer(n), t) if *t == Type::BOOL => Box::new(*n != 0),
        (Value::Integer(n), t) if *t == Type::FLOAT8 => Box::new(*n as f64),
        (Value::Real(x), t) if *t == Type::FLOAT8 => Box::new(*x),
        (Value::Text(s), t) if *t == Type::TEXT || *t == Type::VARCHAR => {
            // PostgreSQL text cannot hold NUL; the backend drops it on
            // ingest too.
            Box::new(s.replace('\0', ""))
        }
        (Value::Blob(b), t) if *t == Type::BYTEA => Box::new(b.clone()),
        _ => return Err(wrong()),
    })
}
