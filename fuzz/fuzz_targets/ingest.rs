//! Bytes from the network into items: the charset and repair layer, then
//! the feed parser. Must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The content type comes from the server too: let the input pick one.
    let content_type = match data.first().map(|b| b % 5) {
        Some(0) => Some("application/rss+xml; charset=windows-1251"),
        Some(1) => Some("application/json"),
        Some(2) => Some("text/html"),
        // RFC 3023's us-ascii default (see parse::prepare::decode).
        Some(3) => Some("text/xml"),
        _ => None,
    };
    let _ = feedsift::parse::parse_feed("https://example.org/feed", data, content_type);
});
