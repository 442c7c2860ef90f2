//! The command line: `mdbook-docktest test [BOOK]`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anstream::ColorChoice;
use clap::{Parser, Subcommand};
use owo_colors::OwoColorize;

use crate::engine::Endpoint;
use crate::runner::{
    self, BlockRun, Book, Observer, PageRun, RunOptions, SnapshotMode, SnapshotVerdict,
    StepFailure, Verdict,
};
use crate::snippet::{Page, Status};

#[derive(Debug, Parser)]
#[command(
    name = "mdbook-docktest",
    version,
    about = "Keep a Docker guide's shell examples true"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every shell example of the book against the Docker engine and compare with the page and the
    /// snapshots.
    Test {
        /// The book's root (the folder holding book.toml).
        #[arg(default_value = "book")]
        book: PathBuf,
        /// Run only pages whose path contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
}

/// How a run ended, as the process exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every block verified.
    Verified = 0,
    /// At least one block did not match the page or its snapshot.
    Mismatch = 1,
    /// Bad input or no usable engine.
    Error = 2,
}

/// A failure before anything ran, with what the user can do about it.
#[derive(Debug)]
pub struct Fatal {
    pub error: anyhow::Error,
    pub hint: Option<String>,
}

impl<E: Into<anyhow::Error>> From<E> for Fatal {
    fn from(e: E) -> Self {
        Fatal {
            error: e.into(),
            hint: None,
        }
    }
}

pub fn run(cli: Cli) -> Result<Outcome, Fatal> {
    match cli.command {
        Command::Test { book, filter } => test(book, filter),
    }
}

fn test(root: PathBuf, filter: Option<String>) -> Result<Outcome, Fatal> {
    let start = Instant::now();
    let book = Book::load(&root)?;
    let endpoint = Endpoint::from_env();
    let (engine, images) = runner::prepare(&book, endpoint.clone()).map_err(|e| {
        let hint = match &e {
            runner::PrepareError::Engine(e) => e.hint().map(String::from),
            runner::PrepareError::Images(_) => None,
        };
        Fatal {
            error: e.into(),
            hint,
        }
    })?;
    let color = anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never;
    let mut out = Printer { color };

    println!("engine: {} at {}", engine.info(), endpoint.host);
    if let Some(netns) = &endpoint.netns {
        println!("        sealed in network namespace {}", netns.display());
    }
    for image in &images {
        println!("image:  {image}");
    }
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    let options = RunOptions {
        filter,
        snapshots: if ci {
            SnapshotMode::CheckOnly
        } else {
            SnapshotMode::CheckAndWritePending
        },
        color,
    };
    let pages = runner::run_book(&engine, &book, &options, &mut out);
    if pages.is_empty() {
        return Err(Fatal {
            error: anyhow::anyhow!("no page of {} matches the filter", root.display()),
            hint: Some("check --filter against the chapter paths in SUMMARY.md".into()),
        });
    }
    Ok(out.summary(&pages, start))
}

struct Printer {
    color: bool,
}

impl Printer {
    fn paint(&self, text: &str, style: owo_colors::Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    fn summary(&self, pages: &[PageRun], start: Instant) -> Outcome {
        let blocks = pages.iter().flat_map(|p| &p.blocks);
        let (mut verified, mut failed, mut ignored, mut snapshots) = (0, 0, 0, 0);
        for b in blocks {
            match (&b.verdict, &b.snapshot) {
                (Verdict::Ignored { .. }, _) => ignored += 1,
                (Verdict::Failed(_), _) => failed += 1,
                (Verdict::Verified, SnapshotVerdict::NotChecked | SnapshotVerdict::Matches) => {
                    verified += 1
                }
                (Verdict::Verified, _) => snapshots += 1,
            }
        }
        let cleanup_failures = pages.iter().filter(|p| p.cleanup.is_err()).count();
        let mut line = format!("{verified} verified, {failed} failed");
        if snapshots > 0 {
            line.push_str(&format!(", {snapshots} with new or changed snapshots"));
        }
        if ignored > 0 {
            line.push_str(&format!(", {ignored} ignored"));
        }
        line.push_str(&format!(
            " in {} page(s), {:.1}s",
            pages.len(),
            start.elapsed().as_secs_f64()
        ));
        println!();
        let ok = failed == 0 && snapshots == 0 && cleanup_failures == 0;
        let style = if ok {
            owo_colors::Style::new().green().bold()
        } else {
            owo_colors::Style::new().red().bold()
        };
        println!("{}", self.paint(&line, style));
        if snapshots > 0 {
            println!(
                "hint: review the pending snapshots with `cargo insta review --snapshot-path snapshots` \
                 (or accept them all with `cargo insta accept`)"
            );
        }
        if ok {
            Outcome::Verified
        } else {
            Outcome::Mismatch
        }
    }
}

impl Observer for Printer {
    fn page_started(&mut self, page: &Page) {
        println!(
            "\n{}",
            self.paint(
                &page.path.display().to_string(),
                owo_colors::Style::new().bold()
            )
        );
    }

    fn block_done(&mut self, page: &Page, block: &BlockRun) {
        let place = format!("{}:{}", page.path.display(), block.line);
        let secs = format!("{:.2}s", block.elapsed.as_secs_f64());
        let kind = if block.hidden { " (hidden)" } else { "" };
        let (word, style) = match (&block.verdict, &block.snapshot) {
            (Verdict::Ignored { .. }, _) => ("ignored", owo_colors::Style::new().yellow()),
            (Verdict::Failed(_), _) => ("FAILED", owo_colors::Style::new().red().bold()),
            (Verdict::Verified, SnapshotVerdict::New { .. }) => {
                ("new snapshot", owo_colors::Style::new().yellow().bold())
            }
            (Verdict::Verified, SnapshotVerdict::Changed { .. }) => {
                ("snapshot changed", owo_colors::Style::new().red().bold())
            }
            (Verdict::Verified, _) => ("verified", owo_colors::Style::new().green()),
        };
        println!("  {:<16} {place}{kind}  {secs}", self.paint(word, style));
        if let Verdict::Ignored { reason } = &block.verdict {
            println!("      reason: {reason}");
        }
        if let Verdict::Failed(failures) = &block.verdict {
            for f in failures {
                let first = f.command.lines().next().unwrap_or_default();
                println!(
                    "    {}:{}: {}{first}",
                    page.path.display(),
                    f.line,
                    f.prompt
                );
                match &f.what {
                    StepFailure::Output { diff, conflict } => {
                        println!("      output differs from the page (- page, + actual):");
                        for l in diff.lines() {
                            println!("      {l}");
                        }
                        if let Some(c) = conflict {
                            println!("      {c}");
                        }
                    }
                    StepFailure::Status { expected, actual } => println!(
                        "      exit status {actual}, but the page expects {}",
                        match expected {
                            Status::Success =>
                                "success (add a `? {actual}` line if the failure is meant)"
                                    .replace("{actual}", &actual.to_string()),
                            Status::Code(n) => format!("`? {n}`"),
                            Status::Failed => "a failure (`? failed`)".to_string(),
                        }
                    ),
                    StepFailure::Timeout {
                        after,
                        session_closed,
                    } => println!(
                        "      still running after {}: it was interrupted{} \
                         (raise the block's `timeout=` if it is just slow)",
                        runner::human(*after),
                        if *session_closed {
                            " and its container session closed"
                        } else {
                            ""
                        }
                    ),
                    StepFailure::Terminal { message } => println!("      {message}"),
                }
            }
        }
        match &block.snapshot {
            SnapshotVerdict::Changed { diff, pending } => {
                println!(
                    "      snapshot {} differs (- stored, + actual):",
                    block.name
                );
                for l in diff.lines() {
                    println!("      {l}");
                }
                if let Some(p) = pending {
                    println!("      pending: {}", p.display());
                }
            }
            SnapshotVerdict::New { pending: Some(p) } => {
                println!("      pending: {}", p.display());
            }
            _ => {}
        }
        let _ = std::io::stdout().flush();
    }

    fn page_done(&mut self, page: &PageRun) {
        match &page.cleanup {
            Ok(removed) if !removed.is_empty() => println!(
                "  cleanup: removed {} container(s), {} network(s), {} volume(s) the page left",
                removed.containers.len(),
                removed.networks.len(),
                removed.volumes.len()
            ),
            Ok(_) => {}
            Err(e) => println!(
                "  {} {e}",
                self.paint("cleanup failed:", owo_colors::Style::new().red().bold())
            ),
        }
    }
}
