//! `mdbook-docktest test` as a user runs it, on small fixture books, against the real engine.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, docker, fixture, test_book};

// A stale expected line must fail the run with its file:line and a diff, and the page's objects must go.
#[test]
fn stale_output_exits_1_with_file_line_and_diff() {
    let engine = support::locked_engine();
    let run = test_book(fixture("mismatch")).run();
    let stdout = &run.stdout;
    assert_eq!(run.code, Some(1), "{run}");
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
    engine.assert_left_as_found();
}

// A hanging command fails at its own timeout, not the default one, and the rest of the page still runs.
#[test]
fn timeout_fails_the_block_and_the_page_goes_on() {
    let engine = support::locked_engine();
    let start = Instant::now();
    let run = test_book(fixture("timeout")).run();
    let elapsed = start.elapsed();
    let stdout = &run.stdout;
    assert_eq!(run.code, Some(1), "{run}");
    assert!(stdout.contains("src/page.md:5: $ sleep 100"), "{stdout}");
    assert!(stdout.contains("still running after 2s"), "{stdout}");
    // The next block ran and matched.
    assert!(
        stdout.contains("verified         src/page.md:10"),
        "{stdout}"
    );
    // The 30 s default would put the run far beyond this; 2 s plus engine work stays well under it.
    assert!(elapsed < Duration::from_secs(25), "{elapsed:?}");
    engine.assert_left_as_found();
}

// A container, network and volume that existed before the run are never touched, even when the pages
// create, fail and time out around them, and when a page tries to create a network of the same name: that
// page fails with the engine's own words for the clash.
#[test]
fn objects_from_before_the_run_survive_it() {
    let _engine_lock = support::lock_engine();
    let engine = support::engine();
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
        test_book(fixture(book)).run();
    }
    let clash = test_book(fixture("clash")).run();
    let stdout = &clash.stdout;
    assert_eq!(clash.code, Some(1), "{stdout}");
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
    support::assert_left_as_found(&engine, &before);
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
                .env("DOCKER_HOST", support::endpoint().host)
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
    let _engine_lock = support::lock_engine();
    let name = format!("dt-bystander-{}", std::process::id());
    let run = std::thread::spawn(|| test_book(fixture("timeout")).run());
    // The fixture's page sleeps for 2 s: this container appears in the middle of it.
    std::thread::sleep(Duration::from_millis(1500));
    let id = docker(&["run", "-d", "--name", &name, "alpine", "sleep", "600"]);
    let out = run.join().unwrap();
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    assert!(
        out.stdout.contains("removed 1 container(s)"),
        "{}",
        out.stdout
    );
    let state = docker(&["inspect", "-f", "{{.State.Running}} {{.Id}}", &name]);
    docker(&["rm", "-f", &name]);
    assert_eq!(state, format!("true {id}"));
}

// An image a page commits is the page's, like its containers: it was left on the engine after every run of
// a page that committed one, until the proxy recorded `POST /commit` and the cleanup removed what it made.
#[test]
fn images_a_page_commits_are_removed_with_it() {
    let engine = support::locked_engine();
    let run = test_book(fixture("commit")).run();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("removed 1 container(s), 0 network(s), 0 volume(s), 1 image(s)"),
        "{run}"
    );
    let left = docker(&["images", "-q", "dt-fixture-committed"]);
    assert_eq!(left, "", "the committed image is still on the engine");
    let base = docker(&["images", "-q", "alpine:latest"]);
    assert!(!base.is_empty(), "the image the commit was made on stays");
    engine.assert_left_as_found();
}

// Images a page builds or tags under a new name are the page's: `docker build -t` and `docker tag` left them
// on the engine after every run (only `docker commit` was recorded). A name that existed before the run is
// not the page's, even when the page tags another image with it.
#[test]
fn images_a_page_builds_or_tags_are_removed_with_it() {
    let _engine_lock = support::lock_engine();
    let engine = support::engine();
    let users = "dt-fixture-users:keep";
    let _users = UsersImage(users);
    docker(&["tag", "nginx:alpine", users]);
    let before = engine.inventory().unwrap();
    let run = test_book(fixture("build")).run();
    let moved = docker(&["images", "-q", users]);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("removed 0 container(s), 0 network(s), 0 volume(s), 2 image(s)"),
        "{run}"
    );
    assert_eq!(docker(&["images", "-q", "dt-fixture-built"]), "", "{run}");
    assert_eq!(
        moved,
        docker(&["images", "-q", "alpine:latest"]),
        "the user's name, moved by the page, stays"
    );
    assert_eq!(docker(&["images", "-q", "--filter", "dangling=true"]), "");
    support::assert_left_as_found(&engine, &before);
}

/// A test's own "user" image name, removed when the test ends, however it ends.
struct UsersImage(&'static str);

impl Drop for UsersImage {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rmi", self.0])
            .env("DOCKER_HOST", support::endpoint().host)
            .output();
    }
}

// A page that matches its output and its snapshot verifies with exit status 0.
#[test]
fn a_matching_page_verifies() {
    let engine = support::locked_engine();
    let run = test_book(fixture("clean")).run();
    let stdout = &run.stdout;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(stdout.starts_with("engine: Docker "), "{stdout}");
    assert!(
        stdout.contains("verified         src/page.md:3"),
        "{stdout}"
    );
    assert!(stdout.contains("1 verified, 0 failed"), "{stdout}");
    engine.assert_left_as_found();
}

// Without an engine the user gets one error line and a hint how to start one, and exit status 2.
#[test]
fn no_engine_exits_2_with_a_hint() {
    let run = test_book(fixture("clean")).without_engine().run();
    let stderr = &run.stderr;
    assert_eq!(run.code, Some(2), "{run}");
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
    let run = test_book(fixture("bad-attribute")).without_engine().run();
    let stderr = &run.stderr;
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        stderr.contains("src/page.md:3: unknown fence attribute `timout`"),
        "{stderr}"
    );
}

// A folder that is not a book is a usage error, not a crash.
#[test]
fn not_a_book_exits_2() {
    let run = test_book("/nonexistent-book").without_engine().run();
    assert_eq!(run.code, Some(2));
    insta::assert_snapshot!(run.stderr, @"error: /nonexistent-book is not an mdBook book: no book.toml");
}

// `--jobs 2` runs two pages at once, each on an engine of its own: the fixture's pages use the same names
// (they would clash on one engine) and each waits for the other (they pass only when run at the same time).
// The report still tells them in page order, and every engine is left as it was found.
#[test]
fn jobs_run_pages_at_once_on_engines_of_their_own() {
    let _lock = support::lock_engine();
    let pool = support::pool(2);
    assert!(
        pool.len() >= 2,
        "this test needs two engines; start them with `eval \"$(sudo scripts/engine-start 2)\"` (it sets \
         DOCKTEST_ENGINES), found {pool:?}"
    );
    let engines: Vec<_> = pool
        .iter()
        .take(2)
        .map(|e| support::engine_at(e.clone()))
        .collect();
    let before: Vec<_> = engines.iter().map(|e| e.inventory().unwrap()).collect();
    let rendezvous = std::path::Path::new("/tmp/dt-fixture-jobs");
    let _ = std::fs::remove_dir_all(rendezvous);
    let run = test_book(fixture("jobs")).args(["--jobs", "2"]).run();
    let _ = std::fs::remove_dir_all(rendezvous);
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("4 verified, 0 failed"), "{run}");
    let a = run.stdout.find("src/a.md\n").expect("page a reported");
    let b = run.stdout.find("src/b.md\n").expect("page b reported");
    assert!(a < b, "pages reported in page order: {run}");
    for (engine, before) in engines.iter().zip(&before) {
        support::assert_left_as_found(engine, before);
    }
}

// Asking for more jobs than there are engines says so, with the command that starts more.
#[test]
fn jobs_beyond_the_engines_at_hand_are_named() {
    let _lock = support::lock_engine();
    let run = test_book(fixture("clean"))
        .args(["--jobs", "9"])
        .env("DOCKTEST_ENGINES", "")
        .run();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stderr
            .contains("warning: --jobs 9, but 1 engine(s) are available")
            && run
                .stderr
                .contains("hint: start 9 sealed engines with `sudo scripts/engine-start 9`"),
        "{run}"
    );
}

// CI machines share a book with `--partition K/N`: shards 1/2 and 2/2 together run every page exactly once,
// each says how many pages it runs and skips, and each writes its own JUnit file with its pages alone.
#[test]
fn partitions_run_every_page_exactly_once() {
    let engine = support::locked_engine();
    let reports = tempfile::tempdir().unwrap();
    let mut ran = Vec::new();
    for k in 1..=2 {
        let junit = reports.path().join(format!("shard-{k}.xml"));
        let run = test_book(fixture("partition"))
            .arg("--partition")
            .arg(format!("{k}/2"))
            .arg("--junit")
            .arg(&junit)
            .run();
        assert_eq!(run.code, Some(0), "{run}");
        // The runner prints each page's path on a line of its own before its blocks.
        let pages: Vec<&str> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("src/"))
            .collect();
        let runs = format!(
            "shard:  {k}/2 runs {} of 5 page(s), skips {}",
            pages.len(),
            5 - pages.len()
        );
        assert!(run.stdout.contains(&runs), "{run}");
        let xml = std::fs::read_to_string(&junit).unwrap();
        for page in ["alpha", "bravo", "charlie", "delta", "echo"] {
            let place = format!("src/{page}.md:3");
            let here = pages.contains(&format!("src/{page}.md").as_str());
            assert_eq!(xml.contains(&place), here, "{place} in shard {k}/2:\n{xml}");
        }
        ran.extend(pages.into_iter().map(String::from));
    }
    ran.sort();
    assert_eq!(
        ran,
        [
            "src/alpha.md",
            "src/bravo.md",
            "src/charlie.md",
            "src/delta.md",
            "src/echo.md"
        ]
    );
    engine.assert_left_as_found();
}

// A book's matrix runs every page once per engine kind: the report has a column per kind, JUnit names the
// kind in each case, and a kind whose transcript is the first kind's needs no snapshot of its own. Both kinds
// here match the one engine CI has, so the test runs wherever the suite does.
#[test]
fn a_matrix_runs_every_page_on_each_kind() {
    let engine = support::locked_engine();
    let out = tempfile::tempdir().unwrap();
    let junit = out.path().join("report.xml");
    let run = test_book(fixture("clean"))
        .env_remove("DOCKTEST_ENGINES")
        .args(["--engine", "docker", "--engine", "docker-20.10", "--junit"])
        .arg(&junit)
        .run();
    let stdout = &run.stdout;
    assert_eq!(run.code, Some(0), "{run}");
    assert!(stdout.contains("\nmatrix: docker\n"), "{stdout}");
    assert!(stdout.contains("\nmatrix: docker-20.10\n"), "{stdout}");
    assert!(stdout.contains("2 verified, 0 failed"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l
            .split_whitespace()
            .eq(["src/page.md:3", "verified", "verified"])),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("name=\"src/page.md:3 [docker]\""), "{xml}");
    assert!(
        xml.contains("name=\"src/page.md:3 [docker-20.10]\""),
        "{xml}"
    );
    let snapshots: Vec<_> = std::fs::read_dir(fixture("clean").join("snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(snapshots, ["src-page__a-page-that-verifies-1.snap"]);
    engine.assert_left_as_found();
}

// A kind the matrix asks for that no engine at hand is: one error naming the kind and what was found, a hint
// how to start one, exit status 2, nothing run.
#[test]
fn a_matrix_kind_without_an_engine_exits_2() {
    let engine = support::locked_engine();
    let run = test_book(fixture("clean"))
        .env_remove("DOCKTEST_ENGINES")
        .args(["--engine", "podman"])
        .run();
    let stderr = &run.stderr;
    assert_eq!(run.code, Some(2), "{run}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("error: no engine of kind podman")
            && lines[0].contains("(found: docker-"),
        "{stderr}"
    );
    assert!(lines[1].contains("DOCKTEST_ENGINE_KIND=podman"), "{stderr}");
    engine.assert_left_as_found();
}
