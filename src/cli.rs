//! The command line: `mdbook-docktest` (mdBook's preprocessor), `mdbook-docktest supports RENDERER`,
//! `mdbook-docktest test [BOOK]`, `clean`, `review [BOOK]`, `accept [BOOK]`, `reject [BOOK]` and
//! `init [BOOK]`. The binary is [`main`]; the exit code says how the run went.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use anstream::ColorChoice;
use clap::{Parser, Subcommand};
use mdbook_preprocessor::Preprocessor;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::book::Book;
use crate::config::{self, Config, ConfigError, OnUnverified};
use crate::engine::{self, Endpoint, Engine};
use crate::hints;
use crate::preprocessor::{self, Docktest, PreprocessError};
use crate::report::{self, Printer};
use crate::review;
use crate::runner::{self, PageRun, Partition, PrepareError, RunOptions, SnapshotMode};
use crate::snapshot;
use crate::update;

/// The binary: parses the arguments, runs, prints a fatal error with its causes and hint. Returns the exit
/// code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap exits 0 for --help/--version and 2 for usage errors, as docktest does.
            return if e.use_stderr() {
                Outcome::Error as i32
            } else {
                0
            };
        }
    };
    match run(cli) {
        Ok(outcome) => outcome as i32,
        Err(fatal) => {
            // One line, causes included: the first thing a user reads must say what failed and why.
            let causes: Vec<String> = fatal.error.chain().map(|c| c.to_string()).collect();
            eprintln!("error: {}", causes.join(": "));
            if let Some(hint) = fatal.hint {
                eprintln!("hint: {hint}");
            }
            Outcome::Error as i32
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "mdbook-docktest",
    version,
    about = "Keep a Docker guide's shell examples true",
    long_about = "Keep a Docker guide's shell examples true.\n\nWithout a command, mdbook-docktest is the \
                  mdBook preprocessor: `mdbook build` runs it (mdBook's JSON on stdin, the book on stdout) to \
                  publish each shell example as its last verified run."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every shell example of the book against the Docker engine and compare with the page and the
    /// snapshots.
    Test {
        /// The book's root (the folder holding book.toml).
        #[arg(default_value = "book")]
        book: PathBuf,
        /// Run only pages whose path contains this text.
        #[arg(long)]
        filter: Option<String>,
        /// Run only shard K of N (1 <= K <= N): the book's pages split over N machines by a hash of each
        /// page's path, so adding a page never moves the others.
        #[arg(long, value_name = "K/N")]
        partition: Option<Partition>,
        /// Write a JUnit XML report to FILE: one test case per block, named by page and line.
        #[arg(long, value_name = "FILE")]
        junit: Option<PathBuf>,
        /// Rewrite the expected output in the pages from the run, keeping the wildcards that still match.
        /// Refused when CI=true.
        #[arg(long)]
        update: bool,
        /// Run at most N pages at once, each on an engine of its own. With a matrix, N counts over all its
        /// kinds: every (page, kind) is a job for a free engine of that kind, the longest first (by the
        /// last run's timings), so N engines of each kind let N pages run whatever kinds are left; `sudo
        /// scripts/engine-start N` starts N of each kind the book's matrix names. --jobs 1 runs one page at
        /// a time: the kinds in turn, the pages in page order.
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: u16,
        /// An engine to run pages on, as a DOCKER_HOST (`unix:///run/docktest/docker.sock`, `ssh://ci`);
        /// repeat it for several. Default: the `engines` book.toml lists; else, with --jobs above 1, those
        /// DOCKTEST_ENGINES lists; else the one DOCKER_HOST names. An engine kind instead (`docker-26.1`,
        /// `podman`) runs the pages on the engines of that kind found, in place of the book's matrix.
        #[arg(long = "engine", value_name = "HOST|KIND")]
        engines: Vec<String>,
    },
    /// Remove the containers, networks and volumes that runs killed before their cleanup left, on every
    /// engine a run could have used.
    Clean {
        /// A book whose book.toml `engines` to clean (default: every engine DOCKTEST_ENGINES and
        /// DOCKER_HOST name, and those killed runs' journals name).
        book: Option<PathBuf>,
        /// An engine to clean, as a DOCKER_HOST; repeat it for several.
        #[arg(long = "engine", value_name = "HOST")]
        engines: Vec<String>,
    },
    /// Walk the book's pending snapshots (`.snap.new`) on a terminal: the diff of each against the
    /// accepted one, then accept, reject or skip it. Needs no cargo project.
    Review {
        /// The book's root (the folder holding book.toml).
        #[arg(default_value = "book")]
        book: PathBuf,
    },
    /// Accept every pending snapshot of the book.
    Accept {
        /// The book's root (the folder holding book.toml).
        #[arg(default_value = "book")]
        book: PathBuf,
    },
    /// Drop every pending snapshot of the book; the accepted ones stay as they are.
    Reject {
        /// The book's root (the folder holding book.toml).
        #[arg(default_value = "book")]
        book: PathBuf,
    },
    /// Add the [preprocessor.docktest] table to the book's book.toml, every other byte kept.
    Init {
        /// The book's root (the folder holding book.toml).
        #[arg(default_value = "book")]
        book: PathBuf,
    },
    /// mdBook asks whether the preprocessor supports a renderer: exit status 0 means yes.
    Supports {
        /// The renderer's name (`html`, `markdown`, ...).
        renderer: String,
    },
}

/// How a run ended, as the process exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Every block verified.
    Verified = 0,
    /// At least one block did not match the page or its snapshot.
    Mismatch = 1,
    /// Bad input or no usable engine.
    Error = 2,
    /// Stopped by Ctrl-C (after cleaning up), as shells report SIGINT.
    Interrupted = 130,
    /// Stopped by SIGTERM (after cleaning up).
    Terminated = 143,
    /// Stopped by SIGHUP (after cleaning up).
    HungUp = 129,
}

/// A failure before anything ran, with what the user can do about it.
#[derive(Debug)]
struct Fatal {
    error: anyhow::Error,
    hint: Option<String>,
}

impl<E: Into<anyhow::Error>> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal {
            error: e.into(),
            hint: None,
        }
    }
}

fn run(cli: Cli) -> Result<Outcome, Fatal> {
    match cli.command {
        None => preprocess(),
        Some(Command::Supports { renderer }) => {
            let yes = Docktest.supports_renderer(&renderer).unwrap_or(false);
            Ok(if yes {
                Outcome::Verified
            } else {
                Outcome::Mismatch
            })
        }
        Some(Command::Test {
            book,
            filter,
            partition,
            junit,
            update,
            jobs,
            engines,
        }) => test(book, filter, partition, junit, update, engines, jobs.into()),
        Some(Command::Clean { book, engines }) => clean(book, engines),
        Some(Command::Review { book }) => review(book),
        Some(Command::Accept { book }) => settle_all(book, Settle::Accept),
        Some(Command::Reject { book }) => settle_all(book, Settle::Reject),
        Some(Command::Init { book }) => init(book),
    }
}

/// The book's book.toml, read; a missing one is the user's to fix.
fn read_book_toml(root: &Path) -> Result<(PathBuf, String), Fatal> {
    let path = root.join("book.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(e) => Err(Fatal {
            error: anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
            hint: Some(hints::no_book(root)),
        }),
    }
}

/// The pending snapshots of the book at `root`, and the folder they are in.
fn pending_of(root: &Path) -> Result<(PathBuf, Vec<snapshot::Pending>), Fatal> {
    let (path, text) = read_book_toml(root)?;
    let config =
        Config::parse(&text).map_err(|problem| ConfigError::invalid(path, &text, problem))?;
    let dir = config.snapshot_dir(root);
    let pending = snapshot::pending(&dir)?;
    Ok((dir, pending))
}

/// `review`: each pending snapshot's diff, and the question, on the terminal.
fn review(root: PathBuf) -> Result<Outcome, Fatal> {
    let (dir, pending) = pending_of(&root)?;
    if pending.is_empty() {
        println!(
            "nothing to review: no pending snapshots in {}",
            dir.display()
        );
        return Ok(Outcome::Verified);
    }
    // The answers are single keys read from the terminal, and the diffs are for a person to read.
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Fatal {
            error: anyhow::anyhow!(
                "review asks about each of the {} pending snapshot(s) in {} on a terminal, and stdin or \
                 stdout is not one",
                pending.len(),
                dir.display()
            ),
            hint: Some(hints::review_needs_terminal(&root)),
        });
    }
    let color = anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never;
    let term = console::Term::stdout();
    let mut ask = || loop {
        if let console::Key::Char(c) = term.read_key()? {
            if let Some(choice) = review::Choice::from_key(c) {
                return Ok(choice);
            }
        }
    };
    let tally = review::walk(&pending, &mut std::io::stdout(), &mut ask, color)?;
    println!("\n{}", tally.line());
    if tally.skipped > 0 {
        println!("hint: {}", hints::review(&root, &dir));
    }
    Ok(Outcome::Verified)
}

/// What `accept` and `reject` do to every pending snapshot.
#[derive(Debug, Clone, Copy)]
enum Settle {
    Accept,
    Reject,
}

/// `accept` / `reject`: every pending snapshot of the book at once.
fn settle_all(root: PathBuf, settle: Settle) -> Result<Outcome, Fatal> {
    let (dir, pending) = pending_of(&root)?;
    let (verb, done) = match settle {
        Settle::Accept => ("accept", "accepted"),
        Settle::Reject => ("reject", "rejected"),
    };
    if pending.is_empty() {
        println!(
            "nothing to {verb}: no pending snapshots in {}",
            dir.display()
        );
        return Ok(Outcome::Verified);
    }
    for p in &pending {
        let folded = match settle {
            Settle::Accept => snapshot::accept(p)? == snapshot::Accepted::SameAsShared,
            Settle::Reject => {
                snapshot::reject(p)?;
                false
            }
        };
        if folded {
            println!("{done} {} as the shared snapshot it equals", p.name);
        } else {
            println!("{done} {}", p.name);
        }
    }
    println!(
        "{done} {} pending snapshot(s) in {}",
        pending.len(),
        dir.display()
    );
    Ok(Outcome::Verified)
}

/// `init`: the `[preprocessor.docktest]` table added to book.toml, or nothing when it is there.
fn init(root: PathBuf) -> Result<Outcome, Fatal> {
    let (path, text) = read_book_toml(&root)?;
    let invalid = |problem| ConfigError::invalid(path.clone(), &text, problem);
    // A book.toml docktest would refuse later is refused now, before anything is written.
    Config::parse(&text).map_err(invalid)?;
    let Some(added) = config::with_docktest_table(&text).map_err(invalid)? else {
        println!(
            "nothing to do: {} already has a [preprocessor.docktest] table",
            path.display()
        );
        return Ok(Outcome::Verified);
    };
    let config = Config::parse(&added).map_err(invalid)?;
    std::fs::write(&path, &added)
        .map_err(|e| anyhow::Error::new(e).context(format!("cannot write {}", path.display())))?;
    println!("added to {}:", path.display());
    let table = added.strip_prefix(text.as_str()).unwrap_or(&added);
    for line in table.lines().filter(|l| !l.trim().is_empty()) {
        println!("  {line}");
    }
    println!(
        "snapshots will go to {} (`snapshots = \"...\"` in that table moves them)",
        config.snapshot_dir(&root).display()
    );
    println!(
        "next: start an engine, then `{} {}`",
        hints::VERIFY,
        root.display()
    );
    Ok(Outcome::Verified)
}

/// `clean`: what killed runs left, from their journals and the label the proxy puts on what it creates, on
/// every engine of the pool `test` resolves (`--engine`, then the book's `engines`, else every engine the
/// environment and the journals name). An engine that cannot be reached is named and left for later; the
/// exit code is 2 when one could not be cleaned.
fn clean(book: Option<PathBuf>, engine_hosts: Vec<String>) -> Result<Outcome, Fatal> {
    let hosts = match (&book, engine_hosts.is_empty()) {
        (Some(root), true) => Book::load(root)?.config.engines,
        _ => engine_hosts,
    };
    let pool = engine::clean_pool(&hosts);
    let mut removed_any = false;
    let mut unreachable = Vec::new();
    for host in &pool {
        let endpoint = Endpoint {
            host: host.clone(),
            netns: None,
        };
        let removed = match Engine::connect(endpoint).and_then(|engine| engine.clean()) {
            Ok(removed) => removed,
            Err(e) => {
                unreachable.push(e);
                continue;
            }
        };
        for (kind, names) in [
            ("container", &removed.containers),
            ("network", &removed.networks),
            ("volume", &removed.volumes),
            ("image", &removed.images),
        ] {
            for name in names {
                removed_any = true;
                println!("removed {kind} {name} from {host}");
            }
        }
    }
    if unreachable.len() == pool.len() {
        if let Some(e) = unreachable.pop() {
            return Err(engine_fatal(e));
        }
    }
    for e in &unreachable {
        eprintln!("warning: not cleaned: {}", crate::error_chain(e));
    }
    if !removed_any {
        println!(
            "nothing to clean: no killed run left anything in {} engine(s)",
            pool.len() - unreachable.len()
        );
    }
    Ok(if unreachable.is_empty() {
        Outcome::Verified
    } else {
        Outcome::Error
    })
}

/// An engine docktest cannot use, with what the user can do about it.
fn engine_fatal(e: engine::EngineError) -> Fatal {
    Fatal {
        hint: hints::engine(&e),
        error: e.into(),
    }
}

/// The signal that stopped the run first; its exit code is the run's.
static STOPPED_BY: OnceLock<Stop> = OnceLock::new();

/// A signal that stops a run: Ctrl-C, what `timeout` and CI runners send, a closed terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Interrupt,
    Terminate,
    HangUp,
}

impl Stop {
    fn from_signal(signal: i32) -> Option<Stop> {
        match signal {
            SIGINT => Some(Stop::Interrupt),
            SIGTERM => Some(Stop::Terminate),
            SIGHUP => Some(Stop::HangUp),
            _ => None,
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Stop::Interrupt => Outcome::Interrupted,
            Stop::Terminate => Outcome::Terminated,
            Stop::HangUp => Outcome::HungUp,
        }
    }

    /// What the run says when it stops.
    fn word(self) -> &'static str {
        match self {
            Stop::Interrupt => "interrupted",
            Stop::Terminate => "terminated (SIGTERM)",
            Stop::HangUp => "hung up (SIGHUP)",
        }
    }
}

/// Ctrl-C, SIGTERM and SIGHUP stop the run as soon as the command in flight is given up on, and each page
/// still removes what it created; a second signal quits at once, leaving `mdbook-docktest clean` to finish.
/// Either way the exit code names the first signal.
fn stop_on_signals() {
    // Without the handlers the signals keep their default action, which kills the run without cleanup.
    let Ok(mut signals) = Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        for stop in signals.forever().filter_map(Stop::from_signal) {
            // Errors writing are ignored: after SIGHUP the terminal may be gone.
            let mut err = std::io::stderr();
            if let Some(first) = STOPPED_BY.get() {
                let _ = writeln!(
                    err,
                    "\nquitting without cleanup; run `mdbook-docktest clean` to remove what is left"
                );
                std::process::exit(first.outcome() as i32);
            }
            let _ = STOPPED_BY.set(stop);
            engine::cancel();
            let again = match stop {
                Stop::Interrupt => "Ctrl-C again",
                Stop::Terminate | Stop::HangUp => "a second signal",
            };
            let _ = writeln!(
                err,
                "\n{}: cleaning up ({again} to quit at once)",
                stop.word()
            );
        }
    });
}

/// Whether CI=true (or any value but `false`/`0`) is set: nothing is written then (no snapshot, no replay
/// cache).
pub(crate) fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The preprocessor: replay the book from its snapshots, fail (exit 1) on unverified blocks unless
/// `on-unverified = "warn"`.
fn preprocess() -> Result<Outcome, Fatal> {
    if std::io::stdin().is_terminal() {
        return Err(Fatal {
            error: anyhow::anyhow!(
                "without a command, mdbook-docktest is mdBook's preprocessor and reads mdBook's JSON on stdin"
            ),
            hint: Some(hints::preprocessor_needs_mdbook()),
        });
    }
    // Not joined: a chapter that needs the finders first waits for them, one taken from the cache never. A
    // thread the system refuses only means they are compiled at their first use. With a cache to take
    // chapters from, none is started: on a cached rebuild the thread's start and its work cost the build
    // 0.6 ms (of 4.8 ms), and a rebuild after an edit compiles them for its one changed chapter.
    if !crate::replay_cache::ReplayCache::likely_warm() {
        let _ = std::thread::Builder::new().spawn(crate::redact::prepare);
    }
    let replay = match preprocessor::preprocess(std::io::stdin().lock(), std::io::stdout().lock()) {
        Ok(r) => r,
        Err(e @ PreprocessError::Parse(_)) => {
            return Err(Fatal {
                error: e.into(),
                hint: Some(hints::fix_the_block()),
            })
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(w) = &replay.version_warning {
        eprintln!("warning: {w}");
    }
    if replay.problems.is_empty() {
        return Ok(Outcome::Verified);
    }
    let (word, outcome) = match replay.on_unverified {
        OnUnverified::Error => ("error", Outcome::Mismatch),
        OnUnverified::Warn => ("warning", Outcome::Verified),
    };
    for p in &replay.problems {
        eprintln!("{word}: {p}");
    }
    let count = replay.problems.len();
    match replay.on_unverified {
        OnUnverified::Error => eprintln!(
            "error: {count} example(s) are not verified, so the book is not built\nhint: {}",
            hints::unverified(&replay.root, &replay.snapshot_dir)
        ),
        OnUnverified::Warn => eprintln!(
            "warning: {count} example(s) are published marked as not verified\nhint: {}",
            hints::unverified_published(&replay.root)
        ),
    }
    Ok(outcome)
}

fn test(
    root: PathBuf,
    filter: Option<String>,
    partition: Option<Partition>,
    junit: Option<PathBuf>,
    update: bool,
    engine_hosts: Vec<String>,
    jobs: usize,
) -> Result<Outcome, Fatal> {
    let start = Instant::now();
    if update && ci() {
        return Err(Fatal {
            error: anyhow::anyhow!("--update rewrites pages, and CI=true forbids writing anything"),
            hint: Some(hints::update_locally()),
        });
    }
    let book = Book::load(&root)?;
    let color = anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never;
    let options = RunOptions {
        filter,
        partition,
        snapshots: if ci() {
            SnapshotMode::CheckOnly
        } else {
            SnapshotMode::CheckAndWritePending
        },
        color,
        engine_kind: None,
        kinds_before: Vec::new(),
    };
    let selection = options.selection(&book.pages);
    if selection.kept == 0 {
        return Err(Fatal {
            error: anyhow::anyhow!("no page of {} matches the filter", root.display()),
            hint: Some(hints::filter()),
        });
    }
    if !ci() {
        let dir = book.config.snapshot_dir(&book.root);
        snapshot::check_writable(&dir).map_err(|e| Fatal {
            error: e.into(),
            hint: Some(hints::writable(&dir)),
        })?;
    }
    stop_on_signals();
    // `--engine` takes DOCKER_HOSTs and engine kinds alike: a kind picks that kind of the engines found.
    let (kinds, engine_hosts): (Vec<String>, Vec<String>) = engine_hosts
        .into_iter()
        .partition(|e| engine::is_kind_name(e));
    let matrix = if kinds.is_empty() {
        book.config.matrix.clone()
    } else {
        kinds
    };
    if let Some(bad) = matrix.iter().find(|k| !engine::is_kind_name(k)) {
        return Err(Fatal {
            error: anyhow::anyhow!(
                "{}: `matrix` entry {bad:?} in [preprocessor.docktest] is not an engine kind",
                book.root.join("book.toml").display()
            ),
            hint: Some(hints::engine_kinds()),
        });
    }
    let hosts = if engine_hosts.is_empty() {
        &book.config.engines
    } else {
        &engine_hosts
    };
    let groups = engine_groups(hosts, &matrix, jobs)?;
    let mut prepared: Vec<(Option<String>, Vec<Engine>)> = Vec::with_capacity(groups.len());
    let mut images = Vec::new();
    for (kind, engines) in groups {
        let (engines, ready) = runner::prepare_pool(&book, engines).map_err(|e| {
            let hint = match &e {
                PrepareError::Engine(e) => hints::engine(e),
                PrepareError::Images(_) | PrepareError::Image { .. } => None,
            };
            Fatal {
                error: e.into(),
                hint,
            }
        })?;
        for engine in &engines {
            let endpoint = engine.endpoint();
            println!(
                "engine: {}, kind {}, at {}",
                engine.info(),
                engine.info().kind(),
                endpoint.host
            );
            if let Some(netns) = &endpoint.netns {
                println!("        sealed in network namespace {}", netns.display());
            }
        }
        if images.is_empty() {
            images = ready;
        }
        prepared.push((kind, engines));
    }
    for image in &images {
        println!("image:  {image}");
    }
    if let Some(partition) = &options.partition {
        println!(
            "shard:  {partition} runs {} of {} page(s), skips {} (the other shards run them)",
            selection.selected,
            selection.kept,
            selection.kept - selection.selected
        );
    }
    let blocks: usize = book
        .pages
        .iter()
        .filter(|p| options.selects(p))
        .map(|p| p.blocks.len())
        .sum();
    let mut out = Printer::new(color, blocks * prepared.len());
    // Every page on every kind of the matrix, in one schedule (`--jobs` pages at a time over all kinds). The
    // book's first kind's transcripts are the snapshots, also when --engine picks other kinds: theirs are
    // checked against those, then their own.
    let kinds: Vec<runner::KindRun<'_>> = prepared
        .iter()
        .map(|(kind, engines)| runner::KindRun {
            kind: kind.clone(),
            engines,
            options: RunOptions {
                engine_kind: own_snapshots(&book.config.matrix, &matrix, kind.as_deref()),
                kinds_before: kinds_before(&book.config.matrix, &matrix, kind.as_deref()),
                ..options.clone()
            },
        })
        .collect();
    let per_kind = runner::run_matrix(&kinds, &book, jobs, &mut out);
    let mut all_pages: Vec<PageRun> = Vec::new();
    let mut spans: Vec<(Option<String>, String, std::ops::Range<usize>)> = Vec::new();
    for ((kind, engines), pages) in prepared.iter().zip(per_kind) {
        let mut names: Vec<String> = engines.iter().map(|e| e.info().to_string()).collect();
        names.dedup();
        let range = all_pages.len()..all_pages.len() + pages.len();
        all_pages.extend(pages);
        spans.push((kind.clone(), names.join(", "), range));
    }
    let counts = out.summary(
        &all_pages,
        start,
        &book.root,
        &book.config.snapshot_dir(&book.root),
    );
    let runs: Vec<report::EngineRun> = spans
        .iter()
        .map(|(kind, engine, range)| report::EngineRun {
            kind: kind.as_deref(),
            engine,
            pages: &all_pages[range.clone()],
        })
        .collect();
    if !matrix.is_empty() {
        println!("\n{}", report::matrix_table(&runs));
    }
    if let Some(stop) = STOPPED_BY.get() {
        eprintln!(
            "{}: the pages that ran removed what they created",
            stop.word()
        );
        return Ok(stop.outcome());
    }
    if let Some(path) = &junit {
        let xml = report::junit(&runs, start.elapsed());
        std::fs::write(path, xml).map_err(|e| Fatal {
            error: anyhow::Error::new(e)
                .context(format!("cannot write the JUnit report {}", path.display())),
            hint: None,
        })?;
        println!("junit:  {}", path.display());
    }
    // `--update` writes what the book's first engine kind printed.
    let pages = runs.first().map_or(&[][..], |r| r.pages);
    if update {
        let fixed = update_pages(&book, pages)?;
        // The run's own failures are fixed in the pages when `--update` could rewrite every one of them.
        let only_fixed = pages.iter().all(|run| {
            book.pages
                .iter()
                .find(|p| p.path == run.path)
                .is_some_and(|page| update::fixes_every_failure(page, run))
        });
        let rest_ok =
            counts.snapshots == 0 && counts.cleanup_failures == 0 && counts.page_problems == 0;
        return Ok(if fixed && only_fixed && rest_ok {
            Outcome::Verified
        } else {
            Outcome::Mismatch
        });
    }
    Ok(if counts.ok() {
        Outcome::Verified
    } else {
        Outcome::Mismatch
    })
}

/// The order of the kinds whose runs are the snapshots: the book's matrix, or without one the kinds
/// --engine names. The first kind that runs a block takes its shared snapshot.
fn snapshot_order<'a>(book_matrix: &'a [String], matrix: &'a [String]) -> &'a [String] {
    if book_matrix.is_empty() {
        matrix
    } else {
        book_matrix
    }
}

/// The kind whose snapshots a run of `kind` keeps apart (`RunOptions::engine_kind`): none for the first kind
/// of the order, whose runs are the snapshots; the kind itself for any other.
fn own_snapshots(book_matrix: &[String], matrix: &[String], kind: Option<&str>) -> Option<String> {
    let reference = snapshot_order(book_matrix, matrix).first()?;
    kind.filter(|k| k != reference).map(str::to_string)
}

/// The kinds before `kind` in that order: a block none of them runs has `kind`'s run as its snapshot.
fn kinds_before(book_matrix: &[String], matrix: &[String], kind: Option<&str>) -> Vec<String> {
    kind.map_or_else(Vec::new, |kind| {
        snapshot_order(book_matrix, matrix)
            .iter()
            .take_while(|k| *k != kind)
            .cloned()
            .collect()
    })
}

/// Engines of one kind of the book's matrix (`None` without a matrix), connected.
type EngineGroup = (Option<String>, Vec<Engine>);

/// The engines to run on, by kind of the matrix: without a matrix, one group of the engines the pool finds
/// (at most `jobs`); with one, for each kind up to `jobs` of the engines found (`hosts`, else
/// DOCKTEST_ENGINES, else DOCKER_HOST) that are of that kind, as their API tells: once the other kinds'
/// pages are done, all `jobs` may run on one kind. Each engine is connected once, here, and the connection
/// kept for the run: connecting asks the engine what it is, which costs Podman 400 ms of CPU when it has
/// to be its `GET /version`.
fn engine_groups(
    hosts: &[String],
    matrix: &[String],
    jobs: usize,
) -> Result<Vec<EngineGroup>, Fatal> {
    if matrix.is_empty() {
        let endpoints = engine::pool(hosts, jobs).map_err(engine_fatal)?;
        if endpoints.len() < jobs {
            eprintln!(
                "warning: --jobs {jobs}, but {} engine(s) are available: {} page(s) run at a time\nhint: {}",
                endpoints.len(),
                endpoints.len(),
                hints::more_engines(jobs)
            );
        }
        let engines = endpoints
            .into_iter()
            .map(Engine::connect)
            .collect::<Result<_, _>>()
            .map_err(engine_fatal)?;
        return Ok(vec![(None, engines)]);
    }
    let mut found: Vec<(Endpoint, engine::EngineInfo, Option<Engine>)> = Vec::new();
    for endpoint in engine::pool(hosts, usize::MAX).map_err(engine_fatal)? {
        let engine = Engine::connect(endpoint.clone()).map_err(engine_fatal)?;
        found.push((endpoint, engine.info().clone(), Some(engine)));
    }
    let kinds: Vec<String> = found.iter().map(|(_, info, _)| info.kind()).collect();
    let mut groups = Vec::with_capacity(matrix.len());
    for kind in matrix {
        // An engine two kinds of the matrix name (`docker`, `docker-20.10`) is in both groups: the one
        // connection goes to the first, the next gets one of its own.
        let mut engines = Vec::new();
        for (endpoint, info, engine) in &mut found {
            if engines.len() == jobs || !info.is_kind(kind) {
                continue;
            }
            engines.push(match engine.take() {
                Some(engine) => engine,
                None => Engine::connect(endpoint.clone()).map_err(engine_fatal)?,
            });
        }
        if engines.is_empty() {
            return Err(Fatal {
                error: anyhow::anyhow!(
                    "no engine of kind {kind} (named by the book's matrix or --engine) is at hand \
                     (found: {})",
                    kinds.join(", ")
                ),
                hint: Some(hints::start_kind(kind)),
            });
        }
        groups.push((Some(kind.clone()), engines));
    }
    let engines: usize = groups.iter().map(|(_, e)| e.len()).sum();
    if engines < jobs {
        eprintln!(
            "warning: --jobs {jobs}, but {engines} engine(s) of the matrix's kinds are available: at most \
             {engines} page(s) run at a time\nhint: {}",
            hints::more_engines(jobs)
        );
    }
    Ok(groups)
}

/// `--update`: rewrites every page whose output or exit statuses did not match; `true` when every rewritten
/// page now matches its run.
fn update_pages(book: &Book, runs: &[PageRun]) -> Result<bool, Fatal> {
    let mut all_fixed = true;
    for run in runs {
        let Some(page) = book.pages.iter().find(|p| p.path == run.path) else {
            continue;
        };
        let file = book.root.join(&page.path);
        let content = std::fs::read_to_string(&file).map_err(|e| {
            anyhow::Error::new(e).context(format!("cannot read {}", file.display()))
        })?;
        if book.parse(&page.path, &content).as_ref() != Ok(page) {
            eprintln!(
                "warning: {} changed during the run; not updated (run again)",
                page.path.display()
            );
            all_fixed = false;
            continue;
        }
        let Some(updated) = update::rewrite_page(&content, page, run) else {
            continue;
        };
        std::fs::write(&file, &updated.content).map_err(|e| {
            anyhow::Error::new(e).context(format!("cannot write {}", file.display()))
        })?;
        let lines: Vec<String> = updated.steps.iter().map(|l| l.to_string()).collect();
        println!(
            "updated: {} (the output of the command(s) on line {})",
            page.path.display(),
            lines.join(", ")
        );
        let still = book
            .parse(&page.path, &updated.content)
            .map(|new_page| update::still_mismatching(&new_page, run))
            .unwrap_or_default();
        for line in &still {
            all_fixed = false;
            eprintln!(
                "warning: {}:{line}: still differs from the run after --update (a timeout, or a value the \
                 page shows elsewhere that no longer holds); fix it by hand",
                page.path.display()
            );
        }
    }
    Ok(all_fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    // `--engine podman` on the guide wrote Podman's runs as pending changes of the shared snapshots: only the
    // book's first kind's runs are the snapshots.
    #[test]
    fn only_the_books_first_kind_writes_the_shared_snapshots() {
        let book = ["docker-20.10".to_string(), "docker-26.1".to_string()];
        let podman = ["podman".to_string()];
        assert_eq!(
            own_snapshots(&book, &podman, Some("podman")).as_deref(),
            Some("podman")
        );
        assert_eq!(own_snapshots(&book, &book, Some("docker-20.10")), None);
        assert_eq!(
            own_snapshots(&book, &book, Some("docker-26.1")).as_deref(),
            Some("docker-26.1")
        );
        assert_eq!(own_snapshots(&[], &podman, Some("podman")), None);
        assert_eq!(own_snapshots(&[], &[], None), None);
    }
}
