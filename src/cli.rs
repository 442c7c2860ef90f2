//! The command line: `mdbook-docktest` (mdBook's preprocessor), `mdbook-docktest supports RENDERER`,
//! `mdbook-docktest test [BOOK]` and `mdbook-docktest clean`. The binary is [`main`]; the exit code says how
//! the run went.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use anstream::ColorChoice;
use clap::{Parser, Subcommand};
use mdbook_preprocessor::Preprocessor;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::book::Book;
use crate::config::OnUnverified;
use crate::engine::{self, Endpoint, Engine};
use crate::hints;
use crate::preprocessor::{self, Docktest, PreprocessError};
use crate::report::{self, Printer};
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
        /// Run N pages at once, each on an engine of its own (`sudo scripts/engine-start N` starts N).
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        jobs: u16,
        /// An engine to run pages on, as a DOCKER_HOST (`unix:///run/docktest/docker.sock`, `ssh://ci`);
        /// repeat it for several. Default: the `engines` book.toml lists; else, with --jobs above 1, those
        /// DOCKTEST_ENGINES lists; else the one DOCKER_HOST names.
        #[arg(long = "engine", value_name = "HOST")]
        engines: Vec<String>,
    },
    /// Remove the containers, networks and volumes that runs killed before their cleanup left in the engine.
    Clean,
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
        Some(Command::Clean) => clean(),
    }
}

/// `clean`: what killed runs left, from their journals.
fn clean() -> Result<Outcome, Fatal> {
    let engine = Endpoint::from_env()
        .and_then(Engine::connect)
        .map_err(engine_fatal)?;
    let removed = engine.clean()?;
    if removed.is_empty() {
        println!("nothing to clean: no killed run left anything in this engine");
    }
    for (kind, names) in [
        ("container", &removed.containers),
        ("network", &removed.networks),
        ("volume", &removed.volumes),
    ] {
        for name in names {
            println!("removed {kind} {name}");
        }
    }
    Ok(Outcome::Verified)
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
    let hosts = if engine_hosts.is_empty() {
        &book.config.engines
    } else {
        &engine_hosts
    };
    let endpoints = engine::pool(hosts, jobs).map_err(engine_fatal)?;
    if endpoints.len() < jobs {
        eprintln!(
            "warning: --jobs {jobs}, but {} engine(s) are available: {} page(s) run at a time\nhint: {}",
            endpoints.len(),
            endpoints.len(),
            hints::more_engines(jobs)
        );
    }
    let mut engines = Vec::with_capacity(endpoints.len());
    let mut images = Vec::new();
    for endpoint in &endpoints {
        let (engine, ready) = runner::prepare(&book, endpoint.clone()).map_err(|e| {
            let hint = match &e {
                PrepareError::Engine(e) => hints::engine(e),
                PrepareError::Images(_) | PrepareError::Image { .. } => None,
            };
            Fatal {
                error: e.into(),
                hint,
            }
        })?;
        println!("engine: {} at {}", engine.info(), endpoint.host);
        if let Some(netns) = &endpoint.netns {
            println!("        sealed in network namespace {}", netns.display());
        }
        if images.is_empty() {
            images = ready;
        }
        engines.push(engine);
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
    let blocks = book
        .pages
        .iter()
        .filter(|p| options.selects(p))
        .map(|p| p.blocks.len())
        .sum();
    let mut out = Printer::new(color, blocks);
    let pages = runner::run_book(&engines, &book, &options, &mut out);
    let counts = out.summary(&pages, start, &book.config.snapshot_dir(&book.root));
    if let Some(stop) = STOPPED_BY.get() {
        eprintln!(
            "{}: the pages that ran removed what they created",
            stop.word()
        );
        return Ok(stop.outcome());
    }
    if let Some(path) = &junit {
        let mut names: Vec<String> = engines.iter().map(|e| e.info().to_string()).collect();
        names.dedup();
        let xml = report::junit(&pages, &names.join(", "), start.elapsed());
        std::fs::write(path, xml).map_err(|e| Fatal {
            error: anyhow::Error::new(e)
                .context(format!("cannot write the JUnit report {}", path.display())),
            hint: None,
        })?;
        println!("junit:  {}", path.display());
    }
    if update {
        let fixed = update_pages(&book, &pages)?;
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
