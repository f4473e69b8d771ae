//! Topic queries from config.toml: parsing, compiling and matching against
//! an item. Must never panic; linear time is checked by the property tests.
#![no_main]

use libfuzzer_sys::fuzz_target;

use feedsift::topics::{Aliases, Document, ItemText, compile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // First line: the query; the rest: the item's title and summary.
    let (query, item) = text.split_once('\n').unwrap_or((text, "Japan and Russia"));
    let mut aliases = Aliases::new();
    aliases.insert(
        "a".into(),
        vec!["Japan".into(), "Росси*".into(), "日本".into(), "@b".into()],
    );
    aliases.insert(
        "b".into(),
        vec!["\"peace treaty\"~3".into(), "/kuril\\w*/".into()],
    );
    if let Ok(m) = compile(query, &aliases) {
        let doc = Document::new(&ItemText {
            title: item,
            summary_html: Some(item),
            ..Default::default()
        });
        let _ = m.matches(&doc);
        let _ = m.explain(&doc);
    }
});
