//! What story detection knows of one item: its distinctive tokens (content
//! words, names, figures, weekdays) after newsroom boilerplate is stripped,
//! a one-permutation MinHash sketch of them for finding candidates, and the
//! second-stage verifier that decides whether two candidates report the
//! same event.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use crate::text::{fold_into, html_to_text, is_unspaced_script};

/// Bins of the one-permutation MinHash sketch.
pub const K: usize = 64;

/// Tokens kept per item. The headline and the lead carry the event; later
/// paragraphs add background that other copies drop, and the cap bounds the
/// index memory.
const MAX_TOKENS: usize = 64;
/// Body words read: roughly the lead paragraph.
const LEAD_WORDS: usize = 70;

/// HTML read from an item's body for its signature: far more than the
/// lead and the sentences after it that a signature keeps, and a bound on
/// the work a hostile body (a megabyte of nested tags) can cause.
pub const MAX_BODY_HTML: usize = 32 * 1024;

/// Token kinds, in the low two bits of a token hash.
const WORD: u32 = 0;
const NAME: u32 = 1;
const NUMBER: u32 = 2;
const DAY: u32 = 3;
const KIND: u32 = 3;
/// Set on tokens that occur in the headline.
const IN_TITLE: u32 = 4;
/// Set on a name the item quotes: "Lavrov said", "said Foreign Minister
/// Taro Kono", a headline "Lavrov: ...", «заявил министр Таро Коно».
const SPEAKER: u32 = 8;
/// Set on the first weekday the item gives: the day of its event ("agreed
/// on Thursday ... at a meeting on Friday" is Thursday's news).
const FIRST_DAY: u32 = 16;
/// The flag bits; the rest of a token is its hash and kind.
/// Set on tokens of the headline and the lead sentence: what a report is
/// about. Later sentences are where outlets paste background ("The
/// dispute concerns four islands ...") under unrelated news.
const IN_LEAD: u32 = 32;
const FLAGS: u32 = IN_TITLE | SPEAKER | FIRST_DAY | IN_LEAD;
pub(crate) const FLAG_BITS: u32 = FLAGS;

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
    /// Announces the event rather than reports it: "X will host Y on
    /// Monday", "analysts expect a cut", "to meet again in June",
    /// «намерен», 「予定」 (see [`PREVIEW`]).
    pub preview: bool,
    /// A reaction to another event: "Japan lodged a protest over Medvedev's
    /// visit" (see [`REACTION`]).
    pub reaction: bool,
    /// A side event of another: "talks held separately from the summit",
    /// "said in a speech at the forum" (see [`SIDE_EVENT`]).
    pub side_event: bool,
    /// The headline's and the lead's slots, sorted (see [`slots`]).
    pub slots: Vec<u32>,
    /// The sentences after the lead, each as (its key, the tokens it gives
    /// as a bit mask over `tokens`), key 0 for the tokens that are never
    /// background: the headline's, the lead's, and those of sentences too
    /// short or too cut to be told again (see `StoryIndex`'s sentence
    /// counts). At most `MAX_SENTENCES`.
    pub sentences: Vec<(u32, u64)>,
}

/// `Signature`'s booleans as the index keeps them.
pub(crate) const LATIN: u8 = 1;
const IS_PREVIEW: u8 = 2;
const IS_REACTION: u8 = 4;
const IS_SIDE_EVENT: u8 = 8;

/// Sentences after the lead kept per signature (with the entry for the
/// tokens that are never background).
const MAX_SENTENCES: usize = 8;
/// A sentence is known by its first this many tokens: a sentence cut by
/// `LEAD_WORDS` in one item and whole in another keeps its key.
const SENTENCE_KEY_TOKENS: usize = 8;
/// A whole sentence of fewer tokens has no key: "Heavy rain is forecast"
/// is too short to tell background from coincidence.
const MIN_SENTENCE_TOKENS: usize = 3;
const _: () = assert!(MAX_TOKENS <= 64, "sentence masks are u64");

/// Anchors kept per item for the second candidate lookup.
pub(crate) const MAX_ANCHORS: usize = 16;

impl Signature {
    /// The names and figures, without flags, headline ones first: what a
    /// rewrite or a translation keeps when its words change (see
    /// `StoryIndex::find`).
    pub(crate) fn anchors(&self) -> impl Iterator<Item = u32> + '_ {
        let anchor = |t: &&u32| matches!(**t & KIND, NAME | NUMBER);
        let title = |t: &&u32| **t & IN_TITLE != 0;
        self.tokens
            .iter()
            .filter(anchor)
            .filter(title)
            .chain(self.tokens.iter().filter(anchor).filter(move |t| !title(t)))
            .map(|t| t & !FLAGS)
            .take(MAX_ANCHORS)
    }

    pub(crate) fn flags(&self) -> u8 {
        [
            (self.latin, LATIN),
            (self.preview, IS_PREVIEW),
            (self.reaction, IS_REACTION),
            (self.side_event, IS_SIDE_EVENT),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit)
    }
}

/// Words that mark an announcement of what is still to happen. Newsrooms
/// write previews in the future ("will hold talks", "is expected to",
/// "next week", "to meet again") and reports in the past; a preview and the
/// report of the event share its people, place and day but are two items a
/// reader wants to see (and a merged story would date the event wrongly).
/// Read in the headline and the lead sentence only: later sentences of a
/// report often look ahead ("the parties will meet again in March").
const PREVIEW: &str = concat!(
    // A bare "will" is not enough: reports of announcements are full of
    // it ("Abe said he will resign", "Mitsui will acquire a stake"); a
    // meeting or visit that will happen is the preview's subject.
    r"(?i)(?-u:\b)(?:(?:will|to) (?:hold talks|host|meet|visit|attend|discuss)|to be held",
    r"|next (?:week|month|meeting)|meet again",
    r"|(?:is|are) (?:expected|due|scheduled) to|expected to)(?-u:\b)",
    r"|(?i:намерен|проведут|проведет|проведёт|состоится|планиру|посетит|встретится|обсудят)",
    r"|予定|見通し|方針",
);

/// A protest or similar reaction *to* an event ("Japan lodged a protest
/// with Russia over ...", "protests to Russia over ..."): it names the
/// event's actors, place and day, but is a separate story from the event.
/// A headline that merely says "protests" ("Japan protests island
/// buildup") is not enough: the lead must say a protest was lodged or made.
const REACTION: &str = concat!(
    r"(?i)(?-u:\b)(?:lodged?|lodges|filed?|made|makes) (?:a |an )?(?:formal |strong )?protests?(?-u:\b)",
    r"|(?-u:\b)protest(?:s|ed)? (?:to|with|against)(?-u:\b)",
    r"|(?-u:\b)(?:to protest|protested)(?-u:\b)",
    r"|(?i:заявил[аи]? протест|выразил[аи]? протест|нота протеста)",
    r"|抗議",
);

/// An item that tells of a side event: "held talks ... separately from the
/// two-plus-two meeting", "said in a speech at the forum". It shares the
/// main event's people, place and day, but is its own story; the main
/// event's reports do not describe themselves so.
const SIDE_EVENT: &str = concat!(
    r"(?i)(?-u:\b)(?:separately from|separate from|apart from|in addition to)(?-u:\b)",
    r"|(?-u:\b)in (?:a|an|his|her|their) (?:[a-z]+ )?(?:speech|address|interview|article)(?-u:\b)",
    r"|(?i:в интервью|в своем выступлении|в своём выступлении)",
);

/// The three marks above in one set, so the headline and the lead are
/// scanned once. (ASCII word boundaries: with Unicode ones the regex
/// engine cannot use its fast automaton on text with non-ASCII letters.)
static MARKS: LazyLock<Option<RegexSet>> =
    LazyLock::new(|| RegexSet::new([PREVIEW, REACTION, SIDE_EVENT]).ok());

/// Verbs that attribute a statement to the name next to them.
const SPEECH_VERBS: &[&str] = &[
    "said",
    "says",
    "say",
    "told",
    "tells",
    "stated",
    "added",
    "noted",
    "stressed",
    "announced",
    "declared",
    "warned",
    "insisted",
    "claimed",
    "заявил",
    "заявила",
    "заявили",
    "сказал",
    "сказала",
    "сообщил",
    "сообщила",
    "отметил",
    "отметила",
    "подчеркнул",
    "подчеркнула",
];

/// Capitalised words that are dates, not speakers ("said May 10"; the
/// weekdays too, see `CLASSES`).
const NOT_SPEAKERS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "today",
];

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

/// Russian weekdays (in the forms «в пятницу» takes), as the English day,
/// so that a translation and its original agree on the day.
const RU_WEEKDAYS: &[(&str, &str)] = &[
    ("понедельник", "monday"),
    ("вторник", "tuesday"),
    ("среду", "wednesday"),
    ("среда", "wednesday"),
    ("четверг", "thursday"),
    ("пятницу", "friday"),
    ("пятница", "friday"),
    ("субботу", "saturday"),
    ("суббота", "saturday"),
    ("воскресенье", "sunday"),
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
        r"|(?:^\s*(?:[A-Z][A-Z .'-]+[,.]\s+)?[A-Z][a-z]+\.?\s+\d{1,2}\s*(?:/[^/]{1,30}/|\([^)]{1,30}\))\s*[-–—]?\s*)",
        r"|(?:^\s*\([A-Za-z .]{1,30}\)\s*[-–—]\s*)",
        // ASCII word boundaries, as in the marks: a Unicode one keeps the
        // regex engine off its DFA on non-ASCII text.
        r"|(?:[^.]*(?-u:\b)(?:reports?|reported)\s+citing[^.]*\.)",
        r"|(?:,?\s*(?-u:\b)[A-Z][\w.]*(?:\s+News)?\s+(?:reports|reported)\.)",
        r"|(?:\((?:Adds|Updates|Recasts)[^)]*\))",
    ))
    .ok()
});

fn strip_boilerplate<'a>(text: &'a str, with: &str) -> std::borrow::Cow<'a, str> {
    // Every pattern above needs one of these: "UPDATE", "report", or a
    // '(' or '/' (the dateline's agency, the editor's note). Most text
    // has none, and a byte search is far cheaper than the regex's scan.
    let bytes = text.as_bytes();
    let may_match = memchr::memchr2(b'(', b'/', bytes).is_some()
        || memchr::memmem::find(bytes, b"report").is_some()
        || memchr::memmem::find(bytes, b"UPDATE").is_some();
    match &*BOILERPLATE {
        Some(re) if may_match => re.replace_all(text, with),
        _ => text.into(),
    }
}

fn fnv(bytes: &[u8]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
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
    token_of(kind, s.as_bytes())
}

fn token_of(kind: u32, bytes: &[u8]) -> u32 {
    (fnv(bytes) & !(FLAGS | KIND)) | kind
}

/// What a word is to the tokenizer, beyond being a word.
#[derive(Default, Clone, Copy)]
struct Class {
    stop: bool,
    /// 1 to 12 for "one" to "twelve".
    number: u8,
    /// The English weekday, for weekdays in either language.
    day: Option<&'static str>,
    speech_verb: bool,
    not_speaker: bool,
}

/// The word lists above in one table: a word is looked up once instead of
/// being compared with each list (the tokenizer's main cost).
static CLASSES: LazyLock<rustc_hash::FxHashMap<&'static str, Class>> = LazyLock::new(|| {
    let mut m: rustc_hash::FxHashMap<&'static str, Class> = Default::default();
    for w in STOPWORDS {
        m.entry(w).or_default().stop = true;
    }
    for (n, w) in NUMBER_WORDS.iter().enumerate() {
        m.entry(w).or_default().number = n as u8 + 1;
    }
    for w in WEEKDAYS {
        let c = m.entry(w).or_default();
        c.day = Some(w);
        // "said Friday": a date, not a speaker.
        c.not_speaker = true;
    }
    for (w, d) in RU_WEEKDAYS {
        m.entry(w).or_default().day = Some(d);
    }
    for w in SPEECH_VERBS {
        m.entry(w).or_default().speech_verb = true;
    }
    for w in NOT_SPEAKERS {
        m.entry(w).or_default().not_speaker = true;
    }
    m
});

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
fn name_key(folded: &str, out: &mut [u8; 16]) -> usize {
    let mut len = 0;
    if folded.is_ascii() {
        // Most names: nothing to transliterate, read a byte at a time
        // (every word of a headline and lead is keyed for the slots).
        let mut prev = b'\0';
        for &b in folded.as_bytes() {
            if !b.is_ascii_alphabetic() {
                continue;
            }
            let l = key_letter(char::from(b)) as u8;
            if keeps(char::from(l), char::from(prev)) {
                out[len] = l;
                len += 1;
                prev = l;
                if len == 4 {
                    break;
                }
            }
        }
        return len;
    }
    let (mut prev, mut n) = ('\0', 0);
    // Four letters of at most four bytes each fit the buffer.
    let mut push = |l: char, out: &mut [u8; 16]| {
        let l = key_letter(l);
        if !keeps(l, prev) {
            return false;
        }
        len += l.encode_utf8(&mut out[len..]).len();
        prev = l;
        n += 1;
        n == 4
    };
    'chars: for c in folded.chars() {
        match cyrillic_in_latin(c) {
            Some(latin) => {
                for l in latin.chars() {
                    if push(l, out) {
                        break 'chars;
                    }
                }
            }
            None if c.is_alphabetic() && push(c, out) => break,
            None => {}
        }
    }
    len
}

/// A letter as a name key spells it: "y" as "i".
fn key_letter(l: char) -> char {
    if l == 'y' { 'i' } else { l }
}

/// Whether letter `l` after `prev` goes into a name key: not an "h" after
/// a consonant, not a doubled letter.
fn keeps(l: char, prev: char) -> bool {
    !((l == 'h' && prev != '\0' && !matches!(prev, 'a' | 'e' | 'i' | 'o' | 'u')) || l == prev)
}

/// A word's name token (its `name_key`, hashed) and whether the key holds
/// any letter.
fn name_key_token(folded: &str) -> (u32, bool) {
    let mut key = [0u8; 16];
    let len = name_key(folded, &mut key);
    (token_of(NAME, &key[..len]), len > 0)
}

/// The last two names of a run, newest last.
#[derive(Clone, Copy)]
struct Names([Option<u32>; 2]);

impl Names {
    /// No names. (A constant rather than `Default`: the derived default
    /// was a call whose result the caller then copied, and the copy
    /// stalled on the callee's stores, 2% of reading an item.)
    const NONE: Names = Names([None, None]);

    fn push(&mut self, n: u32) {
        self.0 = [self.0[1], Some(n)];
    }

    fn is_empty(&self) -> bool {
        self.0[1].is_none()
    }

    fn take(&mut self) -> Names {
        std::mem::replace(self, Names::NONE)
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
    /// The folded form of the word being read.
    folded: String,
    body_words: usize,
    /// The last two names of the run of names just read ("Taro Kono";
    /// two, so that "Abe Shinzo" and "Shinzo Abe" agree, and not more, so
    /// that offices, "Foreign Minister", do not make every speaker alike).
    prev_name: Names,
    /// Earlier runs of names joined to the current one by "and" or a comma
    /// ("Vladimir Putin and Shinzo Abe said"): they speak too.
    joined: Vec<u32>,
    /// After a speech verb with no name before it: words left to look for
    /// the speaker in, and the run of names read so far.
    after_verb: u8,
    run_name: Names,
    /// Words read in the current stretch (for the headline "Name:" form).
    words_read: usize,
    /// Past the lead sentence: speakers are taken from the headline and the
    /// lead only. Later sentences quote others ("Saudi Arabia said it
    /// would cut more") in one copy and not in the next.
    lead_done: bool,
    day_seen: bool,
    /// For `feedsift story --why`: each token's text as the item wrote it.
    surface: Option<rustc_hash::FxHashMap<u32, String>>,
    /// The headline's or the lead's words so far, for [`slots`]: (the
    /// word as slots compare it, the fingerprint of its name or figure
    /// when it is an anchor, else `NOT_ANCHOR`).
    seq: Vec<(u64, u32)>,
    slots: Vec<u32>,
    /// Tokens (flags aside) of the sentences after the lead, in reading
    /// order, and each sentence's key and end in it (see `close_sentence`).
    later_tokens: Vec<u32>,
    later: Vec<(u32, u32)>,
}

impl Tokens {
    /// A word of the headline or the lead, for the slots.
    fn slot_word(&mut self, skel: u64, fill: u32) {
        if !self.lead_done && self.seq.len() < SLOT_WORDS + 2 {
            self.seq.push((skel, fill));
        }
    }

    /// The headline, or the lead, is read: its slots are made.
    fn close_slots(&mut self) {
        if self.seq.len() > 2 {
            self.seq.extend([(2, NOT_ANCHOR), (4, NOT_ANCHOR)]);
            slots_of_seq(&self.seq, &mut self.slots);
        }
        self.seq.clear();
        self.seq.extend([(1, NOT_ANCHOR), (3, NOT_ANCHOR)]);
    }

    fn note(&mut self, t: u32, text: &str) {
        if let Some(m) = &mut self.surface {
            m.entry(t & !FLAGS).or_insert_with(|| text.to_owned());
        }
    }

    fn push(&mut self, t: u32) {
        let t = if t & KIND == DAY && !self.day_seen {
            self.day_seen = true;
            t | FIRST_DAY
        } else {
            t
        };
        let t = if self.lead_done {
            self.later_tokens.push(t & !FLAGS);
            t
        } else {
            t | IN_LEAD
        };
        self.out.push(t);
        if t & KIND != WORD || t & IN_TITLE != 0 {
            self.sketched.push(t & !FLAGS);
        } else {
            if self.prev_word != 0 {
                self.sketched
                    .push((mix(u64::from(self.prev_word) << 32 | u64::from(t)) >> 32) as u32);
            }
            self.prev_word = t;
        }
    }

    /// A sentence after the lead ends, whole or cut short: it is keyed by
    /// its first tokens, or 0 when they are too few to know it by.
    fn close_sentence(&mut self, whole: bool) {
        let start = self.later.last().map_or(0, |l| l.1 as usize);
        let toks = &self.later_tokens[start..];
        if toks.is_empty() {
            return;
        }
        let keyed =
            toks.len() >= SENTENCE_KEY_TOKENS || (whole && toks.len() >= MIN_SENTENCE_TOKENS);
        let key = if keyed {
            let mut h = 0x811C_9DC5u64;
            for &t in toks.iter().take(SENTENCE_KEY_TOKENS) {
                h = mix(h ^ u64::from(t));
            }
            // 0 is the key of no sentence.
            (h >> 32) as u32 | 1
        } else {
            0
        };
        self.later.push((key, self.later_tokens.len() as u32));
    }

    /// Splits `text` into words (letters), figures (digits with their
    /// decimal point or thousands separators) and, in scripts without
    /// spaces, character pairs.
    fn text(&mut self, text: &str, title: bool) {
        let flag = if title { IN_TITLE } else { 0 };
        let mut sentence_start = true;
        let bytes = text.as_bytes();
        // A byte position rather than a char iterator, so that runs of
        // ASCII letters and digits (most of the text) are read a byte at
        // a time.
        let char_at = |at: usize| text.get(at..).and_then(|t| t.chars().next());
        let mut pos = 0;
        let mut prev_unspaced: Option<char> = None;
        while let Some(c) = char_at(pos) {
            let i = pos;
            pos += c.len_utf8();
            if !title && self.body_words >= LEAD_WORDS {
                return;
            }
            if is_unspaced_script(c) {
                if let Some(p) = prev_unspaced {
                    let mut b = [0u8; 8];
                    let n = p.encode_utf8(&mut b[..4]).len();
                    let m = c.encode_utf8(&mut b[n..]).len();
                    let pair = std::str::from_utf8(&b[..n + m]).unwrap_or("");
                    let t = token(WORD, pair);
                    self.note(t, pair);
                    self.push(t | flag);
                }
                prev_unspaced = Some(c);
                continue;
            }
            prev_unspaced = None;
            if c.is_ascii_digit() {
                // A figure: "2,050" and "2050" agree; "9.7" keeps its point.
                self.word.clear();
                self.word.push(c);
                while let Some(&d) = bytes.get(pos) {
                    if d.is_ascii_digit() {
                        self.word.push(char::from(d));
                        pos += 1;
                    } else if (d == b'.' || d == b',')
                        && bytes.get(pos + 1).is_some_and(u8::is_ascii_digit)
                    {
                        // A comma before a group of exactly three digits
                        // separates thousands ("2,050"); before one, two
                        // or four and more it is the decimal comma of
                        // Russian and most of Europe ("106,86", "6,0"),
                        // which must read as the "106.86" of the English
                        // copy.
                        let group = bytes[pos + 1..]
                            .iter()
                            .take_while(|b| b.is_ascii_digit())
                            .count();
                        if d == b'.' || group != 3 {
                            self.word.push('.');
                        }
                        pos += 1;
                    } else {
                        break;
                    }
                }
                let t = token(NUMBER, &self.word);
                if self.surface.is_some() {
                    let w = self.word.clone();
                    self.note(t, &w);
                }
                // A figure whole (5.3 is not 5.8), always an anchor.
                self.slot_word(mix(u64::from(t) | (1 << 40)), fingerprint(t));
                self.push(t | flag);
                self.end_speaker_run();
                self.prev_name = Names::NONE;
                sentence_start = false;
                if !title {
                    self.body_words += 1;
                }
                continue;
            }
            if c.is_alphabetic() {
                let mut end = pos;
                loop {
                    while bytes.get(pos).is_some_and(u8::is_ascii_alphabetic) {
                        pos += 1;
                        end = pos;
                    }
                    let Some(d) = char_at(pos) else {
                        break;
                    };
                    if d.is_alphabetic() && !is_unspaced_script(d) {
                        pos += d.len_utf8();
                        end = pos;
                    } else if (d == '\'' || d == '’') && end == pos {
                        // "Japan's": the possessive is the same word.
                        pos += d.len_utf8();
                        while let Some(e) = char_at(pos).filter(|e| e.is_alphabetic()) {
                            pos += e.len_utf8();
                        }
                        break;
                    } else {
                        break;
                    }
                }
                let raw = &text[i..end];
                self.word_token(raw, sentence_start, flag);
                sentence_start = false;
                if !title {
                    self.body_words += 1;
                }
                continue;
            }
            if !c.is_whitespace() {
                if c == ':' && title && self.words_read <= 2 {
                    // "Lavrov: Russia's sovereignty ...": the headline quotes him.
                    let names = self.prev_name;
                    self.speaker(names);
                }
                self.end_speaker_run();
                if c == ',' && !self.prev_name.is_empty() {
                    self.join_run();
                } else {
                    self.prev_name = Names::NONE;
                    self.joined.clear();
                }
            }
            if matches!(c, '.' | '!' | '?' | ':' | '"' | '«' | '“') {
                sentence_start = true;
            }
            if !title
                && matches!(c, '.' | '!' | '?')
                && self.words_read > 0
                && ends_sentence(text, i)
            {
                if self.lead_done {
                    self.close_sentence(true);
                } else {
                    self.close_slots();
                    self.lead_done = true;
                }
            }
        }
    }

    /// A run of names after a speech verb ends: its last name is the speaker
    /// ("said Japanese Foreign Minister Taro Kono").
    fn end_speaker_run(&mut self) {
        let run = self.run_name.take();
        if !run.is_empty() {
            self.speaker(run);
            self.after_verb = 0;
        }
    }

    fn speaker(&mut self, names: Names) {
        if !self.lead_done {
            self.out
                .extend(names.0.iter().flatten().map(|n| n | SPEAKER));
        }
    }

    /// A run of names is followed by "and" or a comma: keep it for a verb
    /// that may follow the next run.
    fn join_run(&mut self) {
        let run = self.prev_name.take();
        self.joined.extend(run.0.iter().flatten());
    }

    /// `flag` is `IN_TITLE` for a headline's word, else 0.
    fn word_token(&mut self, raw: &str, sentence_start: bool, flag: u32) {
        // One buffer for every word's folded form (a new string per word,
        // and one per stem, stood out in the profile); taken out of `self`
        // while the word is read, so the methods below can borrow `self`.
        let mut folded = std::mem::take(&mut self.folded);
        folded.clear();
        fold_into(raw, &mut folded);
        if let Some(canon) = spelling(&folded) {
            folded.clear();
            folded.push_str(canon);
        }
        self.word_token_folded(raw, &folded, sentence_start, flag);
        self.folded = folded;
    }

    fn word_token_folded(&mut self, raw: &str, folded: &str, sentence_start: bool, flag: u32) {
        self.words_read += 1;
        let class = CLASSES.get(folded).copied().unwrap_or_default();
        // The word's name token, when the slots have made it: a name
        // needs the same one (the key was made twice per name before).
        let mut name_token = None;
        if !class.stop && folded.len() >= 2 && !self.lead_done {
            // Any other word by its name key for the slots: Sergey/Sergei,
            // Japan/Japanese agree. Capitalised words are anchors, dates
            // aside (days have rules of their own).
            let first = raw.chars().next().unwrap_or(' ');
            let anchor = first.is_uppercase() && class.day.is_none() && !class.not_speaker;
            let named = name_key_token(folded);
            name_token = Some(named);
            let t = named.0;
            self.slot_word(
                mix(u64::from(t)),
                if anchor { fingerprint(t) } else { NOT_ANCHOR },
            );
        }
        let name = self.word_token_inner(raw, folded, class, name_token, sentence_start, flag);
        if class.speech_verb {
            self.end_speaker_run();
            let before = self.prev_name.take();
            if !before.is_empty() {
                let joined = std::mem::take(&mut self.joined);
                for n in joined {
                    self.speaker(Names([None, Some(n)]));
                }
            }
            self.joined.clear();
            if before.is_empty() {
                // "said Foreign Minister Kono", «заявил министр ... Коно».
                self.after_verb = 6;
            } else {
                // "Kono said", "Lavrov told reporters".
                self.speaker(before);
            }
            return;
        }
        match name {
            Some(n) if !class.not_speaker => {
                if self.after_verb > 0 {
                    self.run_name.push(n);
                }
                self.prev_name.push(n);
            }
            _ if matches!(folded, "and" | "и") && !self.prev_name.is_empty() => {
                self.join_run();
            }
            _ => {
                self.end_speaker_run();
                self.prev_name = Names::NONE;
                self.joined.clear();
                // Russian puts the speaker's office, in lower case, between
                // the verb and the name; English capitalises the office
                // ("said Foreign Minister"), so a lower-case word there
                // ends the search.
                let cyrillic =
                    self.after_verb > 0 && folded.chars().any(|c| cyrillic_in_latin(c).is_some());
                self.after_verb = if cyrillic {
                    self.after_verb.saturating_sub(1)
                } else {
                    0
                };
            }
        }
    }

    /// Pushes the tokens of one word; returns its name token if it is a name.
    fn word_token_inner(
        &mut self,
        raw: &str,
        folded: &str,
        class: Class,
        name_token: Option<(u32, bool)>,
        sentence_start: bool,
        flag: u32,
    ) -> Option<u32> {
        let title = flag & IN_TITLE != 0;
        if class.number > 0 {
            // "five crew" and "5 crew" are the same figure.
            const FIGURES: [&str; 12] = [
                "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12",
            ];
            let figure = FIGURES[usize::from(class.number - 1).min(11)];
            let t = token(NUMBER, figure);
            self.note(t, figure);
            self.push(t | flag);
            return None;
        }
        if let Some(d) = class.day {
            let t = token(DAY, d);
            self.note(t, raw);
            self.push(t | flag);
        }
        if class.stop {
            return None;
        }
        // Six letters stand for the word: "negotiations" and "negotiated",
        // "Russia" and "Russian" agree, which is most of what stemming buys.
        let stem_end = folded
            .char_indices()
            .nth(6)
            .map_or(folded.len(), |(i, _)| i);
        let t = token(WORD, &folded[..stem_end]);
        self.note(t, raw);
        self.push(t | flag);
        let capital = raw.chars().next().is_some_and(char::is_uppercase);
        // Only a capitalised word can be an acronym: most words are
        // neither, and counting their letters was a step of its own.
        let acronym =
            capital && raw.chars().nth(1).is_some() && raw.chars().all(char::is_uppercase);
        // A capital that is not just the start of a sentence marks a name
        // (headlines capitalise their actors; title case over-marks, which
        // costs little since names are compared only with names).
        if acronym || (capital && (title || !sentence_start)) {
            let (t, named) = name_token.unwrap_or_else(|| name_key_token(folded));
            if named {
                let t = t | flag;
                self.note(t, raw);
                self.push(t);
                return Some(t & !FLAGS);
            }
        }
        None
    }
}

/// Words between two others, at most: "near [Shikotan] saying", "[EU
/// regulators] opened", "[Japan's privacy watchdog] opened".
const MAX_GAP: usize = 4;
/// Words of the headline, and of the lead, read for slots.
const SLOT_WORDS: usize = 32;
/// Slots kept per item.
pub(crate) const MAX_SLOTS: usize = 48;
/// Bits of a slot that hold its filler; the rest hold its context.
const FILLER_BITS: u32 = 12;

/// Slots: for each run of one to `MAX_GAP` words in the headline or the
/// lead, its context (the two words either side, stopwords skipped, the
/// start and end of the text counting as words) with the names and
/// figures that fill it. Two copies
/// of one report fill a shared context alike; two events told in one
/// template ("Russia seizes Japanese fishing boat off [Iturup]" / "...
/// off [Shikotan]"; "[Peskov] says Russia will respond" / "[Zakharova]
/// says ...") fill one context differently: see [`swaps`].
/// Packed as the context's hash in the high bits and the filler's in the
/// low `FILLER_BITS`. Read in the tokenizer's pass (`Tokens::slot_word`),
/// from the first `SLOT_WORDS` words of the headline and of the lead.
fn slots_of_seq(seq: &[(u64, u32)], out: &mut Vec<u32>) {
    for i in 1..seq.len() {
        let mut filled = false;
        for gap in 1..=MAX_GAP {
            let j = i + gap + 1;
            if j + 1 >= seq.len() {
                break;
            }
            filled |= seq[j - 1].1 != NOT_ANCHOR;
            if !filled {
                continue;
            }
            let context = mix(mix(seq[i - 1].0 ^ seq[i].0.rotate_left(17))
                ^ mix(seq[j].0.rotate_left(29) ^ seq[j + 1].0));
            // One entry per anchor of the filler: the actors, places and
            // figures are what a template is filled with, and fillers that
            // share one (an inserted word, a reordering) are not two
            // fillings. A filler of plain words ("seeks" / "wants") is a
            // paraphrase as often as another event.
            let c = (context >> 32) as u32 & !((1 << FILLER_BITS) - 1);
            for &(_, fill) in &seq[i + 1..j] {
                if fill != NOT_ANCHOR {
                    out.push(c | fill);
                }
            }
        }
    }
}

/// Marks a word of a slot sequence that is not an anchor.
const NOT_ANCHOR: u32 = u32::MAX;

/// Whether `t` is a plain word of the headline.
pub(crate) fn is_title_word(t: u32) -> bool {
    t & IN_TITLE != 0 && t & KIND == WORD
}

/// One spelling for words outlets spell two ways, where the first four
/// letters (see `name_key`) do not already agree: the Japanese and
/// Russian names of the disputed islands, British and American spelling.
fn spelling(folded: &str) -> Option<&'static str> {
    Some(match folded {
        "etorofu" => "iturup",
        "kunashiri" => "kunashir",
        "kuriles" => "kurils",
        "kurile" => "kuril",
        "ruble" => "rouble",
        "rubles" => "roubles",
        "defense" => "defence",
        "kilometers" => "kilometres",
        "meters" => "metres",
        "tons" => "tonnes",
        _ => return None,
    })
}

/// The bits of a name or figure token a slot keeps of it.
fn fingerprint(t: u32) -> u32 {
    ((t & !(FLAGS | KIND)) >> 6) & ((1 << FILLER_BITS) - 1)
}

/// Contexts both items give that each fills with a name or figure the
/// other item's headline and lead never give: the number of slots where
/// one template was filled with two actors, places or figures. (A filler
/// the other item names elsewhere in its lead, "[Medvedev] government
/// resigns" / "[Russian] government resigns ... Prime Minister Dmitry
/// Medvedev", is a rewrite.) `share_figure`: the two give a figure of
/// their headlines and leads alike (see below).
pub(crate) fn swaps(a: Side, b: Side, share_figure: bool) -> u32 {
    // Named in the other item's headline or lead, that is: a name in a
    // background paragraph ("Kremlin spokesman Dmitry Peskov has said
    // ...", pasted under unrelated news) does not make a filling of the
    // template a rewrite.
    let absent = |f: u32, toks: &[u32]| {
        !toks
            .iter()
            .any(|&t| fingerprint(t) == f && t & IN_LEAD != 0)
    };
    let (sa, sb) = (a.slots, b.slots);
    let ctx = |s: u32| s >> FILLER_BITS;
    let fill = |s: u32| s & ((1 << FILLER_BITS) - 1);
    let (mut i, mut j) = (0, 0);
    let mut n = 0;
    while i < sa.len() && j < sb.len() {
        match ctx(sa[i]).cmp(&ctx(sb[j])) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                let c = ctx(sa[i]);
                let ea = sa[i..].iter().take_while(|s| ctx(**s) == c).count();
                let eb = sb[j..].iter().take_while(|s| ctx(**s) == c).count();
                let (fa, fb) = (&sa[i..i + ea], &sb[j..j + eb]);
                // A filling the other item does not explain: one of its
                // names or figures missing there ("probe [Bluefin Data]" /
                // "probe [Paragon Chips]", though another copy names the
                // "Data Protection Commission"). When the two share a figure
                // of their headlines and leads, which tells the event, only a
                // filling none of whose anchors the other gives: "Strong
                // quake shakes [...]" / "Earthquake of magnitude 5.3 hits
                // [...]" fill one context with words of one report.
                let gone = |f: &[u32], toks: &[u32]| {
                    if share_figure {
                        f.iter().all(|&x| absent(fill(x), toks))
                    } else {
                        f.iter().any(|&x| absent(fill(x), toks))
                    }
                };
                if !fa.iter().any(|x| fb.contains(x)) && gone(fa, b.tokens) && gone(fb, a.tokens) {
                    n += 1;
                }
                i += ea;
                j += eb;
            }
        }
    }
    n
}

/// Whether the stop at byte `at` ends a sentence: followed by a space or
/// the end, and not the point of an abbreviation or an initial ("No. 33
/// Daikichi Maru", "Oct. 9", "U.S. missiles", "J. Smith").
fn ends_sentence(text: &str, at: usize) -> bool {
    let after = &text[at + 1..];
    if !(after.is_empty() || after.starts_with(char::is_whitespace)) {
        return false;
    }
    if !text[at..].starts_with('.') {
        return true;
    }
    let before = &text[..at];
    let word_start = before.rfind(|c: char| !c.is_alphanumeric()).map_or(0, |i| {
        i + before[i..].chars().next().map_or(1, char::len_utf8)
    });
    let word = &before[word_start..];
    if word.chars().count() == 1 && word.chars().all(char::is_uppercase) {
        return false;
    }
    !matches!(
        word,
        "No" | "Nos"
            | "no"
            | "Mr"
            | "Mrs"
            | "Ms"
            | "Dr"
            | "St"
            | "Gen"
            | "Lt"
            | "Col"
            | "Sgt"
            | "Jr"
            | "Sr"
            | "Inc"
            | "Corp"
            | "Co"
            | "Ltd"
            | "vs"
            | "Jan"
            | "Feb"
            | "Mar"
            | "Apr"
            | "Jun"
            | "Jul"
            | "Aug"
            | "Sep"
            | "Sept"
            | "Oct"
            | "Nov"
            | "Dec"
            | "approx"
            | "est"
    )
}

/// The signature of an item: its title and its summary (or content) HTML.
pub fn signature(title: &str, body_html: &str) -> Signature {
    signature_with(title, body_html, None).0
}

/// The signature and, for each token, the text it was read from: what
/// `feedsift story --why` shows as shared evidence.
pub fn signature_explained(
    title: &str,
    body_html: &str,
) -> (Signature, rustc_hash::FxHashMap<u32, String>) {
    let (s, m) = signature_with(title, body_html, Some(Default::default()));
    (s, m.unwrap_or_default())
}

fn signature_with(
    title: &str,
    body_html: &str,
    surface: Option<rustc_hash::FxHashMap<u32, String>>,
) -> (Signature, Option<rustc_hash::FxHashMap<u32, String>>) {
    let body = html_to_text(crate::text::cut(body_html, MAX_BODY_HTML));
    let title = strip_boilerplate(title, " ");
    let body = strip_boilerplate(&body, ". ");
    // The headline and the lead sentence say what kind of report this is.
    let lead = body.trim_start_matches(['.', ' ']);
    let lead_end = lead
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '.' | '。')
                && lead[i + c.len_utf8()..].starts_with([' ', '\n'])
                && !lead[..i].ends_with("No")
        })
        .map_or(lead.len(), |(i, _)| i);
    let head = [&*title, &lead[..lead_end]];
    let mut marks = [false; 3];
    if let Some(set) = MARKS.as_ref() {
        // Most items carry no mark: the plain test is cheaper than asking
        // which patterns match.
        for t in head.into_iter().filter(|t| set.is_match(t)) {
            for m in set.matches(t).iter() {
                marks[m] = true;
            }
        }
    }
    let [preview, reaction, side_event] = marks;
    let mut t = Tokens {
        out: Vec::with_capacity(128),
        sketched: Vec::with_capacity(128),
        prev_word: 0,
        // Sized for most items, so the buffers do not grow word by word.
        word: String::with_capacity(32),
        folded: String::with_capacity(32),
        body_words: 0,
        prev_name: Names::NONE,
        joined: Vec::new(),
        after_verb: 0,
        run_name: Names::NONE,
        words_read: 0,
        lead_done: false,
        day_seen: false,
        surface,
        seq: {
            let mut seq = Vec::with_capacity(SLOT_WORDS + 4);
            seq.extend([(1, NOT_ANCHOR), (3, NOT_ANCHOR)]);
            seq
        },
        slots: Vec::with_capacity(4 * MAX_SLOTS),
        later_tokens: Vec::with_capacity(64),
        later: Vec::with_capacity(MAX_SENTENCES),
    };
    t.text(&title, true);
    t.close_slots();
    let title_slots = t.slots.len();
    t.end_speaker_run();
    (t.prev_name, t.after_verb, t.words_read) = (Names::NONE, 0, 0);
    t.joined.clear();
    t.text(&body, false);
    t.end_speaker_run();
    t.close_slots();
    t.close_sentence(false);
    let mut slots = std::mem::take(&mut t.slots);
    // The headline's slots all (a template is a headline's shape: a
    // sample could keep "[Rudenko] says Kurils" in one item and drop it
    // in the other, whose lead has more names), then the lead's with
    // the lowest context hashes, a sample both items of a pair take
    // alike.
    // In place: the headline's slots sorted and deduplicated at the
    // front, then the lead's lowest not among them.
    let n = title_slots.min(slots.len());
    slots[..n].sort_unstable();
    slots[n..].sort_unstable();
    let mut w = 0;
    for r in 0..n {
        if w == 0 || slots[w - 1] != slots[r] {
            slots[w] = slots[r];
            w += 1;
        }
    }
    let heads = w.min(MAX_SLOTS);
    w = heads;
    for r in n..slots.len() {
        if w >= MAX_SLOTS {
            break;
        }
        let x = slots[r];
        if slots[..heads].binary_search(&x).is_err() && (w == heads || slots[w - 1] != x) {
            slots[w] = x;
            w += 1;
        }
    }
    slots.truncate(w);
    slots.sort_unstable();
    // Repeats need no removing: a bin keeps its smallest value either way.
    let sketched = std::mem::take(&mut t.sketched);
    let surface = t.surface.take();
    let mut toks = t.out;
    merge_tokens(&mut toks);
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
        // The keys are distinct (tokens are), so selecting the first
        // MAX_TOKENS keeps the same set a full sort would.
        let mut keep = toks.clone();
        keep.select_nth_unstable_by_key(MAX_TOKENS - 1, |x| (rank(x), *x));
        keep.truncate(MAX_TOKENS);
        keep.sort_unstable_by_key(|x| x & !FLAGS);
        toks = keep;
    }
    let sentences = sentence_masks(&toks, &t.later_tokens, &t.later);
    let latin = title.bytes().filter(u8::is_ascii_alphabetic).count() * 2
        >= title.chars().filter(|c| c.is_alphabetic()).count().max(1);
    let sig = Signature {
        sketch: sketch(&sketched),
        tokens: toks,
        latin,
        preview,
        reaction,
        side_event,
        slots,
        sentences,
    };
    (sig, surface)
}

/// Each keyed sentence after the lead as (key, mask of the kept tokens it
/// gives), the same sentence told twice once; then (0, the tokens that are
/// never background): the headline's and the lead's, and those of unkeyed
/// sentences and of sentences past `MAX_SENTENCES`.
fn sentence_masks(toks: &[u32], later_tokens: &[u32], later: &[(u32, u32)]) -> Vec<(u32, u64)> {
    if later.is_empty() {
        return Vec::new();
    }
    let bit = |t: u32| -> u64 {
        toks.binary_search_by_key(&t, |x| x & !FLAGS)
            .map_or(0, |i| 1u64 << i)
    };
    let mut keep: u64 = toks
        .iter()
        .enumerate()
        .filter(|(_, t)| **t & (IN_TITLE | IN_LEAD) != 0)
        .fold(0, |m, (i, _)| m | 1 << i);
    let mut out: Vec<(u32, u64)> = Vec::with_capacity(later.len() + 1);
    let mut start = 0;
    for &(key, end) in later {
        let mask = later_tokens[start..end as usize]
            .iter()
            .fold(0, |m, &t| m | bit(t));
        start = end as usize;
        if key == 0 || out.len() + 1 >= MAX_SENTENCES {
            keep |= mask;
        } else if let Some(e) = out.iter_mut().find(|e| e.0 == key) {
            e.1 |= mask;
        } else if mask != 0 {
            out.push((key, mask));
        }
    }
    if out.is_empty() {
        return Vec::new();
    }
    out.push((0, keep));
    out
}

/// Sorts tokens by their hash and keeps one entry per token, with the
/// flags of all its occurrences.
fn merge_tokens(toks: &mut Vec<u32>) {
    toks.sort_unstable_by_key(|x| x & !FLAGS);
    toks.dedup_by(|b, a| {
        let same = (*a & !FLAGS) == (*b & !FLAGS);
        if same {
            *a |= *b & FLAGS;
        }
        same
    });
}

/// One-permutation MinHash: each sketched token is hashed once and lands in one of
/// K bins by its top bits, the bin keeping the smallest remainder. Empty
/// bins borrow from the next filled bin (rotation densification), shifted
/// by the distance so that borrowed values differ from the lender's.
fn sketch(tokens: &[u32]) -> [u16; K] {
    let mut s = [u16::MAX; K];
    let mut filled = [false; K];
    for &t in tokens {
        let h = mix(u64::from(t & !FLAGS));
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

/// Counts of shared and own tokens of two signatures, by kind, and the
/// same sums weighted by how rare each token is in the window (see
/// `StoryIndex::weight`) and by where it stands (headline and lead count
/// fully, later sentences by `BODY_WEIGHT`).
#[derive(Default, Debug)]
struct Overlap {
    own: [[u32; 4]; 2],
    shared: [u32; 4],
    w_own: [[f32; 4]; 2],
    w_shared: [f32; 4],
    /// Headline tokens, counted and weighted.
    title_own: [u32; 2],
    title_shared: u32,
    /// Figures both headlines-and-leads give, of those rare in the window.
    head_figures_shared: u32,
    w_title_own: [f32; 2],
    w_title_shared: f32,
    speakers_own: [u32; 2],
    speakers_shared: u32,
    /// Names both items give in their headlines or leads.
    lead_names_shared: u32,
    /// Speakers of one side named, but not speaking, in the other.
    speakers_named: [u32; 2],
    first_day: [u32; 2],
    first_day_shared: u32,
    /// Headline tokens of each side that the other item never gives,
    /// weighted: the actor, place, figure or object a headline template
    /// was filled with.
    title_missing: [f32; 2],
    /// Figures of each side's headline and lead the other never gives.
    lead_figures_missing: [u32; 2],
    /// Names and figures of each side's headline the other never gives,
    /// and the figures alone.
    title_anchors_missing: [u32; 2],
    title_figures_missing: [u32; 2],
    /// Each headline's content (its speakers and days aside), weighted,
    /// and the part of it the other item gives.
    w_news: [f32; 2],
    w_news_found: [f32; 2],
}

fn overlap(a: Side, b: Side) -> Overlap {
    // A figure is the event's own from the rarer bar either side sets.
    let rare = a.rare.max(b.rare);
    let (a, wa, b, wb) = (a.tokens, a.weights, b.tokens, b.weights);
    let mut o = Overlap::default();
    let news = |t: u32| t & IN_LEAD != 0 && t & SPEAKER == 0 && t & KIND != DAY;
    for (side, (toks, ws)) in [(a, wa), (b, wb)].into_iter().enumerate() {
        // Each sum in a local of its own, every token adding to every one
        // (zero where it does not count): the sums stay in registers. Added
        // through `o` by the token's kind, each add waited on the last
        // one's store, and this loop was the most of a pair's cost. Adding
        // zeros leaves each sum what it was, to the bit.
        let (mut own, mut w_own) = ([0u32; 4], [0f32; 4]);
        let (mut title, mut w_title, mut w_news) = (0u32, 0f32, 0f32);
        let (mut speakers, mut first_day) = (0u32, 0u32);
        for (&t, &w) in toks.iter().zip(ws) {
            let kind = t & KIND;
            for k in 0..4 {
                let this = kind == k as u32;
                own[k] += u32::from(this);
                w_own[k] += if this { w } else { 0.0 };
            }
            let in_title = t & IN_TITLE != 0;
            title += u32::from(in_title);
            w_title += if in_title { w } else { 0.0 };
            w_news += if news(t) { w } else { 0.0 };
            speakers += u32::from(t & SPEAKER != 0);
            first_day += u32::from(t & FIRST_DAY != 0);
        }
        o.own[side] = own;
        o.w_own[side] = w_own;
        o.title_own[side] = title;
        o.w_title_own[side] = w_title;
        o.w_news[side] = w_news;
        o.speakers_own[side] = speakers;
        o.first_day[side] = first_day;
    }
    let missing = |o: &mut Overlap, side: usize, t: u32, w: f32| {
        if t & IN_TITLE != 0 {
            o.title_missing[side] += w;
            o.title_anchors_missing[side] += u32::from(matches!(t & KIND, NAME | NUMBER));
            o.title_figures_missing[side] += u32::from(t & KIND == NUMBER);
        }
        if t & KIND == NUMBER && t & IN_LEAD != 0 {
            o.lead_figures_missing[side] += 1;
        }
    };
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i] & !FLAGS, b[j] & !FLAGS);
        match x.cmp(&y) {
            std::cmp::Ordering::Less => {
                missing(&mut o, 0, a[i], wa[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                missing(&mut o, 1, b[j], wb[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                o.first_day_shared += u32::from(a[i] & b[j] & FIRST_DAY != 0);
                let kind = (x & KIND) as usize;
                o.shared[kind] += 1;
                // One token has one weight, the smaller: a sentence one
                // side knows for background (see `StoryIndex`) is
                // background in the other's body too, where it may have
                // come before the window had seen it under other news.
                // A headline's or a lead's own token keeps its weight
                // there: found only in the other's background, it is
                // news the other does not give.
                let w = wa[i].min(wb[j]);
                o.w_shared[kind] += w;
                for (side, t, wt) in [(0, a[i], wa[i]), (1, b[j], wb[j])] {
                    if t & (IN_TITLE | IN_LEAD) == 0 {
                        o.w_own[side][kind] -= wt - w;
                    }
                    if news(t) {
                        o.w_news_found[side] += w;
                    }
                }
                if a[i] & b[j] & IN_TITLE != 0 {
                    o.title_shared += 1;
                    o.w_title_shared += w;
                }
                o.speakers_shared += u32::from(a[i] & b[j] & SPEAKER != 0);
                o.lead_names_shared += u32::from(x & KIND == NAME && a[i] & b[j] & IN_LEAD != 0);
                // A figure every other item gives ("1-0", "2023") is
                // nobody's own.
                o.head_figures_shared +=
                    u32::from(x & KIND == NUMBER && a[i] & b[j] & IN_LEAD != 0 && w >= rare);

                o.speakers_named[0] += u32::from(a[i] & !b[j] & SPEAKER != 0);
                o.speakers_named[1] += u32::from(b[j] & !a[i] & SPEAKER != 0);
                i += 1;
                j += 1;
            }
        }
    }
    for (&t, &w) in a[i..].iter().zip(&wa[i..]) {
        missing(&mut o, 0, t, w);
    }
    for (&t, &w) in b[j..].iter().zip(&wb[j..]) {
        missing(&mut o, 1, t, w);
    }
    o
}

/// Whether two items' headlines are one template filled twice, told by
/// their headlines alone: most words shared, and each headline names
/// someone or something, or gives a figure, that the other item never
/// gives ("Japan's Prime Minister calls for calm after Russian drills
/// near Iturup" / "... near Matua"; "Earthquake of magnitude 6.5 hits
/// eastern Hokkaido" / "... 5.1 ..."). Unweighted, so that it holds in a
/// window too new to know which words are common (see `StoryIndex::decide`).
pub(crate) fn template_fillings(a: Side, b: Side) -> bool {
    let o = overlap(a, b);
    filled_template(&o, a.flags, b.flags)
}

/// [`score_with`] without the strict rules, and [`template_fillings`],
/// from one pass over the pair.
pub(crate) fn score_plain(a: Side, b: Side, hours: f64) -> (f64, bool) {
    let o = overlap(a, b);
    (
        score_of(a.flags, b.flags, &o, 0, hours, false),
        filled_template(&o, a.flags, b.flags),
    )
}

fn filled_template(o: &Overlap, a_flags: u8, b_flags: u8) -> bool {
    if (a_flags & LATIN) != (b_flags & LATIN) {
        return false;
    }
    let same_shape =
        f64::from(o.title_shared) / f64::from(o.title_own[0].max(o.title_own[1]).max(1));
    let each = |n: [u32; 2]| n[0] > 0 && n[1] > 0;
    // A figure is the surer filling: "magnitude 6.5" against "5.1" tells
    // two quakes apart with fewer words in common than two actors need
    // ("Alexey Navalny detained at Sheremetyevo Airport" / "FSIN says
    // Navalny detained at Sheremetyevo ..." is one arrest, retold).
    (same_shape >= FILLED_TEMPLATE && each(o.title_anchors_missing))
        || (same_shape >= TEMPLATE && each(o.title_figures_missing))
}

/// [`TEMPLATE`] for headlines that differ in a name rather than a figure.
const FILLED_TEMPLATE: f64 = 0.6;

fn wratio(shared: f32, a: f32, b: f32) -> f64 {
    f64::from(shared) / f64::from(a.min(b).max(f32::MIN_POSITIVE))
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
/// - Statements after one meeting are separate stories when each side
///   speaks for itself: copies quote the same person ("Kono said" in each
///   copy of Kono's remarks, "Lavrov: ..." in each copy of Lavrov's), so
///   two items that name both sides, each quoting the side the other
///   leaves silent, are apart.
/// - A preview ("will host talks on Monday") is not the report of the
///   event, and a protest over an event is not the event.
/// - A copy in another script (a translation) shares only names and
///   figures; it needs at least three of them, one a figure, within hours.
///
/// Here every token weighs the same; the index weighs them by how rare
/// they are in its window (see `StoryIndex`), which is what keeps shared
/// background paragraphs and a topic's everyday names from counting as
/// evidence.
pub fn same_event(a: &Signature, b: &Signature, hours: f64) -> f64 {
    let (wa, wb) = (vec![1.0; a.tokens.len()], vec![1.0; b.tokens.len()]);
    score(
        Side::new(&a.tokens, &wa, a.flags(), &a.slots),
        Side::new(&b.tokens, &wb, b.flags(), &b.slots),
        hours,
    )
}

/// One item as the verifier sees it: tokens, their weights, flags.
#[derive(Clone, Copy)]
pub(crate) struct Side<'a> {
    pub tokens: &'a [u32],
    pub weights: &'a [f32],
    pub flags: u8,
    pub slots: &'a [u32],
    /// The weight from which a figure both headlines-and-leads give is
    /// the event's own (see `Overlap::head_figures_shared`); 0: any.
    pub rare: f32,
}

impl<'a> Side<'a> {
    pub fn new(tokens: &'a [u32], weights: &'a [f32], flags: u8, slots: &'a [u32]) -> Side<'a> {
        debug_assert_eq!(tokens.len(), weights.len());
        Side {
            tokens,
            weights,
            flags,
            slots,
            rare: 0.0,
        }
    }

    /// With `rare` (see the field).
    pub fn rare(self, rare: f32) -> Side<'a> {
        Side { rare, ..self }
    }
}

/// [`same_event`] on the parts the index keeps, with weights.
pub(crate) fn score(a: Side, b: Side, hours: f64) -> f64 {
    score_with(a, b, hours, true)
}

/// [`score`], with the rules for a crowded window (`strict`) or without.
pub(crate) fn score_with(a: Side, b: Side, hours: f64, strict: bool) -> f64 {
    let o = overlap(a, b);
    let swapped = if strict && (a.flags & LATIN) == (b.flags & LATIN) {
        swaps(a, b, o.head_figures_shared > 0)
    } else {
        0
    };
    score_of(a.flags, b.flags, &o, swapped, hours, strict)
}

/// [`score_with`] from the pair's overlap and swaps, computed once when
/// both the plain and the strict score are wanted (see [`features`]).
fn score_of(a_flags: u8, b_flags: u8, o: &Overlap, swapped: u32, hours: f64, strict: bool) -> f64 {
    let shared_numbers = o.shared[NUMBER as usize];
    // The rules that tell two items apart however much their words agree
    // (other speakers, preview against report, reaction or side event
    // against the event, another day, other figures, another actor in
    // the same headline): each is a veto, since a wrong merge hides an
    // event from the reader and a missed one only shows a copy twice.
    let mut apart = false;
    // Each side's speaker is present in the other, silent: the two sides
    // of one meeting, each reported speaking for itself.
    veto("");
    if o.speakers_shared == 0 && o.speakers_named[0] > 0 && o.speakers_named[1] > 0 {
        apart = true;
        veto("speakers-named");
    }
    // Copies keep the figures of the report they copy: when each side's
    // headline or lead gives a figure the other never gives (magnitude
    // 5.3 and 6.8, 400 troops and 700), they report two events.
    if strict && o.lead_figures_missing[0] > 0 && o.lead_figures_missing[1] > 0 {
        apart = true;
        veto("figures");
    }
    if strict && (a_flags & LATIN) == (b_flags & LATIN) && swapped >= 1 {
        apart = true;
        veto("swap");
    }
    // A figure both headlines-and-leads give (magnitude 5.3, 700 troops,
    // 4.5%) is the event's own; a rewrite around it ("Magnitude 5.3
    // quake strikes off Kamchatka" / "Earthquake of magnitude 5.3 hits
    // Kamchatka") may change most other words, and other fillings of
    // the template are told apart by the figure and slot rules above.
    let coverage = if o.head_figures_shared > 0 {
        COVERAGE_WITH_FIGURE
    } else {
        COVERAGE
    };
    // What is new in each headline must be in the other item: "Putin says
    // Japan's new sanctions will not go unanswered" and "Putin says
    // Tokyo's military build-up threatens the region" share their speaker
    // and a template, not their news.
    if strict
        && (a_flags & LATIN) == (b_flags & LATIN)
        && (0..2).any(|s| o.w_news_found[s] < coverage * o.w_news[s])
    {
        apart = true;
        veto("coverage");
    }
    let differ = |flag: u8| (a_flags & flag) != (b_flags & flag);
    if differ(IS_PREVIEW) {
        apart = true;
        veto("preview");
    }
    if differ(IS_REACTION) {
        apart = true;
        veto("reaction");
    }
    if differ(IS_SIDE_EVENT) {
        apart = true;
        veto("side");
    }
    let (na, nb) = (o.own[0][NUMBER as usize], o.own[1][NUMBER as usize]);
    let figures_differ = na > 0 && nb > 0 && na + nb >= 3 && shared_numbers == 0;
    let (da, db) = (o.own[0][DAY as usize], o.own[1][DAY as usize]);
    let days_differ = da > 0 && db > 0 && o.shared[DAY as usize] == 0;
    // The day each item gives first is its event's day: "OPEC agreed on
    // Thursday ... needed approval at a meeting on Friday" is not Friday's
    // agreement, though both name Friday.
    if o.first_day[0] > 0 && o.first_day[1] > 0 && o.first_day_shared == 0 {
        apart = true;
        veto("day");
    }
    if apart {
        return 0.0;
    }
    if differ(LATIN) {
        // A translation within hours: three names and figures, one a
        // figure, or four names on the same day (a statement quoted in
        // translation often drops the figures).
        // Names of the headlines and leads only: a background sentence
        // ("Markets in Tokyo and Moscow have been volatile") under any
        // of the day's reports is no evidence that two are one.
        let (names, days) = (o.lead_names_shared, o.shared[DAY as usize]);
        // Two figures alike ("14,8%" and "68,2 млрд иен" for "14.8%" and
        // "68.2 billion yen") or three names on the same day ("Алиев и
        // Пашинян ... в Гранаде" on Wednesday) are as telling.
        let anchored = (shared_numbers >= 1 && names + shared_numbers + days >= 3)
            || shared_numbers >= 2
            || (names >= 3 && days >= 1);
        return if hours <= 6.0 && anchored && !figures_differ && !days_differ {
            1.0
        } else {
            0.0
        };
    }
    // Too little in common to judge: two one-line items naming the same
    // two capitals ("Tokyo and Moscow reopen consulates", "Kremlin comments
    // on Tokyo visit") share a high ratio of very little. Copies of one
    // report share more than the names, however short they are.
    if o.shared[WORD as usize] + shared_numbers < MIN_SHARED {
        veto("min-shared");
        return 0.0;
    }
    let content = |side: usize| o.w_own[side][..3].iter().sum::<f32>();
    let shared_content: f32 = o.w_shared[..3].iter().sum();
    let contained = wratio(shared_content, content(0), content(1));
    let names_alike = wratio(
        o.w_shared[NAME as usize],
        o.w_own[0][NAME as usize],
        o.w_own[1][NAME as usize],
    );
    let title_alike = wratio(o.w_title_shared, o.w_title_own[0], o.w_title_own[1]);
    // One headline template filled twice ("Japan's Prime Minister calls
    // for calm after Russian drills near Shikotan" / "Japan's Foreign
    // Minister calls for calm ... near the southern Kurils"; "Quanta Forge
    // unveils an AI coding assistant" / "... a satellite internet
    // service"): the headlines agree in most of their words, and each
    // has words the other item never gives. The filling is the news.
    // (Rewrites with a headline of their own, "Medvedev visits Iturup" /
    // "Russian PM visits disputed island off Hokkaido", share less of
    // their headlines and are judged by their text; so are two that share
    // a figure of their headlines and leads, which the figure and slot
    // rules tell apart from another filling.)
    let same_shape =
        f64::from(o.title_shared) / f64::from(o.title_own[0].max(o.title_own[1]).max(1));
    if strict
        && o.head_figures_shared == 0
        && same_shape >= TEMPLATE
        && o.title_missing[0].min(o.title_missing[1]) >= SLOT_SHARE * o.w_title_shared
        && contained < SAME_TEXT
    {
        veto("head");
        return 0.0;
    }
    let mut score = 0.5 * contained + 0.3 * names_alike + 0.2 * title_alike;
    if figures_differ {
        score -= 0.3;
    }
    if days_differ {
        score -= 0.3;
    }
    score - HOURLY_PENALTY * hours
}

/// In one headline template filled twice, what each filling has that the
/// other lacks weighs at least this share of what they share.
const SLOT_SHARE: f32 = 0.2;

/// The share of each item's headline and lead (weighted) that the other
/// item must give, where the window is crowded.
const COVERAGE: f32 = 0.5;

/// [`COVERAGE`] when the two share a figure of their headlines and leads.
const COVERAGE_WITH_FIGURE: f32 = 0.25;

/// Headlines sharing this share of their words (of the longer one) are
/// one headline's shape.
const TEMPLATE: f64 = 0.5;

/// Weighted containment from which two texts are one report told twice,
/// whatever their headlines.
const SAME_TEXT: f64 = 0.75;

/// The tokens two signatures share, without flags, with their kind:
/// 0 word, 1 name, 2 figure, 3 day.
pub(crate) fn shared_tokens(a: &[u32], b: &[u32]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i] & !FLAGS, b[j] & !FLAGS);
        match x.cmp(&y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push((x, x & KIND));
                i += 1;
                j += 1;
            }
        }
    }
    out
}

#[cfg(test)]
thread_local! {
    pub(crate) static VETO: std::cell::Cell<&'static str> = const { std::cell::Cell::new("") };
}

fn veto(_why: &'static str) {
    #[cfg(test)]
    VETO.with(|v| v.set(_why));
}

/// Words and figures (names aside: a capital or a minister is named in
/// every report about them) two items of one script must share at least
/// to be judged copies of one report.
const MIN_SHARED: u32 = 3;

/// Hours apart beyond which no pair reaches `threshold` (the score is at
/// most 1 less the time penalty), so the index need not score them.
pub(crate) fn max_hours(threshold: f64) -> f64 {
    (1.0 - threshold) / HOURLY_PENALTY
}

/// Score lost per hour between two items.
const HOURLY_PENALTY: f64 = 0.01;

/// The stored form: a version byte, the flags, the number of slots and of
/// sentences, the sketch, the slots, the sentences (key and mask), the
/// tokens.
pub fn to_bytes(s: &Signature) -> Vec<u8> {
    let slots = &s.slots[..s.slots.len().min(MAX_SLOTS)];
    let sentences = &s.sentences[..s.sentences.len().min(MAX_SENTENCES)];
    let mut out =
        Vec::with_capacity(4 + 2 * K + 4 * (slots.len() + s.tokens.len()) + 12 * sentences.len());
    out.push(5);
    out.push(s.flags());
    out.push(slots.len() as u8);
    out.push(sentences.len() as u8);
    out.extend(s.sketch.iter().flat_map(|v| v.to_le_bytes()));
    out.extend(slots.iter().flat_map(|v| v.to_le_bytes()));
    for (key, mask) in sentences {
        out.extend(key.to_le_bytes());
        out.extend(mask.to_le_bytes());
    }
    out.extend(s.tokens.iter().flat_map(|v| v.to_le_bytes()));
    out
}

/// A stored signature; None for another version (sketches stored before
/// the verifier existed) or a damaged blob.
pub fn from_bytes(b: &[u8]) -> Option<Signature> {
    let (&[version, flags], rest) = b.split_first_chunk::<2>()?;
    let (nslots, nsentences, rest) = match version {
        3 => (0, 0, rest),
        4 => {
            let (&n, rest) = rest.split_first()?;
            (usize::from(n), 0, rest)
        }
        5 => {
            let (&[n, m], rest) = rest.split_first_chunk::<2>()?;
            (usize::from(n), usize::from(m), rest)
        }
        _ => return None,
    };
    let fixed = 2 * K + 4 * nslots + 12 * nsentences;
    if rest.len() < fixed || !(rest.len() - fixed).is_multiple_of(4) {
        return None;
    }
    let (sk, rest) = rest.split_at(2 * K);
    let (slot_bytes, rest) = rest.split_at(4 * nslots);
    let (sentence_bytes, toks) = rest.split_at(12 * nsentences);
    let sentences: Vec<(u32, u64)> = sentence_bytes
        .chunks_exact(12)
        .filter_map(|c| {
            let (key, mask) = c.split_first_chunk::<4>()?;
            Some((
                u32::from_le_bytes(*key),
                u64::from_le_bytes(mask.try_into().ok()?),
            ))
        })
        .collect();
    let slots: Vec<u32> = slot_bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut sketch = [0u16; K];
    for (v, c) in sketch.iter_mut().zip(sk.chunks_exact(2)) {
        *v = u16::from_le_bytes([c[0], c[1]]);
    }
    let mut tokens: Vec<u32> = toks
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if version == 3 {
        // Version 3 had no lead flag: bit 5 was part of the hash. Cleared,
        // the tokens are the ones version 4 reads from the same text (not
        // marked as lead), and the sketch is made again from them (the
        // pairs of body words it also held are not stored) so that band
        // keys agree with new items.
        for t in &mut tokens {
            *t &= !IN_LEAD;
        }
        merge_tokens(&mut tokens);
        let sketched: Vec<u32> = tokens
            .iter()
            .filter(|t| *t & KIND != WORD || *t & IN_TITLE != 0)
            .map(|t| t & !FLAGS)
            .collect();
        sketch = self::sketch(&sketched);
    }
    Some(Signature {
        sketch,
        tokens,
        latin: flags & LATIN != 0,
        preview: flags & IS_PREVIEW != 0,
        reaction: flags & IS_REACTION != 0,
        side_event: flags & IS_SIDE_EVENT != 0,
        slots,
        sentences,
    })
}

/// Inputs of the fitted verifier (see [`verify`]), in this order; the
/// names head the columns `scripts/fit_verifier.py` reads.
pub const FEATURES: [&str; 31] = [
    "contained",
    "jaccard",
    "names_alike",
    "title_alike",
    "same_shape",
    "coverage_min",
    "coverage_max",
    "lead_figures_both_missing",
    "lead_figures_missing",
    "swaps",
    "head_figure_shared",
    "figures_differ",
    "days_differ",
    "first_day_differs",
    "speakers_named",
    "preview_differs",
    "reaction_differs",
    "side_event_differs",
    "days_apart",
    "title_missing",
    "shared_words",
    "shared_figures",
    "shared_names",
    "shared_days",
    "script_differs",
    "title_shared",
    "speakers_shared",
    "rules_plain",
    "rules_strict",
    "both_cyrillic",
    "shorter_tokens",
];

/// What the verifier reads of a pair: the rules' own measures (overlap,
/// coverage, vetoes as 0/1, the plain and strict scores), each a number,
/// so that a model fitted on labelled pairs weighs them instead of any
/// one of them deciding alone.
#[cfg(test)]
pub(crate) fn features(a: Side, b: Side, hours: f64) -> [f32; FEATURES.len()] {
    let o = overlap(a, b);
    features_of(a, b, &o, hours)
}

fn features_of(a: Side, b: Side, o: &Overlap, hours: f64) -> [f32; FEATURES.len()] {
    let content = |side: usize| o.w_own[side][..3].iter().sum::<f32>();
    let shared_content: f32 = o.w_shared[..3].iter().sum();
    let contained = wratio(shared_content, content(0), content(1)) as f32;
    let jaccard = shared_content / (content(0) + content(1) - shared_content).max(1e-6);
    let names_alike = wratio(
        o.w_shared[NAME as usize],
        o.w_own[0][NAME as usize],
        o.w_own[1][NAME as usize],
    ) as f32;
    let title_alike = wratio(o.w_title_shared, o.w_title_own[0], o.w_title_own[1]) as f32;
    let same_shape = o.title_shared as f32 / o.title_own[0].max(o.title_own[1]).max(1) as f32;
    let coverage = |s: usize| o.w_news_found[s] / o.w_news[s].max(1e-6);
    let (c0, c1) = (coverage(0), coverage(1));
    let title_missing = o.title_missing[0].min(o.title_missing[1]) / o.w_title_shared.max(1e-6);
    let (na, nb) = (o.own[0][NUMBER as usize], o.own[1][NUMBER as usize]);
    let shared_numbers = o.shared[NUMBER as usize];
    let differ = |flag: u8| f32::from(u8::from((a.flags & flag) != (b.flags & flag)));
    let script_differs = differ(LATIN);
    let swapped = if script_differs > 0.0 {
        0
    } else {
        swaps(a, b, o.head_figures_shared > 0)
    };
    let yes = |x: bool| f32::from(u8::from(x));
    [
        contained,
        jaccard,
        names_alike,
        title_alike,
        same_shape,
        c0.min(c1),
        c0.max(c1),
        yes(o.lead_figures_missing[0] > 0 && o.lead_figures_missing[1] > 0),
        o.lead_figures_missing[0].min(o.lead_figures_missing[1]) as f32,
        swapped.min(3) as f32,
        yes(o.head_figures_shared > 0),
        yes(na > 0 && nb > 0 && na + nb >= 3 && shared_numbers == 0),
        yes(o.own[0][DAY as usize] > 0
            && o.own[1][DAY as usize] > 0
            && o.shared[DAY as usize] == 0),
        yes(o.first_day[0] > 0 && o.first_day[1] > 0 && o.first_day_shared == 0),
        yes(o.speakers_shared == 0 && o.speakers_named[0] > 0 && o.speakers_named[1] > 0),
        differ(IS_PREVIEW),
        differ(IS_REACTION),
        differ(IS_SIDE_EVENT),
        (hours.min(72.0) / 24.0) as f32,
        title_missing.min(3.0),
        o.shared[WORD as usize].min(20) as f32 / 10.0,
        shared_numbers.min(5) as f32,
        o.shared[NAME as usize].min(8) as f32 / 4.0,
        o.shared[DAY as usize].min(2) as f32,
        script_differs,
        o.title_shared.min(12) as f32 / 6.0,
        o.speakers_shared.min(3) as f32,
        score_of(a.flags, b.flags, o, swapped, hours, false).max(-0.5) as f32,
        score_of(a.flags, b.flags, o, swapped, hours, true).max(-0.5) as f32,
        yes(a.flags & LATIN == 0 && b.flags & LATIN == 0),
        (a.tokens.len().min(b.tokens.len()).min(64) as f32) / 32.0,
    ]
}

/// The fitted verifier: the probability that two items report one
/// event, from gradient-boosted trees over [`features`] (fitted by
/// `scripts/fit_verifier.py` on busy days of `scripts/gen_busy_day.py`
/// with other seeds than the fixture's; see README, "Stories").
pub(crate) fn verify(a: Side, b: Side, hours: f64) -> f64 {
    let o = overlap(a, b);
    // Two items of one script sharing fewer than MIN_SHARED words and
    // figures are apart by the rules and, in every busy day fitted on,
    // by the trees too: most candidates end here, unwalked.
    if (a.flags & LATIN) == (b.flags & LATIN)
        && o.shared[WORD as usize] + o.shared[NUMBER as usize] < MIN_SHARED
    {
        return 0.0;
    }
    let x = features_of(a, b, &o, hours);
    let raw = FOREST.predict(&x);
    1.0 / (1.0 + f64::from(-raw).exp())
}

/// The verifier's trees laid out complete, each to the depth of the
/// deepest: a tree is its split nodes in breadth-first order (children of
/// node `i` at `2i + 1` and `2i + 2`) and then its leaves, so a walk is
/// `depth` steps of arithmetic with no branch to mispredict, and the 150
/// trees take 28 KiB (the generated table, a node to 16 bytes with its
/// leaves among the splits, took 72). A leaf above the bottom is copied
/// down both sides of padding splits, so every walk ends where the
/// generated table's would, and the leaves are summed in the same order:
/// the probabilities are the same to the bit.
struct Forest {
    depth: u32,
    /// Per tree, `2^depth - 1` splits as (feature, threshold).
    splits: Vec<(u32, f32)>,
    /// Per tree, `2^depth` leaf values.
    leaves: Vec<f32>,
}

/// Deeper than this, a complete tree would waste more than the walk saves
/// (the fit uses depth 4); such a table is walked as generated.
const MAX_COMPLETE_DEPTH: u32 = 8;

static FOREST: LazyLock<Forest> = LazyLock::new(Forest::new);

impl Forest {
    fn new() -> Forest {
        use super::verifier_trees::{NODES, ROOTS};
        // Depth of the subtree at `at`, or None for a malformed table (a
        // child out of range, or a walk longer than the table).
        fn depth_of(at: usize, budget: usize) -> Option<u32> {
            let &(f, _, l, r, _) = NODES.get(at)?;
            if f == LEAF {
                return Some(0);
            }
            let budget = budget.checked_sub(1)?;
            Some(1 + depth_of(usize::from(l), budget)?.max(depth_of(usize::from(r), budget)?))
        }
        let depth = ROOTS
            .iter()
            .map(|&r| depth_of(usize::from(r), NODES.len()))
            .try_fold(0, |d, t| t.map(|t| d.max(t)));
        // At least one split, so a tree of a single leaf has a place.
        let Some(depth) = depth.map(|d| d.max(1)).filter(|&d| d <= MAX_COMPLETE_DEPTH) else {
            return Forest {
                depth: u32::MAX,
                splits: Vec::new(),
                leaves: Vec::new(),
            };
        };
        let (n_splits, n_leaves) = ((1usize << depth) - 1, 1usize << depth);
        let mut forest = Forest {
            depth,
            splits: Vec::with_capacity(ROOTS.len() * n_splits),
            leaves: Vec::with_capacity(ROOTS.len() * n_leaves),
        };
        for &root in &ROOTS {
            let (splits, leaves) = (forest.splits.len(), forest.leaves.len());
            forest.splits.resize(splits + n_splits, (0, f32::INFINITY));
            forest.leaves.resize(leaves + n_leaves, 0.0);
            // (position in the complete tree, generated node); a leaf met
            // above the bottom fills every leaf under its position.
            let mut todo = vec![(0usize, usize::from(root))];
            while let Some((pos, at)) = todo.pop() {
                let Some(&(f, t, l, r, v)) = NODES.get(at) else {
                    continue;
                };
                if f == LEAF || pos >= n_splits {
                    let (mut first, mut span) = (pos, 1);
                    while first < n_splits {
                        (first, span) = (2 * first + 1, 2 * span);
                    }
                    let from = leaves + first - n_splits;
                    forest.leaves[from..from + span].fill(v);
                } else {
                    forest.splits[splits + pos] = (u32::from(f), t);
                    todo.push((2 * pos + 1, usize::from(l)));
                    todo.push((2 * pos + 2, usize::from(r)));
                }
            }
        }
        forest
    }

    /// The trees' raw sum for features `x`.
    fn predict(&self, x: &[f32]) -> f32 {
        if self.depth == u32::MAX {
            return walk_generated(x);
        }
        let mut raw = super::verifier_trees::BASELINE;
        let n_splits = (1usize << self.depth) - 1;
        for (splits, leaves) in self
            .splits
            .chunks_exact(n_splits)
            .zip(self.leaves.chunks_exact(n_splits + 1))
        {
            let mut at = 0;
            for _ in 0..self.depth {
                let (f, t) = splits[at];
                let value = x.get(f as usize).copied().unwrap_or(0.0);
                // Left when `value <= t`, as the generated table reads;
                // NaN goes right there too.
                at = 2 * at + 1 + usize::from(value > t || value.is_nan());
            }
            raw += leaves[at - n_splits];
        }
        raw
    }
}

/// The trees' raw sum walked in the generated table itself: what a table
/// too deep to lay out complete gets, and what the complete layout is
/// tested against.
fn walk_generated(x: &[f32]) -> f32 {
    use super::verifier_trees::{BASELINE, NODES, ROOTS};
    let mut raw = BASELINE;
    for &root in &ROOTS {
        let mut at = usize::from(root);
        // A malformed table (it is generated) ends the walk, not the process.
        while let Some(&(f, t, l, r, v)) = NODES.get(at) {
            if f == LEAF {
                raw += v;
                break;
            }
            let value = x.get(usize::from(f)).copied().unwrap_or(0.0);
            at = usize::from(if value <= t { l } else { r });
        }
    }
    raw
}

/// Marks a leaf in the verifier's node table.
const LEAF: u8 = u8::MAX;

#[cfg(test)]
mod tests {
    use super::*;

    /// The headline's tokens without their flags.
    fn toks(title: &str) -> Vec<u32> {
        signature(title, "")
            .tokens
            .iter()
            .map(|t| t & !FLAGS)
            .collect()
    }

    #[test]
    fn figures_possessives_and_scripts_read_as_a_reader_would() {
        assert_eq!(toks("quota of 2,050 tons"), toks("quota of 2050 tons"));
        assert_ne!(toks("a 9.7 ton boat"), toks("a 97 ton boat"));
        assert_eq!(toks("five crew held"), toks("5 crew held"));
        // A point or comma after a figure is punctuation, not part of it.
        assert_eq!(toks("rose 5, then fell"), toks("rose 5 then fell"));
        assert_eq!(toks("Japan's stance"), toks("Japan stance"));
        assert_eq!(toks("Japan’s stance"), toks("Japan stance"));
        assert_eq!(toks("Лавров’s визит"), toks("Лавров визит"));
        // Without spaces, adjacent pairs: 日本, 本と, とロ, ロシ, シア.
        assert_eq!(toks("日本とロシア").len(), 5);
        // A Latin word runs into the Cyrillic letters after it, and stops
        // at a script without spaces.
        assert_eq!(toks("abcабв"), toks("abcабв abcабв"));
        assert_eq!(toks("Kono外相"), toks("Kono 外相"));
    }

    #[test]
    fn the_complete_forest_sums_what_the_generated_table_does() {
        use super::super::verifier_trees::NODES;
        let forest = Forest::new();
        assert!(forest.depth <= MAX_COMPLETE_DEPTH, "laid out complete");
        // Feature values drawn from the table's own thresholds (a value on
        // a threshold goes left), a little either side of them, and NaN.
        let thresholds: Vec<f32> = NODES.iter().map(|n| n.1).collect();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let x: Vec<f32> = (0..FEATURES.len())
                .map(|_| {
                    let r = next();
                    let t = thresholds[(r >> 8) as usize % thresholds.len()];
                    match r % 5 {
                        0 => t,
                        1 => t + 1e-3,
                        2 => t - 1e-3,
                        3 if r % 97 == 0 => f32::NAN,
                        _ => (r >> 40) as f32 / (1u64 << 22) as f32,
                    }
                })
                .collect();
            let (fast, walked) = (forest.predict(&x), walk_generated(&x));
            assert_eq!(fast.to_bits(), walked.to_bits(), "{x:?}");
        }
    }

    #[test]
    fn a_sentence_is_known_by_its_first_tokens_whole_or_cut() {
        const BG: &str = "Relations between Moscow and Tokyo have sunk to their lowest level in decades since the start of the conflict in Ukraine, with both sides expelling diplomats.";
        let key = |body: &str| -> Vec<u32> {
            signature("Headline", body)
                .sentences
                .iter()
                .map(|e| e.0)
                .filter(|&k| k != 0)
                .collect()
        };
        let short = key(&format!("Tokyo lodged a protest on Monday. {BG}"));
        assert_eq!(short.len(), 1);
        // A lead long enough that `LEAD_WORDS` cuts the sentence short.
        let long_lead = "The talks ".repeat(28);
        let cut = key(&format!("{long_lead}ended on Monday. {BG}"));
        assert_eq!(cut, short);
        // Too few tokens to know it by: no key.
        assert!(key("Tokyo lodged a protest on Monday. Rain fell.").is_empty());
        // A version 4 blob (before sentences) still reads, without them.
        let s = signature(
            "Headline",
            &format!("Tokyo lodged a protest on Monday. {BG}"),
        );
        let mut v4 = to_bytes(&s);
        v4[0] = 4;
        v4.remove(3);
        v4.drain(
            3 + 2 * K + 4 * s.slots.len()..3 + 2 * K + 4 * s.slots.len() + 12 * s.sentences.len(),
        );
        let back = from_bytes(&v4).expect("a version 4 blob reads");
        assert_eq!(back.tokens, s.tokens);
        assert!(back.sentences.is_empty());
    }

    #[test]
    fn repeated_tokens_do_not_change_the_sketch() {
        assert_eq!(sketch(&[7, 9, 7, 7, 11]), sketch(&[7, 9, 11]));
        assert_ne!(sketch(&[7, 9, 11]), sketch(&[7, 9, 12]));
    }
}
