//! What `mdbook-docktest test` tells its user and CI: a line per block (under a progress bar on a
//! terminal, plain lines otherwise), a summary, and a JUnit XML report with one test case per block.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use owo_colors::{OwoColorize, Style};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::hints;
use crate::runner::{self, BlockRun, Observer, PageRun, SnapshotVerdict, StepFailure, Verdict};
use crate::snippet::{Page, Status};

/// How a run ended, in the words of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub verified: usize,
    pub failed: usize,
    pub ignored: usize,
    /// Verified against the page, but with a new or changed snapshot.
    pub snapshots: usize,
    pub cleanup_failures: usize,
    /// Pages whose results cannot be trusted as a whole (the engine restarted under them).
    pub page_problems: usize,
}

impl Counts {
    pub fn of(pages: &[PageRun]) -> Counts {
        let mut c = Counts {
            verified: 0,
            failed: 0,
            ignored: 0,
            snapshots: 0,
            cleanup_failures: pages.iter().filter(|p| p.cleanup.is_err()).count(),
            page_problems: pages.iter().filter(|p| p.problem.is_some()).count(),
        };
        for b in pages.iter().flat_map(|p| &p.blocks) {
            match (&b.verdict, &b.snapshot) {
                (Verdict::Ignored { .. }, _) => c.ignored += 1,
                (Verdict::Failed(_), _) => c.failed += 1,
                (Verdict::Verified, SnapshotVerdict::NotChecked | SnapshotVerdict::Matches) => {
                    c.verified += 1
                }
                (Verdict::Verified, _) => c.snapshots += 1,
            }
        }
        c
    }

    pub fn ok(&self) -> bool {
        self.failed == 0
            && self.snapshots == 0
            && self.cleanup_failures == 0
            && self.page_problems == 0
    }
}

/// Prints the run as it goes: one line per block (with what failed), under a progress bar when both
/// stdout and stderr are terminals.
pub struct Printer {
    color: bool,
    bar: Option<ProgressBar>,
    /// Blocks the bar counted as they ran (under `--jobs`) and whose lines are still to be printed: the
    /// bar moves with the run, not with the report, which waits for the pages before.
    counted_ahead: usize,
}

impl Printer {
    /// `blocks`: how many blocks the run will report, for the progress bar.
    pub fn new(color: bool, blocks: usize) -> Printer {
        let bar = (std::io::stdout().is_terminal() && std::io::stderr().is_terminal()).then(|| {
            let style = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{bar:30}] {pos}/{len} blocks  {msg}",
            )
            .expect("valid template")
            .progress_chars("=> ");
            let bar = ProgressBar::new(blocks as u64).with_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Printer {
            color,
            bar,
            counted_ahead: 0,
        }
    }

    fn paint(&self, text: &str, style: Style) -> String {
        if self.color {
            text.style(style).to_string()
        } else {
            text.to_string()
        }
    }

    fn emit(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => {
                println!("{line}");
            }
        }
    }

    /// Removes the progress bar and prints the summary; returns the counts.
    pub fn summary(
        &self,
        pages: &[PageRun],
        start: Instant,
        book_root: &Path,
        snapshot_dir: &Path,
    ) -> Counts {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let c = Counts::of(pages);
        let mut line = format!("{} verified, {} failed", c.verified, c.failed);
        if c.snapshots > 0 {
            line.push_str(&format!(", {} with new or changed snapshots", c.snapshots));
        }
        if c.ignored > 0 {
            line.push_str(&format!(", {} ignored", c.ignored));
        }
        line.push_str(&format!(
            " in {} page(s), {:.1}s",
            pages.len(),
            start.elapsed().as_secs_f64()
        ));
        println!();
        let style = if c.ok() {
            Style::new().green().bold()
        } else {
            Style::new().red().bold()
        };
        println!("{}", self.paint(&line, style));
        if c.snapshots > 0 {
            // With CI=true nothing was written, so there is nothing to review here.
            let written = pages.iter().flat_map(|p| &p.blocks).any(|b| {
                matches!(
                    b.snapshot,
                    SnapshotVerdict::New { pending: Some(_) }
                        | SnapshotVerdict::Changed {
                            pending: Some(_),
                            ..
                        }
                )
            });
            let hint = if written {
                hints::review(book_root, snapshot_dir)
            } else {
                hints::record_locally(book_root)
            };
            println!("hint: {hint}");
        }
        c
    }
}

/// The verdict word of a block.
fn verdict_word(block: &BlockRun) -> (&'static str, Style) {
    match (&block.verdict, &block.snapshot) {
        (Verdict::Ignored { .. }, _) => ("ignored", Style::new().yellow()),
        (Verdict::Failed(_), _) => ("FAILED", Style::new().red().bold()),
        (Verdict::Verified, SnapshotVerdict::New { .. }) => {
            ("new snapshot", Style::new().yellow().bold())
        }
        (Verdict::Verified, SnapshotVerdict::Changed { .. }) => {
            ("snapshot changed", Style::new().red().bold())
        }
        (Verdict::Verified, _) => ("verified", Style::new().green()),
    }
}

/// What went wrong in a block, as indented lines: each failing command with its `file:line`, the diff or
/// the status, then the snapshot's side.
pub fn details(page: &Path, block: &BlockRun) -> Vec<String> {
    let mut out = Vec::new();
    if let Verdict::Ignored { reason } = &block.verdict {
        out.push(format!("      reason: {reason}"));
    }
    if let Verdict::Failed(failures) = &block.verdict {
        for f in failures {
            let first = f.command.lines().next().unwrap_or_default();
            out.push(format!(
                "    {}:{}: {}{first}",
                page.display(),
                f.line,
                f.prompt
            ));
            match &f.what {
                StepFailure::Output { diff, conflict } => {
                    out.push("      output differs from the page (- page, + actual):".into());
                    out.extend(diff.lines().map(|l| format!("      {l}")));
                    if let Some(c) = conflict {
                        out.push(format!("      {c}"));
                    }
                }
                StepFailure::Status {
                    expected,
                    actual,
                    tail,
                } => {
                    out.push(format!(
                        "      exit status {actual}, but the page expects {}",
                        match expected {
                            Status::Success =>
                                format!("success (add a `? {actual}` line if the failure is meant)"),
                            Status::Code(n) => format!("`? {n}`"),
                            Status::Failed => "a failure (`? failed`)".to_string(),
                        }
                    ));
                    if !tail.is_empty() {
                        out.push("      it printed:".into());
                        out.extend(tail.lines().map(|l| format!("      | {l}")));
                    }
                }
                StepFailure::Timeout {
                    after,
                    session_closed,
                } => out.push(format!(
                    "      still running after {}: it was interrupted{} \
                     (raise the block's `timeout=` if it is just slow)",
                    runner::human(*after),
                    if *session_closed {
                        " and its container session closed"
                    } else {
                        ""
                    }
                )),
                StepFailure::Terminal { message } => out.push(format!("      {message}")),
                StepFailure::Refused {
                    what,
                    grant,
                    fence_line,
                } => {
                    out.push(format!(
                        "      refused {what}: a page may not do this unless allowed; it was not sent to \
                         the engine, so nothing was created"
                    ));
                    out.push(format!(
                        "      hint: {}",
                        hints::allow(&format!("{}:{fence_line}", page.display()), grant)
                    ));
                }
            }
        }
    }
    match &block.snapshot {
        SnapshotVerdict::Changed { diff, pending } => {
            out.push(format!(
                "      snapshot {} differs (- stored, + actual):",
                block.name
            ));
            out.extend(diff.lines().map(|l| format!("      {l}")));
            if let Some(p) = pending {
                out.push(format!("      pending: {}", p.display()));
            }
        }
        SnapshotVerdict::New { pending: Some(p) } => {
            out.push(format!("      pending: {}", p.display()));
        }
        _ => {}
    }
    out
}

impl Observer for Printer {
    fn kind_started(&mut self, kind: &str) {
        self.emit(&format!("\nmatrix: {kind}"));
    }

    fn page_started(&mut self, page: &Page) {
        let path = page.path.display().to_string();
        // Under `--jobs` the bar names what runs (`progressed`), not what is told.
        if let Some(bar) = self.bar.as_ref().filter(|_| self.counted_ahead == 0) {
            bar.set_message(path.clone());
        }
        self.emit(&format!("\n{}", self.paint(&path, Style::new().bold())));
    }

    fn block_done(&mut self, page: &Page, block: &BlockRun) {
        let place = format!("{}:{}", page.path.display(), block.line);
        let secs = format!("{:.2}s", block.elapsed.as_secs_f64());
        let kind = if block.hidden { " (hidden)" } else { "" };
        let (word, style) = verdict_word(block);
        self.emit(&format!(
            "  {:<16} {place}{kind}  {secs}",
            self.paint(word, style)
        ));
        for line in details(&page.path, block) {
            self.emit(&line);
        }
        if self.counted_ahead > 0 {
            self.counted_ahead -= 1;
        } else if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        let _ = std::io::stdout().flush();
    }

    fn progressed(&mut self, page: &Page, kind: Option<&str>) {
        if let Some(bar) = &self.bar {
            self.counted_ahead += 1;
            bar.inc(1);
            bar.set_message(match kind {
                Some(kind) => format!("{} ({kind})", page.path.display()),
                None => page.path.display().to_string(),
            });
        }
    }

    fn page_done(&mut self, page: &PageRun) {
        if let Some(problem) = &page.problem {
            self.emit(&format!(
                "  {} {problem}",
                self.paint("page failed:", Style::new().red().bold())
            ));
        }
        match &page.cleanup {
            Ok(removed) if !removed.is_empty() => self.emit(&format!(
                "  cleanup: removed {} container(s), {} network(s), {} volume(s), {} image(s) the page left",
                removed.containers.len(),
                removed.networks.len(),
                removed.volumes.len(),
                removed.images.len()
            )),
            Ok(_) => {}
            Err(e) => self.emit(&format!(
                "  {} {}",
                self.paint("cleanup failed:", Style::new().red().bold()),
                crate::error_chain(e)
            )),
        }
    }
}

/// The pages a run ran on the engines of one kind.
pub struct EngineRun<'a> {
    /// The kind of the book's matrix (`docker-26.1`); `None` without a matrix.
    pub kind: Option<&'a str>,
    /// How the engines name themselves (`Docker 26.1.5+dfsg1 (API 1.45)`).
    pub engine: &'a str,
    pub pages: &'a [PageRun],
}

/// A JUnit XML report: a test suite per page, a test case per block named `page:line` (hidden blocks too),
/// plus a `cleanup` case for a page whose cleanup failed. Ignored blocks are skipped cases. With a matrix,
/// every suite and case also names its engine kind (`page:line [docker-26.1]`).
pub fn junit(runs: &[EngineRun], elapsed: Duration) -> String {
    let mut report = Report::new("docktest");
    report.set_time(elapsed);
    for (run, page) in runs
        .iter()
        .flat_map(|run| run.pages.iter().map(move |page| (run, page)))
    {
        let tag = run.kind.map(|k| format!(" [{k}]")).unwrap_or_default();
        let path = page.path.display().to_string();
        let mut suite = TestSuite::new(format!("{path}{tag}"));
        suite.set_time(page.elapsed);
        suite.add_property(("engine", run.engine));
        for block in &page.blocks {
            let name = format!("{path}:{}{tag}", block.line);
            let description = details(&page.path, block).join("\n");
            let status = match (&block.verdict, &block.snapshot) {
                (Verdict::Ignored { reason }, _) => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!("ignored: {reason}"));
                    s
                }
                (Verdict::Failed(failures), _) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!(
                        "{} command(s) did not do what the page shows",
                        failures.len()
                    ));
                    s.set_description(description);
                    s
                }
                (Verdict::Verified, SnapshotVerdict::New { .. }) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!("no snapshot {} yet", block.name));
                    s.set_description(description);
                    s
                }
                (Verdict::Verified, SnapshotVerdict::Changed { .. }) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!("snapshot {} changed", block.name));
                    s.set_description(description);
                    s
                }
                (Verdict::Verified, _) => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(name, status);
            case.set_classname(path.clone());
            case.set_time(block.elapsed);
            suite.add_test_case(case);
        }
        if let Some(problem) = &page.problem {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(problem.clone());
            let mut case = TestCase::new(format!("{path}: page{tag}"), s);
            case.set_classname(path.clone());
            suite.add_test_case(case);
        }
        if let Err(e) = &page.cleanup {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Error);
            s.set_message(format!("cleanup failed: {}", crate::error_chain(e)));
            let mut case = TestCase::new(format!("{path}: cleanup{tag}"), s);
            case.set_classname(path.clone());
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- cannot serialize the report: {e} -->"))
}

/// The block × engine table of a matrix run: a row per block (`page:line`), a column per engine kind, each
/// cell the block's verdict there (`-` where it did not run).
pub fn matrix_table(runs: &[EngineRun]) -> String {
    let mut rows: Vec<String> = Vec::new();
    let mut cells: BTreeMap<(String, usize), &'static str> = BTreeMap::new();
    for (column, run) in runs.iter().enumerate() {
        for page in run.pages {
            for block in &page.blocks {
                let row = format!("{}:{}", page.path.display(), block.line);
                if !rows.contains(&row) {
                    rows.push(row.clone());
                }
                cells.insert((row, column), verdict_word(block).0);
            }
        }
    }
    let header: Vec<&str> = runs.iter().map(|r| r.kind.unwrap_or("engine")).collect();
    let first = rows.iter().map(String::len).max().unwrap_or(0).max(5);
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(column, h)| {
            cells
                .iter()
                .filter(|((_, c), _)| *c == column)
                .map(|(_, cell)| cell.len())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = format!("{:first$}", "block");
    for (h, w) in header.iter().zip(&widths) {
        out.push_str(&format!("  {h:w$}"));
    }
    out.push('\n');
    for row in &rows {
        out.push_str(&format!("{row:first$}"));
        for (column, w) in widths.iter().enumerate() {
            let cell = cells.get(&(row.clone(), column)).copied().unwrap_or("-");
            out.push_str(&format!("  {cell:w$}"));
        }
        out.truncate(out.trim_end().len());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Failure, StepRun};
    use crate::snapshot::Meta;

    fn block(line: usize, verdict: Verdict) -> BlockRun {
        BlockRun {
            line,
            name: format!("src-p__top-{line}"),
            verdict,
            snapshot: SnapshotVerdict::Matches,
            transcript: String::new(),
            steps: vec![StepRun {
                line: line + 1,
                actual: String::new(),
                status: Some(0),
            }],
            meta: Meta::default(),
            elapsed: Duration::from_millis(1500),
            hidden: false,
        }
    }

    // CI reads one test case per block, named by page and line, with the diff of a failure.
    #[test]
    fn junit_has_a_case_per_block() {
        let pages = vec![PageRun {
            path: "src/p.md".into(),
            blocks: vec![
                block(3, Verdict::Verified),
                block(
                    9,
                    Verdict::Failed(vec![Failure {
                        line: 10,
                        prompt: "$ ".into(),
                        command: "echo hi".into(),
                        what: StepFailure::Output {
                            diff: "-hello\n+hi\n".into(),
                            conflict: None,
                        },
                    }]),
                ),
                block(
                    15,
                    Verdict::Ignored {
                        reason: "needs a registry".into(),
                    },
                ),
            ],
            cleanup: Ok(Default::default()),
            problem: None,
            elapsed: Duration::from_secs(3),
        }];
        let xml = junit(
            &[EngineRun {
                kind: None,
                engine: "Docker 20.10.24",
                pages: &pages,
            }],
            Duration::from_secs(4),
        );
        assert!(xml.contains("tests=\"3\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("skipped=\"1\""), "{xml}");
        assert!(xml.contains("name=\"src/p.md:3\""), "{xml}");
        assert!(xml.contains("name=\"src/p.md:9\""), "{xml}");
        assert!(xml.contains("src/p.md:10: $ echo hi"), "{xml}");
        assert!(xml.contains("-hello"), "{xml}");
    }

    // A matrix run reports each block once per engine kind: CI must tell which engine a failure was on.
    #[test]
    fn matrix_runs_name_the_engine_in_junit_and_the_table() {
        let page = |verdict| PageRun {
            path: "src/p.md".into(),
            blocks: vec![block(3, Verdict::Verified), block(9, verdict)],
            cleanup: Ok(Default::default()),
            problem: None,
            elapsed: Duration::from_secs(1),
        };
        let old = vec![page(Verdict::Verified)];
        let new = vec![page(Verdict::Failed(Vec::new()))];
        let runs = [
            EngineRun {
                kind: Some("docker-20.10"),
                engine: "Docker 20.10.24+dfsg1 (API 1.41)",
                pages: &old,
            },
            EngineRun {
                kind: Some("docker-26.1"),
                engine: "Docker 26.1.5+dfsg1 (API 1.45)",
                pages: &new,
            },
        ];
        let xml = junit(&runs, Duration::from_secs(2));
        assert!(xml.contains("name=\"src/p.md:9 [docker-26.1]\""), "{xml}");
        assert!(xml.contains("name=\"src/p.md:9 [docker-20.10]\""), "{xml}");
        assert!(xml.contains("tests=\"4\""), "{xml}");
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert_eq!(
            matrix_table(&runs),
            "block       docker-20.10  docker-26.1\n\
             src/p.md:3  verified      verified\n\
             src/p.md:9  verified      FAILED\n"
        );
    }
}
