//! What the user can do about a problem: every `hint:` docktest prints is worded here, once.

use std::path::Path;

use crate::engine::EngineError;

/// The command that verifies a book and records its snapshots: the fix for every unverified block.
pub(crate) const VERIFY: &str = "mdbook-docktest test";

/// For an engine docktest cannot use.
pub(crate) fn engine(e: &EngineError) -> Option<String> {
    match e {
        EngineError::Connect { .. } => Some(
            "start docktest's sealed engine with `sudo scripts/engine-start`, or point DOCKER_HOST at a \
             running engine"
                .to_string(),
        ),
        EngineError::TooOld { .. } => Some("upgrade the engine to Docker 20.10 or newer".to_string()),
        EngineError::SealedNamespaceMissing { .. } => Some(
            "restart the engine with `sudo scripts/engine-stop`, then `sudo scripts/engine-start` (with the \
             DOCKTEST_NETNS_NAME, DOCKTEST_STATE and DOCKTEST_RUN it was started with), or set DOCKTEST_NETNS \
             to the network namespace it runs in"
                .to_string(),
        ),
        EngineError::NetnsMissing { .. } => Some(
            "set DOCKTEST_NETNS to the network namespace the engine runs in (`eval \"$(sudo \
             scripts/engine-start)\"` sets it), or unset it for an engine that runs in this machine's own"
                .to_string(),
        ),
        _ => None,
    }
}

/// For a `--jobs` larger than the engines at hand.
pub(crate) fn more_engines(jobs: usize) -> String {
    format!(
        "start {jobs} sealed engines with `sudo scripts/engine-start {jobs}`, or name more with --engine \
         or DOCKTEST_ENGINES"
    )
}

/// For a matrix entry that names no engine kind.
pub(crate) fn engine_kinds() -> String {
    "name engine kinds as `docker`, `podman`, or a product and a version: `docker-20.10`, `docker-26.1`, \
     `podman-4.3`"
        .to_string()
}

/// For an engine kind of the matrix that no engine at hand is.
pub(crate) fn start_kind(kind: &str) -> String {
    format!(
        "start one with `eval \"$(DOCKTEST_ENGINE_KIND={kind} sudo -E scripts/engine-start 1)\"` and list it in \
         DOCKTEST_ENGINES, or name its DOCKER_HOST with --engine"
    )
}

/// For pending snapshots in `dir`, of the book at `book_root`.
pub(crate) fn review(book_root: &Path, dir: &Path) -> String {
    format!(
        "review the pending snapshots in {} with `mdbook-docktest review {}` (or accept them all with \
         `mdbook-docktest accept {}`)",
        dir.display(),
        book_root.display(),
        book_root.display()
    )
}

/// For new or changed snapshots found where nothing is written (CI=true).
pub(crate) fn record_locally(book_root: &Path) -> String {
    format!(
        "CI=true writes no snapshot: run `{VERIFY} {root}` on your machine, review what it writes with \
         `mdbook-docktest review {root}`, and commit the snapshots",
        root = book_root.display()
    )
}

/// For `review` without a terminal to ask on.
pub(crate) fn review_needs_terminal(book_root: &Path) -> String {
    format!(
        "run it in a terminal, or accept every pending snapshot with `mdbook-docktest accept {}` (`mdbook-docktest \
         reject {}` drops them)",
        book_root.display(),
        book_root.display()
    )
}

/// For a command given a folder with no book.toml.
pub(crate) fn no_book(book_root: &Path) -> String {
    format!(
        "pass the folder that holds the book's book.toml (`.` when it is this one), or create a book there \
         with `mdbook init {}`",
        book_root.display()
    )
}

/// For a book whose examples are not all verified, when `mdbook build` refuses to build it.
pub(crate) fn unverified(book_root: &Path, snapshot_dir: &Path) -> String {
    format!(
        "verify them with `{VERIFY} {}`, then {} (or set on-unverified = \"warn\" under \
         [preprocessor.docktest] to publish them marked as not verified)",
        book_root.display(),
        review(book_root, snapshot_dir)
    )
}

/// For a book published with examples marked as not verified.
pub(crate) fn unverified_published(book_root: &Path) -> String {
    format!("verify them with `{VERIFY} {}`", book_root.display())
}

/// For a page the preprocessor cannot parse.
pub(crate) fn fix_the_block() -> String {
    format!("fix the block; `{VERIFY}` reports the same errors")
}

/// For the preprocessor run by hand, with no mdBook input.
pub(crate) fn preprocessor_needs_mdbook() -> String {
    "run `mdbook build` on a book with a [preprocessor.docktest] table, or `mdbook-docktest test` to \
     verify a book"
        .to_string()
}

/// For `--update` under `CI=true`.
pub(crate) fn update_locally() -> String {
    "run `mdbook-docktest test --update` on your machine and commit the pages it changes"
        .to_string()
}

/// For a `--filter` that selects no page.
pub(crate) fn filter() -> String {
    "check --filter against the chapter paths in SUMMARY.md".to_string()
}

/// For a snapshot folder docktest cannot write to.
pub(crate) fn writable(dir: &Path) -> String {
    format!(
        "make {} writable, or point `snapshots` under [preprocessor.docktest] in book.toml at a folder \
         that is",
        dir.display()
    )
}

/// For a request the page's sandbox refused: the grant on the block at `place` (`src/page.md:12`), or for
/// the whole book.
pub(crate) fn allow(place: &str, grant: &str) -> String {
    format!(
        "if the page is meant to do this, allow it on the block with `allow=\"{grant}\"` in its fence at \
         {place}, or for every block of the book with `allow = [\"{grant}\"]` under \
         [preprocessor.docktest] in book.toml"
    )
}
