//! docktest keeps a Docker networking guide true.
//!
//! The crate is shaped like its pipeline; each module is one stage (ARCHITECTURE.md says what each owns):
//!
//! ```text
//! book.toml, SUMMARY.md ──book──▶ pages
//! book/src/*.md ──markdown──▶ fences with spans and layout ──snippet──▶ Page { blocks { steps } }
//!      ──engine──▶ output, exit status, timing per command, against a real Docker engine
//!      ──redact / matching──▶ verdict against the page's expected output
//!      ──snapshot──▶ transcripts in snapshots/*.snap (insta format)
//!      ──runner──▶ a run of the book ──cli / report / update──▶ report, exit code, rewritten pages
//! snapshots ──preprocessor──▶ the published book (a replay: no engine)
//! ```
//!
//! `engine` is the only module that talks to Docker or spawns terminals; `matching` is the only one that
//! decides whether output matches. Reading the book, the snapshots and the pages is file I/O in `book`,
//! `config`, `snapshot`, `preprocessor` and `cli`; the grammar (`markdown`, `snippet`) and the matcher
//! (`redact`, `matching`) are pure.
//!
//! The library is what the binary, the test suite and programs that drive mdBook need: load a [`book`],
//! connect an [`engine`], [`runner::run_book`], replay snapshots with [`preprocessor`]; the grammar
//! ([`snippet`]), the matcher ([`matching`], [`redact`]) and the snapshot files ([`snapshot`]).

pub mod book;
pub mod cli;
pub mod config;
pub mod engine;
mod hints;
mod markdown;
pub mod matching;
mod memo;
pub mod preprocessor;
pub mod redact;
mod replay_cache;
mod report;
mod review;
pub mod runner;
pub mod snapshot;
pub mod snippet;
mod update;

pub use markdown::summary_chapters;

/// An error and its causes on one line: `what: why: deeper why`.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
