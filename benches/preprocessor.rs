//! What docktest's preprocessor costs (a benchmark that prints, not a timed test; `scripts/bench`):
//!
//! 1. `mdbook build` of the guide with the preprocessor against a copy whose book.toml has no
//!    `[preprocessor.docktest]` table, built with no `MDBOOK_PREPROCESSOR__*` variable: either alone makes
//!    mdBook run the preprocessor, so the baseline is checked to publish no docktest badge (goal ≤ 1.10×).
//!    The preprocessor's side is timed twice: as a first build (the replay cache off, as on CI) and as a
//!    rebuild that finds the last build's chapters in the cache;
//!    Beside it, what mdBook's protocol costs any preprocessor: the same book through one that reads it and
//!    hands it back unchanged (this bench's own executable); and what mdBook's own work on docktest's
//!    chapters costs: the same protocol handing back what docktest published (captured from one build), so
//!    that what is left of a rebuild's difference is docktest's own;
//! 2. where the difference goes: the runs of `mdbook-docktest` a build makes, `supports html` (none when
//!    book.toml names the renderers, as the guide's does) and the preprocessor fed the guide's chapters as
//!    mdBook feeds them;
//! 3. the preprocessor alone on a generated 200-chapter book made of the guide's chapters and their
//!    snapshots (goal: under 200 ms and 50 MB peak memory).
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

/// Runs per side unless `DOCKTEST_BENCH_RUNS` says: a build takes about a tenth of a second, and on a busy
/// machine the medians of fewer runs move by more than the 10% the goal allows.
const DEFAULT_RUNS: usize = 31;

fn runs() -> usize {
    std::env::var("DOCKTEST_BENCH_RUNS").map_or(DEFAULT_RUNS, |v| {
        v.parse().expect("DOCKTEST_BENCH_RUNS is a number")
    })
}
const CHAPTERS: usize = 200;

/// The class of every badge the preprocessor publishes.
const BADGE: &str = "docktest-badge";

/// Set when mdBook runs this bench's executable as a pass-through preprocessor: `1` hands the book back
/// unchanged; a file's path hands back the book in that file instead (what docktest published).
const PASS_THROUGH: &str = "DOCKTEST_BENCH_PASS_THROUGH";
/// Set beside a file's PASS_THROUGH for the one build that fills the file: docktest (this variable's value)
/// is run on mdBook's input, and what it publishes is written to the file as well as handed back.
const CAPTURE_WITH: &str = "DOCKTEST_BENCH_CAPTURE_WITH";

fn main() {
    if std::env::var_os(PASS_THROUGH).is_some() {
        return pass_through();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_mdbook-docktest"));
    let work = tempfile::tempdir().expect("temporary folder");

    // 3 first: the peak memory of children is a high-water mark, and mdBook's own processes are larger.
    let (alone, peak_kb, blocks) = preprocessor_alone(root, bin, work.path());
    let [cold, warm, without, through, published] = mdbook_build_ratio(root, bin, work.path());
    let (supports, guide, chapters) = docktest_runs(root, bin, work.path());

    println!(
        "docktest preprocessor benchmark (median of {} runs; wall time, CPU time)",
        runs()
    );
    println!(
        "  mdbook build book, no preprocessor:   {:>7.1} ms  {:>7.1} ms CPU",
        ms(without.wall),
        ms(without.cpu)
    );
    for (what, with) in [("a first build (CI)", cold), ("a rebuild (cached)", warm)] {
        let ratio = with.wall.as_secs_f64() / without.wall.as_secs_f64();
        let cpu_ratio = with.cpu.as_secs_f64() / without.cpu.as_secs_f64();
        println!(
            "  with docktest, {what}: {:>7.1} ms  {:>7.1} ms CPU",
            ms(with.wall),
            ms(with.cpu)
        );
        println!(
            "    ratio:                              {ratio:>7.2}x  {cpu_ratio:>7.2}x CPU   (goal <= 1.10x) {}",
            verdict(ratio <= 1.10)
        );
    }
    println!(
        "  a pass-through preprocessor (mdBook's protocol alone): {:>7.1} ms  {:.2}x",
        ms(through.wall),
        through.wall.as_secs_f64() / without.wall.as_secs_f64()
    );
    println!(
        "  the same handing back what docktest published (the protocol and mdBook's work on the published \
         chapters, no docktest): {:>7.1} ms  {:.2}x; a rebuild against it: {:.2}x",
        ms(published.wall),
        published.wall.as_secs_f64() / without.wall.as_secs_f64(),
        warm.wall.as_secs_f64() / published.wall.as_secs_f64()
    );
    // mdBook asks a preprocessor whether it supports the renderer unless book.toml names its renderers.
    let asked = !book_toml_names_renderers(root);
    println!(
        "  of which mdbook-docktest supports html: {:>5.1} ms{}",
        ms(supports),
        if asked {
            ""
        } else {
            " (not run: book.toml names the renderers)"
        }
    );
    println!(
        "  and the preprocessor on the guide ({chapters} chapters): {:>5.1} ms",
        ms(guide)
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

/// Whether the guide's `[preprocessor.docktest]` table names its renderers, which spares mdBook's
/// `supports` question.
fn book_toml_names_renderers(root: &Path) -> bool {
    let text = std::fs::read_to_string(root.join("book/book.toml")).unwrap();
    let table: toml::Table = text.parse().unwrap();
    table["preprocessor"]["docktest"].get("renderers").is_some()
}

/// Rewrites `book`'s book.toml through `edit`.
fn edit_book_toml(book: &Path, edit: impl FnOnce(&mut toml::Table)) {
    let path = book.join("book.toml");
    let mut table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    edit(&mut table);
    std::fs::write(&path, toml::to_string(&table).unwrap()).unwrap();
}

/// Whether any page mdBook wrote to `dest` carries a docktest badge.
fn has_badge(dest: &Path) -> bool {
    std::fs::read_dir(dest).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        path.extension().is_some_and(|e| e == "html")
            && std::fs::read_to_string(&path).unwrap().contains(BADGE)
    })
}

/// Times `mdbook build` of the guide as it is (the preprocessor named by path in its book.toml) and of a
/// copy whose book.toml has no docktest table: for each, the medians of wall time and of CPU time (mdBook's
/// and its children's, which a busy machine inflates less).
fn mdbook_build_ratio(root: &Path, bin: &Path, work: &Path) -> [Timing; 5] {
    let with = work.join("with");
    let without = work.join("without");
    let through = work.join("through");
    copy_dir(&root.join("book"), &with);
    copy_dir(&root.join("book"), &without);
    copy_dir(&root.join("book"), &through);
    // The snapshots sit next to the book, as in the repository.
    let snaps = root.join("snapshots");
    std::os::unix::fs::symlink(&snaps, work.join("snapshots")).unwrap();

    edit_book_toml(&with, |table| {
        let docktest = table["preprocessor"]["docktest"].as_table_mut().unwrap();
        docktest.insert("command".into(), bin.display().to_string().into());
        // The same work either way; a chapter still being written does not stop the measurement.
        docktest.insert("on-unverified".into(), "warn".into());
    });
    edit_book_toml(&without, |table| {
        if let Some(toml::Value::Table(pre)) = table.get_mut("preprocessor") {
            pre.remove("docktest");
        }
    });
    let me = std::env::current_exe().unwrap();
    // mdBook splits the command as a shell would (shlex): a path with a space stays one word.
    let me = shlex::try_quote(me.to_str().expect("the bench's path is UTF-8"))
        .expect("the bench's path has no NUL")
        .into_owned();
    edit_book_toml(&through, |table| {
        let pre = table["preprocessor"].as_table_mut().unwrap();
        pre.remove("docktest");
        let mut pass = toml::Table::new();
        pass.insert("command".into(), me.clone().into());
        pass.insert("renderers".into(), vec!["html"].into());
        pre.insert("pass-through".into(), pass.into());
    });

    let cache = work.join("replay-cache");
    let build_as = |book: &Path, dest: &Path, cached: bool, env: &[(&str, &std::ffi::OsStr)]| {
        let mut cmd = Command::new("mdbook");
        cmd.arg("build").arg(book).arg("-d").arg(dest);
        // A rebuild (`mdbook serve`, an author's next build) finds the chapters of the last build in the
        // replay cache; a first build (CI) finds none.
        cmd.env(
            "DOCKTEST_REPLAY_CACHE",
            if cached {
                cache.as_os_str()
            } else {
                "off".as_ref()
            },
        );
        // mdBook makes a `[preprocessor.NAME]` table of any `MDBOOK_PREPROCESSOR__NAME__KEY`: none may leak
        // in from the caller's environment.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("MDBOOK_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(env.iter().copied());
        let (start, cpu) = (Instant::now(), children_cpu());
        let out = cmd
            .output()
            .expect("mdbook on PATH (scripts/install-tools installs 0.5.4)");
        let elapsed = (start.elapsed(), children_cpu() - cpu);
        assert!(
            out.status.success(),
            "mdbook build {} failed:\n{}",
            book.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        elapsed
    };
    let build = |book: &Path, dest: &Path, cached: bool| build_as(book, dest, cached, &[]);
    let pass = [(PASS_THROUGH, "1".as_ref())];
    let captured = work.join("published.json");
    let published = [(PASS_THROUGH, captured.as_os_str())];
    let (with_out, without_out) = (work.join("out-with"), work.join("out-without"));
    // Warm the file cache (and the replay cache), then alternate so all sides see the same machine.
    build(&with, &with_out, true);
    build(&without, &without_out, false);
    assert!(
        has_badge(&with_out),
        "the build with docktest published no badge"
    );
    assert!(
        !has_badge(&without_out),
        "the baseline build ran docktest: its pages carry badges"
    );
    let through_out = work.join("out-through");
    build_as(&through, &through_out, false, &pass);
    assert!(
        !has_badge(&through_out),
        "the pass-through build ran docktest: its pages carry badges"
    );
    // What docktest publishes, captured from a first build of the guide as it is: this executable, named in
    // docktest's place (mdBook reads `MDBOOK_PREPROCESSOR__DOCKTEST__COMMAND` as that table's key), runs
    // docktest on mdBook's input. The timed builds then only hand the file back.
    let published_out = work.join("out-published");
    build_as(
        &with,
        &published_out,
        false,
        &[
            published[0],
            (CAPTURE_WITH, bin.as_os_str()),
            ("MDBOOK_PREPROCESSOR__DOCKTEST__COMMAND", me.as_ref()),
        ],
    );
    assert!(
        captured.exists(),
        "no build captured what docktest publishes"
    );
    build_as(&through, &published_out, false, &published);
    assert!(
        has_badge(&published_out),
        "the build handing back docktest's chapters published no badge"
    );
    let (mut cold, mut warm, mut b) = (Vec::new(), Vec::new(), Vec::new());
    let (mut passed, mut handed) = (Vec::new(), Vec::new());
    for _ in 0..runs() {
        cold.push(build(&with, &with_out, false));
        warm.push(build(&with, &with_out, true));
        b.push(build(&without, &without_out, false));
        passed.push(build_as(&through, &through_out, false, &pass));
        handed.push(build_as(&through, &published_out, false, &published));
    }
    [cold, warm, b, passed, handed].map(Timing::of)
}

/// This executable as mdBook's preprocessor: the book read as docktest's preprocessor reads it (whole, then
/// parsed) and handed back unchanged, or the book in PASS_THROUGH's file handed back in its place.
fn pass_through() {
    use std::io::{Read, Write};
    if std::env::args().nth(1).as_deref() == Some("supports") {
        return;
    }
    let mut bytes = Vec::new();
    std::io::stdin().lock().read_to_end(&mut bytes).unwrap();
    let (_ctx, mut book): (PreprocessorContext, Book) = serde_json::from_slice(&bytes).unwrap();
    let mode = std::env::var_os(PASS_THROUGH).unwrap();
    if mode != "1" {
        let file = PathBuf::from(mode);
        if let Some(docktest) = std::env::var_os(CAPTURE_WITH) {
            let mut child = Command::new(docktest)
                .env("DOCKTEST_REPLAY_CACHE", "off")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&bytes).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "docktest failed on mdBook's input");
            std::fs::write(&file, &out.stdout).unwrap();
        }
        book = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    }
    let json = serde_json::to_vec(&book).unwrap();
    std::io::stdout().lock().write_all(&json).unwrap();
}

/// Medians of wall and CPU time.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Duration,
}

impl Timing {
    fn of(runs: Vec<(Duration, Duration)>) -> Timing {
        Timing {
            wall: median(runs.iter().map(|r| r.0).collect()),
            cpu: median(runs.iter().map(|r| r.1).collect()),
        }
    }
}

/// Times the two runs of `mdbook-docktest` that `mdbook build` makes: `supports html`, and the preprocessor
/// on mdBook's JSON for the guide's chapters. Returns both and the number of chapters.
fn docktest_runs(root: &Path, bin: &Path, work: &Path) -> (Duration, Duration, usize) {
    let book_dir = root.join("book");
    let guide = mdbook_docktest::book::Book::load(&book_dir).expect("the guide loads");
    let book_toml = std::fs::read_to_string(book_dir.join("book.toml")).unwrap();
    let mut config = Config::from_str(&book_toml).unwrap();
    // As in the build above: a chapter still being written does not stop the measurement.
    config
        .set("preprocessor.docktest.on-unverified", "warn")
        .unwrap();
    let items = guide
        .pages
        .iter()
        .map(|page| {
            let content = std::fs::read_to_string(guide.root.join(&page.path)).unwrap();
            let name = page.path.strip_prefix("src").unwrap().to_path_buf();
            BookItem::Chapter(Chapter::new(
                &name.display().to_string(),
                content,
                name,
                Vec::new(),
            ))
        })
        .collect();
    let ctx = PreprocessorContext::new(book_dir.clone(), config, "html".to_string());
    let input_path = work.join("guide-input.json");
    std::fs::write(
        &input_path,
        serde_json::to_vec(&(ctx, Book::new_with_items(items))).unwrap(),
    )
    .unwrap();
    let supports = || {
        let start = Instant::now();
        let status = Command::new(bin)
            .args(["supports", "html"])
            .status()
            .unwrap();
        assert!(status.success(), "docktest does not support html");
        start.elapsed()
    };
    supports();
    let supports = median((0..runs()).map(|_| supports()).collect());
    // mdBook runs the preprocessor in the book's root.
    let guide_run = || time_preprocessor(bin, &input_path, &book_dir);
    guide_run();
    let guide_time = median((0..runs()).map(|_| guide_run()).collect());
    (supports, guide_time, guide.pages.len())
}

/// Runs the preprocessor on the input in `input_path`, in `dir`, and checks that it hands a book back.
fn time_preprocessor(bin: &Path, input_path: &Path, dir: &Path) -> Duration {
    let start = Instant::now();
    let out = Command::new(bin)
        // What judging costs: every chapter replayed, none taken from the cache.
        .env("DOCKTEST_REPLAY_CACHE", "off")
        .current_dir(dir)
        .stdin(std::fs::File::open(input_path).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "the preprocessor failed on {}:\n{}",
        input_path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Book>(&out.stdout).expect("a book on stdout");
    elapsed
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
        // Every file the page's replay reads: each block's shared snapshot and the matrix kinds' own, and
        // the page's network picture (a kind's own twin block replays only against its kind's snapshot).
        let mut pairs: Vec<(String, String)> = snapshot::names(page)
            .into_iter()
            .zip(snapshot::names(&copy))
            .collect();
        pairs.push((
            snapshot::topology::name(page),
            snapshot::topology::name(&copy),
        ));
        for (from, to) in pairs {
            let kinds = guide.config.matrix.iter();
            let own = kinds.map(|k| {
                (
                    snapshot::engine_name(&from, k),
                    snapshot::engine_name(&to, k),
                )
            });
            for (from, to) in std::iter::once((from.clone(), to.clone())).chain(own) {
                let from = snapshot::path(&guide_snaps, &from);
                if from.exists() {
                    std::fs::copy(&from, snapshot::path(&snaps, &to)).unwrap();
                }
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
    let matrix: Vec<String> = guide
        .config
        .matrix
        .iter()
        .map(|k| format!("{k:?}"))
        .collect();
    let book_toml = format!(
        "[book]\ntitle = \"big\"\n\n[preprocessor.docktest]\nsnapshots = \"{}\"\nmatrix = [{}]\n",
        snaps.display(),
        matrix.join(", ")
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

    let run = || time_preprocessor(bin, &input_path, work);
    run();
    let times: Vec<Duration> = (0..runs()).map(|_| run()).collect();
    (median(times), children_peak_kb(), blocks)
}

/// The CPU time (user and system) of every child process waited for so far, theirs included.
fn children_cpu() -> Duration {
    let usage = children_usage();
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// The largest resident set of any child process so far, in KiB.
fn children_peak_kb() -> i64 {
    children_usage().ru_maxrss
}

fn children_usage() -> libc::rusage {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct it is given.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage");
    usage
}
