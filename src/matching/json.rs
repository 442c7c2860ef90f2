//! JSON the page shows, matched as JSON. `docker inspect` prints every key the engine knows, and each
//! engine version knows more (`ConfigFrom`, `Ingress`, `EnableIPv4`); a page written on an older engine
//! shows fewer. So the page's JSON is a subset: every key it shows must be in the run's JSON with a
//! matching value, other keys may be there too, unless the block says `json=exact`. Object keys match
//! whatever their order, array elements in order. Keys and values go through the line rules (volatile
//! values bound across the page, `[..]` within a string), so the `Containers` of `network inspect`, keyed by
//! IDs and sorted by them, pair up by the IDs the page bound, whatever order the run's IDs sort in.
//!
//! The page's text is JSON once its wildcards are read: a `...` line among keys or elements means any number
//! of them there, and a bare `[..]` where a value goes means any value. Whether expected output is JSON is
//! told from the text itself; lines that cannot be JSON (they do not open with `{` or `[`) are not parsed.

use serde_json::{Map, Value};

use super::{bind_text, has_any_text, is_any_lines, Bindings, Conflict, ANY_TEXT};
use crate::redact;
use crate::snippet::Json;

/// What a bare `[..]` becomes in the page's JSON: any value. A NUL cannot come from a page or a terminal.
const ANY_VALUE: &str = "\u{0}[..]";
/// What a `...` line becomes: a key (value `null`) in an object, an element in an array.
const MORE: &str = "\u{0}...";

/// Why a JSON value does not match: a binding, if one is to blame.
type Verdict = Result<(), Option<Conflict>>;

/// The page's JSON and the run's, when both sides are JSON (lines as the matcher sees them).
pub(super) fn parse_both(page: &[String], run: &[String]) -> Option<(Value, Value)> {
    if !looks_like_json(page) || !looks_like_json(run) {
        return None;
    }
    let page = page_json(page)?;
    let run: Value = serde_json::from_str(&run.join("\n")).ok()?;
    Some((page, run))
}

/// The cheap test: an object or an array opens the first line and closes the last.
fn looks_like_json(lines: &[String]) -> bool {
    let mut text = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
    let first = text.next();
    let last = text.next_back().or(first);
    matches!(first.and_then(|l| l.chars().next()), Some('{' | '['))
        && matches!(last.and_then(|l| l.chars().last()), Some('}' | ']'))
}

/// The page's lines read as JSON, wildcards included; `None` if they are not JSON.
fn page_json(lines: &[String]) -> Option<Value> {
    let mut source = String::new();
    // The objects and arrays open so far, to know what a `...` line stands among.
    let mut open: Vec<char> = Vec::new();
    let mut in_string = false;
    for (i, line) in lines.iter().enumerate() {
        if !in_string && is_any_lines(line) {
            let among = *open.last()?;
            // Commas around it as JSON needs them, whatever the page wrote before and after.
            if !matches!(source.trim_end().chars().last(), Some(',' | '{' | '[')) {
                source.push(',');
            }
            source.push_str(if among == '{' {
                r#""\u0000...": null"#
            } else {
                r#""\u0000...""#
            });
            let next = lines[i + 1..]
                .iter()
                .find_map(|l| l.trim_start().chars().next());
            if !matches!(next, Some('}' | ']')) {
                source.push(',');
            }
            source.push('\n');
            continue;
        }
        let mut escaped = false;
        let mut rest = line.as_str();
        while let Some(c) = rest.chars().next() {
            if in_string {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    _ => {}
                }
            } else if rest.starts_with(ANY_TEXT) {
                source.push_str(r#""\u0000[..]""#);
                rest = &rest[ANY_TEXT.len()..];
                continue;
            } else {
                match c {
                    '"' => in_string = true,
                    '{' | '[' => open.push(c),
                    '}' | ']' => {
                        open.pop();
                    }
                    _ => {}
                }
            }
            source.push(c);
            rest = &rest[c.len_utf8()..];
        }
        source.push('\n');
    }
    let value: Value = serde_json::from_str(&source).ok()?;
    matches!(value, Value::Object(_) | Value::Array(_)).then_some(value)
}

/// Whether the run's JSON holds the page's (all of it and nothing else, for [`Json::Exact`]), binding
/// values into `bindings` only when it does.
pub(super) fn matches(page: &Value, run: &Value, json: Json, bindings: &mut Bindings) -> Verdict {
    let mut trial = bindings.clone();
    value(page, run, json, &mut trial)?;
    *bindings = trial;
    Ok(())
}

fn value(page: &Value, run: &Value, json: Json, bindings: &mut Bindings) -> Verdict {
    match (page, run) {
        (Value::String(any), _) if any == ANY_VALUE => Ok(()),
        (Value::String(p), Value::String(r)) => bind_text(p, r, bindings),
        (Value::Number(p), Value::Number(r)) => bind_text(&p.to_string(), &r.to_string(), bindings),
        (Value::Bool(p), Value::Bool(r)) if p == r => Ok(()),
        (Value::Null, Value::Null) => Ok(()),
        (Value::Array(p), Value::Array(r)) => elements(p, r, json, bindings),
        (Value::Object(p), Value::Object(r)) => entries(p, r, json, bindings),
        _ => Err(None),
    }
}

fn is_more(value: &Value) -> bool {
    value.as_str() == Some(MORE)
}

/// Elements pair up in order; a `...` takes any number of the run's elements, as few as possible first.
fn elements(page: &[Value], run: &[Value], json: Json, bindings: &mut Bindings) -> Verdict {
    let Some(more) = page.iter().position(is_more) else {
        if page.len() != run.len() {
            return Err(None);
        }
        for (p, r) in page.iter().zip(run) {
            value(p, r, json, bindings)?;
        }
        return Ok(());
    };
    let (head, tail) = (&page[..more], &page[more + 1..]);
    if run.len() < head.len() {
        return Err(None);
    }
    elements(head, &run[..head.len()], json, bindings)?;
    let rest = &run[head.len()..];
    let mut failure = None;
    for skip in 0..=rest.len() {
        let mut trial = bindings.clone();
        match elements(tail, &rest[skip..], json, &mut trial) {
            Ok(()) => {
                *bindings = trial;
                return Ok(());
            }
            Err(conflict) => failure = failure.or(conflict),
        }
    }
    Err(failure)
}

/// A key with no volatile value and no wildcard in it is looked up as written.
fn is_fixed(key: &str) -> bool {
    !has_any_text(key) && redact::volatile_spans(key).is_empty()
}

/// Every key of the page's object matches a key of the run's, each run key at most once, and their values
/// match. Keys holding volatile values (container IDs) may match any run key that binds; they are tried
/// after the fixed keys, whose values may already have bound what decides between them.
fn entries(
    page: &Map<String, Value>,
    run: &Map<String, Value>,
    json: Json,
    bindings: &mut Bindings,
) -> Verdict {
    let more = page.contains_key(MORE);
    let wanted: Vec<(&String, &Value)> = page.iter().filter(|(k, _)| *k != MORE).collect();
    if json == Json::Exact && !more && wanted.len() != run.len() {
        return Err(None);
    }
    let run: Vec<(&String, &Value)> = run.iter().collect();
    let mut used = vec![false; run.len()];
    let (fixed, keyed): (Vec<_>, Vec<_>) = wanted.into_iter().partition(|(k, _)| is_fixed(k));
    for (key, want) in fixed {
        let at = run.iter().position(|(k, _)| *k == key).ok_or(None)?;
        value(want, run[at].1, json, bindings)?;
        used[at] = true;
    }
    assign(&keyed, &run, &mut used, json, bindings)
}

/// Pairs the keys holding volatile values with unused run keys, backtracking when a later key finds no
/// partner.
fn assign(
    keyed: &[(&String, &Value)],
    run: &[(&String, &Value)],
    used: &mut [bool],
    json: Json,
    bindings: &mut Bindings,
) -> Verdict {
    let Some(((key, want), rest)) = keyed.split_first() else {
        return Ok(());
    };
    let mut failure = None;
    for at in 0..run.len() {
        if used[at] {
            continue;
        }
        let (run_key, got) = run[at];
        let mut trial = bindings.clone();
        let mut attempt = bind_text(key, run_key, &mut trial);
        if attempt.is_ok() {
            attempt = value(want, got, json, &mut trial);
        }
        if attempt.is_ok() {
            used[at] = true;
            attempt = assign(rest, run, used, json, &mut trial);
            if attempt.is_err() {
                used[at] = false;
            }
        }
        match attempt {
            Ok(()) => {
                *bindings = trial;
                return Ok(());
            }
            Err(conflict) => failure = failure.or(conflict),
        }
    }
    Err(failure)
}

/// The run's JSON in the page's shape, for the diff: the run's key for each key the page shows (none when
/// the run lacks it), in the page's order, each value shaped the same way; in exact mode the keys the
/// page does not show follow. Shown next to the page's JSON, only the differing keys differ.
pub(super) fn projection(page: &Value, run: &Value, json: Json) -> Value {
    project(page, run, json, &mut Bindings::new())
}

fn project(page: &Value, run: &Value, json: Json, bindings: &mut Bindings) -> Value {
    match (page, run) {
        (Value::Object(p), Value::Object(r)) => {
            let run: Vec<(&String, &Value)> = r.iter().collect();
            let mut used = vec![false; run.len()];
            // The run's entry for each page key that has one, in the page's order.
            let mut shown: Vec<(usize, Value)> = Vec::new();
            for (key, want) in p.iter().filter(|(k, _)| *k != MORE) {
                let unused = || (0..run.len()).filter(|&i| !used[i]);
                let at = if is_fixed(key) {
                    run.iter().position(|(k, _)| *k == key)
                } else {
                    // The run key whose value matches too, else the first that binds.
                    let binds = |i: usize, whole: bool| {
                        let mut trial = bindings.clone();
                        bind_text(key, run[i].0, &mut trial).is_ok()
                            && (!whole || value(want, run[i].1, json, &mut trial).is_ok())
                    };
                    unused()
                        .find(|&i| binds(i, true))
                        .or_else(|| unused().find(|&i| binds(i, false)))
                };
                let Some(at) = at else { continue };
                used[at] = true;
                let _ = bind_text(key, run[at].0, bindings);
                shown.push((at, project(want, run[at].1, json, bindings)));
            }
            // In exact mode the keys the page does not show are differences: each goes after the run key
            // it follows in the run, so it shows where the engine printed it.
            let extras = json == Json::Exact && !p.contains_key(MORE);
            let mut out = Map::new();
            let add_extras = |from: usize, out: &mut Map<String, Value>| {
                let unshown = run[from..].iter().zip(&used[from..]);
                for ((key, got), _) in unshown.take_while(|(_, &used)| extras && !used) {
                    out.insert((*key).clone(), (*got).clone());
                }
            };
            add_extras(0, &mut out);
            for (at, got) in shown {
                out.insert(run[at].0.clone(), got);
                add_extras(at + 1, &mut out);
            }
            Value::Object(out)
        }
        (Value::Array(p), Value::Array(r)) if !p.iter().any(is_more) => Value::Array(
            r.iter()
                .enumerate()
                .map(|(i, got)| match p.get(i) {
                    Some(want) => project(want, got, json, bindings),
                    None => got.clone(),
                })
                .collect(),
        ),
        _ => {
            let _ = value(page, run, json, bindings);
            run.clone()
        }
    }
}

/// JSON laid out as `docker inspect` prints it (four spaces per level, one line per key or element),
/// wildcards written back as the page wrote them. Without commas: a key the run lacks would otherwise
/// change the line before it too, and the diff is read line by line.
pub(super) fn pretty(value: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    pretty_into(value, 0, "", &mut lines);
    lines
}

fn pretty_into(value: &Value, depth: usize, key: &str, lines: &mut Vec<String>) {
    let pad = "    ".repeat(depth);
    match value {
        Value::Object(map) if !map.is_empty() => {
            lines.push(format!("{pad}{key}{{"));
            for (k, v) in map {
                if k == MORE {
                    lines.push(format!("{pad}    ..."));
                } else {
                    let k = format!("{}: ", Value::String(k.clone()));
                    pretty_into(v, depth + 1, &k, lines);
                }
            }
            lines.push(format!("{pad}}}"));
        }
        Value::Array(items) if !items.is_empty() => {
            lines.push(format!("{pad}{key}["));
            for v in items {
                if is_more(v) {
                    lines.push(format!("{pad}    ..."));
                } else {
                    pretty_into(v, depth + 1, "", lines);
                }
            }
            lines.push(format!("{pad}]"));
        }
        Value::String(any) if any == ANY_VALUE => lines.push(format!("{pad}{key}{ANY_TEXT}")),
        _ => lines.push(format!("{pad}{key}{value}")),
    }
}
