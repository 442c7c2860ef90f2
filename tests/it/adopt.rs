//! Adopting docktest in a book that is not this repository's, as the authors' chapter
//! (`book/src/adopting.md`) tells it: a fresh book in a temporary folder, `mdbook-docktest init`, the
//! chapter's first verified page, `test`, `accept`, `test` again, `mdbook build`.
//!
//! The binary under test stands in for `cargo install` (the same binary, found on PATH as mdBook finds
//! it); everything else is done as the chapter says.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, docktest, manifest_dir, test_book, Run, BIN};

/// The adoption chapter of the authors' guide.
fn chapter() -> String {
    std::fs::read_to_string(manifest_dir().join("book/src/adopting.md")).unwrap()
}

/// The page the chapter shows as a first verified page: its one ````markdown fence.
fn first_page(chapter: &str) -> String {
    let start = chapter
        .find("````markdown\n")
        .expect("the chapter shows a first page in a ````markdown fence")
        + "````markdown\n".len();
    let len = chapter[start..]
        .find("\n````")
        .expect("closed ````markdown fence");
    format!("{}\n", &chapter[start..start + len])
}

/// A book laid out as `mdbook init` lays it out, in `dir`.
fn fresh_book(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("book.toml"),
        "[book]\nauthors = [\"A. Writer\"]\nlanguage = \"en\"\nsrc = \"src\"\ntitle = \"Networks\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/SUMMARY.md"),
        "# Summary\n\n- [Chapter 1](./chapter_1.md)\n",
    )
    .unwrap();
    std::fs::write(dir.join("src/chapter_1.md"), "# Chapter 1\n").unwrap();
}

/// `mdbook build BOOK -d DEST` with `mdbook-docktest` found on PATH, as an adopter's machine finds it, and
/// no `MDBOOK_*` override.
fn mdbook_build(book: &Path, dest: &Path) -> Run {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin_dir.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let mut cmd = Command::new("mdbook");
    cmd.arg("build")
        .arg(book)
        .arg("-d")
        .arg(dest)
        .env("PATH", path);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("MDBOOK_") {
            cmd.env_remove(key);
        }
    }
    cmd.output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `mdbook` ({e}); install mdBook 0.5.4 with `cargo install mdbook --version 0.5.4 \
                 --locked` (scripts/test does)"
            )
        })
        .into()
}

/// The files under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

// The README's promise: a book created outside this repository from the chapter's instructions verifies,
// keeps its snapshots inside its own folder, is reviewed without cargo, and builds with its badges.
#[test]
fn a_fresh_book_adopts_docktest_as_the_chapter_says() {
    let engine = support::locked_engine();
    let outside = tempfile::tempdir().unwrap();
    assert!(!outside.path().starts_with(manifest_dir()));
    let book = outside.path().join("networks");
    fresh_book(&book);
    let before_init = std::fs::read_to_string(book.join("book.toml")).unwrap();

    // `init` adds the table and keeps every byte of the rest; a second run has nothing to do.
    let init = docktest([Path::new("init"), &book]).run();
    assert!(init.success(), "{init}");
    assert!(init.stdout.contains("[preprocessor.docktest]"), "{init}");
    let after_init = std::fs::read_to_string(book.join("book.toml")).unwrap();
    assert!(after_init.starts_with(&before_init), "{after_init}");
    assert!(
        after_init.ends_with("[preprocessor.docktest]\nafter = [\"links\"]\n"),
        "{after_init}"
    );
    let again = docktest([Path::new("init"), &book]).run();
    assert!(
        again.success() && again.stdout.contains("nothing to do"),
        "{again}"
    );
    assert_eq!(
        std::fs::read_to_string(book.join("book.toml")).unwrap(),
        after_init
    );

    // The chapter's first page, as the book's first chapter.
    let page = first_page(&chapter());
    assert!(page.contains("```console\n$ "), "{page}");
    std::fs::write(book.join("src/chapter_1.md"), &page).unwrap();

    // In CI, a block with no snapshot fails the run, nothing is written, and the hint says where to record it.
    let in_ci = test_book(&book).run();
    assert_eq!(in_ci.code, Some(1), "{in_ci}");
    assert!(
        in_ci.stdout.contains(&format!(
            "hint: CI=true writes no snapshot: run `mdbook-docktest test {}` on your machine",
            book.display()
        )),
        "{in_ci}"
    );
    assert!(!book.join("snapshots").exists(), "{in_ci}");

    // On the author's machine: no snapshot yet, so the run fails and writes it as pending, in the book.
    let first = test_book(&book).without_ci().run();
    assert_eq!(first.code, Some(1), "{first}");
    assert!(first.stdout.contains("mdbook-docktest review"), "{first}");
    let snapshots = book.join("snapshots");
    let pending: Vec<PathBuf> = files_under(&snapshots);
    assert!(
        !pending.is_empty()
            && pending
                .iter()
                .all(|p| p.to_string_lossy().ends_with(".snap.new")),
        "{pending:?}"
    );
    assert_eq!(
        files_under(outside.path())
            .into_iter()
            .filter(|p| !p.starts_with("networks/src") && p != Path::new("networks/book.toml"))
            .collect::<Vec<_>>(),
        pending
            .iter()
            .map(|p| Path::new("networks/snapshots").join(p))
            .collect::<Vec<_>>(),
        "the run writes nothing but its pending snapshots, inside the book"
    );

    // No terminal here: review says so and names `accept`; accept takes them all.
    let review = docktest([Path::new("review"), &book]).run();
    assert_eq!(review.code, Some(2), "{review}");
    assert!(review.stderr.contains("terminal"), "{review}");
    assert!(review.stderr.contains("mdbook-docktest accept"), "{review}");
    let accept = docktest([Path::new("accept"), &book]).run();
    assert!(accept.success(), "{accept}");
    assert!(
        accept.stdout.contains(&format!(
            "accepted {} pending snapshot(s) in {}",
            pending.len(),
            snapshots.display()
        )),
        "{accept}"
    );

    // In CI: every block verifies against its snapshot, and nothing is written.
    let second = test_book(&book).run();
    assert!(second.success(), "{second}");
    assert_eq!(
        files_under(&snapshots)
            .iter()
            .filter(|p| p.to_string_lossy().ends_with(".snap.new"))
            .count(),
        0
    );

    // Published with nothing but the table: every runnable block carries its verified badge.
    let dest = outside.path().join("site");
    let build = mdbook_build(&book, &dest);
    assert!(build.success(), "{build}");
    let html = std::fs::read_to_string(dest.join("chapter_1.html")).unwrap();
    let blocks = support::parse_page(Path::new("src/chapter_1.md"), &page)
        .unwrap()
        .blocks
        .iter()
        .filter(|b| !b.attrs.hidden && !b.attrs.teardown)
        .count();
    assert!(blocks > 0);
    assert_eq!(
        html.matches("<div class=\"docktest-badge docktest-verified\"")
            .count(),
        blocks,
        "{html}"
    );
    engine.assert_left_as_found();
}
