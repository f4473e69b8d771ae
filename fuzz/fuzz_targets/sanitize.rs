//! Item HTML into what we republish: must never panic, and no tag in what
//! comes out may be a script, carry an event handler, or hold a URL whose
//! scheme is javascript: or data:. (Text can hold those words: ammonia
//! escapes `<` in text, so every `<` left in the output opens a real tag,
//! and only tags are read. Of attributes, those a browser reads as a URL
//! are checked: `title="javascript:"` is text.) Image dimensions must be
//! numbers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(html) = std::str::from_utf8(data) else {
        return;
    };
    let clean = feedsift::sanitize::clean_html(html, Some("https://example.org/news/1"));
    let mut rest = clean.as_str();
    while let Some(lt) = rest.find('<') {
        let tag_end = rest[lt..].find('>').map_or(rest.len(), |g| lt + g + 1);
        let tag = rest[lt..tag_end].to_ascii_lowercase();
        assert!(!tag.starts_with("<script"), "script tag survived: {clean}");
        for (name, value) in attributes(&tag) {
            assert!(
                !name.starts_with("on"),
                "an event handler survived in {tag}: {clean}"
            );
            let v = value.trim_start();
            if matches!(name.as_str(), "width" | "height") {
                assert!(
                    v.trim_end_matches("px")
                        .trim_end_matches('%')
                        .bytes()
                        .all(|b| b.is_ascii_digit()),
                    "a dimension that is not a number survived in {tag}: {clean}"
                );
            }
            if !URL_ATTRIBUTES.contains(&name.as_str()) {
                continue;
            }
            assert!(
                !v.starts_with("javascript:")
                    && !v.starts_with("data:")
                    && !v.starts_with("vbscript:"),
                "an active url survived in {tag}: {clean}"
            );
        }
        rest = &rest[tag_end..];
    }
    let _ = feedsift::sanitize::plain_text(html);
});

/// Attributes a browser follows or loads as a URL.
const URL_ATTRIBUTES: &[&str] = &[
    "href", "src", "srcset", "cite", "action", "formaction", "poster", "background", "longdesc",
    "xlink:href", "data", "codebase", "usemap", "ping", "manifest",
];

/// The attributes of one tag as (name, value), quotes honoured.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = tag.trim_start_matches('<').chars().peekable();
    // The element name.
    while chars.next_if(|c| !c.is_whitespace() && *c != '>').is_some() {}
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut name = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && !matches!(c, '=' | '>' | '/')) {
            name.push(c);
        }
        let mut value = String::new();
        match chars.next() {
            None | Some('>') => {
                if !name.is_empty() {
                    out.push((name, value));
                }
                return out;
            }
            Some('=') => match chars.next() {
                Some(q @ ('"' | '\'')) => {
                    for c in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        value.push(c);
                    }
                }
                Some(c) => {
                    value.push(c);
                    while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '>') {
                        value.push(c);
                    }
                }
                None => {}
            },
            _ => {}
        }
        if !name.is_empty() {
            out.push((name, value));
        }
    }
}
