//! Matching without a regex: a page line without `[..]` against a run line, piece by piece. Values pair up
//! in order, each run value (or placeholder) of the page value's class, and the text around them is equal,
//! a run of two or more spaces on the page standing for any run of spaces. It accepts exactly what the
//! line's pattern in [`super::pattern`] accepts, without compiling one.

use super::{Bindings, Conflict};
use crate::redact::{self, Class};

/// Whether the run's lines match the page's wildcard-free lines one for one (both as the matcher sees
/// them: normalized, in their compared forms), binding values into `bindings` only when they do. `false`
/// also when the shortcut cannot tell (the lines do not line up one to one): then the pattern matcher
/// decides.
pub(super) fn match_lines(page: &[String], run: &[String], bindings: &mut Bindings) -> bool {
    if page.len() != run.len() {
        return false;
    }
    let mut with_values = Vec::new();
    for (p, r) in page.iter().zip(run) {
        if !redact::volatile_spans(p).is_empty() {
            with_values.push((p, r));
        } else if !literal_eq(p, r) {
            return false;
        }
    }
    let mut trial = bindings.clone();
    if with_values.iter().all(|(p, r)| binds(p, r, &mut trial)) {
        *bindings = trial;
        return true;
    }
    false
}

/// Matches one page line without `[..]` against one run line, binding their values. `bindings` may be
/// left partly extended when it fails: callers work on a copy.
pub(super) fn binds(expected: &str, actual: &str, bindings: &mut Bindings) -> bool {
    bind_line(expected, actual, bindings).is_ok()
}

/// [`binds`], saying which binding failed when one did.
pub(super) fn bind_line(
    expected: &str,
    actual: &str,
    bindings: &mut Bindings,
) -> Result<(), Option<Conflict>> {
    let pairs = value_pairs(expected, actual).ok_or(None)?;
    for (class, page, run) in pairs {
        if class.is_numbered() {
            bindings.bind(class, page, run).map_err(Some)?;
        }
    }
    Ok(())
}

/// The values of a page line without `[..]` and of the run line it matches, paired in order (class, page
/// value, run value); `None` when the lines do not match piece by piece.
pub(crate) fn value_pairs<'a>(
    expected: &'a str,
    actual: &'a str,
) -> Option<Vec<(Class, &'a str, &'a str)>> {
    let (page, run) = (
        redact::volatile_spans(expected),
        redact::volatile_spans(actual),
    );
    if page.len() != run.len() {
        return None;
    }
    let mut pairs = Vec::with_capacity(page.len());
    let (mut p_at, mut r_at) = (0, 0);
    for (p, r) in page.iter().zip(&run) {
        let run_value = &actual[r.range.clone()];
        if p.class != r.class
            || !p.class.accepts(run_value)
            || !literal_eq(&expected[p_at..p.range.start], &actual[r_at..r.range.start])
        {
            return None;
        }
        pairs.push((p.class, &expected[p.range.clone()], run_value));
        p_at = p.range.end;
        r_at = r.range.end;
    }
    literal_eq(&expected[p_at..], &actual[r_at..]).then_some(pairs)
}

/// Literal comparison where a run of two or more spaces on the page stands for any run of spaces (table
/// padding).
fn literal_eq(page: &str, run: &str) -> bool {
    let (mut p, mut r) = (page.as_bytes(), run.as_bytes());
    loop {
        match (p.first(), r.first()) {
            (None, None) => return true,
            (Some(b' '), _) if p.get(1) == Some(&b' ') => {
                let spaces = |s: &[u8]| s.iter().take_while(|&&c| c == b' ').count();
                let (ps, rs) = (spaces(p), spaces(r));
                if rs == 0 {
                    return false;
                }
                p = &p[ps..];
                r = &r[rs..];
            }
            (Some(a), Some(b)) if a == b => {
                p = &p[1..];
                r = &r[1..];
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{match_output, pattern, Bindings, Lines};
    use super::*;

    /// The pattern matcher alone, on the lines `match_output` prepares.
    fn slowly(expected: &[String], actual: &str, bindings: &mut Bindings) -> bool {
        let lines = Lines::new(expected, actual);
        let (page, run) = lines.forms();
        pattern::match_lines(page, run, bindings).is_match()
    }

    fn owned(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|s| s.to_string()).collect()
    }

    // Table padding counts as any run of spaces, as in the pattern matcher.
    #[test]
    fn literal_comparison_allows_table_padding() {
        assert!(literal_eq("NAME    DRIVER", "NAME  DRIVER"));
        assert!(!literal_eq("a b", "a  b"));
        assert!(!literal_eq("NAME  DRIVER", "NAMEDRIVER"));
        assert!(super::super::line_matches("hello [..]", "hello world"));
        assert!(!super::super::line_matches("hello", "hello world"));
    }

    // The shortcut must agree with the pattern matcher, bindings included.
    #[test]
    fn pieces_agree_with_the_patterns() {
        let cases: &[(&[&str], &str)] = &[
            (&["a", "b  c"], "a\nb c\n\n"),
            (&["a", "b c"], "a\nb  c\n"),
            (&["a"], "a\nb\n"),
            (&["a", ""], "a\n"),
            (&["\u{1b}[1mbold\u{1b}[0m  "], "bold\n"),
            (&["ip 172.18.0.2", "x"], "ip [IP1]\nx\n"),
            (&["ip 172.18.0.2", "y"], "ip [IP1]\nx\n"),
            (&["ip 172.18.0.3"], "ip [IP1]\n"),
            (
                &["ip 172.18.0.2", "mac 02:42:ac:12:00:02"],
                "ip [IP1]\nmac [MAC1]\n",
            ),
            // Tables: cells by position, by sequence when a snapshot's placeholders shifted them.
            (
                &["NAME    DRIVER", "backend bridge"],
                "NAME      DRIVER\nbackend   bridge\n",
            ),
            (
                &["NAMES  ENV    TIER", "web    prod"],
                "NAMES   ENV    TIER\nweb            prod\n",
            ),
            (
                &["NAME   IP", "web    172.18.0.2"],
                "NAME   IP\nweb    [IP1]\n",
            ),
            (
                &["NAME   IP", "web    172.18.0.3"],
                "NAME   IP\nweb    [IP1]\n",
            ),
            (
                &["STATUS          NAMES", "Up 2 seconds    web"],
                "STATUS   NAMES\nUp [TIME]   web\n",
            ),
            (
                &["STATUS          NAMES", "Up 2 seconds    web"],
                "STATUS   NAMES\nExited   web\n",
            ),
            // Progress bars at other widths.
            (
                &["x 100% |****|   615  0:00:00 ETA"],
                "x 100% |********|   615  [TIME] ETA\n",
            ),
            (
                &["x 100% |****|   615  0:00:00 ETA"],
                "x  50% |****    |   307  [TIME] ETA\n",
            ),
            (&["...", "z"], "a\nz\n"),
            (&["[..] z"], "a z\n"),
            (&[], "anything"),
        ];
        for (expected, actual) in cases {
            let expected = owned(expected);
            let mut slow = Bindings::new();
            let mut fast = Bindings::new();
            // The same page: a first block binds 172.18.0.2 to [IP1].
            for b in [&mut slow, &mut fast] {
                let _ = slowly(&owned(&["172.18.0.2"]), "[IP1]", b);
            }
            let want = expected.is_empty() || slowly(&expected, actual, &mut slow);
            let got = match_output(&expected, actual, &mut fast);
            assert_eq!(got.is_match(), want, "{expected:?} vs {actual:?}");
            // The bindings must agree too: a later block sees the same page state.
            for later in ["[IP1]", "[IP2]", "[MAC1]"] {
                for value in ["172.18.0.2", "172.18.0.3", "02:42:ac:12:00:02"] {
                    let e = owned(&[value]);
                    assert_eq!(
                        slowly(&e, later, &mut slow.clone()),
                        slowly(&e, later, &mut fast.clone()),
                        "{expected:?} vs {actual:?}, then {value} vs {later}"
                    );
                }
            }
        }
    }
}
