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

/// For pending snapshots in `dir`. cargo-insta finds them through the cargo package that holds them.
pub(crate) fn review(dir: &Path) -> String {
    format!(
        "review the pending snapshots in {} with `cargo insta review` (or accept them all with `cargo \
         insta accept`), run in the cargo project that holds that folder",
        dir.display()
    )
}

/// For a book whose examples are not all verified, when `mdbook build` refuses to build it.
pub(crate) fn unverified(book_root: &Path, snapshot_dir: &Path) -> String {
    format!(
        "verify them with `{VERIFY} {}`, then {} (or set on-unverified = \"warn\" under \
         [preprocessor.docktest] to publish them marked as not verified)",
        book_root.display(),
        review(snapshot_dir)
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
