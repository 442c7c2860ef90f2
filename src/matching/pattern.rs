//! The matcher itself: expected lines compiled into anchored regexes, matched against a whole output with
//! backtracking over `...`, on a copy of the page's bindings so that a dead end leaves no trace.

use regex::Regex;

use super::{is_any_lines, Bindings, Conflict, Match, ANY_TEXT};
use crate::memo::Remembered;
use crate::redact::{self, Class};

/// [`super::match_output`] without its shortcut: every line through its pattern. Both sides are lines as
/// the matcher sees them (normalized, in their compared forms).
pub(super) fn match_lines(page: &[String], run: &[String], bindings: &mut Bindings) -> Match {
    let patterns = compile(page);
    let mut trial = bindings.clone();
    let mut trace = Trace::default();
    if match_from(&patterns, 0, run, 0, &mut trial, &mut trace) {
        *bindings = trial;
        Match::Matched
    } else {
        Match::Mismatch {
            conflict: trace.conflict,
        }
    }
}

/// Whether one expected line (typically one holding `[..]`) matches one actual line, no page bindings.
pub(super) fn line_matches(expected: &str, actual: &str) -> bool {
    bind_line(expected, actual, &mut Bindings::new()).is_ok()
}

/// Matches one expected line against one actual line, binding their values (`bindings` may be left partly
/// extended on failure: callers work on a copy).
pub(super) fn bind_line(
    expected: &str,
    actual: &str,
    bindings: &mut Bindings,
) -> Result<(), Option<Conflict>> {
    compile_line(expected).bind(actual, bindings)
}

/// One expected line, ready to meet actual lines.
enum Pattern {
    /// `...`
    AnyLines,
    Line {
        /// Anchored; capture group `i + 1` holds the run's value for `slots[i]`.
        regex: Regex,
        slots: Vec<Slot>,
    },
}

/// A numbered volatile value the page shows, waiting for its run counterpart.
struct Slot {
    class: Class,
    page: String,
}

fn compile(page: &[String]) -> Vec<Pattern> {
    let mut patterns: Vec<Pattern> = Vec::with_capacity(page.len());
    for line in page {
        if is_any_lines(line) {
            // Two `...` in a row mean the same as one, and would only multiply the backtracking.
            if !matches!(patterns.last(), Some(Pattern::AnyLines)) {
                patterns.push(Pattern::AnyLines);
            }
        } else {
            patterns.push(compile_line(line));
        }
    }
    patterns
}

fn compile_line(text: &str) -> Pattern {
    enum Piece {
        AnyText,
        Value(Class),
    }
    let mut pieces: Vec<(std::ops::Range<usize>, Piece)> = redact::volatile_spans(text)
        .into_iter()
        .map(|span| (span.range, Piece::Value(span.class)))
        .collect();
    for (start, _) in text.match_indices(ANY_TEXT) {
        let range = start..start + ANY_TEXT.len();
        if !pieces
            .iter()
            .any(|(r, _)| r.start < range.end && range.start < r.end)
        {
            pieces.push((range, Piece::AnyText));
        }
    }
    pieces.sort_by_key(|(range, _)| range.start);

    let mut source = String::from("^");
    let mut slots = Vec::new();
    let mut last = 0;
    for (range, piece) in pieces {
        source.push_str(&literal(&text[last..range.start]));
        match piece {
            Piece::AnyText => source.push_str(".*?"),
            Piece::Value(class) if class.is_numbered() => {
                source.push_str(&format!("({})", class.value_pattern()));
                slots.push(Slot {
                    class,
                    page: text[range.clone()].to_owned(),
                });
            }
            Piece::Value(class) => source.push_str(&class.value_pattern()),
        }
        last = range.end;
    }
    source.push_str(&literal(&text[last..]));
    source.push('$');
    Pattern::Line {
        regex: compiled(source),
        slots,
    }
}

thread_local! {
    /// Line patterns compiled before: the aligner matches one page line against every line of a run.
    static COMPILED: Remembered<Regex> = Remembered::new(1024);
}

fn compiled(source: String) -> Regex {
    COMPILED.with(|compiled| {
        compiled.get(&source, || {
            Regex::new(&source).expect("escaped literals and built-in patterns")
        })
    })
}

/// Regex for literal text, where a run of two or more spaces (table padding) stands for any run of spaces:
/// the rule [`super::pieces`] applies without a regex.
fn literal(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("  ") {
        let end = rest[start..]
            .find(|c| c != ' ')
            .map_or(rest.len(), |n| start + n);
        out.push_str(&regex::escape(&rest[..start]));
        out.push_str(" +");
        rest = &rest[end..];
    }
    out.push_str(&regex::escape(rest));
    out
}

/// Why one line did not match, if a binding is to blame.
type LineResult = Result<(), Option<Conflict>>;

impl Pattern {
    /// Matches one line, binding its values into `bindings` (left partly extended on failure: callers
    /// work on a copy).
    fn bind(&self, actual: &str, bindings: &mut Bindings) -> LineResult {
        let Pattern::Line { regex, slots } = self else {
            return Err(None);
        };
        let caps = regex.captures(actual).ok_or(None)?;
        for (i, slot) in slots.iter().enumerate() {
            let run = caps.get(i + 1).map_or("", |m| m.as_str());
            // The pattern is loose; the class decides (a page's 172.18.0.2 never stands for 127.0.0.1).
            if !slot.class.accepts(run) {
                return Err(None);
            }
            bindings.bind(slot.class, &slot.page, run).map_err(Some)?;
        }
        Ok(())
    }
}

/// The deepest point a failed match reached, and the binding conflict there if one was the cause.
#[derive(Default)]
struct Trace {
    furthest: Option<usize>,
    conflict: Option<Conflict>,
}

impl Trace {
    fn fail(&mut self, pattern: usize, conflict: Option<Conflict>) {
        match self.furthest {
            Some(f) if pattern < f => {}
            Some(f) if pattern == f => {
                if self.conflict.is_none() {
                    self.conflict = conflict;
                }
            }
            _ => {
                self.furthest = Some(pattern);
                self.conflict = conflict;
            }
        }
    }
}

/// Matches `patterns[pi..]` against `actual[ai..]`. Plain lines advance in step; `...` tries to swallow
/// as few lines as possible first, on a copy of the bindings so a dead end leaves no trace.
fn match_from(
    patterns: &[Pattern],
    mut pi: usize,
    actual: &[String],
    mut ai: usize,
    bindings: &mut Bindings,
    trace: &mut Trace,
) -> bool {
    loop {
        match patterns.get(pi) {
            None if ai == actual.len() => return true,
            None => {
                trace.fail(pi, None);
                return false;
            }
            Some(Pattern::AnyLines) if pi + 1 == patterns.len() => return true,
            Some(Pattern::AnyLines) => {
                for skip_to in ai..=actual.len() {
                    let mut trial = bindings.clone();
                    if match_from(patterns, pi + 1, actual, skip_to, &mut trial, trace) {
                        *bindings = trial;
                        return true;
                    }
                }
                return false;
            }
            Some(line) => {
                let Some(actual_line) = actual.get(ai) else {
                    trace.fail(pi, None);
                    return false;
                };
                if let Err(conflict) = line.bind(actual_line, bindings) {
                    trace.fail(pi, conflict);
                    return false;
                }
                pi += 1;
                ai += 1;
            }
        }
    }
}
