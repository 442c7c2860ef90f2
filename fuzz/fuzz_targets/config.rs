//! Any bytes, read as UTF-8 (lossily), as a book.toml: `Config::parse` must not panic, and an error must
//! keep the invariants of `docktest_fuzz::check_config`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mdbook_docktest::config::Config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let result = Config::parse(&text);
    if let Err(violation) = docktest_fuzz::check_config(&text, &result) {
        panic!("{violation}\ninput: {text:?}");
    }
});
