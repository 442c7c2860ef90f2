//! Several engines at once: each runs one page at a time, taking the next from a queue ordered longest
//! first, and what the pages report is handed on in page order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{mpsc, Mutex};

use super::{BlockRun, Observer, PageRun};
use crate::engine::{self, Engine};
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
    let (done, results) = mpsc::channel::<(usize, PageRun, Told)>();
    std::thread::scope(|scope| {
        for engine in engines {
            let (queue, done, run) = (&queue, done.clone(), &run);
            scope.spawn(move || loop {
                if engine::cancelled() {
                    return;
                }
                let Some(index) = queue.lock().expect("queue lock").pop_front() else {
                    return;
                };
                let mut told = Told::default();
                let result = run(engine, pages[index], &mut told);
                if done.send((index, result, told)).is_err() {
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
        // Cancelled: pages after a gap never ran; those that did are still told, in order.
        for (index, (result, told)) in waiting {
            out.push(tell(observer, pages[index], result, told));
        }
        out
    })
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
