//! What docktest's preprocessor costs (a benchmark that prints, not a timed test; `scripts/bench`):
//!
//! 1. `mdbook build` of the guide with the preprocessor against the same book without it (goal ≤ 1.10×);
//! 2. the preprocessor alone, as mdBook runs it, on a generated 200-chapter book made of the guide's chapters
//!    and their snapshots (goal: under 200 ms and 50 MB peak memory).
//!
//! Needs mdBook 0.5.4 on PATH and the guide's snapshots in `snapshots/`.
#![allow(unsafe_code)] // getrusage, for the peak memory of the preprocessor's process

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use mdbook_docktest::snapshot;
use mdbook_docktest::snippet;
use mdbook_preprocessor::book::{Book, BookItem, Chapter};
use mdbook_preprocessor::config::Config;
use mdbook_preprocessor::PreprocessorContext;

const RUNS: usize = 9;
const CHAPTERS: usize = 200;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_mdbook-docktest"));
    let work = tempfile::tempdir().expect("temporary folder");

    // 2 first: the peak memory of children is a high-water mark, and mdBook's own processes are larger.
    let (alone, peak_kb, blocks) = preprocessor_alone(root, bin, work.path());
    let (with, without) = mdbook_build_ratio(root, bin, work.path());

    let ratio = with.as_secs_f64() / without.as_secs_f64();
    println!("docktest preprocessor benchmark (median of {RUNS} runs)");
    println!(
        "  mdbook build book, with docktest:     {:>7.1} ms",
        ms(with)
    );
    println!(
        "  mdbook build book, without docktest:  {:>7.1} ms",
        ms(without)
    );
    println!(
        "  ratio:                                {ratio:>7.2}x   (goal <= 1.10x) {}",
        verdict(ratio <= 1.10)
    );
    println!(
        "  preprocessor alone, {CHAPTERS} chapters ({blocks} runnable blocks): {:>7.1} ms   (goal < 200 ms) {}",
        ms(alone),
        verdict(alone < Duration::from_millis(200))
    );
    println!(
        "  preprocessor alone, peak memory:      {:>7.1} MB   (goal < 50 MB) {}",
        peak_kb as f64 / 1024.0,
        verdict(peak_kb < 50 * 1024)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            if entry.file_name() != "build" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Times `mdbook build` of the guide as it is and of a copy whose book.toml has no docktest table.
fn mdbook_build_ratio(root: &Path, bin: &Path, work: &Path) -> (Duration, Duration) {
    let with = work.join("with");
    let without = work.join("without");
    copy_dir(&root.join("book"), &with);
    copy_dir(&root.join("book"), &without);
    // The snapshots sit next to the book, as in the repository.
    let snaps = root.join("snapshots");
    std::os::unix::fs::symlink(&snaps, work.join("snapshots")).unwrap();

    let toml_path = without.join("book.toml");
    let mut table: toml::Table = std::fs::read_to_string(&toml_path)
        .unwrap()
        .parse()
        .unwrap();
    if let Some(toml::Value::Table(pre)) = table.get_mut("preprocessor") {
        pre.remove("docktest");
    }
    std::fs::write(&toml_path, toml::to_string(&table).unwrap()).unwrap();

    let build = |book: &Path| {
        let dest = work.join("out");
        let start = Instant::now();
        let out = Command::new("mdbook")
            .arg("build")
            .arg(book)
            .arg("-d")
            .arg(&dest)
            .env("MDBOOK_PREPROCESSOR__DOCKTEST__COMMAND", bin)
            // The same work either way; a chapter still being written does not stop the measurement.
            .env("MDBOOK_PREPROCESSOR__DOCKTEST__ON_UNVERIFIED", "warn")
            .output()
            .expect("mdbook on PATH (scripts/install-tools installs 0.5.4)");
        let elapsed = start.elapsed();
        assert!(
            out.status.success(),
            "mdbook build {} failed:\n{}",
            book.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        elapsed
    };
    // Warm the file cache, then alternate so both see the same machine.
    build(&with);
    build(&without);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        a.push(build(&with));
        b.push(build(&without));
    }
    (median(a), median(b))
}

/// Generates a 200-chapter book from the guide's chapters (and their snapshots, renamed for the new pages),
/// writes mdBook's preprocessor input for it, and times the preprocessor on it.
fn preprocessor_alone(root: &Path, bin: &Path, work: &Path) -> (Duration, i64, usize) {
    let book_dir = work.join("big");
    let src = book_dir.join("src");
    let snaps = work.join("big-snapshots");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&snaps).unwrap();
    let guide = mdbook_docktest::book::Book::load(&root.join("book")).expect("the guide loads");
    let guide_snaps = guide.config.snapshot_dir(&guide.root);
    // Chapters whose every block has a snapshot (a chapter being written may have none yet).
    let chapters: Vec<_> = guide
        .pages
        .iter()
        .filter(|p| !p.blocks.is_empty())
        .filter(|p| {
            snapshot::names(p)
                .iter()
                .zip(&p.blocks)
                .all(|(n, b)| b.attrs.ignore.is_some() || snapshot::path(&guide_snaps, n).exists())
        })
        .collect();
    assert!(
        !chapters.is_empty(),
        "no chapter of the guide has its snapshots"
    );

    let mut items = Vec::new();
    let mut summary = String::from("# Summary\n\n");
    let mut blocks = 0;
    for i in 0..CHAPTERS {
        let page = chapters[i % chapters.len()];
        let content = std::fs::read_to_string(guide.root.join(&page.path)).unwrap();
        let name = format!("chapter-{i:03}.md");
        std::fs::write(src.join(&name), &content).unwrap();
        summary.push_str(&format!("- [Chapter {i}]({name})\n"));
        let copy = snippet::parse_page(&Path::new("src").join(&name), &content).unwrap();
        for (from, to) in snapshot::names(page).iter().zip(snapshot::names(&copy)) {
            let from = snapshot::path(&guide_snaps, from);
            if from.exists() {
                std::fs::copy(&from, snapshot::path(&snaps, &to)).unwrap();
            }
        }
        blocks += copy.blocks.len();
        items.push(BookItem::Chapter(Chapter::new(
            &format!("Chapter {i}"),
            content,
            PathBuf::from(&name),
            Vec::new(),
        )));
    }
    std::fs::write(src.join("SUMMARY.md"), summary).unwrap();
    let book_toml = format!(
        "[book]\ntitle = \"big\"\n\n[preprocessor.docktest]\nsnapshots = \"{}\"\n",
        snaps.display()
    );
    std::fs::write(book_dir.join("book.toml"), &book_toml).unwrap();
    let ctx = PreprocessorContext::new(
        book_dir.clone(),
        Config::from_str(&book_toml).unwrap(),
        "html".to_string(),
    );
    let input = serde_json::to_vec(&(ctx, Book::new_with_items(items))).unwrap();
    let input_path = work.join("input.json");
    std::fs::write(&input_path, &input).unwrap();
    // For profiling: `DOCKTEST_BENCH_KEEP=DIR scripts/bench` keeps the generated book and its input there.
    if let Some(keep) = std::env::var_os("DOCKTEST_BENCH_KEEP") {
        let keep = Path::new(&keep);
        copy_dir(work, keep);
        eprintln!("kept the generated book in {}", keep.display());
    }

    let run = || {
        let start = Instant::now();
        let out = Command::new(bin)
            .stdin(std::fs::File::open(&input_path).unwrap())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let elapsed = start.elapsed();
        assert!(
            out.status.success(),
            "the preprocessor failed on the generated book:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Book>(&out.stdout).expect("a book on stdout");
        elapsed
    };
    run();
    let times: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    (median(times), children_peak_kb(), blocks)
}

/// The largest resident set of any child process so far, in KiB.
fn children_peak_kb() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    usage.ru_maxrss
}
