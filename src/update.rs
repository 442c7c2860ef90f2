//! `mdbook-docktest test --update`: rewrite a page's expected output from the run, in place.
//!
//! Only the output lines of the steps that did not match are touched (and their `?` line when the exit
//! status differs); every other byte of the file stays as it was, line endings and the indentation or `> `
//! markers of a fence inside a list item or block quote included. Within a rewritten step the author's lines
//! that still match are kept as written, wildcards included: only the lines that really differ change.
//!
//! The line-up of expected lines against actual ones (`align`) also serves the preprocessor, which uses it
//! to show real output where a page wrote `...` or `[..]`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::PathBuf;

use similar::algorithms::{myers, Capture};
use similar::DiffOp;

use crate::markdown;
use crate::matching::{self, Bindings, Match};
use crate::redact;
use crate::runner::{PageRun, StepFailure, StepRun, Verdict};
use crate::snippet::{Page, Status, Step};

/// A line holding only this matches any number of lines.
const ANY_LINES: &str = "...";
/// This within a line matches any text.
const ANY_TEXT: &str = "[..]";

/// How one piece of a step's expected output lines up with the actual output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Expected line `exp` matches actual line `act` on its own.
    Same { exp: usize, act: usize },
    /// Expected `...` line `exp` stands for these actual lines.
    Wild { exp: usize, acts: Range<usize> },
    /// Expected line `exp` differs; actual line `act` takes its place.
    Replaced { exp: usize, act: usize },
    /// Expected line `exp` has no counterpart.
    Removed { exp: usize },
    /// Actual line `act` has no counterpart; it comes after expected line `after` (`None`: before the
    /// first one).
    Added { after: Option<usize>, act: usize },
}

/// Whether the expected line is `...`.
pub(crate) fn is_any_lines(line: &str) -> bool {
    line.trim() == ANY_LINES
}

/// Whether the expected lines use a wildcard (`...` or `[..]`).
pub(crate) fn has_wildcards(expected: &[String]) -> bool {
    expected
        .iter()
        .any(|l| is_any_lines(l) || l.contains(ANY_TEXT))
}

/// Lines of an output as the matcher sees them: trailing blank lines dropped.
pub(crate) fn output_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    lines
}

/// Whether one expected line matches one actual line on its own (wildcards and volatile values as the
/// matcher reads them, no page bindings): how lines are aligned. Only lines with `[..]` go through the
/// matcher; the others are compared piece by piece.
fn line_matches(expected: &str, actual: &str) -> bool {
    let expected = redact::normalize(expected);
    let expected = expected.trim_end_matches('\n');
    let actual = actual.trim_end();
    if expected.contains(ANY_TEXT) {
        return matching::match_output(&[expected.to_string()], actual, &mut Bindings::new())
            .is_match();
    }
    binds_by_pieces(expected, actual, &mut Bindings::new())
}

/// Matches a page line without `[..]` against a run line piece by piece: values pair up in order, each run
/// value (or placeholder) of the page value's kind and bound to it, and the text around them is equal.
/// What the matcher's pattern for the line accepts, without compiling it. `bindings` may be left partly
/// extended when it fails: callers work on a copy.
fn binds_by_pieces(expected: &str, actual: &str, bindings: &mut Bindings) -> bool {
    let (page, run) = (
        redact::volatile_spans(expected),
        redact::volatile_spans(actual),
    );
    if page.len() != run.len() {
        return false;
    }
    let (mut p_at, mut r_at) = (0, 0);
    for (p, r) in page.iter().zip(&run) {
        let run_value = &actual[r.range.clone()];
        if p.class != r.class
            || !p.class.accepts(run_value)
            || !literal_eq(&expected[p_at..p.range.start], &actual[r_at..r.range.start])
        {
            return false;
        }
        if p.class.is_numbered()
            && bindings
                .bind(p.class, &expected[p.range.clone()], run_value)
                .is_err()
        {
            return false;
        }
        p_at = p.range.end;
        r_at = r.range.end;
    }
    literal_eq(&expected[p_at..], &actual[r_at..])
}

/// Literal comparison where a run of two or more spaces on the page stands for any run of spaces (table
/// padding), as in the matcher.
fn literal_eq(page: &str, run: &str) -> bool {
    let (mut p, mut r) = (page.as_bytes(), run.as_bytes());
    loop {
        match (p.first(), r.first()) {
            (None, None) => return true,
            (Some(b' '), _) if p.get(1) == Some(&b' ') => {
                let spaces = |s: &[u8]| s.iter().take_while(|&&c| c == b' ').count();
                let (ps, rs) = (spaces(p), spaces(r));
                if rs == 0 {
                    return false;
                }
                p = &p[ps..];
                r = &r[rs..];
            }
            (Some(a), Some(b)) if a == b => {
                p = &p[1..];
                r = &r[1..];
            }
            _ => return false,
        }
    }
}

/// [`matching::match_output`], with the same verdict and the same bindings, but without compiling a
/// pattern for lines that hold no wildcard and no volatile value: those are compared directly, and only the
/// lines with values go through the matcher. Compiling a pattern per line is most of what replaying a big
/// book costs. Output with `...` or `[..]`, or that does not match line for line, goes to the matcher whole.
pub(crate) fn match_fast(expected: &[String], actual: &str, bindings: &mut Bindings) -> Match {
    if expected.is_empty() {
        return Match::Matched;
    }
    let whole = |bindings: &mut Bindings| matching::match_output(expected, actual, bindings);
    if has_wildcards(expected) {
        return whole(bindings);
    }
    let mut page: Vec<String> = expected
        .iter()
        .map(|l| redact::normalize(l).trim_end_matches('\n').to_string())
        .collect();
    while page.last().is_some_and(|l| l.is_empty()) {
        page.pop();
    }
    let run = output_lines(&redact::normalize(actual));
    if page.len() != run.len() {
        return whole(bindings);
    }
    let (mut with_values, mut their_run) = (Vec::new(), Vec::new());
    for (p, r) in page.iter().zip(&run) {
        if !redact::volatile_spans(p).is_empty() {
            with_values.push(p.clone());
            their_run.push(r.as_str());
        } else if !literal_eq(p, r) {
            return whole(bindings);
        }
    }
    if with_values.is_empty() {
        return Match::Matched;
    }
    let mut trial = bindings.clone();
    if with_values
        .iter()
        .zip(&their_run)
        .all(|(p, r)| binds_by_pieces(p, r, &mut trial))
    {
        *bindings = trial;
        return Match::Matched;
    }
    whole(bindings)
}

/// Lines the expected output up with the actual output: a Myers diff whose equality is "this expected line
/// matches that actual line on its own"; in a stretch that does not line up, a `...` takes the actual lines
/// left over once the expected lines before it and after it have taken one each from either end.
pub(crate) fn align(expected: &[String], actual: &[String]) -> Vec<Piece> {
    struct Exp<'a> {
        index: usize,
        text: &'a str,
        cache: &'a RefCell<HashMap<(usize, usize), bool>>,
    }
    struct Act<'a> {
        index: usize,
        text: &'a str,
    }
    impl PartialEq<Exp<'_>> for Act<'_> {
        fn eq(&self, other: &Exp<'_>) -> bool {
            if is_any_lines(other.text) {
                return false;
            }
            *other
                .cache
                .borrow_mut()
                .entry((other.index, self.index))
                .or_insert_with(|| line_matches(other.text, self.text))
        }
    }
    let cache = RefCell::new(HashMap::new());
    let old: Vec<Exp<'_>> = expected
        .iter()
        .enumerate()
        .map(|(index, text)| Exp {
            index,
            text,
            cache: &cache,
        })
        .collect();
    let new: Vec<Act<'_>> = actual
        .iter()
        .enumerate()
        .map(|(index, text)| Act { index, text })
        .collect();
    let mut capture = Capture::new();
    let Ok(()) = myers::diff(&mut capture, &old, 0..old.len(), &new, 0..new.len());

    let mut pieces = Vec::new();
    let (mut chunk_old, mut chunk_new): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for op in capture.into_ops() {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = op
        {
            resolve_chunk(&mut pieces, &chunk_old, &chunk_new, expected);
            chunk_old.clear();
            chunk_new.clear();
            pieces.extend((0..len).map(|i| Piece::Same {
                exp: old_index + i,
                act: new_index + i,
            }));
        } else {
            chunk_old.extend(op.old_range());
            chunk_new.extend(op.new_range());
        }
    }
    resolve_chunk(&mut pieces, &chunk_old, &chunk_new, expected);
    pieces
}

fn resolve_chunk(pieces: &mut Vec<Piece>, old: &[usize], new: &[usize], expected: &[String]) {
    if old.is_empty() && new.is_empty() {
        return;
    }
    let last_exp = |pieces: &Vec<Piece>| {
        pieces.iter().rev().find_map(|p| match p {
            Piece::Same { exp, .. }
            | Piece::Wild { exp, .. }
            | Piece::Replaced { exp, .. }
            | Piece::Removed { exp } => Some(*exp),
            Piece::Added { after, .. } => *after,
        })
    };
    // Pairs old lines with new lines one to one from the start; what is left over is removed or added.
    let pair = |pieces: &mut Vec<Piece>, old: &[usize], new: &[usize]| {
        for i in 0..old.len().max(new.len()) {
            match (old.get(i), new.get(i)) {
                (Some(&exp), Some(&act)) => pieces.push(Piece::Replaced { exp, act }),
                (Some(&exp), None) => pieces.push(Piece::Removed { exp }),
                (None, Some(&act)) => {
                    let after = last_exp(pieces);
                    pieces.push(Piece::Added { after, act });
                }
                (None, None) => {}
            }
        }
    };
    match old.iter().position(|&i| is_any_lines(&expected[i])) {
        None => pair(pieces, old, new),
        Some(w) => {
            let (before, after) = (&old[..w], &old[w + 1..]);
            let take_front = before.len().min(new.len());
            let take_back = after.len().min(new.len() - take_front);
            pair(pieces, before, &new[..take_front]);
            let middle = &new[take_front..new.len() - take_back];
            let acts = match (middle.first(), middle.last()) {
                (Some(&a), Some(&b)) => a..b + 1,
                _ => new.get(take_front).map_or(0, |&a| a)..new.get(take_front).map_or(0, |&a| a),
            };
            pieces.push(Piece::Wild { exp: old[w], acts });
            // Lines after the `...` take the run's last lines, aligned at the end.
            let tail = &new[new.len() - take_back..];
            let unpaired = after.len() - take_back;
            for &exp in &after[..unpaired] {
                if is_any_lines(&expected[exp]) {
                    pieces.push(Piece::Wild {
                        exp,
                        acts: tail.first().map_or(0, |&a| a)..tail.first().map_or(0, |&a| a),
                    });
                } else {
                    pieces.push(Piece::Removed { exp });
                }
            }
            pair(pieces, &after[unpaired..], tail);
        }
    }
}

/// How a mismatching step's expected lines become new ones: [`align`], unless the wildcards it keeps would
/// not match, then the actual output line for line.
fn plan(expected: &[String], actual: &str) -> (Vec<String>, Vec<Piece>) {
    let actual_lines = output_lines(actual);
    let pieces = align(expected, &actual_lines);
    let out = apply(&pieces, expected, &actual_lines);
    if matching::match_output(&out, actual, &mut Bindings::new()).is_match() {
        return (actual_lines, pieces);
    }
    let mut pieces = Vec::new();
    for i in 0..expected.len().max(actual_lines.len()) {
        pieces.push(match (expected.get(i), actual_lines.get(i)) {
            (Some(_), Some(_)) => Piece::Replaced { exp: i, act: i },
            (Some(_), None) => Piece::Removed { exp: i },
            _ => Piece::Added {
                after: expected.len().checked_sub(1),
                act: i,
            },
        });
    }
    (actual_lines, pieces)
}

fn apply(pieces: &[Piece], expected: &[String], actual: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Same { exp, .. } | Piece::Wild { exp, .. } => out.push(expected[*exp].clone()),
            Piece::Replaced { act, .. } | Piece::Added { act, .. } => {
                out.push(actual[*act].clone())
            }
            Piece::Removed { .. } => {}
        }
    }
    out
}

/// The expected lines of a mismatching step rewritten from its actual output: lines that still match stay
/// as the author wrote them (wildcards included), the others become the actual lines.
pub fn rewrite_expected(expected: &[String], actual: &str) -> Vec<String> {
    let (actual_lines, pieces) = plan(expected, actual);
    apply(&pieces, expected, &actual_lines)
}

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
    // The de-indented text of each body line, by page line.
    let body: HashMap<usize, String> = markdown::fences(content)
        .ok()?
        .into_iter()
        .flat_map(|f| f.body)
        .map(|l| (l.line, l.text))
        .collect();
    // Replacement lines per page line (1-based); an empty list deletes the line.
    let mut edits: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut rewritten = Vec::new();

    for block_run in &run.blocks {
        let Verdict::Failed(failures) = &block_run.verdict else {
            continue;
        };
        let Some(block) = page.blocks.iter().find(|b| b.line == block_run.line) else {
            continue;
        };
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

/// The container prefix of a page line (list indentation, `> `): the file line minus its body text.
fn prefix_of<'a>(
    lines: &'a [FileLine<'a>],
    body: &HashMap<usize, String>,
    line: usize,
) -> Option<&'a str> {
    let text = lines.get(line.checked_sub(1)?)?.text;
    let body_text = body.get(&line)?;
    text.strip_suffix(body_text.as_str())
}

/// A body line written with a container prefix: an empty line keeps no trailing blank.
fn with_prefix(prefix: &str, text: &str) -> String {
    if text.is_empty() {
        prefix.trim_end().to_string()
    } else {
        format!("{prefix}{text}")
    }
}

fn rewrite_output(
    step: &Step,
    run: &StepRun,
    lines: &[FileLine<'_>],
    body: &HashMap<usize, String>,
    edits: &mut BTreeMap<usize, Vec<String>>,
) -> bool {
    if step.expected.is_empty() {
        return false;
    }
    let Some(prefix) = prefix_of(lines, body, step.line) else {
        return false;
    };
    let (actual, pieces) = plan(&step.expected, &run.actual);
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
    body: &HashMap<usize, String>,
    edits: &mut BTreeMap<usize, Vec<String>>,
) -> bool {
    let Some(prefix) = prefix_of(lines, body, step.line) else {
        return false;
    };
    // The step's own lines end at its last input or output line; its `?` line, if any, follows them.
    let last =
        (step.line + step.input.len() - 1).max(step.expected_lines.last().copied().unwrap_or(0));
    let status_line = (last + 1..next_line.min(last + 64))
        .take_while(|l| body.contains_key(l))
        .find(|l| {
            let text = body[l].trim_end();
            text == "?" || text.starts_with("? ")
        });
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
            while body.get(&(after + 1)).is_some_and(|t| t.trim() == "^C") {
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

/// The steps of a page rewritten by `--update` that still do not match the run, checked with the page's
/// bindings: an equality the page shows elsewhere (the same address twice) that the run broke needs a human.
/// `page` is the rewritten page; its blocks and steps are those of `run`, in the same order.
pub fn still_mismatching(page: &Page, run: &PageRun) -> Vec<usize> {
    let mut bindings = Bindings::new();
    let mut lines = Vec::new();
    // In the runner's order: teardown blocks last.
    let pairs: Vec<_> = page.blocks.iter().zip(&run.blocks).collect();
    let ordered = pairs
        .iter()
        .filter(|(b, _)| !b.attrs.teardown)
        .chain(pairs.iter().filter(|(b, _)| b.attrs.teardown));
    for (block, block_run) in ordered {
        for (step, step_run) in block.steps.iter().zip(&block_run.steps) {
            if let Match::Mismatch { .. } =
                matching::match_output(&step.expected, &step_run.actual, &mut bindings)
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

    fn owned(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    // Lines that match stay, `...` takes what is left between its neighbours.
    #[test]
    fn align_wildcards() {
        let expected = owned(&["<!DOCTYPE html>", "...", "<h1>Welcome</h1>", "..."]);
        let actual = owned(&[
            "<!DOCTYPE html>",
            "<html>",
            "<head>",
            "<h1>Welcome</h1>",
            "<p>x</p>",
        ]);
        assert_eq!(
            align(&expected, &actual),
            [
                Piece::Same { exp: 0, act: 0 },
                Piece::Wild { exp: 1, acts: 1..3 },
                Piece::Same { exp: 2, act: 3 },
                Piece::Wild { exp: 3, acts: 4..5 },
            ]
        );
    }

    // A wrong line next to a `...` is replaced by the run's line at the same end, the `...` kept.
    #[test]
    fn rewrite_keeps_wildcards_that_still_match() {
        let expected = owned(&["first", "...", "WRONG"]);
        assert_eq!(
            rewrite_expected(&expected, "first\nx\ny\nlast\n"),
            ["first", "...", "last"]
        );
        let expected = owned(&["inet [..] scope global eth0", "old"]);
        assert_eq!(
            rewrite_expected(&expected, "inet 172.18.0.2/16 scope global eth0\nnew\n"),
            ["inet [..] scope global eth0", "new"]
        );
    }

    // Values the page shows stay as written when the run shows other values of the same kind.
    #[test]
    fn rewrite_keeps_volatile_values() {
        let expected = owned(&["172.17.0.2", "bad"]);
        assert_eq!(
            rewrite_expected(&expected, "172.17.0.3\ngood\n"),
            ["172.17.0.2", "good"]
        );
    }

    // Table padding counts as any run of spaces, as in the matcher.
    #[test]
    fn literal_comparison_allows_table_padding() {
        assert!(literal_eq("NAME    DRIVER", "NAME  DRIVER"));
        assert!(!literal_eq("a b", "a  b"));
        assert!(!literal_eq("NAME  DRIVER", "NAMEDRIVER"));
        assert!(line_matches("hello [..]", "hello world"));
        assert!(!line_matches("hello", "hello world"));
    }

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

    // The fast path must agree with the matcher, bindings included.
    #[test]
    fn match_fast_agrees_with_the_matcher() {
        let cases: &[(&[&str], &str)] = &[
            (&["a", "b  c"], "a\nb c\n\n"),
            (&["a", "b c"], "a\nb  c\n"),
            (&["a"], "a\nb\n"),
            (&["a", ""], "a\n"),
            (&["\u{1b}[1mbold\u{1b}[0m  "], "bold\n"),
            (&["ip 172.18.0.2", "x"], "ip [IP1]\nx\n"),
            (&["ip 172.18.0.2", "y"], "ip [IP1]\nx\n"),
            (&["ip 172.18.0.3"], "ip [IP1]\n"),
            (
                &["ip 172.18.0.2", "mac 02:42:ac:12:00:02"],
                "ip [IP1]\nmac [MAC1]\n",
            ),
            (&["...", "z"], "a\nz\n"),
            (&["[..] z"], "a z\n"),
            (&[], "anything"),
        ];
        for (expected, actual) in cases {
            let expected = owned(expected);
            let mut slow = Bindings::new();
            let mut fast = Bindings::new();
            // The same page: a first block binds 172.18.0.2 to [IP1].
            for b in [&mut slow, &mut fast] {
                let _ = matching::match_output(&owned(&["172.18.0.2"]), "[IP1]", b);
            }
            let want = matching::match_output(&expected, actual, &mut slow);
            let got = match_fast(&expected, actual, &mut fast);
            assert_eq!(
                got.is_match(),
                want.is_match(),
                "{expected:?} vs {actual:?}"
            );
            // The bindings must agree too: a later block sees the same page state.
            for later in ["[IP1]", "[IP2]", "[MAC1]"] {
                for value in ["172.18.0.2", "172.18.0.3", "02:42:ac:12:00:02"] {
                    let e = owned(&[value]);
                    assert_eq!(
                        matching::match_output(&e, later, &mut slow.clone()).is_match(),
                        matching::match_output(&e, later, &mut fast.clone()).is_match(),
                        "{expected:?} vs {actual:?}, then {value} vs {later}"
                    );
                }
            }
        }
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
