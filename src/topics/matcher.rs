//! Evaluates a compiled query against one item's text.

use std::cell::{Cell, OnceCell};
use std::collections::HashSet;

use super::query::{Expr, Field, Form, Term};
use crate::text::{fold_into, for_each_word, html_to_text_into, is_unspaced_script};

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
    /// The language its feed declares (`<language>`, `xml:lang`), which
    /// decides whose word forms count (see `Stemming`).
    pub language: Option<&'a str>,
}

/// Folded text split once into words so every topic can test it cheaply.
/// One `FieldText` may hold several fields, each a byte span of `text`.
#[derive(Debug, Clone)]
struct FieldText {
    text: String,
    /// Word ranges in order, for phrases and proximity; `(0, 0)` separates
    /// fields and lines that a phrase must not span.
    seq: Vec<(u32, u32)>,
    /// One `u64` per word of `seq` (outside unspaced scripts): the word's
    /// first bytes, big-endian, in the high bits and its position in `seq`
    /// in the low `pos_bits`. A long text's entries are sorted, so a word
    /// is found among the few entries sharing its key and a prefix among
    /// the entries whose keys start with it. A short text's (most items)
    /// are left in text order and scanned: the few lookups the Bloom
    /// filter lets through cost less than the sort.
    index: Vec<u64>,
    pos_bits: u32,
    sorted: bool,
    /// One bit per key (a 1024-bit Bloom filter): most words a query asks
    /// for are absent, and this answers most of those without a search.
    bloom: [u64; 16],
    /// The same for the first four bytes of every word of four bytes or
    /// more: prefix terms of four to seven bytes ("Kuril*", "виз*") are
    /// answered here when absent, as longer ones are by `bloom`.
    bloom4: [u64; 16],
    /// The same for the first three bytes of words of three bytes or more:
    /// a word's other forms are looked for by a prefix that short when its
    /// stem is ("yen", "tax"; Russian "мир"), in every item the word itself
    /// is not in.
    bloom3: [u64; 16],
    /// Whether the text may hold a script without spaces (a UTF-8 lead byte
    /// of those blocks occurs). Substring terms always hold such a script,
    /// so most texts answer them without a search.
    maybe_unspaced: bool,
    /// Whose word forms count in this text.
    stemming: Stemming,
}

/// Whose word forms count in an item, from the language its feed declares.
/// A Latin word takes English forms and a Cyrillic word Russian ones,
/// unless the feed says it is written in another language of that script
/// (French, German; Ukrainian, Bulgarian...), whose words would meet
/// English or Russian stems by accident: then words match as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stemming {
    latin: bool,
    cyrillic: bool,
}

/// Languages written in Cyrillic other than Russian.
const OTHER_CYRILLIC: &[&str] = &[
    "uk", "be", "bg", "sr", "mk", "kk", "ky", "tg", "mn", "ba", "tt", "cv", "ce", "os",
];

/// Languages not written in Latin letters: Latin words in their feeds are
/// names and loans, as likely English as anything.
const NOT_LATIN: &[&str] = &[
    "ru", "ja", "zh", "ko", "ar", "he", "fa", "ur", "hi", "bn", "th", "el", "ka", "hy", "am", "ta",
    "te", "ml", "kn", "si", "my", "km", "lo", "ne", "mr", "gu", "pa",
];

impl Stemming {
    const ALL: Stemming = Stemming {
        latin: true,
        cyrillic: true,
    };

    fn for_language(lang: Option<&str>) -> Stemming {
        let primary = lang
            .and_then(|l| l.trim().split(['-', '_']).next())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        if primary.is_empty() {
            return Stemming::ALL;
        }
        let other_cyrillic = OTHER_CYRILLIC.contains(&primary.as_str());
        Stemming {
            latin: primary == "en" || other_cyrillic || NOT_LATIN.contains(&primary.as_str()),
            cyrillic: !other_cyrillic,
        }
    }

    /// Whether the forms of query word `w` (folded) count here.
    fn allows(self, w: &str) -> bool {
        if w.is_ascii() {
            self.latin
        } else {
            self.cyrillic
        }
    }
}

fn bloom_bit(k: u64) -> (usize, u64) {
    let h = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54;
    ((h >> 6) as usize, 1 << (h & 63))
}

/// The first eight bytes of `w`, big-endian and zero-padded, so keys sort
/// like the words they start.
fn key(w: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = w.len().min(8);
    b[..n].copy_from_slice(&w[..n]);
    u64::from_be_bytes(b)
}

/// `key` of the word at `text[a..b]`, reading eight bytes at once where the
/// text has them (a variable-length copy per word cost more than the sort).
fn key_at(text: &[u8], a: usize, b: usize) -> u64 {
    match text.get(a..a + 8) {
        Some(eight) => {
            let mut w = [0u8; 8];
            w.copy_from_slice(eight);
            let len = (b - a).min(8);
            // Keep the first `len` bytes: shift the rest out.
            let drop = 8 * (8 - len) as u32;
            u64::from_be_bytes(w)
                .checked_shr(drop)
                .map_or(0, |v| v << drop)
        }
        None => key(&text[a..b]),
    }
}

/// Texts with at most this many indexed words are scanned, not sorted.
const SCAN_MAX: usize = 256;

/// The low `bits` bits set.
fn low_mask(bits: u32) -> u64 {
    1u64.checked_shl(bits).map_or(u64::MAX, |v| v - 1)
}

/// A byte span of a `FieldText`: one field, or all of them.
type Span = (u32, u32);
const ALL: Span = (0, u32::MAX);

impl FieldText {
    /// Folds and splits `parts`, each of which becomes a span; phrases
    /// never cross from one part to the next.
    fn new<const N: usize>(parts: [&str; N]) -> (FieldText, [Span; N]) {
        let mut spans = [ALL; N];
        let ft = Self::from_parts(parts.iter().copied(), |i, s| spans[i] = s);
        (ft, spans)
    }

    /// One part per line of `s`: categories and feeds are lists, and a
    /// phrase must not join two entries.
    fn lines(s: &str) -> FieldText {
        Self::from_parts(s.lines(), |_, _| {})
    }

    /// `new` for any number of parts, each part's span handed to `span`.
    fn from_parts<'p>(
        parts: impl Iterator<Item = &'p str> + Clone,
        mut span: impl FnMut(usize, Span),
    ) -> FieldText {
        let len: usize = parts.clone().map(|p| p.len() + 1).sum();
        let mut text = String::with_capacity(len + len / 8);
        let mut seq = Vec::with_capacity(len / 5);
        for (i, p) in parts.enumerate() {
            let start = text.len();
            fold_into(p, &mut text);
            for_each_word(&text[start..], |a, b| {
                seq.push(((start + a) as u32, (start + b) as u32));
            });
            seq.push((0, 0));
            span(i, (start as u32, text.len() as u32));
            text.push('\n');
        }
        // Words in scripts without spaces are never looked up (their terms
        // are substrings), so they stay out of the index.
        let unspaced = |a: u32| {
            text.as_bytes()[a as usize] >= 0xE1
                && text[a as usize..]
                    .chars()
                    .next()
                    .is_some_and(is_unspaced_script)
        };
        let bytes = text.as_bytes();
        let pos_bits = usize::BITS - seq.len().leading_zeros();
        let low = low_mask(pos_bits);
        let mut index: Vec<u64> = Vec::with_capacity(seq.len());
        let mut bloom = [0u64; 16];
        let mut bloom4 = [0u64; 16];
        let mut bloom3 = [0u64; 16];
        for (pos, &(a, b)) in seq.iter().enumerate() {
            if b > a && !unspaced(a) {
                let k = key_at(bytes, a as usize, b as usize);
                let (i, bit) = bloom_bit(k);
                bloom[i] |= bit;
                if b - a >= 4 {
                    let (i, bit) = bloom_bit(k >> 32);
                    bloom4[i] |= bit;
                }
                if b - a >= 3 {
                    let (i, bit) = bloom_bit(k >> 40);
                    bloom3[i] |= bit;
                }
                index.push((k & !low) | pos as u64);
            }
        }
        let sorted = index.len() > SCAN_MAX;
        if sorted {
            index.sort_unstable();
        }
        let maybe_unspaced = !text.is_ascii()
            && text
                .bytes()
                .any(|b| matches!(b, 0xE1 | 0xE3..=0xED | 0xEF | 0xF0));
        FieldText {
            text,
            seq,
            index,
            pos_bits,
            sorted,
            bloom,
            bloom4,
            bloom3,
            maybe_unspaced,
            stemming: Stemming::ALL,
        }
    }

    fn word(&self, r: (u32, u32)) -> &str {
        &self.text[r.0 as usize..r.1 as usize]
    }

    fn in_span(r: (u32, u32), span: Span) -> bool {
        r.0 >= span.0 && r.1 <= span.1
    }

    /// Whether `hit` holds for some word whose key, cut to the index's key
    /// bits, lies in `lo..=hi` (full keys).
    fn keyed(&self, lo: u64, hi: u64, mut hit: impl FnMut((u32, u32)) -> bool) -> bool {
        let low = low_mask(self.pos_bits);
        let (lo, width) = (lo & !low, (hi & !low) - (lo & !low));
        let inside = |e: u64| (e & !low).wrapping_sub(lo) <= width;
        let mut at = |e: u64| self.seq.get((e & low) as usize).is_some_and(|&r| hit(r));
        if self.sorted {
            let from = self.index.partition_point(|&e| e & !low < lo);
            return self.index[from..]
                .iter()
                .take_while(|&&e| inside(e))
                .any(|&e| at(e));
        }
        // Eight entries at a time, tested without a branch per entry; only
        // the rare chunk holding a candidate is walked.
        self.index.chunks(8).any(|chunk| {
            chunk.iter().fold(false, |any, &e| any | inside(e))
                && chunk.iter().any(|&e| inside(e) && at(e))
        })
    }

    fn has_word(&self, w: &str, span: Span) -> bool {
        let k = key(w.as_bytes());
        let (i, bit) = bloom_bit(k);
        if self.bloom[i] & bit == 0 {
            return false;
        }
        self.keyed(k, k, |r| Self::in_span(r, span) && self.word(r) == w)
    }

    /// The word or one of its forms (`Form`): the word itself first, then
    /// the words starting with its stem's lead whose stem is its stem.
    fn has_form(&self, f: &Form, span: Span) -> bool {
        if self.has_word(&f.word, span) {
            return true;
        }
        let Some(stem) = f.stem.as_deref().filter(|_| self.stemming.allows(&f.word)) else {
            return false;
        };
        let lead = crate::text::stem_lead(stem);
        !lead.is_empty()
            && self.has_prefix_where(lead, span, |w| w != f.word && f.same_stem(stem, w))
    }

    /// Whether `w` is `f` or, where this text's language allows, one of
    /// its forms.
    fn form_ok(&self, f: &Form, w: &str) -> bool {
        w == f.word || (self.stemming.allows(&f.word) && f.accepts(w))
    }

    fn has_prefix(&self, p: &str, span: Span) -> bool {
        self.has_prefix_where(p, span, |_| true)
    }

    /// Whether a word starting with `p` passes `also`.
    fn has_prefix_where(&self, p: &str, span: Span, also: impl Fn(&str) -> bool) -> bool {
        let lo = key(p.as_bytes());
        // Every key that starts with the prefix's bytes: pad with 0xFF.
        let hi = match p.len() {
            0 => u64::MAX,
            n if n >= 8 => lo,
            n => lo | (u64::MAX >> (8 * n)),
        };
        // Every word with this prefix shares its first eight (or four)
        // bytes, whose presence the filters tell.
        let (filter, k) = match p.len() {
            8.. => (&self.bloom, lo),
            4.. => (&self.bloom4, lo >> 32),
            3 => (&self.bloom3, lo >> 40),
            _ => (&[u64::MAX; 16], 0),
        };
        let (i, bit) = bloom_bit(k);
        if filter[i] & bit == 0 {
            return false;
        }
        self.keyed(lo, hi, |r| {
            Self::in_span(r, span) && self.word(r).starts_with(p) && also(self.word(r))
        })
    }

    fn has_phrase(&self, p: &[Form], span: Span) -> bool {
        if !p.iter().all(|f| self.has_form(f, span)) {
            return false;
        }
        self.seq.windows(p.len()).any(|win| {
            Self::in_span(win[0], span)
                && win
                    .iter()
                    .zip(p)
                    .all(|(&r, f)| self.form_ok(f, self.word(r)))
        })
    }

    /// All `ws` (distinct) within `slop` positions: the smallest window of
    /// positions holding every word, found in one pass.
    fn has_near(&self, ws: &[Form], slop: u32, span: Span) -> bool {
        if !ws.iter().all(|f| self.has_form(f, span)) {
            return false;
        }
        // (position, term, segment): a window never spans two fields or lines.
        let mut segment = 0;
        let mut hits: Vec<(usize, usize, usize)> = Vec::new();
        for (pos, &r) in self.seq.iter().enumerate() {
            if r.1 == r.0 {
                segment += 1;
            } else if Self::in_span(r, span)
                && let Some(t) = ws.iter().position(|f| self.form_ok(f, self.word(r)))
            {
                hits.push((pos, t, segment));
            }
        }
        hits.chunk_by(|a, b| a.2 == b.2)
            .any(|seg| Self::window_fits(seg, ws.len(), slop))
    }

    /// Whether some window of `hits` (one segment) holds all `n` terms
    /// within `slop` positions.
    fn window_fits(hits: &[(usize, usize, usize)], n: usize, slop: u32) -> bool {
        let mut counts = vec![0usize; n];
        let mut covered = 0;
        let mut lo = 0;
        for hi in 0..hits.len() {
            let t = hits[hi].1;
            counts[t] += 1;
            if counts[t] == 1 {
                covered += 1;
            }
            while covered == n {
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

    fn span_text(&self, span: Span) -> &str {
        let end = (span.1 as usize).min(self.text.len());
        &self.text[span.0 as usize..end]
    }

    fn matches(&self, term: &Term, span: Span) -> bool {
        match term {
            Term::Word(f) => self.has_form(f, span),
            Term::Prefix(p) => self.has_prefix(p, span),
            Term::Phrase(p) => self.has_phrase(p, span),
            Term::Near(ws, slop) => self.has_near(ws, *slop, span),
            Term::Substring(_) if !self.maybe_unspaced => false,
            Term::Substring(s) => {
                let text = self.span_text(span);
                s.split_whitespace().all(|part| text.contains(part))
            }
            Term::Regex(re) => re.is_match(self.span_text(span)),
        }
    }
}

/// An item's searchable text. Title, summary and content share one word
/// index, since most queries search all three at once. Author, categories
/// and feeds are indexed on first use: few queries name those fields, and
/// building their indexes for every item cost a tenth of the matching.
///
/// A document borrows the item's author, categories and feeds for those
/// indexes, and allocates only its body's text and index: the store builds
/// one per item and drops it after matching.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    body: FieldText,
    title: Span,
    summary: Span,
    content: Span,
    /// Author, categories and feeds as given, for the lazy indexes.
    author_src: &'a str,
    category_src: &'a str,
    feed_src: &'a str,
    author: OnceCell<FieldText>,
    category: OnceCell<FieldText>,
    feed: OnceCell<FieldText>,
    /// Results of aliases already evaluated on this document, by key.
    alias_memo: AliasMemo,
}

/// Alias results kept inline rather than in a vector, one allocation per
/// item fewer (with the other copies removed from `Document`, 2% of the
/// topics bench's instructions). A configuration with more than `MEMO`
/// aliases still matches the same: past that, an alias is evaluated each
/// time it is met.
#[derive(Debug, Clone)]
struct AliasMemo {
    len: Cell<usize>,
    keys: [Cell<u64>; MEMO],
    values: Cell<u64>,
}

const MEMO: usize = 64;

impl AliasMemo {
    fn new() -> AliasMemo {
        AliasMemo {
            len: Cell::new(0),
            keys: [const { Cell::new(0) }; MEMO],
            values: Cell::new(0),
        }
    }

    fn get(&self, key: u64) -> Option<bool> {
        let i = self.keys[..self.len.get()]
            .iter()
            .position(|k| k.get() == key)?;
        Some(self.values.get() >> i & 1 == 1)
    }

    fn put(&self, key: u64, v: bool) {
        let i = self.len.get();
        if i < MEMO {
            self.keys[i].set(key);
            self.values.set(self.values.get() | (v as u64) << i);
            self.len.set(i + 1);
        }
    }
}

impl<'a> Document<'a> {
    pub fn new(item: &ItemText<'a>) -> Document<'a> {
        // The stripped HTML is folded into the document's own text: one
        // buffer per thread holds it in between, instead of two new
        // strings per item.
        thread_local! {
            static STRIPPED: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        let (body, spans) = STRIPPED.with_borrow_mut(|buf| {
            buf.clear();
            let summary = buf.len();
            html_to_text_into(item.summary_html.unwrap_or(""), buf);
            let content = buf.len();
            html_to_text_into(item.content_html.unwrap_or(""), buf);
            let (mut body, spans) =
                FieldText::new([item.title, &buf[summary..content], &buf[content..]]);
            body.stemming = Stemming::for_language(item.language);
            let spans = (body, spans);
            if buf.capacity() > 1 << 20 {
                // One huge item should not keep its buffer for good.
                *buf = String::new();
            }
            spans
        });
        Document {
            body,
            title: spans[0],
            summary: spans[1],
            content: spans[2],
            author_src: item.author.unwrap_or(""),
            category_src: item.categories,
            feed_src: item.feeds,
            author: OnceCell::new(),
            category: OnceCell::new(),
            feed: OnceCell::new(),
            alias_memo: AliasMemo::new(),
        }
    }

    fn field_matches(&self, field: Field, term: &Term) -> bool {
        match field {
            Field::Text => self.body.matches(term, ALL),
            Field::Title => self.body.matches(term, self.title),
            Field::Summary => self.body.matches(term, self.summary),
            Field::Content => self.body.matches(term, self.content),
            Field::Author => self
                .author
                .get_or_init(|| FieldText::new([self.author_src]).0)
                .matches(term, ALL),
            Field::Category => self
                .category
                .get_or_init(|| FieldText::lines(self.category_src))
                .matches(term, ALL),
            Field::Feed => self
                .feed
                .get_or_init(|| FieldText::lines(self.feed_src))
                .matches(term, ALL),
        }
    }
}

/// A compiled topic query.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The query as written, for `explain`, which lists in query order.
    expr: Expr,
    /// The same query with the parts of every AND and OR put cheapest
    /// first, for `matches`: a word lookup that fails spares the regex
    /// after it.
    plan: Expr,
}

impl Matcher {
    pub(super) fn new(expr: Expr) -> Matcher {
        let mut plan = expr.clone();
        cost(&mut plan);
        Matcher { expr, plan }
    }

    pub fn matches(&self, doc: &Document) -> bool {
        eval(&self.plan, doc)
    }

    /// Why `doc` matches: the aliases and top-level terms that matched
    /// outside any NOT, in query order, without repeats.
    /// The words of `doc`'s title, summary and content that a query word
    /// matched as another of its forms: (query word, form), once per
    /// occurrence, for `feedsift topic test` to show what stemming adds.
    pub fn other_forms(&self, doc: &Document) -> Vec<(String, String)> {
        let mut forms: Vec<&Form> = Vec::new();
        collect_forms(&self.expr, &mut forms);
        forms.retain(|f| f.stem.is_some());
        let mut out = Vec::new();
        if forms.is_empty() {
            return out;
        }
        let body = &doc.body;
        for &r in &body.seq {
            if r.1 <= r.0 {
                continue;
            }
            let w = body.word(r);
            for f in &forms {
                if w != f.word && body.form_ok(f, w) {
                    out.push((f.word.clone(), w.to_owned()));
                }
            }
        }
        out
    }

    pub fn explain(&self, doc: &Document) -> Vec<String> {
        let mut out = Vec::new();
        collect(&self.expr, doc, &mut HashSet::new(), &mut out);
        out
    }
}

/// A rough cost of evaluating `e`, sorting the parts of each AND and OR
/// by it on the way (a stable sort, so equal costs keep query order).
/// Word lookups are cheap; phrases and proximity walk the word sequence;
/// a regex scans the text; the author, category and feed fields build an
/// index on first use. An alias costs little once it is memoised, and
/// most are, since topics share them.
fn cost(e: &mut Expr) -> u32 {
    match e {
        Expr::And(parts) | Expr::Or(parts) => {
            let mut costed: Vec<(u32, Expr)> = std::mem::take(parts)
                .into_iter()
                .map(|mut p| (cost(&mut p), p))
                .collect();
            costed.sort_by_key(|c| c.0);
            let total = costed.iter().map(|c| c.0).sum();
            *parts = costed.into_iter().map(|c| c.1).collect();
            total
        }
        Expr::Not(inner) => cost(inner),
        Expr::Alias { expr, .. } => {
            cost(expr);
            2
        }
        Expr::Term { field, term, .. } => {
            let base = match term {
                Term::Word(_) | Term::Prefix(_) | Term::Substring(_) => 1,
                Term::Phrase(_) | Term::Near(..) => 4,
                Term::Regex(_) => 20,
            };
            match field {
                Field::Author | Field::Category | Field::Feed => base + 8,
                _ => base,
            }
        }
    }
}

fn eval(e: &Expr, doc: &Document) -> bool {
    match e {
        Expr::And(parts) => parts.iter().all(|p| eval(p, doc)),
        Expr::Or(parts) => parts.iter().any(|p| eval(p, doc)),
        Expr::Not(inner) => !eval(inner, doc),
        Expr::Alias { expr, key, .. } => {
            // Topics share aliases: each is evaluated once per document.
            if let Some(v) = doc.alias_memo.get(*key) {
                return v;
            }
            let v = eval(expr, doc);
            doc.alias_memo.put(*key, v);
            v
        }
        Expr::Term { field, term, .. } => doc.field_matches(*field, term),
    }
}

fn collect<'e>(e: &'e Expr, doc: &Document, seen: &mut HashSet<&'e str>, out: &mut Vec<String>) {
    match e {
        Expr::And(parts) | Expr::Or(parts) => parts.iter().for_each(|p| collect(p, doc, seen, out)),
        Expr::Not(_) => {}
        Expr::Alias { name, .. } => {
            if !seen.contains(name.as_str()) && eval(e, doc) {
                seen.insert(name);
                out.push(format!("@{name}"));
            }
        }
        Expr::Term { field, term, label } => {
            if !seen.contains(label.as_str()) && doc.field_matches(*field, term) {
                seen.insert(label);
                out.push(label.clone());
            }
        }
    }
}

/// Every word of `e` (in words, phrases and proximity terms, through
/// aliases) that may match other forms, each once.
fn collect_forms<'e>(e: &'e Expr, out: &mut Vec<&'e Form>) {
    let mut add = |f: &'e Form| {
        if !out.contains(&f) {
            out.push(f);
        }
    };
    match e {
        Expr::And(parts) | Expr::Or(parts) => {
            for p in parts {
                collect_forms(p, out);
            }
        }
        // What a NOT excludes is not what the topic found.
        Expr::Not(_) => {}
        Expr::Alias { expr, .. } => collect_forms(expr, out),
        Expr::Term { term, .. } => match term {
            Term::Word(f) => add(f),
            Term::Phrase(fs) | Term::Near(fs, _) => fs.iter().for_each(add),
            _ => {}
        },
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
    fn keys_read_in_place_equal_copied_keys() {
        let text = b"a ab abcdefgh abcdefghij xyz";
        for (a, b) in [(0, 1), (2, 4), (5, 13), (14, 24), (25, 28), (14, 22)] {
            assert_eq!(key_at(text, a, b), key(&text[a..b]), "{a}..{b}");
        }
    }

    #[test]
    fn scanned_and_sorted_indexes_find_the_same_words() {
        let vocab = [
            "japan",
            "japanese",
            "japanology",
            "jap",
            "russia",
            "russian",
            "prussian",
            "abcdefgh",
            "abcdefghij",
            "abcdefgz",
            "россия",
            "российский",
            "москва",
            "a",
            "b1",
        ];
        let queries = [
            "japan",
            "japanes",
            "japanology",
            "ja",
            "j",
            "russ",
            "russia",
            "prussian",
            "abcdefgh",
            "abcdefghi",
            "abcdefghij",
            "abcdefg",
            "abcdefgz",
            "росси",
            "российск",
            "москв",
            "a",
            "b",
            "b1",
            "missing",
            "zzzzzzzzzz",
        ];
        // Short texts are scanned, long ones sorted (more than SCAN_MAX).
        for n in [1, 7, 40, SCAN_MAX - 3, SCAN_MAX - 2, 3000] {
            let title: Vec<&str> = (0..n).map(|i| vocab[(i * 7 + n) % vocab.len()]).collect();
            let title = title.join(" ");
            let (ft, spans) = FieldText::new([&title, "tail words here"]);
            // The tail's three words count too.
            assert_eq!(ft.sorted, n + 3 > SCAN_MAX, "{n}");
            let words: Vec<&str> = title.split(' ').collect();
            for q in queries {
                let (word, prefix) = (words.contains(&q), words.iter().any(|w| w.starts_with(q)));
                assert_eq!(ft.has_word(q, ALL), word, "{n} word {q}");
                assert_eq!(ft.has_word(q, spans[0]), word, "{n} word {q} in title");
                assert_eq!(ft.has_prefix(q, ALL), prefix, "{n} prefix {q}");
                assert!(!ft.has_word(q, spans[1]), "{n} {q} outside the tail");
            }
            assert!(ft.has_word("tail", spans[1]) && !ft.has_word("tail", spans[0]));
        }
    }

    #[test]
    fn more_aliases_than_the_memo_holds_still_match() {
        // Past MEMO aliases per document the results are not kept, only
        // computed again: the answers must not change.
        let n = MEMO + 6;
        let mut a = Aliases::new();
        for i in 0..n {
            a.insert(format!("a{i}"), vec![format!("w{i}")]);
        }
        let any: Vec<String> = (0..n).map(|i| format!("@a{i}")).collect();
        let last = format!("@a{}", n - 1);
        for (q, title, want) in [
            (any.join(" OR "), format!("w{}", n - 1), true),
            (any.join(" OR "), "nothing".to_owned(), false),
            (
                format!("({}) {last}", any.join(" OR ")),
                format!("w{}", n - 1),
                true,
            ),
            (
                format!("({}) -{last}", any.join(" OR ")),
                format!("w{}", n - 1),
                false,
            ),
            (
                format!("({}) -{last}", any.join(" OR ")),
                "w3".to_owned(),
                true,
            ),
        ] {
            let doc = Document::new(&ItemText {
                title: &title,
                ..Default::default()
            });
            assert_eq!(compile(&q, &a).unwrap().matches(&doc), want, "{title}");
        }
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
