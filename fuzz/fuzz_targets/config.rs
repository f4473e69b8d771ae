//! config.toml as an operator (or a typo) may write it: refused with a
//! located error or accepted, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match feedsift::config::Config::from_str(std::path::Path::new("config.toml"), text) {
        Ok(_) => {}
        // Rendering the error (line, caret) must not panic either.
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
