//! The `--update` and `--junit` runs of `mdbook-docktest test` on a fixture book, against the engine (the
//! refusal of `--update` under CI needs none).

use crate::support::{self, fixture_copy, test_book};

// `--update` under CI would rewrite the pages CI is checking: it refuses, before any engine work.
#[test]
fn update_refuses_to_write_under_ci() {
    let book = fixture_copy("replay");
    let out = test_book(book.path())
        .arg("--update")
        .without_engine()
        .run();
    assert_eq!(out.code, Some(2), "{out}");
    insta::assert_snapshot!(out.stderr, @r"
    error: --update rewrites pages, and CI=true forbids writing anything
    hint: run `mdbook-docktest test --update` on your machine and commit the pages it changes
    ");
}

// The acceptance check of `--update`, against the engine: a page with one wrong output line gets exactly
// that line fixed (one line of `diff` changed), wildcards kept, and the fixed page verifies.
#[test]
fn update_fixes_exactly_the_wrong_line() {
    let _engine_lock = support::lock_engine();
    let book = fixture_copy("replay");
    let basics = book.path().join("src/basics.md");
    let original = std::fs::read_to_string(&basics).unwrap();
    let broken = original.replace(
        "ls: cannot access '/nonexistent': No such file or directory",
        "ls: cannot access '/nonexistent': Permission denied",
    );
    assert_ne!(broken, original);
    std::fs::write(&basics, &broken).unwrap();

    let out = test_book(book.path())
        .args(["--filter", "basics", "--update"])
        .without_ci()
        .run();
    assert!(
        out.stdout
            .contains("updated: src/basics.md (the output of the command(s) on line 23)"),
        "{out}"
    );
    assert_eq!(out.code, Some(0), "{out}");
    let updated = std::fs::read_to_string(&basics).unwrap();
    assert_eq!(
        updated, original,
        "exactly the wrong line is back as it ran"
    );

    let changed = broken
        .lines()
        .zip(updated.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(changed, 1);
    assert_eq!(broken.lines().count(), updated.lines().count());
}

// CI reads a JUnit report: one test case per block, named by page and line, the ignored one skipped.
#[test]
fn junit_report_has_a_case_per_block() {
    let _engine_lock = support::lock_engine();
    let book = fixture_copy("replay");
    let report = book.path().join("junit.xml");
    let out = test_book(book.path()).arg("--junit").arg(&report).run();
    assert_eq!(out.code, Some(0), "{out}");
    let xml = std::fs::read_to_string(&report).unwrap();
    for case in [
        "src/basics.md:5",
        "src/basics.md:11",
        "src/basics.md:22",
        "src/basics.md:30",
        "src/nested/containers.md:7",
        "src/nested/containers.md:14",
        "src/session.md:6",
    ] {
        assert!(xml.contains(&format!("name=\"{case}\"")), "{case}\n{xml}");
    }
    assert!(xml.contains("tests=\"8\""), "{xml}");
    assert!(xml.contains("skipped=\"1\""), "{xml}");
    assert!(xml.contains("failures=\"0\""), "{xml}");
}
