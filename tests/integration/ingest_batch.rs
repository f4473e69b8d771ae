//! The store's write path under a real poll: topics decided on parser
//! threads must equal what the store decides from the stored rows, and
//! several feeds written in one transaction must each be stored whole or
//! (when one fails) not at all, without taking the others with it.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::util::*;
use feedsift::config::Config;
use feedsift::daemon;
use rusqlite::Connection;

/// Topics that look at every field a parser thread must get right: the
/// text, the configured title and tags, a feed's own title (the NHK
/// fixture's "NHK News"), and a feed filter. postgres.rs runs the same
/// checks on PostgreSQL with it.
pub(crate) fn config(addr: std::net::SocketAddr) -> String {
    fixture_config(addr, &[])
        .replacen(
            &format!("url = \"http://{addr}/tass.rss\"\n"),
            &format!("url = \"http://{addr}/tass.rss\"\ntitle = \"Wire Agency\"\ntags = [\"wire\", \"agency\"]\n"),
            1,
        )
        .replace(
            "\"peace treaty\"'\n",
            &format!(
                "\"peace treaty\"'\n\n\
                 [topic.by-title]\nquery = 'feed:\"Wire Agency\"'\ngroup = \"item\"\n\n\
                 [topic.by-tag]\nquery = 'feed:agency AND Russia'\ngroup = \"item\"\n\n\
                 [topic.own-title]\nquery = 'feed:NHK'\ngroup = \"item\"\n\n\
                 [topic.filtered]\nquery = '@japan'\nfeeds = [\"http://{addr}/axar.atom\"]\ngroup = \"item\"\n"
            ),
        )
}

fn memberships(db: &std::path::Path) -> BTreeSet<(String, i64, String)> {
    let c = Connection::open(db).unwrap();
    let mut st = c
        .prepare("SELECT slug, item_id, matched FROM topic_items")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_decided_on_parser_threads_equal_a_reevaluation_from_the_rows() {
    let addr = serve_fixtures();
    let site = Site::new(&config(addr));
    let cfg = Config::load(&site.config()).unwrap();
    let store = daemon::open_store(&cfg).await.unwrap();
    let summary = daemon::poll_all(&cfg, &store).await.unwrap();
    assert_eq!(summary.failed, 0, "{summary:?}");
    store.close().await;
    let polled = memberships(&site.db());
    for slug in [
        "russia-japan",
        "by-title",
        "by-tag",
        "own-title",
        "filtered",
    ] {
        assert!(
            polled.iter().any(|(s, _, _)| s == slug),
            "topic {slug} is empty: {polled:#?}"
        );
    }

    // Forget every membership and every topic's fingerprint: opening the
    // store again evaluates each topic over the stored rows.
    {
        let c = Connection::open(site.db()).unwrap();
        c.execute_batch("DELETE FROM topic_items; DELETE FROM topics;")
            .unwrap();
    }
    let store = daemon::open_store(&cfg).await.unwrap();
    store.close().await;
    assert_eq!(memberships(&site.db()), polled);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_fails_to_store_is_rolled_back_alone() {
    let addr = serve_fixtures();
    let site = Site::new(&config(addr));
    let cfg = Config::load(&site.config()).unwrap();
    // A trigger refuses one NHK item, after the feed's first item has been
    // written in the same savepoint.
    {
        let store = daemon::open_store(&cfg).await.unwrap();
        store.close().await;
        let c = Connection::open(site.db()).unwrap();
        c.execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON items WHEN NEW.title LIKE '日経平均株価%'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    }
    let store = daemon::open_store(&cfg).await.unwrap();
    let fetcher = Arc::new(feedsift::fetch::Fetcher::new(&cfg.polling).unwrap());
    // All four feeds at once, so their writes share transactions.
    let polls = cfg.feeds.iter().map(|feed| {
        let (fetcher, store) = (fetcher.clone(), store.clone());
        async move {
            let r =
                feedsift::refresh::poll_feed(&fetcher, &store, feed, &mut Default::default()).await;
            (
                feed.url.clone(),
                r.result.map(|s| s.stats.new_items + s.stats.new_sources),
            )
        }
    });
    let results = futures_util::future::join_all(polls).await;
    store.close().await;
    let c = Connection::open(site.db()).unwrap();
    let count = |sql: &str, url: &str| -> i64 { c.query_row(sql, [url], |r| r.get(0)).unwrap() };
    for (url, result) in results {
        let stored = count(
            "SELECT count(*) FROM item_sources s JOIN feeds f ON f.id = s.feed_id WHERE f.url = ?1",
            &url,
        );
        let status: Option<String> = c
            .query_row(
                "SELECT last_status FROM feeds WHERE url = ?1",
                [&url],
                |r| r.get(0),
            )
            .unwrap();
        if url.ends_with("nhk.rdf") {
            let err = result.expect_err("the refused feed reports an error");
            assert!(err.to_string().contains("refused by the test"), "{err}");
            assert_eq!(stored, 0, "none of {url}'s items stays");
            assert_ne!(
                status.as_deref(),
                Some("ok"),
                "{url} is not recorded as polled"
            );
        } else {
            let new = result.unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(new > 0, "{url}");
            assert_eq!(stored as usize, new, "{url}: every item stored");
            assert_eq!(status.as_deref(), Some("ok"), "{url}");
        }
    }
    assert_eq!(
        c.query_row("PRAGMA integrity_check", [], |r| r.get::<_, String>(0))
            .unwrap(),
        "ok"
    );
}
