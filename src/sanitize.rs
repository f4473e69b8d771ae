//! Safe HTML for republishing: whatever a source feed carries, what we send
//! on to readers holds no script, no active content and no tracking pixel,
//! and its links work outside the source's site. Pure functions, like the
//! publisher that calls them.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use regex::Regex;

/// Item HTML beyond this is cut before parsing. Real articles are far
/// smaller; a hostile feed must not make every rebuild of a topic slow.
pub const MAX_HTML_BYTES: usize = 256 * 1024;

/// Deeper nesting than this is flattened to text before parsing: html5ever
/// (under ammonia) is very slow on pathological nesting (100k nested
/// `<div>`s take seconds), while real content nests a few dozen levels.
pub const MAX_DEPTH: usize = 256;

/// Elements removed together with everything inside them. Ammonia already
/// drops any tag not on its allow list (keeping its text); for these the
/// text itself is code or a fallback nobody should see.
const DROP_WITH_CONTENT: &[&str] = &[
    "script", "style", "iframe", "object", "embed", "form", "svg", "math", "noscript", "template",
    "frameset", "frame", "applet", "audio", "video", "canvas", "select", "textarea", "button",
];

/// Links and sources may only use these schemes: no `javascript:`, no
/// `data:` (a data: URL can carry a whole HTML page with script).
const SCHEMES: &[&str] = &["http", "https", "mailto"];

/// "120", "120px" or "50%": what browsers take as an image's width.
fn is_dimension(v: &str) -> bool {
    let v = v.trim();
    let digits = v.trim_end_matches("px").trim_end_matches('%');
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn builder(base: Option<&url::Url>) -> Builder<'static> {
    let mut b = Builder::default();
    b.clean_content_tags(DROP_WITH_CONTENT.iter().copied().collect::<HashSet<_>>())
        .url_schemes(SCHEMES.iter().copied().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        // Dimensions stay on images: a reader needs them to lay out, and we
        // need them to recognise tracking pixels afterwards.
        .add_tag_attributes("img", ["width", "height"])
        // ... as numbers: anything else there is no dimension (the fuzzer
        // found `width="javascript:alert(1)"` kept; inert, but not ours to
        // pass on).
        .attribute_filter(|_, attr, value| {
            if !matches!(attr, "width" | "height") {
                Some(value.into())
            } else if is_dimension(value) {
                Some(value.trim().into())
            } else {
                None
            }
        });
    b.url_relative(match base {
        // Relative links in an article mean the article's site: make them
        // absolute, since readers show them far away from it.
        Some(base) => UrlRelative::RewriteWithBase(base.clone()),
        None => UrlRelative::Deny,
    });
    b
}

/// Makes untrusted item HTML safe to republish. `base` is the item's link:
/// relative URLs are resolved against it (and dropped without one).
pub fn clean_html(html: &str, base: Option<&str>) -> String {
    let base = base.and_then(|b| url::Url::parse(b).ok());
    let html = cap(html);
    let cleaned = builder(base.as_ref()).clean(&html).to_string();
    drop_tracking_pixels(&cleaned).into_owned()
}

/// Cuts `html` to `MAX_HTML_BYTES` (at a character boundary) and flattens
/// it to escaped text when it nests deeper than `MAX_DEPTH`. Both checks are
/// one linear scan, cheap next to parsing.
fn cap(html: &str) -> Cow<'_, str> {
    let mut cut = html.len().min(MAX_HTML_BYTES);
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    let html = &html[..cut];
    if nesting_depth(html) > MAX_DEPTH {
        let text = plain_text(html);
        return Cow::Owned(format!("<p>{}</p>", html_escape::encode_text(&text)));
    }
    Cow::Borrowed(html)
}

/// The deepest element nesting, estimated from tags alone: void elements
/// and self-closing tags do not nest. Unclosed `<p>`s count as nested, so
/// this errs towards flattening, which is safe.
fn nesting_depth(html: &str) -> usize {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let (mut depth, mut max) = (0usize, 0usize);
    let mut i = 0;
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'<') {
        i += off + 1;
        match bytes.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(c) if c.is_ascii_alphabetic() => {
                let end = bytes[i..]
                    .iter()
                    .position(|&b| b == b'>')
                    .map_or(bytes.len(), |e| i + e);
                let name_end = bytes[i..end]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(end, |e| i + e);
                let name = html[i..name_end].to_ascii_lowercase();
                let self_closing = end > i && bytes.get(end - 1) == Some(&b'/');
                if !self_closing && !VOID.contains(&name.as_str()) {
                    depth += 1;
                    max = max.max(depth);
                }
            }
            _ => {}
        }
    }
    max
}

/// `<img>` elements as ammonia writes them: lower-case names, attribute
/// values in double quotes, so a regular expression reads them reliably.
static IMG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"<img\b[^>]*>"#).unwrap_or_else(|e| unreachable!("static regex: {e}"))
});
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<[^>]*>").unwrap_or_else(|e| unreachable!("static regex: {e}")));
static BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)</?(?:p|div|br|li|ul|ol|h[1-6]|tr|td|th|blockquote|pre|table|section|article|header|footer|dd|dt)\b")
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});
static DIMENSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"\b(?:width|height)="\s*([01])(?:px)?\s*""#)
        .unwrap_or_else(|e| unreachable!("static regex: {e}"))
});

/// Drops images 1 or 0 pixels wide or high: tracking pixels that tell the
/// publisher who read what, and show nothing. Runs on ammonia's output, so
/// removing a whole element can never make the HTML unsafe.
fn drop_tracking_pixels(html: &str) -> Cow<'_, str> {
    IMG.replace_all(html, |c: &regex::Captures| {
        if DIMENSION.is_match(&c[0]) {
            String::new()
        } else {
            c[0].to_owned()
        }
    })
}

/// Every tag removed and entities decoded: for titles and plain-text
/// summaries, which readers show as text (a `<b>` there would show as-is).
static TEXT_ONLY: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut b = Builder::empty();
    b.clean_content_tags(DROP_WITH_CONTENT.iter().copied().collect::<HashSet<_>>());
    b
});

/// Plain text of an HTML fragment (or of text that may hold stray tags and
/// entities), whitespace collapsed.
pub fn plain_text(html: &str) -> String {
    let mut cut = html.len().min(MAX_HTML_BYTES);
    while !html.is_char_boundary(cut) {
        cut -= 1;
    }
    let html = &html[..cut];
    // Only parse what looks like markup: most titles are already text.
    let text: Cow<str> = if html.contains('<') || html.contains('&') {
        let escaped = if nesting_depth(html) > MAX_DEPTH {
            // Too deep to parse: drop anything tag-shaped. The result is
            // text and gets escaped wherever it goes, so this is safe.
            TAG.replace_all(html, " ").into_owned()
        } else {
            // Block boundaries separate words: "<p>a.</p><p>b</p>" is "a. b".
            TEXT_ONLY.clean(&BLOCK.replace_all(html, " $0")).to_string()
        };
        Cow::Owned(html_escape::decode_html_entities(&escaped).into_owned())
    } else {
        Cow::Borrowed(html)
    };
    // ASCII whitespace only: an ideographic space in a Japanese headline
    // (U+3000) or a no-break space is part of the text.
    text.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_handlers_and_bad_urls_go() {
        let out = clean_html(
            r#"<p onclick="x()">hi<script>alert(1)</script><a href="javascript:alert(1)">a</a><img src="data:image/png;base64,AAAA"></p>"#,
            Some("https://example.org/a/b.html"),
        );
        assert!(!out.contains("script") && !out.contains("onclick"), "{out}");
        assert!(
            !out.contains("javascript:") && !out.contains("data:"),
            "{out}"
        );
    }

    #[test]
    fn relative_urls_become_absolute_and_pixels_go() {
        let out = clean_html(
            r#"<a href="../x">x</a><img src="/i.png" width="300"><img src="/p.gif" width="1" height="1">"#,
            Some("https://example.org/a/b.html"),
        );
        assert!(out.contains(r#"href="https://example.org/x""#), "{out}");
        assert!(out.contains(r#"src="https://example.org/i.png""#), "{out}");
        assert!(!out.contains("p.gif"), "{out}");
    }

    #[test]
    fn image_dimensions_must_be_numbers() {
        // What the sanitize fuzz target found: a "width" holding a script URL.
        let out = clean_html(
            r#"<p>x<img src="https://example.org/p.jif" width="javascript:alert(1)" height="50%">x</p><img src="https://example.org/q.png" width="300px"><img src="https://example.org/r.png" width=" 4 ">"#,
            None,
        );
        assert!(!out.contains("javascript"), "{out}");
        assert!(out.contains(r#"height="50%""#), "{out}");
        assert!(out.contains(r#"width="300px""#), "{out}");
        // Kept trimmed (the fuzzer's second find: `width="4 "`).
        assert!(out.contains(r#"width="4""#), "{out}");
    }

    #[test]
    fn deep_nesting_is_flattened_quickly() {
        let html = "<div>".repeat(20_000) + "deep" + &"</div>".repeat(20_000);
        let start = std::time::Instant::now();
        let out = clean_html(&html, None);
        assert!(out.contains("deep") && !out.contains("<div>"), "{out:.200}");
        // Past the size cap, the rest is cut before any parsing.
        let huge = "<div>".repeat(100_000) + "deep" + &"</div>".repeat(100_000);
        assert!(!clean_html(&huge, None).contains("deep"));
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn titles_are_text() {
        assert_eq!(
            plain_text("Tokyo &amp; Moscow <b>talk</b>\n<script>x</script>"),
            "Tokyo & Moscow talk"
        );
        assert_eq!(plain_text("A < B"), "A < B");
        assert_eq!(
            plain_text("<p>One.</p><p>Two<br>three</p>"),
            "One. Two three"
        );
        assert_eq!(plain_text("日本\u{3000}ロシア"), "日本\u{3000}ロシア");
    }
}
