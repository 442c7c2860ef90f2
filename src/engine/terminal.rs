//! A page's terminal: bash on a real pseudo-terminal, typed into line by line as a reader would.
//!
//! Completion and exit status come from a private marker that bash prints from `PROMPT_COMMAND`: an OSC
//! escape sequence carrying a per-terminal nonce and `$?`. It is cut out of the output, so it never reaches a
//! transcript, and the nonce keeps a command from faking it. Echo is off and line editing is off, so what is
//! read back is exactly the commands' output.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize};

/// The terminal size readers are assumed to have.
const COLS: u16 = 120;
const ROWS: u16 = 40;

/// How long a fresh bash may take to show its first prompt.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait for the prompt after each interrupt or kill.
const INTERRUPT_GRACE: Duration = Duration::from_millis(500);

/// How long a page's `^C` may go unanswered before it is pressed once more.
const INTERRUPT_AGAIN: Duration = Duration::from_secs(1);

/// How often to look whether the command to interrupt has started.
const FOREGROUND_POLL: Duration = Duration::from_millis(20);

/// How often a wait looks at the run's cancellation.
const CANCEL_POLL: Duration = Duration::from_millis(100);

/// How long to keep killing a timed-out command's process group.
const KILL_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum TerminalError {
    #[error("cannot open a pseudo-terminal for terminal `{name}`: {message}")]
    Open { name: String, message: String },
    #[error("cannot start bash in terminal `{name}`: {message}")]
    Spawn { name: String, message: String },
    #[error("bash in terminal `{name}` did not show its prompt within {secs} s")]
    NoPrompt { name: String, secs: u64 },
    #[error("bash in terminal `{name}` exited")]
    Exited { name: String },
    #[error("cannot type into terminal `{name}`")]
    Write {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// Where and how terminals start.
#[derive(Debug, Clone)]
pub struct TerminalSetup {
    /// Working directory of every terminal of the page.
    pub cwd: PathBuf,
    /// A network namespace to join (`/var/run/netns/docktest`), so "the host" of the page is the sealed
    /// engine's host.
    pub netns: Option<PathBuf>,
    /// Extra environment (`DOCKER_HOST`).
    pub env: Vec<(String, String)>,
}

/// How a step is typed and when it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// A host command: done at the host prompt.
    Host,
    /// A host command that opens an interactive container shell (`docker run -it alpine`): done when the
    /// container's shell shows its prompt, or at the host prompt if the command returned instead.
    OpenShell,
    /// A host command that attaches to a container whose program is not a shell (`docker attach` to a
    /// `ping`): no prompt will come; done once `lines` lines of output have appeared or output pauses.
    Attach { lines: usize },
    /// A command typed at the container shell's prompt: done at its next prompt (or at the host prompt if the
    /// shell ended).
    Container,
    /// `exit` at the container prompt: done at the host prompt.
    Exit,
    /// Ctrl-P Ctrl-Q: docker's detach keys; done at the host prompt.
    Detach,
}

/// One step to run.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub kind: StepKind,
    /// Lines typed, each followed by Enter (not used for [`StepKind::Detach`]).
    pub input: Vec<String>,
    pub timeout: Duration,
    /// Send Ctrl-C once this many lines of output have appeared (`^C` on the page).
    pub interrupt_after: Option<usize>,
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct CommandResult {
    /// Raw bytes read back, markers removed, lossily decoded.
    pub output: String,
    /// `$?` after the command (the host's, or the container shell's); `None` when the terminal was lost or
    /// the step was cut short.
    pub status: Option<i32>,
    pub timed_out: bool,
    /// Set when a timed-out step inside a container could not be interrupted and its session was closed.
    pub session_closed: bool,
}

/// Which prompt a marker came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Host(i32),
    Container(i32),
}

/// The step in flight.
struct Running {
    spec: StepSpec,
    started: Instant,
    /// When the page's `^C` went out, how much output there was then, and whether it went out again.
    interrupted: Option<(Instant, usize, bool)>,
    /// Output before the container's shell was set up (what an opening command itself printed).
    opening_output: Option<String>,
}

/// How long an opening command may stay silent before its shell is taken to be waiting (`docker attach` to
/// a shell prints nothing until Enter).
const OPEN_QUIET: Duration = Duration::from_millis(300);
/// How long to wait for the first output of an opening command.
const OPEN_FIRST_OUTPUT: Duration = Duration::from_secs(2);

pub struct Terminal {
    name: String,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    chunks: Receiver<Vec<u8>>,
    /// Bytes read but not yet consumed.
    pending: Vec<u8>,
    marker: regex::bytes::Regex,
    nonce: String,
    bash_pid: Option<u32>,
    /// Whether the docker CLI in this terminal is attached to a container right now.
    in_session: bool,
    running: Option<Running>,
    /// Set while interrupting or killing, whose prompts are awaited even in a cancelled run.
    giving_up: bool,
}

impl Terminal {
    pub fn start(name: &str, setup: &TerminalSetup) -> Result<Terminal, TerminalError> {
        let pty = portable_pty::native_pty_system()
            .openpty(PtySize {
                rows: ROWS,
                cols: COLS,
                pixel_width: 0,
                pixel_height: 0,
            })
            .map_err(|e| TerminalError::Open {
                name: name.to_string(),
                message: format!("{e:#}"),
            })?;

        let mut cmd = match &setup.netns {
            Some(netns) => {
                let mut cmd = CommandBuilder::new("nsenter");
                cmd.arg(format!("--net={}", netns.display()));
                cmd.arg("--");
                cmd.arg("bash");
                cmd
            }
            None => CommandBuilder::new("bash"),
        };
        cmd.args(["--noprofile", "--norc", "--noediting", "-i"]);
        cmd.cwd(&setup.cwd);
        cmd.env("TERM", "xterm");
        cmd.env("LANG", "C.UTF-8");
        cmd.env("HISTFILE", "/dev/null");
        cmd.env_remove("PROMPT_COMMAND");
        for (k, v) in &setup.env {
            cmd.env(k, v);
        }
        let child = pty
            .slave
            .spawn_command(cmd)
            .map_err(|e| TerminalError::Spawn {
                name: name.to_string(),
                message: format!("{e:#}"),
            })?;
        drop(pty.slave);

        let mut reader = pty
            .master
            .try_clone_reader()
            .map_err(|e| TerminalError::Open {
                name: name.to_string(),
                message: format!("{e:#}"),
            })?;
        let writer = pty.master.take_writer().map_err(|e| TerminalError::Open {
            name: name.to_string(),
            message: format!("{e:#}"),
        })?;
        let (tx, chunks) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("docktest-term-{name}"))
            .spawn(move || {
                let mut buf = [0u8; 8192];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx.send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
            .map_err(|e| TerminalError::Spawn {
                name: name.to_string(),
                message: e.to_string(),
            })?;

        let nonce = nonce();
        // `H` marks the host's prompt, `C` the prompt of a container shell opened in this terminal.
        let marker = regex::bytes::Regex::new(&format!(r"\x1b\]docktest;([HC]){nonce};(\d+)\x07"))
            .expect("marker regex is valid");
        let bash_pid = child.process_id();
        let mut term = Terminal {
            name: name.to_string(),
            master: pty.master,
            writer,
            child,
            chunks,
            pending: Vec::new(),
            marker,
            nonce: nonce.clone(),
            bash_pid,
            in_session: false,
            running: None,
            giving_up: false,
        };
        // `set +H`: a `!` in a command is text, as in a script. `stty -echo`: the commands are typed, not shown.
        let init = format!(
            "stty -echo cols {COLS} rows {ROWS}; set +H; PS1=''; PS2=''; \
             PROMPT_COMMAND='printf \"\\033]docktest;H{nonce};%d\\007\" $?'\n"
        );
        term.type_bytes(init.as_bytes())?;
        match term.next_mark(Instant::now() + START_TIMEOUT) {
            Some((_, Mark::Host(_))) => Ok(term),
            _ => Err(TerminalError::NoPrompt {
                name: name.to_string(),
                secs: START_TIMEOUT.as_secs(),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether a container session is open in this terminal.
    pub fn in_session(&self) -> bool {
        self.in_session
    }

    /// Whether a step is still in flight.
    #[cfg(test)]
    fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Types one command with its continuation lines (or presses detach keys) and waits for the prompt.
    /// Past the timeout the command is interrupted, then killed, as a reader would give up on it.
    #[cfg(test)]
    fn run(&mut self, spec: StepSpec) -> Result<CommandResult, TerminalError> {
        self.begin(spec)?;
        Ok(self
            .wait(None)?
            .expect("a step always ends by its deadline"))
    }

    /// Starts a step without waiting for it. A step already in flight must have been waited for.
    pub fn begin(&mut self, spec: StepSpec) -> Result<(), TerminalError> {
        assert!(self.running.is_none(), "a terminal runs one step at a time");
        self.drain();
        self.pending.clear();
        let started = Instant::now();
        match spec.kind {
            // Docker's default detach keys.
            StepKind::Detach => self.type_bytes(b"\x10\x11")?,
            _ => {
                for line in &spec.input {
                    self.type_bytes(format!("{line}\n").as_bytes())?;
                }
            }
        }
        self.running = Some(Running {
            spec,
            started,
            interrupted: None,
            opening_output: None,
        });
        Ok(())
    }

    /// Waits for the step in flight until it is done or `until` passes; `Ok(None)` means it still runs.
    /// Without `until` it waits as long as the step's timeout allows, then interrupts it.
    pub fn wait(&mut self, until: Option<Instant>) -> Result<Option<CommandResult>, TerminalError> {
        let Some(mut run) = self.running.take() else {
            return Ok(None);
        };
        let deadline = run.started + run.spec.timeout;
        let stop = until.map_or(deadline, |u| u.min(deadline));
        let done = self.advance(&mut run, stop);
        if let Some((output, status)) = done {
            return Ok(Some(self.finish(&run, output, Some(status), false, false)));
        }
        if Instant::now() < deadline && !super::cancelled() {
            self.running = Some(run);
            return Ok(None);
        }
        if !self.alive() {
            return Err(TerminalError::Exited {
                name: self.name.clone(),
            });
        }
        self.giving_up = true;
        let (result, closed) = self.give_up(&run);
        self.giving_up = false;
        let (output, status) = match result {
            Some((output, status)) => (output, Some(status)),
            None => (String::from_utf8_lossy(&self.pending).into_owned(), None),
        };
        Ok(Some(self.finish(&run, output, status, true, closed)))
    }

    fn finish(
        &mut self,
        run: &Running,
        output: String,
        status: Option<i32>,
        timed_out: bool,
        session_closed: bool,
    ) -> CommandResult {
        let output = match &run.opening_output {
            // What the opening command printed; the shell's own first prompt is not output.
            Some(opening) => opening.clone(),
            None => output,
        };
        CommandResult {
            output,
            status,
            timed_out,
            session_closed,
        }
    }

    /// Moves the step forward until it is done (returning its output and status) or `stop` passes.
    fn advance(&mut self, run: &mut Running, stop: Instant) -> Option<(String, i32)> {
        match run.spec.kind {
            StepKind::Host | StepKind::Container | StepKind::Exit | StepKind::Detach => {
                self.await_mark(run, stop)
            }
            StepKind::OpenShell => {
                if run.opening_output.is_none() {
                    // Either the command returns (no session: an error, or not a shell after all) or its
                    // shell waits for input; then it gets the container marker prompt.
                    let first = (run.started + OPEN_FIRST_OUTPUT).min(stop);
                    if let Some(done) = self.mark_or_quiet(first, stop) {
                        return Some(done);
                    }
                    if Instant::now() >= stop {
                        return None;
                    }
                    let opening = strip_partial_line(&String::from_utf8_lossy(&self.pending));
                    self.pending.clear();
                    run.opening_output = Some(opening);
                    if self.type_bytes(self.container_init().as_bytes()).is_err() {
                        return None;
                    }
                }
                match self.next_mark(stop)? {
                    (_, Mark::Container(_)) => {
                        self.in_session = true;
                        Some((String::new(), 0))
                    }
                    (output, Mark::Host(status)) => {
                        run.opening_output = None;
                        self.in_session = false;
                        Some((output, status))
                    }
                }
            }
            StepKind::Attach { lines } => {
                let first = (run.started + OPEN_FIRST_OUTPUT).min(stop);
                loop {
                    if let Some(m) = self.marker.find(&self.pending) {
                        let output =
                            String::from_utf8_lossy(&self.pending[..m.start()]).into_owned();
                        let status = self.take_mark().map_or(-1, |m| match m {
                            Mark::Host(s) | Mark::Container(s) => s,
                        });
                        return Some((output, status));
                    }
                    let seen = count_lines(&self.pending);
                    // With no line to wait for, the session begins once `docker attach` holds the
                    // terminal in raw mode, which it sets only when its connection to the container is up
                    // (measured: about 0.1 s, against the 2 s of waiting for a first output that an
                    // attached shell never prints).
                    let attached = lines == 0 && (Instant::now() >= first || self.attached_raw());
                    if seen >= lines.max(1) || attached {
                        self.in_session = true;
                        let output = String::from_utf8_lossy(&self.pending).into_owned();
                        self.pending.clear();
                        return Some((output, 0));
                    }
                    let limit = if lines == 0 {
                        stop.min(Instant::now() + FOREGROUND_POLL)
                    } else {
                        stop
                    };
                    // Nothing came by `limit`: look at the terminal again, unless the wait ended early (a
                    // cancelled run, a terminal gone) or `stop` passed.
                    if !self.read_some(limit) && (Instant::now() < limit || Instant::now() >= stop)
                    {
                        return None;
                    }
                }
            }
        }
    }

    /// Waits for the marker that ends the step, sending the page's `^C` once its lines have appeared.
    fn await_mark(&mut self, run: &mut Running, stop: Instant) -> Option<(String, i32)> {
        loop {
            if self.marker.is_match(&self.pending) {
                let (output, mark) = self.next_mark(stop)?;
                return Some(match mark {
                    Mark::Host(status) => {
                        // Back at the host prompt: whatever session there was has ended.
                        self.in_session = false;
                        (output, status)
                    }
                    Mark::Container(status) => (output, status),
                });
            }
            let mut wait_until = stop;
            if let Some(n) = run.spec.interrupt_after {
                match run.interrupted {
                    None if count_lines(&self.pending) >= n => {
                        // The lines may come from a command before the one to interrupt (`echo …; ping
                        // …`): while bash itself holds the terminal, the next command has not started.
                        if self.shell_in_foreground() {
                            wait_until = stop.min(Instant::now() + FOREGROUND_POLL);
                        } else {
                            run.interrupted = Some((Instant::now(), self.pending.len(), false));
                            let _ = self.type_bytes(b"\x03");
                            wait_until = stop.min(Instant::now() + INTERRUPT_AGAIN);
                        }
                    }
                    // A Ctrl-C that lands while a command is still starting is lost; one that worked shows
                    // (a summary, a message) or ends it. After a silent second, press it once more.
                    Some((at, len, false)) => {
                        let again = at + INTERRUPT_AGAIN;
                        if Instant::now() >= again && self.pending.len() == len {
                            run.interrupted = Some((at, len, true));
                            let _ = self.type_bytes(b"\x03");
                        } else if self.pending.len() == len {
                            wait_until = stop.min(again);
                        } else {
                            run.interrupted = Some((at, len, true));
                        }
                    }
                    _ => {}
                }
            }
            // `wait_until` may come before `stop` (a `^C` to send, a command about to start): only `stop`,
            // or a cancelled run, ends the wait.
            if !self.read_some(wait_until)
                && (Instant::now() >= stop || (super::cancelled() && !self.giving_up))
            {
                return None;
            }
        }
    }

    /// The timeout passed: Ctrl-C, as a reader would (bash then also leaves a loop the command ran in). If
    /// that does not bring a prompt back, kill the foreground process group, repeatedly, which inside a
    /// session is the docker CLI: the session closes and the host prompt returns.
    fn give_up(&mut self, run: &Running) -> (Option<(String, i32)>, bool) {
        if self.type_bytes(b"\x03").is_ok() {
            match self.next_mark(Instant::now() + INTERRUPT_GRACE) {
                Some((output, Mark::Host(status))) => {
                    self.in_session = false;
                    return (Some((output, status)), false);
                }
                Some((output, Mark::Container(status))) if run.spec.kind != StepKind::OpenShell => {
                    return (Some((output, status)), false);
                }
                _ => {}
            }
        }
        let was_in_session = self.in_session || run.spec.kind == StepKind::OpenShell;
        let deadline = Instant::now() + KILL_GRACE;
        while Instant::now() < deadline {
            self.kill_foreground();
            if let Some((output, Mark::Host(status))) =
                self.next_mark(Instant::now() + INTERRUPT_GRACE)
            {
                self.in_session = false;
                return (Some((output, status)), was_in_session);
            }
        }
        (None, was_in_session)
    }

    /// Sets the container shell up like the host one: no echo, and a marker prompt carrying `$?`. Written
    /// with `printf` so that it works in busybox ash, bash and dash alike.
    fn container_init(&self) -> String {
        let nonce = &self.nonce;
        format!(
            "stty -echo 2>/dev/null; unset PROMPT_COMMAND; PS2=''; \
             PS1=\"$(printf '\\033]docktest;C{nonce};')\"'$?'\"$(printf '\\007')\"\n"
        )
    }

    fn type_bytes(&mut self, bytes: &[u8]) -> Result<(), TerminalError> {
        self.writer
            .write_all(bytes)
            .and_then(|()| self.writer.flush())
            .map_err(|source| TerminalError::Write {
                name: self.name.clone(),
                source,
            })
    }

    /// Moves whatever the reader thread has already delivered into `pending`.
    fn drain(&mut self) {
        while let Ok(chunk) = self.chunks.try_recv() {
            self.pending.extend_from_slice(&chunk);
        }
    }

    /// Reads one chunk, or returns false when `stop` passed or the terminal closed.
    fn read_some(&mut self, stop: Instant) -> bool {
        loop {
            let now = Instant::now();
            // A cancelled run stops waiting for commands, but still waits for the prompts of giving up.
            if now >= stop || (super::cancelled() && !self.giving_up) {
                return false;
            }
            // Short slices, so that a cancellation is noticed quickly.
            match self.chunks.recv_timeout((stop - now).min(CANCEL_POLL)) {
                Ok(chunk) => {
                    self.pending.extend_from_slice(&chunk);
                    return true;
                }
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Removes everything up to and including the first marker; returns what it said.
    fn take_mark(&mut self) -> Option<Mark> {
        let caps = self.marker.captures(&self.pending)?;
        let whole = caps.get(0).expect("group 0 always matches");
        let status = std::str::from_utf8(&caps[2])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        let mark = if &caps[1] == b"H" {
            Mark::Host(status)
        } else {
            Mark::Container(status)
        };
        let end = whole.end();
        self.pending.drain(..end);
        Some(mark)
    }

    /// Reads until a marker; returns the output before it and the marker.
    fn next_mark(&mut self, stop: Instant) -> Option<(String, Mark)> {
        loop {
            if let Some(m) = self.marker.find(&self.pending) {
                let output = String::from_utf8_lossy(&self.pending[..m.start()]).into_owned();
                let mark = self.take_mark()?;
                return Some((output, mark));
            }
            if !self.read_some(stop) {
                return None;
            }
        }
    }

    /// For an opening command: returns `Some` if it came back to the host prompt; `None` once it printed
    /// something and then paused (its shell waits for input), or printed nothing until `first`.
    fn mark_or_quiet(&mut self, first: Instant, stop: Instant) -> Option<(String, i32)> {
        let mut raw_since: Option<Instant> = None;
        loop {
            if self.marker.is_match(&self.pending) {
                return match self.next_mark(stop)? {
                    (output, Mark::Host(status)) => Some((output, status)),
                    // A shell that already carries a marker prompt: a re-attached session.
                    (_, Mark::Container(_)) => None,
                };
            }
            let now = Instant::now();
            let limit = if self.pending.is_empty() {
                // A shell re-attached to (`docker attach`) prints nothing until Enter. Once the docker CLI
                // holds the terminal in raw mode (it sets it when its connection is up) and a quiet moment
                // has passed, the shell is taken to be waiting, instead of after `first` (2 s per attach).
                if self.attached_raw() {
                    let since = *raw_since.get_or_insert(now);
                    if now >= since + OPEN_QUIET {
                        return None;
                    }
                    first.min(since + OPEN_QUIET)
                } else {
                    first.min(now + FOREGROUND_POLL)
                }
            } else {
                (now + OPEN_QUIET).min(stop)
            };
            if !self.read_some(limit) {
                let now = Instant::now();
                // Quiet after output, the first output's time up, or the wait cut short (a cancelled run,
                // a terminal gone); otherwise only a look at the terminal's mode was due.
                if !self.pending.is_empty() || now >= first || now < limit {
                    return None;
                }
            }
        }
    }

    /// Ends the container session by killing the docker CLI attached to it; the container keeps running.
    pub fn close_session(&mut self) -> Result<(), TerminalError> {
        self.giving_up = true;
        let deadline = Instant::now() + KILL_GRACE;
        while self.in_session && Instant::now() < deadline {
            self.kill_foreground();
            if let Some((_, Mark::Host(_))) = self.next_mark(Instant::now() + INTERRUPT_GRACE) {
                self.in_session = false;
            }
        }
        self.giving_up = false;
        if self.in_session {
            return Err(TerminalError::NoPrompt {
                name: self.name.clone(),
                secs: KILL_GRACE.as_secs(),
            });
        }
        Ok(())
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Whether bash itself is the terminal's foreground process group: no command of its runs right now.
    /// Whether a command of the page holds the terminal (not bash) and has put it in raw mode, as the
    /// docker CLI does while it is attached to a container's terminal.
    fn attached_raw(&self) -> bool {
        let command_holds_it = matches!(
            (self.master.process_group_leader(), self.bash_pid),
            (Some(pgrp), Some(bash)) if pgrp > 0 && pgrp as u32 != bash
        );
        command_holds_it
            && self
                .master
                .get_termios()
                .is_some_and(|t| t.local_flags.bits() & libc::ICANON == 0)
    }

    fn shell_in_foreground(&self) -> bool {
        matches!(
            (self.master.process_group_leader(), self.bash_pid),
            (Some(pgrp), Some(bash)) if pgrp > 0 && pgrp as u32 == bash
        )
    }

    /// Kills the terminal's foreground process group (the running command, with its children), never bash.
    fn kill_foreground(&mut self) {
        if let (Some(pgrp), Some(bash)) = (self.master.process_group_leader(), self.bash_pid) {
            if pgrp > 0 && pgrp as u32 != bash {
                kill_group(pgrp);
            }
        }
    }

    /// Kills bash and every process of its session (background jobs included).
    fn kill_session(&mut self) {
        if let Some(bash) = self.bash_pid {
            for pid in session_members(bash) {
                kill_pid(pid);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.kill_session();
    }
}

/// Newline-terminated lines in raw terminal output.
fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// Drops a last line that has no newline: a prompt the shell printed while waiting.
fn strip_partial_line(text: &str) -> String {
    match text.rfind('\n') {
        Some(i) => text[..=i].to_string(),
        None => String::new(),
    }
}

fn kill_group(pgrp: i32) {
    use nix::sys::signal::{killpg, Signal};
    let _ = killpg(nix::unistd::Pid::from_raw(pgrp), Signal::SIGKILL);
}

fn kill_pid(pid: i32) {
    use nix::sys::signal::{kill, Signal};
    let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
}

/// Processes whose session id is `sid` (bash is a session leader on its pseudo-terminal).
fn session_members(sid: u32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| proc_session(Path::new("/proc").join(pid.to_string()).as_path()) == Some(sid))
        .collect()
}

fn proc_session(proc_dir: &Path) -> Option<u32> {
    let stat = std::fs::read_to_string(proc_dir.join("stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    // state ppid pgrp session
    rest.split(' ').nth(3)?.parse().ok()
}

fn nonce() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> TerminalSetup {
        TerminalSetup {
            cwd: std::env::temp_dir(),
            netns: None,
            env: Vec::new(),
        }
    }

    fn line(s: &str) -> StepSpec {
        lines(&[s], 5_000)
    }

    fn lines(input: &[&str], timeout_ms: u64) -> StepSpec {
        StepSpec {
            kind: StepKind::Host,
            input: input.iter().map(|s| s.to_string()).collect(),
            timeout: Duration::from_millis(timeout_ms),
            interrupt_after: None,
        }
    }

    // Re-attaching to a shell (`docker attach`) waited 2 s per attach for output an attached shell never
    // prints: a command that holds the terminal in raw mode, as the attached docker CLI does, is seen as
    // such, and neither bash at its prompt nor a command reading lines is.
    #[test]
    fn a_command_holding_the_terminal_raw_is_seen() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        assert!(!t.attached_raw(), "bash at its prompt");
        let mut spec = line("cat");
        spec.timeout = Duration::from_secs(10);
        t.begin(spec).unwrap();
        let seen = |t: &mut Terminal, within: u64| {
            let until = Instant::now() + Duration::from_millis(within);
            while Instant::now() < until && !t.attached_raw() {
                t.read_some(Instant::now() + Duration::from_millis(50));
            }
            t.attached_raw()
        };
        // `cat` reads lines: the terminal stays canonical.
        assert!(!seen(&mut t, 1000), "cat holds the terminal canonical");
        t.type_bytes(b"\x04").unwrap();
        assert!(t.wait(None).unwrap().is_some());
        let mut spec = line("stty raw -echo; head -c 1 >/dev/null; stty sane");
        spec.timeout = Duration::from_secs(10);
        t.begin(spec).unwrap();
        assert!(seen(&mut t, 5000), "a raw terminal held by a command");
        t.type_bytes(b"x").unwrap();
        assert!(t.wait(None).unwrap().is_some_and(|r| r.status == Some(0)));
    }

    // The marker must never leak into output, and `$?` must come back exactly.
    #[test]
    fn output_and_status_without_marker() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let r = t.run(line("echo hello; false")).unwrap();
        assert_eq!(r.output.replace('\r', ""), "hello\n");
        assert_eq!(r.status, Some(1));
        assert!(!r.timed_out);
    }

    // Variables and the working directory carry across commands, as in a reader's shell.
    #[test]
    fn state_carries_across_commands() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        t.run(line("X=42; cd /")).unwrap();
        let r = t.run(line("echo $X $PWD")).unwrap();
        assert_eq!(r.output.replace('\r', ""), "42 /\n");
    }

    // A backslash continuation is typed as two lines and runs as one command.
    #[test]
    fn continuation_lines() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let r = t.run(lines(&["echo one \\", "two"], 5_000)).unwrap();
        assert_eq!(r.output.replace('\r', ""), "one two\n");
    }

    // A hanging command is killed at its timeout and the terminal stays usable.
    #[test]
    fn timeout_kills_the_command_not_the_shell() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let start = Instant::now();
        let r = t.run(lines(&["echo before; sleep 100"], 500)).unwrap();
        assert!(r.timed_out);
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        assert!(r.output.contains("before"));
        let r = t.run(line("echo after")).unwrap();
        assert_eq!(r.output.replace('\r', ""), "after\n");
    }

    // A loop around a hanging command must end too, not just the command inside it.
    #[test]
    fn timeout_ends_a_loop() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let r = t
            .run(lines(&["while true; do sleep 100; done"], 300))
            .unwrap();
        assert!(r.timed_out);
        assert!(r.status.is_some());
        let r = t.run(line("echo after")).unwrap();
        assert_eq!(r.output.replace('\r', ""), "after\n");
    }

    // `^C` on the page: the interrupt goes out once the lines before it have appeared.
    #[test]
    fn interrupt_after_lines() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let mut spec = line("echo one; echo two; sleep 100");
        spec.interrupt_after = Some(2);
        let r = t.run(spec).unwrap();
        assert!(!r.timed_out);
        assert_eq!(r.status, Some(130));
        assert!(r.output.replace('\r', "").starts_with("one\ntwo\n"));
    }

    // A step can keep running while the page moves on, and be collected later.
    #[test]
    fn begin_then_wait_later() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        t.begin(lines(&["sleep 0.5; echo done"], 5_000)).unwrap();
        assert!(t.wait(Some(Instant::now())).unwrap().is_none());
        assert!(t.busy());
        let r = t.wait(None).unwrap().unwrap();
        assert_eq!(r.output.replace('\r', ""), "done\n");
        assert!(!t.busy());
    }
}
