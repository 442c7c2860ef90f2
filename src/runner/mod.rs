//! Runs a book's pages against the engine and judges each block.
//!
//! A page is one scenario: its blocks run top to bottom in terminals that keep their state, `teardown`
//! blocks run last whatever happened, and every engine object the page created is removed afterwards, also
//! when a block fails, times out or the runner panics.
//!
//! `page` owns what a page holds in the engine (terminals, the proxy, the cleanup); `block` runs a
//! block's steps in their terminals; `record` turns each step's result into the block's transcripts and
//! verdict.

mod block;
mod page;
mod pool;
mod record;
mod timings;
mod topology;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::book::Book;
use crate::engine::{
    self, Engine, EngineError, ImageError, ImageStatus, ProxyError, Removed, TerminalError,
};
use crate::snapshot::Meta;
use crate::snippet::{Page, Status};

/// How long cleanup waits for an engine that went away to come back.
const ENGINE_RETURN: Duration = Duration::from_secs(30);

/// How often a `retry=` block is re-run while it does not match, and how often an engine that went away
/// is asked again.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

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
    /// Run only the pages of this shard (`--partition K/N`).
    pub partition: Option<Partition>,
    pub snapshots: SnapshotMode,
    /// Colored diffs.
    pub color: bool,
    /// The engine kind of the book's matrix this run is for, when it is not the first: where its transcript
    /// differs from the first kind's snapshot, it is checked against (and pending as) its own.
    pub engine_kind: Option<String>,
    /// The kinds of the matrix before `engine_kind`, in its order: a block none of them runs (a Podman twin
    /// of a Docker block) has this kind's run as its snapshot.
    pub kinds_before: Vec<String>,
}

impl RunOptions {
    /// Whether the run includes `page`: the filter keeps it (`--filter`) and it is in the shard
    /// (`--partition`).
    pub fn selects(&self, page: &Page) -> bool {
        self.keeps(page) && self.partition.is_none_or(|p| p.holds(&page.path))
    }

    /// Whether `--filter` keeps `page`.
    fn keeps(&self, page: &Page) -> bool {
        self.filter
            .as_deref()
            .is_none_or(|f| page.path.to_string_lossy().contains(f))
    }

    /// The options `block`'s snapshot is checked with: this kind keeps no snapshot of its own for a block no
    /// kind before it runs, as its run is the block's snapshot (the one the published book replays).
    pub(crate) fn for_block(
        &self,
        block: &crate::snippet::Block,
    ) -> std::borrow::Cow<'_, RunOptions> {
        let first_to_run = self.engine_kind.is_some()
            && !self
                .kinds_before
                .iter()
                .any(|k| block.attrs.engines.admits_kind(k));
        if first_to_run {
            std::borrow::Cow::Owned(RunOptions {
                engine_kind: None,
                ..self.clone()
            })
        } else {
            std::borrow::Cow::Borrowed(self)
        }
    }

    /// How many of `pages` the filter keeps, and how many of those the run includes.
    pub fn selection(&self, pages: &[Page]) -> Selection {
        Selection {
            kept: pages.iter().filter(|p| self.keeps(p)).count(),
            selected: pages.iter().filter(|p| self.selects(p)).count(),
        }
    }
}

/// What [`RunOptions::selection`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selection {
    /// Pages the filter keeps (all of them without `--filter`).
    pub kept: usize,
    /// Of those, the pages in the shard: the ones that run.
    pub selected: usize,
}

/// Shard `shard` of `shards` (1-based, `K/N`): the part of a book's pages one CI machine runs when N
/// machines share the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    shard: u64,
    shards: u64,
}

impl Partition {
    pub fn new(shard: u64, shards: u64) -> Result<Partition, PartitionError> {
        if shards == 0 {
            return Err(PartitionError::NoShards);
        }
        if !(1..=shards).contains(&shard) {
            return Err(PartitionError::OutOfRange { shard, shards });
        }
        Ok(Partition { shard, shards })
    }

    /// Whether the page at `path` (`src/page.md`) is in this shard. Decided by a hash of the path alone, as
    /// nextest's `--partition hash:K/N` does, so adding or removing a page never moves another. SHA-256 and
    /// not std's hasher, whose seed changes from process to process: every machine must agree.
    pub fn holds(&self, path: &Path) -> bool {
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        let head: [u8; 8] = digest[..8]
            .try_into()
            .expect("a SHA-256 digest has 32 bytes");
        u64::from_be_bytes(head) % self.shards == self.shard - 1
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.shard, self.shards)
    }
}

impl FromStr for Partition {
    type Err = PartitionError;

    /// `K/N`, as `--partition` takes it.
    fn from_str(s: &str) -> Result<Partition, PartitionError> {
        let (shard, shards) = s.split_once('/').ok_or(PartitionError::Syntax)?;
        let number = |n: &str| n.trim().parse::<u64>().map_err(|_| PartitionError::Syntax);
        Partition::new(number(shard)?, number(shards)?)
    }
}

/// A `--partition` that names no shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    #[error("expected K/N, shard K of N (1 <= K <= N), such as 1/2")]
    Syntax,
    #[error("there is no shard of 0: N must be at least 1")]
    NoShards,
    #[error("there is no shard {shard} of {shards}: K/N needs 1 <= K <= N")]
    OutOfRange { shard: u64, shards: u64 },
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
    /// It asked the engine for a power beyond the page's sandbox, which the block does not allow; the
    /// request was not forwarded, so nothing was created.
    Refused {
        /// What was asked: `` `--pid host` (the machine's own namespace) ``.
        what: String,
        /// The grant that allows it: `pid-host`.
        grant: String,
        /// Page line of the block's opening fence, where `allow=` goes.
        fence_line: usize,
    },
}

impl From<TerminalError> for StepFailure {
    fn from(e: TerminalError) -> Self {
        StepFailure::Terminal {
            message: crate::error_chain(&e),
        }
    }
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

/// Why a page could not be set up, or its objects not all removed afterwards.
#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("cannot create {what}")]
    Folder {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    /// The engine went away before everything was removed; the page's journal is kept for `clean`.
    #[error("cleanup did not finish; run `mdbook-docktest clean` once the engine is back")]
    Unfinished(#[source] EngineError),
}

#[derive(Debug)]
pub struct PageRun {
    pub path: PathBuf,
    pub blocks: Vec<BlockRun>,
    /// What the cleanup after the page removed, or why the page could not be set up or cleaned up.
    pub cleanup: Result<Removed, PageError>,
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
    /// The pages of a kind of the book's matrix are about to be told (before its first page).
    fn kind_started(&mut self, _kind: &str) {}
    fn page_started(&mut self, _page: &Page) {}
    fn block_done(&mut self, _page: &Page, _block: &BlockRun) {}
    fn page_done(&mut self, _page: &PageRun) {}
    /// Under `--jobs`, a block of `page` (on an engine of `kind`) is done, as it happens: its page is told
    /// later, in order, and the block then again through [`Observer::block_done`].
    fn progressed(&mut self, _page: &Page, _kind: Option<&str>) {}
}

impl Observer for () {}

/// One kind of the book's matrix in a run: its engines, and the options its pages run with.
pub struct KindRun<'a> {
    /// The kind (`docker-26.1`); `None` without a matrix.
    pub kind: Option<String>,
    pub engines: &'a [Engine],
    pub options: RunOptions,
}

/// Runs every page of the book that the options select on the engines given. With one engine the pages
/// run one after another; with several, one page per engine at a time, longest first, so that no two pages
/// running at once see each other's names, ports or addresses. Either way the observer hears of the pages,
/// and the result lists them, in page order, as a run on one engine would tell them.
pub fn run_book(
    engines: &[Engine],
    book: &Book,
    options: &RunOptions,
    observer: &mut dyn Observer,
) -> Vec<PageRun> {
    let kind = KindRun {
        kind: None,
        engines,
        options: options.clone(),
    };
    run_matrix(&[kind], book, engines.len().max(1), observer)
        .pop()
        .unwrap_or_default()
}

/// Runs every page the first kind's options select on every kind of `kinds`, at most `jobs` pages at a
/// time over all kinds, each on an engine of its own of its kind. With `jobs` 1, one page at a time: the
/// kinds in turn, each's pages in page order. With more, one schedule: every (page, kind) is a job for a
/// free engine of that kind, all kinds at once, the longest first by the last run's timings. Either way the
/// observer hears of the pages, and the result lists them, kind by kind in page order, as a run of one kind
/// after another on one engine would tell them.
pub fn run_matrix(
    kinds: &[KindRun<'_>],
    book: &Book,
    jobs: usize,
    observer: &mut dyn Observer,
) -> Vec<Vec<PageRun>> {
    let Some(first) = kinds.first() else {
        return Vec::new();
    };
    let snapshot_dir = book.config.snapshot_dir(&book.root);
    let date = today();
    let pages: Vec<&Page> = book
        .pages
        .iter()
        .filter(|p| first.options.selects(p))
        .collect();
    // Checked when the book was read.
    let allow = book.config.allowed().unwrap_or_default();
    let run = |g: usize, engine: &Engine, page: &Page, observer: &mut dyn Observer| {
        page::run_page(
            engine,
            page,
            &allow,
            &kinds[g].options,
            &snapshot_dir,
            &date,
            observer,
        )
    };
    let mut timings = timings::Timings::load(&snapshot_dir);
    let runs = if jobs <= 1 {
        kinds
            .iter()
            .enumerate()
            .take_while(|_| !engine::cancelled())
            .map(|(g, kind)| {
                if let Some(name) = &kind.kind {
                    observer.kind_started(name);
                }
                match kind.engines.first() {
                    Some(engine) => one_engine(engine, &pages, |e, p, o| run(g, e, p, o), observer),
                    None => Vec::new(),
                }
            })
            .collect()
    } else {
        let groups: Vec<pool::Group<'_>> = kinds
            .iter()
            .map(|k| pool::Group {
                kind: k.kind.as_deref(),
                engines: k.engines,
            })
            .collect();
        let order = pool::longest_first(kinds.len(), &pages, |g, page| {
            timings.get(kinds[g].kind.as_deref(), &page.path)
        });
        pool::run_jobs(&groups, &pages, order, jobs, run, observer)
    };
    // A cancelled run's pages stopped early: their times would mislead the next run's order.
    if !engine::cancelled() {
        for (kind, pages) in kinds.iter().zip(&runs) {
            for page in pages.iter().filter(|p| !p.blocks.is_empty()) {
                timings.set(kind.kind.as_deref(), &page.path, page.elapsed);
            }
        }
        timings.save();
    }
    runs
}

/// The pages one after another on one engine, each told as it runs; once the engine died under a page, the
/// rest are not run.
fn one_engine(
    engine: &Engine,
    pages: &[&Page],
    run: impl Fn(&Engine, &Page, &mut dyn Observer) -> PageRun,
    observer: &mut dyn Observer,
) -> Vec<PageRun> {
    let mut dead = false;
    pages
        .iter()
        .take_while(|_| !engine::cancelled())
        .map(|page| {
            observer.page_started(page);
            let result = if dead {
                pool::not_run(page)
            } else {
                let mut result = run(engine, page, observer);
                dead = pool::died_under(engine, &result);
                if dead {
                    pool::out_of_the_pool(engine, &mut result, true);
                }
                result
            };
            observer.page_done(&result);
            result
        })
        .collect()
}

/// Asks the engine until it answers: an engine that is restarting comes back within seconds, so only an
/// engine still unreachable after [`ENGINE_RETURN`] (or an answer that is a refusal) is an error.
fn wait_for_engine<T>(mut ask: impl FnMut() -> Result<T, EngineError>) -> Result<T, EngineError> {
    let deadline = Instant::now() + ENGINE_RETURN;
    loop {
        match ask() {
            Err(e) if e.is_unreachable() && Instant::now() < deadline => {
                std::thread::sleep(RETRY_PAUSE)
            }
            result => return result,
        }
    }
}

/// `30s`, `2s`, `500ms`
pub(crate) fn human(d: Duration) -> String {
    humantime::format_duration(d).to_string()
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
) -> Result<(Engine, Vec<ImageStatus>), PrepareError> {
    let engine = Engine::connect(endpoint)?;
    let images = ready_images(book, &engine)?;
    Ok((engine, images))
}

/// The book's images made ready on `engine`, as [`prepare`] does.
fn ready_images(book: &Book, engine: &Engine) -> Result<Vec<ImageStatus>, PrepareError> {
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
            Err(source) => return Err(PrepareError::Image { place, source }),
        }
    }
    Ok(images)
}

/// Readies the book's images once for a pool of connected engines: in the first engine as [`prepare`]
/// does, then loaded from it into each other engine that lacks them, so that a stand-in is built once and
/// every engine runs the very same image. Returns the engines, in the pool's order, and the images as the
/// first engine readied them.
pub fn prepare_pool(
    book: &Book,
    engines: Vec<Engine>,
) -> Result<(Vec<Engine>, Vec<ImageStatus>), PrepareError> {
    let Some(first) = engines.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let images = ready_images(book, first)?;
    let references: Vec<String> = images.iter().map(|i| i.reference.clone()).collect();
    for other in &engines[1..] {
        first.share_images(other, &references)?;
    }
    Ok((engines, images))
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Images(#[from] ImageError),
    /// An image a page uses that the engine cannot provide.
    #[error("{place}")]
    Image {
        /// Where a page first uses the image: `src/page.md:12`.
        place: String,
        #[source]
        source: ImageError,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages(names: impl IntoIterator<Item = String>) -> Vec<PathBuf> {
        names
            .into_iter()
            .map(|n| PathBuf::from(format!("src/{n}.md")))
            .collect()
    }

    fn shard_of(path: &Path, shards: u64) -> Vec<u64> {
        (1..=shards)
            .filter(|&k| Partition::new(k, shards).unwrap().holds(path))
            .collect()
    }

    // Together the shards run the whole book, and no page twice.
    #[test]
    fn every_page_lands_in_exactly_one_shard() {
        for shards in 1..=7 {
            for path in pages((0..300).map(|i| format!("chapter-{i}"))) {
                assert_eq!(shard_of(&path, shards).len(), 1, "{path:?} of {shards}");
            }
        }
    }

    // A CI matrix keeps each page on its machine when the book grows, so timings and failures stay put.
    #[test]
    fn adding_pages_does_not_move_the_others() {
        let book = pages((0..50).map(|i| format!("page-{i}")));
        let before: Vec<_> = book.iter().map(|p| shard_of(p, 4)).collect();
        let grown: Vec<_> = pages((0..80).map(|i| format!("new-{i}")))
            .into_iter()
            .chain(book.iter().cloned())
            .collect();
        let after: Vec<_> = grown[80..].iter().map(|p| shard_of(p, 4)).collect();
        assert_eq!(before, after);
    }

    // Every machine, process and build computes the same split (std's hasher is seeded per process): the
    // first 8 bytes of `printf src/PAGE.md | sha256sum`, modulo N, plus 1.
    #[test]
    fn the_split_is_the_same_everywhere() {
        let book = pages(
            [
                "introduction",
                "user-defined-bridge",
                "default-bridge",
                "exposing-ports",
            ]
            .map(String::from),
        );
        let shards: Vec<_> = book.iter().map(|p| shard_of(p, 3)[0]).collect();
        assert_eq!(shards, [1, 2, 2, 1]);
    }

    // A split that put every page in one shard would satisfy the rules above and save no time.
    #[test]
    fn shards_get_a_fair_share() {
        let book = pages((0..400).map(|i| format!("chapter-{i}")));
        for k in 1..=4 {
            let share = book
                .iter()
                .filter(|p| Partition::new(k, 4).unwrap().holds(p))
                .count();
            assert!(
                (60..=140).contains(&share),
                "shard {k}/4 holds {share} of 400"
            );
        }
    }

    // `--partition` takes K/N with 1 <= K <= N and says what is wrong with anything else.
    #[test]
    fn partition_is_k_of_n() {
        assert_eq!("2/3".parse(), Ok(Partition::new(2, 3).unwrap()));
        assert_eq!("1/1".parse::<Partition>().unwrap().to_string(), "1/1");
        assert_eq!(
            "3/2".parse::<Partition>(),
            Err(PartitionError::OutOfRange {
                shard: 3,
                shards: 2
            })
        );
        assert_eq!(
            "0/2".parse::<Partition>(),
            Err(PartitionError::OutOfRange {
                shard: 0,
                shards: 2
            })
        );
        assert_eq!("1/0".parse::<Partition>(), Err(PartitionError::NoShards));
        for bad in ["2", "", "a/2", "1/b", "-1/2", "1/2/3"] {
            assert_eq!(
                bad.parse::<Partition>(),
                Err(PartitionError::Syntax),
                "{bad}"
            );
        }
    }

    // The filter and the shard both narrow the run; the counts tell the filter's pages from the shard's.
    #[test]
    fn selection_applies_filter_then_shard() {
        let book: Vec<Page> = pages((0..40).map(|i| format!("net-{i}")))
            .into_iter()
            .chain(pages((0..10).map(|i| format!("other-{i}"))))
            .map(|p| crate::snippet::parse_page(&p, "").unwrap())
            .collect();
        let options = |shard| RunOptions {
            engine_kind: None,
            kinds_before: Vec::new(),
            filter: Some("net-".into()),
            partition: Some(Partition::new(shard, 2).unwrap()),
            snapshots: SnapshotMode::Skip,
            color: false,
        };
        let (one, two) = (options(1).selection(&book), options(2).selection(&book));
        assert_eq!((one.kept, two.kept), (40, 40));
        assert_eq!(one.selected + two.selected, 40);
        assert!(book
            .iter()
            .filter(|p| options(1).selects(p))
            .all(|p| p.path.to_string_lossy().contains("net-")));
    }
}
