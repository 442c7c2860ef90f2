//! Layout a reader does not read as content, taken out of both sides the same way before lines are
//! compared: the padding of tables and the width of progress bars. What the matcher compares is a form of
//! each line, one form per line; the diff, `--update` and the published output still show the lines.
//!
//! **Tables** ([`redact::Table`]) are padded to their longest cells, and a page written on another engine
//! (Docker 17 padded every column to at least 20) shows other widths for the same cells. A table's lines are compared cell by cell, cells joined by [`CELL`]: each side's rows are cut
//! where its own header's columns start, so an empty cell (no PORTS) is a cell, the cells after it stay in
//! their columns, and a long cell followed by a single space still ends where its column does.
//!
//! Cutting by position needs the positions the engine printed. A row holding a placeholder (a snapshot's
//! `[ID1]` stands for twelve characters) or `[..]` (a page's) does not say where the engine put each
//! cell. Such a table is compared as the sequence of its non-empty cells, which runs of two or more spaces
//! separate (tabwriter always leaves three). That is less strict about which column an empty cell was
//! in, never stricter: what matches by position matches as a sequence, so replaying a snapshot accepts
//! what the live run accepted.
//!
//! **Progress bars** are as wide as the terminal they were drawn on; their form is the bar at one width
//! ([`redact::bar_at_one_width`], which also keeps snapshots steady), so a bar at 50% still differs from
//! one at 100% while widths do not count.

use super::{has_any_text, is_any_lines};
use crate::redact::{self, Table};

/// Between the cells of a table line's form. A control character: [`redact::normalize`] drops them from
/// both sides, so no output holds one, and to the line rules it is text that only matches itself.
pub(super) const CELL: char = '\u{1f}';

/// The forms of the page's and the run's lines, one per line, or `None` when no line has a layout to take
/// out (the common case, found without allocating).
pub(super) fn forms(page: &[String], run: &[String]) -> Option<(Vec<String>, Vec<String>)> {
    let page_tables = redact::tables(page);
    // The run's tables matter only opposite the page's: without a header on the page there is nothing to
    // compare cell by cell.
    let run_tables = if page_tables.is_empty() {
        Vec::new()
    } else {
        redact::tables(run)
    };
    // Tables pair up in order; when the two sides do not hold as many, which goes with which is a guess,
    // and lines are compared as they are.
    let paired = !page_tables.is_empty() && page_tables.len() == run_tables.len();
    let bars = page
        .iter()
        .chain(run)
        .any(|l| redact::bar_at_one_width(l).is_some());
    if !paired && !bars {
        return None;
    }
    let mut page_form = page.to_vec();
    let mut run_form = run.to_vec();
    for line in page_form.iter_mut().chain(run_form.iter_mut()) {
        if let Some(form) = redact::bar_at_one_width(line) {
            *line = form;
        }
    }
    if paired {
        for (p, r) in page_tables.iter().zip(&run_tables) {
            let by_position = by_position(p, page) && by_position(r, run);
            write(p, page, &mut page_form, by_position);
            write(r, run, &mut run_form, by_position);
        }
    }
    Some((page_form, run_form))
}

/// Whether every line of a table sits where the engine printed it, so that positions are cells.
fn by_position(table: &Table, lines: &[String]) -> bool {
    rows(table, lines).all(|i| {
        let line = &lines[i];
        !redact::holds_placeholder(line) && !has_any_text(line) && table.cells(line).is_some()
    })
}

/// The header and the rows of a table, `...` lines left to the line matcher.
fn rows<'a>(table: &'a Table, lines: &'a [String]) -> impl Iterator<Item = usize> + 'a {
    std::iter::once(table.header).chain(table.rows.clone().filter(|&i| !is_any_lines(&lines[i])))
}

fn write(table: &Table, lines: &[String], forms: &mut [String], by_position: bool) {
    let sep = CELL.to_string();
    for i in rows(table, lines) {
        let line = &lines[i];
        let cells = match table.cells(line) {
            Some(cells) if by_position => cells,
            _ => sequence(line, table),
        };
        forms[i] = cells.join(&sep);
    }
}

/// The non-empty cells of a line, in order: cut by the columns where it sits in them, else where runs of
/// two or more spaces are. A cell holding such a run (two words in one column) counts as two either way,
/// so a line gives the same cells by position and by runs.
fn sequence<'a>(line: &'a str, table: &Table) -> Vec<&'a str> {
    if !redact::holds_placeholder(line) && !has_any_text(line) {
        if let Some(cells) = table.cells(line) {
            return cells
                .into_iter()
                .flat_map(|cell| {
                    redact::spaced_pieces(cell)
                        .into_iter()
                        .map(|(_, text)| text)
                })
                .collect();
        }
    }
    redact::spaced_pieces(line)
        .into_iter()
        .map(|(_, text)| text)
        .collect()
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
}
