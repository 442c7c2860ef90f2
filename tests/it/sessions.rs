//! Interactive container sessions and named terminals, run as a user runs them, against the real engine.

use std::time::{Duration, Instant};

use crate::support::{self, fixture, test_book};

// Container shells, expected failures inside them, detach and re-attach with the shell's state kept, a
// server in one terminal with a client in another, and `^C`: all verify against their snapshots.
#[test]
fn sessions_terminals_and_interrupts_verify() {
    let engine = support::locked_engine();
    let run = test_book(fixture("sessions")).run();
    let out = run.all();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("5 verified, 0 failed"), "{out}");
    engine.assert_left_as_found();
}

// A stale line inside a container fails with the line of its command, the page's prompt, and a diff.
#[test]
fn stale_line_inside_a_container_fails_with_file_line_and_diff() {
    let engine = support::locked_engine();
    let run = test_book(fixture("session-mismatch")).run();
    let out = run.all();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(out.contains("src/page.md:5: / # echo inside"), "{out}");
    assert!(out.contains("-outside") && out.contains("+inside"), "{out}");
    engine.assert_left_as_found();
}

// A command hanging inside a container is interrupted at its timeout, its session is closed, the rest of
// the page runs, and the container it ran in is removed.
#[test]
fn hanging_command_in_a_container_times_out_and_the_page_goes_on() {
    let engine = support::locked_engine();
    let start = Instant::now();
    let run = test_book(fixture("session-timeout")).run();
    let out = run.all();
    let elapsed = start.elapsed();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(out.contains("src/page.md:5: / # ping 127.0.0.1"), "{out}");
    assert!(
        out.contains("still running after 3s: it was interrupted and its container session closed"),
        "{out}"
    );
    assert!(out.contains("verified         src/page.md:10"), "{out}");
    // The 30 s default would put the run far beyond this.
    assert!(elapsed < Duration::from_secs(25), "{elapsed:?}");
    engine.assert_left_as_found();
}
