//! The topic query language: a lexer and a recursive-descent parser producing
//! an expression tree with aliases expanded and every term folded.
//!
//! Grammar (precedence NOT > AND > OR; AND may be implicit):
//! ```text
//! or      := and ("OR" and)*
//! and     := unary (["AND"] unary)*
//! unary   := ("NOT" | "-") unary | [FIELD ":"] primary
//! primary := "(" or ")" | WORD | WORD"*" | "PHRASE" | "PHRASE"~N | /REGEX/ | @ALIAS
//! ```
//! Operators are upper case, as in Lucene; lower-case "and"/"or" are words.

use super::Aliases;
use crate::text::{fold, is_unspaced_script, words};
use thiserror::Error;

/// Deepest nesting of groups, NOTs and aliases accepted; keeps recursion
/// (here and in the matcher) far from the stack's end on any input.
const MAX_DEPTH: usize = 64;
/// Largest compiled regex; a query is no place for a megabyte automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Largest proximity window.
const MAX_SLOP: u32 = 1000;
/// Most terms a query may expand to through its aliases: aliases naming
/// each other twice over would otherwise grow exponentially.
const MAX_TERMS: usize = 10_000;

/// A query that could not be parsed; `at` is a byte offset into the query.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct QueryError {
    pub at: usize,
    pub message: String,
    pub hint: Option<String>,
}

impl QueryError {
    fn new(at: usize, message: impl Into<String>, hint: impl Into<String>) -> Self {
        let hint: String = hint.into();
        QueryError {
            at,
            message: message.into(),
            hint: (!hint.is_empty()).then_some(hint),
        }
    }

    /// The error with the query under it and a caret at the column, for
    /// the command line.
    pub fn render(&self, query: &str) -> String {
        // Columns as a terminal shows them: wide (CJK) characters take two.
        let col = unicode_width::UnicodeWidthStr::width(&query[..self.at.min(query.len())]);
        let mut s = format!(
            "{}\n  |\n  | {query}\n  | {}^",
            self.message,
            " ".repeat(col)
        );
        if let Some(h) = &self.hint {
            s.push_str(&format!("\n  = hint: {h}"));
        }
        s
    }
}

/// Where a term looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// Title, summary and content: the default.
    Text,
    Title,
    Summary,
    Content,
    Author,
    Category,
    /// The url, title and tags of every feed the item was seen in.
    Feed,
}

pub const FIELD_NAMES: &[&str] = &["title", "summary", "content", "author", "category", "feed"];

impl Field {
    fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "title" => Field::Title,
            "summary" => Field::Summary,
            "content" => Field::Content,
            "author" => Field::Author,
            "category" => Field::Category,
            "feed" => Field::Feed,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Term {
        field: Field,
        term: Term,
        /// How the term was written, to say why an item matched.
        label: String,
    },
    /// An expanded `@name`, kept as a node to say which alias matched.
    /// `key` identifies the expansion (name and field) so a document can
    /// remember its result across the topics that share the alias.
    Alias {
        name: String,
        expr: Box<Expr>,
        key: u64,
    },
}

/// A query word and the words it matches: itself and, for a word matched
/// in all its forms, every word with the same Snowball stem
/// (`crate::text::stem`). Which words are (see `Spelling`): Cyrillic
/// words and lower-case Latin ones; a capitalised Latin word is a name and
/// matches as written. The whole stem must agree, not a prefix, so even
/// `Putin~` (stem putin) does not match "putting" (put).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Form {
    /// The word, folded.
    pub word: String,
    /// Its stem, when its other forms count.
    pub stem: Option<String>,
}

impl Form {
    /// Every form of `word` (folded).
    pub fn any(word: String) -> Form {
        let stem = crate::text::stem(&word);
        Form { word, stem }
    }

    /// `word` (folded) as written, nothing else.
    pub fn exact(word: String) -> Form {
        Form { word, stem: None }
    }

    /// Whether the folded word `w` is this word or one of its forms.
    pub fn accepts(&self, w: &str) -> bool {
        w == self.word
            || self
                .stem
                .as_deref()
                .is_some_and(|s| w.starts_with(crate::text::stem_lead(s)) && self.same_stem(s, w))
    }

    /// Whether `w` (another word than this one, starting with the lead of
    /// this word's stem `s`) is one of its forms: the same stem, or one's
    /// stem is the other word. Russian Snowball cuts a nominative in -ов
    /// or -ит as if it were an ending (остров → остр, визит → виз, but
    /// острове → остров), so stems alone would part a word from its cases.
    pub fn same_stem(&self, s: &str, w: &str) -> bool {
        if w == s {
            return true;
        }
        crate::text::stem_cow(w).is_some_and(|t| t == s || t == self.word.as_str())
    }
}

/// How a query word was written, which decides the forms it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// As most words are written: all forms, but a capitalised Latin word
    /// (an English name: Putin, Abe, Kono) only as written, since English
    /// names do not inflect and their stems meet other words' (Konoe and
    /// Kono, Abes and Abe). Russian names decline, so Cyrillic ones match
    /// all their forms.
    Plain,
    /// `=word`: only as written.
    Exact,
    /// `word~`: all forms, even a capitalised Latin word.
    Forms,
}

impl From<&str> for Form {
    fn from(w: &str) -> Form {
        Form::any(w.to_owned())
    }
}

impl std::ops::Deref for Form {
    type Target = str;
    fn deref(&self) -> &str {
        &self.word
    }
}

#[derive(Debug, Clone)]
pub enum Term {
    /// One folded word, matched as a whole word in any of its forms.
    Word(Form),
    /// Any word starting with this.
    Prefix(String),
    /// Consecutive folded words, each in any of its forms.
    Phrase(Vec<Form>),
    /// All the words within `slop` positions of each other, any order.
    Near(Vec<Form>, u32),
    /// Text in a script without spaces, matched anywhere in the folded
    /// text; with spaces, each part anywhere ("日本 ロシア" finds 「日本とロシア」).
    Substring(String),
    /// A regular expression over the folded text.
    Regex(regex::Regex),
}

impl PartialEq for Term {
    fn eq(&self, other: &Term) -> bool {
        match (self, other) {
            (Term::Word(a), Term::Word(b)) => a == b,
            (Term::Prefix(a), Term::Prefix(b)) | (Term::Substring(a), Term::Substring(b)) => a == b,
            (Term::Phrase(a), Term::Phrase(b)) => a == b,
            (Term::Near(a, x), Term::Near(b, y)) => a == b && x == y,
            (Term::Regex(a), Term::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Eq for Term {}

impl Term {
    /// Builds the term for `raw` (a bare word or a phrase's inside), its
    /// words matching the forms `spelling` says. `None` when it holds no
    /// letters or digits at all.
    pub fn from_text(raw: &str, spelling: Spelling) -> Option<Term> {
        let folded = fold(raw.trim());
        if folded.chars().any(is_unspaced_script) {
            return Some(Term::Substring(folded));
        }
        // Which words were written capitalised in Latin letters, word by
        // word (folding only lowercases and strips marks, so the words
        // line up; if they do not, none counts as a name).
        let names: Vec<bool> = raw
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(|w| {
                w.chars()
                    .next()
                    .is_some_and(|c| c.is_uppercase() && c.is_ascii())
            })
            .collect();
        let mut ws: Vec<Form> = words(&folded)
            .enumerate()
            .map(|(i, w)| {
                let name = names.len() > i && names[i];
                match spelling {
                    Spelling::Exact => Form::exact(w.to_owned()),
                    Spelling::Plain if name => Form::exact(w.to_owned()),
                    _ => Form::any(w.to_owned()),
                }
            })
            .collect();
        match ws.len() {
            0 => None,
            1 => ws.pop().map(Term::Word),
            _ => Some(Term::Phrase(ws)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Minus,
    Field(Field),
    /// A bare word; `prefix` when it ended in `*`; `spelling` Exact when
    /// it began with `=`, Forms when it ended in `~`.
    Word {
        text: String,
        prefix: bool,
        spelling: Spelling,
    },
    /// A quoted phrase; `exact` when written `="..."`.
    Phrase {
        text: String,
        slop: Option<u32>,
        exact: bool,
    },
    Regex(String),
    Alias(String),
}

fn lex(q: &str) -> Result<Vec<(usize, Tok)>, QueryError> {
    let mut toks = Vec::new();
    let mut after_field = false;
    // Set by a `=` just before a quote: the phrase's words as written.
    let mut exact_phrase = false;
    let mut it = q.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        if c == '=' && q[i + 1..].starts_with('"') {
            it.next();
            exact_phrase = true;
            continue;
        }
        if !(c.is_whitespace() || c.is_alphanumeric()) {
            after_field = false;
        }
        match c {
            c if c.is_whitespace() => {
                after_field = false;
                it.next();
            }
            '(' => {
                it.next();
                toks.push((i, Tok::LParen));
            }
            ')' => {
                it.next();
                toks.push((i, Tok::RParen));
            }
            '"' => {
                it.next();
                let start = i + 1;
                let end = it.by_ref().find(|&(_, c)| c == '"').map(|(j, _)| j);
                let Some(end) = end else {
                    return Err(QueryError::new(
                        i,
                        "unclosed quote",
                        "add a closing \" after the phrase",
                    ));
                };
                let mut slop = None;
                if let Some(&(t, '~')) = it.peek() {
                    it.next();
                    let mut digits = String::new();
                    while let Some(&(_, d)) = it.peek().filter(|(_, d)| d.is_ascii_digit()) {
                        digits.push(d);
                        it.next();
                    }
                    let n = digits
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_SLOP).contains(n));
                    let Some(n) = n else {
                        return Err(QueryError::new(
                            t,
                            "'~' must be followed by a distance in words",
                            format!("write \"Russia Japan\"~10 (1 to {MAX_SLOP})"),
                        ));
                    };
                    slop = Some(n);
                }
                toks.push((
                    i,
                    Tok::Phrase {
                        text: q[start..end].to_owned(),
                        slop,
                        exact: std::mem::take(&mut exact_phrase),
                    },
                ));
            }
            '/' => {
                it.next();
                let start = i + 1;
                let mut end = None;
                let mut escaped = false;
                for (j, c) in it.by_ref() {
                    match c {
                        '\\' if !escaped => escaped = true,
                        '/' if !escaped => {
                            end = Some(j);
                            break;
                        }
                        _ => escaped = false,
                    }
                }
                let Some(end) = end else {
                    return Err(QueryError::new(
                        i,
                        "unclosed /regex/",
                        "add a closing / (write \\/ for a slash inside)",
                    ));
                };
                toks.push((i, Tok::Regex(q[start..end].replace("\\/", "/"))));
            }
            '-' => {
                it.next();
                match it.peek() {
                    Some(&(_, n)) if !n.is_whitespace() && n != ')' => toks.push((i, Tok::Minus)),
                    _ => {
                        return Err(QueryError::new(
                            i,
                            "'-' must stand directly before the term it excludes",
                            "write -sport (no space), or NOT sport",
                        ));
                    }
                }
            }
            '@' => {
                it.next();
                let start = i + 1;
                let mut end = start;
                while let Some(&(j, c)) = it.peek() {
                    if c.is_alphanumeric() || c == '_' || c == '-' {
                        end = j + c.len_utf8();
                        it.next();
                    } else {
                        break;
                    }
                }
                if end == start {
                    return Err(QueryError::new(
                        i,
                        "'@' must be followed by an alias name",
                        "write @name, where name is defined under [alias]",
                    ));
                }
                toks.push((i, Tok::Alias(q[start..end].to_owned())));
            }
            _ => {
                let start = i;
                let mut end = i;
                let mut field_end = None;
                // Only a run of letters before the first ':' can name a field,
                // and not right after another field (feed:https://...).
                let mut letters_only = !after_field;
                while let Some(&(j, c)) = it.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"') {
                        break;
                    }
                    end = j + c.len_utf8();
                    it.next();
                    if c == ':' && letters_only && j > start {
                        field_end = Some(j);
                        break;
                    }
                    letters_only &= c.is_ascii_alphabetic();
                }
                after_field = false;
                if let Some(fe) = field_end {
                    let name = &q[start..fe];
                    let after = it.peek().map(|&(_, c)| c);
                    let field = Field::from_name(&name.to_ascii_lowercase());
                    match (field, after) {
                        (Some(field), Some(c)) if !c.is_whitespace() && c != ')' => {
                            toks.push((start, Tok::Field(field)));
                            after_field = true;
                            continue;
                        }
                        (Some(_), _) => {
                            return Err(QueryError::new(
                                start,
                                format!("{name}: needs its term right after the colon"),
                                format!("write {name}:Kuril or {name}:(a OR b), without a space"),
                            ));
                        }
                        (None, Some(c)) if !c.is_whitespace() && c != ')' => {
                            return Err(QueryError::new(
                                start,
                                format!("unknown field {name}:"),
                                format!(
                                    "fields are {}; to search for the text itself, quote it: \"{}\"",
                                    FIELD_NAMES
                                        .iter()
                                        .map(|f| format!("{f}:"))
                                        .collect::<Vec<_>>()
                                        .join(" "),
                                    name
                                ),
                            ));
                        }
                        // "Re: talks" — a word with a colon, not a field.
                        (None, _) => {}
                    }
                }
                let w = &q[start..end];
                let (w, spelling) = match (w.strip_prefix('='), w.strip_suffix('~')) {
                    (Some(rest), _) if !rest.is_empty() => (rest, Spelling::Exact),
                    (_, Some(rest)) if !rest.is_empty() => (rest, Spelling::Forms),
                    _ => (w, Spelling::Plain),
                };
                let plain = spelling == Spelling::Plain;
                let tok = match w {
                    "AND" if plain => Tok::And,
                    "OR" if plain => Tok::Or,
                    "NOT" if plain => Tok::Not,
                    _ => match w.strip_suffix('*') {
                        Some(p) => Tok::Word {
                            text: p.to_owned(),
                            prefix: true,
                            spelling,
                        },
                        None => Tok::Word {
                            text: w.to_owned(),
                            prefix: false,
                            spelling,
                        },
                    },
                };
                toks.push((start, tok));
            }
        }
    }
    Ok(toks)
}

struct Parser<'a> {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    len: usize,
    aliases: &'a Aliases,
    /// Aliases being expanded, outermost first, to refuse cycles.
    expanding: Vec<String>,
    depth: usize,
    /// Terms produced so far, against MAX_TERMS.
    terms: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }

    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.len, |(i, _)| *i)
    }

    fn starts_operand(&self) -> bool {
        matches!(
            self.peek(),
            Some(
                Tok::LParen
                    | Tok::Not
                    | Tok::Minus
                    | Tok::Field(_)
                    | Tok::Word { .. }
                    | Tok::Phrase { .. }
                    | Tok::Regex(_)
                    | Tok::Alias(_)
            )
        )
    }

    fn or(&mut self, field: Field) -> Result<Expr, QueryError> {
        let mut parts = vec![self.and(field)?];
        while self.peek() == Some(&Tok::Or) {
            let op_at = self.at();
            self.pos += 1;
            if !self.starts_operand() {
                return Err(QueryError::new(
                    op_at,
                    "OR needs a term on its right",
                    "remove the OR or add a term after it",
                ));
            }
            parts.push(self.and(field)?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self, field: Field) -> Result<Expr, QueryError> {
        let mut parts = vec![self.unary(field)?];
        loop {
            match self.peek() {
                Some(Tok::And) => {
                    let op_at = self.at();
                    self.pos += 1;
                    if !self.starts_operand() {
                        return Err(QueryError::new(
                            op_at,
                            "AND needs a term on its right",
                            "remove the AND or add a term after it",
                        ));
                    }
                    parts.push(self.unary(field)?);
                }
                _ if self.starts_operand() => parts.push(self.unary(field)?),
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn enter(&mut self, at: usize) -> Result<(), QueryError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(QueryError::new(
                at,
                format!("the query nests more than {MAX_DEPTH} levels deep"),
                "flatten the groups",
            ));
        }
        Ok(())
    }

    fn unary(&mut self, field: Field) -> Result<Expr, QueryError> {
        let at = self.at();
        self.enter(at)?;
        let r = self.unary_inner(field, at);
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self, field: Field, at: usize) -> Result<Expr, QueryError> {
        let Some(tok) = self.peek().cloned() else {
            return Err(QueryError::new(
                at,
                "the query ends where a term was expected",
                "add a term, or remove the trailing operator",
            ));
        };
        self.pos += 1;
        match tok {
            Tok::Not | Tok::Minus => {
                if !self.starts_operand() {
                    return Err(QueryError::new(
                        at,
                        "NOT needs a term after it",
                        "write NOT sport or -sport",
                    ));
                }
                Ok(Expr::Not(Box::new(self.unary(field)?)))
            }
            Tok::Field(f) => {
                if !self.starts_operand() || matches!(self.peek(), Some(Tok::Field(_))) {
                    return Err(QueryError::new(
                        at,
                        "a field needs a term after it",
                        "write title:Kuril* or title:(a OR b)",
                    ));
                }
                self.unary(f)
            }
            Tok::LParen => {
                if self.peek() == Some(&Tok::RParen) {
                    return Err(QueryError::new(
                        at,
                        "empty parentheses",
                        "put terms inside ( ), or remove them",
                    ));
                }
                let inner = self.or(field)?;
                if self.peek() == Some(&Tok::RParen) {
                    self.pos += 1;
                    Ok(inner)
                } else {
                    Err(QueryError::new(
                        at,
                        "unclosed '('",
                        "add a ')' to close this group",
                    ))
                }
            }
            Tok::RParen => Err(QueryError::new(
                at,
                "unmatched ')'",
                "remove it, or add the '(' it closes",
            )),
            Tok::And | Tok::Or => {
                let op = if tok == Tok::And { "AND" } else { "OR" };
                Err(QueryError::new(
                    at,
                    format!("{op} needs a term on its left"),
                    format!("remove the {op}, or add a term before it"),
                ))
            }
            Tok::Word {
                text,
                prefix,
                spelling,
            } => word(at, field, &text, prefix, spelling),
            Tok::Phrase { text, slop, exact } => phrase(at, field, &text, slop, exact),
            Tok::Regex(re) => regex_term(at, field, &re),
            Tok::Alias(name) => self.alias(at, field, &name),
        }
    }

    fn count_terms(&mut self, at: usize, n: usize) -> Result<(), QueryError> {
        self.terms += n;
        if self.terms > MAX_TERMS {
            return Err(QueryError::new(
                at,
                format!("the query expands to more than {MAX_TERMS} terms through its aliases"),
                "an alias that names another alias several times multiplies its terms; list them once",
            ));
        }
        Ok(())
    }

    fn alias(&mut self, at: usize, field: Field, name: &str) -> Result<Expr, QueryError> {
        let Some(entries) = self.aliases.get(name) else {
            let known: Vec<_> = self.aliases.keys().map(|k| format!("@{k}")).collect();
            let hint = if known.is_empty() {
                format!("define it in config.toml: [alias] {name} = [\"term\", ...]")
            } else {
                format!(
                    "define it under [alias], or use one of: {}",
                    known.join(", ")
                )
            };
            return Err(QueryError::new(at, format!("unknown alias @{name}"), hint));
        };
        if self.expanding.iter().any(|n| n == name) {
            let mut cycle: Vec<String> = self.expanding.iter().map(|n| format!("@{n}")).collect();
            cycle.push(format!("@{name}"));
            return Err(QueryError::new(
                at,
                format!(
                    "aliases refer to each other in a cycle: {}",
                    cycle.join(" -> ")
                ),
                "remove one of the references",
            ));
        }
        if entries.is_empty() {
            return Err(QueryError::new(
                at,
                format!("alias @{name} is empty"),
                "give it at least one term",
            ));
        }
        self.count_terms(at, entries.len())?;
        self.expanding.push(name.to_owned());
        let mut parts = Vec::with_capacity(entries.len());
        for entry in entries {
            let part = self.alias_entry(at, field, name, entry);
            match part {
                Ok(p) => parts.push(p),
                Err(e) => {
                    self.expanding.pop();
                    return Err(e);
                }
            }
        }
        self.expanding.pop();
        let expr = if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        };
        let key = {
            use std::hash::BuildHasher;
            rustc_hash::FxBuildHasher.hash_one((name, field))
        };
        Ok(Expr::Alias {
            name: name.to_owned(),
            expr: Box::new(expr),
            key,
        })
    }

    /// An alias entry is query syntax when it starts with `"`, `(`, `@`,
    /// `/`, `-` or `field:`, ends in `*`, or uses AND/OR/NOT; otherwise it
    /// is a word, or a phrase when it has spaces ("Tokyo/Moscow talks" and
    /// "Japan: Russia talks" are phrases).
    fn alias_entry(
        &mut self,
        at: usize,
        field: Field,
        alias: &str,
        entry: &str,
    ) -> Result<Expr, QueryError> {
        let in_alias = |e: QueryError| QueryError {
            at,
            message: format!("in alias @{alias}, entry {entry:?}: {}", e.message),
            hint: e.hint,
        };
        let t = entry.trim();
        let starts_field = t
            .split_once(':')
            .is_some_and(|(f, rest)| Field::from_name(f).is_some() && !rest.starts_with(' '));
        let syntax = t.starts_with(['"', '(', '@', '/', '-', '='])
            || t.ends_with(['*', '~'])
            || starts_field
            || t.split_whitespace()
                .any(|w| matches!(w, "AND" | "OR" | "NOT"));
        if !syntax {
            return match Term::from_text(entry, Spelling::Plain) {
                Some(term) => Ok(Expr::Term {
                    field,
                    term,
                    label: entry.to_owned(),
                }),
                None => Err(in_alias(QueryError::new(
                    0,
                    "no letters or digits",
                    "remove that entry",
                ))),
            };
        }
        let toks = lex(entry).map_err(in_alias)?;
        let mut sub = Parser {
            toks,
            pos: 0,
            len: entry.len(),
            aliases: self.aliases,
            expanding: std::mem::take(&mut self.expanding),
            depth: self.depth,
            terms: self.terms,
        };
        let r = sub.whole(field);
        self.expanding = std::mem::take(&mut sub.expanding);
        self.terms = sub.terms;
        // A cycle found deeper is already phrased for the person: pass it on.
        r.map_err(|e| {
            if e.message.contains("cycle") {
                QueryError { at, ..e }
            } else {
                in_alias(e)
            }
        })
    }

    fn whole(&mut self, field: Field) -> Result<Expr, QueryError> {
        if self.toks.is_empty() {
            return Err(QueryError::new(
                0,
                "the query is empty",
                "write at least one term, e.g. query = '\"peace treaty\"'",
            ));
        }
        let expr = self.or(field)?;
        if self.pos < self.toks.len() {
            let at = self.at();
            let msg = if self.peek() == Some(&Tok::RParen) {
                "unmatched ')'"
            } else {
                "unexpected text"
            };
            return Err(QueryError::new(
                at,
                msg,
                "remove it, or add the '(' it closes",
            ));
        }
        Ok(expr)
    }
}

/// How a term is shown when saying why an item matched: as written, with
/// its field.
fn label(field: Field, written: String) -> String {
    match field {
        Field::Text => written,
        f => format!("{}:{written}", FIELD_NAMES[f as usize - 1]),
    }
}

fn word(
    at: usize,
    field: Field,
    text: &str,
    prefix: bool,
    spelling: Spelling,
) -> Result<Expr, QueryError> {
    let label = label(
        field,
        match (prefix, spelling) {
            (true, _) => format!("{text}*"),
            (false, Spelling::Exact) => format!("={text}"),
            (false, Spelling::Forms) => format!("{text}~"),
            (false, Spelling::Plain) => text.to_owned(),
        },
    );
    if !prefix {
        if text.contains('*') {
            return Err(QueryError::new(
                at,
                format!("`{text}`: a * may only end a word"),
                "write Kuril* for words starting with Kuril",
            ));
        }
        return Term::from_text(text, spelling)
            .map(|term| Expr::Term { field, term, label })
            .ok_or_else(|| {
                QueryError::new(
                    at,
                    format!("`{text}` holds no letters or digits"),
                    "remove it; queries match words, not punctuation",
                )
            });
    }
    let folded = fold(text);
    if folded.chars().any(is_unspaced_script) {
        return Ok(Expr::Term {
            field,
            term: Term::Substring(folded),
            label,
        });
    }
    let ws: Vec<&str> = words(&folded).collect();
    match ws.as_slice() {
        [one] => Ok(Expr::Term {
            field,
            term: Term::Prefix((*one).to_owned()),
            label,
        }),
        [] => Err(QueryError::new(
            at,
            "a * needs letters before it",
            "write Kuril* for words starting with Kuril",
        )),
        _ => Err(QueryError::new(
            at,
            format!("`{text}*` is more than one word"),
            "a prefix* applies to one word",
        )),
    }
}

fn phrase(
    at: usize,
    field: Field,
    text: &str,
    slop: Option<u32>,
    exact: bool,
) -> Result<Expr, QueryError> {
    let mark = if exact { "=" } else { "" };
    let label = label(
        field,
        match slop {
            Some(n) => format!("{mark}\"{text}\"~{n}"),
            None => format!("{mark}\"{text}\""),
        },
    );
    let spelling = if exact {
        Spelling::Exact
    } else {
        Spelling::Plain
    };
    let term = Term::from_text(text, spelling).ok_or_else(|| {
        QueryError::new(
            at,
            "empty phrase",
            "put words between the quotes, or remove them",
        )
    })?;
    let term = match (term, slop) {
        (Term::Phrase(ws), Some(n)) => {
            let mut ws = ws;
            ws.sort();
            ws.dedup();
            if ws.len() == 1 {
                Term::Word(ws.remove(0))
            } else {
                Term::Near(ws, n)
            }
        }
        (Term::Substring(_), Some(_)) => {
            return Err(QueryError::new(
                at,
                "proximity needs words separated by spaces",
                "in Japanese, Chinese or Korean text use separate terms: 日本 ロシア",
            ));
        }
        (t, _) => t,
    };
    Ok(Expr::Term { field, term, label })
}

fn regex_term(at: usize, field: Field, re: &str) -> Result<Expr, QueryError> {
    if re.is_empty() {
        return Err(QueryError::new(
            at,
            "empty /regex/",
            "write a pattern between the slashes, or remove them",
        ));
    }
    // Item text is folded to lower case before matching, so a pattern
    // written in lower case matches it as well without case-insensitivity,
    // and the regex engine's literal prefilters stay fast (one needle, not
    // every upper/lower-case combination of it). Any upper-case letter,
    // including one in an escape like `\W`, keeps the insensitive build.
    let compiled = regex::RegexBuilder::new(re)
        .case_insensitive(re.chars().any(char::is_uppercase))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            let detail = e.to_string();
            let last = detail
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            QueryError::new(
                at,
                format!("bad /regex/: {last}"),
                "see https://docs.rs/regex for the syntax",
            )
        })?;
    Ok(Expr::Term {
        field,
        term: Term::Regex(compiled),
        label: label(field, format!("/{re}/")),
    })
}

/// Parses a query, expanding `@alias` references from `aliases`.
pub fn parse_query(q: &str, aliases: &Aliases) -> Result<Expr, QueryError> {
    let toks = lex(q)?;
    let mut p = Parser {
        toks,
        pos: 0,
        len: q.len(),
        aliases,
        expanding: Vec::new(),
        depth: 0,
        terms: 0,
    };
    p.whole(Field::Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aliases() -> Aliases {
        let mut a = Aliases::new();
        a.insert("japan".into(), vec!["Japan".into(), "日本".into()]);
        a.insert(
            "kurils".into(),
            vec!["\"Kuril Islands\"".into(), "Курил*".into(), "@japan".into()],
        );
        a.insert("loop-a".into(), vec!["@loop-b".into()]);
        a.insert("loop-b".into(), vec!["x OR @loop-a".into()]);
        a
    }

    fn w(s: &str) -> Expr {
        Expr::Term {
            field: Field::Text,
            term: Term::Word(s.into()),
            label: s.into(),
        }
    }

    fn term(e: &Expr) -> (Field, &Term) {
        match e {
            Expr::Term { field, term, .. } => (*field, term),
            other => panic!("not a term: {other:?}"),
        }
    }

    #[test]
    fn precedence_not_over_and_over_or() {
        let e = parse_query("a b OR NOT c AND d", &aliases()).unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::And(vec![w("a"), w("b")]),
                Expr::And(vec![Expr::Not(Box::new(w("c"))), w("d")]),
            ])
        );
    }

    #[test]
    fn lowercase_operators_are_words() {
        let e = parse_query("war and peace", &aliases()).unwrap();
        assert_eq!(e, Expr::And(vec![w("war"), w("and"), w("peace")]));
    }

    #[test]
    fn prefixes_fields_proximity_and_regex() {
        let a = aliases();
        let e = parse_query("title:Kuril*", &a).unwrap();
        assert_eq!(term(&e), (Field::Title, &Term::Prefix("kuril".into())));
        let e = parse_query("\"Russia Japan Russia\"~10", &a).unwrap();
        assert_eq!(
            term(&e).1,
            &Term::Near(
                vec![Form::exact("japan".into()), Form::exact("russia".into())],
                10
            )
        );
        let e = parse_query("content:/Kuril(e|s)?/", &a).unwrap();
        assert!(matches!(term(&e), (Field::Content, Term::Regex(_))));
        let Expr::Or(parts) = parse_query("author:(Kono OR Lavrov)", &a).unwrap() else {
            panic!()
        };
        assert!(parts.iter().all(|p| term(p).0 == Field::Author));
        let e = parse_query("北方*", &a).unwrap();
        assert_eq!(term(&e).1, &Term::Substring("北方".into()));
    }

    #[test]
    fn aliases_nest_and_carry_the_field() {
        let e = parse_query("title:@kurils", &aliases()).unwrap();
        let Expr::Alias { name, expr, .. } = e else {
            panic!()
        };
        assert_eq!(name, "kurils");
        let Expr::Or(parts) = *expr else { panic!() };
        assert_eq!(
            term(&parts[0]),
            (
                Field::Title,
                &Term::Phrase(vec![
                    Form::exact("kuril".into()),
                    Form::exact("islands".into())
                ])
            )
        );
        assert_eq!(
            term(&parts[1]),
            (Field::Title, &Term::Prefix("курил".into()))
        );
        assert!(matches!(&parts[2], Expr::Alias { name, .. } if name == "japan"));
    }

    #[track_caller]
    fn err(q: &str) -> QueryError {
        parse_query(q, &aliases()).expect_err(q)
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = err("(Russia OR Japan");
        assert_eq!((e.at, e.message.as_str()), (0, "unclosed '('"));
        let e = err("Russia)");
        assert_eq!((e.at, e.message.as_str()), (6, "unmatched ')'"));
        let e = err("Russia AND @korea");
        assert_eq!((e.at, e.message.as_str()), (11, "unknown alias @korea"));
        assert!(e.hint.unwrap().contains("@japan"));
        let e = err("Russia \"treaty");
        assert_eq!((e.at, e.message.as_str()), (7, "unclosed quote"));
        let e = err("Russia OR");
        assert_eq!(
            (e.at, e.message.as_str()),
            (7, "OR needs a term on its right")
        );
        let e = err("AND Russia");
        assert_eq!(
            (e.at, e.message.as_str()),
            (0, "AND needs a term on its left")
        );
        assert_eq!(err("\"\"").message, "empty phrase");
        assert_eq!(err("   ").message, "the query is empty");
        assert_eq!(err("a - b").at, 2);
        let e = err("Japan titel:Kuril");
        assert_eq!((e.at, e.message.as_str()), (6, "unknown field titel:"));
        assert!(e.hint.unwrap().contains("title:"));
        let e = err("Japan /Kuril(/");
        assert_eq!(e.at, 6);
        assert!(e.message.starts_with("bad /regex/"), "{}", e.message);
        let e = err("@loop-a");
        assert!(
            e.message.contains("cycle: @loop-a -> @loop-b -> @loop-a"),
            "{}",
            e.message
        );
        assert!(err("\"a b\"~").message.contains("distance"));
        assert!(err(&"(".repeat(100)).message.contains("levels deep"));
    }

    #[test]
    fn render_puts_a_caret_under_the_column() {
        let e = err("Россия AND @korea");
        let r = e.render("Россия AND @korea");
        assert!(r.contains("  | Россия AND @korea\n  |            ^"), "{r}");
    }
}
