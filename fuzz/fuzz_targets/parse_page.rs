//! Any bytes, read as UTF-8 (lossily), as a page: `parse_page` must not panic, and what it returns must
//! keep the invariants of `docktest_fuzz::check_page`.

#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mdbook_docktest::markdown::summary_chapters;
use mdbook_docktest::snippet::{parse_page_with, Prompts};

// `parse_page` is `parse_page_with` the default prompts, compiled anew on every call: compiled once here,
// the target runs several times faster.
static PROMPTS: LazyLock<Prompts> = LazyLock::new(Prompts::default);

fuzz_target!(|data: &[u8]| {
    let content = String::from_utf8_lossy(data);
    let path = Path::new("src/fuzz.md");
    let result = parse_page_with(path, &content, &PROMPTS);
    if let Err(violation) = docktest_fuzz::check_page(path, &content, &result) {
        panic!("{violation}\ninput: {content:?}\nresult: {result:#?}");
    }
    // The same text as a SUMMARY.md: reading its chapter list must not panic either.
    let _ = summary_chapters(&content);
});
