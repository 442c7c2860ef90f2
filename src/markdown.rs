//! Fenced code blocks of a Markdown page, with byte spans and line numbers (pulldown-cmark).
//!
//! pulldown-cmark hands over the body of a fence already stripped of the list indentation or `> ` markers
//! around it, and its ranges point into the page. Both are kept: the text is what a reader types, the page
//! line is what an error must name.

use std::ops::Range;
use std::path::PathBuf;

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};

/// A fenced code block as it sits in the page.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fence {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// Bytes from the opening fence to the end of the closing fence.
    pub span: Range<usize>,
    /// The info string as written after the fence characters (pulldown-cmark trims it).
    pub info: String,
    /// The body, de-indented, one entry per line.
    pub body: Vec<BodyLine>,
    /// Text of the nearest heading above the fence.
    pub heading: Option<String>,
    /// The container prefix of the closing fence's line (list indentation, `> `): what a fence written
    /// back in its place puts before its later lines.
    pub prefix: String,
}

/// One line of a fence's body and where the page holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyLine {
    /// 1-based page line.
    pub line: usize,
    /// The text, without the container's indentation or `> ` markers.
    pub text: String,
    /// Those markers: the page line minus `text`. `None` when the page line does not end with the text
    /// (a tab the indentation half consumed), so the line cannot be rewritten in place.
    pub prefix: Option<String>,
}

/// A fence with no closing fence: pulldown-cmark ends it at the end of the page (or of the list item or
/// block quote holding it), silently swallowing what the author meant as prose or as later blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnterminatedFence {
    /// 1-based line of the opening fence.
    pub line: usize,
    /// The opening fence characters, e.g. ```` ``` ````, to tell the author what closes it.
    pub fence: String,
}

/// Byte offset → 1-based line, by binary search over the line starts.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { starts }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    /// The text of 1-based line `line`, without its line ending.
    fn text<'a>(&self, md: &'a str, line: usize) -> &'a str {
        let start = self.starts[line - 1];
        let end = self.starts.get(line).map_or(md.len(), |&next| next);
        md[start..end].trim_end_matches('\n').trim_end_matches('\r')
    }
}

/// The container prefix of a fence's later lines, from its closing fence line: what precedes the fence
/// characters there.
fn closing_prefix(span_text: &str) -> &str {
    let text = span_text.trim_end_matches(['\n', '\r']);
    let last = text.rsplit_once('\n').map_or("", |(_, last)| last);
    let last = last.strip_suffix('\r').unwrap_or(last);
    let end = last.find(['`', '~']).unwrap_or(0);
    &last[..end]
}

/// A body line written back with its container prefix: an empty line keeps no trailing blank.
pub(crate) fn with_prefix(prefix: &str, text: &str) -> String {
    if text.is_empty() {
        prefix.trim_end().to_string()
    } else {
        format!("{prefix}{text}")
    }
}

/// Every fenced code block of `md` in page order, whatever its language.
///
/// Every unterminated fence is an error, runnable or not: the text it swallows may hold runnable blocks
/// that would otherwise go untested without a word.
pub(crate) fn fences(md: &str) -> Result<Vec<Fence>, UnterminatedFence> {
    let lines = Lines::new(md);
    let mut fences = Vec::new();
    let mut heading: Option<String> = None;
    // Text of the heading being read, if inside one.
    let mut heading_text: Option<String> = None;
    let mut current: Option<(Fence, BodyBuilder)> = None;

    for (event, range) in Parser::new_ext(md, Options::all()).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { .. }) => heading_text = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                heading = heading_text.take().map(|t| t.trim().to_string());
            }
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                let fence = Fence {
                    line: lines.line_of(range.start),
                    prefix: closing_prefix(&md[range.clone()]).to_string(),
                    span: range,
                    info: info.to_string(),
                    body: Vec::new(),
                    heading: heading.clone(),
                };
                current = Some((fence, BodyBuilder::default()));
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((mut fence, body)) = current.take() {
                    fence.body = body.finish();
                    for body_line in &mut fence.body {
                        body_line.prefix = lines
                            .text(md, body_line.line)
                            .strip_suffix(body_line.text.as_str())
                            .map(str::to_string);
                    }
                    check_closed(md, &fence)?;
                    fences.push(fence);
                }
            }
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, body)) = current.as_mut() {
                    body.push(&text, lines.line_of(range.start));
                } else if let Some(h) = heading_text.as_mut() {
                    h.push_str(&text);
                }
            }
            _ => {}
        }
    }
    Ok(fences)
}

/// Assembles body lines from pulldown-cmark's text events, which come one per line inside containers, as
/// one piece at top level, and sometimes as a line split in two (a tab half-consumed by the indentation, the
/// `\r` of a CRLF).
#[derive(Default)]
struct BodyBuilder {
    lines: Vec<BodyLine>,
    /// The last line is still being written (no `\n` seen yet).
    open: bool,
}

impl BodyBuilder {
    /// `line` is the page line where the event starts; within one event lines are consecutive.
    fn push(&mut self, text: &str, mut line: usize) {
        for (i, piece) in text.split('\n').enumerate() {
            if i > 0 {
                // The `\n` before this piece ends the previous line.
                if !self.open {
                    self.lines.push(BodyLine {
                        line,
                        text: String::new(),
                        prefix: None,
                    });
                }
                self.open = false;
                line += 1;
            }
            if piece.is_empty() {
                continue;
            }
            if self.open {
                self.lines
                    .last_mut()
                    .expect("open line")
                    .text
                    .push_str(piece);
            } else {
                self.lines.push(BodyLine {
                    line,
                    text: piece.to_string(),
                    prefix: None,
                });
                self.open = true;
            }
        }
    }

    fn finish(self) -> Vec<BodyLine> {
        self.lines
    }
}

/// pulldown-cmark closes a fence at the end of its container without saying so. It does say what the body
/// is: a closed fence's span ends on a line below its body (the closing fence), an unclosed one's on a body
/// line. Deciding from pulldown-cmark's own reading, rather than re-reading the last line, keeps every
/// CommonMark rule about what closes a fence (indentation, trailing text, container markers) its rule.
fn check_closed(md: &str, fence: &Fence) -> Result<(), UnterminatedFence> {
    let text = &md[fence.span.clone()];
    let last_line = fence.line + text.trim_end_matches(['\n', '\r']).matches('\n').count();
    let closed = match fence.body.last() {
        Some(body) => body.line < last_line,
        None => last_line > fence.line,
    };
    if closed {
        Ok(())
    } else {
        Err(UnterminatedFence {
            line: fence.line,
            fence: fence_chars(text).to_string(),
        })
    }
}

/// The run of backticks or tildes a fence starts with.
fn fence_chars(fence_text: &str) -> &str {
    let first = fence_text.chars().next().unwrap_or('`');
    let end = fence_text
        .find(|c: char| c != first)
        .unwrap_or(fence_text.len());
    &fence_text[..end]
}

/// The chapter files an mdBook `SUMMARY.md` links to, in book order.
///
/// Drafts (`[Title]()`) have no file and are skipped, as are external links, which mdBook does not accept as
/// chapters. `%20` is read as a space, as mdBook does.
pub fn summary_chapters(summary_md: &str) -> Vec<PathBuf> {
    Parser::new_ext(summary_md, Options::all())
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. }) => Some(dest_url),
            _ => None,
        })
        .filter(|dest| !dest.trim().is_empty() && !dest.contains("://") && !dest.starts_with('#'))
        .map(|dest| PathBuf::from(dest.trim().replace("%20", " ")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(fence: &Fence) -> Vec<(usize, &str)> {
        fence
            .body
            .iter()
            .map(|l| (l.line, l.text.as_str()))
            .collect()
    }

    // A top-level fence gives its opening line, exact span, info string and numbered body lines.
    #[test]
    fn top_level_fence() {
        let md = "# Intro\n\ntext\n\n```console,term=a\n$ ls\nout\n```\n";
        let fences = fences(md).unwrap();
        assert_eq!(fences.len(), 1);
        let f = &fences[0];
        assert_eq!(f.line, 5);
        assert_eq!(&md[f.span.clone()], "```console,term=a\n$ ls\nout\n```");
        assert_eq!(f.info, "console,term=a");
        assert_eq!(body(f), [(6, "$ ls"), (7, "out")]);
        assert_eq!(f.heading.as_deref(), Some("Intro"));
    }

    // Real docs write "``` sh": the info string comes back trimmed.
    #[test]
    fn space_before_language() {
        let f = &fences("``` sh\n$ ls\n```\n").unwrap()[0];
        assert_eq!(f.info, "sh");
    }

    // In a list item the body is de-indented and each line keeps its page line, blank lines included.
    #[test]
    fn fence_in_list_item() {
        let md = "- step one\n\n  ```sh\n  $ a\n\n    b\n  ```\n";
        let f = &fences(md).unwrap()[0];
        assert_eq!(f.line, 3);
        assert_eq!(body(f), [(4, "$ a"), (5, ""), (6, "  b")]);
    }

    // In a block quote (inside a list) the `> ` markers are not part of the body.
    #[test]
    fn fence_in_block_quote() {
        let md = "1. x\n   > ```sh\n   > $ q\n   >\n   > r\n   > ```\n";
        let f = &fences(md).unwrap()[0];
        assert_eq!(f.line, 2);
        assert_eq!(body(f), [(3, "$ q"), (4, ""), (5, "r")]);
    }

    // A tab half-eaten by list indentation arrives as two text events for one line.
    #[test]
    fn tab_split_line_is_one_line() {
        let md = "- a\n\n  ```sh\n  $ x\n\t  y\n  ```\n";
        let f = &fences(md).unwrap()[0];
        assert_eq!(body(f), [(4, "$ x"), (5, "    y")]);
    }

    // CRLF pages: lines lose their `\r` and keep their numbers.
    #[test]
    fn crlf_lines() {
        let f = &fences("```sh\r\n$ crlf\r\nout\r\n\r\n```\r\n").unwrap()[0];
        assert_eq!(body(f), [(2, "$ crlf"), (3, "out"), (4, "")]);
    }

    // The nearest heading above names the fence, inline code included; a later heading replaces it.
    #[test]
    fn nearest_heading() {
        let md = "# A\n\n```sh\n```\n\n## Run `nginx` {#run}\n\n~~~sh\n~~~\n";
        let f = fences(md).unwrap();
        assert_eq!(f[0].heading.as_deref(), Some("A"));
        assert_eq!(f[1].heading.as_deref(), Some("Run nginx"));
        assert_eq!(f[1].line, 8);
    }

    // A fence left open at the end of the page is reported at its opening line.
    #[test]
    fn unterminated_at_end_of_page() {
        let md = "text\n\n````sh\n$ ls\n```\n";
        assert_eq!(
            fences(md),
            Err(UnterminatedFence {
                line: 3,
                fence: "````".into()
            })
        );
        assert_eq!(fences("```sh").unwrap_err().line, 1);
        assert_eq!(fences("~~~sh\n$ x\n```\n").unwrap_err().line, 1);
    }

    // Lines that only look like a closing fence are body text, as pulldown-cmark (and the rendered book)
    // reads them: indented by four columns, followed by a tab, or behind a `>` outside any block quote.
    #[test]
    fn lookalike_closing_fences_leave_the_fence_open() {
        for md in [
            "```sh\n$ echo\n    ```\n",
            "```console,term=r\n$\n```\t",
            "```sh\n$ x\n> ```\n",
            "> ```sh\n> $ ls\n>     ```\n\nprose\n",
        ] {
            assert_eq!(fences(md).map(|_| ()).unwrap_err().line, 1, "{md:?}");
        }
    }

    // A closing fence outdented out of its list item leaves the item's fence unterminated.
    #[test]
    fn unterminated_in_list_item() {
        let md = "- a\n  ```sh\n  $ x\nlazy\n";
        assert_eq!(fences(md).unwrap_err().line, 2);
    }

    // Longer closing fences and empty bodies are fine.
    #[test]
    fn longer_closing_fence_and_empty_body() {
        let f = fences("```sh\n````\n\n> ```sh\n> ```\n").unwrap();
        assert_eq!(f.len(), 2);
        assert!(f[0].body.is_empty() && f[1].body.is_empty());
    }

    // SUMMARY.md: chapters in book order, nested ones included, drafts and external links skipped.
    #[test]
    fn summary_lists_chapters_in_order() {
        let summary = "# Summary\n\n[Intro](intro.md)\n\n# Part\n\n- [Bridge](bridge/index.md)\n  \
                       - [Alias](bridge/alias.md)\n  - [Draft]()\n- [Host%20net](host%20net.md)\n- \
                       [Docs](https://docs.docker.com)\n\n---\n\n[Epilogue](end.md)\n";
        assert_eq!(
            summary_chapters(summary),
            [
                "intro.md",
                "bridge/index.md",
                "bridge/alias.md",
                "host net.md",
                "end.md"
            ]
            .map(PathBuf::from)
        );
    }
}
