//! mdBook integration: the published book replays the last verified run, with no engine.
//!
//! `mdbook build` runs `mdbook-docktest` as a preprocessor (mdBook 0.5 protocol: the
//! `[context, book]` JSON on stdin, the book on stdout). For every runnable block of every chapter:
//!
//! 1. its snapshot must exist, record the block's commands ([`snapshot::command_hash`]) and match what the
//!    page shows under each command (the matcher of `test`, one set of bindings per page) and the exit
//!    statuses it claims;
//! 2. then the block is published without its docktest attributes, `?` lines or hidden blocks, with real
//!    output where the page wrote `...` or `[..]` (from the snapshot's unredacted transcript), and a small
//!    badge naming the engine and the date of the run. An `ignore` block shows its reason instead.
//!
//! For the HTML renderer the badge also says what each line of the block is (`encode_roles`), and a
//! chapter with a published block starts with docktest's own small stylesheet and script (`assets`):
//! prompts highlighted and not selectable, mdBook's copy button copying the commands only, the badge
//! styled, with no `additional-css` in book.toml.
//!
//! A block that fails step 1 fails the build with `file:line` and the fix (or, with
//! `on-unverified = "warn"`, is published marked "not verified" with a warning).

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use mdbook_preprocessor::book::{Book as MdBook, BookItem};
use mdbook_preprocessor::{Preprocessor, PreprocessorContext};

use crate::config::{Config, OnUnverified, OptionsError};
use crate::engine;
use crate::hints;

mod topology;
use crate::markdown::with_prefix;
use crate::matching::{self, Bindings, Piece};
use crate::redact::{self, Class};
use crate::replay_cache::ReplayCache;
use crate::snapshot::{self, Meta, Recorded, Stored};
use crate::snippet::{self, Block, LineRole, ParseError, Prompts, Status};

/// The preprocessor's name, as in `[preprocessor.docktest]`.
pub const NAME: &str = "docktest";

/// How badges are written: HTML for the `html` renderer, Markdown text for the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadgeFormat {
    Html,
    Text,
}

impl BadgeFormat {
    pub fn for_renderer(renderer: &str) -> BadgeFormat {
        if renderer == "html" {
            BadgeFormat::Html
        } else {
            BadgeFormat::Text
        }
    }
}

/// What a replay needs besides the page.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub snapshot_dir: PathBuf,
    pub prompts: Prompts,
    /// book.toml's `bare-commands`.
    pub bare_commands: bool,
    /// Show real output where the page wrote `...` or `[..]`.
    pub real_output: bool,
    pub format: BadgeFormat,
    /// book.toml's `matrix`: the kinds a badge says a block was, or was not, verified on.
    pub matrix: Vec<String>,
}

impl ReplayOptions {
    pub fn new(
        config: &Config,
        book_root: &Path,
        format: BadgeFormat,
    ) -> Result<Self, OptionsError> {
        Ok(ReplayOptions {
            snapshot_dir: config.snapshot_dir(book_root),
            prompts: config.container_prompts()?,
            bare_commands: config.bare_commands,
            real_output: config.real_output,
            format,
            matrix: config.matrix.clone(),
        })
    }
}

/// Why a block cannot be published as verified.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    /// No `.snap`: the block never ran (`pending`: a `.snap.new` waits for review).
    NoSnapshot { pending: bool },
    /// The snapshot file cannot be read.
    Unreadable { message: String },
    /// The block's commands are not those the snapshot recorded.
    CommandsChanged,
    /// The page's output under a command does not match the snapshot.
    OutputDiffers {
        diff: String,
        conflict: Option<String>,
    },
    /// The page claims another exit status than the snapshot recorded.
    StatusDiffers {
        expected: Status,
        recorded: Recorded,
    },
    /// The snapshot stops before this command (its run stopped early).
    Missing,
}

/// An unverified or stale block (or command): where, which snapshot, and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Unverified {
    /// The chapter's file, relative to the book root (`src/bridge.md`).
    pub file: PathBuf,
    /// 1-based line in that file: the block's fence, or the command a problem is about.
    pub line: usize,
    /// The snapshot file.
    pub snapshot: PathBuf,
    pub problem: Problem,
}

impl Problem {
    /// Words for the reader of a published block marked "not verified".
    pub fn short(&self) -> &'static str {
        match self {
            Problem::NoSnapshot { .. } | Problem::Unreadable { .. } => "it has not been run",
            Problem::CommandsChanged => "its commands changed since the last run",
            Problem::OutputDiffers { .. } | Problem::StatusDiffers { .. } | Problem::Missing => {
                "the last run printed something else"
            }
        }
    }
}

impl fmt::Display for Unverified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        let snap = self.snapshot.display();
        match &self.problem {
            Problem::NoSnapshot { pending: false } => {
                write!(f, "not verified: no snapshot {snap}")
            }
            Problem::NoSnapshot { pending: true } => write!(
                f,
                "not verified: no snapshot {snap} (a pending {snap}.new waits for review)"
            ),
            Problem::Unreadable { message } => write!(f, "not verified: {message}"),
            Problem::CommandsChanged => {
                write!(
                    f,
                    "stale: the commands changed since snapshot {snap} was taken"
                )
            }
            Problem::OutputDiffers { diff, conflict } => {
                write!(
                    f,
                    "stale: the output no longer matches snapshot {snap} (- page, + snapshot)"
                )?;
                for line in diff.lines() {
                    write!(f, "\n    {line}")?;
                }
                if let Some(c) = conflict {
                    write!(f, "\n    {c}")?;
                }
                Ok(())
            }
            Problem::StatusDiffers { expected, recorded } => {
                let expected = match expected {
                    Status::Success => "success".to_string(),
                    Status::Code(n) => format!("exit status {n}"),
                    Status::Failed => "a failure".to_string(),
                };
                match recorded {
                    Recorded::Code(n) => write!(
                        f,
                        "stale: the page expects {expected}, snapshot {snap} recorded exit status {n}"
                    ),
                    Recorded::Timeout(after) => write!(
                        f,
                        "stale: the page expects {expected}, snapshot {snap} recorded a timeout after {after}"
                    ),
                }
            }
            Problem::Missing => write!(
                f,
                "stale: snapshot {snap} stops before this command (its run did not get this far)"
            ),
        }
    }
}

/// A chapter after replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayedPage {
    pub content: String,
    /// Blocks (and commands) that are not verified, in page order.
    pub problems: Vec<Unverified>,
    /// Runnable blocks published with a verified badge.
    pub verified: usize,
}

/// How one block comes out of the check.
enum Replay {
    Ignored(String),
    Verified {
        meta: Meta,
        /// Per step, the real (unredacted) output lines, when the snapshot has them.
        real: Option<Vec<Vec<String>>>,
    },
    Unverified(Vec<(usize, Problem)>),
}

/// Checks one block against its snapshot, extending the page's bindings with what matched.
fn check_block(block: &Block, snap_path: &Path, bindings: &mut Bindings) -> Replay {
    if let Some(reason) = &block.attrs.ignore {
        return Replay::Ignored(reason.clone());
    }
    let stored: Stored = match snapshot::read(snap_path) {
        Ok(Some(s)) => s,
        Ok(None) => {
            let pending = snap_path.with_extension("snap.new").exists();
            return Replay::Unverified(vec![(block.line, Problem::NoSnapshot { pending })]);
        }
        Err(e) => {
            return Replay::Unverified(vec![(
                block.line,
                Problem::Unreadable {
                    message: crate::error_chain(&e),
                },
            )])
        }
    };
    if stored.meta.commands != snapshot::command_hash(block) {
        return Replay::Unverified(vec![(block.line, Problem::CommandsChanged)]);
    }
    let recorded = snapshot::read_transcript(block, &stored.body);
    let mut problems = Vec::new();
    for (i, step) in block.steps.iter().enumerate() {
        let Some(rec) = recorded.get(i) else {
            problems.push((step.line, Problem::Missing));
            break;
        };
        let output = rec.output.join("\n");
        let verdict = matching::judge_step(step, &output, rec.ended.code(), bindings, false);
        if let Some(mismatch) = verdict.output {
            problems.push((
                step.line,
                Problem::OutputDiffers {
                    diff: mismatch.diff,
                    conflict: mismatch.conflict.map(|c| c.to_string()),
                },
            ));
        }
        if !verdict.status_agrees {
            problems.push((
                step.line,
                Problem::StatusDiffers {
                    expected: step.status,
                    recorded: rec.ended.clone(),
                },
            ));
        }
    }
    if !problems.is_empty() {
        return Replay::Unverified(problems);
    }
    let real = (!stored.meta.raw.is_empty()).then(|| {
        snapshot::read_transcript(block, &stored.meta.raw)
            .into_iter()
            .map(|s| s.output)
            .collect::<Vec<_>>()
    });
    let real = real.filter(|r| r.len() == block.steps.len());
    Replay::Verified {
        meta: stored.meta,
        real,
    }
}

/// Replays one chapter: checks its runnable blocks against their snapshots and renders them.
///
/// `page_path` names the page as the runner does (`src/` + the chapter's path in SUMMARY.md), which is what
/// snapshot names derive from. `content` is the chapter as mdBook hands it over (includes expanded);
/// `source` is the chapter's file as written, when it can be read, so that problems name its lines.
pub fn replay_page(
    page_path: &Path,
    content: &str,
    source: Option<&str>,
    options: &ReplayOptions,
) -> Result<ReplayedPage, ParseError> {
    let grammar = snippet::Grammar {
        prompts: &options.prompts,
        bare_commands: options.bare_commands,
    };
    let page = snippet::parse_page_in(page_path, content, grammar)?;
    if page.blocks.is_empty() {
        return Ok(ReplayedPage {
            content: content.to_string(),
            problems: Vec::new(),
            verified: 0,
        });
    }
    let names = snapshot::names(&page);
    let mut bindings = Bindings::new();
    // In the runner's order, so bindings build up as they did in the run.
    let mut replays: Vec<Option<Replay>> = (0..page.blocks.len()).map(|_| None).collect();
    let mut own: Vec<Vec<(String, Replay)>> = (0..page.blocks.len()).map(|_| Vec::new()).collect();
    for i in page.run_order() {
        let snap_path = snapshot::path(&options.snapshot_dir, &names[i]);
        // A kind's own snapshot replays against the bindings the shared one started from.
        for kind in options.matrix.iter().skip(1) {
            let path = snapshot::path(
                &options.snapshot_dir,
                &snapshot::engine_name(&names[i], kind),
            );
            if path.exists() {
                let replay = check_block(&page.blocks[i], &path, &mut bindings.clone());
                own[i].push((kind.clone(), replay));
            }
        }
        let block = &page.blocks[i];
        // A block for none of the kinds the book is verified on never ran: it is shown as not run.
        replays[i] = Some(
            if !options.matrix.is_empty()
                && block.attrs.ignore.is_none()
                && !options
                    .matrix
                    .iter()
                    .any(|k| block.attrs.engines.admits_kind(k))
            {
                Replay::Ignored(format!(
                    "not verified on this book's engines ({})",
                    and_list(
                        &options
                            .matrix
                            .iter()
                            .map(|k| kind_title(k))
                            .collect::<Vec<_>>()
                    )
                ))
            } else if options
                .matrix
                .first()
                .is_some_and(|first| !block.attrs.engines.admits_kind(first))
            {
                // Another kind's run took its snapshot (a Podman twin of a Docker block), numbering its
                // placeholders from that run: the first kind's bindings say nothing about them.
                check_block(block, &snap_path, &mut Bindings::new())
            } else {
                check_block(block, &snap_path, &mut bindings)
            },
        );
    }
    let coverage: Vec<Coverage> = replays
        .iter()
        .zip(&own)
        .zip(&page.blocks)
        .map(|((replay, own), block)| {
            coverage(replay.as_ref().expect("every block"), own, block, options)
        })
        .collect();
    let replays: Vec<Replay> = replays
        .into_iter()
        .map(|r| r.expect("every block"))
        .collect();

    let lines = LineMap::new(content, source);
    let mut problems = Vec::new();
    for (i, replay) in replays.iter().enumerate() {
        if let Replay::Unverified(list) = replay {
            for (line, problem) in list {
                problems.push(Unverified {
                    file: page.path.clone(),
                    line: lines.source_line(*line, &page.blocks[i], content),
                    snapshot: snapshot::path(&options.snapshot_dir, &names[i]),
                    problem: problem.clone(),
                });
            }
        }
    }

    let shown = reveal(&page, &replays, options);
    let (mut pictures, directives) = pictures(&page, &names, content, options);
    let mut out = content.to_string();
    let mut verified = 0;
    for (i, block) in page.blocks.iter().enumerate().rev() {
        let replacement = if block.attrs.hidden || block.attrs.teardown {
            String::new()
        } else {
            let short = match &replays[i] {
                Replay::Unverified(list) => list.first().map_or("", |(_, p)| p.short()),
                _ => "",
            };
            if matches!(replays[i], Replay::Verified { .. }) {
                verified += 1;
            }
            render_block(
                content,
                block,
                (&replays[i], &coverage[i]),
                &shown[i],
                short,
                options.format,
            )
        };
        let replacement = replacement + pictures[i].take().as_deref().unwrap_or_default();
        out.replace_range(block.span.clone(), &replacement);
    }
    for (at, picture) in topology::directives(&out).into_iter().zip(directives).rev() {
        out.replace_range(at, &picture);
    }
    let published = page
        .blocks
        .iter()
        .any(|b| !b.attrs.hidden && !b.attrs.teardown);
    if published && options.format == BadgeFormat::Html {
        out.insert_str(0, assets());
    }
    Ok(ReplayedPage {
        content: out,
        problems,
        verified,
    })
}

/// The chapter's pictures of its network (HTML only): after which block, and for each directive in order.
fn pictures(
    page: &snippet::Page,
    names: &[String],
    content: &str,
    options: &ReplayOptions,
) -> (Vec<Option<String>>, Vec<String>) {
    let none = || (vec![None; page.blocks.len()], Vec::new());
    if options.format != BadgeFormat::Html {
        return none();
    }
    // A page recorded before topologies were taken has none: no picture, nothing fails.
    let Ok(Some(sections)) = snapshot::topology::read(&options.snapshot_dir, page) else {
        return none();
    };
    let directive_after: Vec<Option<usize>> = topology::directives(content)
        .into_iter()
        .map(|at| page.blocks.iter().rposition(|b| b.span.end <= at.start))
        .collect();
    topology::placements(&sections, names, &directive_after)
}

/// Page lines of the content mdBook hands over, mapped to lines of the chapter's file: the same when no
/// `{{#include}}` changed the chapter, else found by the block's text in the file.
struct LineMap<'a> {
    source: Option<&'a str>,
    same: bool,
}

impl<'a> LineMap<'a> {
    fn new(content: &str, source: Option<&'a str>) -> Self {
        LineMap {
            source,
            same: source.is_none_or(|s| s == content),
        }
    }

    fn source_line(&self, line: usize, block: &Block, content: &str) -> usize {
        let Some(source) = self.source.filter(|_| !self.same) else {
            return line;
        };
        let needle = &content[block.span.clone()];
        let mut found = source.match_indices(needle).map(|(at, _)| at);
        match (found.next(), found.next()) {
            (Some(at), None) => {
                let fence_line = source[..at].matches('\n').count() + 1;
                fence_line + (line - block.line)
            }
            _ => line,
        }
    }
}

/// The volatile values a page shows (addresses, IDs, names), by the value the run showed in their place:
/// real output shown where the page wrote a wildcard speaks of `172.18.0.2` when the page does, not of the
/// `192.168.16.2` the run happened to get.
#[derive(Debug, Default)]
struct PageValues(HashMap<(Class, String), String>);

impl PageValues {
    /// Learns from a page line and the run line it matched (no `[..]`: values pair up in order).
    fn learn(&mut self, page: &str, run: &str) {
        if matching::has_any_text(page) {
            return;
        }
        let Some(pairs) = matching::value_pairs(page, run) else {
            return;
        };
        if !pairs.iter().all(|(class, _, _)| class.is_numbered()) {
            return;
        }
        for (class, shown, run_value) in pairs {
            // A placeholder the author wrote (`[IP1]`) is no value to show readers.
            if shown.starts_with('[') {
                continue;
            }
            self.0
                .entry((class, class.key(run_value)))
                .or_insert_with(|| shown.to_string());
        }
    }

    /// A run line with the values the page shows put in place of the run's.
    fn apply(&self, run: &str) -> String {
        let mut out = String::with_capacity(run.len());
        let mut last = 0;
        for span in redact::volatile_spans(run) {
            let value = &run[span.range.clone()];
            if let Some(shown) = self.0.get(&(span.class, span.class.key(value))) {
                out.push_str(&run[last..span.range.start]);
                out.push_str(shown);
                last = span.range.end;
            }
        }
        out.push_str(&run[last..]);
        out
    }
}

/// For each step of each block: the lines to show for each expected line, where the page wrote a wildcard
/// and real output replaces it (`None`: the step is shown as written).
type Shown = Vec<Vec<Option<Vec<Vec<String>>>>>;

fn reveal(page: &snippet::Page, replays: &[Replay], options: &ReplayOptions) -> Shown {
    let mut shown: Shown = page
        .blocks
        .iter()
        .map(|b| vec![None; b.steps.len()])
        .collect();
    if !options.real_output {
        return shown;
    }
    let mut values = PageValues::default();
    let mut lined_up = Vec::new();
    for (b, (block, replay)) in page.blocks.iter().zip(replays).enumerate() {
        let Replay::Verified {
            real: Some(real), ..
        } = replay
        else {
            continue;
        };
        for (s, (step, real)) in block.steps.iter().zip(real).enumerate() {
            let real = matching::output_lines(&real.join("\n"));
            let Some(pieces) = matching::line_up(&step.expected, &real) else {
                continue;
            };
            for piece in &pieces {
                if let Piece::Same { exp, act } = piece {
                    values.learn(&step.expected[*exp], &real[*act]);
                }
            }
            if matching::has_wildcards(&step.expected) {
                lined_up.push((b, s, pieces, real));
            }
        }
    }
    for (b, s, pieces, real) in lined_up {
        let expected = &page.blocks[b].steps[s].expected;
        let mut lines: Vec<Vec<String>> = expected.iter().map(|l| vec![l.clone()]).collect();
        for piece in pieces {
            match piece {
                Piece::Same { exp, act } if matching::has_any_text(&expected[exp]) => {
                    lines[exp] = vec![values.apply(&real[act])];
                }
                Piece::Wild { exp, acts } => {
                    lines[exp] = real[acts].iter().map(|l| values.apply(l)).collect();
                }
                _ => {}
            }
        }
        shown[b][s] = Some(lines);
    }
    shown
}

fn render_block(
    content: &str,
    block: &Block,
    (replay, coverage): (&Replay, &Coverage),
    shown: &[Option<Vec<Vec<String>>>],
    short: &str,
    format: BadgeFormat,
) -> String {
    let span_text = &content[block.span.clone()];
    let prefix = block.prefix.as_str();
    let lang = block.written_lang();

    // What each page line of the body becomes, and what it is to a reader.
    let mut input_lines = Vec::new();
    let mut expected_at: HashMap<usize, (usize, usize)> = HashMap::new();
    for (s, step) in block.steps.iter().enumerate() {
        input_lines.extend(step.line..step.line + step.input.len());
        for (k, &line) in step.expected_lines.iter().enumerate() {
            expected_at.insert(line, (s, k));
        }
    }
    let mut body: Vec<(String, LineRole)> = Vec::new();
    for (line, role) in block.body.iter().zip(block.line_roles()) {
        if let Some(&(s, k)) = expected_at.get(&line.line) {
            match &shown[s] {
                Some(lines) => body.extend(lines[k].iter().map(|l| (l.clone(), LineRole::OUTPUT))),
                None => body.push((line.text.clone(), role)),
            }
        } else if !input_lines.contains(&line.line) && snippet::is_status_line(&line.text) {
            // An exit status line: docktest's, not the reader's.
        } else {
            body.push((line.text.clone(), role));
        }
    }
    while body.last().is_some_and(|(l, _)| l.trim().is_empty()) {
        body.pop();
    }

    // A fence longer than any backtick run that opens a line of the body, real output included.
    let longest = body
        .iter()
        .map(|(l, _)| l.trim_start().chars().take_while(|&c| c == '`').count())
        .max()
        .unwrap_or(0);
    let ticks = "`".repeat(longest.max(2) + 1);
    let mut out = format!("{ticks}{lang}\n");
    for (line, _) in &body {
        out.push_str(&with_prefix(prefix, line));
        out.push('\n');
    }
    out.push_str(prefix);
    out.push_str(&ticks);
    out.push('\n');
    out.push_str(prefix);
    let roles = (format == BadgeFormat::Html).then(|| encode_roles(&body));
    out.push_str(&badge(
        (replay, coverage),
        short,
        &block.attrs.allow.names(),
        format,
        roles.as_deref(),
    ));
    // A blank line ends the badge's HTML block before whatever follows.
    out.push('\n');
    out.push_str(prefix.trim_end());
    if span_text.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// What each line of the published block is, for docktest's script (the badge's `data-dt`): per line, the
/// length of its prompt in UTF-16 units (as the browser counts the code's text) and `c` when the rest is a
/// command, `o` when nothing of it is typed (output, a bare prompt, detach keys), comma-separated.
///
/// The block itself stays the fence mdBook renders as any other, highlight.js and copy button included;
/// the script marks each prompt `dt-p` and each untyped line `dt-o` from this, after highlight.js ran. So
/// the page carries a few bytes per line rather than markup inside the code, which mdBook would parse as
/// HTML and its search index would take in.
fn encode_roles(body: &[(String, LineRole)]) -> String {
    let mut out = String::with_capacity(body.len() * 3);
    for (i, (line, role)) in body.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let prompt = &line[..role.prompt.min(line.len())];
        out.push_str(&prompt.encode_utf16().count().to_string());
        out.push(if role.command { 'c' } else { 'o' });
    }
    out
}

/// docktest's stylesheet and script, once at the top of a chapter: one line, so one raw HTML block (a
/// Markdown HTML block that opens with `<script>` ends on the line holding `</script>`, the stylesheet
/// after it included). mdBook's search index skips both.
fn assets() -> &'static str {
    static ASSETS: LazyLock<String> = LazyLock::new(|| {
        format!(
            "<script>{}</script><style>{}</style>\n\n",
            compact(include_str!("preprocessor/docktest.js")),
            compact(include_str!("preprocessor/docktest.css"))
                .replace(": ", ":")
                .replace(" {", "{")
                .replace(";}", "}")
                .replace(":0.", ":.")
                .replace(" 0.", " .")
        )
    });
    &ASSETS
}

/// `source` without its `/* */` comments, blank lines and indentation, its lines joined: what
/// every chapter carries should be small, and the files should stay readable.
fn compact(source: &str) -> String {
    let mut text = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("/*") {
        text.push_str(&rest[..start]);
        rest = rest[start..]
            .find("*/")
            .map_or("", |end| &rest[start + end + 2..]);
    }
    text.push_str(rest);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.concat()
}

/// Which engines a block was verified on, for its badge.
#[derive(Debug, Default)]
struct Coverage {
    /// As readers name them, the shared snapshot's engine first: `Docker 20.10.24`, `Docker 26.1.5`.
    verified_on: Vec<String>,
    /// Kinds of the book's matrix the block is for but was not verified on, as readers name them.
    not_on: Vec<String>,
    /// `engines=` in words: `On Docker 23 and later`.
    note: Option<String>,
}

/// The engines that verified a block: its shared snapshot's, the other kinds that matched that snapshot
/// (its `verified_on`) and those whose own snapshot replays as verified; and the matrix's kinds, among those
/// the block is for, that are none of these.
fn coverage(
    replay: &Replay,
    own: &[(String, Replay)],
    block: &Block,
    options: &ReplayOptions,
) -> Coverage {
    let note = block.attrs.engines.note();
    let Replay::Verified { meta, .. } = replay else {
        return Coverage {
            note,
            ..Coverage::default()
        };
    };
    // Each verifying engine as readers name it, with the kind it ran as (where the snapshot says) and what
    // its words tell of it.
    let mut verified: Vec<(String, Option<String>, Option<engine::EngineInfo>)> = Vec::new();
    let mut add = |text: &str, kind: Option<&str>| {
        let info = engine::described(text);
        let name = info
            .as_ref()
            .map_or_else(|| text.to_string(), engine::EngineInfo::short_name);
        if !text.is_empty() {
            verified.push((name, kind.map(str::to_string), info));
        }
    };
    add(&meta.engine, None);
    for (kind, text) in snapshot::verified_on(meta) {
        add(text, Some(kind));
    }
    for (kind, replay) in own {
        if let Replay::Verified { meta, .. } = replay {
            add(&meta.engine, Some(kind));
        }
    }
    let covers = |k: &str| {
        verified.iter().any(|(_, kind, info)| {
            kind.as_deref() == Some(k) || info.as_ref().is_some_and(|i| i.is_kind(k))
        })
    };
    let not_on = options
        .matrix
        .iter()
        .filter(|k| block.attrs.engines.admits_kind(k) && !covers(k))
        .map(|k| kind_title(k))
        .collect();
    let mut names: Vec<String> = Vec::new();
    for (name, _, _) in &verified {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    Coverage {
        verified_on: names,
        not_on,
        note,
    }
}

/// `docker-26.1` as readers name it: `Docker 26.1`.
fn kind_title(kind: &str) -> String {
    let (product, version) = kind.split_once('-').unwrap_or((kind, ""));
    let mut title: String = product
        .chars()
        .take(1)
        .flat_map(char::to_uppercase)
        .chain(product.chars().skip(1))
        .collect();
    if !version.is_empty() {
        title.push(' ');
        title.push_str(version);
    }
    title
}

/// `A`, `A and B`, `A, B and C`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// The line under a published block: verified (engine, date), ignored (reason) or not verified; for a
/// block that runs with powers beyond the sandbox (`allow=`), which ones, so readers know before they paste;
/// in HTML with the block's line roles for the script ([`encode_roles`]).
///
/// In HTML the words are the badge's `data-text` (and its powers span's), which docktest's stylesheet
/// shows and browsers hand to screen readers as text, and the mark before them is the stylesheet's too
/// (hidden from screen readers): mdBook's search index takes in every text node of a chapter, and the same
/// sentence under every example was a tenth of the book's indexed text, and a third of what the index cost
/// beyond a build without docktest, making every search for "docker" or "on" list every example.
fn badge(
    (replay, coverage): (&Replay, &Coverage),
    short: &str,
    powers: &[String],
    format: BadgeFormat,
    roles: Option<&str>,
) -> String {
    let (class, mut text) = match replay {
        Replay::Verified { meta, .. } => {
            let on = if coverage.verified_on.is_empty() {
                String::new()
            } else {
                format!(" on {}", and_list(&coverage.verified_on))
            };
            let date = if meta.date.is_empty() {
                String::new()
            } else {
                format!(", {}", meta.date)
            };
            let not_on = if coverage.not_on.is_empty() {
                String::new()
            } else {
                format!("; not verified on {}", and_list(&coverage.not_on))
            };
            ("verified", format!("Verified{on}{date}{not_on}"))
        }
        Replay::Ignored(reason) => ("ignored", format!("Not run: {reason}")),
        Replay::Unverified(_) => ("unverified", format!("Not verified: {short}")),
    };
    if let Some(note) = &coverage.note {
        text = format!("{note}. {text}");
    }
    let powers = match replay {
        Replay::Ignored(_) => None,
        _ if powers.is_empty() => None,
        _ => Some(format!("needs extra powers: {}", powers.join(", "))),
    };
    match format {
        BadgeFormat::Html => format!(
            "<div class=\"docktest-badge docktest-{class}\" role=\"note\"{} data-text=\"{}\">{}</div>",
            roles.map_or(String::new(), |r| format!(" data-dt=\"{r}\"")),
            escape_html(&text),
            powers
                .map(|p| format!(
                    "<span class=\"docktest-powers\" title=\"This example asks Docker for more than an \
                     ordinary container gets\" data-text=\"{}\"></span>",
                    escape_html(&p)
                ))
                .unwrap_or_default()
        ),
        BadgeFormat::Text => match powers {
            Some(p) => format!("*{}* *({})*", escape_markdown(&text), escape_markdown(&p)),
            None => format!("*{}*", escape_markdown(&text)),
        },
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\`*_[]<>#|".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Why the preprocessor could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    #[error("cannot read mdBook's input on stdin")]
    Input(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// mdBook could not hand over the `[preprocessor.docktest]` table.
    #[error("[preprocessor.docktest]: {0:#}")]
    Table(mdbook_preprocessor::errors::Error),
    #[error(transparent)]
    Config(#[from] OptionsError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Parse(Vec<ParseError>),
    #[error("cannot write the book to stdout")]
    Output(#[source] std::io::Error),
}

/// What a replay of the whole book found.
#[derive(Debug)]
pub struct BookReplay {
    pub book: MdBook,
    /// The book's root, as mdBook gave it.
    pub root: PathBuf,
    /// Where the book's snapshots are.
    pub snapshot_dir: PathBuf,
    pub problems: Vec<Unverified>,
    pub on_unverified: OnUnverified,
    /// Blocks published with a verified badge.
    pub verified: usize,
    /// A warning about the calling mdBook's version, if it is not the one docktest was built with.
    pub version_warning: Option<String>,
}

/// Replays every chapter of the book mdBook handed over.
pub fn replay_book(
    ctx: &PreprocessorContext,
    mut book: MdBook,
) -> Result<BookReplay, PreprocessError> {
    let table = ctx
        .config
        .get::<toml::Value>("preprocessor.docktest")
        .map_err(PreprocessError::Table)?
        .unwrap_or_else(|| toml::Value::Table(toml::Table::new()));
    let config = Config::from_table(table.clone())?;
    let snapshot_dir = config.snapshot_dir(&ctx.root);
    let format = BadgeFormat::for_renderer(&ctx.renderer);
    let root = &ctx.root;
    // Made when a chapter is replayed: a build that takes every chapter from the cache compiles no prompt.
    let options = std::sync::OnceLock::new();
    let options = || {
        options.get_or_init(|| {
            ReplayOptions::new(&config, root, format)
                .expect("Config::from_table checked the prompt patterns")
        })
    };
    let src_dir = ctx.root.join(&ctx.config.book.src);

    // Chapters are independent: take their contents out, replay them on every core, put them back in order.
    let mut work: Vec<(PathBuf, String)> = Vec::new();
    book.for_each_mut(|item| {
        if let BookItem::Chapter(chapter) = item {
            if let Some(source_path) = &chapter.source_path {
                work.push((source_path.clone(), std::mem::take(&mut chapter.content)));
            }
        }
    });
    // Not `ctx` in the closure below: it is not `Sync`.
    let renderer = ctx.renderer.as_str();
    let cache = ReplayCache::open(&table.to_string(), renderer, &snapshot_dir);
    // As the runner names pages, so snapshot names agree.
    let page_path = |source_path: &Path| Path::new("src").join(source_path);
    // Looked up first, on this thread: a cached rebuild then starts no replay thread.
    let mut results: Vec<Option<Result<ReplayedPage, ParseError>>> = work
        .iter()
        .map(|(source_path, content)| {
            let (content, verified) = cache.as_ref()?.get(&page_path(source_path), content)?;
            Some(Ok(ReplayedPage {
                content,
                problems: Vec::new(),
                verified,
            }))
        })
        .collect();
    let replay_one = |&i: &usize| {
        let (source_path, content) = &work[i];
        let page_path = page_path(source_path);
        let source = std::fs::read_to_string(src_dir.join(source_path)).ok();
        let before = cache
            .as_ref()
            .and_then(|_| ReplayCache::files(&page_path, content, options()));
        let replayed = replay_page(&page_path, content, source.as_deref(), options())?;
        if let (Some(cache), true, Some(before)) = (&cache, replayed.problems.is_empty(), before) {
            cache.put(
                &page_path,
                content,
                before,
                &replayed.content,
                replayed.verified,
            );
        }
        Ok(replayed)
    };
    let missed: Vec<usize> = (0..work.len()).filter(|&i| results[i].is_none()).collect();
    let replayed = parallel_map(&missed, |&i| work[i].1.len(), replay_one);
    for (i, replayed) in missed.into_iter().zip(replayed) {
        results[i] = Some(replayed);
    }
    let mut results = results
        .into_iter()
        .map(|r| r.expect("every chapter looked up or replayed"));
    let mut work = work.into_iter();

    let mut problems = Vec::new();
    let mut errors = Vec::new();
    let mut verified = 0;
    book.for_each_mut(|item| {
        let BookItem::Chapter(chapter) = item else {
            return;
        };
        if chapter.source_path.is_none() {
            return;
        }
        let (_, original) = work.next().expect("one result per chapter");
        match results.next().expect("one result per chapter") {
            Ok(replayed) => {
                chapter.content = replayed.content;
                problems.extend(replayed.problems);
                verified += replayed.verified;
            }
            Err(e) => {
                chapter.content = original;
                errors.push(e);
            }
        }
    });
    if !errors.is_empty() {
        return Err(PreprocessError::Parse(errors));
    }
    // Messages read best with paths as the user sees them from where mdBook runs (the book's root).
    if let Ok(cwd) = std::env::current_dir() {
        for p in &mut problems {
            p.snapshot = relative_to(&p.snapshot, &cwd);
        }
    }
    Ok(BookReplay {
        book,
        root: ctx.root.clone(),
        snapshot_dir: relative_to(&snapshot_dir, &std::env::current_dir().unwrap_or_default()),
        problems,
        on_unverified: config.on_unverified,
        verified,
        version_warning: version_warning(&ctx.mdbook_version),
    })
}

/// `path` relative to `dir` when it lies in `dir` or next to it (`../snapshots/x.snap`), else as it is.
fn relative_to(path: &Path, dir: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix(dir) {
        return rest.to_path_buf();
    }
    match dir.parent().map(|parent| path.strip_prefix(parent)) {
        Some(Ok(rest)) => Path::new("..").join(rest),
        _ => path.to_path_buf(),
    }
}

/// `f` over `items` on as many threads as there are cores (at most 8), results in the order of `items`.
/// Each thread takes the next item when it is done with one, heaviest (by `weight`) first: chapters differ
/// tenfold in size, and fixed halves left one core idle while the other replayed the long chapters.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    weight: impl Fn(&T) -> usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(&f).collect();
    }
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(weight(&items[i])));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        while let Some(&i) = order.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            done.push((i, f(&items[i])));
        }
        done
    };
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(take)).collect();
        for handle in handles {
            for (i, result) in handle.join().expect("a replay thread panicked") {
                results[i] = Some(result);
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every item was taken once"))
        .collect()
}

/// mdBook's protocol has no version field: compare the caller's version with the one docktest was built
/// against (major and minor).
fn version_warning(caller: &str) -> Option<String> {
    let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    let ours = mdbook_preprocessor::MDBOOK_VERSION;
    (major_minor(caller) != major_minor(ours)).then(|| {
        format!(
            "docktest was built for mdBook {ours}, but mdBook {caller} is calling it; the book may not build \
             as expected"
        )
    })
}

/// The preprocessor as mdBook runs it: reads `[context, book]` JSON, writes the book JSON. When an
/// unverified block must fail the build, nothing is written.
pub fn preprocess(
    mut input: impl Read,
    mut output: impl Write,
) -> Result<BookReplay, PreprocessError> {
    // Whole, then parsed from memory: serde_json reads a slice several times faster than a stream, and
    // stdout is line-buffered, so the book goes out in one write rather than in a thousand small ones.
    let mut bytes = Vec::new();
    input
        .read_to_end(&mut bytes)
        .map_err(|e| PreprocessError::Input(e.into()))?;
    let (ctx, book): (PreprocessorContext, MdBook) =
        serde_json::from_slice(&bytes).map_err(|e| PreprocessError::Input(e.into()))?;
    drop(bytes);
    let replay = replay_book(&ctx, book)?;
    if replay.problems.is_empty() || replay.on_unverified == OnUnverified::Warn {
        let json =
            serde_json::to_vec(&replay.book).map_err(|e| PreprocessError::Output(e.into()))?;
        output
            .write_all(&json)
            .and_then(|()| output.flush())
            .map_err(PreprocessError::Output)?;
    }
    Ok(replay)
}

/// The [`Preprocessor`] trait for programs that drive mdBook as a library.
pub struct Docktest;

impl Preprocessor for Docktest {
    fn name(&self) -> &str {
        NAME
    }

    fn run(
        &self,
        ctx: &PreprocessorContext,
        book: MdBook,
    ) -> mdbook_preprocessor::errors::Result<MdBook> {
        let replay = replay_book(ctx, book)?;
        if !replay.problems.is_empty() && replay.on_unverified == OnUnverified::Error {
            let list: Vec<String> = replay.problems.iter().map(|p| p.to_string()).collect();
            anyhow::bail!(
                "{}\nhint: {}",
                list.join("\n"),
                hints::unverified(&replay.root, &replay.snapshot_dir)
            );
        }
        Ok(replay.book)
    }

    /// Every renderer: the HTML one gets HTML badges, the others Markdown text. Leaving a renderer out would
    /// hand it the docktest attributes, `?` lines and hidden blocks unprocessed.
    fn supports_renderer(&self, _renderer: &str) -> mdbook_preprocessor::errors::Result<bool> {
        Ok(true)
    }
}

/// Replays a page whose snapshots live in `dir` with the default options and HTML badges.
pub fn replay_with_defaults(
    page_path: &Path,
    content: &str,
    dir: &Path,
) -> Result<ReplayedPage, ParseError> {
    let options = ReplayOptions {
        snapshot_dir: dir.to_path_buf(),
        prompts: Prompts::default(),
        bare_commands: false,
        real_output: true,
        format: BadgeFormat::Html,
        matrix: Vec::new(),
    };
    replay_page(page_path, content, None, &options)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENGINE: &str = "Docker 20.10.24+dfsg1 (API 1.41)";

    /// A snapshot folder holding, for each block of `md` in order, the given body and raw transcript.
    fn snapshots(md: &str, transcripts: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let page = snippet::parse_page(Path::new("src/p.md"), md).unwrap();
        let names = snapshot::names(&page);
        for ((block, name), (body, raw)) in page.blocks.iter().zip(&names).zip(transcripts) {
            let meta = Meta {
                block: format!("src/p.md:{}", block.line),
                engine: ENGINE.into(),
                commands: snapshot::command_hash(block),
                date: "2026-11-26".into(),
                raw: raw.to_string(),
                verified_on: Vec::new(),
            };
            std::fs::write(
                snapshot::path(dir.path(), name),
                snapshot::render(&meta, body),
            )
            .unwrap();
        }
        dir
    }

    fn replay(md: &str, dir: &Path) -> ReplayedPage {
        replay_with_defaults(Path::new("src/p.md"), md, dir).unwrap()
    }

    /// As [`replay`], blocks written as fences with text badges: for tests of what a block shows, read
    /// without HTML markup.
    fn replay_text(md: &str, dir: &Path, real_output: bool) -> ReplayedPage {
        let options = ReplayOptions {
            snapshot_dir: dir.into(),
            prompts: Prompts::default(),
            bare_commands: false,
            real_output,
            format: BadgeFormat::Text,
            matrix: Vec::new(),
        };
        replay_page(Path::new("src/p.md"), md, None, &options).unwrap()
    }

    /// The verified badge of a block whose lines have these roles.
    fn badge_for(roles: &str) -> String {
        format!(
            "<div class=\"docktest-badge docktest-verified\" role=\"note\" data-dt=\"{roles}\" \
             data-text=\"Verified on Docker 20.10.24, 2026-11-26\"></div>"
        )
    }

    // A verified block is published without attributes or `?` lines, language kept, with its badge.
    #[test]
    fn verified_block_is_cleaned_and_badged() {
        let md = "# T\n\n```console,timeout=5s,id=x\n$ false\n? 1\n$ echo hi\nhi\n```\n\nAfter.\n";
        let dir = snapshots(
            md,
            &[(
                "$ false\n? 1\n$ echo hi\nhi",
                "$ false\n? 1\n$ echo hi\nhi\n",
            )],
        );
        let r = replay(md, dir.path());
        assert_eq!(r.problems, []);
        assert_eq!(r.verified, 1);
        assert_eq!(
            r.content,
            format!(
                "{}# T\n\n```console\n$ false\n$ echo hi\nhi\n```\n{}\n\n\nAfter.\n",
                assets(),
                badge_for("2c,2c,0o")
            )
        );
    }

    // A block that runs with powers beyond the sandbox tells readers which, in its badge; others do not.
    #[test]
    fn a_block_with_extra_powers_says_so() {
        let md = "```console,allow=\"pid-host cap-add\"\n$ echo hi\nhi\n```\n";
        let dir = snapshots(md, &[("$ echo hi\nhi", "$ echo hi\nhi\n")]);
        let r = replay(md, dir.path());
        assert_eq!(r.problems, []);
        let note = "<span class=\"docktest-powers\" title=\"This example asks Docker for more than an ordinary \
                    container gets\" data-text=\"needs extra powers: pid-host, cap-add\"></span></div>";
        assert!(
            r.content.contains(&format!(
                "```console\n$ echo hi\nhi\n```\n{}{note}",
                badge_for("2c,0o").strip_suffix("</div>").unwrap()
            )),
            "{}",
            r.content
        );
        let plain = "```console\n$ echo hi\nhi\n```\n";
        let dir = snapshots(plain, &[("$ echo hi\nhi", "$ echo hi\nhi\n")]);
        assert!(!replay(plain, dir.path())
            .content
            .contains("class=\"docktest-powers\""));
    }

    // Where the page wrote `...` or `[..]`, readers see what really ran (unredacted); other lines stay.
    #[test]
    fn real_output_replaces_wildcards() {
        let md = "```console\n$ docker inspect web\n<!DOCTYPE html>\n...\n<h1>Welcome</h1>\nip [..]\n```\n";
        let body =
            "$ docker inspect web\n<!DOCTYPE html>\n<html>\n<head>\n<h1>Welcome</h1>\nip [IP1]/16";
        let raw = "$ docker inspect web\n<!DOCTYPE html>\n<html>\n<head>\n<h1>Welcome</h1>\nip 172.18.0.2/16\n";
        let dir = snapshots(md, &[(body, raw)]);
        let r = replay_text(md, dir.path(), true);
        assert_eq!(r.problems, []);
        assert!(
            r.content.starts_with(
                "```console\n$ docker inspect web\n<!DOCTYPE html>\n<html>\n<head>\n<h1>Welcome</h1>\nip 172.18.0.2/16\n```\n"
            ),
            "{}",
            r.content
        );
        let r = replay_text(md, dir.path(), false);
        assert!(
            r.content
                .starts_with("```console\n$ docker inspect web\n<!DOCTYPE html>\n...\n"),
            "{}",
            r.content
        );
    }

    // Regression: real output under a `...` that ends at a `^C` showed the transcript's `^C` mark as output,
    // so readers saw `^C` twice.
    #[test]
    fn real_output_under_an_interrupt_shows_one_ctrl_c() {
        let md = "```console\n$ ping web\nPING web\n...\n^C\n--- web ping statistics ---\n```\n";
        let transcript =
            "$ ping web\nPING web\n64 bytes from web\n^C\n--- web ping statistics ---\n";
        let dir = snapshots(md, &[(transcript, transcript)]);
        let r = replay_text(md, dir.path(), true);
        assert_eq!(r.problems, []);
        assert!(
            r.content.starts_with(
                "```console\n$ ping web\nPING web\n64 bytes from web\n^C\n--- web ping statistics ---\n```\n"
            ),
            "{}",
            r.content
        );
    }

    // Real output revealed under a wildcard speaks of the values the page shows, not of the run's.
    #[test]
    fn real_output_keeps_the_page_values() {
        let md = "```console\n$ inspect\n172.18.0.2\n```\n\n```console\n$ ping web\nPING web (172.18.0.2)\n...\n```\n";
        let dir = snapshots(
            md,
            &[
                ("$ inspect\n[IP1]", "$ inspect\n192.168.16.2\n"),
                (
                    "$ ping web\nPING web ([IP1])\n64 bytes from [IP1]: seq=0 ttl=64 time=[TIME]\nfrom [IP2]",
                    "$ ping web\nPING web (192.168.16.2)\n64 bytes from 192.168.16.2: seq=0 ttl=64 time=0.1 ms\nfrom 192.168.16.9\n",
                ),
            ],
        );
        let r = replay_text(md, dir.path(), true);
        assert_eq!(r.problems, []);
        assert!(
            r.content.contains(
                "PING web (172.18.0.2)\n64 bytes from 172.18.0.2: seq=0 ttl=64 time=0.1 ms\nfrom 192.168.16.9\n```"
            ),
            "{}",
            r.content
        );
    }

    // Hidden and teardown blocks run but are not published; an ignored block shows its reason.
    #[test]
    fn hidden_teardown_and_ignored_blocks() {
        let md = "```console,hidden\n$ echo setup\n```\n\n```console,ignore=\"needs a registry\"\n$ docker pull x\n```\n\n\
                  ```console,teardown\n$ echo bye\n```\n";
        let dir = snapshots(
            md,
            &[
                ("$ echo setup\nsetup", ""),
                ("", ""),
                ("$ echo bye\nbye", ""),
            ],
        );
        let r = replay(md, dir.path());
        assert_eq!(r.problems, []);
        assert_eq!(
            r.content,
            format!(
                "{}\n\n```console\n$ docker pull x\n```\n\
                 <div class=\"docktest-badge docktest-ignored\" role=\"note\" data-dt=\"2c\" \
                 data-text=\"Not run: needs a registry\"></div>\n\n\n\n",
                assets()
            )
        );
    }

    // No snapshot, a changed command, a changed output, a changed status: each names file:line.
    #[test]
    fn unverified_blocks_name_file_and_line() {
        let md = "```console\n$ echo a\na\n```\n\n```console\n$ echo b\nb\n```\n\n```console\n$ echo c\nc\n$ true\n```\n";
        let dir = snapshots(
            md,
            &[
                ("$ echo a\na", ""),
                ("$ echo b\nb", ""),
                ("$ echo c\nC\n$ true\n? 1", ""),
            ],
        );
        std::fs::remove_file(dir.path().join("src-p__top-1.snap")).unwrap();
        let edited = md.replace("$ echo b", "$ echo B");
        let r = replay(&edited, dir.path());
        let shown: Vec<String> = r
            .problems
            .iter()
            .map(|p| {
                p.to_string()
                    .lines()
                    .next()
                    .unwrap()
                    .replace(&dir.path().display().to_string(), "DIR")
            })
            .collect();
        assert_eq!(
            shown,
            [
                "src/p.md:1: not verified: no snapshot DIR/src-p__top-1.snap",
                "src/p.md:6: stale: the commands changed since snapshot DIR/src-p__top-2.snap was taken",
                "src/p.md:12: stale: the output no longer matches snapshot DIR/src-p__top-3.snap (- page, + snapshot)",
                "src/p.md:14: stale: the page expects success, snapshot DIR/src-p__top-3.snap recorded exit status 1",
            ]
        );
        assert!(
            r.problems[2].to_string().contains("\n    -c\n    +C"),
            "{}",
            r.problems[2]
        );
        assert_eq!(r.verified, 0);
        assert!(r.content.contains("docktest-unverified"));
    }

    // Equalities hold across a page's blocks, as in `test`: one address shown twice must be one address.
    #[test]
    fn bindings_span_the_page() {
        let md = "```console\n$ a\n172.18.0.2\n```\n\n```console\n$ b\n172.18.0.2\n```\n";
        let dir = snapshots(md, &[("$ a\n[IP1]", ""), ("$ b\n[IP2]", "")]);
        let r = replay(md, dir.path());
        assert_eq!(r.problems.len(), 1);
        assert_eq!(r.problems[0].line, 7);
    }

    // A block in a list item or a block quote keeps its container around every line, badge included.
    #[test]
    fn fences_in_containers_keep_their_prefix() {
        let md = "1. Run:\n\n   ```console,id=a\n   $ echo hi\n   hi\n   ```\n\n> ```console,id=b\n> $ echo x\n> x\n> ```\n";
        let dir = snapshots(md, &[("$ echo hi\nhi", ""), ("$ echo x\nx", "")]);
        let r = replay(md, dir.path());
        assert_eq!(r.problems, []);
        assert!(
            r.content.starts_with(&format!(
                "{}1. Run:\n\n   ```console\n   $ echo hi\n   hi\n   ```\n   {}\n\n",
                assets(),
                badge_for("2c,0o")
            )),
            "{}",
            r.content
        );
        assert!(
            r.content.contains(&format!(
                "> ```console\n> $ echo x\n> x\n> ```\n> {}\n>\n",
                badge_for("2c,0o")
            )),
            "{}",
            r.content
        );
    }

    // Renderers other than HTML get the badge as Markdown text.
    #[test]
    fn text_badge_for_other_renderers() {
        let md = "```console\n$ echo hi\nhi\n```\n";
        let dir = snapshots(md, &[("$ echo hi\nhi", "")]);
        let options = ReplayOptions {
            snapshot_dir: dir.path().into(),
            prompts: Prompts::default(),
            bare_commands: false,
            real_output: true,
            format: BadgeFormat::Text,
            matrix: Vec::new(),
        };
        let r = replay_page(Path::new("src/p.md"), md, None, &options).unwrap();
        assert!(
            r.content
                .contains("```\n*Verified on Docker 20.10.24, 2026-11-26*\n"),
            "{}",
            r.content
        );
    }

    /// The text badge of the only block of `md`, replayed on the book's matrix of Docker 20.10 and 26.1.
    fn matrix_badge(md: &str, dir: &Path) -> String {
        let options = ReplayOptions {
            snapshot_dir: dir.into(),
            prompts: Prompts::default(),
            bare_commands: false,
            real_output: true,
            format: BadgeFormat::Text,
            matrix: vec!["docker-20.10".into(), "docker-26.1".into()],
        };
        let r = replay_page(Path::new("src/p.md"), md, None, &options).unwrap();
        r.content
            .lines()
            .find(|l| l.starts_with('*'))
            .unwrap_or_default()
            .to_string()
    }

    // The badge names every engine a block was verified on: the shared snapshot's, each kind that matched it
    // (its verified_on) and each whose own snapshot verifies; a kind of the matrix that did not is named too.
    #[test]
    fn badge_names_every_engine_of_the_matrix() {
        let md = "```console\n$ echo hi\nhi\n```\n";
        let dir = snapshots(md, &[("$ echo hi\nhi", "")]);
        assert_eq!(
            matrix_badge(md, dir.path()),
            "*Verified on Docker 20.10.24, 2026-11-26; not verified on Docker 26.1*"
        );
        let name = snapshot::path(dir.path(), "src-p__top-1");
        let engine = "Docker 26.1.5+dfsg1 (API 1.45)";
        snapshot::mark_verified(dir.path(), "src-p__top-1", "docker-26.1", Some(engine)).unwrap();
        assert_eq!(
            matrix_badge(md, dir.path()),
            "*Verified on Docker 20.10.24 and Docker 26.1.5, 2026-11-26*"
        );

        // Where 26.1 printed something else that the page's output still matches, its own snapshot counts.
        snapshot::mark_verified(dir.path(), "src-p__top-1", "docker-26.1", None).unwrap();
        let mut stored = snapshot::read(&name).unwrap().unwrap();
        stored.meta.engine = engine.into();
        let own = snapshot::path(
            dir.path(),
            &snapshot::engine_name("src-p__top-1", "docker-26.1"),
        );
        std::fs::write(&own, snapshot::render(&stored.meta, "$ echo hi\nhi")).unwrap();
        assert_eq!(
            matrix_badge(md, dir.path()),
            "*Verified on Docker 20.10.24 and Docker 26.1.5, 2026-11-26*"
        );
        // ... and not when the page's output does not match it.
        std::fs::write(&own, snapshot::render(&stored.meta, "$ echo hi\nho")).unwrap();
        assert_eq!(
            matrix_badge(md, dir.path()),
            "*Verified on Docker 20.10.24, 2026-11-26; not verified on Docker 26.1*"
        );
    }

    // Regression: `mdbook build` failed on the guide's Podman twins ("the page shows 172.18.0.2 and 10.89.0.1
    // as different addresses, but the run showed [IP1] for both"): a twin's snapshot numbers its placeholders
    // from Podman's run, and was replayed against the bindings of the Docker blocks before it.
    #[test]
    fn a_twin_for_another_kind_replays_on_its_own_bindings() {
        let md = "```console,engines=\"!podman\"\n$ show a\n172.18.0.2\n```\n\n\
                  ```console,engines=podman,id=twin\n$ show b\n10.89.0.1\n```\n";
        let dir = snapshots(md, &[("$ show a\n[IP1]", ""), ("$ show b\n[IP1]", "")]);
        let options = ReplayOptions {
            snapshot_dir: dir.path().into(),
            prompts: Prompts::default(),
            bare_commands: false,
            real_output: false,
            format: BadgeFormat::Text,
            matrix: vec!["docker-20.10".into(), "podman".into()],
        };
        let r = replay_page(Path::new("src/p.md"), md, None, &options).unwrap();
        assert_eq!(r.verified, 2, "{}", r.content);
        assert!(r.problems.is_empty(), "{}", r.content);
    }

    // A block for some engines only tells the reader which, and is not missed on the others.
    #[test]
    fn engines_attribute_is_a_note_for_the_reader() {
        let md = "```console,engines=\"docker>=23\"\n$ echo hi\nhi\n```\n";
        let dir = snapshots(md, &[("$ echo hi\nhi", "")]);
        let name = snapshot::path(dir.path(), "src-p__top-1");
        let mut stored = snapshot::read(&name).unwrap().unwrap();
        stored.meta.engine = "Docker 26.1.5+dfsg1 (API 1.45)".into();
        std::fs::write(&name, snapshot::render(&stored.meta, &stored.body)).unwrap();
        assert_eq!(
            matrix_badge(md, dir.path()),
            "*On Docker 23 and later. Verified on Docker 26.1.5, 2026-11-26*"
        );
        let podman = "```console,engines=podman\n$ echo hi\nhi\n```\n";
        assert_eq!(
            matrix_badge(podman, dir.path()),
            "*On Podman. Not run: not verified on this book's engines (Docker 20.10 and Docker 26.1)*"
        );
        let html = replay(md, dir.path()).content;
        assert!(
            html.contains(
                "data-text=\"On Docker 23 and later. Verified on Docker 26.1.5, 2026-11-26\"></div>"
            ),
            "{html}"
        );
    }

    // Real output holding a fence line gets a longer fence.
    #[test]
    fn fence_outgrows_backticks_in_output() {
        let md = "```console\n$ cat doc.md\n...\n```\n";
        let dir = snapshots(
            md,
            &[("$ cat doc.md\n```sh\n```", "$ cat doc.md\n```sh\n```\n")],
        );
        let r = replay_text(md, dir.path(), true);
        assert!(
            r.content
                .starts_with("````console\n$ cat doc.md\n```sh\n```\n````\n"),
            "{}",
            r.content
        );
    }

    // After `{{#include}}` the chapter's lines differ from its file's: problems name the file's lines.
    #[test]
    fn lines_map_back_to_the_file() {
        let content = "# T\n\nincluded\nlines\n\n```console\n$ echo a\na\n```\n";
        let source = "# T\n\n{{#include x.md}}\n\n```console\n$ echo a\na\n```\n";
        let dir = tempfile::tempdir().unwrap();
        let options = ReplayOptions {
            snapshot_dir: dir.path().into(),
            prompts: Prompts::default(),
            bare_commands: false,
            real_output: true,
            format: BadgeFormat::Html,
            matrix: Vec::new(),
        };
        let r = replay_page(Path::new("src/p.md"), content, Some(source), &options).unwrap();
        assert_eq!(r.problems[0].line, 5);
    }

    /// What a reader pastes from a published block: its fence's lines with the badge's roles applied as
    /// docktest's script applies them (prompts and untyped lines left out, as the copy button leaves them).
    fn commands_of(published: &str) -> String {
        let fence = &published[published.find("```console\n").unwrap() + "```console\n".len()..];
        let lines: Vec<&str> = fence[..fence.find("\n```\n").unwrap()]
            .split('\n')
            .collect();
        let roles = &published[published.find("data-dt=\"").unwrap() + "data-dt=\"".len()..];
        let roles: Vec<&str> = roles[..roles.find('"').unwrap()].split(',').collect();
        assert_eq!(lines.len(), roles.len(), "one role per line");
        let mut out = String::new();
        for (line, role) in lines.iter().zip(roles) {
            if role.ends_with('c') {
                let prompt: usize = role.trim_end_matches('c').parse().unwrap();
                let units: Vec<u16> = line.encode_utf16().skip(prompt).collect();
                out.push_str(&String::from_utf16(&units).unwrap());
                out.push('\n');
            }
        }
        out
    }

    // A session block keeps mdBook's fence, and its badge says what each line is: the prompt's length and
    // whether the rest is typed, so that leaving prompts and untyped lines out gives exactly the commands,
    // in order, continuation lines and the container's commands included. Prompt lengths count UTF-16 units,
    // as the browser does. A chapter with a published block carries docktest's style and script once.
    #[test]
    fn roles_leave_exactly_the_commands() {
        let md = "# S\n\n```console\n$ docker run -dit --name c alpine\n$ docker attach c\n/ #\n/ # echo \"<a & b>\"\n\
                  <a & b>\n/ # CTRL+p CTRL+q\n$ printf '%s\\n' one \\\n>   two\none\n\ntwo\n```\n\n```console\n$ true\n```\n";
        let transcript =
            "$ docker run -dit --name c alpine\n$ docker attach c\n/ # echo \"<a & b>\"\n<a & b>\n\
                          / # CTRL+p CTRL+q\n$ printf '%s\\n' one \\\n>   two\none\n\ntwo";
        let dir = snapshots(md, &[(transcript, ""), ("$ true", "")]);
        let r = replay(md, dir.path());
        assert_eq!(r.problems, []);
        let page = r.content.strip_prefix(assets()).expect("assets first");
        assert_eq!(
            page.matches("<script>").count(),
            0,
            "assets once per chapter"
        );
        let first = &page[..page.find("</div>").unwrap()];
        assert!(
            first.contains(" data-dt=\"2c,2c,3o,4c,0o,4o,2c,2c,0o,0o,0o\""),
            "{first}"
        );
        assert_eq!(
            commands_of(first),
            "docker run -dit --name c alpine\ndocker attach c\necho \"<a & b>\"\nprintf '%s\\n' one \\\n  two\n"
        );
        assert_eq!(
            encode_roles(&[(
                "ü@h:~$ ls".to_string(),
                LineRole {
                    prompt: "ü@h:~$ ".len(),
                    command: true
                }
            )]),
            "7c"
        );
    }

    // The style and script every chapter carries are small: no comments, no indentation, one line (the
    // Markdown HTML block the script opens ends on the line holding `</script>`).
    #[test]
    fn assets_are_compact() {
        let assets = assets();
        assert!(!assets.contains("/*") && !assets.contains("  "), "{assets}");
        assert_eq!(assets.trim_end().lines().count(), 1, "{assets}");
        assert!(assets.starts_with("<script>") && assets.ends_with("</style>\n\n"));
        // The badges' marks and the rule that draws their words are here rather than in every badge.
        assert!(assets.len() < 3100, "{} bytes", assets.len());
        assert_eq!(
            compact("a {\n  b: c; /* why */\n}\n/* x\n y */\nd\n"),
            "a {b: c;}d"
        );
    }

    // mdBook versions: same minor is fine, another minor gets a warning.
    #[test]
    fn version_check() {
        assert_eq!(version_warning(mdbook_preprocessor::MDBOOK_VERSION), None);
        assert!(version_warning("0.4.40").is_some());
    }
}
