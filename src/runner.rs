//! Runs a book's pages against the engine and judges each block.
//!
//! A page is one scenario: its blocks run top to bottom in terminals that keep their state, `teardown`
//! blocks run last whatever happened, and every engine object the page created is removed afterwards, also
//! when a block fails, times out or the runner panics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError};
use crate::engine::{
    self, CommandResult, Engine, EngineError, Inventory, Proxy, Removed, StepKind, StepSpec,
    Terminal, TerminalError,
};
use crate::matching::{self, Bindings, Match};
use crate::redact::{self, Redactor};
use crate::snapshot::{self, Check, Meta};
use crate::snippet::{self, Block, Page, ParseError, Prompt, SessionChange, Status, Step};

/// How long cleanup waits for an engine that went away to come back.
const ENGINE_RETURN: Duration = Duration::from_secs(30);

/// How often a `retry=` block is re-run while it does not match.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("{path} is not an mdBook book: no book.toml")]
    NotABook { path: PathBuf },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Parse(Vec<ParseError>),
}

/// A book ready to run: its options and its pages in SUMMARY order.
#[derive(Debug, Clone)]
pub struct Book {
    pub root: PathBuf,
    pub config: Config,
    pub pages: Vec<Page>,
}

impl Book {
    /// Reads `root/book.toml` and every chapter `SUMMARY.md` links, and parses their runnable blocks with the
    /// container prompts the book's options name. Every malformed block of the book is reported, not just
    /// the first.
    pub fn load(root: &Path) -> Result<Book, BookError> {
        if !root.join("book.toml").is_file() {
            return Err(BookError::NotABook {
                path: root.to_path_buf(),
            });
        }
        let config = Config::load(root)?;
        let prompts = config
            .container_prompts()
            .map_err(|e| ConfigError::Invalid {
                path: root.join("book.toml"),
                message: format!("[preprocessor.docktest]: option `prompts`: {e}"),
            })?;
        let src = root.join("src");
        let summary = read(&src.join("SUMMARY.md"))?;
        let mut pages = Vec::new();
        let mut errors = Vec::new();
        for chapter in crate::markdown::summary_chapters(&summary) {
            let content = read(&src.join(&chapter))?;
            // Paths in reports read as the author sees them from the book root: `src/bridge.md:12`.
            match snippet::parse_page_with(&Path::new("src").join(&chapter), &content, &prompts) {
                Ok(page) => pages.push(page),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(BookError::Parse(errors));
        }
        Ok(Book {
            root: root.to_path_buf(),
            config,
            pages,
        })
    }

    /// Every image the pages start containers from (`docker run`/`create`), canonical (`alpine:latest`), with
    /// where it is first used. Ignored blocks do not run, so their images are not needed.
    pub fn images_used(&self) -> Vec<(String, String)> {
        let mut used: Vec<(String, String)> = Vec::new();
        for page in &self.pages {
            for block in page.blocks.iter().filter(|b| b.attrs.ignore.is_none()) {
                for step in &block.steps {
                    let Some(image) = snippet::image_of(step) else {
                        continue;
                    };
                    let image = engine::canonical_reference(&image);
                    if !used.iter().any(|(i, _)| *i == image) {
                        used.push((image, format!("{}:{}", page.path.display(), step.line)));
                    }
                }
            }
        }
        used
    }

    /// Number of runnable blocks (ignored ones included).
    pub fn block_count(&self) -> usize {
        self.pages.iter().map(|p| p.blocks.len()).sum()
    }
}

fn read(path: &Path) -> Result<String, BookError> {
    std::fs::read_to_string(path).map_err(|source| BookError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// What the runner does with snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotMode {
    /// Compare with `snapshots/`; write a pending `.snap.new` for a new or changed one.
    CheckAndWritePending,
    /// Compare only (CI: nothing is written).
    CheckOnly,
    /// Leave snapshots to the caller (the book test asserts them with insta).
    Skip,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Run only pages whose path contains this text.
    pub filter: Option<String>,
    pub snapshots: SnapshotMode,
    /// Colored diffs.
    pub color: bool,
}

impl RunOptions {
    /// Whether the run includes `page` (`--filter`).
    pub fn selects(&self, page: &Page) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|f| page.path.to_string_lossy().contains(f))
    }
}

/// Why one step failed.
#[derive(Debug, Clone, PartialEq)]
pub enum StepFailure {
    /// The output differs from what the page shows; `diff` is ready to print. `conflict` explains a
    /// value that contradicts one bound earlier on the page, which a line diff cannot show.
    Output {
        diff: String,
        conflict: Option<String>,
    },
    /// The exit status differs from the page's claim; `tail` is the end of what the command printed, which
    /// usually says why.
    Status {
        expected: Status,
        actual: i32,
        tail: String,
    },
    /// Still running at the block's timeout: it was interrupted, or its process group killed; a container
    /// session it ran in was closed.
    Timeout {
        after: Duration,
        session_closed: bool,
    },
    /// The terminal could not run it.
    Terminal { message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Page line of the step's prompt.
    pub line: usize,
    /// The prompt as the page shows it (`$ `, `/ # `).
    pub prompt: String,
    pub command: String,
    pub what: StepFailure,
}

/// The snapshot side of a block's verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum SnapshotVerdict {
    NotChecked,
    Matches,
    New {
        pending: Option<PathBuf>,
    },
    Changed {
        diff: String,
        pending: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Ran and matched the page.
    Verified,
    /// Not run: `ignore="reason"`.
    Ignored { reason: String },
    /// Ran and did not match.
    Failed(Vec<Failure>),
}

/// What one step really did.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRun {
    /// Page line of the step's prompt.
    pub line: usize,
    /// Normalized output, not redacted.
    pub actual: String,
    /// `None` when the step timed out or its terminal was lost.
    pub status: Option<i32>,
}

/// One block's run.
#[derive(Debug, Clone)]
pub struct BlockRun {
    /// Page line of the opening fence.
    pub line: usize,
    /// Stable snapshot name.
    pub name: String,
    pub verdict: Verdict,
    pub snapshot: SnapshotVerdict,
    /// The redacted transcript (the snapshot body).
    pub transcript: String,
    /// The steps that ran, in order (a block stops at a timeout, so there may be fewer than on the page).
    pub steps: Vec<StepRun>,
    pub meta: Meta,
    pub elapsed: Duration,
    /// `hidden` or `teardown`.
    pub hidden: bool,
}

impl BlockRun {
    pub fn passed(&self) -> bool {
        !matches!(self.verdict, Verdict::Failed(_))
            && matches!(
                self.snapshot,
                SnapshotVerdict::NotChecked | SnapshotVerdict::Matches
            )
    }
}

#[derive(Debug)]
pub struct PageRun {
    pub path: PathBuf,
    pub blocks: Vec<BlockRun>,
    /// What the cleanup after the page removed, or why it could not.
    pub cleanup: Result<Removed, String>,
    /// Something that makes the whole page's results untrustworthy (the engine restarted under it).
    pub problem: Option<String>,
    pub elapsed: Duration,
}

impl PageRun {
    pub fn passed(&self) -> bool {
        self.cleanup.is_ok() && self.problem.is_none() && self.blocks.iter().all(BlockRun::passed)
    }
}

/// What the runner reports as it goes, so a caller can print progress.
pub trait Observer {
    fn page_started(&mut self, _page: &Page) {}
    fn block_done(&mut self, _page: &Page, _block: &BlockRun) {}
    fn page_done(&mut self, _page: &PageRun) {}
}

impl Observer for () {}

/// Runs every page of the book (or those matching the filter), one after another.
pub fn run_book(
    engine: &Engine,
    book: &Book,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Vec<PageRun> {
    let snapshot_dir = book.config.snapshot_dir(&book.root);
    let date = today();
    book.pages
        .iter()
        .filter(|p| options.selects(p))
        .take_while(|_| !engine::cancelled())
        .map(|page| {
            observer.page_started(page);
            let run = run_page(engine, page, options, &snapshot_dir, &date, observer);
            observer.page_done(&run);
            run
        })
        .collect()
}

/// Owns what a page holds in the engine, so that it is released on every way out, unwinding included.
struct PageScope<'e> {
    terminals: BTreeMap<String, Terminal>,
    engine: &'e Engine,
    before: Option<Inventory>,
    /// Working directory of the page's terminals.
    workdir: Option<tempfile::TempDir>,
    /// The proxy the terminals reach the engine through, and the private folder of its socket.
    proxy: Option<(Proxy, tempfile::TempDir)>,
}

impl PageScope<'_> {
    /// Closes the terminals (killing what still runs in them), then removes what the page created.
    fn release(&mut self) -> Result<Removed, String> {
        self.terminals.clear();
        self.workdir.take();
        let Some((proxy, dir)) = self.proxy.take() else {
            return Ok(Removed::default());
        };
        let created = proxy.created();
        drop(proxy);
        let before = self.before.take().unwrap_or_default();
        // An engine that is restarting comes back within seconds; give it that long before giving up.
        let deadline = Instant::now() + ENGINE_RETURN;
        let removed = loop {
            match self.engine.remove_created(&created, &before) {
                Ok(removed) => break removed,
                Err(e) if Instant::now() < deadline && e.is_unreachable() => {
                    std::thread::sleep(RETRY_PAUSE)
                }
                // The journal stays: `mdbook-docktest clean` finishes the job once the engine is back.
                Err(e) => {
                    return Err(format!(
                        "{}; run `mdbook-docktest clean` once the engine is back",
                        error_chain(&e)
                    ))
                }
            }
        };
        engine::forget_journal(dir.path());
        Ok(removed)
    }
}

impl Drop for PageScope<'_> {
    fn drop(&mut self) {
        if self.proxy.is_some() {
            if let Err(e) = self.release() {
                eprintln!("error: cleanup after a failed page: {e}");
            }
        }
    }
}

fn run_page(
    engine: &Engine,
    page: &Page,
    options: &RunOptions,
    snapshot_dir: &Path,
    date: &str,
    observer: &mut dyn Observer,
) -> PageRun {
    let start = Instant::now();
    let mut scope = PageScope {
        terminals: BTreeMap::new(),
        engine,
        before: None,
        workdir: None,
        proxy: None,
    };
    let setup_failure = |message: String| PageRun {
        path: page.path.clone(),
        blocks: Vec::new(),
        cleanup: Err(message),
        problem: None,
        elapsed: start.elapsed(),
    };
    // An engine that is restarting comes back within seconds: wait for it rather than fail the page.
    let deadline = Instant::now() + ENGINE_RETURN;
    loop {
        match engine.inventory() {
            Ok(inv) => {
                scope.before = Some(inv);
                break;
            }
            Err(e) if e.is_unreachable() && Instant::now() < deadline => {
                std::thread::sleep(RETRY_PAUSE)
            }
            Err(e) => return setup_failure(error_chain(&e)),
        }
    }
    match tempfile::Builder::new().prefix("docktest-page-").tempdir() {
        Ok(dir) => scope.workdir = Some(dir),
        Err(e) => return setup_failure(format!("cannot create a working directory: {e}")),
    }
    let proxy = tempfile::Builder::new()
        .prefix("docktest-proxy-")
        .tempdir()
        .map_err(|e| format!("cannot create the proxy's folder: {e}"))
        .and_then(|dir| match engine.start_proxy(dir.path()) {
            Ok(proxy) => Ok((proxy, dir)),
            Err(e) => Err(error_chain(&e)),
        });
    match proxy {
        Ok(p) => scope.proxy = Some(p),
        Err(e) => return setup_failure(e),
    }

    let mut run = PageRunner {
        page,
        names: snapshot::names(page),
        kinds: step_kinds(page),
        options,
        snapshot_dir,
        date,
        engine_info: engine.info().to_string(),
        redactor: Redactor::new(),
        bindings: Bindings::default(),
        in_flight: BTreeMap::new(),
        done: Vec::new(),
    };
    // Teardown blocks run last, in page order, whatever happened before them.
    let order: Vec<usize> = (0..page.blocks.len())
        .filter(|&i| !page.blocks[i].attrs.teardown)
        .chain((0..page.blocks.len()).filter(|&i| page.blocks[i].attrs.teardown))
        .collect();
    let mut teardown_started = false;
    for (pos, &i) in order.iter().enumerate() {
        if engine::cancelled() {
            break;
        }
        let block = &page.blocks[i];
        if block.attrs.teardown && !teardown_started {
            teardown_started = true;
            run.settle_all(&mut scope, observer);
            close_sessions(&mut scope);
        }
        // The next block that runs decides whether this block's last command may keep running.
        let next_term = order
            .get(pos + 1)
            .map(|&j| page.blocks[j].attrs.term.as_str());
        run.run_block(&mut scope, i, next_term, observer);
    }
    run.settle_all(&mut scope, observer);
    let mut blocks = std::mem::take(&mut run.done);
    blocks.sort_by_key(|(i, _)| *i);
    let problem = scope
        .proxy
        .as_ref()
        .is_some_and(|(p, _)| p.engine_lost())
        .then(|| {
            "the Docker engine stopped or restarted while this page ran; its results do not count \
             (run the page again once the engine is steady)"
                .to_string()
        });
    let cleanup = scope.release();
    PageRun {
        path: page.path.clone(),
        blocks: blocks.into_iter().map(|(_, r)| r).collect(),
        cleanup,
        problem,
        elapsed: start.elapsed(),
    }
}

/// How long the last command of a block gets to return before the page moves on to a block of another
/// terminal while it keeps running (a server in the foreground: `nc -lp 1234`).
pub const SETTLE: Duration = Duration::from_secs(1);

/// A block whose last step still runs in its terminal.
struct InFlight {
    block: usize,
    step: usize,
    state: BlockState,
}

/// What a block has produced so far.
#[derive(Default)]
struct BlockState {
    failures: Vec<Failure>,
    transcript: String,
    raw: String,
    steps: Vec<StepRun>,
    elapsed: Duration,
}

/// A page's run in progress: the state shared by its blocks.
struct PageRunner<'a> {
    page: &'a Page,
    names: Vec<String>,
    kinds: Vec<Vec<StepKind>>,
    options: &'a RunOptions,
    snapshot_dir: &'a Path,
    date: &'a str,
    engine_info: String,
    redactor: Redactor,
    bindings: Bindings,
    /// By terminal name.
    in_flight: BTreeMap<String, InFlight>,
    done: Vec<(usize, BlockRun)>,
}

/// Whether a step's failure stops its block: what follows depends on it.
#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Stop,
}

impl PageRunner<'_> {
    fn meta(&self, block: &Block) -> Meta {
        Meta {
            block: format!("{}:{}", self.page.path.display(), block.line),
            engine: self.engine_info.clone(),
            commands: snapshot::command_hash(block),
            date: self.date.to_string(),
            raw: String::new(),
        }
    }

    fn run_block(
        &mut self,
        scope: &mut PageScope<'_>,
        index: usize,
        next_term: Option<&str>,
        observer: &mut dyn Observer,
    ) {
        let block = &self.page.blocks[index];
        if let Some(reason) = &block.attrs.ignore {
            let run = BlockRun {
                line: block.line,
                name: self.names[index].clone(),
                verdict: Verdict::Ignored {
                    reason: reason.clone(),
                },
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
        let mut state = BlockState::default();
        let start = Instant::now();
        for (k, step) in block.steps.iter().enumerate() {
            let last = k + 1 == block.steps.len();
            let kind = self.kinds[index][k];
            let term = match terminal(scope, &block.attrs.term) {
                Ok(t) => t,
                Err(e) => {
                    state.fail(
                        step,
                        StepFailure::Terminal {
                            message: error_chain(&e),
                        },
                    );
                    break;
                }
            };
            let result = match start_step(term, step, kind, block.attrs.timeout) {
                Err(failure) => Err(failure),
                Ok(()) if last && may_run_on => match term.wait(Some(Instant::now() + SETTLE)) {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => {
                        state.elapsed += start.elapsed();
                        self.in_flight.insert(
                            block.attrs.term.clone(),
                            InFlight {
                                block: index,
                                step: k,
                                state,
                            },
                        );
                        return;
                    }
                    Err(e) => Err(StepFailure::Terminal {
                        message: error_chain(&e),
                    }),
                },
                Ok(()) => term
                    .wait(None)
                    .map(|r| r.expect("waits to its deadline"))
                    .map_err(|e| StepFailure::Terminal {
                        message: error_chain(&e),
                    }),
            };
            let next = self.record(scope, &mut state, block, step, result);
            if next == Next::Stop {
                break;
            }
        }
        state.elapsed += start.elapsed();
        self.finalize(index, state, observer);
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
        let block = &self.page.blocks[index];
        let start = Instant::now();
        let deadline = start + retry;
        let (redactor, bindings) = (self.redactor.clone(), self.bindings.clone());
        loop {
            self.redactor = redactor.clone();
            self.bindings = bindings.clone();
            let mut state = BlockState::default();
            for (k, step) in block.steps.iter().enumerate() {
                let kind = self.kinds[index][k];
                let result = match terminal(scope, &block.attrs.term) {
                    Ok(term) => start_step(term, step, kind, block.attrs.timeout).and_then(|()| {
                        term.wait(None)
                            .map(|r| r.expect("waits to its deadline"))
                            .map_err(|e| StepFailure::Terminal {
                                message: error_chain(&e),
                            })
                    }),
                    Err(e) => Err(StepFailure::Terminal {
                        message: error_chain(&e),
                    }),
                };
                if self.record(scope, &mut state, block, step, result) == Next::Stop {
                    break;
                }
            }
            if state.failures.is_empty()
                || Instant::now() + RETRY_PAUSE >= deadline
                || engine::cancelled()
            {
                state.elapsed = start.elapsed();
                return self.finalize(index, state, observer);
            }
            std::thread::sleep(RETRY_PAUSE);
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
            Some(t) => t
                .wait(None)
                .map(|r| r.expect("waits to its deadline"))
                .map_err(|e| StepFailure::Terminal {
                    message: error_chain(&e),
                }),
            None => Err(StepFailure::Terminal {
                message: format!("terminal `{term}` was lost"),
            }),
        };
        self.record(scope, &mut state, block, step, result);
        state.elapsed += start.elapsed();
        self.finalize(flight.block, state, observer);
    }

    /// Collects every command still running, in the order their blocks started.
    fn settle_all(&mut self, scope: &mut PageScope<'_>, observer: &mut dyn Observer) {
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

    /// Adds one step's outcome to its block: transcript, real output, verdict.
    fn record(
        &mut self,
        scope: &mut PageScope<'_>,
        state: &mut BlockState,
        block: &Block,
        step: &Step,
        result: Result<CommandResult, StepFailure>,
    ) -> Next {
        let lines = snapshot::command_lines(step);
        state.transcript.push_str(&lines);
        state.raw.push_str(&lines);
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
        let shown = self.redactor.redact(&actual);
        for (text, out) in [(&shown, &mut state.transcript), (&actual, &mut state.raw)] {
            // The transcript reads like the page: `^C` where the interrupt went out.
            let text = &match step.interrupt_after {
                Some(n) => with_interrupt_mark(text, n),
                None => text.clone(),
            };
            out.push_str(text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
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
            let line = format!("? timeout after {}\n", human(block.attrs.timeout));
            state.transcript.push_str(&line);
            state.raw.push_str(&line);
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
        if status != 0 {
            let line = format!("? {status}\n");
            state.transcript.push_str(&line);
            state.raw.push_str(&line);
        }
        // The page asserts what it shows: a command with no output under it makes no claim on its output.
        if !step.expected.is_empty() {
            if let Match::Mismatch { conflict } =
                matching::match_output(&step.expected, &actual, &mut self.bindings)
            {
                state.fail(
                    step,
                    StepFailure::Output {
                        diff: matching::diff(&step.expected, &actual, self.options.color),
                        conflict: conflict.map(|c| c.to_string()),
                    },
                );
            }
        }
        if step.status_checked() && !status_matches(step, status) {
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

    fn finalize(&mut self, index: usize, state: BlockState, observer: &mut dyn Observer) {
        let block = &self.page.blocks[index];
        let name = &self.names[index];
        let meta = Meta {
            raw: state.raw,
            ..self.meta(block)
        };
        let snapshot = check_snapshot(
            self.options,
            self.snapshot_dir,
            name,
            &meta,
            &state.transcript,
        );
        let run = BlockRun {
            line: block.line,
            name: name.clone(),
            verdict: if state.failures.is_empty() {
                Verdict::Verified
            } else {
                Verdict::Failed(state.failures)
            },
            snapshot,
            transcript: state.transcript,
            steps: state.steps,
            meta,
            elapsed: state.elapsed,
            hidden: block.attrs.hidden || block.attrs.teardown,
        };
        observer.block_done(self.page, &run);
        self.done.push((index, run));
    }
}

impl BlockState {
    fn fail(&mut self, step: &Step, what: StepFailure) {
        self.failures.push(Failure {
            line: step.line,
            prompt: snapshot::prompt_text(step).to_string(),
            command: step.command(),
            what,
        });
    }
}

/// How much of a failed command's output a status failure quotes.
const STATUS_TAIL_LINES: usize = 5;

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `text` with a `^C` line after its first `n` lines, when it has that many.
fn with_interrupt_mark(text: &str, n: usize) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    let mut lines = text.split_inclusive('\n');
    for line in lines.by_ref().take(n) {
        out.push_str(line);
    }
    if out.ends_with('\n') || (n == 0) {
        out.push_str("^C\n");
    }
    out.extend(lines);
    out
}

/// How each step of the page is typed. An opening command followed (in its terminal, maybe in a later
/// block) by a detach written alone on its line attaches to a program that is not a shell.
fn step_kinds(page: &Page) -> Vec<Vec<StepKind>> {
    let mut kinds: Vec<Vec<StepKind>> = Vec::new();
    let mut last_open: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (b, block) in page.blocks.iter().enumerate() {
        let mut row = Vec::new();
        for (k, step) in block.steps.iter().enumerate() {
            let kind = match (&step.prompt, &step.session) {
                (_, SessionChange::Exit) => StepKind::Exit,
                (Prompt::Container(p), SessionChange::Detach) => {
                    if p.is_empty() {
                        if let Some(&(ob, ok)) = last_open.get(block.attrs.term.as_str()) {
                            let lines = page.blocks[ob].steps[ok].expected.len();
                            if ob == b {
                                row[ok] = StepKind::Attach { lines };
                            } else {
                                kinds[ob][ok] = StepKind::Attach { lines };
                            }
                        }
                    }
                    StepKind::Detach
                }
                (Prompt::Host, SessionChange::Detach) => StepKind::Detach,
                (Prompt::Host, SessionChange::Open) => {
                    last_open.insert(block.attrs.term.as_str(), (b, k));
                    StepKind::OpenShell
                }
                (Prompt::Host, SessionChange::None) => StepKind::Host,
                (Prompt::Container(_), _) => StepKind::Container,
            };
            row.push(kind);
        }
        kinds.push(row);
    }
    kinds
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
    term.begin(StepSpec {
        kind,
        input: step.input.clone(),
        timeout,
        interrupt_after: step.interrupt_after,
    })
    .map_err(|e| StepFailure::Terminal {
        message: error_chain(&e),
    })
}

/// Leaves every open container session (the docker CLI attached to it is killed; the container itself is
/// removed with the page), so that teardown blocks start at a host prompt.
fn close_sessions(scope: &mut PageScope<'_>) {
    let lost: Vec<String> = scope
        .terminals
        .iter_mut()
        .filter(|(_, t)| t.in_session())
        .filter_map(|(name, t)| t.close_session().is_err().then(|| name.clone()))
        .collect();
    for name in lost {
        scope.terminals.remove(&name);
    }
}

fn terminal<'s>(
    scope: &'s mut PageScope<'_>,
    name: &str,
) -> Result<&'s mut Terminal, TerminalError> {
    if !scope.terminals.contains_key(name) {
        let cwd = scope
            .workdir
            .as_ref()
            .map(|d| d.path().to_path_buf())
            .unwrap_or_else(std::env::temp_dir);
        let host = scope
            .proxy
            .as_ref()
            .map_or_else(|| scope.engine.endpoint().host.clone(), |(p, _)| p.host());
        let term = Terminal::start(name, &scope.engine.terminal_setup(&cwd, &host))?;
        scope.terminals.insert(name.to_string(), term);
    }
    Ok(scope.terminals.get_mut(name).expect("inserted above"))
}

fn status_matches(step: &Step, actual: i32) -> bool {
    match step.status {
        Status::Success => actual == 0,
        Status::Code(n) => actual == n,
        Status::Failed => actual != 0,
    }
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
    let stored = match snapshot::read(&snapshot::path(dir, name)) {
        Ok(s) => s,
        Err(e) => {
            return SnapshotVerdict::Changed {
                diff: error_chain(&e),
                pending: None,
            }
        }
    };
    let write = |body: &str| match options.snapshots {
        SnapshotMode::CheckAndWritePending => snapshot::write_pending(dir, name, meta, body).ok(),
        _ => None,
    };
    match snapshot::check(stored.as_ref(), transcript) {
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
        Check::Changed { stored } => {
            let expected: Vec<String> = stored.lines().map(String::from).collect();
            SnapshotVerdict::Changed {
                diff: matching::diff(&expected, transcript, options.color),
                pending: write(transcript),
            }
        }
    }
}

/// `30s`, `2s`, `500ms`
pub fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// An error and its causes on one line: `what: why: deeper why`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(secs)).to_string()
        [..10]
        .to_string()
}

/// Connects to the engine and readies the book's images: those with recipes, then those its pages use
/// without one (present or pullable, else an error naming where the page uses it).
pub fn prepare(
    book: &Book,
    endpoint: crate::engine::Endpoint,
) -> Result<(Engine, Vec<crate::engine::ImageStatus>), PrepareError> {
    let engine = Engine::connect(endpoint)?;
    let mut images = engine.ensure_images(&book.root, &book.config.images)?;
    let with_recipe: Vec<String> = book
        .config
        .images
        .keys()
        .map(|r| engine::canonical_reference(r))
        .collect();
    for (reference, place) in book.images_used() {
        if with_recipe.contains(&reference) {
            continue;
        }
        match engine.ensure_present(&reference) {
            Ok(status) => images.push(status),
            Err(source) => {
                return Err(PrepareError::Image {
                    place,
                    message: error_chain(&source),
                })
            }
        }
    }
    Ok((engine, images))
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Images(#[from] crate::engine::ImageError),
    /// An image a page uses that the engine cannot provide; `message` holds the whole cause chain.
    #[error("{place}: {message}")]
    Image {
        /// Where a page first uses the image: `src/page.md:12`.
        place: String,
        message: String,
    },
}
