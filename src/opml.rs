//! OPML in and out: reads the subscription lists Miniflux, FreshRSS, newsboat
//! and other readers export, adds their feeds to config.toml without touching
//! what is already written there, and renders the configured feeds as OPML 2.0.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use quick_xml::events::{BytesStart, Event};
use thiserror::Error;
use toml_edit::{Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

use crate::config::Feed;

const EXPORT_HINT: &str = "export your subscriptions as OPML from your feed reader (Miniflux: Settings > Import / Export; FreshRSS: Subscription management > Import / export; newsboat: `newsboat -e > feeds.opml`) and import that file";

/// Why an OPML file or the config it goes into was refused. Nothing has been
/// written when one of these is returned.
#[derive(Debug, Error)]
pub enum OpmlError {
    #[error("cannot read {path}: {source}\n  hint: check the file name and that it is readable")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}:{line}:{column}: not well-formed XML: {reason}\n  hint: the file may be truncated or not OPML; {EXPORT_HINT}"
    )]
    NotXml {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    #[error("{path}:{line}: the document is <{found}>, not <opml>\n  hint: {EXPORT_HINT}")]
    NotOpml {
        path: PathBuf,
        line: usize,
        found: String,
    },
    #[error(
        "{path}: no <outline> with an xmlUrl attribute, so there is no feed to import\n  hint: {EXPORT_HINT}"
    )]
    NoFeeds { path: PathBuf },
    #[error(
        "{path}:{line}: outline {outline:?}: xmlUrl {url:?} {reason}\n  hint: correct or remove that outline and import again; nothing was added"
    )]
    BadUrl {
        path: PathBuf,
        line: usize,
        outline: String,
        url: String,
        reason: String,
    },
    #[error(
        "cannot add feeds to {path}: {reason}\n  hint: write the feeds as [[feed]] tables (see the README), then import again"
    )]
    Config { path: PathBuf, reason: String },
}

/// A feed found in an OPML file.
#[derive(Debug, Clone, PartialEq)]
pub struct OpmlFeed {
    /// Normalised the way config.toml normalises feed urls.
    pub url: String,
    pub title: Option<String>,
    /// Names of the folders it sits in, outermost first, then its
    /// OPML 2.0 `category` entries.
    pub tags: Vec<String>,
    /// Where its outline starts, for messages.
    pub line: usize,
}

/// An outline that has an xmlUrl but is not a feed feedsift can poll.
#[derive(Debug, Clone, PartialEq)]
pub struct Unusable {
    pub url: String,
    pub line: usize,
    pub reason: String,
}

/// What an OPML file holds.
#[derive(Debug, Default)]
pub struct Opml {
    pub feeds: Vec<OpmlFeed>,
    pub unusable: Vec<Unusable>,
}

/// Reads and parses the OPML file at `path`, in whatever charset it declares.
pub fn read(path: &Path) -> Result<Opml, OpmlError> {
    let bytes = std::fs::read(path).map_err(|source| OpmlError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let (text, _) = crate::parse::decode_xml(&bytes, None);
    parse(path, &text)
}

/// Where byte `at` of `text` is, as 1-based line and column.
fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let at = (0..=at)
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    (
        text[..at].matches('\n').count() + 1,
        text[line_start..at].chars().count() + 1,
    )
}

/// The attributes of an `<outline>` that matter here. Attribute names are
/// compared without case: some exporters write `xmlurl` or `XMLURL`.
#[derive(Default)]
struct Outline {
    xml_url: Option<String>,
    title: Option<String>,
    text: Option<String>,
    kind: Option<String>,
    category: Option<String>,
}

impl Outline {
    fn read(e: &BytesStart) -> Result<Outline, String> {
        let mut o = Outline::default();
        for attr in e.attributes() {
            let attr = attr.map_err(|err| err.to_string())?;
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|err| err.to_string())?;
            let value = Some(value.trim().to_owned()).filter(|v| !v.is_empty());
            let key = attr.key.as_ref().to_ascii_lowercase();
            match key.as_str() {
                "xmlurl" => o.xml_url = value,
                "title" => o.title = value,
                "text" => o.text = value,
                "type" => o.kind = value,
                "category" => o.category = value,
                _ => {}
            }
        }
        Ok(o)
    }

    /// The name a reader shows: title, else text.
    fn name(&self) -> Option<&str> {
        self.title.as_deref().or(self.text.as_deref())
    }
}

/// Parses OPML 1.0/2.0 text. Outlines with an xmlUrl are feeds; outlines
/// without one that contain others are folders, whose names become tags.
pub fn parse(path: &Path, text: &str) -> Result<Opml, OpmlError> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut opml = Opml::default();
    let mut seen = HashSet::new();
    // One entry per open element below <opml>: Some(name) for a folder.
    let mut open: Vec<Option<String>> = Vec::new();
    let mut saw_root = false;
    loop {
        let event = reader.read_event().map_err(|e| {
            let (line, column) = line_col(text, reader.error_position() as usize);
            OpmlError::NotXml {
                path: path.to_path_buf(),
                line,
                column,
                reason: e.to_string(),
            }
        })?;
        // The event ends here; its tag starts at the last '<' before (a
        // well-formed attribute value cannot hold a raw '<').
        let end = reader.buffer_position() as usize;
        let line = line_col(text, text[..end.min(text.len())].rfind('<').unwrap_or(0)).0;
        let (e, has_children) = match &event {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(_) => {
                open.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = e.local_name().as_ref().to_owned();
        if !saw_root {
            if name != "opml" {
                return Err(OpmlError::NotOpml {
                    path: path.to_path_buf(),
                    line,
                    found: name,
                });
            }
            saw_root = true;
            if has_children {
                open.push(None);
            }
            continue;
        }
        let mut folder = None;
        if name == "outline" {
            let o = Outline::read(e).map_err(|reason| {
                let (line, column) = line_col(text, end);
                OpmlError::NotXml {
                    path: path.to_path_buf(),
                    line,
                    column,
                    reason,
                }
            })?;
            match &o.xml_url {
                Some(url) => {
                    let folders = open.iter().flatten().cloned();
                    feed_outline(path, line, url, &o, folders, &mut opml, &mut seen)?;
                }
                None => folder = o.name().map(str::to_owned),
            }
        }
        if has_children {
            open.push(folder);
        }
    }
    let unfinished = if saw_root {
        (!open.is_empty()).then_some("the file ends before </opml>: it looks cut short")
    } else {
        Some("no XML element found")
    };
    if let Some(reason) = unfinished {
        let (line, column) = line_col(text, text.len());
        return Err(OpmlError::NotXml {
            path: path.to_path_buf(),
            line,
            column,
            reason: reason.into(),
        });
    }
    if opml.feeds.is_empty() && opml.unusable.is_empty() {
        return Err(OpmlError::NoFeeds {
            path: path.to_path_buf(),
        });
    }
    Ok(opml)
}

/// Records an outline that has an xmlUrl: a feed, a duplicate whose
/// folders add tags to the first, or a source feedsift cannot poll.
fn feed_outline(
    path: &Path,
    line: usize,
    raw_url: &str,
    o: &Outline,
    folders: impl Iterator<Item = String>,
    opml: &mut Opml,
    seen: &mut HashSet<String>,
) -> Result<(), OpmlError> {
    // FreshRSS exports its web-scraping sources (HTML+XPath, XML+XPath,
    // JSON+DotNotation) as outlines too; their xmlUrl is a web page.
    if let Some(kind) = &o.kind
        && kind.contains('+')
    {
        opml.unusable.push(Unusable {
            url: raw_url.to_owned(),
            line,
            reason: format!("a web-scraping source (type=\"{kind}\"), not a feed"),
        });
        return Ok(());
    }
    let bad = |reason: String| OpmlError::BadUrl {
        path: path.to_path_buf(),
        line,
        outline: o.name().unwrap_or(raw_url).to_owned(),
        url: raw_url.to_owned(),
        reason,
    };
    // newsboat exports its script, filter and query sources like feeds.
    if let Some((scheme @ ("exec" | "filter" | "query"), _)) = raw_url.split_once(':') {
        opml.unusable.push(Unusable {
            url: raw_url.to_owned(),
            line,
            reason: format!("a newsboat {scheme}: source, not a feed address"),
        });
        return Ok(());
    }
    let url = crate::config::feed_url(raw_url).map_err(|e| bad(e.to_string()))?;
    let mut tags: Vec<String> = folders.collect();
    // OPML 2.0: "comma-separated slash-delimited category strings".
    for part in o.category.iter().flat_map(|c| c.split([',', '/'])) {
        let part = part.trim();
        if !part.is_empty() {
            tags.push(part.to_owned());
        }
    }
    if !seen.insert(url.clone()) {
        // The same feed in two folders: one feed with both folders as tags.
        if let Some(first) = opml.feeds.iter_mut().find(|f| f.url == url) {
            first.tags.extend(tags);
            dedup(&mut first.tags);
        }
        return Ok(());
    }
    dedup(&mut tags);
    // Readers put the url in `text` when they know no title.
    let title = o
        .name()
        .filter(|n| *n != raw_url && *n != url)
        .map(str::to_owned);
    opml.feeds.push(OpmlFeed {
        url,
        title,
        tags,
        line,
    });
    Ok(())
}

/// Removes repeats, keeping the first of each.
fn dedup(tags: &mut Vec<String>) {
    let mut seen = HashSet::new();
    tags.retain(|t| seen.insert(t.clone()));
}

/// The result of adding an OPML file's feeds to config.toml.
#[derive(Debug)]
pub struct Merged {
    /// The new config.toml text.
    pub text: String,
    pub added: Vec<OpmlFeed>,
    /// Feeds config.toml already has.
    pub already: Vec<OpmlFeed>,
}

/// Adds the feeds `existing` does not have to config.toml's `text` as
/// `[[feed]]` tables after the last one. Everything already in the text
/// (comments, order, spacing) stays as it is: the new tables are inserted
/// as one block.
pub fn add_to_config(
    config_path: &Path,
    text: &str,
    existing: &[Arc<Feed>],
    feeds: &[OpmlFeed],
    source: &str,
) -> Result<Merged, OpmlError> {
    let config_err = |reason: String| OpmlError::Config {
        path: config_path.to_path_buf(),
        reason,
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| config_err(e.to_string()))?;
    // config.toml's urls are normalised when loaded, and so are the OPML's.
    let known: HashSet<&str> = existing.iter().map(|f| f.url.trim()).collect();
    let (already, added): (Vec<OpmlFeed>, Vec<OpmlFeed>) = feeds
        .iter()
        .cloned()
        .partition(|f| known.contains(f.url.trim()));
    if added.is_empty() {
        return Ok(Merged {
            text: text.to_owned(),
            added,
            already,
        });
    }
    let entry = doc
        .entry("feed")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    match entry {
        Item::ArrayOfTables(tables) => {
            for (i, f) in added.iter().enumerate() {
                let mut t = Table::new();
                // A blank line before each table, like the hand-written
                // ones; the first also says where the block came from.
                let prefix = match (i, text.trim().is_empty()) {
                    (0, true) => format!("# imported from {source}\n"),
                    (0, false) => format!("\n# imported from {source}\n"),
                    _ => "\n".to_owned(),
                };
                t.decor_mut().set_prefix(prefix);
                t.insert("url", toml_edit::value(f.url.as_str()));
                if let Some(title) = &f.title {
                    t.insert("title", toml_edit::value(title.as_str()));
                }
                if !f.tags.is_empty() {
                    t.insert("tags", toml_edit::value(tag_array(&f.tags)));
                }
                tables.push(t);
            }
        }
        // `feed = [{ url = "..." }, ...]` is valid too: keep writing it so.
        Item::Value(Value::Array(list)) => {
            for f in &added {
                let mut t = InlineTable::new();
                t.insert("url", f.url.as_str().into());
                if let Some(title) = &f.title {
                    t.insert("title", title.as_str().into());
                }
                if !f.tags.is_empty() {
                    t.insert("tags", Value::Array(tag_array(&f.tags)));
                }
                list.push(t);
            }
        }
        _ => {
            return Err(config_err(
                "its `feed` key is neither [[feed]] tables nor a list of feeds".into(),
            ));
        }
    }
    Ok(Merged {
        text: doc.to_string(),
        added,
        already,
    })
}

fn tag_array(tags: &[String]) -> Array {
    tags.iter().map(String::as_str).collect()
}

/// The configured feeds as OPML 2.0. Each feed sits in a folder named after
/// its first tag (readers map folders to their categories) and carries all
/// its tags in `category`, so importing the file here gives the same tags.
pub fn render(feeds: &[Arc<Feed>], now: DateTime<Utc>) -> String {
    use quick_xml::escape::escape;
    let outline = |f: &Feed, indent: &str| {
        let mut s = format!("{indent}<outline type=\"rss\"");
        match &f.title {
            Some(t) => s.push_str(&format!(
                " text=\"{}\" title=\"{}\"",
                escape(t.as_str()),
                escape(t.as_str())
            )),
            // `text` is required; without a title the url is the best name.
            None => s.push_str(&format!(" text=\"{}\"", escape(f.url.as_str()))),
        }
        s.push_str(&format!(" xmlUrl=\"{}\"", escape(f.url.as_str())));
        if !f.tags.is_empty() {
            let cats: Vec<String> = f.tags.iter().map(|t| format!("/{t}")).collect();
            s.push_str(&format!(
                " category=\"{}\"",
                escape(cats.join(",").as_str())
            ));
        }
        s.push_str("/>\n");
        s
    };
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str("  <head>\n    <title>feedsift feeds</title>\n");
    out.push_str(&format!(
        "    <dateCreated>{}</dateCreated>\n  </head>\n  <body>\n",
        now.to_rfc2822()
    ));
    // Folders in order of first appearance; untagged feeds at the top level.
    let mut folders: Vec<&str> = Vec::new();
    for f in feeds {
        match f.tags.first() {
            None => out.push_str(&outline(f, "    ")),
            Some(t) if !folders.contains(&t.as_str()) => folders.push(t),
            Some(_) => {}
        }
    }
    for folder in folders {
        let name = escape(folder);
        out.push_str(&format!("    <outline text=\"{name}\" title=\"{name}\">\n"));
        for f in feeds
            .iter()
            .filter(|f| f.tags.first().map(String::as_str) == Some(folder))
        {
            out.push_str(&outline(f, "      "));
        }
        out.push_str("    </outline>\n");
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<Opml, OpmlError> {
        parse(Path::new("subs.opml"), text)
    }

    #[test]
    fn folders_become_tags_and_duplicates_merge() {
        let o = parsed(
            r#"<?xml version="1.0"?>
<opml version="2.0"><head/><body>
  <outline text="News">
    <outline text="World">
      <outline text="A" xmlUrl="https://A.example/rss"/>
    </outline>
  </outline>
  <outline text="Wire"><outline text="A again" xmlUrl="https://a.example/rss"/></outline>
  <outline text="https://b.example/feed" xmlUrl=" https://b.example/feed " category="/x,/y/z"/>
</body></opml>"#,
        )
        .unwrap();
        assert_eq!(o.feeds.len(), 2);
        assert_eq!(o.feeds[0].url, "https://a.example/rss");
        assert_eq!(o.feeds[0].title.as_deref(), Some("A"));
        assert_eq!(o.feeds[0].tags, ["News", "World", "Wire"]);
        assert_eq!(o.feeds[0].line, 5);
        assert_eq!(o.feeds[1].title, None);
        assert_eq!(o.feeds[1].tags, ["x", "y", "z"]);
    }

    #[test]
    fn bad_documents_are_refused_with_a_place() {
        let e =
            parsed("<opml><body><outline xmlUrl='https://x.example/'></body></opml>").unwrap_err();
        assert!(matches!(e, OpmlError::NotXml { line: 1, .. }), "{e}");
        let e = parsed("<rss version='2.0'><channel/></rss>").unwrap_err();
        assert!(e.to_string().contains("<rss>, not <opml>"), "{e}");
        let e = parsed("<opml><body><outline text='empty'/></body></opml>").unwrap_err();
        assert!(e.to_string().contains("no <outline> with an xmlUrl"), "{e}");
        let e =
            parsed("<opml><body>\n<outline text='F' xmlUrl='ftp://x.example/f'/></body></opml>")
                .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("subs.opml:2") && msg.contains("\"F\"") && msg.contains("ftp:"),
            "{msg}"
        );
    }

    #[test]
    fn scraping_sources_are_set_aside() {
        let o = parsed(
            r#"<opml><body><outline type="HTML+XPath" text="S" xmlUrl="https://s.example/"/>
               <outline type="rss" text="R" xmlUrl="https://r.example/"/></body></opml>"#,
        )
        .unwrap();
        assert_eq!(o.feeds.len(), 1);
        assert_eq!(o.unusable.len(), 1);
    }

    #[test]
    fn new_feeds_go_after_the_last_feed_table_as_one_block() {
        let text = "# top\n[server]\nlisten = \"127.0.0.1:1\" # port\n\n[[feed]]\nurl = \"https://a.example/\"\n\n# aliases\n[alias]\nx = [\"y\"]\n";
        let feeds = vec![OpmlFeed {
            url: "https://b.example/".into(),
            title: Some("B \"quoted\"".into()),
            tags: vec!["t".into()],
            line: 1,
        }];
        let m = add_to_config(Path::new("c.toml"), text, &[], &feeds, "f.opml").unwrap();
        let block = "\n# imported from f.opml\n[[feed]]\nurl = \"https://b.example/\"\ntitle = 'B \"quoted\"'\ntags = [\"t\"]\n";
        let at = text.find("\n# aliases").unwrap();
        assert_eq!(m.text, format!("{}{block}{}", &text[..at], &text[at..]));
    }
}
