//! Running a block: its steps typed one after another into its terminal, the last one allowed to keep
//! running while the page goes on in another terminal (a server), `retry=` blocks re-run until they match.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::page::PageScope;
use super::record::{BlockState, Next};
use super::{BlockRun, Observer, RunOptions, SnapshotVerdict, StepFailure, Verdict, RETRY_PAUSE};
use crate::engine::policy::Allowed;
use crate::engine::{self, CommandResult, EngineInfo, StepKind, StepSpec, Terminal};
use crate::matching::Bindings;
use crate::redact::Redactor;
use crate::snapshot::{self, Meta};
use crate::snippet::{Block, Page, Step};

/// How long the last command of a block gets to return before the page moves on to a block of another
/// terminal while it keeps running (a server in the foreground: `nc -lp 1234`).
pub const SETTLE: Duration = Duration::from_secs(1);

/// A block whose last step still runs in its terminal.
struct InFlight {
    block: usize,
    step: usize,
    state: BlockState,
}

/// How a block's steps ended.
enum Steps {
    /// All ran, or one failed in a way that stops the block.
    Done(BlockState),
    /// The last one still runs: the page goes on, and its block is finished when it ends.
    Running(InFlight),
}

/// A page's run in progress: the state shared by its blocks.
pub(super) struct PageRunner<'a> {
    pub(super) page: &'a Page,
    names: Vec<String>,
    kinds: Vec<Vec<StepKind>>,
    pub(super) options: &'a RunOptions,
    pub(super) snapshot_dir: &'a Path,
    date: &'a str,
    engine_info: String,
    /// The engine's product word and release (`docker`, `26.1.5`), for `engines=`.
    platform: (String, String),
    pub(super) redactor: Redactor,
    pub(super) bindings: Bindings,
    /// The powers book.toml grants every block.
    book_allow: &'a Allowed,
    /// By terminal name.
    in_flight: BTreeMap<String, InFlight>,
    done: Vec<(usize, BlockRun)>,
}

impl<'a> PageRunner<'a> {
    pub fn new(
        page: &'a Page,
        kinds: Vec<Vec<StepKind>>,
        book_allow: &'a Allowed,
        options: &'a RunOptions,
        snapshot_dir: &'a Path,
        date: &'a str,
        engine: &EngineInfo,
    ) -> Self {
        PageRunner {
            page,
            names: snapshot::names(page),
            kinds,
            options,
            snapshot_dir,
            date,
            engine_info: engine.to_string(),
            platform: (
                engine.product.word().to_string(),
                engine.release().to_string(),
            ),
            redactor: Redactor::new(),
            bindings: Bindings::default(),
            book_allow,
            in_flight: BTreeMap::new(),
            done: Vec::new(),
        }
    }

    /// Whether no command of the page is still running.
    pub fn quiet(&self) -> bool {
        self.in_flight.is_empty()
    }

    /// The blocks' runs, in page order.
    pub fn into_blocks(mut self) -> Vec<BlockRun> {
        self.done.sort_by_key(|(i, _)| *i);
        self.done.into_iter().map(|(_, r)| r).collect()
    }

    pub(super) fn meta(&self, block: &Block) -> Meta {
        Meta {
            block: format!("{}:{}", self.page.path.display(), block.line),
            engine: self.engine_info.clone(),
            commands: snapshot::command_hash(block),
            date: self.date.to_string(),
            raw: String::new(),
            verified_on: Vec::new(),
        }
    }

    pub fn run_block(
        &mut self,
        scope: &mut PageScope<'_>,
        index: usize,
        next_term: Option<&str>,
        observer: &mut dyn Observer,
    ) {
        let block = &self.page.blocks[index];
        if let Some(reason) = self.left_out(index) {
            let run = BlockRun {
                line: block.line,
                name: self.names[index].clone(),
                verdict: Verdict::Ignored { reason },
                snapshot: SnapshotVerdict::NotChecked,
                transcript: String::new(),
                steps: Vec::new(),
                meta: self.meta(block),
                elapsed: Duration::ZERO,
                hidden: block.attrs.hidden || block.attrs.teardown,
            };
            observer.block_done(self.page, &run);
            self.done.push((index, run));
            return;
        }
        // Its terminal's previous command, if still running, ends first: a reader cannot type over it.
        self.settle(scope, &block.attrs.term, observer);

        if let Some(retry) = block.attrs.retry {
            return self.run_block_with_retry(scope, index, retry, observer);
        }
        let may_run_on = next_term.is_some_and(|t| t != block.attrs.term);
        let start = Instant::now();
        match self.run_steps(scope, index, may_run_on) {
            Steps::Done(mut state) => {
                state.elapsed += start.elapsed();
                self.finalize(index, state, observer);
            }
            Steps::Running(mut flight) => {
                flight.state.elapsed += start.elapsed();
                self.in_flight.insert(block.attrs.term.clone(), flight);
            }
        }
    }

    /// Types the block's steps one after another, each once the one before it ended. With `may_run_on`,
    /// the last one gets [`SETTLE`] to return before it is left running.
    fn run_steps(&mut self, scope: &mut PageScope<'_>, index: usize, may_run_on: bool) -> Steps {
        let block = &self.page.blocks[index];
        let mut state = BlockState::default();
        scope.allow(self.book_allow.union(&block.attrs.allow));
        for (k, step) in block.steps.iter().enumerate() {
            let last = k + 1 == block.steps.len();
            let term = match scope.terminal(&block.attrs.term) {
                Ok(t) => t,
                Err(e) => {
                    state.fail(step, e.into());
                    break;
                }
            };
            let result = start_step(term, step, self.kinds[index][k], block.attrs.timeout)
                .and_then(|()| {
                    let until = (last && may_run_on).then(|| Instant::now() + SETTLE);
                    Ok(term.wait(until)?)
                });
            let result = match result {
                Ok(Some(r)) => Ok(r),
                Ok(None) => {
                    return Steps::Running(InFlight {
                        block: index,
                        step: k,
                        state,
                    })
                }
                Err(failure) => Err(failure),
            };
            if self.record(scope, &mut state, block, step, result) == Next::Stop {
                break;
            }
        }
        Steps::Done(state)
    }

    /// A `retry=` block re-runs from its first step, on fresh copies of the page's redaction state, until it
    /// matches or its time is up. Its commands always run to completion.
    fn run_block_with_retry(
        &mut self,
        scope: &mut PageScope<'_>,
        index: usize,
        retry: Duration,
        observer: &mut dyn Observer,
    ) {
        let start = Instant::now();
        let deadline = start + retry;
        let (redactor, bindings) = (self.redactor.clone(), self.bindings.clone());
        loop {
            self.redactor = redactor.clone();
            self.bindings = bindings.clone();
            let Steps::Done(mut state) = self.run_steps(scope, index, false) else {
                unreachable!("steps that may not run on end before they return");
            };
            // A refusal is the page's sandbox, not a server still starting: trying again cannot help.
            let refused = state
                .failures
                .iter()
                .any(|f| matches!(f.what, StepFailure::Refused { .. }));
            if state.failures.is_empty()
                || refused
                || Instant::now() + RETRY_PAUSE >= deadline
                || engine::cancelled()
            {
                state.elapsed = start.elapsed();
                return self.finalize(index, state, observer);
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }

    /// Why the block `index` is not run here: `ignore=`, or an `engines=` that leaves this engine out (such
    /// a block is left out like an ignored one; the page goes on).
    fn left_out(&self, index: usize) -> Option<String> {
        let block = &self.page.blocks[index];
        let (product, release) = &self.platform;
        let not_here = (!block.attrs.engines.admits(product, release)).then(|| {
            format!(
                "not for {product} {release} (engines=\"{}\")",
                block.attrs.engines.written()
            )
        });
        block.attrs.ignore.clone().or(not_here)
    }

    /// Collects what still runs in the terminal of the block `index`, when that block runs here: the block
    /// waits for it first anyway (a reader cannot type over it), so it may as well end now.
    pub fn settle_before(
        &mut self,
        scope: &mut PageScope<'_>,
        index: usize,
        observer: &mut dyn Observer,
    ) {
        if self.left_out(index).is_none() {
            let term = self.page.blocks[index].attrs.term.clone();
            self.settle(scope, &term, observer);
        }
    }

    /// Collects the command still running in `term`, if any, and finishes its block.
    fn settle(&mut self, scope: &mut PageScope<'_>, term: &str, observer: &mut dyn Observer) {
        let Some(flight) = self.in_flight.remove(term) else {
            return;
        };
        let block = &self.page.blocks[flight.block];
        let step = &block.steps[flight.step];
        let mut state = flight.state;
        let start = Instant::now();
        let result = match scope.terminals.get_mut(term) {
            Some(t) => wait_to_deadline(t),
            None => Err(StepFailure::Terminal {
                message: format!("terminal `{term}` was lost"),
            }),
        };
        self.record(scope, &mut state, block, step, result);
        state.elapsed += start.elapsed();
        self.finalize(flight.block, state, observer);
    }

    /// Collects every command still running, in the order their blocks started.
    pub fn settle_all(&mut self, scope: &mut PageScope<'_>, observer: &mut dyn Observer) {
        let mut terms: Vec<(usize, String)> = self
            .in_flight
            .iter()
            .map(|(t, f)| (f.block, t.clone()))
            .collect();
        terms.sort();
        for (_, term) in terms {
            self.settle(scope, &term, observer);
        }
    }

    /// Finishes a block: its snapshot checked, its run reported.
    fn finalize(&mut self, index: usize, state: BlockState, observer: &mut dyn Observer) {
        let block = &self.page.blocks[index];
        let run = self.block_run(block, &self.names[index], state);
        observer.block_done(self.page, &run);
        self.done.push((index, run));
    }
}

/// Waits for the command running in `term` to end, up to its own timeout.
fn wait_to_deadline(term: &mut Terminal) -> Result<CommandResult, StepFailure> {
    Ok(term.wait(None)?.expect("waits to its deadline"))
}

/// Types a step into its terminal, or says why it cannot be.
fn start_step(
    term: &mut Terminal,
    step: &Step,
    kind: StepKind,
    timeout: Duration,
) -> Result<(), StepFailure> {
    let needs_session = matches!(
        kind,
        StepKind::Container | StepKind::Exit | StepKind::Detach
    );
    if needs_session && !term.in_session() {
        return Err(StepFailure::Terminal {
            message: format!(
                "no container session is open in terminal `{}`: the command that opened it failed, \
                 returned, or was closed at a timeout",
                term.name()
            ),
        });
    }
    Ok(term.begin(StepSpec {
        kind,
        input: step.input.clone(),
        timeout,
        interrupt_after: step.interrupt_after,
    })?)
}
