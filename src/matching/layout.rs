//! Layout a reader does not read as content, taken out of both sides the same way before lines are
//! compared: the padding of tables and the width of progress bars. What the matcher compares is a form of
//! each line, one form per line; the diff, `--update` and the published output still show the lines.
//!
//! **Tables.** Docker prints tables through Go's tabwriter: a header of upper-case column names, then rows,
//! every cell padded to its column's width plus three spaces. Widths follow the longest cell, and a page
//! written on another engine (Docker 17 padded every column to at least 20) shows other widths for the same
//! cells. A table's lines are compared cell by cell, cells joined by [`CELL`]: each side's rows are cut
//! where its own header's columns start, so an empty cell (no PORTS) is a cell, the cells after it stay in
//! their columns, and a long cell followed by a single space still ends where its column does.
//!
//! Cutting by position needs the positions the engine printed. A redacted snapshot (`[ID1]` where the
//! engine printed twelve characters) shifts what follows, and so does a page that writes `[..]` or a
//! placeholder in a row. Such a table is compared as the sequence of its non-empty cells, which runs of two
//! or more spaces separate (tabwriter always leaves three). That is less strict about which column an empty
//! cell was in, never stricter: what matches by position matches as a sequence, so replaying a snapshot
//! accepts what the live run accepted.
//!
//! **Progress bars.** busybox `wget` draws `|*****     |` as wide as the terminal minus 49 columns, GNU
//! `wget` `[====>    ]` and `curl -#` a row of `#` as wide as the terminal too. A bar's form keeps its
//! state, not its width: `|*|` full, `|* |` partly filled, `| |` empty; the percentage next to it stays
//! as printed, so a bar at 50% still differs from one at 100%.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{has_any_text, is_any_lines};
use crate::redact;

/// Between the cells of a table line's form. A control character: [`redact::normalize`] drops them from
/// both sides, so no output holds one, and to the line rules it is text that only matches itself.
pub(super) const CELL: char = '\u{1f}';

/// The forms of the page's and the run's lines, one per line, or `None` when no line has a layout to take
/// out (the common case, found without allocating).
pub(super) fn forms(page: &[String], run: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let page_tables = tables(page);
    // The run's tables matter only opposite the page's: without a header on the page there is nothing to
    // compare cell by cell.
    let run_tables = if page_tables.is_empty() {
        Vec::new()
    } else {
        tables(run)
    };
    // Tables pair up in order; when the two sides do not hold as many, which goes with which is a guess,
    // and lines are compared as they are.
    let paired = !page_tables.is_empty() && page_tables.len() == run_tables.len();
    let bars = page.iter().chain(run).any(|l| bar_form(l).is_some());
    if !paired && !bars {
        return None;
    }
    let mut page_form = page.to_vec();
    let mut run_form = run.to_vec();
    for line in page_form.iter_mut().chain(run_form.iter_mut()) {
        if let Some(form) = bar_form(line) {
            *line = form;
        }
    }
    if paired {
        for (p, r) in page_tables.iter().zip(&run_tables) {
            let by_position = p.by_position(page) && r.by_position(run);
            p.write(page, &mut page_form, by_position);
            r.write(run, &mut run_form, by_position);
        }
    }
    Some((page_form, run_form))
}

/// A table in a list of lines: its header's column starts (in characters) and the lines of its rows.
#[derive(Debug)]
struct Table {
    header: usize,
    columns: Vec<usize>,
    /// The lines after the header up to a blank line or the end, `...` lines left out.
    rows: Vec<usize>,
}

impl Table {
    /// Whether every line of the table sits where the engine printed it, so that positions are cells.
    fn by_position(&self, lines: &[String]) -> bool {
        self.rows.iter().all(|&i| {
            let line = &lines[i];
            !redact::holds_placeholder(line)
                && !has_any_text(line)
                && cut(line, &self.columns).is_some()
        })
    }

    fn write(&self, lines: &[String], forms: &mut [String], by_position: bool) {
        let sep = CELL.to_string();
        for &i in std::iter::once(&self.header).chain(&self.rows) {
            let line = &lines[i];
            let cells = match cut(line, &self.columns) {
                Some(cells) if by_position => cells,
                _ => sequence(line, &self.columns),
            };
            forms[i] = cells.join(&sep);
        }
    }
}

/// The tables of some lines: each starts at a header line outside an earlier table.
fn tables(lines: &[String]) -> Vec<Table> {
    let mut tables = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some(columns) = header_columns(&lines[i]) else {
            i += 1;
            continue;
        };
        let header = i;
        let mut rows = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].trim().is_empty() {
            if !is_any_lines(&lines[i]) {
                rows.push(i);
            }
            i += 1;
        }
        tables.push(Table {
            header,
            columns,
            rows,
        });
    }
    tables
}

/// Where the columns of a table header start, in characters: a line of two or more upper-case names
/// (`NETWORK ID`, `CPU %`) separated by runs of two or more spaces, starting at its first column. Docker's
/// tables, Podman's and `ps`'s look like that; prose, logs and data rows have lower-case letters or values.
fn header_columns(line: &str) -> Option<Vec<usize>> {
    // The cheap tests first: most lines have no double space at all.
    if !line.contains("  ") || line.starts_with(' ') {
        return None;
    }
    let names = runs(line);
    let upper = |name: &str| {
        name.bytes().any(|b| b.is_ascii_uppercase()) && !name.chars().any(char::is_lowercase)
    };
    if names.len() < 2 || !names.iter().all(|(_, name)| upper(name)) {
        return None;
    }
    // `[IP1]   [MAC1]` in a redacted snapshot is a row, whatever its letters; so is `02:42:AC:11:00:02`.
    if !redact::volatile_spans(line).is_empty() {
        return None;
    }
    Some(names.into_iter().map(|(start, _)| start).collect())
}

/// The cells of a line cut where the columns start, trimmed; `None` when a cut would go through a word
/// (the line does not sit in these columns).
fn cut<'a>(line: &'a str, columns: &[usize]) -> Option<Vec<&'a str>> {
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let byte = |c: usize| chars.get(c).map_or(line.len(), |&(b, _)| b);
    let is_space = |c: usize| chars.get(c).is_some_and(|&(_, ch)| ch == ' ');
    let mut cells = Vec::with_capacity(columns.len());
    for (i, &start) in columns.iter().enumerate() {
        let start = if i == 0 { 0 } else { start };
        if start > 0 && start < chars.len() && !is_space(start - 1) && !is_space(start) {
            return None;
        }
        let end = columns.get(i + 1).map_or(line.len(), |&next| byte(next));
        cells.push(line[byte(start).min(end)..end].trim());
    }
    Some(cells)
}

/// The non-empty cells of a line, in order: cut by the columns where it sits in them, else where runs of
/// two or more spaces are. A cell holding such a run (two words in one column) counts as two either way,
/// so a line gives the same cells by position and by runs.
fn sequence<'a>(line: &'a str, columns: &[usize]) -> Vec<&'a str> {
    if !redact::holds_placeholder(line) && !has_any_text(line) {
        if let Some(cells) = cut(line, columns) {
            return cells
                .into_iter()
                .flat_map(|cell| runs(cell).into_iter().map(|(_, text)| text))
                .collect();
        }
    }
    runs(line).into_iter().map(|(_, text)| text).collect()
}

/// The pieces of a line between runs of two or more spaces, with the character each starts at.
fn runs(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start: Option<(usize, usize)> = None; // (char, byte) where the current piece starts
    let mut spaces = 0;
    let mut end = 0; // byte after the current piece's last non-space
    for (c, (b, ch)) in line.char_indices().enumerate() {
        if ch == ' ' {
            spaces += 1;
            continue;
        }
        match start {
            Some((first, from)) if spaces >= 2 => {
                out.push((first, &line[from..end]));
                start = Some((c, b));
            }
            None => start = Some((c, b)),
            Some(_) => {}
        }
        spaces = 0;
        end = b + ch.len_utf8();
    }
    if let Some((c, from)) = start {
        out.push((c, &line[from..end]));
    }
    out
}

static BUSYBOX_BAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d%) \|(\**)( *)\|").expect("bar pattern"));
static WGET_BAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d%)\[(=*)(>?)( *)\]").expect("bar pattern"));
static CURL_BAR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^#+( +\d+(?:\.\d+)?%)$").expect("bar pattern"));

/// A line's form with its progress bar drawn at one width, or `None` when it holds no bar. Only a bar
/// next to its percentage counts: `| |` or `[==]` elsewhere is text.
fn bar_form(line: &str) -> Option<String> {
    if !line.contains('%') {
        return None;
    }
    let mark = |caps: &Captures<'_>, group: usize, mark: &str| {
        if caps.get(group).is_some_and(|m| !m.is_empty()) {
            mark.to_string()
        } else {
            String::new()
        }
    };
    if BUSYBOX_BAR.is_match(line) {
        let form = BUSYBOX_BAR.replace(line, |caps: &Captures<'_>| {
            format!(
                "{} |{}{}|",
                &caps[1],
                mark(caps, 2, "*"),
                mark(caps, 3, " ")
            )
        });
        return Some(form.into_owned());
    }
    if WGET_BAR.is_match(line) {
        let form = WGET_BAR.replace(line, |caps: &Captures<'_>| {
            let (fill, head, rest) = (mark(caps, 2, "="), mark(caps, 3, ">"), mark(caps, 4, " "));
            format!("{}[{fill}{head}{rest}]", &caps[1])
        });
        return Some(form.into_owned());
    }
    if CURL_BAR.is_match(line) {
        return Some(CURL_BAR.replace(line, "#$1").into_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    fn form(page: &str, run: &str) -> (Vec<String>, Vec<String>) {
        forms(&owned(page), &owned(run)).expect("a layout to take out")
    }

    // Docker's column names make a header; prose, data rows and values do not.
    #[test]
    fn headers_are_upper_case_names_in_columns() {
        assert_eq!(
            header_columns("NETWORK ID     NAME      DRIVER    SCOPE"),
            Some(vec![0, 15, 25, 35])
        );
        assert_eq!(
            header_columns("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT"),
            Some(vec![0, 15, 25, 35])
        );
        assert_eq!(header_columns("NAME DRIVER"), None);
        assert_eq!(header_columns("Filesystem  Size  Used"), None);
        assert_eq!(header_columns("  PID USER     TIME"), None);
        assert_eq!(header_columns("[IP1]   [MAC1]"), None);
        assert_eq!(header_columns("02:42:AC:11:00:02   UP"), None);
    }

    // A cut through a word means the line does not sit in the header's columns.
    #[test]
    fn rows_are_cut_where_columns_start() {
        let columns = [0, 15, 25];
        assert_eq!(
            cut("3f4e5a6b7c8d   bridge    local", &columns),
            Some(vec!["3f4e5a6b7c8d", "bridge", "local"])
        );
        // An empty cell is a cell, a long one followed by one space still ends at its column.
        assert_eq!(
            cut("3f4e5a6b7c8d             local", &columns),
            Some(vec!["3f4e5a6b7c8d", "", "local"])
        );
        assert_eq!(
            cut("a-very-long-id bridge    local", &columns),
            Some(vec!["a-very-long-id", "bridge", "local"])
        );
        assert_eq!(cut("a-very-long-name   local", &columns), None);
        // Characters, not bytes: tabwriter counts `…` as one.
        assert_eq!(
            cut("\"nginx -g…\"    up        x", &columns),
            Some(vec!["\"nginx -g…\"", "up", "x"])
        );
        assert_eq!(runs("  a b   c  d "), [(2, "a b"), (8, "c"), (11, "d")]);
    }

    // Same cells at other widths give the same forms; an empty cell keeps the columns after it in place.
    #[test]
    fn tables_become_cells_on_both_sides() {
        let page = "NETWORK ID          NAME                DRIVER              SCOPE\n\
                    17e324f45964        bridge              bridge              local";
        let run =
            "NETWORK ID     NAME      DRIVER    SCOPE\n9a8b7c6d5e4f   bridge    bridge    local";
        let (p, r) = form(page, run);
        assert_eq!(p[0], r[0]);
        assert_eq!(p[1], "17e324f45964\u{1f}bridge\u{1f}bridge\u{1f}local");
        assert_eq!(r[1], "9a8b7c6d5e4f\u{1f}bridge\u{1f}bridge\u{1f}local");
        // PORTS empty on the page, NAMES empty in the run: the same words, not the same cells.
        let (p, r) = form(
            "STATUS         PORTS     NAMES\nUp 2 seconds             web",
            "STATUS         PORTS     NAMES\nUp 2 seconds   web\n",
        );
        assert_eq!(p[1], "Up 2 seconds\u{1f}\u{1f}web");
        assert_eq!(r[1], "Up 2 seconds\u{1f}web\u{1f}");
    }

    // A redacted row has lost its positions: both tables are read as sequences of non-empty cells.
    #[test]
    fn shifted_tables_become_sequences_of_cells() {
        let page = "CONTAINER ID        STATUS              PORTS               NAMES\n\
                    da33b7aa74b0        Up 16 seconds                           alpine1";
        let run =
            "CONTAINER ID   STATUS          PORTS     NAMES\n[ID1]   Up [TIME]             alpine1";
        let (p, r) = form(page, run);
        assert_eq!(p[1], "da33b7aa74b0\u{1f}Up 16 seconds\u{1f}alpine1");
        assert_eq!(r[1], "[ID1]\u{1f}Up [TIME]\u{1f}alpine1");
        // So does a page row written with a wildcard; `...` rows are left to the line matcher.
        let (p, _) = form(
            "NAME      DRIVER\n...\n[..]   bridge",
            "NAME   DRIVER\nnone   null\nc2c    bridge",
        );
        assert_eq!(p, ["NAME\u{1f}DRIVER", "...", "[..]\u{1f}bridge"]);
    }

    // Lines with no table and no bar are compared as they are, and nothing is copied for them.
    #[test]
    fn plain_output_has_no_forms() {
        assert_eq!(
            forms(&owned("PING web (172.18.0.2)\nok  fine"), &owned("x")),
            None
        );
        // A header on one side only pairs with nothing.
        assert_eq!(
            forms(&owned("NAME   DRIVER\nweb    bridge"), &owned("Error")),
            None
        );
    }

    // A bar's form keeps its state and drops its width; the percentage stays.
    #[test]
    fn progress_bars_lose_their_width() {
        let at = |line: &str| bar_form(line).expect("a bar");
        let narrow =
            "index.html           100% |*******************************|   615  0:00:00 ETA";
        let wide = "index.html           100% |***********************************************************************|   615  0:00:00 ETA";
        assert_eq!(at(narrow), at(wide));
        assert_eq!(
            at(narrow),
            "index.html           100% |*|   615  0:00:00 ETA"
        );
        assert_eq!(
            at("index.html            50% |***************                |   307  0:00:01 ETA"),
            "index.html            50% |* |   307  0:00:01 ETA"
        );
        assert_eq!(
            at("index.html             0% |                               |     0  --:--:-- ETA"),
            "index.html             0% | |     0  --:--:-- ETA"
        );
        assert_eq!(
            at("index.html          100%[===================>]     615  --.-KB/s    in 0s"),
            "index.html          100%[=>]     615  --.-KB/s    in 0s"
        );
        assert_eq!(
            at("######################################################################## 100.0%"),
            "# 100.0%"
        );
        // Bars need their percentage.
        assert_eq!(bar_form("| |  |**|"), None);
        assert_eq!(bar_form("50% done [ok]"), None);
    }
}
