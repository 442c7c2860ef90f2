//! Expected output (with `...` and `[..]`) against what really ran, through consistent redaction.
//!
//! A page shows the output a reader should see, values included: `172.18.0.2`, `happy_einstein`, an ID. A
//! real run shows other values, and that is fine as long as the page's equalities hold. So volatile values
//! (see [`crate::redact`]) are not compared literally but bound: the first time the page's `172.18.0.2` meets
//! the run's `172.18.0.3` they are paired for the rest of the page, and every later appearance of either must
//! meet the other. Two values the page shows as different must have been different in the run. Authors may
//! also write placeholders (`[IP1]`), which bind the same way, and wildcards: `...` alone on a line for any
//! number of lines, `[..]` for any text within a line.
//!
//! ```
//! use mdbook_docktest::matching::{match_output, Bindings};
//!
//! let mut page = Bindings::new();
//! let expected = vec!["PING web (172.18.0.2): 56 data bytes".to_owned(), "...".to_owned()];
//! let run = "PING web (172.18.0.5): 56 data bytes\n64 bytes from 172.18.0.5: seq=0 ttl=64 time=0.061 ms\n";
//! assert!(match_output(&expected, run, &mut page).is_match());
//! // Later on the page the same address must be the same address again.
//! let expected = vec!["inet 172.18.0.2/16 [..]".to_owned()];
//! assert!(!match_output(&expected, "inet 172.18.0.6/16 scope global eth0", &mut page).is_match());
//! ```

use std::collections::HashMap;
use std::fmt;

use owo_colors::OwoColorize;
use regex::Regex;
use similar::algorithms::{myers, Capture};
use similar::udiff::UnifiedHunkHeader;
use similar::{ChangeTag, DiffOp, TextDiff};

use crate::redact::{self, Class};

/// A line holding only this matches any number of lines, none included.
const ANY_LINES: &str = "...";
/// This within a line matches any text, none included.
const ANY_TEXT: &str = "[..]";
/// Lines of context around each change in [`diff`].
const DIFF_CONTEXT: usize = 3;

/// Which run value each page value stands for, per class, across a whole page. It is a bijection: one
/// page value ran as one value, and one run value was shown as one page value.
#[derive(Debug, Default, Clone)]
pub struct Bindings {
    page_to_run: HashMap<(Class, String), String>,
    run_to_page: HashMap<(Class, String), String>,
}

impl Bindings {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn bind(&mut self, class: Class, page: &str, run: &str) -> Result<(), Conflict> {
        let (page, run) = (class.key(page), class.key(run));
        if let Some(before) = self.page_to_run.get(&(class, page.clone())) {
            if *before != run {
                return Err(Conflict::Split {
                    class,
                    page,
                    before: before.clone(),
                    now: run,
                });
            }
        }
        if let Some(before) = self.run_to_page.get(&(class, run.clone())) {
            if *before != page {
                return Err(Conflict::Merged {
                    class,
                    run,
                    before: before.clone(),
                    now: page,
                });
            }
        }
        self.page_to_run.insert((class, page.clone()), run.clone());
        self.run_to_page.insert((class, run), page);
        Ok(())
    }
}

/// Why output that matches line by line still does not match: the page's equalities did not hold. A diff
/// cannot show this (every line looks fine on its own), so it is reported in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// The page shows one value where the run showed two.
    Split {
        class: Class,
        page: String,
        before: String,
        now: String,
    },
    /// The page shows two values where the run showed one.
    Merged {
        class: Class,
        run: String,
        before: String,
        now: String,
    },
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::Split {
                class,
                page,
                before,
                now,
            } => write!(
                f,
                "the page shows the {} {page} more than once, but the run showed {before} and then {now}",
                noun(*class)
            ),
            Conflict::Merged {
                class,
                run,
                before,
                now,
            } => write!(
                f,
                "the page shows {before} and {now} as different {}, but the run showed {run} for both",
                plural(*class)
            ),
        }
    }
}

fn plural(class: Class) -> &'static str {
    match class {
        Class::Ipv4 | Class::Ipv6 => "addresses",
        Class::Mac => "MAC addresses",
        Class::Id => "IDs",
        Class::Name => "names",
        Class::Port => "ports",
        Class::Time => "durations",
        Class::Date => "dates",
    }
}

fn noun(class: Class) -> &'static str {
    match class {
        Class::Ipv4 | Class::Ipv6 => "address",
        Class::Mac => "MAC address",
        Class::Id => "ID",
        Class::Name => "name",
        Class::Port => "port",
        Class::Time => "duration",
        Class::Date => "date",
    }
}

/// The verdict on one block's output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Match {
    /// The output is what the page shows; the page's bindings now include this block's values.
    Matched,
    /// The output differs from the page. [`diff`] shows the lines; `conflict` explains a difference the
    /// lines do not show, when the closest attempt failed on a binding.
    Mismatch { conflict: Option<Conflict> },
}

impl Match {
    pub fn is_match(&self) -> bool {
        matches!(self, Match::Matched)
    }
}

/// Checks a run's output against the lines a page shows under a command, extending the page's bindings
/// only if it matches (a failed block must not leave half its values bound for the next one).
///
/// An empty `expected` matches anything: a page that shows no output makes no claim about it. Both sides
/// are compared after [`redact::normalize`]; trailing blank lines are ignored, and so are differences in the
/// width of runs of two or more spaces, which is how tables re-align when a value's length changes
/// (`Up 2 seconds` / `Up About a minute`).
pub fn match_output(expected: &[String], actual: &str, bindings: &mut Bindings) -> Match {
    if expected.is_empty() {
        return Match::Matched;
    }
    let patterns = compile(expected);
    let actual = output_lines(actual);
    let mut trial = bindings.clone();
    let mut trace = Trace::default();
    if match_from(&patterns, 0, &actual, 0, &mut trial, &mut trace) {
        *bindings = trial;
        Match::Matched
    } else {
        Match::Mismatch {
            conflict: trace.conflict,
        }
    }
}

/// A unified-style line diff, `-` for the page and `+` for the run, for reports. Lines the page matches
/// through `...`, `[..]` or a volatile value are shown as the run's lines and unchanged, so only real
/// differences stand out. Binding conflicts are not visible here; see [`Match::Mismatch`]. Empty when
/// nothing differs line by line. `color` adds red and green (the caller knows whether it writes to a
/// terminal).
pub fn diff(expected: &[String], actual: &str, color: bool) -> String {
    let patterns = compile(expected);
    let actual = output_lines(actual);
    let shown = expected_as_matched(&patterns, &actual);
    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    let actual: Vec<&str> = actual.iter().map(String::as_str).collect();
    let text_diff = TextDiff::from_slices(&shown, &actual);

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

/// One expected line, ready to meet actual lines.
enum Pattern {
    /// `...`
    AnyLines,
    Line {
        /// The line as the page shows it (normalized), for the diff.
        text: String,
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

fn compile(expected: &[String]) -> Vec<Pattern> {
    let mut lines: Vec<String> = expected.iter().map(|l| redact::normalize(l)).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut patterns: Vec<Pattern> = Vec::with_capacity(lines.len());
    for line in lines {
        if line.trim() == ANY_LINES {
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

fn compile_line(text: String) -> Pattern {
    enum Piece {
        AnyText,
        Value(Class),
    }
    let mut pieces: Vec<(std::ops::Range<usize>, Piece)> = redact::volatile_spans(&text)
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
    let regex = Regex::new(&source).expect("escaped literals and built-in patterns");
    Pattern::Line { text, regex, slots }
}

/// Regex for literal text, where a run of two or more spaces (table padding) stands for any run of spaces.
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

fn output_lines(actual: &str) -> Vec<String> {
    let normalized = redact::normalize(actual);
    let mut lines: Vec<String> = normalized.lines().map(str::to_owned).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Why one line did not match, if a binding is to blame.
type LineResult = Result<(), Option<Conflict>>;

impl Pattern {
    /// Matches one line, binding its values into `bindings` (left partly extended on failure: callers
    /// work on a copy).
    fn bind(&self, actual: &str, bindings: &mut Bindings) -> LineResult {
        let Pattern::Line { regex, slots, .. } = self else {
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

    /// Whether the line matches on its own, bindings aside: how the diff aligns lines.
    fn matches_alone(&self, actual: &str) -> bool {
        self.bind(actual, &mut Bindings::default()).is_ok()
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

/// The page's lines rewritten so that every line (or `...`) that matches shows the run's text: what is
/// left different is what really differs. Alignment is a Myers diff whose equality is "this pattern
/// matches that line"; `...` takes the run's lines left unaligned around it.
fn expected_as_matched(patterns: &[Pattern], actual: &[String]) -> Vec<String> {
    struct Expect<'a>(&'a Pattern);
    struct Actual<'a>(&'a str);
    impl PartialEq<Expect<'_>> for Actual<'_> {
        fn eq(&self, other: &Expect<'_>) -> bool {
            other.0.matches_alone(self.0)
        }
    }

    let old: Vec<Expect<'_>> = patterns.iter().map(Expect).collect();
    let new: Vec<Actual<'_>> = actual.iter().map(|l| Actual(l)).collect();
    let mut capture = Capture::new();
    let Ok(()) = myers::diff(&mut capture, &old, 0..old.len(), &new, 0..new.len());

    let mut shown = Vec::new();
    let mut chunk_old = Vec::new();
    let mut chunk_new = Vec::new();
    for op in capture.into_ops() {
        if let DiffOp::Equal { new_index, len, .. } = op {
            flush_chunk(&mut shown, &chunk_old, &chunk_new, patterns, actual);
            chunk_old.clear();
            chunk_new.clear();
            shown.extend_from_slice(&actual[new_index..new_index + len]);
        } else {
            chunk_old.extend(op.old_range());
            chunk_new.extend(op.new_range());
        }
    }
    flush_chunk(&mut shown, &chunk_old, &chunk_new, patterns, actual);
    shown
}

/// Unaligned page lines and run lines between two aligned runs: the first `...` among the page lines
/// stands for all the run lines, the other page lines stay as written (they will show as removed).
fn flush_chunk(
    shown: &mut Vec<String>,
    old: &[usize],
    new: &[usize],
    patterns: &[Pattern],
    actual: &[String],
) {
    let mut absorbed = false;
    for &i in old {
        match &patterns[i] {
            Pattern::AnyLines if !absorbed => {
                shown.extend(new.iter().map(|&j| actual[j].clone()));
                absorbed = true;
            }
            Pattern::AnyLines => {}
            Pattern::Line { text, .. } => shown.push(text.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    fn matches(expected: &str, actual: &str) -> bool {
        match_output(&lines(expected), actual, &mut Bindings::new()).is_match()
    }

    #[test]
    fn identical_lines_match_and_different_ones_do_not() {
        // The base rule: the page shows what the run prints.
        assert!(matches("hello\nworld", "hello\nworld\n"));
        assert!(!matches("hello\nworld", "hello\nthere\n"));
        assert!(!matches("hello", "hello\nworld\n"));
        assert!(!matches("hello\nworld", "hello\n"));
    }

    #[test]
    fn both_sides_are_normalized() {
        // Trailing blanks, colors and CRLF are invisible to a reader, so they do not count.
        assert!(matches(
            "ok   \nplain",
            "\x1b[32mok\x1b[0m\r\nplain  \r\n\r\n"
        ));
    }

    #[test]
    fn empty_expected_makes_no_claim() {
        // `docker run -d` prints an ID the page often does not show.
        assert!(match_output(&[], "3f4e5a6b7c8d\n", &mut Bindings::new()).is_match());
    }

    #[test]
    fn any_lines_at_start_middle_end_and_alone() {
        // `...` stands for any number of lines, none included, wherever it is.
        let run = "a\nb\nc\nd\n";
        assert!(matches("...\nd", run));
        assert!(matches("a\n...\nd", run));
        assert!(matches("a\nb\n...\nc\nd", run));
        assert!(matches("a\n...", run));
        assert!(matches("...", run));
        assert!(matches("...", ""));
        assert!(!matches("a\n...\nx", run));
        assert!(matches("a\n...\nc\n...", run));
    }

    #[test]
    fn any_text_within_a_line() {
        // `[..]` hides the part of a line the author does not want to pin.
        assert!(matches("Server: nginx/[..]", "Server: nginx/1.27.3\n"));
        assert!(matches("[..] bytes from [..]", "64 bytes from web\n"));
        assert!(!matches("Server: nginx/[..]", "Server: apache/2\n"));
    }

    #[test]
    fn table_padding_may_change_width() {
        // Columns re-align when a duration gets longer; the padding is not the content.
        let page = "CONTAINER ID   STATUS         NAMES\n3f4e5a6b7c8d   Up 2 seconds   web";
        let run =
            "CONTAINER ID   STATUS              NAMES\n9a8b7c6d5e4f   Up About a minute   web\n";
        assert!(matches(page, run));
        assert!(matches("a  b", "a b\n"));
        assert!(!matches("a b", "a  b\n"));
    }

    #[test]
    fn volatile_values_match_other_values_of_their_class() {
        // A different address, ID, MAC, name or clock is the normal state of a second run.
        let page = "172.18.0.2 3f4e5a6b7c8d 02:42:ac:12:00:02 happy_einstein 0.0.0.0:32768 Up 2 seconds 2026-11-26T10:00:00Z";
        let run = "172.19.0.3 9a8b7c6d5e4f 02:42:ac:13:00:03 zen_lovelace 0.0.0.0:49153 Up 3 hours 2027-01-01T00:00:00.5Z";
        assert!(matches(page, run));
        assert!(!matches("172.18.0.2", "3f4e5a6b7c8d"));
        assert!(!matches("3 seconds ago", "soon"));
    }

    #[test]
    fn fixed_values_are_compared_literally() {
        // 127.0.0.11 is Docker's DNS on every run; a page address never stands for a loopback one.
        assert!(matches("nameserver 127.0.0.11", "nameserver 127.0.0.11"));
        assert!(!matches("nameserver 127.0.0.11", "nameserver 127.0.0.53"));
        assert!(!matches("from 172.18.0.2", "from 127.0.0.1"));
        assert!(!matches("0.0.0.0:8080->80/tcp", "0.0.0.0:8081->80/tcp"));
    }

    #[test]
    fn one_page_value_is_one_run_value_across_blocks() {
        // The page shows the same address in two blocks: the run must too.
        let mut page = Bindings::new();
        let first = lines("web is 172.18.0.2");
        assert!(match_output(&first, "web is 172.18.0.3", &mut page).is_match());
        let again = lines("ping 172.18.0.2");
        assert!(match_output(&again, "ping 172.18.0.3", &mut page).is_match());
        assert_eq!(
            match_output(&again, "ping 172.18.0.4", &mut page),
            Match::Mismatch {
                conflict: Some(Conflict::Split {
                    class: Class::Ipv4,
                    page: "172.18.0.2".into(),
                    before: "172.18.0.3".into(),
                    now: "172.18.0.4".into(),
                })
            }
        );
    }

    #[test]
    fn two_page_values_are_two_run_values() {
        // The page shows two containers with two addresses: the run must not show one address for both.
        let mut page = Bindings::new();
        assert!(match_output(&lines("web 172.18.0.2"), "web 172.18.0.3", &mut page).is_match());
        let verdict = match_output(&lines("db 172.18.0.4"), "db 172.18.0.3", &mut page);
        assert_eq!(
            verdict,
            Match::Mismatch {
                conflict: Some(Conflict::Merged {
                    class: Class::Ipv4,
                    run: "172.18.0.3".into(),
                    before: "172.18.0.2".into(),
                    now: "172.18.0.4".into(),
                })
            }
        );
        insta::assert_snapshot!(
            match verdict { Match::Mismatch { conflict: Some(c) } => c.to_string(), _ => String::new() },
            @"the page shows 172.18.0.2 and 172.18.0.4 as different addresses, but the run showed 172.18.0.3 for both"
        );
        // Within one block too.
        assert!(!matches("172.18.0.2 172.18.0.4", "172.18.0.3 172.18.0.3"));
        assert!(!matches("172.18.0.2 172.18.0.2", "172.18.0.3 172.18.0.4"));
    }

    #[test]
    fn bindings_are_only_committed_on_success() {
        // A failed block must not pin values for the blocks after it.
        let mut page = Bindings::new();
        let block = lines("a 172.18.0.2\nb");
        assert!(!match_output(&block, "a 172.18.0.9\nc", &mut page).is_match());
        assert!(match_output(&lines("172.18.0.2"), "172.18.0.3", &mut page).is_match());
    }

    #[test]
    fn any_lines_backtracks_bindings() {
        // The first candidate line for the pattern after `...` binds badly; a later one fits.
        let mut page = Bindings::new();
        assert!(match_output(&lines("x 172.18.0.2"), "x 172.18.0.3", &mut page).is_match());
        let block = lines("...\nreply from 172.18.0.2\nend");
        let run = "reply from 172.18.0.7\nreply from 172.18.0.3\nend\n";
        assert!(match_output(&block, run, &mut page).is_match());
    }

    #[test]
    fn written_placeholders_bind_like_values() {
        // An author may write `[IP1]` where the value does not matter but its equalities do.
        let mut page = Bindings::new();
        let block = lines("[IP1] talks to [IP2]\n[IP1] [ID1] [TIME]");
        let run = "172.18.0.3 talks to 172.18.0.4\n172.18.0.3 3f4e5a6b7c8d 12ms";
        assert!(match_output(&block, run, &mut page).is_match());
        let wrong = "172.18.0.3 talks to 172.18.0.4\n172.18.0.4 3f4e5a6b7c8d 12ms";
        assert!(!match_output(&block, wrong, &mut Bindings::new()).is_match());
    }

    #[test]
    fn run_placeholders_stand_for_values() {
        // Replay compares a page with a redacted snapshot, which holds placeholders instead of values.
        assert!(matches(
            "web 172.18.0.2 up 3 seconds",
            "web [IP1] up [TIME]"
        ));
        assert!(!matches("web 172.18.0.2", "web [MAC1]"));
    }

    #[test]
    fn diff_shows_only_real_differences() {
        // Lines matched through wildcards and bindings are context, not changes.
        let page = lines(
            "PING web (172.18.0.2): 56 data bytes\n...\n--- web ping statistics ---\n3 packets transmitted, 3 packets received, 0% packet loss",
        );
        let run = "PING web (172.18.0.5): 56 data bytes\n\
                   64 bytes from 172.18.0.5: seq=0 ttl=64 time=0.061 ms\n\
                   64 bytes from 172.18.0.5: seq=1 ttl=64 time=0.070 ms\n\
                   --- web ping statistics ---\n\
                   3 packets transmitted, 2 packets received, 33% packet loss\n";
        insta::assert_snapshot!(diff(&page, run, false), @"
        @@ -2,4 +2,4 @@
         64 bytes from 172.18.0.5: seq=0 ttl=64 time=0.061 ms
         64 bytes from 172.18.0.5: seq=1 ttl=64 time=0.070 ms
         --- web ping statistics ---
        -3 packets transmitted, 3 packets received, 0% packet loss
        +3 packets transmitted, 2 packets received, 33% packet loss
        ");
    }

    #[test]
    fn diff_of_extra_and_missing_lines() {
        // The classic case: a line the page shows is gone, a new one appeared.
        let page = lines("NETWORK ID     NAME      DRIVER    SCOPE\n3f4e5a6b7c8d   bridge    bridge    local\n[..]   c2c       bridge    local\n[..]   host      host      local");
        let run = "NETWORK ID     NAME      DRIVER    SCOPE\n9a8b7c6d5e4f   bridge    bridge    local\n1a2b3c4d5e6f   host      host      local\n0a1b2c3d4e5f   none      null      local\n";
        insta::assert_snapshot!(diff(&page, run, false), @"
        @@ -1,4 +1,4 @@
         NETWORK ID     NAME      DRIVER    SCOPE
         9a8b7c6d5e4f   bridge    bridge    local
        -[..]   c2c       bridge    local
         1a2b3c4d5e6f   host      host      local
        +0a1b2c3d4e5f   none      null      local
        ");
    }

    #[test]
    fn diff_is_empty_when_lines_match() {
        // Nothing to show when only a binding conflict failed the block; the Conflict says it.
        assert_eq!(
            diff(&lines("a 172.18.0.2\n..."), "a 172.18.0.9\nb\n", false),
            ""
        );
    }

    #[test]
    fn diff_colors_on_request() {
        // Terminals get red and green; files and CI logs without a terminal get plain text.
        let colored = diff(&lines("a"), "b", true);
        assert!(colored.contains("\x1b[31m-a\x1b[39m"), "{colored:?}");
        assert!(colored.contains("\x1b[32m+b\x1b[39m"), "{colored:?}");
        assert!(!diff(&lines("a"), "b", false).contains('\x1b'));
    }
}
