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
//! Inside: `layout` takes out of both sides what a reader does not read as content (a table's padding, a
//! progress bar's width), so lines are compared in those forms; `pattern` matches an expected line piece
//! by piece (literal text, `[..]`, values paired with the run's) and a whole output with backtracking over
//! `...`; `json` matches JSON the page shows as a subset of the run's; `align` lines expected lines up
//! with real ones for the diff, for `--update` and for showing real output where a page wrote a wildcard.

mod align;
#[cfg(test)]
mod fixtures;
mod json;
mod layout;
#[cfg(test)]
mod oracle;
mod pattern;

use std::collections::HashMap;
use std::fmt;

use crate::redact::{self, Class};
use crate::snippet::{Json, Step};

pub use align::{diff, snapshot_diff};
pub(crate) use align::{line_up, rewrite, Piece};
pub(crate) use pattern::value_pairs;

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

/// Both sides of a comparison as the matcher sees them: the lines, and their compared forms when a layout
/// was taken out of them (see `layout`).
struct Lines {
    page: Vec<String>,
    run: Vec<String>,
    forms: Option<(Vec<String>, Vec<String>)>,
}

impl Lines {
    fn new(expected: &[String], actual: &str) -> Self {
        let page = expected_lines(expected);
        let run = output_lines(actual);
        let forms = layout::forms(&page, &run);
        Lines { page, run, forms }
    }

    fn forms(&self) -> (&[String], &[String]) {
        self.forms
            .as_ref()
            .map_or((&self.page, &self.run), |(p, r)| (p, r))
    }
}

/// Which run value each page value stands for, per class, across a whole page. It is a bijection: one
/// page value ran as one value, and one run value was shown as one page value.
#[derive(Debug, Default, Clone)]
#[cfg_attr(test, derive(PartialEq))]
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
        Class::Ifindex => "interface indexes",
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
        Class::Ifindex => "interface index",
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
/// (`Up 2 seconds` / `Up About a minute`). Tables are compared cell by cell and progress bars whatever
/// their width (see `layout`); JSON the page shows matches the run's JSON as a subset (see `json`).
pub fn match_output(expected: &[String], actual: &str, bindings: &mut Bindings) -> Match {
    match_as(expected, Json::Subset, actual, bindings)
}

/// [`match_output`] with the step's own choices (`json=exact`), for the runner, the preprocessor and
/// `--update` alike.
pub(crate) fn match_step(step: &Step, actual: &str, bindings: &mut Bindings) -> Match {
    match_as(&step.expected, step.json, actual, bindings)
}

fn match_as(expected: &[String], json: Json, actual: &str, bindings: &mut Bindings) -> Match {
    if expected.is_empty() {
        return Match::Matched;
    }
    let lines = Lines::new(expected, actual);
    let (page_form, run_form) = lines.forms();
    // Output without wildcards that matches line for line needs no JSON parsing, which would be most of
    // the work of checking it.
    if !has_wildcards(page_form)
        && page_form.len() == run_form.len()
        && pattern::match_lines(page_form, run_form, bindings).is_match()
    {
        return Match::Matched;
    }
    // JSON laid out otherwise (other keys, another order) still matches as JSON; lines that match as lines
    // need no parsing.
    let mut json_conflict = None;
    if let Some((page_json, run_json)) = json::parse_both(&lines.page, &lines.run) {
        match json::matches(&page_json, &run_json, json, bindings) {
            Ok(()) => return Match::Matched,
            Err(conflict) => json_conflict = conflict,
        }
    }
    match pattern::match_lines(page_form, run_form, bindings) {
        Match::Matched => Match::Matched,
        Match::Mismatch { conflict } => Match::Mismatch {
            conflict: json_conflict.or(conflict),
        },
    }
}

/// Whether one expected line matches one actual line on its own (wildcards and volatile values as the
/// matcher reads them, no page bindings): the equality lines are aligned by. Both are lines as the
/// matcher sees them (normalized, in their compared forms).
fn line_matches(expected: &str, actual: &str) -> bool {
    pattern::line_matches(expected, actual)
}

/// Matches one page text against one run text on their own (a JSON string, a table cell), binding their
/// values: the line rules, for text that is not a line.
fn bind_text(page: &str, run: &str, bindings: &mut Bindings) -> Result<(), Option<Conflict>> {
    pattern::bind_line(page, run, bindings)
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
    let output = match match_step(step, output, bindings) {
        Match::Matched => None,
        Match::Mismatch { conflict } => Some(OutputMismatch {
            diff: align::diff_as(&step.expected, step.json, output, color),
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
    use crate::redact::Redactor;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    fn matches(expected: &str, actual: &str) -> bool {
        match_output(&lines(expected), actual, &mut Bindings::new()).is_match()
    }

    /// The one step of a block showing `expected` under a command, with the fence's attributes.
    fn step(info: &str, expected: &str) -> Step {
        let md = format!("```{info}\n$ docker network inspect bridge\n{expected}\n```\n");
        let page = crate::snippet::parse_page(std::path::Path::new("t.md"), &md).expect("a page");
        page.blocks[0].steps[0].clone()
    }

    fn diff_of(expected: &str, actual: &str) -> String {
        diff(&lines(expected), actual, false)
    }

    // Regression: a container whose short ID happened to be twelve digits failed the block, as the page's ID
    // (with letters) was not allowed to stand for it. In the page's ID's place it is an ID, and bound as one.
    #[test]
    fn a_pages_id_matches_a_short_id_of_twelve_digits() {
        let expected = "CONTAINER ID   IMAGE\n3f4e5a6b7c8d   nginx\nroot@3f4e5a6b7c8d:/#";
        let run = "CONTAINER ID   IMAGE\n123456789012   nginx\nroot@123456789012:/#\n";
        assert!(matches(expected, run));
        let other = "CONTAINER ID   IMAGE\n123456789012   nginx\nroot@123456789099:/#\n";
        assert!(!matches(expected, other));
    }

    #[test]
    fn tables_of_an_older_engine_match_todays_widths() {
        // Docker 17 padded columns to 20, today's CLI to 10: the cells are what the page shows.
        assert!(matches(fixtures::NETWORK_LS_17, fixtures::NETWORK_LS_NOW));
        assert!(matches(
            fixtures::CONTAINER_LS_17,
            fixtures::CONTAINER_LS_NOW
        ));
        // One page across blocks: the short IDs `container ls` showed are the ones bound.
        let mut page = Bindings::new();
        let ls = lines(fixtures::CONTAINER_LS_17);
        assert!(match_output(&ls, fixtures::CONTAINER_LS_NOW, &mut page).is_match());
        let swapped = fixtures::CONTAINER_LS_NOW
            .replace("b8e2a6c0f4d7", "TMP")
            .replace("5d9f1b3e7a2c", "b8e2a6c0f4d7")
            .replace("TMP", "5d9f1b3e7a2c");
        assert!(!match_output(&ls, &swapped, &mut page).is_match());
    }

    #[test]
    fn a_wrong_cell_fails_and_the_diff_shows_its_row() {
        // Cells are compared with the usual rules: a container that exited is not one that is up.
        let run =
            fixtures::CONTAINER_LS_NOW.replace("Up About a minute", "Exited (1) 3 seconds ago");
        assert!(!matches(fixtures::CONTAINER_LS_17, &run));
        let run = fixtures::NETWORK_LS_NOW
            .replace("none      null      local", "none      bridge    local");
        assert!(!matches(fixtures::NETWORK_LS_17, &run));
        insta::assert_snapshot!(diff_of(fixtures::NETWORK_LS_17, &run), @r"
        @@ -1,4 +1,4 @@
         NETWORK ID     NAME      DRIVER    SCOPE
         a1b2c3d4e5f6   bridge    bridge    local
         6f5e4d3c2b1a   host      host      local
        -0f3a6b9c2e51        none                null                local
        +9e8d7c6b5a43   none      bridge    local
        ");
    }

    #[test]
    fn a_cell_followed_by_one_space_ends_at_its_column() {
        // A page whose widest cell left a single space before the next column (a tool padding by one, or an
        // author who narrowed the table to fit) failed line by line: one space on the page is one space.
        let page = "NAME    DRIVER   SCOPE\nbackend bridge   local";
        let run = "NAME      DRIVER    SCOPE\nbackend   bridge    local\n";
        assert!(matches(page, run));
        assert!(!matches(
            page,
            "NAME      DRIVER    SCOPE\nbackend   null      local\n"
        ));
        // And the other way round, as before.
        assert!(matches(run, page));
    }

    #[test]
    fn an_empty_cell_is_a_cell() {
        // The same words in other columns are other cells: line by line, `web +prod` matched both rows.
        let page = "NAMES     ENV       TIER\nweb       prod";
        assert!(matches(page, "NAMES   ENV    TIER\nweb     prod\n"));
        assert!(!matches(page, "NAMES   ENV    TIER\nweb            prod\n"));
        // An empty PORTS cell matches an empty one, not a published port.
        let run = fixtures::CONTAINER_LS_NOW.replace(
            "Up About a minute                 alpine1",
            "Up About a minute       80/tcp    alpine1",
        );
        assert!(!matches(fixtures::CONTAINER_LS_17, &run));
    }

    #[test]
    fn replayed_tables_match_what_the_live_run_matched() {
        // A snapshot holds `[ID1]` where the engine printed twelve characters: its columns no longer line
        // up, and the preprocessor must still accept what the run accepted.
        for (page, run) in [
            (fixtures::NETWORK_LS_17, fixtures::NETWORK_LS_NOW),
            (fixtures::CONTAINER_LS_17, fixtures::CONTAINER_LS_NOW),
            (
                "NAME    DRIVER   SCOPE\nbackend bridge   local",
                "NAME      DRIVER    SCOPE\nbackend   bridge    local\n",
            ),
        ] {
            let redacted = Redactor::new().redact(&redact::normalize(run));
            assert!(matches(page, run), "{run}");
            assert!(matches(page, &redacted), "{redacted}");
        }
        // A wrong cell is still wrong in the snapshot.
        let wrong = fixtures::NETWORK_LS_NOW
            .replace("none      null      local", "none      bridge    local");
        let redacted = Redactor::new().redact(&redact::normalize(&wrong));
        assert!(!matches(fixtures::NETWORK_LS_17, &redacted));
    }

    #[test]
    fn table_rows_keep_their_wildcards() {
        // `...` skips rows and `[..]` stands for a cell or more, as on any line.
        let page = "NETWORK ID          NAME                DRIVER              SCOPE\n\
                    [..]                bridge              bridge              local\n\
                    ...";
        assert!(matches(page, fixtures::NETWORK_LS_NOW));
        assert!(matches(
            "NETWORK ID   NAME   DRIVER   SCOPE\n...\n[..]   local",
            fixtures::NETWORK_LS_NOW
        ));
        assert!(!matches(
            "NETWORK ID   NAME   DRIVER   SCOPE\n...\n[..]   global",
            fixtures::NETWORK_LS_NOW
        ));
    }

    #[test]
    fn json_matches_as_a_subset() {
        // A newer engine adds keys and sorts containers by IDs that sort another way.
        assert!(matches(
            fixtures::NETWORK_INSPECT_17,
            fixtures::NETWORK_INSPECT_NOW
        ));
        // Every key the page shows must be there, with a matching value.
        let missing =
            fixtures::NETWORK_INSPECT_NOW.replace("            \"Gateway\": \"172.17.0.1\"\n", "");
        let missing = missing.replace(
            "\"Subnet\": \"172.17.0.0/16\",",
            "\"Subnet\": \"172.17.0.0/16\"",
        );
        assert!(!matches(fixtures::NETWORK_INSPECT_17, &missing));
        let masquerade = fixtures::NETWORK_INSPECT_NOW.replace(
            "enable_ip_masquerade\": \"true\"",
            "enable_ip_masquerade\": \"false\"",
        );
        assert!(!matches(fixtures::NETWORK_INSPECT_17, &masquerade));
        // Containers pair up by what they hold, not by where they are.
        let renamed = fixtures::NETWORK_INSPECT_NOW.replace("alpine2", "alpine3");
        assert!(!matches(fixtures::NETWORK_INSPECT_17, &renamed));
        // Key order never matters, array order does.
        assert!(matches(
            r#"{"b": 1, "a": [1, 2]}"#,
            r#"{"a":[1,2],"c":3,"b":1}"#
        ));
        assert!(!matches(r#"{"a": [1, 2]}"#, r#"{"a":[2,1]}"#));
        assert!(!matches(r#"{"a": [1, 2]}"#, r#"{"a":[1,2,3]}"#));
        assert!(!matches(r#"{"a": 1}"#, r#"{"a":"1"}"#));
    }

    #[test]
    fn json_values_bind_like_any_value() {
        // The inspect's long IDs are the short ones `container ls` showed; its addresses are the page's.
        let mut page = Bindings::new();
        let ls = lines(fixtures::CONTAINER_LS_17);
        assert!(match_output(&ls, fixtures::CONTAINER_LS_NOW, &mut page).is_match());
        let inspect = lines(fixtures::NETWORK_INSPECT_17);
        assert!(
            match_output(&inspect, fixtures::NETWORK_INSPECT_NOW, &mut page.clone()).is_match()
        );
        // Had `container ls` shown alpine2's ID for alpine1, the inspect would contradict it.
        let mut other = Bindings::new();
        let swapped = fixtures::CONTAINER_LS_NOW
            .replace("b8e2a6c0f4d7", "TMP")
            .replace("5d9f1b3e7a2c", "b8e2a6c0f4d7")
            .replace("TMP", "5d9f1b3e7a2c");
        assert!(match_output(&ls, &swapped, &mut other).is_match());
        assert!(!match_output(&inspect, fixtures::NETWORK_INSPECT_NOW, &mut other).is_match());
        // The replay meets placeholders where the run had values.
        let redacted = Redactor::new().redact(&redact::normalize(fixtures::NETWORK_INSPECT_NOW));
        assert!(redacted.contains("\"[ID2]\": {"), "{redacted}");
        assert!(matches(fixtures::NETWORK_INSPECT_17, &redacted));
    }

    #[test]
    fn json_wildcards() {
        // `...` among keys or elements stands for any number of them, a bare `[..]` for any value, and
        // `[..]` in a string for any text, as on a line.
        let page = "[\n    {\n        \"Name\": \"bridge\",\n        \"Id\": [..],\n        ...\n        \"IPAM\": {\n            \"Driver\": \"def[..]\",\n            \"Config\": [\n                ...\n            ]\n        },\n        ...\n    }\n]";
        assert!(matches(page, fixtures::NETWORK_INSPECT_NOW));
        assert!(!matches(
            &page.replace("bridge", "host"),
            fixtures::NETWORK_INSPECT_NOW
        ));
        assert!(matches("[\"a\",\n...\n\"z\"]", r#"["a","b","c","z"]"#));
        assert!(matches("[\"a\",\n...\n\"z\"]", r#"["a","z"]"#));
        assert!(!matches("[\"a\",\n...\n\"z\"]", r#"["a","b","c","y"]"#));
    }

    #[test]
    fn exact_json_allows_no_added_key() {
        // `json=exact`: the page's JSON is the whole JSON, as an author asked.
        let exact = step("console,json=exact", fixtures::NETWORK_INSPECT_17);
        let verdict = judge_step(
            &exact,
            fixtures::NETWORK_INSPECT_NOW,
            Some(0),
            &mut Bindings::new(),
            false,
        );
        let mismatch = verdict.output.expect("keys were added");
        insta::assert_snapshot!(mismatch.diff, @r#"
        @@ -5,6 +5,7 @@
                 "Created": "2026-11-26T09:58:01.412338072Z"
                 "Scope": "local"
                 "Driver": "bridge"
        +        "EnableIPv4": true
                 "EnableIPv6": false
                 "IPAM": {
                     "Driver": "default"
        @@ -18,6 +19,11 @@
                 }
                 "Internal": false
                 "Attachable": false
        +        "Ingress": false
        +        "ConfigFrom": {
        +            "Network": ""
        +        }
        +        "ConfigOnly": false
                 "Containers": {
                     "b8e2a6c0f4d7c0e3aae1f2e9342a1469d23c1fdd87c47a7afa636e6edbd16370": {
                         "Name": "alpine2"
        "#);
        // The same JSON, keys in another order, is exact.
        let reordered = r#"[{"Scope":"local","Name":"bridge"}]"#;
        let exact = step(
            "console,json=exact",
            "[{\"Name\": \"bridge\", \"Scope\": \"local\"}]",
        );
        assert!(
            judge_step(&exact, reordered, Some(0), &mut Bindings::new(), false)
                .output
                .is_none()
        );
        let subset = step("console", fixtures::NETWORK_INSPECT_17);
        assert!(judge_step(
            &subset,
            fixtures::NETWORK_INSPECT_NOW,
            Some(0),
            &mut Bindings::new(),
            false
        )
        .output
        .is_none());
    }

    #[test]
    fn json_diff_shows_the_keys_that_differ() {
        // Keys the engine added are no difference; the one key that changed is.
        let run = fixtures::NETWORK_INSPECT_NOW
            .replace(
                "enable_ip_masquerade\": \"true\"",
                "enable_ip_masquerade\": \"false\"",
            )
            .replace("            \"Gateway\": \"172.17.0.1\"\n", "")
            .replace(
                "\"Subnet\": \"172.17.0.0/16\",",
                "\"Subnet\": \"172.17.0.0/16\"",
            );
        insta::assert_snapshot!(diff_of(fixtures::NETWORK_INSPECT_17, &run), @r#"
        @@ -12,7 +12,6 @@
                     "Config": [
                         {
                             "Subnet": "172.17.0.0/16"
        -                    "Gateway": "172.17.0.1"
                         }
                     ]
                 }
        @@ -37,7 +36,7 @@
                 "Options": {
                     "com.docker.network.bridge.default_bridge": "true"
                     "com.docker.network.bridge.enable_icc": "true"
        -            "com.docker.network.bridge.enable_ip_masquerade": "true"
        +            "com.docker.network.bridge.enable_ip_masquerade": "false"
                     "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0"
                     "com.docker.network.bridge.name": "docker0"
                     "com.docker.network.driver.mtu": "1500"
        "#);
    }

    #[test]
    fn output_that_only_looks_like_json_is_lines() {
        // `[..]` lines and log lines in brackets open with `[` too; they match as lines.
        assert!(matches("[..] bytes from [..]", "64 bytes from web\n"));
        assert!(matches("[notice] start [..]", "[notice] start worker\n"));
        assert!(matches("[..]", "{\"a\":1}\n"));
    }

    #[test]
    fn progress_bars_match_at_any_width() {
        // busybox draws the bar as wide as the terminal: a page from 80 columns, a run in 120.
        assert!(matches(fixtures::WGET_80, fixtures::WGET_120));
        assert!(matches(fixtures::WGET_120, fixtures::WGET_80));
        // The same download stopped halfway is another state.
        let half = "Connecting to web (172.17.0.3:80)\n\
                    index.html            50% |***********************************                                    |   307  0:00:01 ETA\n";
        assert!(!matches(fixtures::WGET_80, half));
        // A full bar with a wrong percentage, or a half bar next to 100%, is no match either.
        assert!(!matches(
            fixtures::WGET_80,
            &fixtures::WGET_120.replace("100%", " 99%")
        ));
        let half_full = fixtures::WGET_120.replace("*****|", "     |");
        assert!(!matches(fixtures::WGET_80, &half_full));
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
    fn interface_indexes_bind_like_other_values() {
        // `ip addr show` as a guide printed it matches a run with other indexes, but the page's
        // `eth0@if28` pairing must hold.
        let page = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n27: eth0@if28: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue";
        let run = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n827: eth0@if828: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue\n";
        assert!(matches(page, run));
        let same = "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue\n827: eth0@if827: <BROADCAST,MULTICAST,UP,LOWER_UP,M-DOWN> mtu 1500 qdisc noqueue\n";
        assert!(!matches(page, same));
        assert!(!matches("2: lo: <LOOPBACK>", "1: lo: <LOOPBACK>\n"));
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
    fn snapshot_diff_takes_wildcards_and_values_as_text() {
        // Regression: a changed snapshot whose stored transcript held a `...` line was reported with an
        // empty diff, the page's wildcard rules hiding the change. Snapshots compare exactly, as in insta.
        let stored = "$ echo ...\n...\n$ ip\n[IP1]";
        let new = "$ echo ...\nsomething else\n$ ip\n[IP2]";
        insta::assert_snapshot!(snapshot_diff(stored, new, false), @r"
        @@ -1,4 +1,4 @@
         $ echo ...
        -...
        +something else
         $ ip
        -[IP1]
        +[IP2]
        ");
        assert_eq!(snapshot_diff(stored, stored, false), "");
        // A new snapshot: every line added.
        assert_eq!(
            snapshot_diff("", "a\nb", false),
            "@@ -0,0 +1,2 @@\n+a\n+b\n"
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
