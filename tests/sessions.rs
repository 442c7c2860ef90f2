//! Interactive container sessions and named terminals, run as a user runs them, against the real engine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mdbook_docktest::engine::{Endpoint, Engine};

/// Each run removes whatever appeared in the engine during it, so runs in this binary must not overlap.
static ENGINE: Mutex<()> = Mutex::new(());

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn docktest(book: &str) -> (Option<i32>, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_mdbook-docktest"))
        .args(["test", fixture(book).to_str().unwrap()])
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .output()
        .expect("mdbook-docktest runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn engine() -> Engine {
    Engine::connect(Endpoint::from_env()).unwrap_or_else(|e| {
        panic!("this test needs a Docker engine ({e}); start one with `sudo scripts/engine-start`")
    })
}

// Container shells, expected failures inside them, detach and re-attach with the shell's state kept, a
// server in one terminal with a client in another, and `^C`: all verify against their snapshots.
#[test]
fn sessions_terminals_and_interrupts_verify() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    let before = engine.inventory().unwrap();
    let (code, out) = docktest("sessions");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("5 verified, 0 failed"), "{out}");
    assert_eq!(engine.inventory().unwrap(), before, "engine left as found");
}

// A stale line inside a container fails with the line of its command, the page's prompt, and a diff.
#[test]
fn stale_line_inside_a_container_fails_with_file_line_and_diff() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    let before = engine.inventory().unwrap();
    let (code, out) = docktest("session-mismatch");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("src/page.md:5: / # echo inside"), "{out}");
    assert!(out.contains("-outside") && out.contains("+inside"), "{out}");
    assert_eq!(engine.inventory().unwrap(), before, "engine left as found");
}

// A command hanging inside a container is interrupted at its timeout, its session is closed, the rest of
// the page runs, and the container it ran in is removed.
#[test]
fn hanging_command_in_a_container_times_out_and_the_page_goes_on() {
    let _lock = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let engine = engine();
    let before = engine.inventory().unwrap();
    let start = Instant::now();
    let (code, out) = docktest("session-timeout");
    let elapsed = start.elapsed();
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("src/page.md:5: / # ping 127.0.0.1"), "{out}");
    assert!(
        out.contains("still running after 3s: it was interrupted and its container session closed"),
        "{out}"
    );
    assert!(out.contains("verified         src/page.md:10"), "{out}");
    // The 30 s default would put the run far beyond this.
    assert!(elapsed < Duration::from_secs(25), "{elapsed:?}");
    assert_eq!(engine.inventory().unwrap(), before, "engine left as found");
}
