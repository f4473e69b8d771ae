//! A PostgreSQL database of a test's own, on the server CI starts
//! (scripts/test.sh) at 127.0.0.1:5432, user postgres with trust auth.
//! Where none answers, a test prints SKIPPED and returns.

use postgres::{Client, NoTls};

const ADMIN: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh database, `feedsift_t_<random>`, dropped when this is.
pub struct PgDb {
    /// What `[storage] url` says to use it.
    pub url: String,
    name: String,
}

impl PgDb {
    /// None (after a SKIPPED line naming `test`) when no server answers.
    pub fn create(test: &str) -> Option<PgDb> {
        let mut admin = match Client::connect(ADMIN, NoTls) {
            Ok(c) => c,
            // A server that answers but refuses (authentication, say) is a
            // broken setup, not a missing one: that fails, it does not skip.
            Err(e) if e.as_db_error().is_some() => {
                panic!("PostgreSQL at 127.0.0.1:5432 refused user postgres: {e}")
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED {test}: no PostgreSQL at 127.0.0.1:5432 as user postgres ({e}); scripts/test.sh starts one"
                );
                return None;
            }
        };
        let name = format!("feedsift_t_{:016x}", random());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        Some(PgDb {
            url: format!("postgres://postgres@127.0.0.1:5432/{name}"),
            name,
        })
    }

    /// A connection of the test's own, to look at or age rows.
    pub fn client(&self) -> Client {
        Client::connect(&self.url, NoTls).expect("connect to the test database")
    }

    /// The single number `sql` selects.
    pub fn count(&self, sql: &str) -> i64 {
        self.client()
            .query_one(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // FORCE: a daemon killed by a failing test may still hold a session.
        if let Ok(mut admin) = Client::connect(ADMIN, NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// 64 random bits from the standard library's hasher keys (a fresh
/// random seed per `RandomState`), so no crate is needed for a name.
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}
