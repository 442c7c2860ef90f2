//! `mdbook-docktest review`: the pending snapshots of a book, one by one, each with its diff and the
//! question accept, reject or skip. It needs no cargo project (cargo-insta finds pending snapshots only
//! through a package's manifest), and the files stay insta's (`snapshot` owns them), so `cargo insta
//! review` still works on them inside one.
//!
//! The walk is written against any output and any source of answers, so its tests script the answers; the
//! binary answers from the terminal's keys.

use std::io::{self, Write};

use crate::matching;
use crate::snapshot::{self, Pending, SnapshotError};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("cannot talk to the terminal")]
    Terminal(#[source] io::Error),
}

/// What the reviewer said about one pending snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// It becomes the snapshot.
    Accept,
    /// It is dropped; the snapshot stays as it was.
    Reject,
    /// It stays pending, for a later review.
    Skip,
    /// This one and the rest stay pending.
    Quit,
}

impl Choice {
    /// The answer a key gives, as cargo-insta's review reads them; `None` for a key that answers nothing.
    pub fn from_key(key: char) -> Option<Choice> {
        match key.to_ascii_lowercase() {
            'a' => Some(Choice::Accept),
            'r' => Some(Choice::Reject),
            's' => Some(Choice::Skip),
            'q' => Some(Choice::Quit),
            _ => None,
        }
    }
}

/// How many pending snapshots each answer got; those never shown (after `q`) count as skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub accepted: usize,
    pub rejected: usize,
    pub skipped: usize,
}

impl Tally {
    /// `accepted 1, rejected 0, skipped 2 snapshot(s)`.
    pub fn line(&self) -> String {
        format!(
            "accepted {}, rejected {}, skipped {} snapshot(s)",
            self.accepted, self.rejected, self.skipped
        )
    }
}

/// Shows each pending snapshot (its block, engine and date, the diff against the accepted one) and does
/// what `ask` answers for it.
pub fn walk(
    pending: &[Pending],
    out: &mut dyn Write,
    ask: &mut dyn FnMut() -> io::Result<Choice>,
    color: bool,
) -> Result<Tally, ReviewError> {
    let mut tally = Tally::default();
    let terminal = ReviewError::Terminal;
    for (i, p) in pending.iter().enumerate() {
        let (meta, new) = p.read_new()?;
        let accepted = p.read_accepted()?;
        let mut text = format!("\nsnapshot {} of {}: {}\n", i + 1, pending.len(), p.name);
        if !meta.block.is_empty() {
            text.push_str(&format!("  block:  {}\n", meta.block));
        }
        if !meta.engine.is_empty() {
            text.push_str(&format!("  engine: {}, {}\n", meta.engine, meta.date));
        }
        let diff = match &accepted {
            None => {
                text.push_str(&format!("  new: no {} yet\n", p.accepted_path.display()));
                matching::snapshot_diff("", &new, color)
            }
            Some(old) => {
                text.push_str(&format!("  changed: {}\n", p.accepted_path.display()));
                matching::snapshot_diff(old, &new, color)
            }
        };
        text.push_str(&diff);
        if diff.is_empty() {
            text.push_str("  (the same transcript; only the header differs)\n");
        }
        text.push_str("  a accept   r reject   s skip   q quit > ");
        out.write_all(text.as_bytes()).map_err(terminal)?;
        out.flush().map_err(terminal)?;
        let choice = ask().map_err(terminal)?;
        let word = match choice {
            Choice::Accept => {
                tally.accepted += 1;
                match snapshot::accept(p)? {
                    snapshot::Accepted::Stored => "accepted",
                    snapshot::Accepted::SameAsShared => "accepted as the shared snapshot it equals",
                }
            }
            Choice::Reject => {
                snapshot::reject(p)?;
                tally.rejected += 1;
                "rejected"
            }
            Choice::Skip => {
                tally.skipped += 1;
                "skipped"
            }
            Choice::Quit => {
                tally.skipped += pending.len() - i;
                writeln!(out, "quit").map_err(terminal)?;
                break;
            }
        };
        writeln!(out, "{word}").map_err(terminal)?;
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{pending, render, Meta};

    fn book_with_pending() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let meta = |line: u32| Meta {
            block: format!("src/page.md:{line}"),
            engine: "Docker 20.10.24+dfsg1 (API 1.41)".into(),
            commands: "00".into(),
            date: "2026-12-01".into(),
            raw: String::new(),
            verified_on: Vec::new(),
        };
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("a.snap", render(&meta(3), "$ echo hi\nhi"));
        write("a.snap.new", render(&meta(3), "$ echo hi\nho"));
        write("b.snap.new", render(&meta(9), "$ true"));
        write("c.snap.new", render(&meta(12), "$ false\n? 1"));
        dir
    }

    // Each answer does what it says: accept replaces the snapshot, reject keeps it, skip leaves it pending.
    #[test]
    fn answers_accept_reject_and_skip() {
        let dir = book_with_pending();
        let found = pending(dir.path()).unwrap();
        let mut answers = vec![Choice::Skip, Choice::Reject, Choice::Accept].into_iter();
        let mut out = Vec::new();
        let tally = walk(&found, &mut out, &mut || Ok(answers.next().unwrap()), false).unwrap();
        assert_eq!(
            tally,
            Tally {
                accepted: 1,
                rejected: 1,
                skipped: 1
            }
        );
        let left: Vec<String> = pending(dir.path())
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(left, ["a"]);
        assert!(!dir.path().join("b.snap").exists());
        assert!(std::fs::read_to_string(dir.path().join("c.snap"))
            .unwrap()
            .ends_with("$ false\n? 1\n"));
        let shown = String::from_utf8(out).unwrap();
        let shown = shown.replace(&dir.path().display().to_string(), "DIR");
        insta::assert_snapshot!(shown, @r"

        snapshot 1 of 3: a
          block:  src/page.md:3
          engine: Docker 20.10.24+dfsg1 (API 1.41), 2026-12-01
          changed: DIR/a.snap
        @@ -1,2 +1,2 @@
         $ echo hi
        -hi
        +ho
          a accept   r reject   s skip   q quit > skipped

        snapshot 2 of 3: b
          block:  src/page.md:9
          engine: Docker 20.10.24+dfsg1 (API 1.41), 2026-12-01
          new: no DIR/b.snap yet
        @@ -0,0 +1 @@
        +$ true
          a accept   r reject   s skip   q quit > rejected

        snapshot 3 of 3: c
          block:  src/page.md:12
          engine: Docker 20.10.24+dfsg1 (API 1.41), 2026-12-01
          new: no DIR/c.snap yet
        @@ -0,0 +1,2 @@
        +$ false
        +? 1
          a accept   r reject   s skip   q quit > accepted
        ");
    }

    // Quitting leaves this snapshot and the rest pending, counted as skipped.
    #[test]
    fn quit_leaves_the_rest_pending() {
        let dir = book_with_pending();
        let found = pending(dir.path()).unwrap();
        let mut answers = vec![Choice::Accept, Choice::Quit].into_iter();
        let tally = walk(
            &found,
            &mut Vec::new(),
            &mut || Ok(answers.next().unwrap()),
            false,
        )
        .unwrap();
        assert_eq!(
            tally.line(),
            "accepted 1, rejected 0, skipped 2 snapshot(s)"
        );
        assert_eq!(pending(dir.path()).unwrap().len(), 2);
    }

    // The keys are cargo-insta's; any other key answers nothing (the question is asked again).
    #[test]
    fn keys() {
        assert_eq!(Choice::from_key('a'), Some(Choice::Accept));
        assert_eq!(Choice::from_key('R'), Some(Choice::Reject));
        assert_eq!(Choice::from_key('s'), Some(Choice::Skip));
        assert_eq!(Choice::from_key('q'), Some(Choice::Quit));
        assert_eq!(Choice::from_key('x'), None);
    }
}
