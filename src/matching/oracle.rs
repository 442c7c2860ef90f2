//! The line matcher as it was, kept as a test oracle for [`super::pattern`]: an expected line compiled into
//! an anchored regex (a lazy `.*?` per `[..]`, a capture group per value the page shows, checked by its
//! class and bound). Compiling a regex per line was most of a first build's work.

use regex::Regex;

use super::{Bindings, Conflict, ANY_TEXT};
use crate::redact::{self, Class};

/// Whether one expected line matches one actual line, no page bindings.
pub(super) fn line_matches(expected: &str, actual: &str) -> bool {
    bind_line(expected, actual, &mut Bindings::new()).is_ok()
}

/// Matches one expected line against one actual line, binding their values.
pub(super) fn bind_line(
    expected: &str,
    actual: &str,
    bindings: &mut Bindings,
) -> Result<(), Option<Conflict>> {
    bind_compiled(&compile_line(expected), actual, bindings)
}

/// One expected line compiled once, to meet many actual lines: its bindings after each, `None` when it
/// does not match.
pub(super) fn matcher(expected: &str) -> impl Fn(&str) -> Option<Bindings> {
    let compiled = compile_line(expected);
    move |actual| {
        let mut bindings = Bindings::new();
        bind_compiled(&compiled, actual, &mut bindings).ok()?;
        Some(bindings)
    }
}

/// Whether the oracle cannot judge the pair: its regex's first match put a value the class does not accept
/// (a stable address such as `127.0.0.1`) in a capture group, and a regex tries no other match from there,
/// where the matcher goes on to the next candidate (a placeholder further on).
pub(super) fn first_match_rejected(expected: &str, actual: &str) -> bool {
    let (regex, slots) = compile_line(expected);
    regex.captures(actual).is_some_and(|caps| {
        slots
            .iter()
            .enumerate()
            .any(|(i, (class, _))| !class.accepts(caps.get(i + 1).map_or("", |m| m.as_str())))
    })
}

fn bind_compiled(
    (regex, slots): &(Regex, Vec<(Class, String)>),
    actual: &str,
    bindings: &mut Bindings,
) -> Result<(), Option<Conflict>> {
    let caps = regex.captures(actual).ok_or(None)?;
    for (i, (class, page)) in slots.iter().enumerate() {
        let run = caps.get(i + 1).map_or("", |m| m.as_str());
        if !class.accepts(run) {
            return Err(None);
        }
        bindings.bind(*class, page, run).map_err(Some)?;
    }
    Ok(())
}

/// The line's regex, and the class and page value of each capture group.
fn compile_line(text: &str) -> (Regex, Vec<(Class, String)>) {
    let mut pieces: Vec<(std::ops::Range<usize>, Option<Class>)> = redact::volatile_spans(text)
        .into_iter()
        .map(|span| (span.range, Some(span.class)))
        .collect();
    for (start, _) in text.match_indices(ANY_TEXT) {
        let range = start..start + ANY_TEXT.len();
        if !pieces
            .iter()
            .any(|(r, _)| r.start < range.end && range.start < r.end)
        {
            pieces.push((range, None));
        }
    }
    pieces.sort_by_key(|(range, _)| range.start);

    let mut source = String::from("^");
    let mut slots = Vec::new();
    let mut last = 0;
    for (range, piece) in pieces {
        source.push_str(&literal(&text[last..range.start]));
        match piece {
            None => source.push_str(".*?"),
            Some(class) if class.is_numbered() => {
                source.push_str(&format!("({})", class.value_pattern()));
                slots.push((class, text[range.clone()].to_owned()));
            }
            Some(class) => source.push_str(&class.value_pattern()),
        }
        last = range.end;
    }
    source.push_str(&literal(&text[last..]));
    source.push('$');
    (
        Regex::new(&source).expect("escaped literals and built-in patterns"),
        slots,
    )
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
