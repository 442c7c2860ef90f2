//! No debris on any engine of the pool, whatever stops the run: Ctrl-C, SIGTERM, SIGKILL (then `clean`),
//! SIGKILL between the engine's answer to a create and the journal's line (then `clean`, by label), and an
//! engine that dies under a page while the other engines run the rest.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::faults::{signal, wait_for_objects, PrivateEngine};
use crate::support::{self, docktest, fixture, test_book, Engine, Inventory, Run};

/// The label docktest's proxy puts on what a page creates.
const LABEL: &str = "io.docktest.journal";

/// The first `n` engines of DOCKTEST_ENGINES, each with what it held before the test; the test fails when
/// there are fewer.
fn engines(n: usize) -> Vec<(Engine, Inventory)> {
    let pool = support::pool(n);
    assert!(
        pool.len() >= n,
        "this test needs {n} engines; start them with `eval \"$(sudo scripts/engine-start {n})\"` (it sets \
         DOCKTEST_ENGINES), found {pool:?}"
    );
    pool.into_iter()
        .map(|endpoint| {
            let engine = support::engine_at(endpoint);
            let before = engine.inventory().expect("engine inventory");
            (engine, before)
        })
        .collect()
}

/// Waits until the page on every engine has created its objects (a container and volumes).
fn wait_on_every_engine(engines: &[(Engine, Inventory)]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (engine, before) in engines {
        loop {
            let now = engine.inventory().unwrap();
            if now.containers.len() > before.containers.len()
                && now.volumes.len() >= before.volumes.len() + 2
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the page on {} never created its objects",
                engine.endpoint().host
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

#[track_caller]
fn assert_every_engine_left_as_found(engines: &[(Engine, Inventory)]) {
    for (engine, before) in engines {
        support::assert_left_as_found(engine, before);
    }
}

/// `docker ARGS` against the engine at `host` itself (not through a page's proxy): its trimmed stdout.
fn docker_at(host: &str, args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .env("DOCKER_HOST", host)
        .output()
        .expect("docker CLI runs");
    let run = Run::from(out);
    assert!(run.success(), "docker {args:?} at {host}: {}", run.stderr);
    run.stdout.trim().to_string()
}

/// Sends `sig` to a `--jobs 3` run while a page runs on each engine: the run exits with `code`, and each page
/// removed what it created on its engine.
fn stopped_under_jobs_cleans_up(sig: nix::sys::signal::Signal, code: i32) {
    let _lock = support::lock_engine();
    let engines = engines(3);
    let child = test_book(fixture("pool")).args(["--jobs", "3"]).spawn();
    wait_on_every_engine(&engines);
    signal(&child, sig);
    let out = Run::from(child.wait_with_output().unwrap());
    assert_eq!(out.code, Some(code), "{out}");
    assert!(
        out.all()
            .contains("the pages that ran removed what they created"),
        "{out}"
    );
    assert_every_engine_left_as_found(&engines);
}

// Ctrl-C under `--jobs 3` stops the pages on every engine, and each removes what it created.
#[test]
fn ctrl_c_under_jobs_leaves_every_engine_as_found() {
    stopped_under_jobs_cleans_up(nix::sys::signal::Signal::SIGINT, 130);
}

// SIGTERM (what CI runners and `timeout` send) under `--jobs 3` cleans up every engine, as Ctrl-C does.
#[test]
fn sigterm_under_jobs_leaves_every_engine_as_found() {
    stopped_under_jobs_cleans_up(nix::sys::signal::Signal::SIGTERM, 143);
}

// `clean` used to look at the first engine only: after a `--jobs 3` run was killed, the pages' objects on the
// other engines stayed. It cleans every engine of the pool.
#[test]
fn sigkill_under_jobs_then_clean_leaves_every_engine_as_found() {
    let _lock = support::lock_engine();
    let engines = engines(3);
    let mut child = test_book(fixture("pool")).args(["--jobs", "3"]).spawn();
    wait_on_every_engine(&engines);
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    child.wait().unwrap();
    // Its terminals die with their pseudo-terminal; give the engines a moment to see the last of them.
    std::thread::sleep(Duration::from_millis(500));
    for (engine, before) in &engines {
        assert_ne!(
            &engine.inventory().unwrap(),
            before,
            "the killed run left its objects"
        );
    }
    let out = docktest(["clean"]).run();
    assert_eq!(out.code, Some(0), "{out}");
    for (engine, _) in &engines {
        let host = &engine.endpoint().host;
        assert!(
            out.stdout
                .contains(&format!("removed container dt-fixture-pool from {host}")),
            "{out}"
        );
    }
    assert_every_engine_left_as_found(&engines);
    let again = docktest(["clean"]).run();
    assert!(again.all().contains("nothing to clean"), "{again}");
}

// A run killed between the engine's answer to a create and the journal's line left a container that `clean`
// could not find (no journal entry, no label). Here the run is killed once its objects exist on every engine
// and its journals are then deleted, which is what the journal looks like when the kill lands in that window:
// `clean` finds every object by the label the proxy put on it, and the page's own CLI never saw that label.
// While the run is alive, `clean` takes nothing of it.
#[test]
fn sigkill_before_the_journal_line_then_clean_finds_it_by_label() {
    let _lock = support::lock_engine();
    let engines = engines(3);
    let journals = tempfile::tempdir().unwrap();
    let mut child = test_book(fixture("pool"))
        .args(["--jobs", "3"])
        .env("DOCKTEST_JOURNALS", journals.path())
        .spawn();
    wait_on_every_engine(&engines);

    // The engine holds the label, naming the run; the page's CLI does not see it (tests/fixtures/labels).
    for (engine, _) in &engines {
        let host = &engine.endpoint().host;
        for args in [
            &[
                "container",
                "inspect",
                "-f",
                "{{json .Config.Labels}}",
                "dt-fixture-pool",
            ][..],
            &[
                "network",
                "inspect",
                "-f",
                "{{json .Labels}}",
                "dt-fixture-pool",
            ][..],
            &[
                "volume",
                "inspect",
                "-f",
                "{{json .Labels}}",
                "dt-fixture-pool",
            ][..],
        ] {
            let labels = docker_at(host, args);
            assert!(
                labels.contains(&format!(r#""{LABEL}":"{}-docktest-proxy-"#, child.id())),
                "{args:?} at {host}: {labels}"
            );
        }
    }

    // A live run's objects are its own.
    let live = docktest(["clean"])
        .env("DOCKTEST_JOURNALS", journals.path())
        .run();
    assert!(live.all().contains("nothing to clean"), "{live}");

    signal(&child, nix::sys::signal::Signal::SIGKILL);
    child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    remove_journals(journals.path(), 3);

    let out = docktest(["clean"])
        .env("DOCKTEST_JOURNALS", journals.path())
        .run();
    assert_eq!(out.code, Some(0), "{out}");
    for (engine, _) in &engines {
        let host = &engine.endpoint().host;
        for kind in ["container", "network", "volume"] {
            assert!(
                out.stdout
                    .contains(&format!("removed {kind} dt-fixture-pool from {host}")),
                "{kind} on {host}: {out}"
            );
        }
    }
    assert_every_engine_left_as_found(&engines);
}

/// Deletes every journal in `dir`, asserting there were at least `pages` (one per page that ran).
fn remove_journals(dir: &Path, pages: usize) {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
        removed += 1;
    }
    assert!(
        removed >= pages,
        "the run kept a journal per page, found {removed}"
    );
}

// An engine that dies under a page fails that page alone: the engine leaves the pool, the report names it,
// and the other pages run on the other engine.
#[test]
fn an_engine_that_dies_fails_only_the_page_on_it() {
    let _lock = support::lock_engine();
    let private = PrivateEngine::start();
    let dying = support::engine_at(private.endpoint.clone());
    let before_dying = dying.inventory().unwrap();
    let engines = engines(1);
    let shared = engines[0].0.endpoint().host.clone();
    // The dead page's journal stays, for a `clean` once its engine is back: this test's own.
    let journals = tempfile::tempdir().unwrap();
    let child = test_book(fixture("dead"))
        .args([
            "--jobs",
            "2",
            "--engine",
            &private.endpoint.host,
            "--engine",
            &shared,
        ])
        .env("DOCKTEST_JOURNALS", journals.path())
        .spawn();
    let deadline = Instant::now() + Duration::from_secs(60);
    while dying.inventory().unwrap().containers.len() == before_dying.containers.len() {
        assert!(
            Instant::now() < deadline,
            "no page started on the private engine"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    private.kill();
    let out = Run::from(child.wait_with_output().unwrap());
    let said = out.all();
    assert_eq!(out.code, Some(1), "{said}");
    let died = format!(
        "the engine at {} died under this page and left the pool",
        private.endpoint.host
    );
    assert_eq!(said.matches(&died).count(), 1, "{said}");
    assert!(!said.contains("not run"), "{said}");
    // The three other pages, both blocks each, verified on the engine left.
    let verified = said
        .lines()
        .filter(|l| l.trim_start().starts_with("verified"))
        .count();
    assert!(verified >= 6, "{said}");
    assert_every_engine_left_as_found(&engines);
}

// The label stays between docktest and the engine: the page's CLI sees labels, events and `ls` columns as a
// stock engine shows them (`{}` for a network, `null` for a volume, only the page's own labels).
#[test]
fn the_pages_cli_never_sees_the_label() {
    let engine = support::locked_engine();
    let run = test_book(fixture("labels")).run();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("2 verified, 0 failed"), "{run}");
    engine.assert_left_as_found();
}

// Stand-ins used to be built in every engine of the pool, each a build of its own: they are built once, in
// the first engine, and loaded from it into the others, so every engine runs the very same image. The report
// still names them as stand-ins.
#[test]
fn stand_ins_are_built_once_and_loaded_into_every_engine() {
    let _lock = support::lock_engine();
    let engines = engines(3);
    let run = test_book(fixture("labels")).args(["--jobs", "3"]).run();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout
            .contains("image:  alpine:latest  stand-in (busybox sh"),
        "{run}"
    );
    let ids: Vec<String> = engines
        .iter()
        .map(|(engine, _)| {
            docker_at(
                &engine.endpoint().host,
                &["image", "inspect", "-f", "{{.Id}}", "alpine:latest"],
            )
        })
        .collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");
    assert_every_engine_left_as_found(&engines);
}

// Regression: `clean` after a killed run removed every named volume the dead page's containers mounted, so a
// page's `docker run -v data:/x` on an engine that already held `data` (a reader's own volume, on their
// Docker Desktop) lost the reader's data. It must go only with what the page made: here the volume the
// engine made for the container. Both ways `clean` learns what was there: the page's journal, and, when the
// journal is gone too, the volumes' age against the container's.
#[test]
fn clean_after_sigkill_keeps_a_volume_the_page_only_mounted() {
    for journal_kept in [true, false] {
        let engine = support::locked_engine();
        let host = engine.endpoint().host.clone();
        docker_at(&host, &["volume", "create", "dt-fixture-users-data"]);
        let with_users = engine.inventory().unwrap();
        // Older than the container by more than the second engines give a volume's time in.
        std::thread::sleep(Duration::from_millis(2500));
        let journals = tempfile::tempdir().unwrap();
        let mut child = test_book(fixture("mounts-a-users-volume"))
            .env("DOCKTEST_JOURNALS", journals.path())
            .spawn();
        wait_for_objects(&engine, &with_users);
        std::thread::sleep(Duration::from_millis(500));
        signal(&child, nix::sys::signal::Signal::SIGKILL);
        child.wait().unwrap();
        if !journal_kept {
            remove_journals(journals.path(), 1);
        }

        let out = docktest(["clean"])
            .env("DOCKTEST_JOURNALS", journals.path())
            .run();
        assert_eq!(out.code, Some(0), "{out}");
        for gone in ["container dt-fixture-mounts", "volume dt-fixture-made-here"] {
            assert!(
                out.stdout.contains(&format!("removed {gone} from {host}")),
                "journal kept: {journal_kept}: {gone}: {out}"
            );
        }
        assert!(
            !out.stdout.contains("dt-fixture-users-data"),
            "journal kept: {journal_kept}: {out}"
        );
        support::assert_left_as_found(&engine, &with_users);
        docker_at(&host, &["volume", "rm", "dt-fixture-users-data"]);
        engine.assert_left_as_found();
    }
}
