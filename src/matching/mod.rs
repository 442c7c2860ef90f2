//! The one place that decides whether output matches: expected output (with `...` and `[..]`) against what
//! really ran, through consistent redaction, for the runner, `--update` and the preprocessor alike.
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
//!
//! Inside: `pattern` compiles expected lines into regexes and matches a whole output with backtracking
//! over `...`; `pieces` compares a line without `[..]` piece by piece, which gives the same verdict without
//! compiling anything and is how most lines are matched; `align` lines expected lines up with real ones
//! for the diff, for `--update` and for showing real output where a page wrote a wildcard.

mod align;
mod pattern;
mod pieces;

use std::collections::HashMap;
use std::fmt;

use crate::redact::{self, Class};
use crate::snippet::Step;

pub use align::diff;
pub(crate) use align::{line_up, rewrite, Piece};
pub(crate) use pieces::value_pairs;

/// A line holding only this matches any number of lines, none included.
const ANY_LINES: &str = "...";
/// This within a line matches any text, none included.
const ANY_TEXT: &str = "[..]";

/// Whether an expected line is `...`.
pub(crate) fn is_any_lines(line: &str) -> bool {
    line.trim() == ANY_LINES
}

/// Whether an expected line holds `[..]`.
pub(crate) fn has_any_text(line: &str) -> bool {
    line.contains(ANY_TEXT)
}

/// Whether the expected lines use a wildcard (`...` or `[..]`).
pub(crate) fn has_wildcards(expected: &[String]) -> bool {
    expected.iter().any(|l| is_any_lines(l) || has_any_text(l))
}

/// The lines of an output as the matcher sees them: normalized (see [`redact::normalize`]), leading and
/// trailing blank lines dropped (layout on a page, so layout in a run too).
pub(crate) fn output_lines(actual: &str) -> Vec<String> {
    let normalized = redact::normalize(actual);
    without_blank_ends(normalized.lines().map(str::to_owned).collect())
}

/// The expected lines as the matcher sees them: normalized one by one, leading and trailing blank lines
/// dropped.
fn expected_lines(expected: &[String]) -> Vec<String> {
    without_blank_ends(
        expected
            .iter()
            .map(|l| redact::normalize(l).trim_end_matches('\n').to_string())
            .collect(),
    )
}

fn without_blank_ends(mut lines: Vec<String>) -> Vec<String> {
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let leading = lines.iter().take_while(|l| l.is_empty()).count();
    lines.drain(..leading);
    lines
}

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

    fn bind(&mut self, class: Class, page: &str, run: &str) -> Result<(), Conflict> {
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
    // Compiling a pattern per line is most of what replaying a big book costs: output without wildcards
    // that lines up line for line is compared piece by piece first, with the same verdict.
    if !has_wildcards(expected) && pieces::match_lines(expected, actual, bindings) {
        return Match::Matched;
    }
    pattern::match_output(expected, actual, bindings)
}

/// Whether one expected line matches one actual line on its own (wildcards and volatile values as the
/// matcher reads them, no page bindings): the equality lines are aligned by.
fn line_matches(expected: &str, actual: &str) -> bool {
    if has_any_text(expected) {
        return pattern::line_matches(expected, actual);
    }
    let expected = redact::normalize(expected);
    pieces::binds(
        expected.trim_end_matches('\n'),
        actual.trim_end(),
        &mut Bindings::new(),
    )
}

/// A step's output that does not match the page: the diff to show, and a binding conflict the diff cannot
/// show.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutputMismatch {
    pub diff: String,
    pub conflict: Option<Conflict>,
}

/// The page's verdict on one step, for the runner (a live run) and the preprocessor (a snapshot) alike.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepVerdict {
    /// `None` when the output matches what the page shows (or the page shows none).
    pub output: Option<OutputMismatch>,
    /// Whether the exit status agrees with the page's claim (or is not checked).
    pub status_agrees: bool,
}

/// Judges one step: its output (extending the page's bindings when it matches) and its exit status
/// (`None`: the command never returned one, which agrees with no claim). `color` colors the diff.
pub(crate) fn judge_step(
    step: &Step,
    output: &str,
    status: Option<i32>,
    bindings: &mut Bindings,
    color: bool,
) -> StepVerdict {
    let output = match match_output(&step.expected, output, bindings) {
        Match::Matched => None,
        Match::Mismatch { conflict } => Some(OutputMismatch {
            diff: diff(&step.expected, output, color),
            conflict,
        }),
    };
    let status_agrees =
        !step.status_checked() || status.is_some_and(|code| step.status.admits(code));
    StepVerdict {
        output,
        status_agrees,
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
    fn blank_lines_at_either_end_are_layout() {
        // A page puts blank lines around output for the eye; a run may print one first. Neither is output.
        assert!(matches("\nNAME\nweb\n", "NAME\nweb\n"));
        assert!(matches("NAME\nweb", "\n\nNAME\nweb\n\n"));
        assert!(!matches("NAME\n\nweb", "NAME\nweb\n"));
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
