//! What publishers serve -> a document feed-rs reads correctly. feed-rs never
//! sees the HTTP charset, panics on some UTF-16, refuses `<rss>` without a
//! known version, reads Atom 0.3 as an empty feed, keeps HTML entities
//! literal and passes control characters through. Here every document is
//! transcoded to UTF-8 and repaired before it is parsed.

use std::borrow::Cow;
use std::sync::LazyLock;

use encoding_rs::Encoding;
use regex::{Captures, Regex};

use crate::text::find_ascii_ci;

/// A document ready for feed-rs: UTF-8, no DOCTYPE, no declaration.
#[derive(Debug)]
pub struct Prepared {
    pub text: String,
    /// The encoding the bytes were read as.
    pub encoding: &'static str,
    /// What was ill-formed and repaired here, when something was (the XML
    /// parser never sees it, so this is where it is noted).
    pub repaired: Option<&'static str>,
}

/// The charset parameter of a Content-Type header.
pub fn header_charset(content_type: Option<&str>) -> Option<&str> {
    content_type?.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(['"', '\'']))
    })
}

fn is_latin_single_byte(e: &'static Encoding) -> bool {
    // encoding_rs maps iso-8859-1 and us-ascii to windows-1252 (WHATWG).
    e == encoding_rs::WINDOWS_1252
}

/// Encoding named in the XML declaration, read as ASCII.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    static DECL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']"#)
            .expect("static regex")
    });
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
    let label = DECL.captures(&head)?.get(1)?.as_str().to_owned();
    Encoding::for_label(label.as_bytes())
}

/// UTF-32 is not in encoding_rs (nor the web platform); a few feeds still
/// use it, so decode it by hand.
fn decode_utf32(bytes: &[u8], big_endian: bool) -> String {
    bytes
        .chunks_exact(4)
        .map(|c| {
            let v = if big_endian {
                u32::from_be_bytes([c[0], c[1], c[2], c[3]])
            } else {
                u32::from_le_bytes([c[0], c[1], c[2], c[3]])
            };
            char::from_u32(v).unwrap_or('\u{FFFD}')
        })
        .collect()
}

/// True for the media types RFC 3023 gives a us-ascii default: `text/xml`
/// and `text/*+xml` without a charset parameter. (`application/xml` and
/// `application/*+xml` leave the encoding to the document.)
fn is_text_xml(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "text/xml"
        || mime == "text/xml-external-parsed-entity"
        || (mime.starts_with("text/") && mime.ends_with("+xml"))
}

/// Whether `label` can describe `bytes` at all: a label that cannot is
/// bogus and the next source (declaration, detection) decides. UTF-16 text
/// of a document always has zero bytes (its ASCII markup); encoding_rs maps
/// some labels (ISO-2022-KR, HZ...) to "replacement", which would turn the
/// whole document into one U+FFFD.
fn plausible_for(label: &'static Encoding, bytes: &[u8]) -> bool {
    if label == encoding_rs::REPLACEMENT {
        return false;
    }
    if label == encoding_rs::UTF_16LE || label == encoding_rs::UTF_16BE {
        return bytes.contains(&0);
    }
    true
}

/// Decodes the body: BOM, then the HTTP charset, then the XML declaration,
/// then detection; the rules of RFC 3023 and feedparser's encoding tests:
///
/// - a BOM is unambiguous, so it outranks a header that contradicts it;
/// - a `charset` parameter overrides the XML declaration;
/// - `text/xml` (and `text/*+xml`) without one is us-ascii, whatever the
///   declaration says; when the bytes are not ASCII that default cannot be
///   right, and (as feedparser does) the declaration then detection decide;
/// - `application/xml` and `application/*+xml` without one defer to the
///   document (BOM, declaration, else UTF-8 or detection);
/// - a bogus charset (unknown, or impossible for the bytes) is ignored and
///   the next source decides.
///
/// A Latin-1/windows-1252 label on bytes that are valid UTF-8 with
/// non-ASCII in them is taken to be wrong (servers default to it): such
/// bytes are almost never intended as Latin-1.
pub fn decode(bytes: &[u8], content_type: Option<&str>) -> (String, &'static str) {
    match bytes {
        [0, 0, 0xFE, 0xFF, rest @ ..] => return (decode_utf32(rest, true), "UTF-32BE"),
        [0xFF, 0xFE, 0, 0, rest @ ..] => return (decode_utf32(rest, false), "UTF-32LE"),
        _ => {}
    }
    if let Some((enc, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return (text.into_owned(), enc.name());
    }
    // UTF-16 without a BOM still starts with "<" and a zero byte.
    let sniffed = match bytes {
        [0, b'<', ..] => Some(encoding_rs::UTF_16BE),
        [b'<', 0, ..] => Some(encoding_rs::UTF_16LE),
        _ => None,
    };
    let header = header_charset(content_type);
    if sniffed.is_none() && header.is_none() && is_text_xml(content_type) && bytes.is_ascii() {
        // us-ascii: every ASCII-compatible decoder reads these bytes alike,
        // and the declaration is not consulted (RFC 3023, section 3.1).
        return (String::from_utf8_lossy(bytes).into_owned(), "us-ascii");
    }
    // Validated once: most feeds are UTF-8, and each check below is a pass
    // over the whole body.
    let utf8 = std::str::from_utf8(bytes).ok();
    let valid_utf8_non_ascii = || utf8.is_some() && !bytes.is_ascii();
    let labelled = sniffed
        .or_else(|| {
            header
                .and_then(|l| Encoding::for_label(l.as_bytes()))
                .filter(|&e| plausible_for(e, bytes))
        })
        .or_else(|| declared_encoding(bytes).filter(|&e| plausible_for(e, bytes)))
        .map(|e| {
            if is_latin_single_byte(e) && valid_utf8_non_ascii() {
                encoding_rs::UTF_8
            } else {
                e
            }
        })
        // The reverse lie: a UTF-8 label (often a template's default) on
        // windows-1251 or Shift_JIS bytes. Decoding those as UTF-8 would
        // turn every letter into U+FFFD, so detection decides instead.
        .filter(|&e| !(e == encoding_rs::UTF_8 && utf8.is_none() && mostly_not_utf8(bytes)));
    let enc = labelled.unwrap_or_else(|| {
        if utf8.is_some() {
            encoding_rs::UTF_8
        } else {
            let mut det = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Allow);
            det.feed(bytes, true);
            det.guess(None, chardetng::Utf8Detection::Allow)
        }
    });
    if let (Some(text), true) = (utf8, enc == encoding_rs::UTF_8) {
        return (text.to_owned(), enc.name());
    }
    let (text, _) = enc.decode_without_bom_handling(bytes);
    (text.into_owned(), enc.name())
}

/// True when the non-ASCII part of `bytes` is mostly not UTF-8: more
/// invalid sequences than valid multi-byte characters. A stray bad byte in
/// a UTF-8 document does not count as a different encoding; a document in
/// a legacy encoding has almost no valid multi-byte sequences at all.
fn mostly_not_utf8(bytes: &[u8]) -> bool {
    let (mut valid, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        valid += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        invalid += usize::from(!chunk.invalid().is_empty());
    }
    invalid > valid
}

/// Does this look like an HTML page rather than a feed?
pub fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .chars()
        .take(1024)
        .collect::<String>()
        .to_ascii_lowercase();
    let head = head.trim_start();
    head.starts_with("<!doctype html") || head.contains("<html")
}

/// The first feed a web page advertises with `<link rel="alternate">`.
pub fn alternate_feed_link(html: &str, page_url: &str) -> Option<String> {
    alternate_feed_links(html, page_url).into_iter().next()
}

/// Every feed a web page advertises with `<link rel="alternate">` (RSS,
/// Atom, RDF or JSON Feed), in page order, hrefs resolved against
/// `page_url`, each once.
pub fn alternate_feed_links(html: &str, page_url: &str) -> Vec<String> {
    static LINK: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?is)<link\b[^>]*>").expect("static regex"));
    static ATTR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"(?i)\b(rel|type|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))"#)
            .expect("static regex")
    });
    let Ok(base) = url::Url::parse(page_url) else {
        return Vec::new();
    };
    let mut found: Vec<String> = Vec::new();
    for link in LINK.find_iter(html).filter_map(|tag| {
        let (mut rel, mut ty, mut href) = (String::new(), String::new(), None);
        for c in ATTR.captures_iter(tag.as_str()) {
            let v = c
                .get(2)
                .or_else(|| c.get(3))
                .or_else(|| c.get(4))
                .map_or("", |m| m.as_str());
            match c[1].to_ascii_lowercase().as_str() {
                "rel" => rel = v.to_ascii_lowercase(),
                "type" => ty = v.to_ascii_lowercase(),
                _ => href = Some(html_escape::decode_html_entities(v).into_owned()),
            }
        }
        let is_feed = ["rss", "atom", "feed+json", "rdf"]
            .iter()
            .any(|t| ty.contains(t));
        (rel.split_whitespace().any(|r| r == "alternate") && is_feed)
            .then(|| base.join(href?.trim()).ok().map(|u| u.to_string()))
            .flatten()
    }) {
        if !found.contains(&link) {
            found.push(link);
        }
    }
    found
}

/// Removes a leading XML declaration (the text is UTF-8 now, whatever it
/// said) and any DOCTYPE: feeds need no DTD, and dropping it is what makes
/// external entities (XXE) and entity expansion bombs harmless.
fn strip_prolog(text: &str) -> Cow<'_, str> {
    let mut s = text.trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n']);
    if s.starts_with("<?xml")
        && let Some(end) = s.find("?>")
    {
        s = &s[end + 2..];
    }
    // Only a DOCTYPE before the root element counts, so only the prolog
    // is searched (the whole document was, at 5% of all parsing time).
    let Some(start) = find_ascii_ci(&s[..root_start(s)], "<!doctype") else {
        return Cow::Borrowed(s);
    };
    if !prolog_only(&s[..start]) {
        return Cow::Borrowed(s);
    }
    let (mut depth, mut quote, mut end) = (0i32, None::<char>, None);
    for (i, c) in s[start..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[') => depth += 1,
            (None, ']') => depth -= 1,
            (None, '>') if depth <= 0 => {
                end = Some(start + i + 1);
                break;
            }
            _ => {}
        }
    }
    match end {
        Some(e) => Cow::Owned(format!("{}{}", &s[..start], &s[e..])),
        // An unterminated DOCTYPE: nothing after it is a document.
        None => Cow::Owned(String::new()),
    }
}

/// Where the root element starts: the first `<` that opens neither a
/// comment, a declaration nor a processing instruction (the end if none).
fn root_start(s: &str) -> usize {
    let b = s.as_bytes();
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'<', &b[at..]) {
        let i = at + i;
        match b.get(i + 1) {
            Some(b'?' | b'!') => {
                // Skip a comment whole: it may hold a `<`.
                if s[i..].starts_with("<!--") {
                    match s[i + 4..].find("-->") {
                        Some(e) => at = i + 4 + e + 3,
                        None => return s.len(),
                    }
                } else {
                    at = i + 1;
                }
            }
            _ => return i,
        }
    }
    s.len()
}

/// True when `s` holds only comments, processing instructions and space.
fn prolog_only(s: &str) -> bool {
    static PROLOG: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)^(\s|<!--.*?-->|<\?.*?\?>)*$").expect("static regex"));
    PROLOG.is_match(s)
}

/// Characters XML 1.0 forbids (C0 controls but tab, newline and return;
/// U+FFFE/U+FFFF). Publishers leak them from databases and word processors.
fn is_xml_char(c: char) -> bool {
    !((c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}')
}

/// `text` without the characters XML forbids; borrowed when it has none,
/// as almost every document does (a byte scan, not a copy per character).
fn drop_forbidden(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    // A control character anywhere, tested a block at a time without
    // branching (which the compiler vectorises); then U+FFFE/U+FFFF,
    // whose UTF-8 starts with the rare byte 0xEF.
    let control = |c: u8| c < b' ' && !matches!(c, b'\t' | b'\n' | b'\r');
    let suspect = b
        .chunks(64)
        .any(|block| block.iter().fold(false, |any, &c| any | control(c)))
        || memchr::memchr_iter(0xEF, b)
            .any(|i| b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF)));
    if suspect {
        Cow::Owned(text.chars().filter(|&c| is_xml_char(c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// The reference after an `&` (`#123;`, `#x1F;` or `name;`), as the
/// length of its text including the `;`; None for a bare ampersand.
fn reference_len(after: &[u8]) -> Option<usize> {
    let count = |from: usize, ok: fn(&u8) -> bool| {
        after
            .get(from..)
            .map_or(0, |r| r.iter().take_while(|c| ok(c)).count())
    };
    let (start, n, fits) = match after.first()? {
        b'#' => match after.get(1) {
            Some(b'x' | b'X') => {
                let n = count(2, u8::is_ascii_hexdigit);
                (2, n, (1..=7).contains(&n))
            }
            _ => {
                let n = count(1, u8::is_ascii_digit);
                (1, n, (1..=8).contains(&n))
            }
        },
        c if c.is_ascii_alphabetic() => {
            let n = count(1, u8::is_ascii_alphanumeric);
            (1, n, n <= 31)
        }
        _ => return None,
    };
    let end = start + n;
    (fits && after.get(end) == Some(&b';')).then_some(end + 1)
}

/// What the `&` at `amp` in `seg` becomes: the end of what it covers, and
/// its replacement (None: kept as it is).
fn reference_fix(seg: &str, amp: usize) -> (usize, Option<String>) {
    let Some(len) = reference_len(&seg.as_bytes()[amp + 1..]) else {
        return (amp + 1, Some("&amp;".to_owned()));
    };
    let end = amp + 1 + len;
    let r = &seg[amp + 1..end];
    let body = &r[..r.len() - 1];
    if let Some(num) = body.strip_prefix('#') {
        let v = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse().ok(),
        };
        return match v.and_then(char::from_u32) {
            // XML spells hex references with a lower-case x only; HTML
            // (and feedparser) read `&#X26;` too.
            Some(ch) if is_xml_char(ch) && num.starts_with('X') => {
                (end, Some(format!("&#x{};", &num[1..])))
            }
            Some(ch) if is_xml_char(ch) => (end, None),
            _ => (end, Some(String::new())),
        };
    }
    if matches!(body, "amp" | "lt" | "gt" | "quot" | "apos") {
        return (end, None);
    }
    let whole = &seg[amp..end];
    let decoded = html_escape::decode_html_entities(whole);
    let fixed = if decoded != whole {
        decoded
            .chars()
            .map(|ch| format!("&#{};", ch as u32))
            .collect()
    } else {
        format!("&amp;{r}")
    };
    (end, Some(fixed))
}

/// Calls `f` with the position, end and fix of each `&` in `seg` that
/// needs one.
fn each_reference_fix(seg: &str, mut f: impl FnMut(usize, usize, String)) {
    let b = seg.as_bytes();
    let mut at = 0;
    while let Some(i) = memchr::memchr(b'&', &b[at..]) {
        let amp = at + i;
        let (end, fix) = reference_fix(seg, amp);
        at = end;
        if let Some(fix) = fix {
            f(amp, end, fix);
        }
    }
}

/// Outside CDATA sections: HTML named entities become numeric references,
/// unknown entities and bare ampersands become literal text, references to
/// forbidden characters are dropped. Inside CDATA nothing is touched. The
/// text is copied only once something changes: XML's own references, the
/// bulk of them, stay as they are (a regex rewrite of every reference was
/// a fifth of all parsing time).
#[cfg(test)]
fn fix_references(text: &str) -> Cow<'_, str> {
    fix_references_noting(text).0
}

/// `fix_references`, and whether it found a bare `&` (ill-formed XML,
/// which the feed's status then says).
fn fix_references_noting(text: &str) -> (Cow<'_, str>, bool) {
    let mut out: Option<String> = None;
    let mut last = 0;
    let mut bare = false;
    for seg in outside_cdata(text) {
        each_reference_fix(&text[seg.clone()], |amp, end, fix| {
            bare |= end == amp + 1;
            let out = out.get_or_insert_with(|| String::with_capacity(text.len() + 16));
            out.push_str(&text[last..seg.start + amp]);
            out.push_str(&fix);
            last = seg.start + end;
        });
    }
    match out {
        None => (Cow::Borrowed(text), bare),
        Some(mut out) => {
            out.push_str(&text[last..]);
            (Cow::Owned(out), bare)
        }
    }
}

/// The byte ranges of `text` outside CDATA sections, in order (an
/// unterminated section runs to the end).
fn outside_cdata(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut from = Some(0);
    std::iter::from_fn(move || {
        let start = from?;
        match memchr::memmem::find(&text.as_bytes()[start..], b"<![CDATA[") {
            Some(i) => {
                let cdata = start + i;
                from = Some(
                    memchr::memmem::find(&text.as_bytes()[cdata..], b"]]>")
                        .map_or(text.len(), |e| cdata + e + 3),
                );
                Some(start..cdata)
            }
            None => {
                from = None;
                Some(start..text.len())
            }
        }
    })
}

/// Applies `f` to the parts of `text` outside CDATA sections; CDATA (and an
/// unterminated one, to the end) is copied as it is.
fn map_outside_cdata(text: &str, f: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for seg in outside_cdata(text) {
        out.push_str(&text[last..seg.start]);
        out.push_str(&f(&text[seg.clone()]));
        last = seg.end;
    }
    out
}

/// `<rss>` with no version, or one feed-rs does not know (0.93, 0.94, 3.0),
/// is read as RSS 2.0, which is a superset in practice.
fn fix_rss_version(text: &str) -> Cow<'_, str> {
    static RSS: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)<rss\b([^>]*)>").expect("static regex"));
    static VERSION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r#"\bversion\s*=\s*["']([^"']*)["']"#).expect("static regex"));
    // The root element is near the top: looking further is wasted.
    let mut head_end = text.len().min(4096 + 4096);
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let Some(m) = RSS.captures(&text[..head_end]) else {
        return Cow::Borrowed(text);
    };
    let whole = m.get(0).map_or(0..0, |g| g.range());
    if whole.start > 4096 {
        return Cow::Borrowed(text);
    }
    let attrs = &m[1];
    let fixed_attrs = match VERSION.captures(attrs) {
        Some(v) if matches!(&v[1], "0.91" | "0.92" | "2.0") => return Cow::Borrowed(text),
        Some(_) => VERSION.replace(attrs, "version=\"2.0\"").into_owned(),
        None => format!(" version=\"2.0\"{attrs}"),
    };
    Cow::Owned(format!(
        "{}<rss{fixed_attrs}>{}",
        &text[..whole.start],
        &text[whole.end..]
    ))
}

/// A root `<feed>` is Atom, whatever default namespace it declares: a
/// wrong or mis-cased namespace (`http://www.w3.org/2005/atom`) otherwise
/// hides every element from feed-rs, where feedparser reads them. Only the
/// root's own `xmlns` is changed, and only when it is not Atom 0.3's (which
/// `fix_atom03` maps).
fn fix_feed_namespace(text: &str) -> Cow<'_, str> {
    static ROOT: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^(?s:\s|<!--.*?-->|<\?.*?\?>)*<feed\b[^>]*?\sxmlns\s*=\s*["']([^"']*)["']"#)
            .expect("static regex")
    });
    let Some(ns) = ROOT.captures(text).and_then(|c| c.get(1)) else {
        return Cow::Borrowed(text);
    };
    if matches!(ns.as_str(), ATOM_NS | "http://purl.org/atom/ns#") {
        return Cow::Borrowed(text);
    }
    Cow::Owned(format!(
        "{}{ATOM_NS}{}",
        &text[..ns.start()],
        &text[ns.end()..]
    ))
}

/// Atom 0.3 is close enough to 1.0 to read as 1.0 once its namespace and
/// the renamed elements are mapped.
fn fix_atom03(text: &str) -> Cow<'_, str> {
    const NS03: &str = "http://purl.org/atom/ns#";
    if !text.contains(NS03) {
        return Cow::Borrowed(text);
    }
    static RENAMED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<(/?)((?:[A-Za-z_][\w.-]*:)?)(issued|modified|tagline|copyright)\b")
            .expect("static regex")
    });
    let t = text.replace(NS03, "http://www.w3.org/2005/Atom");
    RENAMED
        .replace_all(&t, |c: &Captures| {
            let new = match &c[3] {
                "issued" => "published",
                "modified" => "updated",
                "tagline" => "subtitle",
                _ => "rights",
            };
            format!("<{}{}{new}", &c[1], &c[2])
        })
        .into_owned()
        .into()
}

/// RSS 0.90 is RDF with its items in Netscape's namespace; feed-rs reads
/// RDF only in the RSS 1.0 namespace and so found no items at all. The
/// elements are the same (channel, item, title, link, description), so the
/// namespace is renamed, nothing else.
fn fix_rss090(text: &str) -> Cow<'_, str> {
    const NS090: &str = "http://my.netscape.com/rdf/simple/0.9/";
    if text.contains(NS090) {
        Cow::Owned(text.replace(NS090, "http://purl.org/rss/1.0/"))
    } else {
        Cow::Borrowed(text)
    }
}

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// The Atom elements whose `type` feed-rs checks (after `fix_atom03`, so
/// 0.3's tagline and copyright are here as subtitle and rights).
fn is_atom_text_construct(local: &str) -> bool {
    matches!(
        local,
        "title" | "subtitle" | "summary" | "rights" | "content"
    )
}

/// How a text construct is read: the `type` feed-rs accepts, and whether
/// the content is base64 to decode first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextKind {
    Text,
    Html,
    Xhtml,
}

impl TextKind {
    fn attr(self) -> &'static str {
        match self {
            TextKind::Text => "text",
            TextKind::Html => "html",
            TextKind::Xhtml => "xhtml",
        }
    }
}

/// What Atom 1.0 and 0.3 mean by a `type` (and 0.3's `mode`), in the terms
/// feed-rs knows. Anything unknown or empty is text: feed-rs refuses the
/// whole feed over one type it does not know, where a reader loses at most
/// that element's formatting. Returns the kind and whether to base64-decode.
fn text_kind(ty: Option<&str>, mode: Option<&str>) -> (TextKind, bool) {
    let ty = ty.unwrap_or("").trim().to_ascii_lowercase();
    let mode = mode.unwrap_or("").trim().to_ascii_lowercase();
    let base64 = mode == "base64";
    // The MIME type without parameters.
    let mime = ty.split(';').next().unwrap_or("").trim();
    let kind = match mime {
        "html" | "text/html" if mode == "xml" => TextKind::Xhtml,
        "html" | "text/html" => TextKind::Html,
        "xhtml" | "application/xhtml+xml" if mode == "escaped" || base64 => TextKind::Html,
        "xhtml" | "application/xhtml+xml" => TextKind::Xhtml,
        // Other XML inline is markup; escaped or base64 it is text.
        m if (m.ends_with("+xml") || m.ends_with("/xml")) && !base64 && mode != "escaped" => {
            TextKind::Xhtml
        }
        _ => TextKind::Text,
    };
    // Atom 1.0: a media type that is neither text nor XML is base64 inline.
    let implied_base64 = !mime.is_empty()
        && mime.contains('/')
        && !mime.starts_with("text/")
        && !mime.ends_with("+xml")
        && !mime.ends_with("/xml")
        && mode.is_empty();
    (kind, base64 || implied_base64)
}

/// One change to the document: the byte range and what replaces it.
type Edit = (std::ops::Range<usize>, String);

const MRSS_NS: &str = "http://search.yahoo.com/mrss/";
const RSS1_NS: &str = "http://purl.org/rss/1.0/";

/// Elements feed-rs refuses the whole feed over, or drops an item for,
/// rewritten so that one odd attribute costs at most that element's
/// formatting:
///
/// - Atom text constructs with a `type` feed-rs does not know
///   (`text/plain`, `application/xhtml+xml`, `""`, Atom 0.3's `mode`...)
///   get the `text`/`html`/`xhtml` it reads, base64 bodies decoded;
/// - Atom content with `src` and a type that is no MIME type loses the
///   type, and one that also has a body loses the body (the link stays);
/// - Media RSS text with a type other than `plain`/`html` gets one of them;
/// - an RSS 1.0 item without `<link>` gets its `rdf:about` as the link
///   (feed-rs drops items without one; the about URI is the item's).
///
/// quick-xml finds the elements, namespace-aware (an XHTML `<title>`
/// inside content is not Atom's); only those tags and bodies are spliced,
/// the rest of the document stays byte for byte. Ill-formed XML stops the
/// scan; the edits found before that point are still applied.
fn fix_element_types(text: &str) -> Cow<'_, str> {
    // A quick look first: most documents need none of this.
    static TYPED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r#"<(?:[\w.-]+:)?(?:title|subtitle|summary|rights|content|description|text)\b[^>]*>"#,
        )
        .expect("static regex")
    });
    static ATTR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"\b(type|mode|src)\s*=\s*["']([^"']*)["']"#).expect("static regex")
    });
    let odd_tag = |tag: &str| {
        ATTR.captures_iter(tag)
            .any(|c| &c[1] != "type" || !matches!(&c[2], "text" | "html" | "xhtml" | "plain"))
    };
    // An empty prefixed title or description (Media RSS's refuse the feed).
    static EMPTY_PREFIXED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<[\w.-]+:(?:title|description)\b(?:[^>]*/>|[^>]*>\s*</)")
            .expect("static regex")
    });
    let typed = (text.contains(ATOM_NS) || text.contains(MRSS_NS))
        && TYPED.find_iter(text).any(|m| odd_tag(m.as_str()));
    let empty_media = text.contains(MRSS_NS) && EMPTY_PREFIXED.is_match(text);
    let rdf_items = text.contains(RSS1_NS) && text.contains("rdf:about") && rss1_link_missing(text);
    if !(typed || rdf_items || empty_media) {
        return Cow::Borrowed(text);
    }
    let edits = element_type_edits(text);
    if edits.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    let mut last = 0;
    for (range, new) in edits {
        out.push_str(&text[last..range.start]);
        out.push_str(&new);
        last = range.end;
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// Whether some RSS 1.0 item may lack its `<link>`: fewer links than the
/// items, the channel, images and text inputs would have with one each.
/// Counting is a byte search; a well-linked feed (nearly all) is then not
/// scanned at all.
fn rss1_link_missing(text: &str) -> bool {
    let count = |s: &str| memchr::memmem::find_iter(text.as_bytes(), s.as_bytes()).count();
    let items = count("<item>") + count("<item ") + count("<item\n") + count("<item\t");
    let others = 1 + count("<image") + count("<textinput") + count("<textInput");
    count("<link") < items + others
}

/// Which vocabulary an element is in, for `element_type_edits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Vocab {
    Atom,
    MediaRss,
    Rss1,
    Other,
}

/// A start tag rebuilt from its name, the attributes kept and a new type.
fn start_tag(name: &str, attrs: &[(String, String)], ty: Option<&str>, empty: bool) -> String {
    let mut tag = format!("<{name}");
    for (k, v) in attrs {
        let q = if v.contains('"') { '\'' } else { '"' };
        tag.push_str(&format!(" {k}={q}{v}{q}"));
    }
    if let Some(ty) = ty {
        tag.push_str(&format!(" type=\"{ty}\""));
    }
    tag.push_str(if empty { "/>" } else { ">" });
    tag
}

/// The edits `fix_element_types` makes, in document order.
/// Reads an element's body up to its end tag: the body's byte range in
/// `text` and the position after the end tag; None when the document ends
/// first.
fn element_body(
    reader: &mut quick_xml::NsReader<&[u8]>,
    name: &str,
    text: &str,
) -> Option<(std::ops::Range<usize>, usize)> {
    let span = reader.read_to_end(quick_xml::name::QName(name)).ok()?;
    let after = usize::try_from(reader.buffer_position()).unwrap_or(text.len());
    Some((
        usize::try_from(span.start).ok()?..usize::try_from(span.end).ok()?,
        after,
    ))
}

fn element_type_edits(text: &str) -> Vec<Edit> {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;

    let mut reader = quick_xml::NsReader::from_str(text);
    let mut edits = Vec::new();
    let mut at = 0usize;
    // The RSS 1.0 item being read: its rdf:about, and whether it has a link.
    let mut item: Option<(Option<String>, bool)> = None;
    loop {
        // The vocabulary is decided before the resolver's borrow of the
        // reader ends.
        let (vocab, event) = match reader.read_resolved_event() {
            Ok((_, Event::Eof)) | Err(_) => break,
            Ok((ResolveResult::Bound(ns), e)) => (
                match ns.0 {
                    ATOM_NS => Vocab::Atom,
                    MRSS_NS => Vocab::MediaRss,
                    RSS1_NS => Vocab::Rss1,
                    _ => Vocab::Other,
                },
                e,
            ),
            Ok((_, e)) => (Vocab::Other, e),
        };
        let end = usize::try_from(reader.buffer_position()).unwrap_or(text.len());
        let start = std::mem::replace(&mut at, end);
        let (tag, empty) = match &event {
            Event::Start(t) => (t, false),
            Event::Empty(t) => (t, true),
            Event::End(t) if vocab == Vocab::Rss1 && t.local_name().as_ref() == "item" => {
                if let Some((Some(about), false)) = item.take() {
                    // The attribute's raw text is already escaped, and
                    // means the same as element text.
                    edits.push((start..start, format!("<link>{}</link>", about.trim())));
                }
                continue;
            }
            _ => continue,
        };
        let local = tag.local_name().as_ref().to_owned();
        let name = tag.name().0.to_owned();
        let (mut ty, mut mode, mut src) = (None, None, false);
        let mut others = Vec::new();
        for a in tag.attributes().with_checks(false).flatten() {
            match a.key.0 {
                "type" => ty = Some(a.value.into_owned()),
                "mode" => mode = Some(a.value.into_owned()),
                k => {
                    src |= k == "src";
                    others.push((k.to_owned(), a.value.into_owned()));
                }
            }
        }
        match vocab {
            Vocab::Rss1 => {
                match local.as_str() {
                    "item" if !empty => {
                        let about = others
                            .iter()
                            .find(|(k, _)| k.ends_with(":about"))
                            .map(|(_, v)| v.clone());
                        item = Some((about, false));
                    }
                    "link" => {
                        if let Some((_, has_link)) = &mut item {
                            *has_link = true;
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Vocab::MediaRss if matches!(local.as_str(), "title" | "description") => {
                // feed-rs reads media text typed "plain" or "html" only, and
                // refuses the feed over an empty one: an empty element goes,
                // an odd type becomes the nearer of the two.
                let body_empty = if empty {
                    true
                } else {
                    let Some((body, after)) = element_body(&mut reader, &name, text) else {
                        break;
                    };
                    at = after;
                    text.get(body).is_none_or(|b| b.trim().is_empty())
                };
                if body_empty {
                    edits.push((start..at, String::new()));
                    continue;
                }
                let fixed = match ty.as_deref() {
                    None | Some("plain" | "html") => continue,
                    Some(t) if t.to_ascii_lowercase().contains("html") => "html",
                    Some(_) => "plain",
                };
                edits.push((start..end, start_tag(&name, &others, Some(fixed), false)));
                continue;
            }
            Vocab::Atom if is_atom_text_construct(&local) => {}
            _ => continue,
        }
        if src {
            // Out-of-line content: feed-rs wants a MIME type there, or none,
            // and no body.
            let t = ty.as_deref().unwrap_or("").trim();
            let valid = t
                .split_once('/')
                .is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
                && !t.contains(char::is_whitespace);
            let tag_ok = mode.is_none() && (ty.is_none() || valid);
            if !tag_ok {
                edits.push((
                    start..end,
                    start_tag(&name, &others, valid.then_some(t), empty),
                ));
            }
            if !empty {
                let Some((body, after)) = element_body(&mut reader, &name, text) else {
                    break;
                };
                at = after;
                if text.get(body.clone()).is_some_and(|b| !b.trim().is_empty()) {
                    edits.push((body, String::new()));
                }
            }
            continue;
        }
        let (kind, base64) = text_kind(ty.as_deref(), mode.as_deref());
        let as_is = ty.as_deref() == Some(kind.attr()) || (ty.is_none() && kind == TextKind::Text);
        if mode.is_none() && as_is && !base64 {
            continue;
        }
        edits.push((
            start..end,
            start_tag(&name, &others, Some(kind.attr()), empty),
        ));
        if base64 && !empty {
            // The body, up to its end tag; decoded, then escaped as text.
            let Some((body, after)) = element_body(&mut reader, &name, text) else {
                break;
            };
            at = after;
            if let Some(b64) = text.get(body.clone()) {
                edits.push((body, decode_base64_text(b64)));
            }
        }
    }
    edits
}

/// A base64 body as escaped XML text; a body that is not base64, or does not
/// decode to UTF-8 text, becomes empty rather than failing the feed.
fn decode_base64_text(body: &str) -> String {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    // Publishers pad, or not; both are read.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    LENIENT
        .decode(compact)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(|t| quick_xml::escape::escape(t.as_str()).into_owned())
        .unwrap_or_default()
}

/// In RSS, `title`, `description` and `content:encoded` hold HTML as
/// text: escaped or in CDATA. Many publishers paste the HTML in raw, which
/// an XML parser reads as child elements; feed-rs then keeps none of the
/// text (and unclosed `<br>` or `<p>` make the whole document ill-formed).
/// Escaping every `<` inside these elements, outside CDATA, turns the
/// markup back into the text it was meant to be. Only RSS: Atom's
/// `type="xhtml"` content is real child elements.
fn escape_raw_html_in_rss(text: &str) -> Cow<'_, str> {
    static OPEN: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"<((?:[A-Za-z_][\w.-]*:)?(?:title|description|encoded|summary))(\s[^>]*)?>")
            .expect("static regex")
    });
    let mut head_end = text.len().min(4096);
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let head = &text[..head_end];
    if !(head.contains("<rss") || head.contains("<rdf:RDF")) {
        return Cow::Borrowed(text);
    }
    let mut out = String::new();
    let mut last = 0;
    let mut from = 0;
    let mut close = String::new();
    // A plain search, not captures: this runs on every text element of
    // every RSS document, and the tag's name and attributes are read off
    // the match itself (`<name>` or `<name attrs>`).
    while let Some(m) = OPEN.find_at(text, from) {
        let tag = &m.as_str()[1..m.as_str().len() - 1];
        let (name, attrs) = tag.split_at(tag.find(char::is_whitespace).unwrap_or(tag.len()));
        // `<title />` is empty: the next `</title>` belongs to another.
        if attrs.trim_end().ends_with('/') {
            from = m.end();
            continue;
        }
        close.clear();
        close.push_str("</");
        close.push_str(name);
        close.push('>');
        let Some(len) = memchr::memmem::find(&text.as_bytes()[m.end()..], close.as_bytes()) else {
            break;
        };
        let inner = &text[m.end()..m.end() + len];
        // Most elements hold no markup outside CDATA: nothing to escape
        // and no structure to cross.
        if !outside_cdata(inner).any(|r| memchr::memchr(b'<', &inner.as_bytes()[r]).is_some()) {
            from = m.end() + len + close.len();
            continue;
        }
        // An element left unclosed reaches the next one's end tag: the
        // span then holds feed structure, not pasted HTML, and escaping it
        // would swallow the items in between. Tag balancing repairs it.
        if crosses_feed_structure(inner) {
            from = m.end();
            continue;
        }
        from = m.end() + len + close.len();
        let escaped = map_outside_cdata(inner, |t| t.replace('<', "&lt;"));
        // Nothing replaced: leave this element as it was.
        if escaped.len() == inner.len() {
            continue;
        }
        out.push_str(&text[last..m.end()]);
        out.push_str(&escaped);
        last = m.end() + len;
    }
    if last == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// True when `inner` (outside CDATA) holds a tag of the feed's own
/// structure, which HTML pasted into a text element never has.
fn crosses_feed_structure(inner: &str) -> bool {
    static STRUCTURE: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?i)</?(?:item|entry|channel|textinput|image)\b").expect("static regex")
    });
    outside_cdata(inner).any(|r| STRUCTURE.is_match(&inner[r]))
}

/// HTML elements that never have content. Publishers paste HTML into
/// descriptions unescaped, and `<br>` or `<img ...>` there is an unclosed
/// tag to an XML parser. (`source` and `link` are left out: RSS has
/// elements of those names with content.)
fn is_html_void(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "br" | "img" | "hr" | "input" | "wbr" | "area" | "col" | "embed" | "param" | "track"
    )
}

/// Closes what publishers leave open, for a second attempt after the XML
/// parser refused the document: HTML void elements become self-closing, an
/// end tag closes whatever was left open inside its element, an end tag
/// that closes nothing is dropped, a new `<item>`/`<entry>` closes an open
/// one (they never nest), and a `<` that starts no tag becomes `&lt;`.
/// A document that ends with elements still open was cut off: the item or
/// entry it was cut in is dropped whole and the rest closed, so every
/// complete entry is kept (as feedparser's loose mode does) and no half
/// entry is stored.
pub fn balance_tags(text: &str) -> String {
    static TAG: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(
            r#"(?s)<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|<!.*?>|<(/?)([A-Za-z_][\w.:-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(/?)>|<"#,
        )
        .expect("static regex")
    });
    let mut out = String::with_capacity(text.len() + 64);
    // Each open element, with where its start tag begins in `out`.
    let mut open: Vec<(&str, usize)> = Vec::new();
    let mut last = 0;
    for c in TAG.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        out.push_str(&text[last..m.start()]);
        last = m.end();
        let Some(name) = c.get(2).map(|n| n.as_str()) else {
            // A comment, CDATA, processing instruction, or a lone "<".
            if m.as_str() == "<" {
                out.push_str("&lt;");
            } else {
                out.push_str(m.as_str());
            }
            continue;
        };
        let closing = !c[1].is_empty();
        let self_closing = !c[4].is_empty();
        if closing {
            if let Some(at) = open.iter().rposition(|o| o.0 == name) {
                close_to(&mut open, &mut out, at + 1);
                open.pop();
                out.push_str(m.as_str());
            }
            // else: closes nothing, dropped.
            continue;
        }
        if is_html_void(name) && !self_closing {
            out.push_str(&format!("<{name}{}/>", &c[3]));
            continue;
        }
        if matches!(name, "item" | "entry")
            && let Some(at) = open.iter().rposition(|o| o.0 == name)
        {
            close_to(&mut open, &mut out, at);
        }
        if !self_closing {
            open.push((name, out.len()));
        }
        out.push_str(m.as_str());
    }
    out.push_str(&text[last..]);
    // Cut off: drop the entry it was cut in, close everything else.
    if let Some(at) = open.iter().position(|o| matches!(o.0, "item" | "entry")) {
        out.truncate(open[at].1);
        open.truncate(at);
    }
    close_to(&mut open, &mut out, 0);
    out
}

/// Closes the open elements deeper than `depth`, innermost first.
fn close_to(open: &mut Vec<(&str, usize)>, out: &mut String, depth: usize) {
    while open.len() > depth {
        if let Some((n, _)) = open.pop() {
            out.push_str(&format!("</{n}>"));
        }
    }
}

/// Decodes and repairs a feed body. JSON is only decoded.
pub fn prepare(bytes: &[u8], content_type: Option<&str>) -> Prepared {
    let (text, encoding) = decode(bytes, content_type);
    let is_json = text
        .trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n'])
        .starts_with('{');
    if is_json {
        return Prepared {
            text,
            encoding,
            repaired: None,
        };
    }
    // Each step borrows when it changes nothing, as for most documents.
    let prolog = strip_prolog(&text);
    let allowed = drop_forbidden(&prolog);
    let (refs, bare_ampersand) = fix_references_noting(&allowed);
    let escaped = escape_raw_html_in_rss(&refs);
    let versioned = fix_rss_version(&escaped);
    let rss090 = fix_rss090(&versioned);
    let atom_ns = fix_feed_namespace(&rss090);
    let atom = fix_atom03(&atom_ns);
    let text = match fix_element_types(&atom) {
        Cow::Owned(t) => t,
        // Nothing changed at all: keep the decoded text, uncopied.
        Cow::Borrowed(t) if std::ptr::eq(t, text.as_str()) => text,
        Cow::Borrowed(t) => t.to_owned(),
    };
    Prepared {
        text,
        encoding,
        repaired: bare_ampersand.then_some("an unescaped & in the text"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charsets_from_header_declaration_bom_and_detection() {
        let ru = "Россия и Япония";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(ru);
        let doc = [
            br#"<?xml version="1.0" encoding="windows-1251"?><t>"#.as_slice(),
            &cp1251,
            b"</t>",
        ]
        .concat();
        assert!(decode(&doc, None).0.contains(ru));

        let (koi, _, _) = encoding_rs::KOI8_R.encode(ru);
        let doc = [b"<t>".as_slice(), &koi, b"</t>"].concat();
        assert!(
            decode(&doc, Some("application/xml; charset=KOI8-R"))
                .0
                .contains(ru)
        );

        let ja = "日本とロシアの外相が会談";
        for enc in [
            encoding_rs::SHIFT_JIS,
            encoding_rs::EUC_JP,
            encoding_rs::ISO_2022_JP,
        ] {
            let (b, _, _) = enc.encode(ja);
            let doc = [
                format!("<?xml version=\"1.0\" encoding=\"{}\"?><t>", enc.name()).as_bytes(),
                &b,
                b"</t>",
            ]
            .concat();
            assert!(decode(&doc, None).0.contains(ja), "{}", enc.name());
        }

        let mut utf16: Vec<u8> = vec![0xFE, 0xFF];
        for u in "<?xml version=\"1.0\" encoding=\"UTF-16\"?><t>Япония</t>".encode_utf16() {
            utf16.extend(u.to_be_bytes());
        }
        assert!(prepare(&utf16, None).text.contains("<t>Япония</t>"));
    }

    #[test]
    fn rfc3023_content_types_decide_the_charset() {
        // text/xml without a charset: us-ascii, the declaration unread.
        let ascii = br#"<?xml version="1.0" encoding="utf-16"?><t>plain</t>"#;
        assert_eq!(decode(ascii, Some("text/xml")).1, "us-ascii");
        assert!(decode(ascii, Some("text/xml")).0.contains("<t>plain</t>"));
        // ...but non-ASCII bytes cannot be us-ascii: the declaration decides.
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("Москва");
        let doc = [
            br#"<?xml version="1.0" encoding="windows-1251"?><t>"#.as_slice(),
            &cp1251,
            b"</t>",
        ]
        .concat();
        assert!(decode(&doc, Some("text/xml")).0.contains("Москва"));
        assert!(decode(&doc, Some("application/xml")).0.contains("Москва"));
        assert!(
            decode(&doc, Some("application/atom+xml"))
                .0
                .contains("Москва")
        );
        // A charset parameter overrides the declaration.
        let (koi, _, _) = encoding_rs::KOI8_R.encode("Москва");
        let lying = [
            br#"<?xml version="1.0" encoding="windows-1251"?><t>"#.as_slice(),
            &koi,
            b"</t>",
        ]
        .concat();
        assert!(
            decode(&lying, Some("application/rss+xml; charset=\"KOI8-R\""))
                .0
                .contains("Москва")
        );
        // Bogus charsets fall back to the declaration.
        for ct in [
            "text/xml; charset=no-such-charset",
            "application/xml; charset=utf-16",
            "application/xml; charset=iso-2022-kr",
        ] {
            assert!(decode(&doc, Some(ct)).0.contains("Москва"), "{ct}");
        }
        // A UTF-16 declaration on 8-bit bytes is impossible too.
        assert!(
            decode(ascii, Some("application/xml"))
                .0
                .contains("<t>plain</t>")
        );
    }

    #[test]
    fn a_latin1_label_on_utf8_bytes_is_overruled() {
        let doc = "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>café</t>".as_bytes();
        assert!(decode(doc, None).0.contains("café"));
        assert!(
            decode(doc, Some("text/xml; charset=iso-8859-1"))
                .0
                .contains("café")
        );
        // Real Latin-1 bytes stay Latin-1.
        let doc = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><t>caf\xe9</t>";
        assert!(decode(doc, None).0.contains("café"));
    }

    #[test]
    fn undeclared_windows_1252_is_detected() {
        let doc = b"<rss><channel><title>Caf\xe9 na\xefve \x96 cr\xe8me br\xfbl\xe9e</title></channel></rss>";
        assert!(decode(doc, None).0.contains("Café naïve – crème brûlée"));
    }

    #[test]
    fn doctype_and_entities_are_defused() {
        let doc = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;"><!ENTITY x SYSTEM "file:///etc/passwd">]>
<rss><channel><title>&lol2; &x; &nbsp;caf&eacute; AT&T &#1;ok &#233;</title></channel></rss>"#;
        let p = prepare(doc.as_bytes(), None);
        assert!(!p.text.contains("DOCTYPE"), "{}", p.text);
        assert!(
            p.text
                .contains("&amp;lol2; &amp;x; &#160;caf&#233; AT&amp;T ok &#233;"),
            "{}",
            p.text
        );
    }

    /// The regex rewrite `fix_references` replaced, kept as the reference
    /// the hand-written scanner must agree with.
    fn fix_references_by_regex(text: &str) -> String {
        let re = Regex::new(r"&(#[0-9]{1,8};|#[xX][0-9a-fA-F]{1,7};|[A-Za-z][A-Za-z0-9]{0,31};)?")
            .unwrap();
        map_outside_cdata(text, |seg: &str| {
            re.replace_all(seg, |c: &Captures| {
                let Some(r) = c.get(1) else {
                    return "&amp;".to_owned();
                };
                let r = r.as_str();
                let body = &r[..r.len() - 1];
                if let Some(num) = body.strip_prefix('#') {
                    let v = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => num.parse().ok(),
                    };
                    return match v.and_then(char::from_u32) {
                        Some(ch) if is_xml_char(ch) => format!("&{}", r.replacen("#X", "#x", 1)),
                        _ => String::new(),
                    };
                }
                if matches!(body, "amp" | "lt" | "gt" | "quot" | "apos") {
                    return format!("&{r}");
                }
                let decoded = html_escape::decode_html_entities(&c[0]).into_owned();
                if decoded != c[0] {
                    decoded
                        .chars()
                        .map(|ch| format!("&#{};", ch as u32))
                        .collect()
                } else {
                    format!("&amp;{r}")
                }
            })
            .into_owned()
        })
    }

    proptest::proptest! {
        #[test]
        fn the_reference_scanner_agrees_with_the_regex_it_replaced(
            text in "([&#;xX0-9a-fA-Fnbspamlgtuoé <>\\[\\]!CDAT]|&nbsp;|&#1;|&#x1F600;|<!\\[CDATA\\[|\\]\\]>){0,40}"
        ) {
            proptest::prop_assert_eq!(fix_references(&text).into_owned(), fix_references_by_regex(&text));
        }
    }

    #[test]
    fn references_at_the_edges_of_their_limits() {
        for (input, want) in [
            ("&#12345678;", ""),
            ("&#123456789;", "&amp;#123456789;"),
            ("&#x10FFFF;", "&#x10FFFF;"),
            ("&#X26;", "&#x26;"),
            ("&#x1234567;", ""),
            ("&#x12345678;", "&amp;#x12345678;"),
            ("&#;", "&amp;#;"),
            ("&#x;", "&amp;#x;"),
            ("&", "&amp;"),
            ("a&b", "a&amp;b"),
            ("&amp;&lt;&gt;&quot;&apos;", "&amp;&lt;&gt;&quot;&apos;"),
            ("&eacute;", "&#233;"),
            (
                "&a234567890123456789012345678901;",
                "&amp;a234567890123456789012345678901;",
            ),
        ] {
            assert_eq!(fix_references(input), want, "{input}");
            assert_eq!(fix_references_by_regex(input), want, "{input}");
        }
        // Nothing to change: the text is not copied.
        assert!(matches!(
            fix_references("a &amp; b &#233;"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_doctype_after_a_comment_is_found_and_one_in_the_body_is_text() {
        let doc = "<!-- <b> --><!DOCTYPE rss [<!ENTITY x \"y\">]><rss><channel><title>t</title></channel></rss>";
        assert!(!strip_prolog(doc).contains("DOCTYPE"));
        let body = "<rss><channel><title>&lt;!DOCTYPE</title><description><![CDATA[<!DOCTYPE x>]]></description></channel></rss>";
        assert_eq!(strip_prolog(body), body);
    }

    #[test]
    fn cdata_is_left_alone() {
        let t = fix_references("<a>&nbsp;</a><b><![CDATA[AT&T &nbsp;]]></b>");
        assert_eq!(t, "<a>&#160;</a><b><![CDATA[AT&T &nbsp;]]></b>");
    }

    #[test]
    fn rss_versions_and_atom03_are_normalised() {
        assert!(fix_rss_version("<rss><channel/></rss>").starts_with("<rss version=\"2.0\">"));
        assert!(
            fix_rss_version("<rss version=\"0.94\" x=\"1\">").contains("version=\"2.0\" x=\"1\"")
        );
        assert_eq!(
            fix_rss_version("<rss version=\"0.91\">"),
            "<rss version=\"0.91\">"
        );
        let a = fix_atom03(
            "<feed xmlns=\"http://purl.org/atom/ns#\"><entry><issued>x</issued><modified>y</modified></entry></feed>",
        );
        assert!(
            a.contains("<published>x</published><updated>y</updated>"),
            "{a}"
        );
        assert!(a.contains("http://www.w3.org/2005/Atom"));
    }

    #[test]
    fn raw_html_in_rss_text_elements_is_escaped() {
        let doc = "<rss><channel><item><title>A <b>bold</b> move</title>\
                   <description><p>One<br>two</p><![CDATA[<i>kept</i>]]></description>\
                   <content:encoded><![CDATA[<p>fine</p>]]></content:encoded></item></channel></rss>";
        assert_eq!(
            escape_raw_html_in_rss(doc),
            "<rss><channel><item><title>A &lt;b>bold&lt;/b> move</title>\
             <description>&lt;p>One&lt;br>two&lt;/p><![CDATA[<i>kept</i>]]></description>\
             <content:encoded><![CDATA[<p>fine</p>]]></content:encoded></item></channel></rss>"
        );
        let empty = "<rss><item><title /><link>x</link></item><item><title>y</title></item></rss>";
        assert_eq!(escape_raw_html_in_rss(empty), empty);
        // Atom's xhtml content is real markup.
        let atom = "<feed><entry><summary><div>x</div></summary></entry></feed>";
        assert_eq!(escape_raw_html_in_rss(atom), atom);
    }

    #[test]
    fn unclosed_tags_are_balanced_and_truncation_is_not() {
        let doc = "<rss><channel><item><description><p>a<br>b <img src=\"x\"></description></item>\
                   <item><title>1 < 2</title></channel></rss></stray>";
        assert_eq!(
            balance_tags(doc),
            "<rss><channel><item><description><p>a<br/>b <img src=\"x\"/></p></description></item>\
             <item><title>1 &lt; 2</title></item></channel></rss>"
        );
        // Unclosed items are siblings, not nested.
        assert_eq!(
            balance_tags("<c><item>a<item>b</item></c>"),
            "<c><item>a</item><item>b</item></c>"
        );
        // Cut off: the complete items are kept, the one it was cut in is
        // dropped, and so is a truncated CDATA section with it.
        assert_eq!(
            balance_tags("<rss><channel><item><title>x</title></item><item><title>y</title>"),
            "<rss><channel><item><title>x</title></item></channel></rss>"
        );
        assert_eq!(
            balance_tags("<rss><channel><title>t</title><item><description><![CDATA[<p>cut"),
            "<rss><channel><title>t</title></channel></rss>"
        );
        // CDATA and comments are left alone.
        let t = "<a><![CDATA[<b>]]><!-- <c> --></a>";
        assert_eq!(balance_tags(t), t);
    }

    #[test]
    fn atom_text_types_become_what_feed_rs_reads() {
        for (ty, mode, want) in [
            (None, None, (TextKind::Text, false)),
            (Some(""), None, (TextKind::Text, false)),
            (Some("text/plain"), None, (TextKind::Text, false)),
            (Some("text/html"), Some("escaped"), (TextKind::Html, false)),
            (Some("text/html"), Some("xml"), (TextKind::Xhtml, false)),
            (
                Some("application/xhtml+xml"),
                None,
                (TextKind::Xhtml, false),
            ),
            (
                Some("application/xhtml+xml"),
                Some("escaped"),
                (TextKind::Html, false),
            ),
            (Some("text/plain"), Some("base64"), (TextKind::Text, true)),
            (
                Some("application/octet-stream"),
                None,
                (TextKind::Text, true),
            ),
            (Some("invalid"), None, (TextKind::Text, false)),
            (Some("image/svg+xml"), None, (TextKind::Xhtml, false)),
        ] {
            assert_eq!(text_kind(ty, mode), want, "{ty:?} {mode:?}");
        }
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="application/xhtml+xml"><div xmlns="http://www.w3.org/1999/xhtml">A <b>b</b></div></title>
<entry><title type="text/plain" mode="escaped">AT&amp;T</title><summary type="">s</summary>
<content type="application/octet-stream" mode="base64">SGVsbG8g/HdvcmxkIQ==</content></entry>
<entry><title type="text/html" mode="base64">PGI+Qm9sZDwvYj4=</title><content src="/x" type="html">stray</content></entry></feed>"#;
        let t = fix_element_types(doc);
        assert!(t.contains(r#"<title type="xhtml"><div"#), "{t}");
        assert!(t.contains(r#"<title type="text">AT&amp;T</title>"#), "{t}");
        assert!(t.contains(r#"<summary type="text">s</summary>"#), "{t}");
        // Not UTF-8 once decoded: dropped, not the feed.
        assert!(t.contains(r#"<content type="text"></content>"#), "{t}");
        assert!(
            t.contains(r#"<title type="html">&lt;b&gt;Bold&lt;/b&gt;</title>"#),
            "{t}"
        );
        assert!(t.contains(r#"<content src="/x"></content>"#), "{t}");
        // The three types feed-rs knows: the document is not copied.
        let plain =
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">x</title></feed>"#;
        assert!(matches!(fix_element_types(plain), Cow::Borrowed(_)));
        // An XHTML title inside content is not Atom's.
        let inner = r#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><title type="odd">t</title></div></content></entry></feed>"#;
        assert_eq!(fix_element_types(inner), inner);
    }

    #[test]
    fn element_fixes_survive_every_cut_of_a_document() {
        // Every prefix (a truncated download) of documents that take every
        // path: no panic, edits in order, and the result still parses or
        // fails cleanly.
        let docs = [
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"><title type="text/plain" mode="escaped">A&amp;B</title>
<entry><title type="text/html" mode="base64">PGI+QjwvYj4=</title><content src="/x" type="pdf">body</content><media:title/><media:description type="text">d</media:description></entry></feed>"#,
            r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><item rdf:about="https://x.example/é"><title>Ж</title></item><item><title>y</title></item></rdf:RDF>"#,
        ];
        for doc in docs {
            let mut cut = 0;
            while cut <= doc.len() {
                let prefix = &doc[..cut];
                let _ = prepare(prefix.as_bytes(), Some("application/xml"));
                let _ = crate::parse::parse_feed("https://x.example/f", prefix.as_bytes(), None);
                cut += 1;
                while !doc.is_char_boundary(cut.min(doc.len())) {
                    cut += 1;
                }
            }
        }
    }

    #[test]
    fn rss090_media_and_rdf_items_without_links_are_read() {
        let doc = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><item><title>t</title><link>https://x.example/1</link></item></rdf:RDF>"#;
        assert!(fix_rss090(doc).contains(r#"xmlns="http://purl.org/rss/1.0/""#));
        let rdf = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><item rdf:about="https://x.example/a?b=1&amp;c=2"><title>t</title></item><item rdf:about="https://x.example/b"><link>https://x.example/c</link></item></rdf:RDF>"#;
        let t = fix_element_types(rdf);
        assert!(
            t.contains("<title>t</title><link>https://x.example/a?b=1&amp;c=2</link></item>"),
            "{t}"
        );
        assert_eq!(t.matches("<link>").count(), 2, "{t}");
        let media = r#"<rss xmlns:media="http://search.yahoo.com/mrss/"><channel><item><media:title type="text/html">Yum</media:title><media:description type="">d</media:description></item></channel></rss>"#;
        let t = fix_element_types(media);
        assert!(t.contains(r#"<media:title type="html">Yum"#), "{t}");
        assert!(t.contains(r#"<media:description type="plain">d"#), "{t}");
        let lone = r#"<rss xmlns:media="http://search.yahoo.com/mrss/"><channel><item><title>t</title><media:title></media:title></item></channel></rss>"#;
        assert!(!fix_element_types(lone).contains("media:title"));
        // Media's own types are MIME types and stay; empty text goes.
        let media = r#"<rss xmlns:media="http://search.yahoo.com/mrss/"><channel><item><media:content url="https://x.example/v.mp4" type="video/mp4"><media:title type="plain"> </media:title></media:content><media:description/></item></channel></rss>"#;
        let t = fix_element_types(media);
        assert_eq!(
            t,
            r#"<rss xmlns:media="http://search.yahoo.com/mrss/"><channel><item><media:content url="https://x.example/v.mp4" type="video/mp4"></media:content></item></channel></rss>"#
        );
        let wrong =
            r#"<!-- c --><feed xmlns="http://www.w3.org/2005/atom"><title>x</title></feed>"#;
        assert!(
            fix_feed_namespace(wrong).contains(r#"<feed xmlns="http://www.w3.org/2005/Atom">"#)
        );
    }

    #[test]
    fn a_utf8_label_on_legacy_bytes_is_overruled() {
        let ru = "Москва и Токио";
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode(ru);
        let doc = [
            br#"<?xml version="1.0" encoding="UTF-8"?><t>"#.as_slice(),
            &cp1251,
            b"</t>",
        ]
        .concat();
        assert!(decode(&doc, None).0.contains(ru));
        assert!(decode(&doc, Some("text/xml; charset=utf-8")).0.contains(ru));
        // One stray byte in UTF-8 text does not make it another encoding.
        let doc = [ru.as_bytes(), b"\xff"].concat();
        assert!(decode(&doc, Some("text/xml; charset=utf-8")).0.contains(ru));
    }

    #[test]
    fn control_characters_are_removed() {
        let p = prepare(
            b"<rss><channel><title>a\x01b\x0bc</title></channel></rss>",
            None,
        );
        assert!(p.text.contains("<title>abc</title>"), "{}", p.text);
    }

    #[test]
    fn web_pages_name_their_feed() {
        let html = r#"<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/s.css"><link rel="alternate" type="application/rss+xml" title="RSS" href="/feed.xml?a=1&amp;b=2">
</head></html>"#;
        assert!(looks_like_html(html));
        assert_eq!(
            alternate_feed_link(html, "https://news.example/section/").as_deref(),
            Some("https://news.example/feed.xml?a=1&b=2")
        );
    }
}
