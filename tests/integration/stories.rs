//! Stories end to end: the labelled fixture set (tests/fixtures/stories) is
//! served as RSS feeds, polled by the real binary, and the stories it forms
//! are scored pairwise against the labels. Then: lead choice, stable ids,
//! a source joining later, and topic feeds showing one entry per story.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::util::*;
use axum::extract::{Path as UrlPath, State};
use axum::http::header;
use axum::response::IntoResponse;

#[derive(serde::Deserialize, Clone)]
struct Item {
    id: String,
    story: String,
    #[serde(default)]
    original: bool,
    #[serde(default)]
    translated: bool,
    feed: String,
    title: String,
    summary: String,
    link: String,
    published: String,
}

#[derive(serde::Deserialize)]
struct Fixture {
    items: Vec<Item>,
}

fn fixture(name: &str) -> Vec<Item> {
    let text = std::fs::read_to_string(fixtures().join("stories").join(name)).unwrap();
    serde_json::from_str::<Fixture>(&text).unwrap().items
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn rss(feed: &str, items: &[&Item]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>{}</title><link>https://{}.example/</link><description>x</description>\n",
        esc(feed),
        feed.len()
    );
    for it in items {
        let date = chrono::DateTime::parse_from_rfc3339(&it.published)
            .unwrap()
            .to_rfc2822();
        s.push_str(&format!(
            "<item><title>{}</title><link>{}</link><guid isPermaLink=\"false\">{}</guid><pubDate>{date}</pubDate><description>{}</description></item>\n",
            esc(&it.title),
            esc(&it.link),
            esc(&it.id),
            esc(&it.summary)
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// Feed documents by path, changeable while the server runs.
type Docs = Arc<Mutex<HashMap<String, String>>>;

fn serve(docs: Docs) -> SocketAddr {
    serve_app(
        axum::Router::new()
            .route(
                "/{name}",
                axum::routing::get(
                    |State(d): State<Docs>, UrlPath(n): UrlPath<String>| async move {
                        let body = d.lock().unwrap().get(&n).cloned().unwrap_or_default();
                        ([(header::CONTENT_TYPE, "application/rss+xml")], body).into_response()
                    },
                ),
            )
            .with_state(docs),
    )
}

fn config(addr: SocketAddr, names: &[String], extra: &str) -> String {
    let mut c = String::from("[polling]\ninterval = \"1h\"\nper_host = 8\n\n");
    for n in names {
        c.push_str(&format!("[[feed]]\nurl = \"http://{addr}/{n}\"\n"));
    }
    c.push_str(
        "\n[alias]\nrussia = [\"Russia\", \"Russian\", \"Moscow\", \"Kremlin\", \"Lavrov\", \"Putin\", \"Россия\", \"ロシア\"]\n\
         japan = [\"Japan\", \"Japanese\", \"Tokyo\", \"Kishida\", \"Abe\", \"Kono\", \"Motegi\", \"Япония\", \"日本\"]\n\
         [topic.russia-japan]\nquery = '(@russia AND @japan) OR Kuril* OR \"peace treaty\"'\n",
    );
    c.push_str(extra);
    c
}

fn query_pairs(db: &std::path::Path, sql: &str) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(sql).unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// How a labelled set came out: pairwise scores against the labels, and
/// how many true events the widest predicted story holds.
struct Scores {
    precision: f64,
    recall: f64,
    widest: usize,
    /// Stories holding more than one true event.
    mixed: usize,
    site: Site,
    story_of: HashMap<String, i64>,
}

/// Serves `items` as one RSS feed per source, polls them with the real
/// binary, groups them (reading a topic finishes grouping) and scores the
/// stories formed pairwise against the labels.
fn score_set(items: &[Item], name: &str) -> Scores {
    let mut by_feed: BTreeMap<String, Vec<&Item>> = BTreeMap::new();
    for it in items {
        by_feed.entry(it.feed.clone()).or_default().push(it);
    }
    let docs: Docs = Arc::default();
    let mut names = Vec::new();
    for (i, (feed, its)) in by_feed.iter().enumerate() {
        let name = format!("feed{i}.xml");
        docs.lock().unwrap().insert(name.clone(), rss(feed, its));
        names.push(name);
    }
    let addr = serve(docs);
    let site = Site::new(&config(addr, &names, ""));
    let out = site.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let started = std::time::Instant::now();
    assert!(site.run(&["export", "russia-japan"]).status.success());
    let grouping = started.elapsed();

    let story_of: HashMap<String, i64> =
        query_pairs(&site.db(), "SELECT link, story_id FROM items")
            .into_iter()
            .collect();
    assert_eq!(story_of.len(), items.len(), "every fixture item stored");
    let predicted = |it: &Item| story_of[&it.link];

    let (mut tp, mut fp, mut fneg, mut fneg_translated) = (0usize, 0usize, 0usize, 0usize);
    let mut false_merges = Vec::new();
    let mut misses = Vec::new();
    for (i, a) in items.iter().enumerate() {
        for b in &items[i + 1..] {
            let same_truth = a.story == b.story;
            let same_pred = predicted(a) == predicted(b);
            match (same_truth, same_pred) {
                (true, true) => tp += 1,
                (false, true) => {
                    fp += 1;
                    false_merges.push(format!(
                        "  {} + {}: {:?} / {:?}",
                        a.id, b.id, a.title, b.title
                    ));
                }
                (true, false) => {
                    fneg += 1;
                    if a.translated || b.translated {
                        fneg_translated += 1;
                    } else {
                        misses.push(format!(
                            "  {} / {}: {:?} / {:?}",
                            a.id, b.id, a.title, b.title
                        ));
                    }
                }
                (false, false) => {}
            }
        }
    }
    let precision = tp as f64 / (tp + fp).max(1) as f64;
    let recall = tp as f64 / (tp + fneg).max(1) as f64;
    let mut events: HashMap<i64, std::collections::BTreeSet<&str>> = HashMap::new();
    for it in items {
        events.entry(predicted(it)).or_default().insert(&it.story);
    }
    let widest = events.values().map(|e| e.len()).max().unwrap_or(0);
    let mixed = events.values().filter(|e| e.len() > 1).count();
    let labelled = items
        .iter()
        .map(|i| &i.story)
        .collect::<std::collections::HashSet<_>>()
        .len();
    println!(
        "{name}: {} items, {labelled} labelled stories, {} formed in {grouping:.1?}; pairs: {tp} right, {fp} wrongly merged, {fneg} missed ({fneg_translated} of them translations)",
        items.len(),
        events.len(),
    );
    println!(
        "{name}: pairwise precision {precision:.3}, recall {recall:.3}; {mixed} stories mix events, the widest {widest}"
    );
    let show = |what: &str, v: &[String]| {
        if !v.is_empty() {
            let n = v.len();
            println!(
                "{what} ({n}, at most 40 shown):\n{}",
                v[..n.min(40)].join("\n")
            );
        }
    };
    show("wrongly merged", &false_merges);
    show("missed (not translations)", &misses);
    Scores {
        precision,
        recall,
        mixed,
        widest,
        site,
        story_of,
    }
}

#[test]
fn labelled_stories_are_scored_pairwise() {
    let items = fixture("labelled.json");
    let Scores {
        precision,
        recall,
        site,
        story_of,
        ..
    } = score_set(&items, "labelled");
    let predicted = |it: &Item| story_of[&it.link];

    // Leads: where one copy is the cited original, it leads its story.
    let leads: HashMap<i64, String> = query_pairs(
        &site.db(),
        "SELECT i.link, s.id FROM stories s JOIN items i ON i.id = s.lead_item_id",
    )
    .into_iter()
    .map(|(l, s)| (s, l))
    .collect();
    let originals: Vec<&Item> = items.iter().filter(|i| i.original).collect();
    let right = originals
        .iter()
        .filter(|o| leads.get(&predicted(o)) == Some(&o.link))
        .count();
    println!(
        "leads: {right} of {} originals lead their story",
        originals.len()
    );

    // The targets. The detector reaches 0.991 / 0.904 on this set;
    // what it misses is Japanese translations (no names to transliterate),
    // one Russian translation without figures or shared day, and rewrites
    // that share little beyond a figure or two.
    assert!(precision >= 0.97, "precision {precision:.3} < 0.97");
    assert!(recall >= 0.90, "recall {recall:.3} < 0.90");
    assert!(
        right as f64 >= 0.5 * originals.len() as f64,
        "only {right} of {} originals lead",
        originals.len()
    );

    // Story ids are stable across a second poll and a restart.
    let before = query_pairs(&site.db(), "SELECT uid, id FROM stories ORDER BY id");
    assert!(site.run(&["poll"]).status.success());
    assert_eq!(
        query_pairs(&site.db(), "SELECT uid, id FROM stories ORDER BY id"),
        before
    );
}

/// The busy day (tests/fixtures/stories/busy.json, made by
/// scripts/gen_busy_day.py): 3,546 items from 61 feeds over 72 hours,
/// 1,100 events, most of them about the same few actors, headlines from
/// templates filled with other actors and figures, background paragraphs
/// pasted under unrelated news. Held at the targets: precision
/// 0.97, recall 0.85, at most 2 events in a story. (Busy days generated
/// with other seeds may still show a story of 3 events: README,
/// "Stories".)
#[test]
fn a_busy_day_does_not_collapse_into_bags_of_events() {
    let items = fixture("busy.json");
    let Scores {
        precision,
        recall,
        widest,
        mixed,
        site,
        ..
    } = score_set(&items, "busy");
    // Reached: 0.993 / 0.872, at most 2 events in a story.
    assert!(precision >= 0.97, "precision {precision:.3} < 0.97");
    assert!(recall >= 0.85, "recall {recall:.3} < 0.85");
    assert!(widest <= 2, "a story mixes {widest} events");
    // 17 or 18 reached (the daemon's batches vary with timing); 24, with a
    // story of 4 events, when the grouper counts nothing ahead (in-process,
    // `AHEAD=0`; README, "Stories").
    assert!(mixed <= 20, "{mixed} stories mix events");

    // `feedsift story ID --why` explains a story: its members' scores and
    // what they share with the lead.
    let (id, n): (i64, i64) = {
        let c = rusqlite::Connection::open(site.db()).unwrap();
        c.query_row(
            "SELECT story_id, count(*) n FROM items WHERE story_id IS NOT NULL
             GROUP BY story_id ORDER BY n DESC, story_id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let out = site.run(&["story", &id.to_string(), "--why"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let why = String::from_utf8(out.stdout).unwrap();
    println!("{why}");
    assert!(why.contains(&format!("{n} sources")), "{why}");
    assert_eq!(why.matches("why: the lead").count(), 1, "{why}");
    assert_eq!(
        why.matches("against the lead").count() as i64,
        n - 1,
        "every other member scored against the lead:\n{why}"
    );
    assert!(why.contains("shares names"), "{why}");
    assert!(why.contains("agrees with"), "{why}");
}

fn copy(story: &str, id: &str, feed: &str, title: &str, summary: &str, published: &str) -> Item {
    Item {
        id: id.into(),
        story: story.into(),
        original: false,
        translated: false,
        feed: feed.into(),
        title: title.into(),
        summary: summary.into(),
        link: format!(
            "https://{}.example/{id}",
            feed.to_lowercase().replace(['.', ' '], "")
        ),
        published: published.into(),
    }
}

/// The seed's pair: TASS's report, and Axar.az's copy citing it two
/// hours later.
fn tass_and_axar() -> (Item, Item) {
    let tass = copy(
        "s",
        "tass-1",
        "TASS",
        "Japan seeks to bring relations with Russia to new level",
        "Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergey Lavrov on Friday.",
        "2019-05-10T11:20:00Z",
    );
    let axar = copy(
        "s",
        "axar-1",
        "Axar.az",
        "Japan seeks to bring relations with Russia to new level",
        "Tokyo seeks to bring relations with Moscow to a new level, Japanese Foreign Minister Taro Kono said at a meeting with his Russian counterpart Sergey Lavrov on Friday. Axar.az reports citing TASS.",
        "2019-05-10T13:37:00Z",
    );
    (tass, axar)
}

#[test]
fn a_source_joining_later_moves_the_story_and_keeps_its_id() {
    let (tass, axar) = tass_and_axar();
    let docs: Docs = Arc::default();
    docs.lock()
        .unwrap()
        .insert("axar.xml".into(), rss("Axar.az", &[&axar]));
    let addr = serve(docs.clone());
    let names = ["axar.xml".to_owned(), "tass.xml".to_owned()];
    let site = Site::new(&config(addr, &names[..1], ""));
    assert!(site.run(&["poll"]).status.success());
    let first: atom_syndication::Feed =
        String::from_utf8(site.run(&["export", "russia-japan"]).stdout)
            .unwrap()
            .parse()
            .unwrap();
    assert_eq!(first.entries.len(), 1);
    assert_valid_atom(&first.to_string());

    // TASS, the cited original, appears a little later.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    docs.lock()
        .unwrap()
        .insert("tass.xml".into(), rss("TASS", &[&tass]));
    std::fs::write(site.config(), config(addr, &names, "")).unwrap();
    assert!(site.run(&["poll"]).status.success());
    let out = site.run(&["export", "russia-japan"]);
    let doc = String::from_utf8(out.stdout).unwrap();
    assert_valid_atom(&doc);
    let second: atom_syndication::Feed = doc.parse().unwrap();
    assert_eq!(second.entries.len(), 1, "one entry for the story:\n{doc}");
    let (a, b) = (&first.entries[0], &second.entries[0]);
    assert_eq!(a.id, b.id, "the story keeps its atom:id");
    assert!(
        b.updated > a.updated,
        "atom:updated moves when a source joins"
    );
    // TASS leads now: its link is the alternate, Axar's is related.
    let alt: Vec<_> = b
        .links
        .iter()
        .filter(|l| l.rel == "alternate")
        .map(|l| l.href.as_str())
        .collect();
    let related: Vec<_> = b
        .links
        .iter()
        .filter(|l| l.rel == "related")
        .map(|l| l.href.as_str())
        .collect();
    assert_eq!(alt, [tass.link.as_str()]);
    assert_eq!(related, [axar.link.as_str()]);
    let content = b.content.as_ref().unwrap().value.clone().unwrap();
    assert!(
        content.contains("Reported by 2 sources") && content.contains("Axar.az"),
        "{content}"
    );
    assert_eq!(b.source.as_ref().unwrap().title.value, "TASS");

    // `feedsift story` lists both, the lead marked; `topic test` shows the story.
    let id = query_pairs(&site.db(), "SELECT 'x', id FROM stories")[0]
        .1
        .to_string();
    let listing = String::from_utf8(site.run(&["story", &id]).stdout).unwrap();
    assert!(
        listing.contains("2 sources") && listing.contains("* 2019-05-10 11:20  TASS"),
        "{listing}"
    );
    assert!(listing.contains("(cites TASS)"), "{listing}");
    let tt = String::from_utf8(
        site.run(&["topic", "test", "russia-japan", "--since", "100000d"])
            .stdout,
    )
    .unwrap();
    assert!(tt.contains(&format!("(story {id}: 2 sources)")), "{tt}");

    // group = "item" shows both items.
    std::fs::write(
        site.config(),
        config(addr, &names, "").replace(
            "[topic.russia-japan]",
            "[topic.russia-japan]\ngroup = \"item\"",
        ),
    )
    .unwrap();
    let items: atom_syndication::Feed =
        String::from_utf8(site.run(&["export", "russia-japan"]).stdout)
            .unwrap()
            .parse()
            .unwrap();
    assert_eq!(items.entries.len(), 2);
}

/// `[stories] unload_after`: a daemon with nothing to group frees its story
/// window, and the next new item reads it back from the database, so a
/// copy arriving after the unload still joins its story.
#[test]
fn an_idle_daemon_unloads_its_story_window_and_a_later_copy_still_joins() {
    let (tass, axar) = tass_and_axar();
    let docs: Docs = Arc::default();
    docs.lock()
        .unwrap()
        .insert("axar.xml".into(), rss("Axar.az", &[&axar]));
    docs.lock()
        .unwrap()
        .insert("tass.xml".into(), rss("TASS", &[&tass]));
    let addr = serve(docs);
    let names = ["axar.xml".to_owned(), "tass.xml".to_owned()];
    let extra = "\n[server]\nlisten = \"127.0.0.1:0\"\n\n[stories]\nunload_after = \"1s\"\n";
    let site = Site::new(&config(addr, &names[..1], extra));
    // A window this small is logged at debug.
    let mut daemon = Daemon::start_logging(&site, "info,feedsift::store=debug");
    let unloads = |d: &Daemon| d.log().matches("unloaded the idle story window").count();
    wait_for("the first unload", Duration::from_secs(20), || {
        (unloads(&daemon) == 1).then_some(())
    });
    assert!(
        !daemon
            .log()
            .contains("loaded the story window from the database"),
        "a first run has no window to load:\n{}",
        daemon.log()
    );

    // TASS, the original, is added and polled after the unload.
    std::fs::write(site.config(), config(addr, &names, extra)).unwrap();
    signal(&daemon.child, "HUP");
    let url = format!("http://{}/topics/russia-japan.atom", daemon.addr);
    let feed = wait_for("the story to take TASS", Duration::from_secs(20), || {
        let doc = reqwest::blocking::get(&url).ok()?.text().ok()?;
        let feed: atom_syndication::Feed = doc.parse().ok()?;
        let content = feed.entries.first()?.content.as_ref()?.value.clone()?;
        content.contains("Reported by 2 sources").then_some(feed)
    });
    assert_eq!(feed.entries.len(), 1, "one story, not two");
    assert_eq!(feed.entries[0].source.as_ref().unwrap().title.value, "TASS");
    // The window was read back for it, and unloaded again once idle.
    wait_for("the second unload", Duration::from_secs(20), || {
        (unloads(&daemon) == 2).then_some(())
    });
    signal(&daemon.child, "TERM");
    wait_for("exit", Duration::from_secs(10), || {
        daemon.child.try_wait().unwrap()
    });
    let log = daemon.final_log();
    let loaded = log
        .find("loaded the story window from the database items=1")
        .expect("the window was read back with its one item");
    assert!(
        log.find("unloaded the idle story window").unwrap() < loaded,
        "{log}"
    );
}
