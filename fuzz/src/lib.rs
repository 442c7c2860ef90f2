//! The invariants the parser must keep on any input, shared by the fuzz targets and by
//! `tests/it/parser_props.rs` (which includes this file with `#[path]`), so both check the very same rules.
//!
//! Each check returns the first violation as a sentence; a caller panics with it.

use std::ops::Range;
use std::path::Path;

use mdbook_docktest::config::Config;
use mdbook_docktest::snippet::{Page, ParseError, Prompt, SessionChange, Status};

/// The languages whose fences may become blocks.
const RUNNABLE_LANGS: [&str; 4] = ["console", "sh", "shell", "bash"];

/// 1-based line of a byte offset: the parser numbers lines by `\n`.
fn line_of(content: &str, offset: usize) -> usize {
    content.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The last line a 1-based line number may name: one past a final `\n` (an empty last line) at most.
fn last_line(content: &str) -> usize {
    line_of(content, content.len())
}

/// Checks what `parse_page(path, content)` returned: a well-formed error, or blocks and steps whose lines
/// and spans point into `content` in page order.
pub fn check_page(
    path: &Path,
    content: &str,
    result: &Result<Page, ParseError>,
) -> Result<(), String> {
    match result {
        Err(e) => check_error(path, content, e),
        Ok(page) => check_blocks(path, content, page),
    }
}

fn check_error(path: &Path, content: &str, e: &ParseError) -> Result<(), String> {
    let last = last_line(content);
    if e.file != path {
        return Err(format!(
            "error names {} instead of {}",
            e.file.display(),
            path.display()
        ));
    }
    if e.line < 1 || e.line > last {
        return Err(format!(
            "error line {} outside the page (1..={last}): {e}",
            e.line
        ));
    }
    if e.message.trim().is_empty() {
        return Err(format!("empty error message: {e:?}"));
    }
    if e.message.contains('\n') {
        return Err(format!(
            "error message spans several lines: {:?}",
            e.message
        ));
    }
    let shown = e.to_string();
    let wanted = format!("{}:{}: {}", path.display(), e.line, e.message);
    if shown != wanted {
        return Err(format!(
            "error displays as {shown:?}, not as `<path>:<line>: <message>` {wanted:?}"
        ));
    }
    Ok(())
}

fn check_blocks(path: &Path, content: &str, page: &Page) -> Result<(), String> {
    if page.path != path {
        return Err(format!(
            "page path {} instead of {}",
            page.path.display(),
            path.display()
        ));
    }
    let mut previous: Option<(usize, Range<usize>)> = None;
    for (b, block) in page.blocks.iter().enumerate() {
        let at = |what: String| format!("block {b} (line {}): {what}", block.line);
        let span = &block.span;
        if span.start >= span.end || span.end > content.len() {
            return Err(at(format!(
                "span {span:?} outside the content (0..{})",
                content.len()
            )));
        }
        if !content.is_char_boundary(span.start) || !content.is_char_boundary(span.end) {
            return Err(at(format!("span {span:?} splits a character")));
        }
        let text = &content[span.clone()];
        if !(text.starts_with("```") || text.starts_with("~~~")) {
            return Err(at(format!(
                "span {span:?} does not start at a fence: {:?}",
                text.chars().take(20).collect::<String>()
            )));
        }
        if block.line != line_of(content, span.start) {
            return Err(at(format!(
                "line is not the line of its span start ({})",
                line_of(content, span.start)
            )));
        }
        if let Some((line, prev_span)) = &previous {
            if block.line <= *line {
                return Err(at(format!("line not after the previous block's ({line})")));
            }
            if span.start < prev_span.end {
                return Err(at(format!(
                    "span {span:?} overlaps the previous block's {prev_span:?}"
                )));
            }
        }
        if !RUNNABLE_LANGS.contains(&block.lang.as_str()) {
            return Err(at(format!("language {:?} is not runnable", block.lang)));
        }
        if block.steps.is_empty() {
            return Err(at("no steps".to_string()));
        }
        // Body lines lie strictly between the opening fence and the closing one.
        let closing = line_of(content, span.end - 1);
        let inside = block.line + 1..closing;
        let mut after = block.line;
        for (s, step) in block.steps.iter().enumerate() {
            let at = |what: String| at(format!("step {s} (line {}): {what}", step.line));
            if !inside.contains(&step.line) {
                return Err(at(format!("line outside the fence's body {inside:?}")));
            }
            if step.line <= after {
                return Err(at(format!(
                    "line not after the previous line used ({after})"
                )));
            }
            if step.input.is_empty() {
                return Err(at("no input line".to_string()));
            }
            after = step.line + step.input.len() - 1;
            if step.expected.len() != step.expected_lines.len() {
                return Err(at(format!(
                    "{} expected lines but {} line numbers",
                    step.expected.len(),
                    step.expected_lines.len()
                )));
            }
            for &line in &step.expected_lines {
                if !inside.contains(&line) {
                    return Err(at(format!(
                        "expected line {line} outside the fence's body {inside:?}"
                    )));
                }
                if line <= after {
                    return Err(at(format!(
                        "expected line {line} not after the previous line used ({after})"
                    )));
                }
                after = line;
            }
            if step
                .interrupt_after
                .is_some_and(|n| n > step.expected.len())
            {
                return Err(at(format!(
                    "interrupt after {:?} of {} expected lines",
                    step.interrupt_after,
                    step.expected.len()
                )));
            }
            if let Status::Code(code) = step.status {
                if !(1..=255).contains(&code) {
                    return Err(at(format!("exit status {code} outside 1..=255")));
                }
            }
            if step.prompt == Prompt::Container(String::new())
                && step.session != SessionChange::Detach
            {
                return Err(at(
                    "empty container prompt on a step that is no detach".to_string()
                ));
            }
        }
        previous = Some((block.line, span.clone()));
    }
    Ok(())
}

/// Checks what `Config::parse(text)` returned: an error is a non-empty message that names what is wrong,
/// a TOML position, an option or value quoted in backticks as the text writes it, or the table's own type.
pub fn check_config<E: std::fmt::Display>(
    text: &str,
    result: &Result<Config, E>,
) -> Result<(), String> {
    let Err(error) = result else {
        return Ok(());
    };
    let message = error.to_string();
    if message.trim().is_empty() {
        return Err("empty config error".to_string());
    }
    let names_line = message.contains("line ");
    let names_quoted = message
        .split('`')
        .skip(1)
        .step_by(2)
        .any(|quoted| !quoted.is_empty() && text.contains(quoted));
    let names_table_type = message.contains("expected a table");
    if !(names_line || names_quoted || names_table_type) {
        return Err(format!(
            "config error names no line, option or value of the text: {message:?}"
        ));
    }
    Ok(())
}
