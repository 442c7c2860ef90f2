//! `mdbook-docktest test` as a user runs it, on small fixture books, against the real engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mdbook_docktest::engine::{Endpoint, Engine, Inventory};

/// Each run removes whatever appeared in the engine during it, so runs in this binary must not overlap.
static ENGINE: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn docktest(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mdbook-docktest"));
    cmd.args(args).env("CI", "true").env("NO_COLOR", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("mdbook-docktest runs")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn engine() -> Engine {
    Engine::connect(Endpoint::from_env()).unwrap_or_else(|e| {
        panic!("this test needs a Docker engine ({e}); start one with `sudo scripts/engine-start`")
    })
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", Endpoint::from_env().host)
        .output()
        .expect("docker CLI runs");
    assert!(out.status.success(), "docker {args:?}: {}", text(&out).1);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn assert_left_as_found(engine: &Engine, before: &Inventory) {
    assert_eq!(
        &engine.inventory().unwrap(),
        before,
        "the engine holds exactly what it held before the run"
    );
}

// A stale expected line must fail the run with its file:line and a diff, and the page's objects must go.
#[test]
fn stale_output_exits_1_with_file_line_and_diff() {
    let _engine_lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    let before = engine.inventory().unwrap();
    let out = docktest(&["test", fixture("mismatch").to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("FAILED") && stdout.contains("src/page.md:12"),
        "{stdout}"
    );
    assert!(
        stdout.contains("src/page.md:13: $ echo hello from the engine"),
        "{stdout}"
    );
    assert!(stdout.contains("-hello from the page"), "{stdout}");
    assert!(stdout.contains("+hello from the engine"), "{stdout}");
    assert!(
        stdout.contains("removed 1 container(s), 1 network(s), 1 volume(s)"),
        "{stdout}"
    );
    assert_left_as_found(&engine, &before);
}

// A hanging command fails at its own timeout, not the default one, and the rest of the page still runs.
#[test]
fn timeout_fails_the_block_and_the_page_goes_on() {
    let _engine_lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    let before = engine.inventory().unwrap();
    let start = Instant::now();
    let out = docktest(&["test", fixture("timeout").to_str().unwrap()], &[]);
    let elapsed = start.elapsed();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("src/page.md:5: $ sleep 100"), "{stdout}");
    assert!(stdout.contains("still running after 2s"), "{stdout}");
    // The next block ran and matched.
    assert!(
        stdout.contains("verified         src/page.md:10"),
        "{stdout}"
    );
    // The 30 s default would put the run far beyond this; 2 s plus engine work stays well under it.
    assert!(elapsed < Duration::from_secs(25), "{elapsed:?}");
    assert_left_as_found(&engine, &before);
}

// A container, network and volume that existed before the run are never touched, even when the pages
// create, fail and time out around them, and when a page tries to create a network of the same name: that
// page fails with the engine's own words for the clash.
#[test]
fn objects_from_before_the_run_survive_it() {
    let _engine_lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    // The name the `clash` fixture's page tries to create.
    let name = "dt-user-net";
    let _user = UserObjects(name);
    UserObjects(name).remove();
    docker(&["network", "create", name]);
    docker(&["volume", "create", name]);
    let id = docker(&[
        "run",
        "-d",
        "--name",
        name,
        "--network",
        name,
        "-v",
        &format!("{name}:/data"),
        "alpine",
        "sleep",
        "600",
    ]);
    let before = engine.inventory().unwrap();
    for book in ["mismatch", "timeout", "clean"] {
        docktest(&["test", fixture(book).to_str().unwrap()], &[]);
    }
    let clash = docktest(&["test", fixture("clash").to_str().unwrap()], &[]);
    let (stdout, _) = text(&clash);
    assert_eq!(clash.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("src/page.md:4: $ docker network create dt-user-net"),
        "{stdout}"
    );
    assert!(
        stdout.contains("network with name dt-user-net already exists"),
        "{stdout}"
    );
    let state = docker(&["inspect", "-f", "{{.State.Running}} {{.Id}}", name]);
    assert_eq!(state, format!("true {id}"));
    assert_left_as_found(&engine, &before);
}

/// The test's own "user" objects, all named alike: removed when the test ends, however it ends.
struct UserObjects(&'static str);

impl UserObjects {
    fn remove(&self) {
        for args in [
            ["rm", "-f", self.0],
            ["network", "rm", self.0],
            ["volume", "rm", self.0],
        ] {
            let _ = Command::new("docker")
                .args(args)
                .env("DOCKER_HOST", Endpoint::from_env().host)
                .output();
        }
    }
}

impl Drop for UserObjects {
    fn drop(&mut self) {
        self.remove();
    }
}

// Objects someone else creates on the engine while a page runs are not the page's: they survive its cleanup.
#[test]
fn objects_created_during_the_run_by_others_survive_it() {
    let _engine_lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("dt-bystander-{}", std::process::id());
    let run = std::thread::spawn(|| docktest(&["test", fixture("timeout").to_str().unwrap()], &[]));
    // The fixture's page sleeps for 2 s: this container appears in the middle of it.
    std::thread::sleep(Duration::from_millis(1500));
    let id = docker(&["run", "-d", "--name", &name, "alpine", "sleep", "600"]);
    let out = run.join().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out).0);
    assert!(
        text(&out).0.contains("removed 1 container(s)"),
        "{}",
        text(&out).0
    );
    let state = docker(&["inspect", "-f", "{{.State.Running}} {{.Id}}", &name]);
    docker(&["rm", "-f", &name]);
    assert_eq!(state, format!("true {id}"));
}

// A page that matches its output and its snapshot verifies with exit status 0.
#[test]
fn a_matching_page_verifies() {
    let _engine_lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    let before = engine.inventory().unwrap();
    let out = docktest(&["test", fixture("clean").to_str().unwrap()], &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.starts_with("engine: Docker "), "{stdout}");
    assert!(
        stdout.contains("verified         src/page.md:3"),
        "{stdout}"
    );
    assert!(stdout.contains("1 verified, 0 failed"), "{stdout}");
    assert_left_as_found(&engine, &before);
}

// Without an engine the user gets one error line and a hint how to start one, and exit status 2.
#[test]
fn no_engine_exits_2_with_a_hint() {
    let out = docktest(
        &["test", fixture("clean").to_str().unwrap()],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with(
            "error: cannot reach the Docker engine at unix:///nonexistent/docker.sock"
        ),
        "{stderr}"
    );
    assert!(
        lines[1]
            .starts_with("hint: start docktest's sealed engine with `sudo scripts/engine-start`"),
        "{stderr}"
    );
}

// A typo in a fence attribute is bad input: exit 2 naming file:line, before any engine work.
#[test]
fn unknown_attribute_exits_2_with_file_line() {
    let out = docktest(
        &["test", fixture("bad-attribute").to_str().unwrap()],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("src/page.md:3: unknown fence attribute `timout`"),
        "{stderr}"
    );
}

// A folder that is not a book is a usage error, not a crash.
#[test]
fn not_a_book_exits_2() {
    let out = docktest(&["test", "/nonexistent-book"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("not an mdBook book"));
}
