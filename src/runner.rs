//! Runs a book's pages against the engine and judges each block.
//!
//! A page is one scenario: its blocks run top to bottom in terminals that keep their state, `teardown`
//! blocks run last whatever happened, and every engine object the page created is removed afterwards, also
//! when a block fails, times out or the runner panics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Config, ConfigError};
use crate::engine::{Engine, EngineError, Inventory, Removed, Terminal, TerminalError};
use crate::matching::{self, Bindings, Match};
use crate::redact::{self, Redactor};
use crate::snapshot::{self, Check, Meta};
use crate::snippet::{self, Block, Page, ParseError, Status, Step};

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
    /// Reads `root/book.toml` and every chapter `SUMMARY.md` links, and parses their runnable blocks. Every
    /// malformed block of the book is reported, not just the first.
    pub fn load(root: &Path) -> Result<Book, BookError> {
        if !root.join("book.toml").is_file() {
            return Err(BookError::NotABook {
                path: root.to_path_buf(),
            });
        }
        let config = Config::load(root)?;
        let src = root.join("src");
        let summary_path = src.join("SUMMARY.md");
        let summary = read(&summary_path)?;
        let mut pages = Vec::new();
        let mut errors = Vec::new();
        for chapter in crate::markdown::summary_chapters(&summary) {
            let content = read(&src.join(&chapter))?;
            // Paths in reports read as the author sees them from the book root: `src/bridge.md:12`.
            match snippet::parse_page(&Path::new("src").join(&chapter), &content) {
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

/// Why one step failed.
#[derive(Debug, Clone, PartialEq)]
pub enum StepFailure {
    /// The output differs from what the page shows; `diff` is ready to print. `conflict` explains a
    /// value that contradicts one bound earlier on the page, which a line diff cannot show.
    Output {
        diff: String,
        conflict: Option<String>,
    },
    /// The exit status differs from the page's claim.
    Status { expected: Status, actual: i32 },
    /// Still running at the block's timeout; its process group was killed.
    Timeout { after: Duration },
    /// The terminal could not run it.
    Terminal { message: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Page line of the step's prompt.
    pub line: usize,
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
    pub elapsed: Duration,
}

impl PageRun {
    pub fn passed(&self) -> bool {
        self.cleanup.is_ok() && self.blocks.iter().all(BlockRun::passed)
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
        .filter(|p| {
            options
                .filter
                .as_deref()
                .is_none_or(|f| p.path.to_string_lossy().contains(f))
        })
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
}

impl PageScope<'_> {
    /// Closes the terminals (killing what still runs in them), then removes what the page created.
    fn release(&mut self) -> Result<Removed, String> {
        self.terminals.clear();
        self.workdir.take();
        match self.before.take() {
            Some(before) => self
                .engine
                .remove_all_but(&before)
                .map_err(|e| error_chain(&e)),
            None => Ok(Removed::default()),
        }
    }
}

impl Drop for PageScope<'_> {
    fn drop(&mut self) {
        if self.before.is_some() {
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
    let names = snapshot::names(page);
    let mut scope = PageScope {
        terminals: BTreeMap::new(),
        engine,
        before: None,
        workdir: None,
    };
    let setup_failure = |message: String| PageRun {
        path: page.path.clone(),
        blocks: Vec::new(),
        cleanup: Err(message),
        elapsed: start.elapsed(),
    };
    match engine.inventory() {
        Ok(inv) => scope.before = Some(inv),
        Err(e) => return setup_failure(error_chain(&e)),
    }
    match tempfile::Builder::new().prefix("docktest-page-").tempdir() {
        Ok(dir) => scope.workdir = Some(dir),
        Err(e) => return setup_failure(format!("cannot create a working directory: {e}")),
    }

    let mut redactor = Redactor::new();
    let mut bindings = Bindings::default();
    // Teardown blocks run last, in page order, whatever happened before them.
    let order: Vec<usize> = (0..page.blocks.len())
        .filter(|&i| !page.blocks[i].attrs.teardown)
        .chain((0..page.blocks.len()).filter(|&i| page.blocks[i].attrs.teardown))
        .collect();
    let mut runs: Vec<(usize, BlockRun)> = Vec::new();
    for i in order {
        let block = &page.blocks[i];
        let meta = Meta {
            block: format!("{}:{}", page.path.display(), block.line),
            engine: engine.info().to_string(),
            commands: snapshot::command_hash(block),
            date: date.to_string(),
            raw: String::new(),
        };
        let run = run_block(
            &mut scope,
            block,
            &names[i],
            meta,
            &mut redactor,
            &mut bindings,
            options,
            snapshot_dir,
        );
        observer.block_done(page, &run);
        runs.push((i, run));
    }
    runs.sort_by_key(|(i, _)| *i);
    let cleanup = scope.release();
    PageRun {
        path: page.path.clone(),
        blocks: runs.into_iter().map(|(_, r)| r).collect(),
        cleanup,
        elapsed: start.elapsed(),
    }
}

#[allow(clippy::too_many_arguments)]
fn run_block(
    scope: &mut PageScope<'_>,
    block: &Block,
    name: &str,
    meta: Meta,
    redactor: &mut Redactor,
    bindings: &mut Bindings,
    options: &RunOptions,
    snapshot_dir: &Path,
) -> BlockRun {
    let start = Instant::now();
    let hidden = block.attrs.hidden || block.attrs.teardown;
    if let Some(reason) = &block.attrs.ignore {
        return BlockRun {
            line: block.line,
            name: name.to_string(),
            verdict: Verdict::Ignored {
                reason: reason.clone(),
            },
            snapshot: SnapshotVerdict::NotChecked,
            transcript: String::new(),
            steps: Vec::new(),
            meta,
            elapsed: Duration::ZERO,
            hidden,
        };
    }

    // A `retry=` block re-runs from its first step, on fresh copies of the page's redaction state, until it
    // matches or its time is up.
    let deadline = block.attrs.retry.map(|r| start + r);
    let (failures, transcript, raw, steps, bindings_after, redactor_after) = loop {
        let mut attempt_bindings = bindings.clone();
        let mut attempt_redactor = redactor.clone();
        let (failures, transcript, raw, steps) = run_steps(
            scope,
            block,
            &mut attempt_redactor,
            &mut attempt_bindings,
            options.color,
        );
        let retry = deadline.is_some_and(|d| Instant::now() + RETRY_PAUSE < d);
        if failures.is_empty() || !retry {
            break (
                failures,
                transcript,
                raw,
                steps,
                attempt_bindings,
                attempt_redactor,
            );
        }
        std::thread::sleep(RETRY_PAUSE);
    };
    *bindings = bindings_after;
    *redactor = redactor_after;
    let meta = Meta { raw, ..meta };

    let snapshot = check_snapshot(options, snapshot_dir, name, &meta, &transcript);
    BlockRun {
        line: block.line,
        name: name.to_string(),
        verdict: if failures.is_empty() {
            Verdict::Verified
        } else {
            Verdict::Failed(failures)
        },
        snapshot,
        transcript,
        steps,
        meta,
        elapsed: start.elapsed(),
        hidden,
    }
}

/// Runs a block's steps in its terminal; returns the failures, the redacted transcript and the raw one. After a
/// timeout or a lost terminal the rest of the block is skipped: what follows depends on it.
fn run_steps(
    scope: &mut PageScope<'_>,
    block: &Block,
    redactor: &mut Redactor,
    bindings: &mut Bindings,
    color: bool,
) -> (Vec<Failure>, String, String, Vec<StepRun>) {
    let mut failures = Vec::new();
    let mut runs = Vec::new();
    let mut transcript = String::new();
    let mut raw = String::new();
    for step in &block.steps {
        transcript.push_str(&snapshot::command_lines(step));
        raw.push_str(&snapshot::command_lines(step));
        let fail = |what| Failure {
            line: step.line,
            command: step.command(),
            what,
        };
        let term = match terminal(scope, &block.attrs.term) {
            Ok(t) => t,
            Err(e) => {
                failures.push(fail(StepFailure::Terminal {
                    message: error_chain(&e),
                }));
                break;
            }
        };
        let result = match term.run(&step.input, block.attrs.timeout) {
            Ok(r) => r,
            Err(e) => {
                scope.terminals.remove(&block.attrs.term);
                failures.push(fail(StepFailure::Terminal {
                    message: error_chain(&e),
                }));
                break;
            }
        };
        let actual = redact::normalize(&result.output);
        runs.push(StepRun {
            line: step.line,
            actual: actual.clone(),
            status: if result.timed_out {
                None
            } else {
                result.status
            },
        });
        let shown = redactor.redact(&actual);
        for (text, out) in [(&shown, &mut transcript), (&actual, &mut raw)] {
            out.push_str(text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
        }
        if result.timed_out {
            let line = format!("? timeout after {}\n", human(block.attrs.timeout));
            transcript.push_str(&line);
            raw.push_str(&line);
            failures.push(fail(StepFailure::Timeout {
                after: block.attrs.timeout,
            }));
            if result.status.is_none() {
                scope.terminals.remove(&block.attrs.term);
            }
            break;
        }
        let status = result.status.unwrap_or(-1);
        if status != 0 {
            transcript.push_str(&format!("? {status}\n"));
            raw.push_str(&format!("? {status}\n"));
        }
        // The page asserts what it shows: a command with no output under it makes no claim on its output.
        if !step.expected.is_empty() {
            if let Match::Mismatch { conflict } =
                matching::match_output(&step.expected, &actual, bindings)
            {
                failures.push(fail(StepFailure::Output {
                    diff: matching::diff(&step.expected, &actual, color),
                    conflict: conflict.map(|c| c.to_string()),
                }));
            }
        }
        if !status_matches(step, status) {
            failures.push(fail(StepFailure::Status {
                expected: step.status,
                actual: status,
            }));
        }
    }
    (failures, transcript, raw, runs)
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
        let term = Terminal::start(name, &scope.engine.terminal_setup(&cwd))?;
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

/// Connects to the engine and readies the book's images; the common start of `test` and the book test.
pub fn prepare(
    book: &Book,
    endpoint: crate::engine::Endpoint,
) -> Result<(Engine, Vec<crate::engine::ImageStatus>), PrepareError> {
    let engine = Engine::connect(endpoint)?;
    let images = engine.ensure_images(&book.root, &book.config.images)?;
    Ok((engine, images))
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Images(#[from] crate::engine::ImageError),
}
