//! `review`, `accept`, `reject` and `init` in a folder with no `Cargo.toml`: no engine needed.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

use crate::support::{docktest, BIN};

/// A snapshot file as `mdbook-docktest test` writes it.
fn snap(block: &str, body: &str) -> String {
    format!(
        "---\nsource: tests/it/book.rs\ninfo:\n  block: \"{block}\"\n  engine: \"Docker 20.10.24+dfsg1 (API 1.41)\"\n  commands: \"00\"\n  date: \"2026-12-01\"\n  raw: \"\"\n---\n{body}\n"
    )
}

/// A book in a temporary folder (no cargo project above it) whose snapshots folder holds one accepted
/// snapshot `changed` with a pending change, and a pending new one `new`.
fn book_with_pending() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(!root.ancestors().any(|d| d.join("Cargo.toml").exists()));
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("book.toml"),
        "[book]\ntitle = \"x\"\n\n[preprocessor.docktest]\nafter = [\"links\"]\n",
    )
    .unwrap();
    let snaps = root.join("snapshots");
    std::fs::create_dir_all(&snaps).unwrap();
    std::fs::write(
        snaps.join("src-page__top-1.snap"),
        snap("src/page.md:3", "$ echo hi\nhi"),
    )
    .unwrap();
    std::fs::write(
        snaps.join("src-page__top-1.snap.new"),
        snap("src/page.md:3", "$ echo hi\nho"),
    )
    .unwrap();
    std::fs::write(
        snaps.join("src-page__top-2.snap.new"),
        snap("src/page.md:9", "$ true"),
    )
    .unwrap();
    dir
}

fn read(root: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(root.join("snapshots").join(file)).ok()
}

// Review asks on a terminal; piped, it must say so, name `accept`, exit 2 and touch nothing.
#[test]
fn review_without_a_terminal_names_accept() {
    let book = book_with_pending();
    let run = docktest([Path::new("review"), book.path()]).run();
    assert_eq!(run.code, Some(2), "{run}");
    let dir = book.path().join("snapshots");
    assert!(
        run.stderr.starts_with(&format!(
            "error: review asks about each of the 2 pending snapshot(s) in {} on a terminal",
            dir.display()
        )),
        "{run}"
    );
    assert!(
        run.stderr.contains(&format!(
            "hint: run it in a terminal, or accept every pending snapshot with `mdbook-docktest accept {}`",
            book.path().display()
        )),
        "{run}"
    );
    assert!(read(book.path(), "src-page__top-1.snap.new").is_some());
    assert!(read(book.path(), "src-page__top-2.snap.new").is_some());
}

// `accept` takes every pending snapshot and says how many; run again, it has nothing to do.
#[test]
fn accept_takes_every_pending_snapshot() {
    let book = book_with_pending();
    let run = docktest([Path::new("accept"), book.path()]).run();
    assert!(run.success(), "{run}");
    let dir = book.path().join("snapshots");
    assert_eq!(
        run.stdout,
        format!(
            "accepted src-page__top-1\naccepted src-page__top-2\naccepted 2 pending snapshot(s) in {}\n",
            dir.display()
        )
    );
    assert_eq!(
        read(book.path(), "src-page__top-1.snap").unwrap(),
        snap("src/page.md:3", "$ echo hi\nho")
    );
    assert!(read(book.path(), "src-page__top-2.snap").is_some());
    assert!(read(book.path(), "src-page__top-1.snap.new").is_none());
    let again = docktest([Path::new("accept"), book.path()]).run();
    assert_eq!(
        again.stdout,
        format!(
            "nothing to accept: no pending snapshots in {}\n",
            dir.display()
        )
    );
}

// `reject` drops the pending snapshots and keeps the accepted one as it was.
#[test]
fn reject_keeps_the_accepted_snapshots() {
    let book = book_with_pending();
    let run = docktest([Path::new("reject"), book.path()]).run();
    assert!(run.success(), "{run}");
    assert!(
        run.stdout.contains("rejected 2 pending snapshot(s)"),
        "{run}"
    );
    assert_eq!(
        read(book.path(), "src-page__top-1.snap").unwrap(),
        snap("src/page.md:3", "$ echo hi\nhi")
    );
    assert!(read(book.path(), "src-page__top-2.snap").is_none());
    assert!(read(book.path(), "src-page__top-2.snap.new").is_none());
}

// A folder that is not a book is the user's to fix: exit 2, the hint says what to pass.
#[test]
fn commands_on_a_folder_without_book_toml() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["review", "accept", "reject", "init"] {
        let run = docktest([Path::new(command), dir.path()]).run();
        assert_eq!(run.code, Some(2), "{command}: {run}");
        assert!(run.stderr.contains("book.toml"), "{command}: {run}");
        assert!(
            run.stderr.contains("hint: pass the folder"),
            "{command}: {run}"
        );
    }
}

// `init` refuses a book.toml docktest would refuse later, and writes nothing.
#[test]
fn init_refuses_a_bad_book_toml() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "[book]\ntitle = \"x\"\n[preprocessor]\ndocktest = 3\n";
    std::fs::write(dir.path().join("book.toml"), bad).unwrap();
    let run = docktest([Path::new("init"), dir.path()]).run();
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("[preprocessor.docktest]"), "{run}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("book.toml")).unwrap(),
        bad
    );
}

/// What a program in a pseudo-terminal printed so far, read on a thread of its own.
struct Screen(Arc<Mutex<String>>);

impl Screen {
    /// Waits until the screen holds `text` `times` times; fails the test after 20 s.
    #[track_caller]
    fn wait_for(&self, text: &str, times: usize) {
        let start = Instant::now();
        while self.0.lock().unwrap().matches(text).count() < times {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited for {text:?} x{times}:\n{}",
                self.0.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// On a terminal, review shows each diff and does what each key says: `a` accepts, `r` rejects.
#[test]
fn review_on_a_terminal_answers_per_snapshot() {
    let book = book_with_pending();
    let pty = native_pty_system()
        .openpty(PtySize {
            rows: 40,
            cols: 120,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(BIN);
    cmd.arg("review");
    cmd.arg(book.path());
    cmd.env("NO_COLOR", "1");
    cmd.env_remove("CI");
    let mut child = pty.slave.spawn_command(cmd).unwrap();
    drop(pty.slave);
    let mut reader = pty.master.try_clone_reader().unwrap();
    let mut keys = pty.master.take_writer().unwrap();
    let screen = Screen(Arc::new(Mutex::new(String::new())));
    let shared = screen.0.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            shared
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });

    let prompt = "a accept   r reject   s skip   q quit > ";
    screen.wait_for(prompt, 1);
    // A key that answers nothing is ignored.
    keys.write_all(b"x").unwrap();
    keys.write_all(b"a").unwrap();
    keys.flush().unwrap();
    screen.wait_for(prompt, 2);
    keys.write_all(b"r").unwrap();
    keys.flush().unwrap();
    screen.wait_for("accepted 1, rejected 1, skipped 0 snapshot(s)", 1);
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", screen.0.lock().unwrap());

    let shown = screen.0.lock().unwrap().replace("\r\n", "\n");
    assert!(
        shown.contains("snapshot 1 of 2: src-page__top-1\n  block:  src/page.md:3\n"),
        "{shown}"
    );
    assert!(shown.contains(" $ echo hi\n-hi\n+ho\n"), "{shown}");
    assert!(
        shown.contains("snapshot 2 of 2: src-page__top-2\n"),
        "{shown}"
    );
    assert!(shown.contains("+$ true\n"), "{shown}");
    assert_eq!(
        read(book.path(), "src-page__top-1.snap").unwrap(),
        snap("src/page.md:3", "$ echo hi\nho")
    );
    assert!(read(book.path(), "src-page__top-2.snap").is_none());
    assert!(read(book.path(), "src-page__top-1.snap.new").is_none());
    assert!(read(book.path(), "src-page__top-2.snap.new").is_none());
}
