//! The book itself is the test: every runnable block of `book/` runs against the engine, must match its page,
//! and its transcript must match its reviewed snapshot in `snapshots/` (asserted with insta, so a change
//! becomes a pending snapshot for `mdbook-docktest review book` or `cargo insta review`).

use crate::support::{self, Book, RunOptions, SnapshotMode, Verdict};

// Every block of the guide must verify, none skipped but those whose `engines=` leaves out the engine (the
// guide's Podman-only blocks, on Docker), and every transcript must equal its snapshot. The pages run on
// every engine DOCKTEST_ENGINES lists (one page per engine at a time), else on the one engine.
#[test]
fn every_block_of_the_book_is_verified() {
    let _engine_lock = support::lock_engine();
    let root = support::manifest_dir().join("book");
    let book = Book::load(&root).unwrap_or_else(|e| panic!("{e}"));
    let engines: Vec<_> = support::pool(usize::MAX)
        .into_iter()
        .map(|endpoint| {
            let (engine, _images) = support::prepare(&book, endpoint).unwrap_or_else(|e| {
                panic!(
                    "this test needs a Docker engine: {}\nstart one with `sudo scripts/engine-start`",
                    support::error_chain(&e)
                )
            });
            engine
        })
        .collect();
    let before: Vec<_> = engines
        .iter()
        .map(|engine| engine.inventory().expect("engine inventory"))
        .collect();
    let options = RunOptions {
        engine_kind: None,
        kinds_before: Vec::new(),
        filter: None,
        partition: None,
        snapshots: SnapshotMode::Skip,
        color: false,
    };
    let mut heard = Heard::default();
    let pages = support::run_book(&engines, &book, &options, &mut heard);
    // Regression: under --jobs the progress bar stood still until the first page in page order was told,
    // which, with the longest pages first, came near the run's end. Each block is heard as it ends, before
    // its page is told.
    if engines.len() > 1 {
        assert_eq!(
            heard.progressed.len(),
            heard.done.len(),
            "every block heard live once"
        );
        for (path, at) in &heard.started {
            let late = heard
                .progressed
                .iter()
                .filter(|(p, when)| p == path && when > at)
                .count();
            assert_eq!(
                late,
                0,
                "{} told before its blocks were heard",
                path.display()
            );
        }
    }
    // The pool is of one kind (scripts/test starts Docker 20.10 engines).
    let info = engines[0].info();
    let (product, release) = (info.product.word(), info.release());
    let not_for_this_engine = |path: &std::path::Path, line: usize| {
        book.pages
            .iter()
            .filter(|p| p.path == path)
            .flat_map(|p| &p.blocks)
            .any(|b| b.line == line && !b.attrs.engines.admits(product, release))
    };

    let mut problems = Vec::new();
    let mut ran = 0;
    for page in &pages {
        if let Err(e) = &page.cleanup {
            problems.push(format!("{}: cleanup failed: {e}", page.path.display()));
        }
        for block in &page.blocks {
            let place = format!("{}:{}", page.path.display(), block.line);
            match &block.verdict {
                Verdict::Ignored { .. } if not_for_this_engine(&page.path, block.line) => {
                    ran += 1;
                    continue;
                }
                Verdict::Ignored { reason } => {
                    problems.push(format!(
                        "{place}: ignored ({reason}); the book verifies every block"
                    ));
                    continue;
                }
                Verdict::Failed(failures) => {
                    for f in failures {
                        problems.push(format!(
                            "{}:{}: `{}` failed: {:?}",
                            page.path.display(),
                            f.line,
                            f.command,
                            f.what
                        ));
                    }
                }
                Verdict::Verified => {}
            }
            ran += 1;
            let mut settings = insta::Settings::clone_current();
            settings.set_snapshot_path(root.join("../snapshots"));
            settings.set_prepend_module_to_snapshot(false);
            settings.set_omit_expression(true);
            settings.set_info(&block.meta);
            let asserted = settings.bind(|| {
                std::panic::catch_unwind(|| {
                    insta::assert_snapshot!(block.name.as_str(), block.transcript.as_str());
                })
            });
            if asserted.is_err() {
                problems.push(format!("{place}: snapshot {} differs", block.name));
            }
        }
    }
    assert_eq!(ran, book.block_count(), "every block of the book runs");
    assert!(
        ran >= 12,
        "the book has at least 12 runnable blocks, found {ran}"
    );
    for (engine, before) in engines.iter().zip(&before) {
        support::assert_left_as_found(engine, before);
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

// A name the book shows Docker not finding must not be made of hex digits only: the engine resolves a name it
// does not know as a container ID prefix, so `--link db:database` ("No such container: db") succeeded, and
// failed the book, whenever some container's ID began with `db` (2 runs in about 10).
#[test]
fn names_the_book_shows_missing_cannot_be_id_prefixes() {
    let book = Book::load(&support::manifest_dir().join("book")).unwrap_or_else(|e| panic!("{e}"));
    let missing =
        regex::Regex::new(r"No such (?:container|network|image|volume|object): (\S+)").unwrap();
    let hex_only = |name: &str| {
        name.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    let old =
        "docker: Error response from daemon: could not get container for db: No such container: db";
    assert!(
        missing.captures(old).is_some_and(|c| hex_only(&c[1])),
        "the check catches the example that failed"
    );
    let mut shown = 0;
    let mut prefixes = Vec::new();
    for page in &book.pages {
        for step in page.blocks.iter().flat_map(|b| &b.steps) {
            for (line, text) in step.expected_lines.iter().zip(&step.expected) {
                for name in missing.captures_iter(text).map(|c| c[1].to_string()) {
                    shown += 1;
                    if hex_only(&name) {
                        prefixes.push(format!("{}:{line}: {name}", page.path.display()));
                    }
                }
            }
        }
    }
    assert!(shown >= 1, "the book shows at least one missing object");
    assert!(
        prefixes.is_empty(),
        "names that an ID may begin with (give each a letter after f):\n{}",
        prefixes.join("\n")
    );
}

/// What the run told its observer, numbered in the order it was told.
#[derive(Default)]
struct Heard {
    said: usize,
    started: Vec<(std::path::PathBuf, usize)>,
    done: Vec<(std::path::PathBuf, usize)>,
    progressed: Vec<(std::path::PathBuf, usize)>,
}

impl mdbook_docktest::runner::Observer for Heard {
    fn page_started(&mut self, page: &mdbook_docktest::snippet::Page) {
        self.said += 1;
        self.started.push((page.path.clone(), self.said));
    }

    fn block_done(
        &mut self,
        page: &mdbook_docktest::snippet::Page,
        _block: &mdbook_docktest::runner::BlockRun,
    ) {
        self.said += 1;
        self.done.push((page.path.clone(), self.said));
    }

    fn progressed(&mut self, page: &mdbook_docktest::snippet::Page, _kind: Option<&str>) {
        self.said += 1;
        self.progressed.push((page.path.clone(), self.said));
    }
}
