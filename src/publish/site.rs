//! The documents about all topics: the OPML subscription list and the
//! HTML index page.

use super::{Format, attr, sanitize, text, topic_atom_url, view};
use crate::store::TopicEntries;
use crate::topics::Topic;

/// Every topic as an OPML 2.0 subscription list, so a reader imports all
/// topic feeds at once.
pub fn opml(topics: &[Topic], base_url: &str) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n  <head>\n    <title>feedsift topics</title>\n  </head>\n  <body>\n",
    );
    for t in topics {
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{xml}\" htmlUrl=\"{html}\"/>\n",
            title = attr(&t.title),
            xml = attr(&topic_atom_url(base_url, &t.slug)),
            html = attr(base_url),
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out
}

/// How many stories of each topic the index page lists.
pub const INDEX_STORIES: usize = 5;

/// The front page: every topic with its subscribe links and latest stories.
/// Plain HTML and a little CSS, no script; one column, readable on a phone.
pub fn index_html(topics: &[(&Topic, &TopicEntries)], base_url: &str) -> String {
    let mut h = String::from(concat!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>feedsift topics</title>\n",
        "<style>body{max-width:42rem;margin:0 auto;padding:1rem;font:1rem/1.5 system-ui,sans-serif;color:#222;background:#fff}",
        "h2{margin:1.5rem 0 .25rem;font-size:1.2rem}ul{padding-left:1.2rem}li{margin:.4rem 0}",
        "small{color:#666}a{color:#0645ad;overflow-wrap:anywhere}",
        "@media (prefers-color-scheme:dark){body{color:#ddd;background:#111}a{color:#8ab4f8}small{color:#aaa}}</style>\n",
    ));
    for (t, _) in topics {
        h.push_str(&format!(
            "<link rel=\"alternate\" type=\"{}\" title=\"{}\" href=\"{}\">\n",
            Format::Atom.spec().media_type,
            attr(&t.title),
            attr(&topic_atom_url(base_url, &t.slug))
        ));
    }
    h.push_str("</head>\n<body>\n<h1>feedsift topics</h1>\n");
    h.push_str(&format!(
        "<p>Subscribe to one topic below, or to <a href=\"{}\">all of them (OPML)</a>.</p>\n",
        attr(&format!("{base_url}topics.opml"))
    ));
    for (t, data) in topics {
        h.push_str(&format!(
            "<section>\n<h2 id=\"{slug}\">{title}</h2>\n<p>Subscribe: {links}</p>\n<ul>\n",
            slug = attr(&t.slug),
            title = text(&t.title),
            links = Format::ALL
                .iter()
                .map(|f| format!(
                    "<a href=\"{}\">{}</a>",
                    attr(&f.url(base_url, &t.slug)),
                    f.spec().name
                ))
                .collect::<Vec<_>>()
                .join(" · "),
        ));
        for e in data.entries.iter().take(INDEX_STORIES) {
            let v = view(e);
            let title = match v.link {
                Some(l) => format!("<a href=\"{}\">{}</a>", attr(l), text(&v.title)),
                None => text(&v.title),
            };
            let sources = e.story.as_ref().map_or(1, |s| s.members.len().max(1));
            let more = if sources > 1 {
                format!(" and {} more", sources - 1)
            } else {
                String::new()
            };
            h.push_str(&format!(
                "<li>{title}<br><small>{}{more} · {}</small></li>\n",
                text(&sanitize::plain_text(&e.source.title)),
                v.published.format("%Y-%m-%d %H:%M UTC")
            ));
        }
        if data.entries.is_empty() {
            h.push_str("<li><small>nothing yet</small></li>\n");
        }
        h.push_str("</ul>\n</section>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}
