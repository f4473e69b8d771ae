//! Evaluates a compiled query against one item's text.

use super::query::{Expr, Term};
use super::text::{fold, html_to_text, words};

/// An item's searchable text, folded and split once so that every topic can
/// test it cheaply.
#[derive(Debug, Clone)]
pub struct Document {
    /// Folded text of all fields; fields are separated by a newline so a
    /// phrase never spans two fields in substring matching.
    text: String,
    /// Words in order, for phrases.
    seq: Vec<String>,
    /// The same words sorted and deduplicated, for single-word lookups.
    set: Vec<String>,
}

impl Document {
    /// Builds a document from plain-text and HTML fields.
    pub fn new(plain: &[&str], html: &[&str]) -> Document {
        let mut text = String::new();
        for p in plain {
            text.push_str(&fold(p));
            text.push('\n');
        }
        for h in html {
            text.push_str(&fold(&html_to_text(h)));
            text.push('\n');
        }
        // A sentinel between fields keeps phrases inside one field.
        let mut seq = Vec::new();
        for line in text.split('\n') {
            seq.extend(words(line).map(str::to_owned));
            seq.push(String::new());
        }
        let mut set: Vec<String> = seq.iter().filter(|w| !w.is_empty()).cloned().collect();
        set.sort_unstable();
        set.dedup();
        Document { text, seq, set }
    }

    fn has_word(&self, w: &str) -> bool {
        self.set.binary_search_by(|x| x.as_str().cmp(w)).is_ok()
    }

    fn has_phrase(&self, p: &[String]) -> bool {
        let Some(first) = p.first() else {
            return false;
        };
        if !p.iter().all(|w| self.has_word(w)) {
            return false;
        }
        self.seq
            .windows(p.len())
            .any(|win| win[0] == *first && win.iter().zip(p).all(|(a, b)| a == b))
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
}

fn eval(e: &Expr, doc: &Document) -> bool {
    match e {
        Expr::And(parts) => parts.iter().all(|p| eval(p, doc)),
        Expr::Or(parts) => parts.iter().any(|p| eval(p, doc)),
        Expr::Not(inner) => !eval(inner, doc),
        Expr::Term(Term::Word(w)) => doc.has_word(w),
        Expr::Term(Term::Phrase(p)) => doc.has_phrase(p),
        Expr::Term(Term::Substring(s)) => doc.text.contains(s.as_str()),
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
            .matches(&Document::new(&[title], &[html]))
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
}
