//! Blocks for some engine kinds only (`engines=`) and the trace a matrix run leaves for the badge, on a
//! fixture book whose matrix has two kinds naming the one engine CI has (`docker`, `docker-20.10`).

use std::path::Path;
use std::process::Command;

use crate::support::{self, docktest, fixture_copy, test_book, BIN};

const SHARED: &str = "snapshots/src-page__a-page-for-some-engines-1.snap";

/// The badges' texts of a chapter that `mdbook build` wrote, in page order.
fn badges(book: &Path) -> Vec<String> {
    let dest = tempfile::tempdir().unwrap();
    let out = Command::new("mdbook")
        .arg("build")
        .arg(book)
        .arg("-d")
        .arg(dest.path())
        .env("MDBOOK_PREPROCESSOR__DOCKTEST__COMMAND", BIN)
        .output()
        .expect("mdbook 0.5.4 on PATH (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(dest.path().join("page.html")).unwrap();
    // The badge's words are its data-text, which docktest's stylesheet draws (mdBook writes attributes
    // with `'` and a backslash as entities too).
    html.split("<div class=\"docktest-badge ")
        .skip(1)
        .filter_map(|rest| rest.split_once(" data-text=\""))
        .map(|(_, text)| {
            text.split('"')
                .next()
                .unwrap_or_default()
                .replace("&#39;", "'")
                .replace("&#92;", "\\")
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        })
        .collect()
}

// A block for other engines is not run there (reported as ignored, with why), the page's later blocks still
// run; the second kind's run that matched the first kind's snapshot records itself in it (an author's run
// only: CI=true writes nothing), and the built book names the engine and says which blocks are for whom.
#[test]
fn blocks_for_some_engines_and_the_trace_of_every_kind() {
    let engine = support::locked_engine();
    let book = fixture_copy("engines");
    let run = || {
        test_book(book.path())
            .env_remove("DOCKTEST_ENGINES")
            .without_ci()
    };
    let first = run().run();
    assert_eq!(first.code, Some(1), "{first}");
    let accepted = docktest(["accept"]).arg(book.path()).run();
    assert!(accepted.success(), "{accepted}");
    let before = std::fs::read_to_string(book.path().join(SHARED)).unwrap();
    assert!(!before.contains("verified_on"), "{before}");

    // CI: verified on both kinds, nothing written.
    let ci = test_book(book.path()).env_remove("DOCKTEST_ENGINES").run();
    assert_eq!(ci.code, Some(0), "{ci}");
    assert_eq!(
        std::fs::read_to_string(book.path().join(SHARED)).unwrap(),
        before
    );
    let stdout = &ci.stdout;
    assert!(
        stdout.contains("4 verified, 0 failed, 2 ignored"),
        "{stdout}"
    );
    assert!(stdout.contains("reason: not for docker 20.10."), "{stdout}");
    for row in [
        ["src/page.md:3", "verified", "verified"],
        ["src/page.md:10", "ignored", "ignored"],
        ["src/page.md:17", "verified", "verified"],
    ] {
        assert!(
            stdout.lines().any(|l| l.split_whitespace().eq(row)),
            "{row:?}\n{stdout}"
        );
    }

    // An author's run: the second kind's match is kept in the shared snapshot, once.
    let author = run().run();
    assert_eq!(author.code, Some(0), "{author}");
    let marked = std::fs::read_to_string(book.path().join(SHARED)).unwrap();
    assert!(
        marked.contains("  verified_on: \"docker-20.10: Docker 20.10."),
        "{marked}"
    );
    assert!(run().run().success());
    assert_eq!(
        std::fs::read_to_string(book.path().join(SHARED)).unwrap(),
        marked
    );

    let shown = badges(book.path());
    assert_eq!(shown.len(), 3, "{shown:?}");
    assert!(
        shown[0].starts_with("Verified on Docker 20.10.") && !shown[0].contains("not verified"),
        "{shown:?}"
    );
    assert_eq!(
        shown[1],
        "On Podman. Not run: not verified on this book's engines (Docker and Docker 20.10)"
    );
    assert!(
        shown[2].starts_with("On Docker; not on Podman. Verified on Docker 20.10."),
        "{shown:?}"
    );
    engine.assert_left_as_found();
}

/// The Docker 26.1 engine `scripts/test` starts beside the Docker 20.10 ones.
fn docker26() -> String {
    std::env::var("DOCKTEST_DOCKER26").unwrap_or_else(|_| {
        panic!(
            "no Docker 26.1 engine: run the suite with scripts/test, or start one with \
             `DOCKTEST_ENGINE_KIND=docker-26.1 scripts/engine-start 1` and set DOCKTEST_DOCKER26 to its DOCKER_HOST"
        )
    })
}

// The guide's matrix for real, Docker 20.10 and 26.1: a block for each engine runs on its own only, each
// verified block names the engines it was verified on, the one both print alike names both, and an output
// that changes on one engine only fails there, in that engine's column.
#[test]
fn docker_20_10_and_26_1() {
    let engine = support::locked_engine();
    let newer = docker26();
    let book = fixture_copy("engines-26");
    let run = || {
        test_book(book.path())
            .env_remove("DOCKTEST_ENGINES")
            .without_ci()
            .arg("--engine")
            .arg(&support::endpoint().host)
            .arg("--engine")
            .arg(&newer)
            .run()
    };
    let first = run();
    assert_eq!(first.code, Some(1), "{first}");
    assert!(docktest(["accept"]).arg(book.path()).run().success());
    let second = run();
    assert_eq!(second.code, Some(0), "{second}");
    for row in [
        ["src/page.md:5", "verified", "ignored"],
        ["src/page.md:12", "ignored", "verified"],
        ["src/page.md:19", "verified", "verified"],
    ] {
        assert!(
            second.stdout.lines().any(|l| l.split_whitespace().eq(row)),
            "{row:?}\n{second}"
        );
    }
    let shown = badges(book.path());
    assert!(
        shown[0].starts_with("On Docker before 23. Verified on Docker 20.10.24, "),
        "{shown:?}"
    );
    assert!(
        shown[1].starts_with("On Docker 23 and later. Verified on Docker 26.1.5, "),
        "{shown:?}"
    );
    assert!(
        shown[2].starts_with("Verified on Docker 20.10.24 and Docker 26.1.5, "),
        "{shown:?}"
    );

    let page = book.path().join("src/page.md");
    let text = std::fs::read_to_string(&page).unwrap();
    std::fs::write(
        &page,
        text.replace("{{.Server.Os}}'\nlinux", "{{.Server.APIVersion}}'\n1.41"),
    )
    .unwrap();
    let changed = run();
    assert_eq!(changed.code, Some(1), "{changed}");
    assert!(changed.stdout.contains("-1.41\n      +1.45\n"), "{changed}");
    assert!(
        changed.stdout.lines().any(|l| l.split_whitespace().eq([
            "src/page.md:19",
            "snapshot",
            "changed",
            "FAILED"
        ])),
        "{changed}"
    );
    engine.assert_left_as_found();
}

// An `engines=` form outside the grammar is bad input: exit 2 naming file:line and the forms there are,
// before any engine work, nothing written.
#[test]
fn an_unknown_engines_form_exits_2_with_file_line() {
    let book = fixture_copy("engines");
    let page = book.path().join("src/page.md");
    let text = std::fs::read_to_string(&page).unwrap();
    std::fs::write(
        &page,
        text.replace("engines=podman", "engines=\"docker>23\""),
    )
    .unwrap();
    let run = test_book(book.path()).without_engine().run();
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains(
            "src/page.md:10: fence attribute `engines`: unknown form `docker>23` (write `docker`, \
             `docker-26.1`, `docker>=23`, `docker<26`, `!podman`)"
        ),
        "{run}"
    );
    assert!(!book.path().join("snapshots").exists());
}

// The kinds of a matrix run in one schedule, not one after another: the fixture's page waits on each kind
// for its run on the other, so it passes only when both kinds run it at the same time (one kind after the
// other, the first times out). The report still tells the kinds in the matrix's order.
#[test]
fn kinds_of_the_matrix_run_at_once() {
    let engine = support::locked_engine();
    let newer = docker26();
    let rendezvous = Path::new("/tmp/dt-fixture-jobs-matrix");
    let _ = std::fs::remove_dir_all(rendezvous);
    let run = test_book(support::fixture("jobs-matrix"))
        .env_remove("DOCKTEST_ENGINES")
        .args(["--jobs", "2", "--engine"])
        .arg(&support::endpoint().host)
        .arg("--engine")
        .arg(&newer)
        .run();
    let _ = std::fs::remove_dir_all(rendezvous);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("2 verified, 0 failed"), "{run}");
    let first = run.stdout.find("matrix: docker-20.10").expect("kind told");
    let second = run.stdout.find("matrix: docker-26.1").expect("kind told");
    assert!(first < second, "kinds told in the matrix's order: {run}");
    engine.assert_left_as_found();
}
