//! Several engines at once, of one kind or of several (a book's matrix): every (page, kind) is a job for a
//! free engine of that kind, taken from one queue ordered longest first, at most `jobs` at a time over all
//! kinds. What the pages report is handed on in the order a run of one kind after another on one engine
//! tells it: kind by kind, page order within each. An engine that dies under a page fails that page and
//! leaves the pool; the other engines run the rest.

use std::collections::BTreeMap;
use std::sync::{mpsc, Condvar, Mutex};
use std::time::Duration;

use super::{BlockRun, Observer, PageError, PageRun};
use crate::engine::{self, Engine, EngineError};
use crate::snippet::Page;

/// One kind's engines in a run: the pages all run on each kind.
pub(super) struct Group<'a> {
    /// The kind of the book's matrix; `None` without a matrix.
    pub kind: Option<&'a str>,
    pub engines: &'a [Engine],
}

/// A page of a kind: `group` indexes the groups, `page` the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Job {
    pub group: usize,
    pub page: usize,
}

/// What a page told its observer, kept until the pages before it have been told; each block said at once
/// to `live` (the run's thread), as progress.
#[derive(Default)]
struct Told {
    blocks: Vec<BlockRun>,
    live: Option<(Job, mpsc::Sender<Message>)>,
}

impl Observer for Told {
    fn block_done(&mut self, _page: &Page, block: &BlockRun) {
        self.blocks.push(block.clone());
        if let Some((job, live)) = &self.live {
            let _ = live.send(Message::Block(*job));
        }
    }
}

/// From an engine's thread to the run's.
enum Message {
    /// A block of the job's page is done: progress, told before the page's turn comes.
    Block(Job),
    /// The job's page is done.
    Page(Job, Box<(PageRun, Told)>),
}

/// The queue and what takes from it, behind one lock.
struct Queue {
    /// The jobs not yet started, the first to start first.
    jobs: Vec<Job>,
    /// Per group, its engines waiting for a job.
    idle: Vec<usize>,
    /// Per group, its engines still in the pool.
    alive: Vec<usize>,
    running: usize,
}

impl Queue {
    /// The job an engine of `group` takes now, if any: the first queued job whose kind has a waiting
    /// engine, when it is of this group and fewer than `jobs` pages run. Taking the first job of any kind
    /// that can start keeps the order longest first across kinds.
    fn take(&mut self, group: usize, jobs: usize) -> Option<Job> {
        if self.running >= jobs {
            return None;
        }
        let first = self.jobs.iter().position(|j| self.idle[j.group] > 0)?;
        if self.jobs[first].group != group {
            return None;
        }
        self.running += 1;
        self.idle[group] -= 1;
        Some(self.jobs.remove(first))
    }

    fn has_work_for(&self, group: usize) -> bool {
        self.jobs.iter().any(|j| j.group == group)
    }
}

/// Runs every job of `order` (each group's pages) on the groups' engines, one page per engine and at most
/// `jobs` pages at a time. A run that is cancelled starts no further page. Returns each group's pages in
/// page order.
pub(super) fn run_jobs(
    groups: &[Group<'_>],
    pages: &[&Page],
    order: Vec<Job>,
    jobs: usize,
    run: impl Fn(usize, &Engine, &Page, &mut dyn Observer) -> PageRun + Sync,
    observer: &mut dyn Observer,
) -> Vec<Vec<PageRun>> {
    let queue = Mutex::new(Queue {
        jobs: order,
        idle: vec![0; groups.len()],
        alive: groups.iter().map(|g| g.engines.len()).collect(),
        running: 0,
    });
    let changed = Condvar::new();
    let (done, results) = mpsc::channel::<Message>();
    std::thread::scope(|scope| {
        for (g, group) in groups.iter().enumerate() {
            for engine in group.engines {
                let (queue, changed, done, run) = (&queue, &changed, done.clone(), &run);
                scope.spawn(move || {
                    let mut q = queue.lock().expect("queue lock");
                    q.idle[g] += 1;
                    loop {
                        if engine::cancelled() || !q.has_work_for(g) {
                            q.idle[g] -= 1;
                            changed.notify_all();
                            return;
                        }
                        let Some(job) = q.take(g, jobs) else {
                            // Woken by every change; the timeout only bounds how late a cancel is seen.
                            q = changed
                                .wait_timeout(q, Duration::from_millis(200))
                                .expect("queue lock")
                                .0;
                            continue;
                        };
                        // Another engine may now be the one whose kind has the first job.
                        changed.notify_all();
                        drop(q);
                        let mut told = Told {
                            blocks: Vec::new(),
                            live: Some((job, done.clone())),
                        };
                        let mut result = run(g, engine, pages[job.page], &mut told);
                        told.live = None;
                        let dead = died_under(engine, &result);
                        q = queue.lock().expect("queue lock");
                        q.running -= 1;
                        if dead {
                            q.alive[g] -= 1;
                            out_of_the_pool(engine, &mut result, q.alive[g] == 0);
                        } else {
                            q.idle[g] += 1;
                        }
                        changed.notify_all();
                        if done
                            .send(Message::Page(job, Box::new((result, told))))
                            .is_err()
                            || dead
                        {
                            return;
                        }
                    }
                });
            }
        }
        drop(done);
        // Tell the observer in order: a page is told once every page before it has been.
        let place = |job: Job| job.group * pages.len() + job.page;
        let job_at = |at: usize| Job {
            group: at / pages.len(),
            page: at % pages.len(),
        };
        let mut teller = Teller {
            observer,
            groups,
            pages,
            told_group: None,
            out: groups.iter().map(|_| Vec::new()).collect(),
        };
        let mut in_order = InOrder::default();
        for message in results {
            let (job, result, told) = match message {
                Message::Block(job) => {
                    teller
                        .observer
                        .progressed(pages[job.page], groups[job.group].kind);
                    continue;
                }
                Message::Page(job, page) => (job, page.0, page.1),
            };
            for (at, (result, told)) in in_order.arrived(place(job), (result, told)) {
                teller.tell(job_at(at), result, told);
            }
        }
        // A kind whose engines all died: its pages left in the queue fail, saying why, where they would have
        // been told.
        if !engine::cancelled() {
            for job in queue.lock().expect("queue lock").jobs.drain(..) {
                in_order.hold(place(job), (not_run(pages[job.page]), Told::default()));
            }
        }
        // Cancelled: pages after a gap never ran; those that did are still told, in order.
        for (at, (result, told)) in in_order.rest() {
            teller.tell(job_at(at), result, told);
        }
        teller.out
    })
}

/// Pages' reports as they finish, in any order, handed on in their places' order (kind by kind, page by
/// page), so the report reads as a run of one page after another.
struct InOrder<T> {
    next: usize,
    waiting: BTreeMap<usize, T>,
}

impl<T> Default for InOrder<T> {
    fn default() -> Self {
        InOrder {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }
}

impl<T> InOrder<T> {
    /// The report of place `at` arrived: it and every one after it with no gap before, in order.
    fn arrived(&mut self, at: usize, report: T) -> Vec<(usize, T)> {
        self.hold(at, report);
        let mut ready = Vec::new();
        while let Some(report) = self.waiting.remove(&self.next) {
            ready.push((self.next, report));
            self.next += 1;
        }
        ready
    }

    /// Keeps the report of place `at` for [`InOrder::rest`].
    fn hold(&mut self, at: usize, report: T) {
        self.waiting.insert(at, report);
    }

    /// What is still held, in order, gaps skipped.
    fn rest(self) -> impl Iterator<Item = (usize, T)> {
        self.waiting.into_iter()
    }
}

/// Hands the pages' reports to the observer in order, saying when a kind's pages begin.
struct Teller<'o, 'g, 'p> {
    observer: &'o mut dyn Observer,
    groups: &'g [Group<'g>],
    pages: &'p [&'p Page],
    told_group: Option<usize>,
    out: Vec<Vec<PageRun>>,
}

impl Teller<'_, '_, '_> {
    fn tell(&mut self, job: Job, result: PageRun, told: Told) {
        if self.told_group != Some(job.group) {
            self.told_group = Some(job.group);
            if let Some(kind) = self.groups[job.group].kind {
                self.observer.kind_started(kind);
            }
        }
        let result = tell(self.observer, self.pages[job.page], result, told);
        self.out[job.group].push(result);
    }
}

/// Whether the engine died under the page: it could not be reached to set the page up, or it went away
/// and did not come back for the cleanup. An engine that restarted and answered again stays in the pool.
pub(super) fn died_under(engine: &Engine, result: &PageRun) -> bool {
    let unreachable = match &result.cleanup {
        Err(PageError::Unfinished(e)) | Err(PageError::Engine(e)) => e.is_unreachable(),
        _ => false,
    };
    unreachable
        && engine
            .inventory()
            .as_ref()
            .is_err_and(EngineError::is_unreachable)
}

/// Says in the page's report that its engine died and left the pool (`alone`: it was the last engine of
/// its kind).
pub(super) fn out_of_the_pool(engine: &Engine, result: &mut PageRun, alone: bool) {
    let rest = if alone {
        "no engine is left for the other pages"
    } else {
        "the other pages run on the other engines"
    };
    let said = format!(
        "the engine at {} died under this page and left the pool; {rest}",
        engine.endpoint().host
    );
    result.problem = Some(match result.problem.take() {
        Some(problem) => format!("{problem}; {said}"),
        None => said,
    });
}

/// A page that no engine was left to run.
pub(super) fn not_run(page: &Page) -> PageRun {
    PageRun {
        path: page.path.clone(),
        blocks: Vec::new(),
        cleanup: Ok(Default::default()),
        problem: Some("not run: every engine of the pool died".to_string()),
        elapsed: Default::default(),
    }
}

/// Hands a page's report to the observer, as a run on one engine would have told it.
fn tell(observer: &mut dyn Observer, page: &Page, result: PageRun, told: Told) -> PageRun {
    observer.page_started(page);
    for block in &told.blocks {
        observer.block_done(page, block);
    }
    observer.page_done(&result);
    result
}

/// Every page of every group, the jobs expected to take longest first, so that the run ends as early as it
/// can. A job's length is its page's time on that kind in the last run (`last`), else an estimate from
/// what the page asks for (its commands, the time its `retry=` blocks may take) scaled to the time the last
/// run's pages took per estimated unit, so that known and unknown pages compare.
pub(super) fn longest_first(
    groups: usize,
    pages: &[&Page],
    last: impl Fn(usize, &Page) -> Option<Duration>,
) -> Vec<Job> {
    let mut jobs: Vec<(Job, f64)> = Vec::with_capacity(groups * pages.len());
    let (mut known, mut estimated) = (0.0, 0.0);
    for group in 0..groups {
        for (page, p) in pages.iter().enumerate() {
            if let Some(took) = last(group, p) {
                known += took.as_secs_f64();
                estimated += estimate(p);
            }
            jobs.push((Job { group, page }, 0.0));
        }
    }
    // Seconds per estimated unit in the last run; about a second per command without one.
    let scale = if estimated > 0.0 {
        known / estimated
    } else {
        0.001
    };
    for (job, cost) in &mut jobs {
        let page = pages[job.page];
        *cost = last(job.group, page).map_or(estimate(page) * scale, |d| d.as_secs_f64());
    }
    // Stable: equally long jobs keep kind then page order.
    jobs.sort_by(|a, b| b.1.total_cmp(&a.1));
    jobs.into_iter().map(|(job, _)| job).collect()
}

/// A page's length from what it asks for, in milliseconds: a second per command, and the time its
/// `retry=` blocks may take.
fn estimate(page: &Page) -> f64 {
    page.blocks
        .iter()
        .filter(|b| b.attrs.ignore.is_none())
        .map(|b| {
            let retry = b.attrs.retry.map_or(0, |r| r.as_millis());
            (b.steps.len() as u128 * 1000 + retry) as f64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snippet::parse_page;
    use std::path::Path;

    fn job(group: usize, page: usize) -> Job {
        Job { group, page }
    }

    // The longest pages start first; pages of equal length keep their order.
    #[test]
    fn longest_pages_start_first() {
        let short = parse_page(Path::new("src/a.md"), "```console\n$ true\n```\n").unwrap();
        let long = parse_page(
            Path::new("src/b.md"),
            "```console\n$ true\n$ true\n$ true\n```\n",
        )
        .unwrap();
        let retry =
            parse_page(Path::new("src/c.md"), "```console,retry=10s\n$ true\n```\n").unwrap();
        let pages = [&short, &long, &short, &retry];
        let order: Vec<usize> = longest_first(1, &pages, |_, _| None)
            .iter()
            .map(|j| j.page)
            .collect();
        assert_eq!(order, [3, 1, 0, 2]);
    }

    // The last run's timings order the jobs over every kind: a page slow on one kind starts before the
    // same page on a faster one, and a page with no timing yet is placed by its estimate at the last run's
    // pace.
    #[test]
    fn last_runs_timings_order_every_kind() {
        let one = parse_page(Path::new("src/a.md"), "```console\n$ true\n```\n").unwrap();
        let four = parse_page(
            Path::new("src/b.md"),
            "```console\n$ true\n$ true\n$ true\n$ true\n```\n",
        )
        .unwrap();
        let pages = [&one, &four];
        let secs = |s: f64| Some(Duration::from_secs_f64(s));
        // One command took 10 s on kind 1 and 2 s on kind 0; the four-command page has a timing on kind 0
        // only (1 s), so on kind 1 it is estimated at kind 0's pace ((2 + 1) s / 5 units of 1000 ms).
        let order = longest_first(2, &pages, |g, p| match (g, p.path.to_str().unwrap()) {
            (0, "src/a.md") => secs(2.0),
            (0, "src/b.md") => secs(1.0),
            (1, "src/a.md") => secs(10.0),
            _ => None,
        });
        assert_eq!(order, [job(1, 0), job(1, 1), job(0, 0), job(0, 1)]);
    }

    // An engine takes the first queued job that can start, so a free engine of one kind does not take a
    // shorter job while the longest waits for its own kind's engine, and no more than `jobs` run at once.
    #[test]
    fn the_queue_keeps_longest_first_across_kinds_within_jobs() {
        let mut q = Queue {
            jobs: vec![job(1, 0), job(0, 0), job(0, 1)],
            idle: vec![1, 0],
            alive: vec![1, 1],
            running: 0,
        };
        // Kind 1 has no engine waiting: kind 0 takes its first job.
        assert_eq!(q.take(0, 2), Some(job(0, 0)));
        q.idle = vec![1, 1];
        assert_eq!(q.take(0, 2), None, "kind 1's job is first and can start");
        assert_eq!(q.take(1, 2), Some(job(1, 0)));
        assert_eq!(q.take(0, 2), None, "two run, as --jobs 2 allows");
        q.running = 1;
        assert_eq!(q.take(0, 2), Some(job(0, 1)));
        assert!(!q.has_work_for(0) && !q.has_work_for(1));
    }

    #[test]
    fn reports_are_told_in_page_order_whatever_order_pages_finish_in() {
        let mut in_order = InOrder::default();
        let mut told = Vec::new();
        for at in [2, 0, 3, 1, 5] {
            told.extend(in_order.arrived(at, at * 10));
        }
        assert_eq!(told, [(0, 0), (1, 10), (2, 20), (3, 30)]);
        // Place 4 never ran (cancelled): 5 is still told, after the others.
        in_order.hold(7, 70);
        assert_eq!(in_order.rest().collect::<Vec<_>>(), [(5, 50), (7, 70)]);
    }
}
