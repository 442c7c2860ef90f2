//! One insta-format `.snap` per runnable block, and the transcript format it holds.
//!
//! The body is the block's redacted transcript, written in the page's own grammar (prompt, command,
//! output, `? N`), so a snapshot reads like the block it checks. `Transcript` writes it (the runner) and
//! `read_transcript` reads it back (the preprocessor); nothing else knows the layout. The header's `info`
//! carries what the preprocessor needs to replay the block without an engine: the engine version, a hash of
//! the block's commands and the date of the run. insta compares bodies only, so a new engine version or date
//! alone never makes a snapshot pending.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::snippet::{self, Block, Page, Prompt, Step};

pub mod topology;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write snapshot {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not an insta snapshot: {what}")]
    Malformed { path: PathBuf, what: String },
}

/// What a snapshot says about the run it recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Meta {
    /// The block, as `src/page.md:LINE`.
    pub block: String,
    /// `Docker 20.10.24+dfsg1 (API 1.41)`
    pub engine: String,
    /// See [`command_hash`].
    pub commands: String,
    /// `YYYY-MM-DD` of the run.
    pub date: String,
    /// The same transcript before redaction: the real values readers are shown where the page wrote
    /// wildcards. Kept in the header because insta does not compare it.
    pub raw: String,
    /// The other kinds of the book's matrix whose run matched this same snapshot, as `KIND: ENGINE`
    /// (`docker-26.1: Docker 26.1.5+dfsg1 (API 1.45)`): written by an author's run ([`mark_verified`]),
    /// read by the badge. A snapshot accepted anew starts without it, as no other kind has matched it yet.
    pub verified_on: Vec<String>,
}

/// A stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stored {
    pub meta: Meta,
    pub body: String,
}

/// How a run's transcript compares with the stored snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Check {
    Matches,
    /// No snapshot yet.
    New,
    /// The stored body differs.
    Changed {
        stored: String,
    },
    /// The body is the same, but the block's commands (or its terminal) changed since it was taken: the
    /// preprocessor calls such a snapshot stale, so the run must offer a fresh one.
    CommandsChanged,
}

/// Stable snapshot names: `page__id` with `id=`, else `page__heading-N`, N counting the page's blocks under
/// that heading. Adding a block under another heading renames nothing.
pub fn names(page: &Page) -> Vec<String> {
    let page_slug = slug(&page.path.with_extension("").to_string_lossy());
    let mut seen: Vec<(String, usize)> = Vec::new();
    page.blocks
        .iter()
        .map(|block| {
            if let Some(id) = &block.attrs.id {
                return format!("{page_slug}__{}", slug(id));
            }
            let heading = slug(block.heading.as_deref().unwrap_or("top"));
            let n = match seen.iter_mut().find(|(h, _)| *h == heading) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    seen.push((heading.clone(), 1));
                    1
                }
            };
            format!("{page_slug}__{heading}-{n}")
        })
        .collect()
}

/// Lowercase ASCII letters and digits, everything else collapsed into single `-`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "block".to_string()
    } else {
        out
    }
}

/// A short hash of what the block types: its prompts and command lines, in order. A changed command makes
/// the snapshot stale; a changed expected output does not.
pub fn command_hash(block: &Block) -> String {
    let mut h = Sha256::new();
    h.update(block.lang.as_bytes());
    h.update(block.attrs.term.as_bytes());
    for step in &block.steps {
        h.update([0]);
        h.update(prompt_text(step).as_bytes());
        for line in &step.input {
            h.update([1]);
            h.update(line.as_bytes());
        }
    }
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The prompt as the page writes it.
pub(crate) fn prompt_text(step: &Step) -> &str {
    match &step.prompt {
        Prompt::Host => "$ ",
        Prompt::Container(p) => p,
    }
}

/// The prompt a step shows in transcripts: the page's own text (not what the container printed), with a
/// container ID in it redacted like any ID (`root@a4588eb79a13:/# ` → `root@[ID1]:/# `): the page copied it
/// from some earlier run.
fn shown_prompt(step: &Step) -> String {
    match &step.prompt {
        Prompt::Host => "$ ".to_string(),
        Prompt::Container(p) => crate::redact::Redactor::new().redact(p),
    }
}

/// The typed lines of a step with their prompt, continuation lines marked `> ` as bash shows them.
pub(crate) fn command_lines(step: &Step) -> String {
    let mut out = String::new();
    for (i, line) in step.input.iter().enumerate() {
        if i == 0 {
            out.push_str(&shown_prompt(step));
        } else {
            out.push_str("> ");
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// How one command ended, as a transcript records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// It returned this exit status (`? N` when not 0).
    Code(i32),
    /// `? timeout after 2s`: it was killed at its timeout.
    Timeout(String),
}

impl Recorded {
    /// The exit status, if the command returned one.
    pub fn code(&self) -> Option<i32> {
        match self {
            Recorded::Code(n) => Some(*n),
            Recorded::Timeout(_) => None,
        }
    }
}

/// A block's transcript being written, command by command: the prompt and command lines, the output as
/// the terminal showed it (with `^C` where the interrupt went out, as the page writes it), and the exit
/// status when it was not 0.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transcript(String);

impl Transcript {
    /// The typed lines of `step`, as [`command_lines`] writes them.
    pub fn command(&mut self, step: &Step) {
        self.0.push_str(&command_lines(step));
    }

    /// What `step` printed, already normalized.
    pub fn output(&mut self, step: &Step, text: &str) {
        let text = match step.interrupt_after {
            Some(n) => with_interrupt_mark(text, n),
            None => text.to_string(),
        };
        self.0.push_str(&text);
        if !text.is_empty() && !text.ends_with('\n') {
            self.0.push('\n');
        }
    }

    /// How the command ended; a success is not written.
    pub fn ended(&mut self, how: &Recorded) {
        match how {
            Recorded::Code(0) => {}
            Recorded::Code(n) => self.0.push_str(&format!("? {n}\n")),
            Recorded::Timeout(after) => self.0.push_str(&format!("? timeout after {after}\n")),
        }
    }

    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `text` with a `^C` line after its first `n` lines, when it has that many.
fn with_interrupt_mark(text: &str, n: usize) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    let mut lines = text.split_inclusive('\n');
    for line in lines.by_ref().take(n) {
        out.push_str(line);
    }
    if out.ends_with('\n') || (n == 0) {
        out.push_str("^C\n");
    }
    out.extend(lines);
    out
}

/// One command's part of a transcript that was read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RecordedStep {
    /// Its output lines, without the `^C` mark.
    pub output: Vec<String>,
    pub ended: Recorded,
}

/// Splits a transcript (a snapshot's body, or the raw one in its header) into the block's commands. Stops
/// where the transcript stops following the block's commands (its run stopped early).
pub(crate) fn read_transcript(block: &Block, text: &str) -> Vec<RecordedStep> {
    let lines: Vec<&str> = text.lines().collect();
    let commands: Vec<Vec<String>> = block
        .steps
        .iter()
        .map(|s| {
            command_lines(s)
                .lines()
                .map(|l| l.trim_end().to_string())
                .collect()
        })
        .collect();
    let starts_at = |cmd: &[String], at: usize| {
        cmd.iter()
            .enumerate()
            .all(|(i, c)| lines.get(at + i).is_some_and(|l| l.trim_end() == c))
    };
    let mut steps = Vec::new();
    let mut pos = 0;
    for (i, (step, cmd)) in block.steps.iter().zip(&commands).enumerate() {
        if !starts_at(cmd, pos) {
            break;
        }
        pos += cmd.len();
        let end = commands
            .get(i + 1)
            .and_then(|next| (pos..=lines.len()).find(|&at| starts_at(next, at)))
            .unwrap_or(lines.len());
        let mut output: Vec<String> = lines[pos..end]
            .iter()
            .filter(|l| step.interrupt_after.is_none() || **l != "^C")
            .map(|l| l.to_string())
            .collect();
        let ended = match output.last().and_then(|l| parse_ended(l)) {
            Some(ended) => {
                output.pop();
                ended
            }
            None => Recorded::Code(0),
        };
        steps.push(RecordedStep { output, ended });
        pos = end;
    }
    steps
}

fn parse_ended(line: &str) -> Option<Recorded> {
    if !snippet::is_status_line(line) {
        return None;
    }
    let rest = line.trim_end().strip_prefix("? ")?;
    if let Some(after) = rest.strip_prefix("timeout after ") {
        return Some(Recorded::Timeout(after.to_string()));
    }
    rest.parse().ok().map(Recorded::Code)
}

/// The snapshot file of `name` in `dir`.
pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.snap"))
}

/// The name of a block's snapshot for one engine kind of the book's matrix, kept only where that engine's
/// transcript differs from the book's first kind: insta's own `NAME@SUFFIX` form, so review and accept
/// treat it as any snapshot.
pub fn engine_name(name: &str, kind: &str) -> String {
    format!("{name}@{}", slug(kind))
}

/// The pending file `mdbook-docktest review` and insta's review look for.
pub(crate) fn pending_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.snap.new"))
}

/// A pending snapshot: a `.snap.new` waiting for review, written by `mdbook-docktest test` or by insta.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The snapshot's name, the file name without `.snap.new`.
    pub name: String,
    /// The `.snap.new` file.
    pub path: PathBuf,
    /// The `.snap` it would replace (which may not exist yet).
    pub accepted_path: PathBuf,
}

impl Pending {
    /// The new snapshot's header and body.
    pub fn read_new(&self) -> Result<(Meta, String), SnapshotError> {
        let stored = read(&self.path)?.ok_or_else(|| SnapshotError::Read {
            path: self.path.clone(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        Ok((stored.meta, stored.body))
    }

    /// The body of the snapshot it would replace; `None` for a new one.
    pub fn read_accepted(&self) -> Result<Option<String>, SnapshotError> {
        Ok(read(&self.accepted_path)?.map(|s| s.body))
    }
}

/// The pending snapshots of `dir`, by name; none when the folder does not exist yet.
pub fn pending(dir: &Path) -> Result<Vec<Pending>, SnapshotError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(SnapshotError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| SnapshotError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".snap.new")) else {
            continue;
        };
        found.push(Pending {
            name: name.to_string(),
            path: entry.path(),
            accepted_path: path(dir, name),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Accepts a pending snapshot as insta does: the `.snap.new` becomes the `.snap`, without the
/// `assertion_line` insta keeps only for review.
///
/// An engine kind's own snapshot (`NAME@KIND`) that says what the shared `NAME` now says is not kept: the
/// shared one serves that kind (every kind of a matrix wrote its own pending file when a block's commands
/// changed, all alike). Accept the shared one first; `pending` lists it first.
pub fn accept(pending: &Pending) -> Result<Accepted, SnapshotError> {
    if let Some((shared, _)) = pending.name.rsplit_once('@') {
        let shared_path = pending
            .accepted_path
            .with_file_name(format!("{shared}.snap"));
        if let (Some(shared), (meta, body)) = (read(&shared_path)?, pending.read_new()?) {
            if shared.body == body && shared.meta.commands == meta.commands {
                let remove = |path: &Path| match std::fs::remove_file(path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        Err(SnapshotError::Write {
                            path: path.to_path_buf(),
                            source: e,
                        })
                    }
                    _ => Ok(()),
                };
                remove(&pending.accepted_path)?;
                remove(&pending.path)?;
                return Ok(Accepted::SameAsShared);
            }
        }
    }
    let text = std::fs::read_to_string(&pending.path).map_err(|source| SnapshotError::Read {
        path: pending.path.clone(),
        source,
    })?;
    let text = without_assertion_line(&text);
    std::fs::write(&pending.accepted_path, text).map_err(|source| SnapshotError::Write {
        path: pending.accepted_path.clone(),
        source,
    })?;
    reject(pending)?;
    Ok(Accepted::Stored)
}

/// What [`accept`] did with a pending snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// It is the snapshot now.
    Stored,
    /// An engine kind's own that says what the shared snapshot says: removed, with any older own one.
    SameAsShared,
}

/// Rejects a pending snapshot: the `.snap.new` is removed, the `.snap` kept as it was.
pub fn reject(pending: &Pending) -> Result<(), SnapshotError> {
    std::fs::remove_file(&pending.path).map_err(|source| SnapshotError::Write {
        path: pending.path.clone(),
        source,
    })
}

/// `text` without the header's top-level `assertion_line:` key; every other byte kept.
fn without_assertion_line(text: &str) -> String {
    let Some(header_len) = text
        .strip_prefix("---\n")
        .and_then(|rest| rest.find("\n---\n"))
        .map(|end| end + 5)
    else {
        return text.to_string();
    };
    let (header, body) = text.split_at(header_len);
    let header: String = header
        .split_inclusive('\n')
        .filter(|line| !line.starts_with("assertion_line:"))
        .collect();
    header + body
}

/// Reads a stored snapshot; `Ok(None)` when there is none.
pub(crate) fn read(path: &Path) -> Result<Option<Stored>, SnapshotError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(SnapshotError::Read {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    parse(&text)
        .map(Some)
        .map_err(|what| SnapshotError::Malformed {
            path: path.to_path_buf(),
            what,
        })
}

/// Compares a transcript with the stored snapshot the way insta does (trailing whitespace of the whole
/// body ignored, CRLF as LF).
pub(crate) fn check(stored: Option<&Stored>, body: &str, commands: &str) -> Check {
    match stored {
        None => Check::New,
        Some(s) if normalize(&s.body) == normalize(body) && s.meta.commands != commands => {
            Check::CommandsChanged
        }
        Some(s) if normalize(&s.body) == normalize(body) => Check::Matches,
        Some(s) => Check::Changed {
            stored: s.body.clone(),
        },
    }
}

/// Checks, before anything runs, that pending snapshots can be written to `dir` (creating it if needed), so
/// a run does not end with results it cannot keep.
pub(crate) fn check_writable(dir: &Path) -> Result<(), SnapshotError> {
    let probe = dir.join(".docktest-write-check");
    let write_err = |source| SnapshotError::Write {
        path: probe.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    std::fs::write(&probe, b"").map_err(write_err)?;
    std::fs::remove_file(&probe).map_err(write_err)
}

/// Writes `body` as a pending `.snap.new`, for `mdbook-docktest review` (or `cargo insta review`).
pub(crate) fn write_pending(
    dir: &Path,
    name: &str,
    meta: &Meta,
    body: &str,
) -> Result<PathBuf, SnapshotError> {
    let path = pending_path(dir, name);
    let write_err = |source| SnapshotError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(write_err)?;
    std::fs::write(&path, render(meta, body)).map_err(write_err)?;
    Ok(path)
}

/// The file insta would write for this snapshot.
pub(crate) fn render(meta: &Meta, body: &str) -> String {
    // Only where other kinds matched, so that a book without a matrix sees no new line.
    let verified_on = if meta.verified_on.is_empty() {
        String::new()
    } else {
        format!(
            "  verified_on: {}\n",
            yaml_str(&meta.verified_on.join("\n"))
        )
    };
    // insta names the test file that asserted a snapshot; here that is the page the block is on.
    let source = meta
        .block
        .rsplit_once(':')
        .map_or(meta.block.as_str(), |(file, _)| file);
    format!(
        "---\nsource: {}\ninfo:\n  block: {}\n  engine: {}\n  commands: {}\n  date: {}\n  raw: {}\n{verified_on}---\n{}\n",
        yaml_str(source),
        yaml_str(&meta.block),
        yaml_str(&meta.engine),
        yaml_str(&meta.commands),
        yaml_str(&meta.date),
        yaml_str(&meta.raw),
        normalize(body)
    )
}

/// Records in the accepted snapshot `name` that the matrix kind `kind` matched it on `engine`, or with
/// `None` that it no longer does. Writes only when that changes the file, so a run that matched as before
/// leaves it as it was; the change shows in the book's diff like any snapshot change.
pub(crate) fn mark_verified(
    dir: &Path,
    name: &str,
    kind: &str,
    engine: Option<&str>,
) -> Result<(), SnapshotError> {
    let path = path(dir, name);
    let Some(mut stored) = read(&path)? else {
        return Ok(());
    };
    let prefix = format!("{kind}: ");
    let mut list: Vec<String> = stored
        .meta
        .verified_on
        .iter()
        .filter(|e| !e.starts_with(&prefix))
        .cloned()
        .collect();
    if let Some(engine) = engine {
        list.push(format!("{prefix}{engine}"));
        list.sort();
    }
    if list == stored.meta.verified_on {
        return Ok(());
    }
    stored.meta.verified_on = list;
    std::fs::write(&path, render(&stored.meta, &stored.body)).map_err(|source| {
        SnapshotError::Write {
            path: path.clone(),
            source,
        }
    })
}

/// The kinds and engines of a snapshot's `verified_on`: (`docker-26.1`, `Docker 26.1.5+dfsg1 (API 1.45)`).
pub fn verified_on(meta: &Meta) -> Vec<(&str, &str)> {
    meta.verified_on
        .iter()
        .filter_map(|e| e.split_once(": "))
        .collect()
}

fn normalize(body: &str) -> String {
    body.replace("\r\n", "\n").trim_end().to_string()
}

/// A YAML double-quoted scalar (always valid, whatever the text holds).
fn yaml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Undoes insta's YAML scalar styles for the flat strings docktest stores (plain, single or double quoted).
fn yaml_unquote(v: &str) -> String {
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        let mut out = String::new();
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        out.push(c);
                    }
                }
                Some(c) => out.push(c),
                None => {}
            }
        }
        out
    } else if let Some(inner) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        inner.replace("''", "'")
    } else {
        v.to_string()
    }
}

/// Parses the header keys docktest writes and the body after the second `---`.
fn parse(text: &str) -> Result<Stored, String> {
    let text = text.replace("\r\n", "\n");
    let rest = text
        .strip_prefix("---\n")
        .ok_or("missing the opening `---`")?;
    let end = rest.find("\n---\n").ok_or("missing the closing `---`")?;
    let (header, body) = (&rest[..end], &rest[end + 5..]);
    let mut meta = Meta {
        block: String::new(),
        engine: String::new(),
        commands: String::new(),
        date: String::new(),
        raw: String::new(),
        verified_on: Vec::new(),
    };
    let mut in_info = false;
    for line in header.lines() {
        if line == "info:" {
            in_info = true;
            continue;
        }
        if !line.starts_with(' ') {
            in_info = false;
            continue;
        }
        if !in_info {
            continue;
        }
        let Some((key, value)) = line.trim_start().split_once(':') else {
            continue;
        };
        let value = yaml_unquote(value);
        match key {
            "block" => meta.block = value,
            "engine" => meta.engine = value,
            "commands" => meta.commands = value,
            "date" => meta.date = value,
            "raw" => meta.raw = value,
            "verified_on" => meta.verified_on = value.lines().map(str::to_string).collect(),
            _ => {}
        }
    }
    Ok(Stored {
        meta,
        body: normalize(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snippet::{Attrs, Json, SessionChange, Status};

    fn step(input: &[&str]) -> Step {
        Step {
            line: 1,
            prompt: Prompt::Host,
            input: input.iter().map(|s| s.to_string()).collect(),
            expected: vec![],
            expected_lines: vec![],
            status: Status::Success,
            interrupt_after: None,
            session: SessionChange::None,
            json: Json::Subset,
        }
    }

    fn block(heading: Option<&str>, id: Option<&str>, cmds: &[&str]) -> Block {
        Block {
            line: 1,
            span: 0..0,
            lang: "console".into(),
            attrs: Attrs {
                id: id.map(String::from),
                ..Attrs::default()
            },
            heading: heading.map(String::from),
            info: "console".into(),
            body: vec![],
            prefix: String::new(),
            steps: cmds.iter().map(|c| step(&[c])).collect(),
            prompt_lines: vec![],
        }
    }

    // Names must not shift when a block is added under another heading.
    #[test]
    fn names_are_stable_per_heading() {
        let mut page = Page {
            path: "net/User Networks.md".into(),
            blocks: vec![
                block(Some("Create a network"), None, &["a"]),
                block(Some("Create a network"), None, &["b"]),
                block(Some("Talk by name!"), None, &["c"]),
                block(None, Some("The Id"), &["d"]),
            ],
        };
        let before = names(&page);
        assert_eq!(
            before,
            [
                "net-user-networks__create-a-network-1",
                "net-user-networks__create-a-network-2",
                "net-user-networks__talk-by-name-1",
                "net-user-networks__the-id",
            ]
        );
        page.blocks.insert(2, block(Some("Another"), None, &["x"]));
        let after = names(&page);
        assert_eq!(after[3], before[2]);
    }

    // The hash follows commands, not expected output.
    #[test]
    fn command_hash_follows_commands_only() {
        let a = block(None, None, &["docker ps"]);
        let mut b = a.clone();
        b.steps[0].expected = vec!["anything".into()];
        assert_eq!(command_hash(&a), command_hash(&b));
        let c = block(None, None, &["docker ps -a"]);
        assert_ne!(command_hash(&a), command_hash(&c));
    }

    // Regression: when a block's commands changed, every kind of the matrix wrote a pending snapshot, all
    // alike, and accepting them all stored `NAME@docker-26-1` and `NAME@podman` copies of the shared one.
    #[test]
    fn a_kinds_own_snapshot_equal_to_the_shared_one_is_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let meta = |engine: &str, commands: &str| Meta {
            block: "src/a.md:3".into(),
            engine: engine.into(),
            commands: commands.into(),
            ..Meta::default()
        };
        std::fs::write(
            path(dir.path(), "b@podman"),
            render(&meta("Podman", "old"), "x"),
        )
        .unwrap();
        write_pending(dir.path(), "b", &meta("Docker", "new"), "same").unwrap();
        write_pending(
            dir.path(),
            "b@docker-26-1",
            &meta("Docker 26", "new"),
            "same",
        )
        .unwrap();
        write_pending(dir.path(), "b@podman", &meta("Podman", "new"), "same").unwrap();
        write_pending(dir.path(), "c", &meta("Docker", "1"), "one").unwrap();
        write_pending(dir.path(), "c@podman", &meta("Podman", "1"), "other").unwrap();
        let found = pending(dir.path()).unwrap();
        let done: Vec<(&str, Accepted)> = found
            .iter()
            .map(|p| (p.name.as_str(), accept(p).unwrap()))
            .collect();
        assert_eq!(
            done,
            [
                ("b", Accepted::Stored),
                ("b@docker-26-1", Accepted::SameAsShared),
                ("b@podman", Accepted::SameAsShared),
                ("c", Accepted::Stored),
                ("c@podman", Accepted::Stored),
            ]
        );
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(left, ["b.snap", "c.snap", "c@podman.snap"]);
    }

    // What docktest writes, it must read back, whatever the strings hold.
    #[test]
    fn render_then_parse_round_trips() {
        let meta = Meta {
            block: "src/a.md:3".into(),
            engine: "Docker 20.10.24+dfsg1 (API 1.41): \"q\" \\".into(),
            commands: "0123abcd".into(),
            date: "2026-11-26".into(),
            raw: "$ echo hi\nhi \"there\"\t\\\n? 1\n".into(),
            verified_on: Vec::new(),
        };
        let body = "$ echo hi\nhi\n? 1";
        let text = render(&meta, body);
        // Its `source` is the page, not a test file of this repository's (every book's snapshots said
        // `tests/it/book.rs`).
        assert!(text.starts_with("---\nsource: \"src/a.md\"\n"), "{text}");
        assert_eq!(
            parse(&text).unwrap(),
            Stored {
                meta,
                body: body.into()
            }
        );
    }

    // insta writes plain and quoted scalars; both must parse.
    #[test]
    fn parses_insta_written_header() {
        let text = "---\nsource: tests/book.rs\nexpression: transcript\ninfo:\n  block: src/a.md:3\n  engine: Docker 20.10.24+dfsg1 (API 1.41)\n  commands: '00ff'\n  date: \"2026-11-26\"\n---\n$ true\n";
        let s = parse(text).unwrap();
        assert_eq!(s.meta.engine, "Docker 20.10.24+dfsg1 (API 1.41)");
        assert_eq!(s.meta.commands, "00ff");
        assert_eq!(s.meta.date, "2026-11-26");
        assert_eq!(s.body, "$ true");
    }

    // Accepting is what insta does: the pending file becomes the snapshot, minus the line insta keeps
    // only for review; rejecting leaves the snapshot as it was. Both leave no pending file.
    #[test]
    fn accept_and_reject_pending_snapshots() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pending(&dir.path().join("none")).unwrap(), []);
        let meta = Meta {
            block: "src/a.md:3".into(),
            ..Meta::default()
        };
        std::fs::write(path(dir.path(), "b"), render(&meta, "old")).unwrap();
        write_pending(dir.path(), "b", &meta, "new").unwrap();
        let insta_written = "---\nsource: tests/it/book.rs\nassertion_line: 68\nexpression: transcript\n---\n$ true\n";
        std::fs::write(pending_path(dir.path(), "a"), insta_written).unwrap();
        std::fs::write(dir.path().join("a.snap.new.bak"), "").unwrap();

        let found = pending(dir.path()).unwrap();
        let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(found[0].read_accepted().unwrap(), None);
        assert_eq!(found[1].read_accepted().unwrap().as_deref(), Some("old"));
        assert_eq!(found[1].read_new().unwrap().1, "new");

        assert_eq!(accept(&found[0]).unwrap(), Accepted::Stored);
        assert_eq!(
            std::fs::read_to_string(path(dir.path(), "a")).unwrap(),
            "---\nsource: tests/it/book.rs\nexpression: transcript\n---\n$ true\n"
        );
        reject(&found[1]).unwrap();
        assert_eq!(read(&path(dir.path(), "b")).unwrap().unwrap().body, "old");
        assert_eq!(pending(dir.path()).unwrap(), []);
    }

    // Trailing whitespace of the body is not a change, as in insta.
    #[test]
    fn check_ignores_trailing_whitespace() {
        let stored = Stored {
            meta: parse("---\ninfo:\n  block: x\n---\nA\n").unwrap().meta,
            body: "A".into(),
        };
        assert_eq!(check(Some(&stored), "A\n\n", ""), Check::Matches);
        assert_eq!(
            check(Some(&stored), "B", ""),
            Check::Changed { stored: "A".into() }
        );
        assert_eq!(check(None, "A", ""), Check::New);
    }

    // A block moved to another terminal kept its transcript: the run said "verified" and wrote nothing,
    // while `mdbook build` refused the snapshot as stale, its command hash being the old one.
    #[test]
    fn check_sees_changed_commands_under_an_unchanged_body() {
        let stored = Stored {
            meta: parse("---\ninfo:\n  block: x\n  commands: \"00ff\"\n---\nA\n")
                .unwrap()
                .meta,
            body: "A".into(),
        };
        assert_eq!(check(Some(&stored), "A", "00ff"), Check::Matches);
        assert_eq!(check(Some(&stored), "A", "11ee"), Check::CommandsChanged);
        assert_eq!(
            check(Some(&stored), "B", "11ee"),
            Check::Changed { stored: "A".into() }
        );
    }

    // A container ID the page's prompt shows is from the author's run, not this one: redacted.
    #[test]
    fn prompt_ids_are_redacted_in_transcripts() {
        let mut s = step(&["hostname"]);
        s.prompt = Prompt::Container("root@a4588eb79a13:/# ".into());
        assert_eq!(command_lines(&s), "root@[ID1]:/# hostname\n");
        s.prompt = Prompt::Container("/ # ".into());
        assert_eq!(command_lines(&s), "/ # hostname\n");
    }

    // The transcript layout the runner writes splits back into commands, a timeout included.
    #[test]
    fn transcripts_split_per_command() {
        let md = "```console\n$ a \\\n> b\n$ c\n$ d\n```\n";
        let page = crate::snippet::parse_page(Path::new("src/p.md"), md).unwrap();
        let steps = read_transcript(
            &page.blocks[0],
            "$ a \\\n> b\nout\n? 2\n$ c\n$ d\nx\n? timeout after 2s\n",
        );
        assert_eq!(
            steps,
            [
                RecordedStep {
                    output: vec!["out".into()],
                    ended: Recorded::Code(2)
                },
                RecordedStep {
                    output: vec![],
                    ended: Recorded::Code(0)
                },
                RecordedStep {
                    output: vec!["x".into()],
                    ended: Recorded::Timeout("2s".into())
                },
            ]
        );
    }

    // What the runner writes, the preprocessor reads back: the `^C` mark where the interrupt went out is
    // the page's notation, not output, and is shown where the page writes it.
    #[test]
    fn transcripts_read_back_what_was_written() {
        let md = "```console\n$ ping web\nPING web\n^C\n--- stats ---\n$ false\n? 1\n```\n";
        let page = crate::snippet::parse_page(Path::new("src/p.md"), md).unwrap();
        let block = &page.blocks[0];
        let mut transcript = Transcript::default();
        transcript.command(&block.steps[0]);
        transcript.output(&block.steps[0], "PING web\n--- stats ---\n");
        transcript.ended(&Recorded::Code(0));
        transcript.command(&block.steps[1]);
        transcript.output(&block.steps[1], "");
        transcript.ended(&Recorded::Code(1));
        assert_eq!(
            transcript.as_str(),
            "$ ping web\nPING web\n^C\n--- stats ---\n$ false\n? 1\n"
        );
        assert_eq!(
            read_transcript(block, transcript.as_str()),
            [
                RecordedStep {
                    output: vec!["PING web".into(), "--- stats ---".into()],
                    ended: Recorded::Code(0)
                },
                RecordedStep {
                    output: vec![],
                    ended: Recorded::Code(1)
                },
            ]
        );
    }
}
