//! Text normalisation shared by queries and items, so that a term and the
//! text it should find are folded the same way.

/// Folds text for comparison: NFKC, full case folding, Latin diacritics
/// removed. The same folding is applied to query terms and item text.
/// ASCII — most of most feeds — takes a fast path with the same result.
pub fn fold(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    use unicode_normalization::UnicodeNormalization;
    let nfkc: String = s.nfkc().collect();
    let folded = caseless::default_case_fold_str(&nfkc);
    // Decompose, drop combining diacritics that sit on Latin or Greek letters or on
    // Cyrillic е (ё -> е), keep the rest (й keeps its breve; Japanese voicing
    // marks are outside this range), recompose.
    let mut out = String::with_capacity(folded.len());
    let mut base = ' ';
    for c in folded.nfd() {
        if ('\u{0300}'..='\u{036F}').contains(&c) {
            let drop = base.is_ascii_alphabetic()
                || ('\u{00C0}'..='\u{024F}').contains(&base)
                || ('\u{0370}'..='\u{03FF}').contains(&base)
                || (base == 'е' && c == '\u{0308}');
            if drop {
                continue;
            }
        } else {
            base = c;
        }
        out.push(c);
    }
    out.nfc().collect()
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

/// Splits folded text into words at Unicode word boundaries (UAX #29),
/// then at apostrophes, dots and colons inside words, so "russia's" yields
/// "russia" and "s", and "u.s." yields "u" and "s": a query word then finds
/// the word it names whatever punctuation is attached. Yields byte ranges
/// into `folded`.
pub fn word_ranges(folded: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    use unicode_segmentation::UnicodeSegmentation;
    folded.unicode_word_indices().flat_map(|(start, w)| {
        let mut parts = Vec::new();
        let mut from = 0;
        for (i, c) in w.char_indices() {
            if matches!(c, '\'' | '’' | '.' | ':' | '·' | '\u{2027}' | '_') {
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
    })
}

/// The words of folded text, as slices.
pub fn words(folded: &str) -> impl Iterator<Item = &str> {
    word_ranges(folded).map(move |(a, b)| &folded[a..b])
}

/// Turns an HTML fragment into plain text: tags dropped (with `script` and
/// `style` bodies), entities decoded, block boundaries kept as spaces so
/// words on either side of a tag do not fuse.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt + 1..];
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
        let Some(gt) = after.find('>') else {
            // Unclosed tag at the end: drop the remainder.
            rest = "";
            break;
        };
        let tag = &after[..gt];
        rest = &after[gt + 1..];
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            let lower = rest.to_ascii_lowercase();
            rest = match lower.find(&close) {
                Some(i) => rest[i..].find('>').map_or("", |g| &rest[i + g + 1..]),
                None => "",
            };
        }
        out.push(' ');
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
        assert_eq!(fold("Ёлка Йошкар-Ола"), "елка йошкар-ола");
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
