//! feedsift: polls news feeds, keeps every item once in SQLite, sorts items
//! into the operator's topics and republishes each topic as a feed.
//!
//! Data flow: daemon (schedule) -> fetch -> parse -> store (new items, topic
//! membership); server -> store -> publish on request.

pub mod cluster;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod fetch;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod notify;
pub mod opml;
pub mod parse;
pub mod publish;
pub mod refresh;
pub mod sanitize;
pub mod schedule;
pub mod server;
pub mod storage;
pub mod store;
pub mod text;
pub mod topics;
pub mod websub;
