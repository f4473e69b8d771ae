//! The integration tests, as one test binary (the crate and its
//! dependencies are linked once, not once per file): a module per area,
//! each using real parts (the real binary, a loopback HTTP server, SQLite
//! in a temp dir or a PostgreSQL database of its own), and `util` for what they share.
//! `cargo test --test integration MODULE::` runs one area.

mod util;

mod charsets;
mod corpus;
mod dates;
mod disk_full;
mod feeds_add;
mod hostile;
mod hostile_items;
mod http_abuse;
mod ingest_batch;
mod opml;
mod poll_export;
mod postgres;
mod query_props;
mod republish;
mod retention;
mod run_daemon;
mod scaling;
mod secrets;
mod stop_and_crash;
mod store_suite;
mod stories;
mod systemd_unit;
mod w3c_corpus;
mod websub;
