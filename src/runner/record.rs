//! Recording a step's outcome: its transcripts (redacted for the snapshot, raw for the preprocessor), its
//! real output, and what the page says of it; then the block's snapshot verdict.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::block::PageRunner;
use super::page::PageScope;
use super::{
    human, BlockRun, Failure, RunOptions, SnapshotMode, SnapshotVerdict, StepFailure, StepRun,
    Verdict,
};
use crate::engine::{self, CommandResult};
use crate::matching;
use crate::redact;
use crate::snapshot::{self, Check, Meta, Recorded, Transcript};
use crate::snippet::{Block, Step};

/// How much of a failed command's output a status failure quotes.
const STATUS_TAIL_LINES: usize = 5;

/// What a block has produced so far.
#[derive(Default)]
pub(super) struct BlockState {
    pub failures: Vec<Failure>,
    /// Redacted: the snapshot's body.
    transcript: Transcript,
    /// As it ran: the real values readers are shown.
    raw: Transcript,
    steps: Vec<StepRun>,
    pub elapsed: Duration,
}

impl BlockState {
    pub fn fail(&mut self, step: &Step, what: StepFailure) {
        self.failures.push(Failure {
            line: step.line,
            prompt: snapshot::prompt_text(step).to_string(),
            command: step.command(),
            what,
        });
    }

    fn command(&mut self, step: &Step) {
        self.transcript.command(step);
        self.raw.command(step);
    }

    fn ended(&mut self, how: &Recorded) {
        self.transcript.ended(how);
        self.raw.ended(how);
    }
}

/// Whether a step's failure stops its block: what follows depends on it.
#[derive(PartialEq, Eq)]
pub(super) enum Next {
    Continue,
    Stop,
}

impl PageRunner<'_> {
    /// Adds one step's outcome to its block: transcript, real output, verdict.
    pub(super) fn record(
        &mut self,
        scope: &mut PageScope<'_>,
        state: &mut BlockState,
        block: &Block,
        step: &Step,
        result: Result<CommandResult, StepFailure>,
    ) -> Next {
        state.command(step);
        // A refused request fails the step whatever the command printed or the page expects: the page asked
        // for a power the block does not have, and the CLI's error is docktest's doing, not the engine's.
        let refusals = scope.take_refusals();
        let refused = !refusals.is_empty();
        for refusal in refusals {
            state.fail(
                step,
                StepFailure::Refused {
                    what: refusal.what,
                    grant: refusal.grant,
                    fence_line: block.line,
                },
            );
        }
        let result = match result {
            Ok(r) => r,
            Err(what) => {
                if matches!(what, StepFailure::Terminal { .. }) {
                    scope.terminals.remove(&block.attrs.term);
                }
                state.fail(step, what);
                return Next::Stop;
            }
        };
        let actual = redact::normalize(&result.output);
        state.steps.push(StepRun {
            line: step.line,
            actual: actual.clone(),
            status: if result.timed_out {
                None
            } else {
                result.status
            },
        });
        self.redactor
            .know_ids(scope.created_ids().iter().map(String::as_str));
        state
            .transcript
            .output(step, &self.redactor.redact(&actual));
        state.raw.output(step, &actual);
        if refused && !result.timed_out {
            state.ended(&Recorded::Code(result.status.unwrap_or(-1)));
            return Next::Stop;
        }
        if result.timed_out {
            // A session left at a timeout is in an unknown state: close it, as the page cannot go on in it.
            let mut session_closed = result.session_closed;
            if let Some(term) = scope.terminals.get_mut(&block.attrs.term) {
                if term.in_session() {
                    session_closed = true;
                    if term.close_session().is_err() {
                        scope.terminals.remove(&block.attrs.term);
                    }
                }
            }
            state.ended(&Recorded::Timeout(human(block.attrs.timeout)));
            state.fail(
                step,
                StepFailure::Timeout {
                    after: block.attrs.timeout,
                    session_closed,
                },
            );
            if result.status.is_none() {
                scope.terminals.remove(&block.attrs.term);
            }
            return Next::Stop;
        }
        let status = result.status.unwrap_or(-1);
        state.ended(&Recorded::Code(status));
        // The page asserts what it shows: a command with no output under it makes no claim on its output.
        let verdict = matching::judge_step(
            step,
            &actual,
            Some(status),
            &mut self.bindings,
            self.options.color,
        );
        if let Some(mismatch) = verdict.output {
            state.fail(
                step,
                StepFailure::Output {
                    diff: mismatch.diff,
                    conflict: mismatch.conflict.map(|c| c.to_string()),
                },
            );
        }
        if !verdict.status_agrees {
            state.fail(
                step,
                StepFailure::Status {
                    expected: step.status,
                    actual: status,
                    tail: tail(&actual, STATUS_TAIL_LINES),
                },
            );
        }
        Next::Continue
    }

    /// The block's run, its snapshot checked.
    pub(super) fn block_run(&self, block: &Block, name: &str, state: BlockState) -> BlockRun {
        let transcript = state.transcript.into_string();
        let meta = Meta {
            raw: state.raw.into_string(),
            verified_on: Vec::new(),
            ..self.meta(block)
        };
        let options = self.options.for_block(block);
        let snapshot = check_snapshot(&options, self.snapshot_dir, name, &meta, &transcript);
        BlockRun {
            line: block.line,
            name: name.to_string(),
            verdict: if state.failures.is_empty() {
                Verdict::Verified
            } else {
                Verdict::Failed(state.failures)
            },
            snapshot,
            transcript,
            steps: state.steps,
            meta,
            elapsed: state.elapsed,
            hidden: block.attrs.hidden || block.attrs.teardown,
        }
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub(super) fn check_snapshot(
    options: &RunOptions,
    dir: &Path,
    name: &str,
    meta: &Meta,
    transcript: &str,
) -> SnapshotVerdict {
    // A run being stopped (Ctrl-C, SIGTERM, SIGHUP) cut the block short: its transcript says nothing about
    // the book, and must neither take a kind off a snapshot's `verified_on` nor leave a pending one.
    if options.snapshots == SnapshotMode::Skip || engine::cancelled() {
        return SnapshotVerdict::NotChecked;
    }
    if let Some(kind) = &options.engine_kind {
        if let Some(verdict) = against_pending(options, dir, name, kind, meta, transcript) {
            return verdict;
        }
        // The book's first kind's snapshot serves every engine whose transcript is the same.
        if let Ok(Some(shared)) = snapshot::read(&snapshot::path(dir, name)) {
            let matches =
                snapshot::check(Some(&shared), transcript, &meta.commands) == Check::Matches;
            let own = snapshot::engine_name(name, kind);
            // The shared snapshot keeps which other kinds matched it, for the badge (never under CI=true).
            if options.snapshots == SnapshotMode::CheckAndWritePending {
                let engine = matches.then_some(meta.engine.as_str());
                if let Err(e) = snapshot::mark_verified(dir, name, kind, engine) {
                    return SnapshotVerdict::Changed {
                        diff: crate::error_chain(&e),
                        pending: None,
                    };
                }
            }
            if matches {
                if options.snapshots == SnapshotMode::CheckAndWritePending {
                    let _ = std::fs::remove_file(snapshot::pending_path(dir, &own));
                }
                return SnapshotVerdict::Matches;
            }
            if !snapshot::path(dir, &own).exists() {
                // No snapshot of this engine's own yet: the difference is shown against the shared one.
                return SnapshotVerdict::Changed {
                    diff: matching::snapshot_diff(&shared.body, transcript, options.color),
                    pending: write_pending(options, dir, &own, meta, transcript),
                };
            }
            return check_one(options, dir, &own, meta, transcript);
        }
    }
    check_one(options, dir, name, meta, transcript)
}

/// Where the shared snapshot is still pending (the first kind's run of a new block, not yet reviewed), another
/// kind's transcript is compared with that: the same adds nothing and must not overwrite it with this kind's
/// header; a different one is pending as this kind's own. `None` when there is no such pending snapshot.
fn against_pending(
    options: &RunOptions,
    dir: &Path,
    name: &str,
    kind: &str,
    meta: &Meta,
    transcript: &str,
) -> Option<SnapshotVerdict> {
    if snapshot::path(dir, name).exists() {
        return None;
    }
    let path = snapshot::pending_path(dir, name);
    let first = snapshot::read(&path).ok()??;
    if engine::described(&first.meta.engine).is_none_or(|e| e.is_kind(kind)) {
        return None;
    }
    if snapshot::check(Some(&first), transcript, &meta.commands) == Check::Matches {
        return Some(SnapshotVerdict::New {
            pending: Some(path),
        });
    }
    let own = snapshot::engine_name(name, kind);
    Some(SnapshotVerdict::Changed {
        diff: matching::snapshot_diff(&first.body, transcript, options.color),
        pending: write_pending(options, dir, &own, meta, transcript),
    })
}

/// Writes `transcript` as the pending snapshot `name` when the run may write (never under CI=true).
fn write_pending(
    options: &RunOptions,
    dir: &Path,
    name: &str,
    meta: &Meta,
    transcript: &str,
) -> Option<PathBuf> {
    match options.snapshots {
        SnapshotMode::CheckAndWritePending => {
            snapshot::write_pending(dir, name, meta, transcript).ok()
        }
        _ => None,
    }
}

/// The block's transcript against the snapshot `name`, pending written when it is new or differs.
pub(super) fn check_one(
    options: &RunOptions,
    dir: &Path,
    name: &str,
    meta: &Meta,
    transcript: &str,
) -> SnapshotVerdict {
    let stored = match snapshot::read(&snapshot::path(dir, name)) {
        Ok(s) => s,
        Err(e) => {
            return SnapshotVerdict::Changed {
                diff: crate::error_chain(&e),
                pending: None,
            }
        }
    };
    let write = |body: &str| write_pending(options, dir, name, meta, body);
    match snapshot::check(stored.as_ref(), transcript, &meta.commands) {
        Check::Matches => {
            // A stale pending file from an earlier run would be offered for review again: drop it.
            if options.snapshots == SnapshotMode::CheckAndWritePending {
                let _ = std::fs::remove_file(snapshot::pending_path(dir, name));
            }
            SnapshotVerdict::Matches
        }
        Check::New => SnapshotVerdict::New {
            pending: write(transcript),
        },
        Check::CommandsChanged => SnapshotVerdict::Changed {
            diff: "the commands changed since it was taken; the transcript is the same".to_string(),
            pending: write(transcript),
        },
        Check::Changed { stored } => SnapshotVerdict::Changed {
            diff: matching::snapshot_diff(&stored, transcript, options.color),
            pending: write(transcript),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(kind: Option<&str>) -> RunOptions {
        RunOptions {
            filter: None,
            partition: None,
            snapshots: SnapshotMode::CheckAndWritePending,
            color: false,
            engine_kind: kind.map(str::to_string),
            kinds_before: Vec::new(),
        }
    }

    // Docker 26.1 prints the Aliases of a network without the container's short ID: that engine's transcript
    // must become a snapshot of its own, beside the shared one, and once stored it verifies; an engine whose
    // transcript is the shared one needs nothing of its own.
    #[test]
    fn another_kinds_differing_transcript_gets_its_own_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::default();
        let shared = "$ docker inspect x\n[\"example.com\",\"[ID1]\"]\n";
        let newer = "$ docker inspect x\n[\"example.com\"]\n";
        let written = snapshot::write_pending(dir.path(), "aliases", &meta, shared).unwrap();
        std::fs::rename(written, snapshot::path(dir.path(), "aliases")).unwrap();

        let same = check_snapshot(
            &options(Some("docker-26.1")),
            dir.path(),
            "aliases",
            &meta,
            shared,
        );
        assert_eq!(same, SnapshotVerdict::Matches);

        let differs = check_snapshot(
            &options(Some("docker-26.1")),
            dir.path(),
            "aliases",
            &meta,
            newer,
        );
        let SnapshotVerdict::Changed {
            pending: Some(pending),
            ..
        } = differs
        else {
            panic!("{differs:?}");
        };
        assert!(
            pending.ends_with("aliases@docker-26-1.snap.new"),
            "{pending:?}"
        );
        assert!(!snapshot::pending_path(dir.path(), "aliases").exists());

        let own = snapshot::engine_name("aliases", "docker-26.1");
        std::fs::rename(&pending, snapshot::path(dir.path(), &own)).unwrap();
        let stored = check_snapshot(
            &options(Some("docker-26.1")),
            dir.path(),
            "aliases",
            &meta,
            newer,
        );
        assert_eq!(stored, SnapshotVerdict::Matches);
        // The book's first kind still answers to the shared snapshot alone.
        let first = check_snapshot(&options(None), dir.path(), "aliases", &meta, newer);
        assert!(
            matches!(first, SnapshotVerdict::Changed { .. }),
            "{first:?}"
        );
    }

    // A Podman twin of a Docker block (`engines="podman"` in a matrix that starts with Docker) has Podman's run
    // as its shared snapshot, the one the published book replays. When the block changed, that run went to a
    // snapshot of Podman's own beside the old shared one, and the book's build then replayed the stale one.
    #[test]
    fn a_changed_block_no_earlier_kind_runs_is_pending_as_the_shared_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Meta::default();
        let (old, new) = ("$ echo hi\nhi\n", "$ echo hi\nho\n");
        let written = snapshot::write_pending(dir.path(), "twin", &meta, old).unwrap();
        std::fs::rename(written, snapshot::path(dir.path(), "twin")).unwrap();
        let page = |engines: &str| {
            let text = format!("```console,engines=\"{engines}\"\n$ echo hi\nho\n```\n");
            crate::snippet::parse_page(Path::new("src/p.md"), &text).unwrap()
        };
        let podman = RunOptions {
            kinds_before: vec!["docker-20.10".into(), "docker-26.1".into()],
            ..options(Some("podman"))
        };
        let twin = page("podman");
        let verdict = check_snapshot(
            &podman.for_block(&twin.blocks[0]),
            dir.path(),
            "twin",
            &meta,
            new,
        );
        let SnapshotVerdict::Changed {
            pending: Some(pending),
            ..
        } = verdict
        else {
            panic!("{verdict:?}");
        };
        assert_eq!(pending, snapshot::pending_path(dir.path(), "twin"));
        // A block an earlier kind runs keeps its shared snapshot from that kind: Podman's differing run is
        // its own.
        let both = page("docker-26.1 podman");
        let verdict = check_snapshot(
            &podman.for_block(&both.blocks[0]),
            dir.path(),
            "twin",
            &meta,
            new,
        );
        assert!(
            matches!(&verdict, SnapshotVerdict::Changed { pending: Some(p), .. }
                if p.ends_with("twin@podman.snap.new")),
            "{verdict:?}"
        );
    }

    // The badge names every kind that verified a block whose transcript was the same on all: the run of a
    // non-first kind that matched the shared snapshot records itself there, once, forgets itself when it no
    // longer matches, and writes nothing under CI=true.
    #[test]
    fn a_kind_matching_the_shared_snapshot_is_recorded_in_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = Meta {
            engine: "Docker 20.10.24+dfsg1 (API 1.41)".into(),
            ..Meta::default()
        };
        let body = "$ echo hi\nhi\n";
        let written = snapshot::write_pending(dir.path(), "hi", &first, body).unwrap();
        let path = snapshot::path(dir.path(), "hi");
        std::fs::rename(written, &path).unwrap();
        let newer = Meta {
            engine: "Docker 26.1.5+dfsg1 (API 1.45)".into(),
            ..Meta::default()
        };
        let ci = RunOptions {
            snapshots: SnapshotMode::CheckOnly,
            ..options(Some("docker-26.1"))
        };
        let before = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            check_snapshot(&ci, dir.path(), "hi", &newer, body),
            SnapshotVerdict::Matches
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);

        let run = options(Some("docker-26.1"));
        assert_eq!(
            check_snapshot(&run, dir.path(), "hi", &newer, body),
            SnapshotVerdict::Matches
        );
        let marked = std::fs::read_to_string(&path).unwrap();
        assert!(
            marked.contains("  verified_on: \"docker-26.1: Docker 26.1.5+dfsg1 (API 1.45)\"\n"),
            "{marked}"
        );
        let stored = snapshot::read(&path).unwrap().unwrap();
        assert_eq!(stored.body, body.trim_end());
        assert_eq!(
            snapshot::verified_on(&stored.meta),
            [("docker-26.1", "Docker 26.1.5+dfsg1 (API 1.45)")]
        );
        // Matching again changes nothing.
        check_snapshot(&run, dir.path(), "hi", &newer, body);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), marked);

        let changed = check_snapshot(&run, dir.path(), "hi", &newer, "$ echo hi\nho\n");
        assert!(
            matches!(changed, SnapshotVerdict::Changed { .. }),
            "{changed:?}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    }

    // Regression: on a new block, Docker 26.1's run overwrote the pending snapshot Docker 20.10's run had just
    // written, so the accepted snapshot named 26.1 alone and the badge said "not verified on Docker 20.10".
    #[test]
    fn another_kind_leaves_the_first_kinds_pending_snapshot_alone() {
        let dir = tempfile::tempdir().unwrap();
        let first = Meta {
            engine: "Docker 20.10.24+dfsg1 (API 1.41)".into(),
            ..Meta::default()
        };
        let newer = Meta {
            engine: "Docker 26.1.5+dfsg1 (API 1.45)".into(),
            ..Meta::default()
        };
        let body = "$ echo hi\nhi\n";
        let verdict = check_snapshot(&options(None), dir.path(), "hi", &first, body);
        let SnapshotVerdict::New {
            pending: Some(path),
        } = verdict
        else {
            panic!("{verdict:?}");
        };
        let written = std::fs::read_to_string(&path).unwrap();
        let run = options(Some("docker-26.1"));
        assert_eq!(
            check_snapshot(&run, dir.path(), "hi", &newer, body),
            SnapshotVerdict::New {
                pending: Some(path.clone())
            }
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
        let differs = check_snapshot(&run, dir.path(), "hi", &newer, "$ echo hi\nho\n");
        let SnapshotVerdict::Changed {
            pending: Some(own), ..
        } = differs
        else {
            panic!("{differs:?}");
        };
        assert!(own.ends_with("hi@docker-26-1.snap.new"), "{own:?}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), written);
    }
}
