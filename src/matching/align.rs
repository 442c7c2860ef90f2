//! Lining expected lines up with real ones, line by line: for the diff of a mismatch, for `--update`
//! (which keeps the author's lines that still match) and for the preprocessor (which shows real output
//! where the page wrote a wildcard). One alignment serves all three.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

use owo_colors::OwoColorize;
use similar::algorithms::{myers, Capture};
use similar::udiff::UnifiedHunkHeader;
use similar::{ChangeTag, DiffOp, TextDiff};

use super::{
    expected_lines, has_wildcards, is_any_lines, json, layout, line_matches, match_output,
    output_lines, Bindings,
};
use crate::redact;
use crate::snippet::Json;

/// Lines of context around each change in [`diff`].
const DIFF_CONTEXT: usize = 3;

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

/// Lines the expected output up with the actual output: a Myers diff whose equality is "this expected line
/// matches that actual line on its own"; in a stretch that does not line up, a `...` takes the actual lines
/// left over once the expected lines before it and after it have taken one each from either end.
pub(crate) fn align(expected: &[String], actual: &[String]) -> Vec<Piece> {
    // Lines are equal as the matcher sees them: normalized, in their compared forms (a table's cells, a
    // progress bar at one width).
    let normalized: Vec<String> = expected
        .iter()
        .map(|l| redact::normalize(l).trim_end_matches('\n').to_string())
        .collect();
    let forms = layout::forms(&normalized, actual);
    let (expected_form, actual_form) = forms
        .as_ref()
        .map_or((&normalized[..], actual), |(p, r)| (&p[..], &r[..]));
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
    let old: Vec<Exp<'_>> = expected_form
        .iter()
        .enumerate()
        .map(|(index, text)| Exp {
            index,
            text,
            cache: &cache,
        })
        .collect();
    let new: Vec<Act<'_>> = actual_form
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

/// How a mismatching step's expected lines become new ones for `--update`: the actual lines, and [`align`]'s
/// pieces unless the wildcards they keep would not match, else the actual output line for line.
pub(crate) fn rewrite(expected: &[String], actual: &str) -> (Vec<String>, Vec<Piece>) {
    let actual_lines = output_lines(actual);
    let pieces = align(expected, &actual_lines);
    let out = apply(&pieces, expected, &actual_lines);
    if match_output(&out, actual, &mut Bindings::new()).is_match() {
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

/// The expected lines the pieces make: the author's where they match, the actual ones elsewhere.
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

/// How a matched step's expected lines line up with its real output lines, or `None` when they do not line
/// up cleanly (then the page is shown as written). Trailing blank expected lines, which the matcher
/// ignores, take no part.
pub(crate) fn line_up(expected: &[String], real: &[String]) -> Option<Vec<Piece>> {
    let blank = expected
        .iter()
        .rev()
        .take_while(|l| l.trim().is_empty())
        .count();
    let expected = &expected[..expected.len() - blank];
    let pieces = if has_wildcards(expected) {
        align(expected, real)
    } else if expected.len() == real.len() {
        (0..expected.len())
            .map(|i| Piece::Same { exp: i, act: i })
            .collect()
    } else {
        return None;
    };
    pieces
        .iter()
        .all(|p| matches!(p, Piece::Same { .. } | Piece::Wild { .. }))
        .then_some(pieces)
}

/// A unified-style line diff, `-` for the page and `+` for the run, for reports. Lines the page matches
/// through `...`, `[..]` or a volatile value are shown as the run's lines and unchanged, so only real
/// differences stand out. Binding conflicts are not visible here; see [`super::Match::Mismatch`]. Empty
/// when nothing differs line by line. `color` adds red and green (the caller knows whether it writes to a
/// terminal).
pub fn diff(expected: &[String], actual: &str, color: bool) -> String {
    diff_as(expected, Json::Subset, actual, color)
}

/// [`diff`] for a step's own choices. When both sides are JSON, the diff is between the page's JSON and
/// the run's shaped like it (see `json::projection`), both printed as `docker inspect` does: keys the run
/// added are not differences and key order is none, so what differs is the keys that do.
pub(crate) fn diff_as(expected: &[String], json: Json, actual: &str, color: bool) -> String {
    let expected = expected_lines(expected);
    let actual = output_lines(actual);
    if let Some((page, run)) = json::parse_both(&expected, &actual) {
        let shown = json::projection(&page, &run, json);
        return line_diff(&json::pretty(&page), &json::pretty(&shown), color);
    }
    line_diff(&expected, &actual, color)
}

fn line_diff(expected: &[String], actual: &[String], color: bool) -> String {
    let mut shown: Vec<&str> = Vec::new();
    for piece in align(expected, actual) {
        match piece {
            Piece::Same { act, .. } => shown.push(&actual[act]),
            Piece::Wild { acts, .. } => shown.extend(actual[acts].iter().map(String::as_str)),
            Piece::Replaced { exp, .. } | Piece::Removed { exp } => shown.push(&expected[exp]),
            Piece::Added { .. } => {}
        }
    }
    let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    unified(&shown, &actual, color)
}

/// A unified line diff of two snapshot bodies, `-` for the stored one and `+` for the new one, compared
/// exactly as insta compares them: a snapshot is a transcript, not a pattern, so a `...` or `[..]` it holds
/// is text like any other. Empty when they are equal. For `test`'s report of a changed snapshot and for
/// `review`.
pub fn snapshot_diff(stored: &str, new: &str, color: bool) -> String {
    let stored: Vec<&str> = stored.lines().collect();
    let new: Vec<&str> = new.lines().collect();
    unified(&stored, &new, color)
}

/// Hunks of changed lines with [`DIFF_CONTEXT`] lines around them, as `diff -u` prints them.
fn unified(old: &[&str], new: &[&str], color: bool) -> String {
    let text_diff = TextDiff::from_slices(old, new);
    let mut out = String::new();
    for group in text_diff.grouped_ops(DIFF_CONTEXT) {
        let header = UnifiedHunkHeader::new(&group).to_string();
        push_line(&mut out, &header, color.then_some(Paint::Header));
        for op in &group {
            for change in text_diff.iter_changes(op) {
                let (sign, paint) = match change.tag() {
                    ChangeTag::Delete => ('-', Some(Paint::Removed)),
                    ChangeTag::Insert => ('+', Some(Paint::Added)),
                    ChangeTag::Equal => (' ', None),
                };
                let line = format!("{sign}{}", change.value());
                push_line(&mut out, &line, paint.filter(|_| color));
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Paint {
    Header,
    Removed,
    Added,
}

fn push_line(out: &mut String, line: &str, paint: Option<Paint>) {
    match paint {
        None => out.push_str(line),
        Some(Paint::Header) => out.push_str(&line.cyan().to_string()),
        Some(Paint::Removed) => out.push_str(&line.red().to_string()),
        Some(Paint::Added) => out.push_str(&line.green().to_string()),
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    fn rewrite_expected(expected: &[String], actual: &str) -> Vec<String> {
        let (actual_lines, pieces) = rewrite(expected, actual);
        apply(&pieces, expected, &actual_lines)
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

    // A wrong line after a `...` shows as that line replaced, not as a line removed after the wildcard
    // swallowed everything: the diff and `--update` line up the same way.
    #[test]
    fn diff_pairs_a_wrong_line_after_a_wildcard() {
        let page = owned(&["a", "...", "X", "z"]);
        insta::assert_snapshot!(diff(&page, "a\nb\nc\nY\nz\n", false), @"
        @@ -1,5 +1,5 @@
         a
         b
         c
        -X
        +Y
         z
        ");
    }
}
