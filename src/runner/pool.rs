//! Several engines at once: each runs one page at a time, taking the next from a queue ordered longest
//! first, and what the pages report is handed on in page order. An engine that dies under a page fails
//! that page and leaves the pool; the other engines run the rest.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};

use super::{BlockRun, Observer, PageError, PageRun};
use crate::engine::{self, Engine, EngineError};
use crate::snippet::Page;

/// What a page told its observer, kept until the pages before it have been told.
#[derive(Default)]
struct Told {
    blocks: Vec<BlockRun>,
}

impl Observer for Told {
    fn block_done(&mut self, _page: &Page, block: &BlockRun) {
        self.blocks.push(block.clone());
    }
}

/// Runs `pages` on `engines`, one page per engine at a time. A run that is cancelled starts no further page.
pub(super) fn run_pages(
    engines: &[Engine],
    pages: &[&Page],
    run: impl Fn(&Engine, &Page, &mut dyn Observer) -> PageRun + Sync,
    observer: &mut dyn Observer,
) -> Vec<PageRun> {
    let queue = Mutex::new(longest_first(pages));
    let alive = AtomicUsize::new(engines.len());
    let (done, results) = mpsc::channel::<(usize, PageRun, Told)>();
    std::thread::scope(|scope| {
        for engine in engines {
            let (queue, done, run, alive) = (&queue, done.clone(), &run, &alive);
            scope.spawn(move || loop {
                if engine::cancelled() {
                    return;
                }
                let Some(index) = queue.lock().expect("queue lock").pop_front() else {
                    return;
                };
                let mut told = Told::default();
                let mut result = run(engine, pages[index], &mut told);
                let dead = died_under(engine, &result);
                if dead {
                    let left = alive.fetch_sub(1, Ordering::SeqCst) - 1;
                    out_of_the_pool(engine, &mut result, left == 0);
                }
                if done.send((index, result, told)).is_err() || dead {
                    return;
                }
            });
        }
        drop(done);
        // Tell the observer in page order: a page is told once every page before it has been.
        let mut waiting: BTreeMap<usize, (PageRun, Told)> = BTreeMap::new();
        let mut out = Vec::with_capacity(pages.len());
        for (index, result, told) in results {
            waiting.insert(index, (result, told));
            while let Some((result, told)) = waiting.remove(&out.len()) {
                out.push(tell(observer, pages[out.len()], result, told));
            }
        }
        // Every engine died: the pages left in the queue fail, saying why, where they would have been told.
        if !engine::cancelled() {
            for index in queue.lock().expect("queue lock").drain(..) {
                waiting.insert(index, (not_run(pages[index]), Told::default()));
            }
        }
        // Cancelled: pages after a gap never ran; those that did are still told, in order.
        for (index, (result, told)) in waiting {
            out.push(tell(observer, pages[index], result, told));
        }
        out
    })
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

/// Says in the page's report that its engine died and left the pool (`alone`: it was the only engine).
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

/// Page indexes, the pages expected to take longest first, so that the run ends as early as it can. A
/// page's length is estimated from what it asks for: its commands, and the time its `retry=` blocks may
/// take.
fn longest_first(pages: &[&Page]) -> VecDeque<usize> {
    let cost = |page: &Page| -> u128 {
        page.blocks
            .iter()
            .filter(|b| b.attrs.ignore.is_none())
            .map(|b| {
                let retry = b.attrs.retry.map_or(0, |r| r.as_millis());
                b.steps.len() as u128 * 1000 + retry
            })
            .sum()
    };
    let mut order: Vec<usize> = (0..pages.len()).collect();
    // Stable: equally long pages keep page order.
    order.sort_by_key(|&i| std::cmp::Reverse(cost(pages[i])));
    order.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snippet::parse_page;
    use std::path::Path;

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
        assert_eq!(Vec::from(longest_first(&pages)), [3, 1, 0, 2]);
    }
}
