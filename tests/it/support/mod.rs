//! What the test modules share: the fixture books, running `mdbook-docktest` as a user runs it, and the one
//! engine lock with the check that a test leaves the engine as it found it.
//!
//! The library's items the tests use are named here only, so that when one moves in the library this file
//! is the only one to edit.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};

pub mod browser;

pub use mdbook_docktest::book::Book;
pub use mdbook_docktest::config::Config;
pub use mdbook_docktest::engine::{Endpoint, Engine, Inventory, NETNS_MARKER};
pub use mdbook_docktest::runner::{prepare, run_book, RunOptions, SnapshotMode, Verdict};
pub use mdbook_docktest::snippet::{
    parse_page, parse_page_with, Page, Prompt, Prompts, SessionChange, Status,
};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mdbook-docktest");

/// A `DOCKER_HOST` where no engine listens, for the runs that must fail before reaching one.
pub const NO_ENGINE: &str = "unix:///nonexistent/docker.sock";

pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture book of `tests/fixtures/`, used in place.
pub fn fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures").join(name)
}

/// A copy of a fixture book in a temporary folder (builds and edits leave the fixture alone).
pub fn fixture_copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// `mdbook-docktest ARGS`, with `CI=true` and `NO_COLOR=1` unless a test says otherwise, and the journals
/// of this checkout's own (`clean` finishes what killed runs left on every engine their journals name: a
/// second checkout testing beside this one keeps its killed runs to itself).
pub fn docktest<I, S>(args: I) -> Docktest
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .env("DOCKTEST_JOURNALS", journals());
    Docktest(cmd)
}

/// Where the runs of this checkout's tests keep their journals.
pub fn journals() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("journals")
}

/// `mdbook-docktest test BOOK`.
pub fn test_book(book: impl AsRef<Path>) -> Docktest {
    docktest([OsStr::new("test"), book.as_ref().as_os_str()])
}

/// A run of the binary under test, being set up.
pub struct Docktest(Command);

impl Docktest {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.0.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.0.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Self {
        self.0.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.0.env_remove(key);
        self
    }

    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self.0.env(k, v);
        }
        self
    }

    /// Without `CI` at all: a run on an author's machine, which may write.
    pub fn without_ci(mut self) -> Self {
        self.0.env_remove("CI");
        self
    }

    /// Pointed at [`NO_ENGINE`]: for runs that must stop before any engine work.
    pub fn without_engine(self) -> Self {
        self.env("DOCKER_HOST", NO_ENGINE)
    }

    /// Runs it to the end.
    pub fn run(mut self) -> Run {
        self.0.output().expect("mdbook-docktest runs").into()
    }

    /// Starts it, its output captured.
    pub fn spawn(mut self) -> Child {
        self.0
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mdbook-docktest starts")
    }
}

/// How a command ended and what it printed; shown as its stdout, a newline, then its stderr.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout, a newline, stderr: for the checks that look at both.
    pub fn all(&self) -> String {
        self.to_string()
    }
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n{}", self.stdout, self.stderr)
    }
}

/// `docker ARGS` against the engine of `DOCKER_HOST`: its trimmed stdout; fails the test when it fails.
#[track_caller]
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", endpoint().host)
        .output()
        .expect("docker CLI runs");
    let run = Run::from(out);
    assert!(run.success(), "docker {args:?}: {}", run.stderr);
    run.stdout.trim().to_string()
}

/// An error and its causes on one line: `what: why: deeper why`.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The engine tests run in one process, on parallel threads, and each run removes whatever appeared in the
/// engine during it and compares whole inventories: a test that uses the engine holds this for its whole
/// duration.
static ENGINE: Mutex<()> = Mutex::new(());

/// The engine to this test alone until the guard drops. A test that failed holding it does not stop the
/// others.
pub fn lock_engine() -> MutexGuard<'static, ()> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The engine of `DOCKER_HOST` as docktest finds it; fails the test, saying how to fix it, when docktest
/// could not use it.
#[track_caller]
pub fn endpoint() -> Endpoint {
    Endpoint::from_env().unwrap_or_else(|e| {
        panic!(
            "this test needs a Docker engine docktest can use: {}; start docktest's own with `eval \"$(sudo \
             scripts/engine-start)\"`",
            error_chain(&e)
        )
    })
}

/// The engines a run of `jobs` pages at a time uses without `--engine`: those DOCKTEST_ENGINES lists, else
/// [`endpoint`]'s.
#[track_caller]
pub fn pool(jobs: usize) -> Vec<Endpoint> {
    mdbook_docktest::engine::pool(&[], jobs).unwrap_or_else(|e| {
        panic!(
            "this test needs the engines DOCKTEST_ENGINES lists: {}; start docktest's own with `eval \"$(sudo \
             scripts/engine-start 3)\"`",
            error_chain(&e)
        )
    })
}

/// A client of the engine at `endpoint`; fails the test, saying how to start one, when there is none.
#[track_caller]
pub fn engine_at(endpoint: Endpoint) -> Engine {
    match Engine::connect(endpoint) {
        Ok(engine) => engine,
        Err(e) => panic!(
            "this test needs a Docker engine ({e}); start one with `sudo scripts/engine-start`"
        ),
    }
}

/// A client of the engine of `DOCKER_HOST` (see [`engine_at`]).
#[track_caller]
pub fn engine() -> Engine {
    engine_at(endpoint())
}

/// Fails the test unless the engine holds exactly what it held `before`.
#[track_caller]
pub fn assert_left_as_found(engine: &Engine, before: &Inventory) {
    assert_eq!(
        &engine.inventory().expect("engine inventory"),
        before,
        "the engine holds exactly what it held before the test ran"
    );
}

/// The engine of `DOCKER_HOST`, this test's alone (the lock held), and what it held when the test began.
pub struct LockedEngine {
    engine: Engine,
    before: Inventory,
    // Declared last: released after the client has gone.
    _lock: MutexGuard<'static, ()>,
}

/// Takes the engine lock, connects, and records the engine's inventory.
#[track_caller]
pub fn locked_engine() -> LockedEngine {
    let lock = lock_engine();
    let engine = engine();
    let before = engine.inventory().expect("engine inventory");
    LockedEngine {
        engine,
        before,
        _lock: lock,
    }
}

impl LockedEngine {
    /// What the engine held when the test began.
    pub fn before(&self) -> &Inventory {
        &self.before
    }

    /// Fails the test unless the engine holds exactly what it held when the test began.
    #[track_caller]
    pub fn assert_left_as_found(&self) {
        assert_left_as_found(&self.engine, &self.before);
    }
}

impl std::ops::Deref for LockedEngine {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}
