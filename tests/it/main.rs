//! docktest's integration tests, one binary with a module per area (laid out like mdBook's own
//! `tests/testsuite/`). The tests run on parallel threads: every test that uses the engine holds
//! `support::lock_engine` for its whole duration; the others (replays of recorded snapshots, usage errors
//! found before any engine work, the property tests) run beside them.
//!
//! `cargo test --test it AREA::` runs one area, e.g. `cargo test --test it replay::`.

/// A fresh book outside this repository adopts docktest as the authors' chapter says.
mod adopt;
/// The whole guide against the engine, each transcript against its snapshot.
mod book;
/// `mdbook-docktest test` on fixture books: stale output, timeouts, other people's objects.
mod cli;
/// Blocks for some engines only (`engines=`), and the badge naming every engine of the matrix.
mod engines;
/// Each error message for bad input and unusable engines.
mod errors;
/// Cleanup under faults: Ctrl-C, SIGKILL then `clean`, an engine restart, an unwritable snapshot folder.
mod faults;
/// No debris on any engine of the pool: the label on what pages create, `clean` over every engine, signals
/// under `--jobs`, an engine that dies mid-run.
mod orphans;
/// Property tests of the Markdown parser and book.toml options, sharing the fuzz targets' invariants.
mod parser_props;
/// An engine reached through `ssh://`, as the docker CLI reaches one.
mod remote;
/// `mdbook build` with the preprocessor, replaying recorded snapshots, and the badge in headless Chromium.
mod replay;
/// `review`, `accept`, `reject` and `init` in a folder with no cargo project.
mod review;
/// The sealed engine: no route off the machine, stock from inside, its namespace shared by the terminals.
mod safety;
/// The sandbox: powers beyond an ordinary container's refused unless a block or the book allows them.
mod sandbox;
/// Container sessions and named terminals.
mod sessions;
mod support;
/// The chapter's picture of its network, from the run to the browser.
mod topology;
/// Guides in other people's styles, run as written.
mod tutorials;
/// `mdbook-docktest test --update` and `--junit`.
mod update;
