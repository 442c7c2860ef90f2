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

/// What one command did.
#[derive(Debug, Clone)]
pub struct CommandResult {
    /// Raw bytes read back, marker removed, lossily decoded.
    pub output: String,
    /// `$?` after the command; `None` when the terminal was lost.
    pub status: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

pub struct Terminal {
    name: String,
    master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    chunks: Receiver<Vec<u8>>,
    /// Bytes read but not yet consumed.
    pending: Vec<u8>,
    marker: regex::bytes::Regex,
    bash_pid: Option<u32>,
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
        let marker = regex::bytes::Regex::new(&format!(r"\x1b\]docktest;{nonce};(\d+)\x07"))
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
            bash_pid,
        };
        // `set +H`: a `!` in a command is text, as in a script. `stty -echo`: the commands are typed, not shown.
        let init = format!(
            "stty -echo cols {COLS} rows {ROWS}; set +H; PS1=''; PS2=''; \
             PROMPT_COMMAND='printf \"\\033]docktest;{nonce};%d\\007\" $?'\n"
        );
        term.type_line(&init)?;
        match term.read_until_marker(Instant::now() + START_TIMEOUT) {
            Some(_) => Ok(term),
            None => Err(TerminalError::NoPrompt {
                name: name.to_string(),
                secs: START_TIMEOUT.as_secs(),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Types `lines` (one command with its continuation lines) and waits for the prompt. Past `timeout` the
    /// command's process group is killed, as a reader would give up on it.
    pub fn run(
        &mut self,
        lines: &[String],
        timeout: Duration,
    ) -> Result<CommandResult, TerminalError> {
        let start = Instant::now();
        self.pending.clear();
        self.drain();
        for line in lines {
            self.type_line(&format!("{line}\n"))?;
        }
        if let Some((output, status)) = self.read_until_marker(start + timeout) {
            return Ok(CommandResult {
                output,
                status: Some(status),
                timed_out: false,
                elapsed: start.elapsed(),
            });
        }
        if !self.alive() {
            return Err(TerminalError::Exited {
                name: self.name.clone(),
            });
        }
        let (output, status) = match self.interrupt_then_kill() {
            Some((output, status)) => (output, Some(status)),
            None => (String::from_utf8_lossy(&self.pending).into_owned(), None),
        };
        Ok(CommandResult {
            output,
            status,
            timed_out: true,
            elapsed: start.elapsed(),
        })
    }

    fn type_line(&mut self, text: &str) -> Result<(), TerminalError> {
        self.writer
            .write_all(text.as_bytes())
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

    /// Reads until the marker; returns the output before it and the status it carries.
    fn read_until_marker(&mut self, deadline: Instant) -> Option<(String, i32)> {
        loop {
            if let Some(caps) = self.marker.captures(&self.pending) {
                let whole = caps.get(0).expect("group 0 always matches");
                let status = std::str::from_utf8(&caps[1])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(-1);
                let output = String::from_utf8_lossy(&self.pending[..whole.start()]).into_owned();
                self.pending.drain(..whole.end());
                return Some((output, status));
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            match self.chunks.recv_timeout(deadline - now) {
                Ok(chunk) => self.pending.extend_from_slice(&chunk),
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Ctrl-C first, as a reader would (bash then also leaves a loop the command ran in); then SIGKILL to
    /// the foreground process group, repeated while new foreground jobs show up.
    fn interrupt_then_kill(&mut self) -> Option<(String, i32)> {
        if self.type_line("\x03").is_ok() {
            if let Some(done) = self.read_until_marker(Instant::now() + INTERRUPT_GRACE) {
                return Some(done);
            }
        }
        let deadline = Instant::now() + KILL_GRACE;
        while Instant::now() < deadline {
            self.kill_foreground();
            if let Some(done) = self.read_until_marker(Instant::now() + INTERRUPT_GRACE) {
                return Some(done);
            }
        }
        None
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
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

    fn line(s: &str) -> Vec<String> {
        vec![s.to_string()]
    }

    // The marker must never leak into output, and `$?` must come back exactly.
    #[test]
    fn output_and_status_without_marker() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let r = t
            .run(&line("echo hello; false"), Duration::from_secs(5))
            .unwrap();
        assert_eq!(r.output.replace('\r', ""), "hello\n");
        assert_eq!(r.status, Some(1));
        assert!(!r.timed_out);
    }

    // Variables and the working directory carry across commands, as in a reader's shell.
    #[test]
    fn state_carries_across_commands() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        t.run(&line("X=42; cd /"), Duration::from_secs(5)).unwrap();
        let r = t
            .run(&line("echo $X $PWD"), Duration::from_secs(5))
            .unwrap();
        assert_eq!(r.output.replace('\r', ""), "42 /\n");
    }

    // A backslash continuation is typed as two lines and runs as one command.
    #[test]
    fn continuation_lines() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let r = t
            .run(
                &["echo one \\".to_string(), "two".to_string()],
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(r.output.replace('\r', ""), "one two\n");
    }

    // A hanging command is killed at its timeout and the terminal stays usable.
    #[test]
    fn timeout_kills_the_command_not_the_shell() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let start = Instant::now();
        let r = t
            .run(&line("echo before; sleep 100"), Duration::from_millis(500))
            .unwrap();
        assert!(r.timed_out);
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        assert!(r.output.contains("before"));
        let r = t.run(&line("echo after"), Duration::from_secs(5)).unwrap();
        assert_eq!(r.output.replace('\r', ""), "after\n");
    }

    // A loop around a hanging command must end too, not just the command inside it.
    #[test]
    fn timeout_ends_a_loop() {
        let mut t = Terminal::start("t", &setup()).unwrap();
        let r = t
            .run(
                &line("while true; do sleep 100; done"),
                Duration::from_millis(300),
            )
            .unwrap();
        assert!(r.timed_out);
        assert!(r.status.is_some());
        let r = t.run(&line("echo after"), Duration::from_secs(5)).unwrap();
        assert_eq!(r.output.replace('\r', ""), "after\n");
    }
}
