//! `mdbook-docktest test --update`: rewrite a page's expected output from the run, in place.
//!
//! Only the output lines of the steps that did not match are touched (and their `?` line when the exit
//! status differs); every other byte of the file stays as it was, line endings and the indentation or `> `
//! markers of a fence inside a list item or block quote included. Within a rewritten step the author's lines
//! that still match are kept as written, wildcards included: only the lines that really differ change.
//!
//! Which lines still match and what replaces the others is [`crate::matching`]'s to say; this module only
//! writes its answer into the file.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::markdown::with_prefix;
use crate::matching::{self, Bindings, Match, Piece};
use crate::runner::{PageRun, StepFailure, StepRun, Verdict};
use crate::snippet::{self, Block, Page, Status, Step};

/// What `--update` did to one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageUpdate {
    /// The page file as the runner read it (`src/page.md`, relative to the book root).
    pub path: PathBuf,
    /// The new content of the file.
    pub content: String,
    /// Page lines (before the update) of the steps whose output or exit status was rewritten.
    pub steps: Vec<usize>,
}

/// A line of the file: its text and its line ending (`\n`, `\r\n` or none at the end of the file).
struct FileLine<'a> {
    text: &'a str,
    ending: &'a str,
}

fn file_lines(content: &str) -> Vec<FileLine<'_>> {
    content
        .split_inclusive('\n')
        .map(|line| {
            let text = line.strip_suffix('\n').unwrap_or(line);
            let (text, ending) = match text.strip_suffix('\r') {
                Some(t) => (t, "\r\n"),
                None if line.ends_with('\n') => (text, "\n"),
                None => (text, ""),
            };
            FileLine { text, ending }
        })
        .collect()
}

/// Rewrites the output (and `?` line) of every step of `page` whose output or exit status did not match in
/// `run`. `content` is the page file the runner parsed `page` from. `None` when nothing needs rewriting.
pub fn rewrite_page(content: &str, page: &Page, run: &PageRun) -> Option<PageUpdate> {
    let lines = file_lines(content);
    // Replacement lines per page line (1-based); an empty list deletes the line.
    let mut edits: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut rewritten = Vec::new();

    for block_run in &run.blocks {
        let Verdict::Failed(failures) = &block_run.verdict else {
            continue;
        };
        // Bare commands show no output and no `?` line to rewrite.
        let Some(block) = page
            .blocks
            .iter()
            .find(|b| b.line == block_run.line && !b.attrs.bare)
        else {
            continue;
        };
        let body = Body::of(block);
        for (i, step) in block.steps.iter().enumerate() {
            let failed: Vec<&StepFailure> = failures
                .iter()
                .filter(|f| f.line == step.line)
                .map(|f| &f.what)
                .collect();
            let Some(step_run) = block_run.steps.iter().find(|s| s.line == step.line) else {
                continue;
            };
            let next_line = block.steps.get(i + 1).map_or(usize::MAX, |next| next.line);
            let mut changed = false;
            if failed
                .iter()
                .any(|f| matches!(f, StepFailure::Output { .. }))
            {
                changed |= rewrite_output(step, step_run, &lines, &body, &mut edits);
            }
            if let Some(StepFailure::Status { actual, .. }) = failed
                .iter()
                .find(|f| matches!(f, StepFailure::Status { .. }))
            {
                changed |= rewrite_status(step, *actual, next_line, &lines, &body, &mut edits);
            }
            if changed {
                rewritten.push(step.line);
            }
        }
    }
    if edits.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(content.len());
    for (index, line) in lines.iter().enumerate() {
        match edits.get(&(index + 1)) {
            None => {
                out.push_str(line.text);
                out.push_str(line.ending);
            }
            Some(replacement) => {
                for text in replacement {
                    out.push_str(text);
                    out.push_str(if line.ending.is_empty() {
                        "\n"
                    } else {
                        line.ending
                    });
                }
            }
        }
    }
    Some(PageUpdate {
        path: page.path.clone(),
        content: out,
        steps: rewritten,
    })
}

/// A block's body lines by page line: their text without the container prefix, and that prefix.
struct Body<'a>(HashMap<usize, (&'a str, Option<&'a str>)>);

impl<'a> Body<'a> {
    fn of(block: &'a Block) -> Self {
        Body(
            block
                .body
                .iter()
                .map(|l| (l.line, (l.text.as_str(), l.prefix.as_deref())))
                .collect(),
        )
    }

    fn text(&self, line: usize) -> Option<&'a str> {
        self.0.get(&line).map(|(text, _)| *text)
    }

    /// The container prefix of a page line (list indentation, `> `).
    fn prefix(&self, line: usize) -> Option<&'a str> {
        self.0.get(&line).and_then(|(_, prefix)| *prefix)
    }
}

fn rewrite_output(
    step: &Step,
    run: &StepRun,
    lines: &[FileLine<'_>],
    body: &Body<'_>,
    edits: &mut BTreeMap<usize, Vec<String>>,
) -> bool {
    if step.expected.is_empty() {
        return false;
    }
    let Some(prefix) = body.prefix(step.line) else {
        return false;
    };
    let (actual, pieces) = matching::rewrite(&step.expected, &run.actual);
    // Each expected line's slot in the file receives its new lines; lines added before the first expected
    // line go into the first one's slot.
    let mut slots: Vec<Vec<String>> = vec![Vec::new(); step.expected.len()];
    let mut keep: Vec<bool> = vec![false; step.expected.len()];
    for piece in pieces {
        match piece {
            Piece::Same { exp, .. } | Piece::Wild { exp, .. } => {
                keep[exp] = true;
                let original = lines[step.expected_lines[exp] - 1].text.to_string();
                slots[exp].push(original);
            }
            Piece::Replaced { exp, act } => slots[exp].push(with_prefix(prefix, &actual[act])),
            Piece::Removed { .. } => {}
            Piece::Added { after, act } => {
                slots[after.unwrap_or(0)].push(with_prefix(prefix, &actual[act]));
            }
        }
    }
    let mut changed = false;
    for (exp, slot) in slots.into_iter().enumerate() {
        if keep[exp] && slot.len() == 1 {
            continue;
        }
        changed = true;
        edits.insert(step.expected_lines[exp], slot);
    }
    changed
}

fn rewrite_status(
    step: &Step,
    actual: i32,
    next_line: usize,
    lines: &[FileLine<'_>],
    body: &Body<'_>,
    edits: &mut BTreeMap<usize, Vec<String>>,
) -> bool {
    let Some(prefix) = body.prefix(step.line) else {
        return false;
    };
    // The step's own lines end at its last input or output line; its `?` line, if any, follows them.
    let last =
        (step.line + step.input.len() - 1).max(step.expected_lines.last().copied().unwrap_or(0));
    let status_line = (last + 1..next_line.min(last + 64))
        .take_while(|&l| body.text(l).is_some())
        .find(|&l| body.text(l).is_some_and(snippet::is_status_line));
    let wanted = match (actual, step.status) {
        (0, _) => None,
        (_, Status::Failed) => return false,
        (code, _) => Some(format!("? {code}")),
    };
    match (status_line, wanted) {
        (Some(line), None) => {
            edits.insert(line, Vec::new());
        }
        (Some(line), Some(text)) => {
            edits.insert(line, vec![with_prefix(prefix, &text)]);
        }
        (None, Some(text)) => {
            // After the output, and after a `^C` line that ends it.
            let mut after = last;
            while body.text(after + 1).is_some_and(|t| t.trim() == "^C") {
                after += 1;
            }
            let mut lines_there = edits
                .remove(&after)
                .unwrap_or_else(|| vec![lines[after - 1].text.to_string()]);
            lines_there.push(with_prefix(prefix, &text));
            edits.insert(after, lines_there);
        }
        (None, None) => return false,
    }
    true
}

/// Whether [`rewrite_page`] can fix every failure of the run: outputs and exit statuses, outside bare
/// blocks (which show neither).
pub fn fixes_every_failure(page: &Page, run: &PageRun) -> bool {
    run.blocks.iter().all(|block_run| {
        let Verdict::Failed(failures) = &block_run.verdict else {
            return true;
        };
        let bare = page
            .blocks
            .iter()
            .any(|b| b.line == block_run.line && b.attrs.bare);
        !bare
            && failures.iter().all(|f| {
                matches!(
                    f.what,
                    StepFailure::Output { .. } | StepFailure::Status { .. }
                )
            })
    })
}

/// The steps of a page rewritten by `--update` that still do not match the run, checked with the page's
/// bindings: an equality the page shows elsewhere (the same address twice) that the run broke needs a human.
/// `page` is the rewritten page; its blocks and steps are those of `run`, in the same order.
pub fn still_mismatching(page: &Page, run: &PageRun) -> Vec<usize> {
    let mut bindings = Bindings::new();
    let mut lines = Vec::new();
    for i in page.run_order() {
        let (Some(block), Some(block_run)) = (page.blocks.get(i), run.blocks.get(i)) else {
            continue;
        };
        for (step, step_run) in block.steps.iter().zip(&block_run.steps) {
            if let Match::Mismatch { .. } =
                matching::match_step(step, &step_run.actual, &mut bindings)
            {
                lines.push(step.line);
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{BlockRun, Failure, SnapshotVerdict};
    use crate::snapshot::Meta;
    use crate::snippet;
    use std::path::Path;
    use std::time::Duration;

    fn run_for(page: &Page, block: usize, failures: Vec<Failure>, steps: Vec<StepRun>) -> PageRun {
        let b = &page.blocks[block];
        PageRun {
            path: page.path.clone(),
            blocks: vec![BlockRun {
                line: b.line,
                name: "x".into(),
                verdict: Verdict::Failed(failures),
                snapshot: SnapshotVerdict::NotChecked,
                transcript: String::new(),
                steps,
                meta: Meta::default(),
                elapsed: Duration::ZERO,
                hidden: false,
            }],
            cleanup: Ok(Default::default()),
            problem: None,
            elapsed: Duration::ZERO,
        }
    }

    fn output_failure(line: usize) -> Failure {
        Failure {
            line,
            prompt: "$ ".into(),
            command: String::new(),
            what: StepFailure::Output {
                diff: String::new(),
                conflict: None,
            },
        }
    }

    // The acceptance check: one wrong output line, one line changed, every other byte kept (CRLF and list
    // indentation included).
    #[test]
    fn one_wrong_line_changes_one_line() {
        let md = "# T\r\n\r\n1. Run:\r\n\r\n   ```console\r\n   $ echo a; echo b; echo c\r\n   a\r\n   B\r\n   c\r\n   ```\r\nafter  \r\n";
        let page = snippet::parse_page(Path::new("src/p.md"), md).unwrap();
        let run = run_for(
            &page,
            0,
            vec![output_failure(6)],
            vec![StepRun {
                line: 6,
                actual: "a\nb\nc\n".into(),
                status: Some(0),
            }],
        );
        let update = rewrite_page(md, &page, &run).unwrap();
        assert_eq!(update.content, md.replace("   B\r\n", "   b\r\n"));
        assert_eq!(update.steps, [6]);
    }

    // Extra and missing lines in a block quote keep the quote marker; a `^C` stays between its lines.
    #[test]
    fn added_lines_keep_the_container_prefix() {
        let md = "> ```console\n> $ ping web\n> PING web\n> ^C\n> --- stats ---\n> ```\n";
        let page = snippet::parse_page(Path::new("src/p.md"), md).unwrap();
        let run = run_for(
            &page,
            0,
            vec![output_failure(2)],
            vec![StepRun {
                line: 2,
                actual: "PING web\n64 bytes\n\n--- stats ---\n".into(),
                status: Some(0),
            }],
        );
        let update = rewrite_page(md, &page, &run).unwrap();
        assert_eq!(
            update.content,
            "> ```console\n> $ ping web\n> PING web\n> 64 bytes\n>\n> ^C\n> --- stats ---\n> ```\n"
        );
    }

    // A wrong exit status is fixed too: the `?` line is added, changed or dropped.
    #[test]
    fn status_lines_follow_the_run() {
        let md = "```console\n$ false\nout\n$ true\n? 1\n$ exit 3\n? 2\n```\n";
        let page = snippet::parse_page(Path::new("src/p.md"), md).unwrap();
        let status = |line, expected, actual| Failure {
            line,
            prompt: "$ ".into(),
            command: String::new(),
            what: StepFailure::Status {
                expected,
                actual,
                tail: String::new(),
            },
        };
        let run = run_for(
            &page,
            0,
            vec![
                status(2, Status::Success, 1),
                status(4, Status::Code(1), 0),
                status(6, Status::Code(2), 3),
            ],
            [2, 4, 6]
                .map(|line| StepRun {
                    line,
                    actual: if line == 2 {
                        "out\n".into()
                    } else {
                        String::new()
                    },
                    status: Some(1),
                })
                .to_vec(),
        );
        let update = rewrite_page(md, &page, &run).unwrap();
        assert_eq!(
            update.content,
            "```console\n$ false\nout\n? 1\n$ true\n$ exit 3\n? 3\n```\n"
        );
    }

    // Nothing failed, nothing written.
    #[test]
    fn matching_page_is_left_alone() {
        let md = "```console\n$ echo a\na\n```\n";
        let page = snippet::parse_page(Path::new("src/p.md"), md).unwrap();
        let mut run = run_for(&page, 0, vec![], vec![]);
        run.blocks[0].verdict = Verdict::Verified;
        assert_eq!(rewrite_page(md, &page, &run), None);
    }
}
