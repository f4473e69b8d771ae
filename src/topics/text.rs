//! Text normalisation shared by queries and items, so that a term and the
//! text it should find are folded the same way.

/// Folds text for comparison: NFKC, full case folding, diacritics removed
/// from Latin, Greek and Cyrillic letters (but "й" keeps its breve), a few
/// letters without a decomposition mapped by hand (ł, ø, đ...), typographic
/// quotes and dashes made ASCII. The same folding is applied to query terms
/// and item text. ASCII runs take a fast path with the same result, so an
/// English text with one "é" or "’" costs little more than plain ASCII.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    // Characters whose folding is known take a fast path; runs of the rest
    // go through full normalisation.
    let mut run_start: Option<usize> = None;
    let mut it = s.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let next_is_mark = it.peek().is_some_and(|&(_, n)| is_combining(n));
        match fast_fold(c).filter(|_| !next_is_mark) {
            Some(f) => {
                if let Some(st) = run_start.take() {
                    fold_unicode(&s[st..i], &mut out);
                }
                out.push_str(f.as_str(&mut [0; 4]));
            }
            None => {
                run_start.get_or_insert(i);
            }
        }
    }
    if let Some(st) = run_start {
        fold_unicode(&s[st..], &mut out);
    }
    out
}

fn is_combining(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{3099}' | '\u{309A}' | '\u{20D0}'..='\u{20FF}')
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

/// Splits folded text into words at Unicode word boundaries (UAX #29),
/// then at apostrophes, dots, commas and colons inside words, so "russia's"
/// yields "russia" and "s", and "u.s." yields "u" and "s": a query word then
/// finds the word it names whatever punctuation is attached. Yields byte
/// ranges into `folded`. ASCII text, where those rules reduce to runs of
/// letters and digits, takes a fast path with the same result.
pub fn word_ranges(folded: &str) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
    if folded.is_ascii() {
        let b = folded.as_bytes();
        let mut i = 0;
        return Box::new(std::iter::from_fn(move || {
            while i < b.len() && !b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if i == b.len() {
                return None;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            Some((start, i))
        }));
    }
    use unicode_segmentation::UnicodeSegmentation;
    Box::new(folded.unicode_word_indices().flat_map(|(start, w)| {
        let mut parts = Vec::new();
        let mut from = 0;
        for (i, c) in w.char_indices() {
            if splits_word(c) {
                if i > from {
                    parts.push((start + from, start + i));
                }
                from = i + c.len_utf8();
            }
        }
        if from < w.len() {
            parts.push((start + from, start + w.len()));
        }
        parts
    }))
}

/// The words of folded text, as slices.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    word_ranges(folded).map(move |(a, b)| &folded[a..b])
}

/// Elements that do not break a word: "Ja<b>pan</b>" reads "Japan".
const INLINE: &[&str] = &[
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd",
    "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr",
];

/// Position of `needle` (ASCII) in `hay`, ignoring ASCII case.
pub fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (0..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// Turns an HTML fragment into plain text: tags and comments dropped (with
/// `script` and `style` bodies), entities decoded; block elements become a
/// space so words on either side do not fuse, inline ones do not split a
/// word. A `>` inside a quoted attribute does not end the tag. Linear time
/// on any input.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |e| &comment[e + 3..]);
            out.push(' ');
            continue;
        }
        let starts_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '/' | '!' | '?'));
        if !starts_tag {
            // A bare "<" in text, as in "a < b": keep it.
            out.push('<');
            rest = after;
            continue;
        }
        // The tag ends at the first '>' outside quotes.
        let mut quote = None;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(gt) = end else {
            // Unclosed tag at the end: drop the remainder.
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if !tag.starts_with('/') && (name == "script" || name == "style") {
            let close = format!("</{name}");
            rest = match find_ascii_ci(rest, &close) {
                Some(i) => rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]),
                None => "",
            };
        }
        if !INLINE.contains(&name.as_str()) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    html_escape::decode_html_entities(&out).into_owned()
}

#[cfg(test)]
mod tests {
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
