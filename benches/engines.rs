//! What running pages costs (a benchmark that prints, not a timed test; `scripts/bench`), on the sealed
//! engines `scripts/engine-start 3` starts (DOCKER_HOST, DOCKTEST_NETNS, DOCKTEST_ENGINES). Each part
//! alternates its two sides run by run, so both see the same busy machine, and prints medians and the
//! median of the paired ratios next to its goal:
//!
//! - `jobs`: the guide on its matrix with `--jobs 1` against `--jobs 3` (goal ≤ 0.4×), each run with the
//!   machine's load, the CPU time its cores spent busy and the run's own (docktest and the page's host-side
//!   commands it waited for: the shells, the docker CLI; not the engines). The engines are watched while
//!   each runs: the `--jobs 1` run must use one engine of each kind only, the `--jobs 3` run more;
//! - `page`: `benches/page` (one page of ten commands) against `benches/page.sh`, the same commands as a
//!   plain `bash -e` script through the docker CLI in the engine's namespace (goal ≤ 1.05×). Both must hold
//!   the same commands;
//! - `commands`: docktest's own time per command beyond the command's, from pages of few and of many trivial
//!   commands against the same commands in bash (the slope: fixed costs cancel out; goal ≤ 5 ms);
//! - `memory`: the resident memory of each engine's dockerd, containerd and shims (Podman's service and
//!   conmons), from /proc, idle and (with `jobs`) at the peak of the runs;
//! - `stress`: the guide five times in a row with `--jobs 3` (goal: no flakes), not timed: a block whose
//!   verdict on a kind is not the same in every run is a flake, and each is named.
//!
//! `cargo bench --bench engines -- page commands` runs only those parts; `DOCKTEST_BENCH_RUNS=N` sets the
//! number of runs of each side.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mdbook_docktest::snippet;

const PARTS: [&str; 5] = ["jobs", "page", "commands", "memory", "stress"];

/// The trivial-command pages: few and many commands, for the slope.
const FEW: usize = 10;
const MANY: usize = 110;

fn main() {
    // cargo bench passes `--bench`; the rest name parts.
    let asked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    for part in &asked {
        assert!(
            PARTS.contains(&part.as_str()),
            "unknown part `{part}`: the parts are {}",
            PARTS.join(", ")
        );
    }
    let runs_of = |default: usize| {
        std::env::var("DOCKTEST_BENCH_RUNS")
            .ok()
            .map(|v| v.parse().expect("DOCKTEST_BENCH_RUNS is a number"))
            .unwrap_or(default)
    };
    let wants = |part: &str| asked.is_empty() || asked.iter().any(|a| a == part);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_mdbook-docktest"));
    let engines = Engines::from_env();
    let work = tempfile::tempdir().expect("temporary folder");

    println!(
        "docktest engine benchmark ({} engines; medians, and the median of paired ratios)",
        engines.0.len()
    );
    let mut peak = None;
    if wants("jobs") {
        peak = Some(jobs(root, bin, &engines, runs_of(3)));
    }
    if wants("page") {
        page(root, bin, work.path(), runs_of(7));
    }
    if wants("commands") {
        commands(bin, work.path(), runs_of(5));
    }
    if wants("memory") {
        memory(&engines, peak);
    }
    if wants("stress") {
        stress(root, bin, runs_of(5));
    }
}

/// The sealed engines of DOCKTEST_ENGINES, each by its run folder (`/run/docktest-2`: socket, pidfile and
/// exec root).
struct Engines(Vec<PathBuf>);

impl Engines {
    fn from_env() -> Engines {
        let hint = "start them with `eval \"$(sudo scripts/engine-start 3)\"` (scripts/bench does)";
        let list = std::env::var("DOCKTEST_ENGINES")
            .unwrap_or_else(|_| panic!("DOCKTEST_ENGINES is not set: {hint}"));
        let runs: Vec<PathBuf> = list
            .split_whitespace()
            .map(|host| {
                let sock = host.strip_prefix("unix://").unwrap_or_else(|| {
                    panic!("{host}: the bench measures the sealed engines of scripts/engine-start")
                });
                Path::new(sock).parent().unwrap().to_path_buf()
            })
            .collect();
        for run in &runs {
            assert!(
                run.join("dockerd.pid").exists() || run.join("podman.pid").exists(),
                "{}: no dockerd.pid or podman.pid; {hint}",
                run.display()
            );
        }
        assert!(
            std::env::var_os("DOCKER_HOST").is_some()
                && std::env::var_os("DOCKTEST_NETNS").is_some(),
            "DOCKER_HOST and DOCKTEST_NETNS are not set: {hint}"
        );
        Engines(runs)
    }

    fn netns() -> String {
        std::env::var("DOCKTEST_NETNS").unwrap()
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Two sides timed in turn: the medians of each and the median of their paired ratios (`a / b`).
struct Paired {
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Paired {
    fn run(
        runs: usize,
        mut a: impl FnMut() -> Duration,
        mut b: impl FnMut() -> Duration,
    ) -> Paired {
        let mut p = Paired {
            a: Vec::new(),
            b: Vec::new(),
        };
        for _ in 0..runs {
            p.a.push(a().as_secs_f64());
            p.b.push(b().as_secs_f64());
        }
        p
    }

    fn medians(&self) -> (f64, f64) {
        (median(self.a.clone()), median(self.b.clone()))
    }

    fn ratio(&self) -> f64 {
        median(self.a.iter().zip(&self.b).map(|(a, b)| a / b).collect())
    }
}

/// Runs `cmd`, which must succeed, and returns how long it took and what it printed.
fn timed(cmd: &mut Command, what: &str) -> (Duration, Output) {
    let start = Instant::now();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let elapsed = start.elapsed();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (elapsed, out)
}

/// `mdbook-docktest test BOOK` as CI runs it (nothing written), with `args`.
fn docktest_test(bin: &Path, book: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("test").arg(book).args(args).env("CI", "true");
    cmd
}

/// The summary line of a run (`100 verified, 0 failed in 13 page(s), 26.1s`), without its time.
fn summary(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains(" verified, "))
        .unwrap_or_else(|| panic!("no summary in:\n{text}"));
    let line = line.rsplit_once(", ").map_or(line, |(head, _)| head);
    assert!(line.contains(" 0 failed"), "the run failed: {line}");
    line.to_string()
}

/// The kinds of the book's matrix (`matrix = [...]` in its book.toml); none without one.
fn matrix_of(book: &Path) -> Vec<String> {
    let table: toml::Table = std::fs::read_to_string(book.join("book.toml"))
        .unwrap()
        .parse()
        .unwrap();
    table
        .get("preprocessor")
        .and_then(|p| p.get("docktest"))
        .and_then(|d| d.get("matrix"))
        .and_then(|m| m.as_array())
        .map(|kinds| {
            kinds
                .iter()
                .filter_map(|k| k.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// What the machine did during a run: its load when the run began, the CPU time all its cores spent busy
/// (everyone's: the machine is shared), the CPU time of docktest with its terminals and docker CLIs, and the
/// pages' own times added up (each (page, kind) from start to end, as the run wrote them to its timings).
#[derive(Debug, Clone, Copy)]
struct Machine {
    load: f64,
    busy: f64,
    own: f64,
    pages: f64,
}

/// The seconds of every (page, kind) in a timings file (`{kind: {page: seconds}}`), added up.
fn page_seconds(timings: &Path) -> f64 {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(timings).expect("the run wrote its timings"))
            .expect("the timings file is JSON");
    let kinds = json.as_object().expect("timings by kind");
    assert!(!kinds.is_empty(), "the run wrote no timings");
    kinds
        .values()
        .flat_map(|pages| pages.as_object().expect("timings by page").values())
        .map(|s| s.as_f64().expect("seconds"))
        .sum()
}

/// Seconds of CPU, since boot: every core busy (from /proc/stat), and this process's waited-for children
/// (from /proc/self/stat; docktest and everything it waited for).
fn cpu_now() -> (f64, f64) {
    let tick = 100.0; // USER_HZ, 100 on Linux whatever the kernel's HZ
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cpu: Vec<f64> = stat
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    let busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu.get(7).copied().unwrap_or(0.0);
    let me = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = me.rsplit_once(')').unwrap().1.split_whitespace().collect();
    // After the command: state is field 3, cutime 16 and cstime 17 (1-based, proc(5)).
    let children: f64 = fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap();
    (busy / tick, children / tick)
}

fn load_now() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn jobs(root: &Path, bin: &Path, engines: &Engines, runs: usize) -> Memory {
    let book = root.join("book");
    let matrix = matrix_of(&book);
    // With a matrix, --jobs 1 runs one page at a time, the kinds in turn: one engine of each kind.
    let kinds = matrix.len().max(1);
    let watch = Watch::start(engines);
    let mut summaries = Vec::new();
    let mut busy = (Vec::new(), Vec::new());
    let mut machine = (Vec::new(), Vec::new());
    let mut p = Paired {
        a: Vec::new(),
        b: Vec::new(),
    };
    // The --jobs 3 runs start the longest (page, kind) first by the last run's timings, kept in a file of
    // the bench's own (CI=true keeps none); the --jobs 1 run before each writes them.
    let timings = tempfile::NamedTempFile::new().unwrap();
    for _ in 0..runs {
        for jobs in ["1", "3"] {
            watch.reset();
            let (load, (busy0, own0)) = (load_now(), cpu_now());
            let mut cmd = docktest_test(bin, &book, &["--jobs", jobs]);
            cmd.env("DOCKTEST_TIMINGS", timings.path());
            let (took, out) = timed(
                &mut cmd,
                &format!("mdbook-docktest test book --jobs {jobs}"),
            );
            let (busy1, own1) = cpu_now();
            summaries.push(summary(&out));
            let (times, used, seen) = if jobs == "1" {
                (&mut p.a, &mut busy.0, &mut machine.0)
            } else {
                (&mut p.b, &mut busy.1, &mut machine.1)
            };
            times.push(took.as_secs_f64());
            used.push(watch.engines_used());
            seen.push(Machine {
                load,
                busy: busy1 - busy0,
                own: own1 - own0,
                pages: page_seconds(timings.path()),
            });
            println!(
                "    run: --jobs {jobs} {:>6.1} s, load {load:>5.2} at its start, CPU busy {:>6.1} s \
                 (all cores, everyone's), the run's own {:>5.1} s",
                took.as_secs_f64(),
                busy1 - busy0,
                own1 - own0
            );
        }
    }
    let peak = watch.stop();
    summaries.dedup();
    assert_eq!(
        summaries.len(),
        1,
        "--jobs 1 and --jobs 3 disagree: {summaries:?}"
    );
    // What would make the comparison empty: a baseline that ran in parallel, or a parallel run that did not.
    assert!(
        busy.0.iter().all(|&n| n <= kinds),
        "a --jobs 1 run used more engines than one per kind of the matrix ({kinds}): {:?}",
        busy.0
    );
    assert!(
        busy.1.iter().all(|&n| n > kinds),
        "a --jobs 3 run used no more engines than one per kind ({kinds}): {:?}",
        busy.1
    );
    let (one, three) = p.medians();
    let ratio = 1.0 / p.ratio();
    let on = if matrix.is_empty() {
        "no matrix".to_string()
    } else {
        format!("the matrix {}", matrix.join(", "))
    };
    let med = |v: &[Machine], f: fn(&Machine) -> f64| median(v.iter().map(f).collect());
    println!("  the guide on {on} ({}), {runs} runs each:", summaries[0]);
    for (jobs, seen, used) in [("1", &machine.0, &busy.0), ("3", &machine.1, &busy.1)] {
        let secs = if jobs == "1" { one } else { three };
        println!(
            "    --jobs {jobs}: {secs:>7.1} s  ({} engines used; median load {:.2}, CPU busy {:.1} s, the run's \
             own {:.1} s: docktest, the shells and the docker CLI)",
            used.iter().max().unwrap(),
            med(seen, |m| m.load),
            med(seen, |m| m.busy),
            med(seen, |m| m.own),
        );
    }
    println!(
        "    ratio --jobs 3 / --jobs 1:           {ratio:>7.2}x  (goal <= 0.40x) {}",
        verdict(ratio <= 0.40)
    );
    // What no schedule beats: the --jobs 3 runs' CPU spread over every core, against the --jobs 1 time.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "    its CPU floor: {:.2}x  (the --jobs 3 runs' {:.1} s of CPU on {cores} cores, against {one:.1} s)",
        med(&machine.1, |m| m.busy) / cores / one,
        med(&machine.1, |m| m.busy),
    );
    // The ratio is the schedule times the slowdown: how full the 3 engines were kept (pages' time against 3
    // × the run's), and how much longer each page took sharing the cores than alone.
    let (pages1, pages3) = (med(&machine.0, |m| m.pages), med(&machine.1, |m| m.pages));
    println!(
        "    the schedule: the 3 engines ran pages {:.0}% of the --jobs 3 run ({pages3:.1} s of pages in \
         {three:.1} s); the pages took {:.2}x their --jobs 1 time ({pages1:.1} s) sharing {cores} cores",
        100.0 * pages3 / (3.0 * three),
        pages3 / pages1,
    );
    peak
}

/// The guide `runs` times in a row with `--jobs 3`, the later runs ordered by the earlier ones' timings as
/// an author's are; every (block, kind) must get one verdict in all of them. A run that fails is still
/// compared: the point is whether the same blocks fail.
fn stress(root: &Path, bin: &Path, runs: usize) {
    stress_can_see_a_flake();
    let book = root.join("book");
    let timings = tempfile::NamedTempFile::new().unwrap();
    let mut tables = Vec::new();
    println!("  stress: the guide {runs} times with --jobs 3");
    for run in 1..=runs {
        let mut cmd = docktest_test(bin, &book, &["--jobs", "3"]);
        cmd.env("DOCKTEST_TIMINGS", timings.path());
        let start = Instant::now();
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .expect("mdbook-docktest test book --jobs 3");
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().rev().find(|l| l.contains(" verified, "));
        println!(
            "    run {run}: {:>6.1} s, {}",
            start.elapsed().as_secs_f64(),
            last.unwrap_or("no summary")
        );
        // A flake is only worth its name with what the run said about it: a run that failed keeps its report.
        if !out.status.success() {
            let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("stress-run-{run}.txt"));
            std::fs::write(&kept, [&out.stdout[..], &out.stderr[..]].concat()).unwrap();
            println!(
                "      its report, with the failures' details: {}",
                kept.display()
            );
        }
        let table = verdicts(&text);
        assert!(
            !table.is_empty(),
            "run {run} printed no table of verdicts ({}):\n{text}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        tables.push(table);
    }
    let flakes = flakes(&tables);
    for ((block, kind), seen) in &flakes {
        println!("    flake: {block} on {kind}: {seen}");
    }
    println!(
        "    {} (block, kind) verdicts, {} flake(s)  (goal 0) {}",
        tables[0].len(),
        flakes.len(),
        verdict(flakes.is_empty())
    );
}

type Verdicts = BTreeMap<(String, String), String>;

/// The (block, kind)s whose verdict is not the same in every run, each with its verdicts in run order (`-`
/// where a run has none).
fn flakes(tables: &[Verdicts]) -> BTreeMap<(String, String), String> {
    let mut flakes = BTreeMap::new();
    for key in tables.iter().flat_map(|t| t.keys()) {
        let seen: Vec<&str> = tables
            .iter()
            .map(|t| t.get(key).map_or("-", String::as_str))
            .collect();
        if seen.iter().any(|v| *v != seen[0]) {
            flakes.insert(key.clone(), seen.join(", "));
        }
    }
    flakes
}

/// What would make the stress part report no flake whatever happened: a table it cannot read, or runs it
/// does not tell apart. Checked on two made-up runs that differ in one cell before the real ones.
fn stress_can_see_a_flake() {
    let run = |cell: &str| {
        format!(
            "  verified  src/a.md:3  0.1s\n\n1 verified, 0 failed in 1 page(s), 1.0s\n\n\
             block        docker-26.1   podman\nsrc/a.md:3   verified      {cell}\n\
             src/a.md:9   verified      ignored\n"
        )
    };
    let (a, b) = (verdicts(&run("verified")), verdicts(&run("new snapshot")));
    assert_eq!(a.len(), 4, "the made-up table reads as {a:?}");
    let found = flakes(&[a.clone(), b]);
    assert_eq!(
        found.keys().collect::<Vec<_>>(),
        [&("src/a.md:3".to_string(), "podman".to_string())],
        "the made-up flake was not seen"
    );
    assert!(flakes(&[a.clone(), a]).is_empty());
}

/// The verdict of every (block, kind) in the table a run ends with (`block  docker-20.10  podman`, then a
/// row per block; columns two spaces or more apart, a cell may be two words: `new snapshot`).
fn verdicts(out: &str) -> Verdicts {
    let cells = |line: &str| -> Vec<String> {
        line.split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect()
    };
    let lines: Vec<&str> = out.lines().collect();
    // The table is the run's last word; a failure's details above it may start with "block" too.
    let Some(at) = lines.iter().rposition(|l| l.starts_with("block ")) else {
        return BTreeMap::new();
    };
    let (header, lines) = (lines[at], lines[at + 1..].iter().copied());
    let kinds = cells(header).split_off(1);
    let mut table = BTreeMap::new();
    for row in lines.map(cells).take_while(|r| r.len() == kinds.len() + 1) {
        for (kind, verdict) in kinds.iter().zip(&row[1..]) {
            table.insert((row[0].clone(), kind.clone()), verdict.clone());
        }
    }
    table
}

/// A copy of the book in `from` (its book.toml's relative `files` made absolute, so the copy finds the
/// guide's stand-in files), in `to`, with the snapshots of one accepted run: the bench times verified runs.
fn book_with_snapshots(from: &Path, to: &Path, bin: &Path) {
    std::fs::create_dir_all(to.join("src")).unwrap();
    for entry in std::fs::read_dir(from.join("src")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("src").join(entry.file_name())).unwrap();
    }
    let mut table: toml::Table = std::fs::read_to_string(from.join("book.toml"))
        .unwrap()
        .parse()
        .unwrap();
    if let Some(toml::Value::Table(images)) = table
        .get_mut("preprocessor")
        .and_then(|p| p.get_mut("docktest"))
        .and_then(|d| d.get_mut("images"))
    {
        for (_, image) in images.iter_mut() {
            if let Some(toml::Value::String(files)) = image.get_mut("files") {
                let absolute = from.join(files.as_str()).display().to_string();
                *files = absolute;
            }
        }
    }
    std::fs::write(to.join("book.toml"), toml::to_string(&table).unwrap()).unwrap();
    // A first run writes pending snapshots (and exits 1); accepted, they make the next run verify.
    let out = Command::new(bin)
        .arg("test")
        .arg(to)
        .env_remove("CI")
        .output()
        .unwrap();
    let snaps = to.join("snapshots");
    let pending: Vec<_> = std::fs::read_dir(&snaps)
        .unwrap_or_else(|e| {
            panic!(
                "no snapshots from the first run of {} ({e}):\n{}{}",
                to.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "new"))
        .collect();
    for new in pending {
        std::fs::rename(&new, new.with_extension("")).unwrap();
    }
    summary(&timed(&mut docktest_test(bin, to, &[]), "the verified run").1);
}

/// The commands of a page, as a reader types them.
fn page_commands(page: &Path) -> Vec<String> {
    let content = std::fs::read_to_string(page).unwrap();
    let parsed = snippet::parse_page(Path::new("src/page.md"), &content).unwrap();
    parsed
        .blocks
        .iter()
        .flat_map(|b| &b.steps)
        .map(|s| s.input.join("\n"))
        .collect()
}

/// The commands of a bash script: every line but comments, blank lines and `set`.
fn script_commands(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("set "))
        .map(str::to_string)
        .collect()
}

/// `bash -e SCRIPT` in the engine's namespace, as docktest's terminals run (DOCKER_HOST inherited).
fn bash_in_namespace(script: &Path) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={}", Engines::netns()))
        .arg("bash")
        .arg("-e")
        .arg(script);
    cmd
}

fn page(root: &Path, bin: &Path, work: &Path, runs: usize) {
    let book = work.join("page");
    let script = root.join("benches/page.sh");
    let commands = page_commands(&root.join("benches/page/src/page.md"));
    assert_eq!(
        commands,
        script_commands(&std::fs::read_to_string(&script).unwrap()),
        "benches/page.sh does not run the commands of benches/page/src/page.md"
    );
    book_with_snapshots(&root.join("benches/page"), &book, bin);
    timed(&mut bash_in_namespace(&script), "benches/page.sh");
    let p = Paired::run(
        runs,
        || timed(&mut docktest_test(bin, &book, &[]), "the page").0,
        || timed(&mut bash_in_namespace(&script), "benches/page.sh").0,
    );
    let (docktest, bash) = p.medians();
    let ratio = p.ratio();
    println!(
        "  one page of {} commands (benches/page), {runs} runs each:",
        commands.len()
    );
    println!("    mdbook-docktest test:                {docktest:>7.2} s");
    println!("    bash -e benches/page.sh:             {bash:>7.2} s");
    println!(
        "    ratio:                               {ratio:>7.2}x  (goal <= 1.05x) {}",
        verdict(ratio <= 1.05)
    );
}

/// A book of one page of `n` trivial commands, and the same commands as a bash script, in `dir`.
fn trivial(dir: &Path, n: usize) -> (PathBuf, PathBuf) {
    let book = dir.join(format!("trivial-{n}"));
    let src = dir.join(format!("trivial-{n}-src"));
    std::fs::create_dir_all(src.join("src")).unwrap();
    std::fs::write(
        src.join("book.toml"),
        "[book]\ntitle = \"trivial\"\n\n[preprocessor.docktest]\nsnapshots = \"snapshots\"\n",
    )
    .unwrap();
    std::fs::write(
        src.join("src/SUMMARY.md"),
        "# Summary\n\n- [Commands](page.md)\n",
    )
    .unwrap();
    let mut page = String::from("# Commands\n\n```console\n");
    let mut script = String::from("set -e\n");
    for k in 0..n {
        page.push_str(&format!("$ echo {k}\n{k}\n"));
        script.push_str(&format!("echo {k}\n"));
    }
    page.push_str("```\n");
    std::fs::write(src.join("src/page.md"), page).unwrap();
    let script_path = dir.join(format!("trivial-{n}.sh"));
    std::fs::write(&script_path, script).unwrap();
    (book, script_path)
}

fn commands(bin: &Path, work: &Path, runs: usize) {
    let mut sides = Vec::new();
    for n in [FEW, MANY] {
        let (book, script) = trivial(work, n);
        let src = book.with_file_name(format!("trivial-{n}-src"));
        assert_eq!(
            page_commands(&src.join("src/page.md")),
            script_commands(&std::fs::read_to_string(&script).unwrap()),
        );
        book_with_snapshots(&src, &book, bin);
        sides.push((n, book, script));
    }
    // Four sides in turn: few and many commands, docktest and bash.
    let mut times: BTreeMap<(usize, bool), Vec<f64>> = BTreeMap::new();
    for _ in 0..runs {
        for (n, book, script) in &sides {
            let page = timed(&mut docktest_test(bin, book, &[]), "the trivial page").0;
            let bash = timed(&mut bash_in_namespace(script), "the trivial script").0;
            times
                .entry((*n, true))
                .or_default()
                .push(page.as_secs_f64());
            times
                .entry((*n, false))
                .or_default()
                .push(bash.as_secs_f64());
        }
    }
    let m = |n: usize, page: bool| median(times[&(n, page)].clone());
    let per_command =
        ((m(MANY, true) - m(FEW, true)) - (m(MANY, false) - m(FEW, false))) / (MANY - FEW) as f64;
    let fixed = (m(FEW, true) - m(FEW, false)) - per_command * FEW as f64;
    println!("  trivial commands (`$ echo K`), {runs} runs each:");
    for n in [FEW, MANY] {
        println!(
            "    {n:>3} commands: page {:>7.1} ms, bash {:>6.1} ms",
            m(n, true) * 1000.0,
            m(n, false) * 1000.0
        );
    }
    println!(
        "    docktest per command, beyond bash:   {:>7.2} ms  (goal <= 5 ms) {}",
        per_command * 1000.0,
        verdict(per_command <= 0.005)
    );
    println!(
        "    docktest per page (start, engine, cleanup): {:>6.0} ms",
        fixed * 1000.0
    );
}

/// The resident memory (KiB) of one engine's processes: its service (dockerd, or Podman's API service),
/// Docker's containerd, and the monitor of each of its containers (containerd's shims, Podman's conmon;
/// the containers' own processes are the pages', not the engine's).
#[derive(Debug, Clone, Copy, Default)]
struct EngineMemory {
    podman: bool,
    service: u64,
    containerd: u64,
    /// The monitors' memory, shims or conmons.
    monitor_kb: u64,
    /// Shims or conmons.
    monitors: usize,
    /// Of those, the ones of a container (not of a `docker exec`): the engine runs that many.
    containers: usize,
}

impl EngineMemory {
    fn total(&self) -> u64 {
        self.service + self.containerd + self.monitor_kb
    }
}

type Memory = Vec<EngineMemory>;

/// The memory of each engine of `runs` (their run folders) now, from one pass over /proc: the service by its
/// pidfile, containerd, shims and conmons by the engine's run folder in their command lines (they leave the
/// service's process tree when they start). One pass for all: the watcher samples them several times a
/// second while the runs it measures go on, and a pass per engine (nine of them, each reading every
/// process's command line every 100 ms) took a tenth of a core from those runs.
fn engines_memory(runs: &[PathBuf]) -> Memory {
    let mut out: Memory = runs
        .iter()
        .map(|run| {
            let podman = run.join("podman.pid").exists();
            let pidfile = run.join(if podman { "podman.pid" } else { "dockerd.pid" });
            let service = std::fs::read_to_string(pidfile)
                .ok()
                .and_then(|pid| rss(pid.trim()))
                .unwrap_or(0);
            EngineMemory {
                podman,
                service,
                ..EngineMemory::default()
            }
        })
        .collect();
    // Docker's exec root, Podman's run root and temporary folder.
    let execs: Vec<[String; 2]> = runs
        .iter()
        .map(|run| {
            [
                format!("{}/exec/", run.display()),
                format!("{}/podman/", run.display()),
            ]
        })
        .collect();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let Some(i) = execs.iter().position(|roots| {
            args.iter()
                .any(|a| roots.iter().any(|root| a.starts_with(root.as_str())))
        }) else {
            continue;
        };
        let program = args[0].rsplit('/').next().unwrap_or_default();
        let Some(kb) = rss(&name) else { continue };
        let m = &mut out[i];
        if program.starts_with("containerd-shim") || program == "conmon" {
            m.monitor_kb += kb;
            m.monitors += 1;
            // A conmon of a `docker exec` (`-e`) outlives its session by minutes on Podman 4.3; only a
            // container's own says the engine runs one.
            if !args.iter().any(|a| a == "-e" || a == "--exec") {
                m.containers += 1;
            }
        } else if program == "containerd" {
            m.containerd += kb;
        }
    }
    out
}

/// VmRSS of a process, in KiB (None once it has gone).
fn rss(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Samples every engine's memory while runs go on: the peak of each, and which engines ran containers.
struct Watch {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<(Memory, Vec<bool>)>>,
    thread: std::thread::JoinHandle<()>,
}

impl Watch {
    fn start(engines: &Engines) -> Watch {
        let runs = engines.0.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new((
            vec![EngineMemory::default(); runs.len()],
            vec![false; runs.len()],
        )));
        let thread = {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let now = engines_memory(&runs);
                    let mut seen = seen.lock().unwrap();
                    for (i, m) in now.iter().enumerate() {
                        if m.total() > seen.0[i].total() {
                            seen.0[i] = *m;
                        }
                        seen.1[i] |= m.containers > 0;
                    }
                    drop(seen);
                    std::thread::sleep(Duration::from_millis(250));
                }
            })
        };
        Watch { stop, seen, thread }
    }

    /// Forgets which engines ran containers (the peak memory stays).
    fn reset(&self) {
        let mut seen = self.seen.lock().unwrap();
        seen.1.iter_mut().for_each(|b| *b = false);
    }

    /// How many engines ran a container since the last reset.
    fn engines_used(&self) -> usize {
        self.seen.lock().unwrap().1.iter().filter(|&&b| b).count()
    }

    fn stop(self) -> Memory {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap();
        Arc::try_unwrap(self.seen).unwrap().into_inner().unwrap().0
    }
}

fn memory(engines: &Engines, peak: Option<Memory>) {
    let idle = engines_memory(&engines.0);
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!("  memory of the engines (resident, from /proc):");
    for (i, run) in engines.0.iter().enumerate() {
        let m = idle[i];
        let monitors = if m.podman { "conmons" } else { "shims" };
        // A process set missing its service (or Docker's containerd) would show no cost at all.
        assert!(
            m.service > 0 && (m.podman || m.containerd > 0),
            "{}: the engine's service or containerd not found in /proc",
            run.display()
        );
        let at_peak = peak.as_ref().map_or(String::new(), |p| {
            format!(
                "; peak during the runs {:>5.1} MB ({} {monitors})",
                mb(p[i].total()),
                p[i].monitors
            )
        });
        let parts = if m.podman {
            format!(
                "Podman's service {:.1}, {} conmons {:.1}",
                mb(m.service),
                m.monitors,
                mb(m.monitor_kb)
            )
        } else {
            format!(
                "dockerd {:.1}, containerd {:.1}, {} shims {:.1}",
                mb(m.service),
                mb(m.containerd),
                m.monitors,
                mb(m.monitor_kb)
            )
        };
        println!(
            "    {:<22} idle {:>5.1} MB ({parts}){at_peak}",
            run.display(),
            mb(m.total()),
        );
    }
    let total: u64 = idle.iter().map(EngineMemory::total).sum();
    print!(
        "    {} engines, idle:                   {:>7.1} MB",
        engines.0.len(),
        mb(total)
    );
    if let Some(p) = &peak {
        print!(
            "; at their peaks {:.1} MB",
            mb(p.iter().map(EngineMemory::total).sum())
        );
    }
    println!();
}
