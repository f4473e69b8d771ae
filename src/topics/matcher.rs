//! Evaluates a compiled query against one item's text.

use super::query::{Expr, Field, Term};
use super::text::{fold, html_to_text, word_ranges};

/// The fields of an item a query can look at. HTML fields are stripped.
#[derive(Debug, Clone, Copy, Default)]
pub struct ItemText<'a> {
    pub title: &'a str,
    pub summary_html: Option<&'a str>,
    pub content_html: Option<&'a str>,
    pub author: Option<&'a str>,
    /// Category terms, one per line.
    pub categories: &'a str,
    /// For every feed the item was seen in: its url, title and tags.
    pub feeds: &'a str,
}

/// One field, folded and split once so every topic can test it cheaply.
#[derive(Debug, Clone, Default)]
struct FieldText {
    text: String,
    /// Word ranges in order, for phrases and proximity.
    seq: Vec<(u32, u32)>,
    /// The same ranges sorted by the words they hold, deduplicated.
    sorted: Vec<(u32, u32)>,
}

impl FieldText {
    fn new(raw: &str) -> FieldText {
        let text = fold(raw);
        let seq: Vec<(u32, u32)> = word_ranges(&text)
            .map(|(a, b)| (a as u32, b as u32))
            .collect();
        let mut sorted = seq.clone();
        sorted.sort_unstable_by(|a, b| {
            text[a.0 as usize..a.1 as usize].cmp(&text[b.0 as usize..b.1 as usize])
        });
        sorted
            .dedup_by(|a, b| text[a.0 as usize..a.1 as usize] == text[b.0 as usize..b.1 as usize]);
        FieldText { text, seq, sorted }
    }

    fn word(&self, r: (u32, u32)) -> &str {
        &self.text[r.0 as usize..r.1 as usize]
    }

    fn has_word(&self, w: &str) -> bool {
        self.sorted
            .binary_search_by(|&r| self.word(r).cmp(w))
            .is_ok()
    }

    fn has_prefix(&self, p: &str) -> bool {
        let i = self.sorted.partition_point(|&r| self.word(r) < p);
        self.sorted
            .get(i)
            .is_some_and(|&r| self.word(r).starts_with(p))
    }

    fn has_phrase(&self, p: &[String]) -> bool {
        if !p.iter().all(|w| self.has_word(w)) {
            return false;
        }
        self.seq
            .windows(p.len())
            .any(|win| win.iter().zip(p).all(|(&r, w)| self.word(r) == w))
    }

    /// All `ws` (distinct) within `slop` positions: the smallest window of
    /// positions holding every word, found in one pass.
    fn has_near(&self, ws: &[String], slop: u32) -> bool {
        if !ws.iter().all(|w| self.has_word(w)) {
            return false;
        }
        let hits: Vec<(usize, usize)> = self
            .seq
            .iter()
            .enumerate()
            .filter_map(|(pos, &r)| ws.iter().position(|w| w == self.word(r)).map(|t| (pos, t)))
            .collect();
        let mut counts = vec![0usize; ws.len()];
        let mut covered = 0;
        let mut lo = 0;
        for hi in 0..hits.len() {
            let t = hits[hi].1;
            counts[t] += 1;
            if counts[t] == 1 {
                covered += 1;
            }
            while covered == ws.len() {
                if hits[hi].0 - hits[lo].0 <= slop as usize {
                    return true;
                }
                let tl = hits[lo].1;
                counts[tl] -= 1;
                if counts[tl] == 0 {
                    covered -= 1;
                }
                lo += 1;
            }
        }
        false
    }

    fn matches(&self, term: &Term) -> bool {
        match term {
            Term::Word(w) => self.has_word(w),
            Term::Prefix(p) => self.has_prefix(p),
            Term::Phrase(p) => self.has_phrase(p),
            Term::Near(ws, slop) => self.has_near(ws, *slop),
            Term::Substring(s) => self.text.contains(s.as_str()),
            Term::Regex(re) => re.is_match(&self.text),
        }
    }
}

/// An item's searchable text.
#[derive(Debug, Clone)]
pub struct Document {
    title: FieldText,
    summary: FieldText,
    content: FieldText,
    author: FieldText,
    category: FieldText,
    feed: FieldText,
}

impl Document {
    pub fn new(item: &ItemText) -> Document {
        let html = |h: Option<&str>| {
            h.map_or_else(FieldText::default, |h| FieldText::new(&html_to_text(h)))
        };
        Document {
            title: FieldText::new(item.title),
            summary: html(item.summary_html),
            content: html(item.content_html),
            author: FieldText::new(item.author.unwrap_or("")),
            category: FieldText::new(item.categories),
            feed: FieldText::new(item.feeds),
        }
    }

    fn field_matches(&self, field: Field, term: &Term) -> bool {
        match field {
            Field::Text => {
                self.title.matches(term) || self.summary.matches(term) || self.content.matches(term)
            }
            Field::Title => self.title.matches(term),
            Field::Summary => self.summary.matches(term),
            Field::Content => self.content.matches(term),
            Field::Author => self.author.matches(term),
            Field::Category => self.category.matches(term),
            Field::Feed => self.feed.matches(term),
        }
    }
}

/// A compiled topic query.
#[derive(Debug, Clone)]
pub struct Matcher {
    expr: Expr,
}

impl Matcher {
    pub(super) fn new(expr: Expr) -> Matcher {
        Matcher { expr }
    }

    pub fn matches(&self, doc: &Document) -> bool {
        eval(&self.expr, doc)
    }

    /// Why `doc` matches: the aliases and top-level terms that matched
    /// outside any NOT, in query order, without repeats.
    pub fn explain(&self, doc: &Document) -> Vec<String> {
        let mut out = Vec::new();
        collect(&self.expr, doc, &mut out);
        out
    }
}

fn eval(e: &Expr, doc: &Document) -> bool {
    match e {
        Expr::And(parts) => parts.iter().all(|p| eval(p, doc)),
        Expr::Or(parts) => parts.iter().any(|p| eval(p, doc)),
        Expr::Not(inner) => !eval(inner, doc),
        Expr::Alias { expr, .. } => eval(expr, doc),
        Expr::Term { field, term, .. } => doc.field_matches(*field, term),
    }
}

fn collect(e: &Expr, doc: &Document, out: &mut Vec<String>) {
    let mut push = |label: String| {
        if !out.contains(&label) {
            out.push(label);
        }
    };
    match e {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| collect(p, doc, out)),
        Expr::Not(_) => {}
        Expr::Alias { name, expr } => {
            if eval(expr, doc) {
                push(format!("@{name}"));
            }
        }
        Expr::Term { field, term, label } => {
            if doc.field_matches(*field, term) {
                push(label.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Aliases, compile};
    use super::*;

    fn aliases() -> Aliases {
        let mut a = Aliases::new();
        a.insert(
            "russia".into(),
            vec!["Russia".into(), "Moscow".into(), "ロシア".into()],
        );
        a.insert(
            "japan".into(),
            vec!["Japan".into(), "Tokyo".into(), "日本".into()],
        );
        a
    }

    fn m(q: &str, title: &str, html: &str) -> bool {
        compile(q, &aliases())
            .unwrap()
            .matches(&Document::new(&ItemText {
                title,
                summary_html: Some(html),
                ..Default::default()
            }))
    }

    #[test]
    fn whole_words_case_insensitive() {
        assert!(m("japan", "JAPAN votes", ""));
        assert!(m("moscow", "Talks in Moscow's suburbs", ""));
        assert!(!m("moscow", "Moscowitz Capital", ""));
        assert!(!m("japan", "Japanese yen", ""));
    }

    #[test]
    fn boolean_operators() {
        let q = "(@russia AND @japan) OR \"peace treaty\"";
        assert!(m(q, "Tokyo and Moscow talk", ""));
        assert!(!m(q, "Tokyo talks", ""));
        assert!(m(q, "", "<p>no <b>peace</b> treaty yet</p>"));
        assert!(!m(q, "peace, then a treaty", ""));
        assert!(m("Japan -sport", "Japan economy", ""));
        assert!(!m("Japan -sport", "Japan sport news", ""));
        assert!(m("NOT sport", "markets", ""));
    }

    #[test]
    fn phrases_stay_inside_one_field() {
        assert!(!m("\"treaty talks\"", "peace treaty", "talks resume"));
    }

    #[test]
    fn unspaced_scripts_match_as_substrings() {
        assert!(m("@russia AND @japan", "日本とロシアの外相が会談", ""));
        assert!(!m("@russia AND @japan", "日経平均株価　続伸", ""));
    }

    #[test]
    fn html_is_stripped_before_matching() {
        assert!(!m("script", "", "<script>x</script>hello"));
        assert!(!m("href", "", "<a href=\"/x\">link</a>"));
        assert!(m("link", "", "<a href=\"/x\">link</a>"));
    }

    #[test]
    fn proximity_window() {
        let q = "\"Russia Japan\"~3";
        assert!(m(q, "Japan and then Russia", ""));
        assert!(m(q, "Russia a b Japan", ""));
        assert!(!m(q, "Russia a b c Japan", ""));
        assert!(m(q, "Russia a b c d Japan x Russia", ""));
    }

    #[test]
    fn fields_and_explain() {
        let mx = compile(
            "title:Kuril* (@russia OR author:Kono) -category:sport",
            &aliases(),
        )
        .unwrap();
        let doc = Document::new(&ItemText {
            title: "Kurils talks",
            summary_html: Some("<p>Moscow said</p>"),
            author: Some("Taro Kono"),
            categories: "politics",
            ..Default::default()
        });
        assert!(mx.matches(&doc));
        assert_eq!(mx.explain(&doc), ["title:Kuril*", "@russia", "author:Kono"]);
        let sport = Document::new(&ItemText {
            title: "Kurils",
            categories: "sport",
            author: Some("Kono"),
            ..Default::default()
        });
        assert!(!mx.matches(&sport));
    }
}
