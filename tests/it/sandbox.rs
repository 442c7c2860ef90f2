//! A page cannot reach past its sandbox: every power beyond an ordinary container's is refused before it
//! reaches the engine, with the block, the power and the grant that allows it; granted, the same command
//! runs.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::{self, docker, fixture, test_book, Book};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// The engine's container events between `since` and now (both in seconds), as `ACTION NAME` lines: what
/// reached the engine, whatever was cleaned up afterwards. Only containers the run with process ID `run`
/// created, by the label its proxy puts on them: a `docker run` of another test or user on the same engine
/// meanwhile once showed up here as a create the page never made.
fn container_events(since: u64, run: u32) -> Vec<String> {
    let until = (now() + 1).to_string();
    let events = docker(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until,
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}} {{index .Actor.Attributes \"io.docktest.journal\"}}",
    ]);
    let ours = format!("{run}-");
    events
        .lines()
        .filter_map(|line| {
            let (event, owner) = line.rsplit_once(' ')?;
            owner.starts_with(&ours).then(|| event.to_string())
        })
        .collect()
}

// Bind-mounting `/` read the CI machine's files, `--pid host` saw its processes, and `--privileged` would
// have given a page the kernel: each is refused, with the block's file:line, the power and how to allow it,
// and none of those requests reached the engine.
#[test]
fn each_power_is_refused_and_nothing_is_created() {
    let engine = support::locked_engine();
    let since = now();
    let child = test_book(fixture("sandbox"))
        .args(["--filter", "refused"])
        .spawn();
    let pid = child.id();
    let run = support::Run::from(child.wait_with_output().expect("mdbook-docktest ends"));
    let out = &run.stdout;
    assert_eq!(run.code, Some(1), "{run}");
    for (block, command, refused, grant) in [
        (
            6,
            "-v /:/host",
            "a bind mount of / (`-v /:/host`)",
            "bind-mounts:/",
        ),
        (10, "--pid host", "`--pid host`", "pid-host"),
        (14, "--privileged", "`--privileged`", "privileged"),
        (
            18,
            "--cap-add SYS_ADMIN",
            "`--cap-add CAP_SYS_ADMIN`",
            "cap-add",
        ),
        (
            22,
            "--security-opt seccomp=unconfined",
            "`--security-opt seccomp=unconfined`",
            "unconfined",
        ),
        (26, "--device /dev/null", "`--device /dev/null`", "devices"),
        (
            30,
            "--mount type=bind,source=/etc",
            "a bind mount of /etc",
            "bind-mounts:/etc",
        ),
    ] {
        let place = format!("src/refused.md:{block}");
        let failed = out
            .lines()
            .position(|l| l.starts_with("  FAILED") && l.contains(&format!("{place} ")))
            .unwrap_or_else(|| panic!("{place} did not fail\n{out}"));
        let details: Vec<&str> = out.lines().skip(failed + 1).take(3).collect();
        assert!(
            details[0].contains(&format!("src/refused.md:{}: $ docker ", block + 1))
                && details[0].contains(command),
            "{place}: {details:#?}"
        );
        assert!(
            details[1].starts_with(&format!("      refused {refused}"))
                && details[1].contains("nothing was created"),
            "{place}: {details:#?}"
        );
        assert!(
            details[2].contains(&format!("`allow=\"{grant}\"` in its fence at {place}"))
                && details[2].contains(&format!(
                    "`allow = [\"{grant}\"]` under [preprocessor.docktest]"
                )),
            "{place}: {details:#?}"
        );
    }
    let exec = "src/refused-exec.md:7";
    assert!(
        out.contains(&format!("FAILED           {exec}"))
            && out.contains("refused `docker exec --privileged`")
            && out.contains(&format!("`allow=\"privileged\"` in its fence at {exec}")),
        "{out}"
    );
    // The only container that reached the engine is the one the exec page starts on purpose, and the
    // privileged exec into it never did.
    let events = container_events(since, pid);
    let created: Vec<&String> = events.iter().filter(|e| e.starts_with("create ")).collect();
    assert_eq!(created, ["create dt-sbx-exec"], "{events:#?}");
    assert!(
        !events.iter().any(|e| e.starts_with("exec_create")),
        "{events:#?}"
    );
    assert_eq!(
        out.matches("cleanup: removed").count(),
        1,
        "only the exec page had anything to remove\n{out}"
    );
    engine.assert_left_as_found();
}

// The powers refused above run once the block grants them (here the ones this machine's engine can give:
// `--privileged` itself fails here for want of capabilities).
#[test]
fn a_block_that_allows_a_power_runs() {
    verifies("allowed", 2);
}

// book.toml's `allow` grants a power to every block of the book, with no attribute on the block.
#[test]
fn a_book_wide_grant_allows_every_block() {
    let engine = support::locked_engine();
    let run = test_book(fixture("sandbox-book")).run();
    assert_eq!(run.code, Some(0), "{run}");
    engine.assert_left_as_found();
}

// Bind mounts of the folder the page's terminals start in need no grant, as `-v` and as `--mount`.
#[test]
fn the_pages_own_folder_may_be_bind_mounted() {
    verifies("own-folder", 1);
}

/// Runs the `sandbox` fixture's pages that `filter` selects: all `blocks` verify, nothing is left.
#[track_caller]
fn verifies(filter: &str, blocks: usize) {
    let engine = support::locked_engine();
    let run = test_book(fixture("sandbox"))
        .args(["--filter", filter])
        .run();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(
        run.stdout.contains(&format!("{blocks} verified, 0 failed")),
        "{}",
        run.stdout
    );
    engine.assert_left_as_found();
}

// A misspelt power would silently grant nothing: it is an error at its file:line, exit 2, before any
// engine work.
#[test]
fn an_unknown_power_is_an_error() {
    for (book, place, word) in [
        (
            "bad-power",
            "src/page.md:3: fence attribute `allow`",
            "root",
        ),
        (
            "bad-power-toml",
            "book.toml:6: [preprocessor.docktest]: option `allow`",
            "host-pid",
        ),
    ] {
        let run = test_book(fixture(book)).without_engine().run();
        assert_eq!(run.code, Some(2), "{run}");
        let error = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{run}"));
        assert!(
            error.contains(&format!(
                "{place}: unknown power `{word}` (known: privileged, pid-host, "
            )),
            "{error}"
        );
    }
}

// The guide's pages stay inside the sandbox: no block and no book.toml key grants a power, so the book's
// own test (`book::`) verifies it as a stock page would run.
#[test]
fn the_guide_needs_no_powers() {
    let book = Book::load(&support::manifest_dir().join("book")).unwrap_or_else(|e| panic!("{e}"));
    assert!(book.config.allow.is_empty());
    for page in &book.pages {
        for block in &page.blocks {
            assert!(
                block.attrs.allow.is_empty(),
                "{}:{} grants {:?}",
                page.path.display(),
                block.line,
                block.attrs.allow.names()
            );
        }
    }
}
