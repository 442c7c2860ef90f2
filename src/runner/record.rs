//! Recording a step's outcome: its transcripts (redacted for the snapshot, raw for the preprocessor), its
//! real output, and what the page says of it; then the block's snapshot verdict.

use std::path::Path;
use std::time::Duration;

use super::block::PageRunner;
use super::page::PageScope;
use super::{
    human, BlockRun, Failure, RunOptions, SnapshotMode, SnapshotVerdict, StepFailure, StepRun,
    Verdict,
};
use crate::engine::CommandResult;
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
            ..self.meta(block)
        };
        let snapshot = check_snapshot(self.options, self.snapshot_dir, name, &meta, &transcript);
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

fn check_snapshot(
    options: &RunOptions,
    dir: &Path,
    name: &str,
    meta: &Meta,
    transcript: &str,
) -> SnapshotVerdict {
    if options.snapshots == SnapshotMode::Skip {
        return SnapshotVerdict::NotChecked;
    }
    if let Some(kind) = &options.engine_kind {
        // The book's first kind's snapshot serves every engine whose transcript is the same.
        if let Ok(Some(shared)) = snapshot::read(&snapshot::path(dir, name)) {
            if snapshot::check(Some(&shared), transcript, &meta.commands) == Check::Matches {
                let own = snapshot::engine_name(name, kind);
                if options.snapshots == SnapshotMode::CheckAndWritePending {
                    let _ = std::fs::remove_file(snapshot::pending_path(dir, &own));
                }
                return SnapshotVerdict::Matches;
            }
            let own = snapshot::engine_name(name, kind);
            if !snapshot::path(dir, &own).exists() {
                // No snapshot of this engine's own yet: the difference is shown against the shared one.
                return SnapshotVerdict::Changed {
                    diff: matching::snapshot_diff(&shared.body, transcript, options.color),
                    pending: match options.snapshots {
                        SnapshotMode::CheckAndWritePending => {
                            snapshot::write_pending(dir, &own, meta, transcript).ok()
                        }
                        _ => None,
                    },
                };
            }
            return check_one(options, dir, &own, meta, transcript);
        }
    }
    check_one(options, dir, name, meta, transcript)
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
    let write = |body: &str| match options.snapshots {
        SnapshotMode::CheckAndWritePending => snapshot::write_pending(dir, name, meta, body).ok(),
        _ => None,
    };
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
}
