//! Runnable blocks as steps: prompts, commands, expected output, exit statuses and fence attributes.
//!
//! Grammar (see DESIGN.md, "Snippet grammar"): a fence whose language is `console`, `sh`, `shell` or `bash`
//! and that holds a `$ ` prompt is runnable. Container prompts are prompts only while an interactive session
//! is open in that block's terminal.

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

/// Default per-command timeout when a block gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One Markdown page and its runnable blocks, in page order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// Path of the page as given to the parser (relative to the book's `src/` when it comes from a book).
    pub path: PathBuf,
    pub blocks: Vec<Block>,
}

/// A runnable fenced block.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// 1-based line of the opening fence in the page.
    pub line: usize,
    /// Byte range of the whole fence (opening to closing) in the page content.
    pub span: Range<usize>,
    /// The fence's language (`console`, `sh`, `shell`, `bash`).
    pub lang: String,
    pub attrs: Attrs,
    /// Text of the nearest heading above the block, if any (snapshot names).
    pub heading: Option<String>,
    pub steps: Vec<Step>,
}

/// Fence attributes, rustdoc style: ```` ```console,term=server,timeout=5s ````.
#[derive(Debug, Clone, PartialEq)]
pub struct Attrs {
    /// `ignore="reason"`: shown to the reader, never run.
    pub ignore: Option<String>,
    /// `hidden`: runs, is recorded, is not rendered.
    pub hidden: bool,
    /// `teardown`: hidden, and always runs at the end of the page.
    pub teardown: bool,
    /// `term=NAME`: which terminal runs the block.
    pub term: String,
    /// `timeout=DURATION`: per command.
    pub timeout: Duration,
    /// `retry=DURATION`: re-run the block until it matches, for at most this long.
    pub retry: Option<Duration>,
    /// `id=NAME`: stable snapshot name.
    pub id: Option<String>,
}

impl Default for Attrs {
    fn default() -> Self {
        Attrs {
            ignore: None,
            hidden: false,
            teardown: false,
            term: "main".to_string(),
            timeout: DEFAULT_TIMEOUT,
            retry: None,
            id: None,
        }
    }
}

/// Who reads the command: the terminal's host shell, or the shell of the container session open in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// `$ `
    Host,
    /// A container prompt as the page shows it, e.g. `/ # ` or `root@a4588eb79a13:/# `.
    Container(String),
}

/// The exit status a step claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No `?` line: the command must succeed.
    Success,
    /// `? N`
    Code(i32),
    /// `? failed`: any non-zero status.
    Failed,
}

/// One prompt line (plus its continuations) and the output the page shows under it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// 1-based line of the prompt in the page.
    pub line: usize,
    pub prompt: Prompt,
    /// The lines typed, without prompt or `> ` marker, continuation backslashes kept: typing them one by one,
    /// each followed by Enter, is what a reader does.
    pub input: Vec<String>,
    /// Expected output lines as written (may hold `...` and `[..]`), without `?` or `^C` lines.
    pub expected: Vec<String>,
    /// 1-based page lines of `expected` (same length), so errors and `--update` point at them.
    pub expected_lines: Vec<usize>,
    pub status: Status,
    /// `^C` on its own line: the number of `expected` lines shown before it; an interrupt is sent once they
    /// have appeared.
    pub interrupt_after: Option<usize>,
    /// What this step does to the terminal's container session.
    pub session: SessionChange,
}

impl Step {
    /// The command as one string, continuation lines joined with newlines (reports and snapshots).
    pub fn command(&self) -> String {
        self.input.join("\n")
    }
}

/// How a step changes the interactive session state of its terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionChange {
    None,
    /// A host command that opens an interactive container session (`docker run -it`, `docker exec -it`,
    /// `docker attach`, `docker container attach`, `docker start -ai`).
    Open,
    /// `exit` typed at a container prompt.
    Exit,
    /// `CTRL+p CTRL+q` or `^P^Q`: detach, leaving the container running.
    Detach,
}
