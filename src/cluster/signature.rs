//! What story detection knows of one item: its distinctive tokens (content
//! words, names, figures, weekdays) after newsroom boilerplate is stripped,
//! a one-permutation MinHash sketch of them for finding candidates, and the
//! second-stage verifier that decides whether two candidates report the
//! same event.

use std::sync::LazyLock;

use regex::Regex;

use crate::topics::text::{fold, html_to_text, is_unspaced_script};

/// Bins of the one-permutation MinHash sketch.
pub const K: usize = 64;

/// Tokens kept per item. The headline and the lead carry the event; later
/// paragraphs add background that other copies drop, and the cap bounds the
/// index memory.
const MAX_TOKENS: usize = 64;
/// Body words read: roughly the lead paragraph.
const LEAD_WORDS: usize = 70;

/// Token kinds, in the low two bits of a token hash.
const WORD: u32 = 0;
const NAME: u32 = 1;
const NUMBER: u32 = 2;
const DAY: u32 = 3;
const KIND: u32 = 3;
/// Set on tokens that occur in the headline.
const IN_TITLE: u32 = 4;

/// An item's story signature.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    /// Token hashes, sorted by `tok & !IN_TITLE`, each once.
    pub tokens: Vec<u32>,
    /// One-permutation MinHash of the tokens (kind bits and all), densified;
    /// all `u16::MAX` when there are no tokens.
    pub sketch: [u16; K],
    /// Written in Latin letters. Copies in other scripts (a translation)
    /// share only names and figures with the original.
    pub latin: bool,
}

/// Words that carry no event of their own.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "he", "in",
    "is", "it", "its", "of", "on", "or", "that", "the", "their", "this", "to", "was", "were",
    "will", "with", "said", "says", "also", "after", "but", "not", "which", "who", "would", "his",
    "her", "they", "there", "than", "been", "had", "more", "over", "into", "about", "could",
    "told", "per", "new", "и", "в", "во", "не", "что", "на", "с", "со", "по", "о", "об", "к", "из",
    "за", "для", "от",
];

const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve",
];

const WEEKDAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Newsroom boilerplate that says who carried the story, not what happened:
/// "UPDATE 1-" prefixes, datelines ("MOSCOW, May 10 /TASS/ -", "MOSCOW.
/// July 26 (Interfax) -", "(Reuters) -"), "X reports citing TASS." and
/// "Kyodo News reported." lines, "(Adds quotes, background)" notes. Left in,
/// they make every copy from one outlet look alike and a wire copy look
/// unlike its rewrite.
static BOILERPLATE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?:^\s*UPDATE\s*\d*\s*-\s*)",
        r"|(?:^\s*[A-Z][A-Z .'-]+[,.]\s+[A-Z][a-z]+\.?\s+\d{1,2}\s*(?:/[^/]{1,30}/|\([^)]{1,30}\))\s*[-–—]?\s*)",
        r"|(?:^\s*\([A-Za-z .]{1,30}\)\s*[-–—]\s*)",
        r"|(?:[^.]*\b(?:reports?|reported)\s+citing[^.]*\.)",
        r"|(?:,?\s*\b[A-Z][\w.]*(?:\s+News)?\s+(?:reports|reported)\.)",
        r"|(?:\((?:Adds|Updates|Recasts)[^)]*\))",
    ))
    .ok()
});

fn strip_boilerplate<'a>(text: &'a str, with: &str) -> std::borrow::Cow<'a, str> {
    match &*BOILERPLATE {
        Some(re) => re.replace_all(text, with),
        None => text.into(),
    }
}

fn fnv(bytes: impl Iterator<Item = u8>) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    (mix(h) >> 32) as u32
}

pub(crate) fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser: a fast, well-distributed 64-bit mix.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn token(kind: u32, s: &str) -> u32 {
    (fnv(s.bytes()) & !7) | kind
}

/// Cyrillic letters spelt in Latin (a plain scheme; `name_key` evens out
/// the differences from Japanese and English spellings).
fn cyrillic_in_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' => "g",
        'д' => "d",
        'е' | 'э' => "e",
        'ё' => "yo",
        'ж' => "zh",
        'з' => "z",
        'и' => "i",
        'й' | 'ы' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "h",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "sch",
        'ъ' | 'ь' => "",
        'ю' => "yu",
        'я' => "ya",
        _ => return None,
    })
}

/// A name reduced so that transliterations agree: Cyrillic spelt in Latin,
/// an "h" after a consonant dropped (Kishida/Кисида, Hayashi/Хаяси), double
/// letters single, "y" as "i" (Sergey/Sergei/Сергей), and only the first
/// four letters kept, which also ignores Russian case endings (Лавровым)
/// and spelling variants (Kunashir/Kunashiri).
fn name_key(folded: &str, out: &mut String) {
    out.clear();
    let mut prev = '\0';
    let mut n = 0;
    let mut push = |l: char, out: &mut String| {
        let l = if l == 'y' { 'i' } else { l };
        if (l == 'h' && prev != '\0' && !"aeiou".contains(prev)) || l == prev {
            return false;
        }
        out.push(l);
        prev = l;
        n += 1;
        n == 4
    };
    for c in folded.chars() {
        match cyrillic_in_latin(c) {
            Some(latin) => {
                for l in latin.chars() {
                    if push(l, out) {
                        return;
                    }
                }
            }
            None if c.is_alphabetic() && push(c, out) => return,
            None => {}
        }
    }
}

/// Collects the tokens of one stretch of text (the headline or the lead).
struct Tokens {
    out: Vec<u32>,
    /// What the sketch is made of: names, figures, headline words and
    /// pairs of adjacent body words. Single everyday words ("minister",
    /// "talks") would make unrelated items LSH candidates by the hundred.
    sketched: Vec<u32>,
    prev_word: u32,
    word: String,
    key: String,
    body_words: usize,
}

impl Tokens {
    fn push(&mut self, t: u32) {
        self.out.push(t);
        if t & KIND != WORD || t & IN_TITLE != 0 {
            self.sketched.push(t & !IN_TITLE);
        } else {
            if self.prev_word != 0 {
                self.sketched
                    .push((mix(u64::from(self.prev_word) << 32 | u64::from(t)) >> 32) as u32);
            }
            self.prev_word = t;
        }
    }

    /// Splits `text` into words (letters), figures (digits with their
    /// decimal point or thousands separators) and, in scripts without
    /// spaces, character pairs.
    fn text(&mut self, text: &str, title: bool) {
        let flag = if title { IN_TITLE } else { 0 };
        let mut sentence_start = true;
        let mut chars = text.char_indices().peekable();
        let mut prev_unspaced: Option<char> = None;
        while let Some((i, c)) = chars.next() {
            if !title && self.body_words >= LEAD_WORDS {
                return;
            }
            if is_unspaced_script(c) {
                if let Some(p) = prev_unspaced {
                    let mut b = [0u8; 8];
                    let n = p.encode_utf8(&mut b[..4]).len();
                    let m = c.encode_utf8(&mut b[n..]).len();
                    self.push(token(WORD, std::str::from_utf8(&b[..n + m]).unwrap_or("")) | flag);
                }
                prev_unspaced = Some(c);
                continue;
            }
            prev_unspaced = None;
            if c.is_ascii_digit() {
                // A figure: "2,050" and "2050" agree; "9.7" keeps its point.
                self.word.clear();
                self.word.push(c);
                while let Some(&(_, d)) = chars.peek() {
                    if d.is_ascii_digit() {
                        self.word.push(d);
                        chars.next();
                    } else if d == '.' || d == ',' {
                        let mut ahead = chars.clone();
                        ahead.next();
                        if ahead.peek().is_some_and(|&(_, e)| e.is_ascii_digit()) {
                            if d == '.' {
                                self.word.push('.');
                            }
                            chars.next();
                        } else {
                            break;
                        }
                    } else {
                        break;
                    }
                }
                self.push(token(NUMBER, &self.word) | flag);
                sentence_start = false;
                if !title {
                    self.body_words += 1;
                }
                continue;
            }
            if c.is_alphabetic() {
                let mut end = i + c.len_utf8();
                while let Some(&(j, d)) = chars.peek() {
                    if d.is_alphabetic() && !is_unspaced_script(d) {
                        end = j + d.len_utf8();
                        chars.next();
                    } else if (d == '\'' || d == '’') && end == j {
                        // "Japan's": the possessive is the same word.
                        chars.next();
                        while chars.peek().is_some_and(|&(_, e)| e.is_alphabetic()) {
                            chars.next();
                        }
                        break;
                    } else {
                        break;
                    }
                }
                let raw = &text[i..end];
                self.word_token(raw, title, sentence_start, flag);
                sentence_start = false;
                if !title {
                    self.body_words += 1;
                }
                continue;
            }
            if matches!(c, '.' | '!' | '?' | ':' | '"' | '«' | '“') {
                sentence_start = true;
            }
        }
    }

    fn word_token(&mut self, raw: &str, title: bool, sentence_start: bool, flag: u32) {
        let folded = fold(raw);
        if let Some(n) = NUMBER_WORDS.iter().position(|w| *w == folded) {
            // "five crew" and "5 crew" are the same figure.
            self.push(token(NUMBER, &(n + 1).to_string()) | flag);
            return;
        }
        if let Some(d) = WEEKDAYS.iter().find(|w| **w == folded) {
            self.push(token(DAY, d) | flag);
        }
        if STOPWORDS.contains(&folded.as_str()) {
            return;
        }
        // Six letters stand for the word: "negotiations" and "negotiated",
        // "Russia" and "Russian" agree, which is most of what stemming buys.
        let stem: String = folded.chars().take(6).collect();
        self.push(token(WORD, &stem) | flag);
        let capital = raw.chars().next().is_some_and(char::is_uppercase);
        let acronym = raw.chars().count() > 1 && raw.chars().all(char::is_uppercase);
        // A capital that is not just the start of a sentence marks a name
        // (headlines capitalise their actors; title case over-marks, which
        // costs little since names are compared only with names).
        if acronym || (capital && (title || !sentence_start)) {
            name_key(&folded, &mut self.key);
            if !self.key.is_empty() {
                let t = token(NAME, &self.key) | flag;
                self.push(t);
            }
        }
    }
}

/// The signature of an item: its title and its summary (or content) HTML.
pub fn signature(title: &str, body_html: &str) -> Signature {
    let body = html_to_text(body_html);
    let title = strip_boilerplate(title, " ");
    let body = strip_boilerplate(&body, ". ");
    let mut t = Tokens {
        out: Vec::with_capacity(128),
        sketched: Vec::with_capacity(128),
        prev_word: 0,
        word: String::new(),
        key: String::new(),
        body_words: 0,
    };
    t.text(&title, true);
    t.text(&body, false);
    let mut sketched = std::mem::take(&mut t.sketched);
    sketched.sort_unstable();
    sketched.dedup();
    let mut toks = t.out;
    toks.sort_unstable_by_key(|x| (x & !IN_TITLE, !x));
    // One entry per token, flagged if any occurrence was in the headline
    // (sorting on !x puts the flagged one first).
    toks.dedup_by(|b, a| (*a & !IN_TITLE) == (*b & !IN_TITLE));
    if toks.len() > MAX_TOKENS {
        // Keep the headline's tokens and names and figures first, then
        // whatever words come first in hash order (an arbitrary but stable
        // sample of the rest).
        let rank = |x: &u32| -> u8 {
            match (x & IN_TITLE != 0, x & KIND) {
                (true, _) => 0,
                (false, NAME | NUMBER | DAY) => 1,
                _ => 2,
            }
        };
        let mut keep = toks.clone();
        keep.sort_by_key(|x| (rank(x), *x));
        keep.truncate(MAX_TOKENS);
        keep.sort_unstable_by_key(|x| x & !IN_TITLE);
        toks = keep;
    }
    let latin = title.bytes().filter(u8::is_ascii_alphabetic).count() * 2
        >= title.chars().filter(|c| c.is_alphabetic()).count().max(1);
    Signature {
        sketch: sketch(&sketched),
        tokens: toks,
        latin,
    }
}

/// One-permutation MinHash: each sketched token is hashed once and lands in one of
/// K bins by its top bits, the bin keeping the smallest remainder. Empty
/// bins borrow from the next filled bin (rotation densification), shifted
/// by the distance so that borrowed values differ from the lender's.
fn sketch(tokens: &[u32]) -> [u16; K] {
    let mut s = [u16::MAX; K];
    let mut filled = [false; K];
    for &t in tokens {
        let h = mix(u64::from(t & !IN_TITLE));
        let bin = (h >> 58) as usize;
        let v = (h >> 16) as u16;
        if !filled[bin] || v < s[bin] {
            s[bin] = v;
            filled[bin] = true;
        }
    }
    if tokens.is_empty() {
        return s;
    }
    let mut out = s;
    for i in 0..K {
        if filled[i] {
            continue;
        }
        let mut d = 1;
        while !filled[(i + d) % K] {
            d += 1;
        }
        out[i] = s[(i + d) % K].wrapping_add((d as u16).wrapping_mul(0x9E37));
    }
    out
}

/// Counts of shared and own tokens of two signatures, by kind.
#[derive(Default, Debug)]
struct Overlap {
    own: [[u32; 4]; 2],
    shared: [u32; 4],
    title_own: [u32; 2],
    title_shared: u32,
}

fn overlap(a: &[u32], b: &[u32]) -> Overlap {
    let mut o = Overlap::default();
    for (side, toks) in [a, b].into_iter().enumerate() {
        for t in toks {
            o.own[side][(t & KIND) as usize] += 1;
            o.title_own[side] += u32::from(t & IN_TITLE != 0);
        }
    }
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i] & !IN_TITLE, b[j] & !IN_TITLE);
        match x.cmp(&y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                o.shared[(x & KIND) as usize] += 1;
                o.title_shared += u32::from(a[i] & b[j] & IN_TITLE != 0);
                i += 1;
                j += 1;
            }
        }
    }
    o
}

fn ratio(shared: u32, a: u32, b: u32) -> f64 {
    f64::from(shared) / f64::from(a.min(b).max(1))
}

/// How surely two items report the same event, from 0 up (1 and above: as
/// sure as the rules get); `hours` apart. The rules are the ones an editor
/// uses to spot a rewrite of a wire story:
///
/// - Most of the shorter text's content words recur in the longer one
///   (containment, not Jaccard: a rewrite adds and drops sentences).
/// - The same people and places are named, and the headlines share words.
/// - Figures agree: copies of one report carry its numbers. Two items that
///   both give figures and share none report different events (another
///   boat, another day's exchange rate).
/// - Days agree: a report of Friday's talks is not the preview that named
///   Monday.
/// - Copies follow the original within hours; the further apart, the more
///   likely a follow-up, so the bar rises with the time between them.
/// - A copy in another script (a translation) shares only names and
///   figures; it needs at least three of them, one a figure, within hours.
pub fn same_event(a: &Signature, b: &Signature, hours: f64) -> f64 {
    score(&a.tokens, a.latin, &b.tokens, b.latin, hours)
}

/// [`same_event`] on the parts the index keeps.
pub(crate) fn score(a: &[u32], a_latin: bool, b: &[u32], b_latin: bool, hours: f64) -> f64 {
    let o = overlap(a, b);
    let shared_numbers = o.shared[NUMBER as usize];
    if a_latin != b_latin {
        let anchors = shared_numbers + o.shared[NAME as usize];
        return if hours <= 6.0 && anchors >= 3 && shared_numbers >= 1 {
            1.0
        } else {
            0.0
        };
    }
    let content = |side: usize| o.own[side][..3].iter().sum::<u32>();
    let shared_content: u32 = o.shared[..3].iter().sum();
    let mut score = 0.5 * ratio(shared_content, content(0), content(1))
        + 0.3
            * ratio(
                o.shared[NAME as usize],
                o.own[0][NAME as usize],
                o.own[1][NAME as usize],
            )
        + 0.2 * ratio(o.title_shared, o.title_own[0], o.title_own[1]);
    let (na, nb) = (o.own[0][NUMBER as usize], o.own[1][NUMBER as usize]);
    if na > 0 && nb > 0 && na + nb >= 3 && shared_numbers == 0 {
        score -= 0.3;
    }
    let (da, db) = (o.own[0][DAY as usize], o.own[1][DAY as usize]);
    if da > 0 && db > 0 && o.shared[DAY as usize] == 0 {
        score -= 0.3;
    }
    score - HOURLY_PENALTY * hours
}

/// Hours apart beyond which no pair reaches `threshold` (the score is at
/// most 1 less the time penalty), so the index need not score them.
pub(crate) fn max_hours(threshold: f64) -> f64 {
    (1.0 - threshold) / HOURLY_PENALTY
}

/// Score lost per hour between two items.
const HOURLY_PENALTY: f64 = 0.01;

/// The stored form: a version byte, the flags, the sketch, the tokens.
pub fn to_bytes(s: &Signature) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + 2 * K + 4 * s.tokens.len());
    out.push(2);
    out.push(u8::from(s.latin));
    out.extend(s.sketch.iter().flat_map(|v| v.to_le_bytes()));
    out.extend(s.tokens.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// A stored signature; None for another version (sketches stored before
/// the verifier existed) or a damaged blob.
pub fn from_bytes(b: &[u8]) -> Option<Signature> {
    let (&[2, latin], rest) = b.split_first_chunk::<2>()? else {
        return None;
    };
    if rest.len() < 2 * K || !(rest.len() - 2 * K).is_multiple_of(4) {
        return None;
    }
    let (sk, toks) = rest.split_at(2 * K);
    let mut sketch = [0u16; K];
    for (v, c) in sketch.iter_mut().zip(sk.chunks_exact(2)) {
        *v = u16::from_le_bytes([c[0], c[1]]);
    }
    Some(Signature {
        sketch,
        tokens: toks
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        latin: latin != 0,
    })
}
