//! The crate's text library: folding and word splitting shared by topic
//! queries, items and story signatures (so a term and the text it should
//! find are folded the same way), HTML to text, and hex.

/// Folds text for comparison: NFKC, full case folding, diacritics removed
/// from Latin, Greek and Cyrillic letters (but "й" keeps its breve), a few
/// letters without a decomposition mapped by hand (ł, ø, đ...), typographic
/// quotes and dashes made ASCII. The same folding is applied to query terms
/// and item text. ASCII runs take a fast path with the same result, so an
/// English text with one "é" or "’" costs little more than plain ASCII.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// [`fold`], appending to `out` so a caller building one text from several
/// parts allocates once.
///
/// Works on bytes: ASCII and basic Russian letters (most of the text in
/// feeds) are folded by arithmetic on their UTF-8 bytes; other characters
/// whose folding is known take `fast_fold`; runs of the rest go through
/// full normalisation. A character followed by a combining mark always
/// takes the slow path, so "e\u{301}" folds like "é".
pub fn fold_into(s: &str, out: &mut String) {
    if s.is_ascii() {
        let start = out.len();
        out.push_str(s);
        out[start..].make_ascii_lowercase();
        return;
    }
    let b = s.as_bytes();
    out.reserve(b.len());
    let mut run_start: Option<usize> = None;
    let mut i = 0;
    while i < b.len() {
        // A run of ASCII and basic Russian letters: the bulk of feed text.
        let start = out.len();
        let end = i + fold_simple_run(&s[i..], out);
        if end > i {
            if let Some(st) = run_start.take() {
                // The slow run goes before what was just folded.
                let simple = out.split_off(start);
                fold_unicode(&s[st..i], out);
                out.push_str(&simple);
            }
            i = end;
            continue;
        }
        let Some(c) = s[i..].chars().next() else {
            break;
        };
        let next = i + c.len_utf8();
        match fast_fold(c).filter(|_| !mark_at(&b[next..])) {
            Some(f) => {
                if let Some(st) = run_start.take() {
                    fold_unicode(&s[st..i], out);
                }
                out.push_str(f.as_str(&mut [0; 4]));
            }
            None => {
                run_start.get_or_insert(i);
            }
        }
        i = next;
    }
    if let Some(st) = run_start {
        fold_unicode(&s[st..], out);
    }
}

/// Folds the run of ASCII and basic Russian letters (А–я, Ё, ё) at the
/// start of `s` into `out` by arithmetic, and returns its length in bytes.
/// The character before a combining mark is left out of the run, for the
/// full normalisation to compose with its mark.
fn fold_simple_run(s: &str, out: &mut String) -> usize {
    let b = s.as_bytes();
    let mut n = 0;
    let mut last = 0;
    while let Some(&c) = b.get(n) {
        if c < 0x80 && b.get(n + 1).is_none_or(|&x| x >= 0x80) {
            // One ASCII character between letters of another script (a
            // space, a comma): cheaper pushed than copied.
            out.push(char::from(c.to_ascii_lowercase()));
            (n, last) = (n + 1, 1);
            continue;
        }
        if c < 0x80 {
            let len = ascii_prefix_len(&b[n..]);
            let at = out.len();
            out.push_str(&s[n..n + len]);
            out[at..].make_ascii_lowercase();
            (n, last) = (n + len, 1);
            continue;
        }
        // Two-byte letters U+0400..U+047F: lead 0xD0 or 0xD1.
        let cp = match (c, b.get(n + 1)) {
            (0xD0 | 0xD1, Some(&x)) => (u32::from(c & 0x1F) << 6) | u32::from(x & 0x3F),
            _ => break,
        };
        let folded = match cp {
            0x401 | 0x451 => 'е',
            0x410..=0x42F => char::from_u32(cp + 0x20).unwrap_or('е'),
            0x430..=0x44F => char::from_u32(cp).unwrap_or('е'),
            _ => break,
        };
        out.push(folded);
        (n, last) = (n + 2, 2);
    }
    if n > 0 && mark_at(&b[n..]) {
        n -= last;
        out.truncate(out.len() - last);
    }
    n
}

/// Length of the ASCII run at the start of `b`, eight bytes at a time.
fn ascii_prefix_len(b: &[u8]) -> usize {
    let mut n = 0;
    for chunk in b.chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        if u64::from_ne_bytes(w) & 0x8080_8080_8080_8080 != 0 {
            break;
        }
        n += 8;
    }
    n + b[n..]
        .iter()
        .position(|x| !x.is_ascii())
        .unwrap_or(b.len() - n)
}

/// Whether `rest` starts with a combining mark (U+0300–U+036F, the kana
/// voicing marks U+3099/U+309A, U+20D0–U+20FF), read from its UTF-8 bytes.
fn mark_at(rest: &[u8]) -> bool {
    matches!(
        rest,
        [0xCC, ..]
            | [0xCD, 0x80..=0xAF, ..]
            | [0xE3, 0x82, 0x99 | 0x9A, ..]
            | [0xE2, 0x83, 0x90..=0xBF, ..]
    )
}

enum Fast {
    Char(char),
    Str(&'static str),
}

impl Fast {
    fn as_str<'a>(&'a self, buf: &'a mut [u8; 4]) -> &'a str {
        match self {
            Fast::Char(c) => c.encode_utf8(buf),
            Fast::Str(s) => s,
        }
    }
}

/// The folding of characters common in feeds whose result is known without
/// normalisation tables (the same result `fold_unicode` gives).
fn fast_fold(c: char) -> Option<Fast> {
    Some(match c {
        c if c.is_ascii() => Fast::Char(c.to_ascii_lowercase()),
        'Ё' | 'ё' => Fast::Char('е'),
        'А'..='Я' => Fast::Char(char::from_u32(c as u32 + 0x20)?),
        'а'..='я' => Fast::Char(c),
        '\u{3041}'..='\u{3096}' | '\u{30A1}'..='\u{30FA}' | '\u{4E00}'..='\u{9FFF}' => {
            Fast::Char(c)
        }
        '\u{3001}' | '\u{3002}' | '\u{300C}'..='\u{300F}' | '\u{30FC}' => Fast::Char(c),
        '\u{00A0}' | '\u{3000}' | '\u{2002}'..='\u{200A}' => Fast::Char(' '),
        '‘' | '’' | '‚' | '‛' | '′' => Fast::Char('\''),
        '“' | '”' | '„' | '‟' | '″' | '«' | '»' => Fast::Char('"'),
        '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => Fast::Char('-'),
        '…' => Fast::Str("..."),
        _ => return None,
    })
}

fn fold_unicode(s: &str, out: &mut String) {
    use unicode_normalization::UnicodeNormalization;
    let nfkc: String = s.nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    let mut run = String::with_capacity(folded.len());
    let mut base = ' ';
    for c in folded.nfd() {
        if ('\u{0300}'..='\u{036F}').contains(&c) {
            let cyrillic = ('\u{0400}'..='\u{04FF}').contains(&base);
            let drop = base.is_ascii_alphabetic()
                || ('\u{00C0}'..='\u{024F}').contains(&base)
                || ('\u{0370}'..='\u{03FF}').contains(&base)
                // Cyrillic: stress marks, and ё -> е; й keeps its breve.
                || (cyrillic && matches!(c, '\u{0300}' | '\u{0301}'))
                || (base == 'е' && c == '\u{0308}');
            if drop {
                continue;
            }
        } else {
            base = c;
        }
        run.push(c);
    }
    for c in run.nfc() {
        match c {
            'ł' => out.push('l'),
            'ø' => out.push('o'),
            'đ' | 'ð' => out.push('d'),
            'ħ' => out.push('h'),
            'ı' => out.push('i'),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            '‘' | '’' | '‚' | '‛' | '′' => out.push('\''),
            '“' | '”' | '„' | '‟' | '″' | '«' | '»' => out.push('"'),
            '‐' | '‑' | '‒' | '–' | '—' | '―' | '−' => out.push('-'),
            c => out.push(c),
        }
    }
}

/// Scripts written without spaces between words. Terms in these scripts are
/// matched as substrings, because word boundaries are not marked in the text.
pub fn is_unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{309F}'   // Hiragana
        | '\u{30A0}'..='\u{30FF}' // Katakana
        | '\u{31F0}'..='\u{31FF}' // Katakana phonetic extensions
        | '\u{FF66}'..='\u{FF9F}' // half-width Katakana
        | '\u{3400}'..='\u{4DBF}' // CJK extension A
        | '\u{4E00}'..='\u{9FFF}' // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}' // CJK compatibility ideographs
        | '\u{20000}'..='\u{2FA1F}' // CJK extensions B–F, supplement
        | '\u{AC00}'..='\u{D7AF}' // Hangul syllables
        | '\u{1100}'..='\u{11FF}' // Hangul jamo
        | '\u{3130}'..='\u{318F}' // Hangul compatibility jamo
    )
}

/// Characters that split a word found by UAX #29 into parts.
fn splits_word(c: char) -> bool {
    matches!(c, '\'' | '’' | '.' | ':' | '·' | '\u{2027}' | '_' | ',')
}

/// How the fast path of `word_ranges` treats a character of folded text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Letters and digits of Latin (ASCII) and Russian: runs form words.
    Run,
    /// Katakana and the prolonged sound mark: runs form words.
    Katakana,
    /// Hiragana and ideographs: each is a word of its own.
    Single,
    /// Spaces and punctuation between words.
    Gap,
    /// Anything else: the text takes the full UAX #29 path.
    Other,
}

fn class(c: char) -> Class {
    match c {
        c if c.is_ascii_alphanumeric() => Class::Run,
        c if c.is_ascii() => Class::Gap,
        '\u{0430}'..='\u{044F}' => Class::Run,
        '\u{30A1}'..='\u{30FA}' | '\u{30FC}' => Class::Katakana,
        '\u{3041}'..='\u{3096}' | '\u{4E00}'..='\u{9FFF}' => Class::Single,
        '\u{3000}'..='\u{3004}' | '\u{3008}'..='\u{3011}' => Class::Gap,
        _ => Class::Other,
    }
}

/// Splits folded text into words at Unicode word boundaries (UAX #29),
/// then at apostrophes, dots, commas and colons inside words, so "russia's"
/// yields "russia" and "s", and "u.s." yields "u" and "s": a query word then
/// finds the word it names whatever punctuation is attached. Yields byte
/// ranges into `folded`.
///
/// Text of ASCII, Russian letters and common Japanese (most feeds) takes a
/// fast path with the same result: there, after the split at inner
/// punctuation, the UAX #29 rules reduce to runs of letters and digits,
/// runs of katakana, and single hiragana and ideographs.
pub fn word_ranges(folded: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut v = Vec::new();
    for_each_word(folded, |a, b| v.push((a, b)));
    v.into_iter()
}

/// [`word_ranges`], calling `f(start, end)` for each word, so the index
/// builder (once per field of every item) pushes ranges straight into its
/// own vector instead of through an iterator object.
#[inline]
pub fn for_each_word(folded: &str, mut f: impl FnMut(usize, usize)) {
    let b = folded.as_bytes();
    if folded.is_ascii() {
        ascii_words(b, f);
        return;
    }
    if folded.chars().all(|c| class(c) != Class::Other) {
        let mut rest = folded.char_indices().peekable();
        while let Some((start, first)) = rest.find(|&(_, c)| class(c) != Class::Gap) {
            let kind = class(first);
            let mut end = start + first.len_utf8();
            if kind != Class::Single {
                while let Some(&(i, c)) = rest.peek() {
                    if class(c) != kind {
                        break;
                    }
                    end = i + c.len_utf8();
                    rest.next();
                }
            }
            f(start, end);
        }
        return;
    }
    use unicode_segmentation::UnicodeSegmentation;
    let base = folded.as_ptr() as usize;
    for (_, w) in folded.unicode_word_indices() {
        for p in w.split(splits_word).filter(|p| !p.is_empty()) {
            let start = p.as_ptr() as usize - base;
            f(start, start + p.len());
        }
    }
}

/// 1 for ASCII letters and digits, by byte.
static ALNUM: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        t[c] = (c as u8).is_ascii_alphanumeric() as u8;
        c += 1;
    }
    t
};

/// The runs of ASCII letters and digits in `b`, 64 bytes at a time: a
/// bit mask of word bytes is built without branches, and words are read
/// from its edges. A loop that tested byte by byte mispredicted a branch at
/// both ends of every word, which made it the costliest part of indexing.
fn ascii_words(b: &[u8], mut f: impl FnMut(usize, usize)) {
    let mut open: Option<usize> = None;
    // Whether the byte before the chunk was a word byte.
    let mut carry = 0u64;
    for (n, chunk) in b.chunks(64).enumerate() {
        let mut m = 0u64;
        for (i, &c) in chunk.iter().enumerate() {
            m |= u64::from(ALNUM[usize::from(c)]) << i;
        }
        let before = (m << 1) | carry;
        // A start is a word byte after a gap; an end, a gap after a word
        // byte (bits past a short last chunk are gaps, so its end shows).
        let mut edges = (m & !before) | (!m & before);
        if chunk.len() < 64 {
            edges &= (1u64 << chunk.len() << 1).wrapping_sub(1);
        }
        carry = m >> 63;
        while edges != 0 {
            let at = n * 64 + edges.trailing_zeros() as usize;
            edges &= edges - 1;
            match open.take() {
                Some(start) => f(start, at),
                None => open = Some(at),
            }
        }
    }
    if let Some(start) = open {
        f(start, b.len());
    }
}

/// The words of folded text, as slices.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    word_ranges(folded).map(move |(a, b)| &folded[a..b])
}

/// Whether `name` is an element that does not break a word ("Ja<b>pan</b>"
/// reads "Japan"). A match on the lower-cased name: a scan of the list with
/// case-insensitive comparisons cost more per tag than the rest of it.
fn is_inline(name: &str) -> bool {
    let mut buf = [0u8; 6];
    let Some(dst) = buf.get_mut(..name.len()) else {
        return false;
    };
    dst.copy_from_slice(name.as_bytes());
    dst.make_ascii_lowercase();
    matches!(
        &*dst,
        b"a" | b"abbr"
            | b"b"
            | b"bdi"
            | b"bdo"
            | b"cite"
            | b"code"
            | b"data"
            | b"dfn"
            | b"em"
            | b"font"
            | b"i"
            | b"kbd"
            | b"mark"
            | b"q"
            | b"s"
            | b"samp"
            | b"small"
            | b"span"
            | b"strong"
            | b"sub"
            | b"sup"
            | b"time"
            | b"u"
            | b"var"
            | b"wbr"
    )
}

/// Position of `needle` (ASCII) in `hay`, ignoring ASCII case.
pub fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    // Jump between places where the first byte matches, in either case.
    let last = h.len() - n.len();
    let mut at = 0;
    while let Some(i) = memchr::memchr2(
        n[0].to_ascii_lowercase(),
        n[0].to_ascii_uppercase(),
        &h[at..=last],
    ) {
        let i = at + i;
        if h[i..i + n.len()].eq_ignore_ascii_case(n) {
            return Some(i);
        }
        at = i + 1;
    }
    None
}

/// Turns an HTML fragment into plain text: tags and comments dropped (with
/// `script` and `style` bodies), entities decoded; block elements become a
/// space so words on either side do not fuse, inline ones do not split a
/// word. A `>` inside a quoted attribute does not end the tag. Linear time
/// on any input.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    html_to_text_into(html, &mut out);
    out
}

/// [`html_to_text`], appending to `out`, so the matcher reuses one buffer
/// for every item. Entities are decoded in each run of text as it is
/// copied, not in a second pass over the result.
pub fn html_to_text_into(html: &str, out: &mut String) {
    out.reserve(html.len());
    let mut rest = html;
    while let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) {
        push_text(&rest[..lt], out);
        let after = &rest[lt + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |e| &comment[e + 3..]);
            out.push(' ');
            continue;
        }
        let starts_tag = after
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'/' | b'!' | b'?'));
        if !starts_tag {
            // A bare "<" in text, as in "a < b": keep it.
            out.push('<');
            rest = after;
            continue;
        }
        let Some(gt) = tag_end(after.as_bytes()) else {
            // Unclosed tag at the end: drop the remainder.
            return;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let bare = tag.trim_start_matches('/');
        let name = &bare[..bare
            .bytes()
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(bare.len())];
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if !tag.starts_with('/') && (is("script") || is("style")) {
            let close = if is("script") { "</script" } else { "</style" };
            rest = match find_ascii_ci(rest, close) {
                Some(i) => rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]),
                None => "",
            };
        }
        if !is_inline(name) {
            out.push(' ');
        }
    }
    push_text(rest, out);
}

/// The position of the `>` that ends the tag starting `b`: the first one
/// outside quotes.
fn tag_end(b: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let i = at + memchr::memchr3(b'>', b'"', b'\'', &b[at..])?;
        if b[i] == b'>' {
            return Some(i);
        }
        // Skip the quoted value; an unclosed quote leaves the tag unclosed.
        at = i + 1 + memchr::memchr(b[i], &b[i + 1..])? + 1;
    }
}

/// Appends a run of text between tags, its entities decoded.
fn push_text(text: &str, out: &mut String) {
    if memchr::memchr(b'&', text.as_bytes()).is_some() {
        html_escape::decode_html_entities_to_string(text, out);
    } else {
        out.push_str(text);
    }
}

/// The Snowball stem of a folded word, by its script: English for Latin
/// letters, Russian for Cyrillic; None for anything else (digits, other
/// scripts, mixed words), which is then matched as written.
pub fn stem(word: &str) -> Option<String> {
    stem_cow(word).map(std::borrow::Cow::into_owned)
}

/// `stem`, borrowing from `word` where the stemmer cut it (no allocation
/// for most words): what the matcher compares candidates with.
pub fn stem_cow(word: &str) -> Option<std::borrow::Cow<'_, str>> {
    use rust_stemmers::{Algorithm, Stemmer};
    use std::sync::LazyLock;
    static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));
    static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));
    if word.is_empty() {
        return None;
    }
    let stemmer = if word.bytes().all(|b| b.is_ascii_lowercase()) {
        &*ENGLISH
    } else if word.chars().all(|c| matches!(c, 'а'..='я' | 'ё')) {
        &*RUSSIAN
    } else {
        return None;
    };
    Some(stemmer.stem(word))
}

/// What every word with stem `stem` starts with. Russian Snowball only
/// cuts endings, so the stem itself; English also turns a final y into i
/// (treaty, treati) and puts back an e after a short stem (hoping, hope),
/// so an English stem ending in i or e loses that letter. The longer the
/// lead, the fewer words the matcher stems to compare.
pub fn stem_lead(stem: &str) -> &str {
    match stem.as_bytes().last() {
        Some(b'i' | b'e') => &stem[..stem.len() - 1],
        _ => stem,
    }
}

/// The longest start of `s` of at most `max` bytes that ends on a
/// character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn cut_ends_on_a_character() {
        assert_eq!(super::cut("abc", 10), "abc");
        assert_eq!(super::cut("abc", 2), "ab");
        // "я" is two bytes: a cut inside it keeps the character whole out.
        assert_eq!(super::cut("aя", 2), "a");
        assert_eq!(super::cut("", 0), "");
    }

    use super::*;

    #[test]
    fn folding() {
        assert_eq!(fold("Café MÜLLER"), "cafe muller");
        assert_eq!(fold("ＪＡＰＡＮ ﬁnal"), "japan final");
        assert_eq!(fold("STRASSE Straße"), "strasse strasse");
        assert_eq!(
            fold("Ёлка Йошкар-Ола Росси\u{301}я"),
            "елка йошкар-ола россия"
        );
        assert_eq!(
            fold("Łódź Øresund “quoted” – it’s"),
            "lodz oresund \"quoted\" - it's"
        );
        assert_eq!(fold("cafe\u{301} e\u{301}"), "cafe e");
        // The fast path agrees with full normalisation.
        for sample in [
            "ПРИВЕТ Ёж й",
            "日本とロシアの外相が会談、「平和」　ー",
            "a\u{a0}b “c” – d…",
            "ｶﾞ ﾊﾝｶｸ",
        ] {
            let mut slow = String::new();
            fold_unicode(sample, &mut slow);
            assert_eq!(fold(sample), slow, "{sample}");
        }
        assert_eq!(fold("がぎ ガ"), "がぎ ガ");
        assert_eq!(fold("ΣΊΣΥΦΟΣ"), "σισυφοσ");
    }

    #[test]
    fn words_split_on_punctuation_and_keep_cyrillic() {
        let t = fold("Russia's «Россия» U.S.-Japan");
        let w: Vec<_> = words(&t).collect();
        assert_eq!(w, ["russia", "s", "россия", "u", "s", "japan"]);
    }

    #[test]
    fn fast_paths_agree_with_full_normalisation() {
        // Every mix of ASCII, Russian, other Cyrillic, accents, combining
        // marks, kana and punctuation, up to four characters, from a
        // deterministic walk: the byte-level paths must give what full
        // normalisation gives. (Left out: the half-width voiced mark
        // U+FF9E, which becomes a combining mark only under NFKC; after a
        // letter that is not kana, which no real text has, the paths differ.)
        let alphabet: Vec<char> = "aZ 1,.'ЯяЁёЙйЇїЃѓé\u{301}\u{308}\u{3099}カﾊ日–’ﬁ\u{a0}"
            .chars()
            .collect();
        let n = alphabet.len();
        for i in 0..n.pow(4) {
            let s: String = (0..4).map(|k| alphabet[i / n.pow(k) % n]).collect();
            let mut slow = String::new();
            fold_unicode(&s, &mut slow);
            assert_eq!(fold(&s), slow, "{s:?}");
        }
    }

    #[test]
    fn marks_are_read_from_bytes() {
        for c in [
            '\u{0300}', '\u{036F}', '\u{3099}', '\u{309A}', '\u{20D0}', '\u{20FF}',
        ] {
            assert!(mark_at(c.to_string().as_bytes()), "{c:?}");
        }
        for c in [
            '\u{02FF}', '\u{0370}', '\u{3098}', '\u{20CF}', '\u{2100}', 'a', 'я',
        ] {
            assert!(!mark_at(c.to_string().as_bytes()), "{c:?}");
        }
    }

    #[test]
    fn fast_word_split_agrees_with_uax29() {
        for sample in [
            "russia's «россия» u.s.-japan",
            "путин и кисида: встреча 2024 года, 3.5% роста",
            "a1b2 __x__ 1,000.5 e-mail ёжик щёлк",
            "",
            "   ",
            "日本とロシアの外相が会談、「平和条約」について協議した。サッカーＷ杯",
            "ロシアA ロシア1 1ロシア aロシア日本 ーあー コーヒー",
        ] {
            assert_eq!(fast_words(sample), uax_words(sample), "{sample}");
        }
        // Every mix of up to four characters from each class.
        let alphabet: Vec<char> = "a1 ._'яйあの日本カーア、「」".chars().collect();
        let n = alphabet.len();
        for i in 0..n.pow(4) {
            let s: String = (0..4).map(|k| alphabet[i / n.pow(k) % n]).collect();
            assert_eq!(fast_words(&s), uax_words(&s), "{s:?}");
        }
    }

    fn fast_words(s: &str) -> Vec<String> {
        words(&fold(s)).map(str::to_owned).collect()
    }

    fn uax_words(s: &str) -> Vec<String> {
        use unicode_segmentation::UnicodeSegmentation;
        fold(s)
            .unicode_words()
            .flat_map(|w| w.split(splits_word))
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The byte-at-a-time loop `ascii_words` replaced.
    fn ascii_words_bytewise(b: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if !b[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            out.push((start, i));
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn the_ascii_word_scanner_agrees_with_a_bytewise_loop(text in "[a-z0-9 .,'_-]{0,300}") {
            let mut got = Vec::new();
            ascii_words(text.as_bytes(), |a, b| got.push((a, b)));
            proptest::prop_assert_eq!(got, ascii_words_bytewise(text.as_bytes()));
        }
    }

    #[test]
    fn ascii_words_at_chunk_edges() {
        // Words ending, starting and running across the 64-byte chunks.
        for len in [0, 1, 62, 63, 64, 65, 127, 128, 129, 200] {
            for word_at in [0, 1, 62, 63, 64, 65] {
                let mut t = vec![b' '; len];
                for b in t.iter_mut().skip(word_at).take(3) {
                    *b = b'x';
                }
                let all_x = vec![b'x'; len];
                for text in [&t, &all_x] {
                    let mut got = Vec::new();
                    ascii_words(text, |a, b| got.push((a, b)));
                    assert_eq!(got, ascii_words_bytewise(text), "{len} {word_at}");
                }
            }
        }
    }

    #[test]
    fn html_to_text_reads_quotes_comments_and_entities() {
        for (html, want) in [
            ("<a title=\"x > y\">link</a>", "link"),
            ("<a title='it\"s > here'>link</a> after", "link after"),
            ("<img alt=\"unclosed>never", ""),
            ("a<!-- hidden -->b", "a b"),
            ("<p>one</p><p>two</p>", " one  two "),
            ("Ja<b>pan</b> Ja<B>pan</B> Ja<DIV>pan", "Japan Japan Ja pan"),
            ("&lt;b&gt; &amp;amp; caf&eacute;", "<b> &amp; café"),
            ("<style>p{}</style>x<SCRIPT>y</SCRIPT>z", " x z"),
            ("1 < 2 <3", "1 < 2 <3"),
        ] {
            assert_eq!(html_to_text(html), want, "{html}");
        }
    }

    #[test]
    fn html_to_text_strips_tags_scripts_and_decodes_entities() {
        let t = html_to_text(
            "<p>Tokyo&nbsp;&amp; Moscow</p><script>var Kremlin=1;</script><b>talks</b> a < b",
        );
        assert!(t.contains("Tokyo\u{a0}& Moscow"), "{t}");
        assert!(!t.contains("Kremlin"), "{t}");
        assert!(t.contains(" talks"), "{t}");
        assert!(t.contains("a < b"), "{t}");
    }

    #[test]
    fn unspaced_scripts_are_recognised() {
        assert!(is_unspaced_script('日'));
        assert!(is_unspaced_script('ロ'));
        assert!(!is_unspaced_script('Я'));
        assert!(!is_unspaced_script('a'));
    }
}
