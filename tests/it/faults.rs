//! Cleanup under faults: Ctrl-C in the middle of a page, a run killed outright (then `clean`), the engine
//! restarting under a page, and a snapshot folder that cannot be written. After each, the engine holds
//! exactly what it held before.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::support::{self, docktest, fixture, test_book, Endpoint, Engine, Inventory, Run};

/// Waits until the page has created its objects: the inventory grows past `before`.
pub(crate) fn wait_for_objects(engine: &Engine, before: &Inventory) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = engine.inventory().unwrap();
        if now.containers.len() > before.containers.len()
            && now.volumes.len() > before.volumes.len()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the page never created its objects"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub(crate) fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), sig).unwrap();
}

/// Sends `sig` to a run in the middle of a page: the run stops promptly with `code`, says it stopped, and the
/// page still removes what it created.
fn stopped_mid_page_cleans_up(sig: nix::sys::signal::Signal, code: i32) {
    let engine = support::locked_engine();
    let child = test_book(fixture("slow")).spawn();
    wait_for_objects(&engine, engine.before());
    std::thread::sleep(Duration::from_millis(500));
    let sent = Instant::now();
    signal(&child, sig);
    let out = Run::from(child.wait_with_output().unwrap());
    assert_eq!(out.code, Some(code), "{out}");
    // The page's `sleep 30` is given up on at once, not waited for.
    assert!(
        sent.elapsed() < Duration::from_secs(15),
        "{:?}",
        sent.elapsed()
    );
    assert!(
        out.all()
            .contains("the pages that ran removed what they created"),
        "{out}"
    );
    engine.assert_left_as_found();
}

// Ctrl-C in the middle of a page stops the run promptly, and the page still removes what it created.
#[test]
fn ctrl_c_mid_page_cleans_up() {
    stopped_mid_page_cleans_up(nix::sys::signal::Signal::SIGINT, 130);
}

// SIGTERM (what `timeout` and CI runners send) mid-page used to kill the run and leave its container until
// `clean` ran: it cleans up like Ctrl-C and exits 143, as shells report SIGTERM.
#[test]
fn sigterm_mid_page_cleans_up() {
    stopped_mid_page_cleans_up(nix::sys::signal::Signal::SIGTERM, 143);
}

// SIGHUP (the terminal closed) mid-page cleans up like Ctrl-C and exits 129.
#[test]
fn sighup_mid_page_cleans_up() {
    stopped_mid_page_cleans_up(nix::sys::signal::Signal::SIGHUP, 129);
}

// A second signal while the first cleans up quits at once, with the first signal's exit code.
#[test]
fn second_signal_quits_at_once() {
    let engine = support::locked_engine();
    let child = test_book(fixture("slow")).spawn();
    wait_for_objects(&engine, engine.before());
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    // Apart, so the run sees them in this order, yet close: the second must land while the first still
    // cleans up. Regression: 300 ms apart, a page's cleanup on a quick engine was over before the second
    // signal came, and the run had nothing left to quit.
    std::thread::sleep(Duration::from_millis(50));
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let out = Run::from(child.wait_with_output().unwrap());
    assert_eq!(out.code, Some(143), "{out}");
    assert!(out.all().contains("quitting without cleanup"), "{out}");
    // Its terminals die with their pseudo-terminal; give the engine a moment to see the last of them.
    std::thread::sleep(Duration::from_millis(500));
    // What the run left is `clean`'s to remove.
    let cleaned = docktest(["clean"]).run();
    assert_eq!(cleaned.code, Some(0), "{cleaned}");
    engine.assert_left_as_found();
}

// Regression: SIGTERM during a block took the block's kind off its shared snapshot's `verified_on` (and
// wrote a pending snapshot of the cut transcript): the interrupted transcript was checked like a finished
// one. A stopped run leaves the snapshots as the blocks that ended left them.
#[test]
fn stopped_run_writes_no_snapshot_of_the_block_it_cut() {
    let engine = support::locked_engine();
    let book = support::fixture_copy("slow");
    // The copy's stand-in recipe names the guide's files from where the fixture is.
    let toml = book.path().join("book.toml");
    let nginx = support::manifest_dir().join("book/images/nginx");
    let text = std::fs::read_to_string(&toml)
        .unwrap()
        .replace("../../../book/images/nginx", &nginx.display().to_string());
    std::fs::write(&toml, text).unwrap();
    let child = test_book(book.path()).without_ci().spawn();
    wait_for_objects(&engine, engine.before());
    std::thread::sleep(Duration::from_millis(500));
    signal(&child, nix::sys::signal::Signal::SIGTERM);
    let out = Run::from(child.wait_with_output().unwrap());
    assert_eq!(out.code, Some(143), "{out}");
    engine.assert_left_as_found();
    let mut written: Vec<String> = std::fs::read_dir(book.path().join("snapshots"))
        .map(|dir| {
            dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    written.sort();
    assert_eq!(
        written,
        ["src-page__a-page-that-takes-its-time-1.snap.new"],
        "only the block that ended is offered for review: {out}"
    );
}

// A run killed outright cannot clean up; `clean` then removes exactly what it left, and says so.
#[test]
fn killed_run_is_cleaned_by_clean() {
    let engine = support::locked_engine();
    let mut child = test_book(fixture("slow")).spawn();
    wait_for_objects(&engine, engine.before());
    signal(&child, nix::sys::signal::Signal::SIGKILL);
    child.wait().unwrap();
    // Its terminals die with their pseudo-terminal; give the engine a moment to see the last of them.
    std::thread::sleep(Duration::from_millis(500));
    assert_ne!(
        &engine.inventory().unwrap(),
        engine.before(),
        "the killed run left its objects"
    );

    let out = docktest(["clean"]).run();
    let said = out.all();
    assert_eq!(out.code, Some(0), "{said}");
    assert!(said.contains("removed container dt-fixture-slow"), "{said}");
    assert!(said.contains("removed network dt-fixture-slow"), "{said}");
    assert!(said.contains("removed volume dt-fixture-slow"), "{said}");
    engine.assert_left_as_found();

    let again = docktest(["clean"]).run();
    assert!(again.all().contains("nothing to clean"), "{again}");
}

// A snapshot folder that cannot be written is found before anything runs.
#[test]
fn unwritable_snapshot_folder_is_an_error_up_front() {
    let out = test_book(fixture("unwritable"))
        .without_ci()
        .without_engine()
        .run();
    assert_eq!(out.code, Some(2), "{out}");
    let said = out.all();
    assert!(said.contains("error: cannot write snapshot"), "{said}");
    assert!(said.contains("hint: make"), "{said}");
}

/// A sealed engine of this test's own, so that restarting or killing it disturbs nobody. Its names follow
/// `DOCKTEST_ENGINE_PREFIX`, so that two checkouts testing side by side each restart their own.
pub(crate) struct PrivateEngine {
    names: Names,
    env: Vec<(&'static str, String)>,
    pub(crate) endpoint: Endpoint,
}

struct Names {
    kind: &'static str,
    netns: String,
    state: String,
    run: String,
}

impl Names {
    /// Docker 20.10's are `…-fault`, another kind's carry the kind (`…-fault-podman`).
    fn new(kind: &'static str) -> Names {
        let base = std::env::var("DOCKTEST_ENGINE_PREFIX").unwrap_or_else(|_| "docktest".into());
        let name = match kind {
            "docker-20.10" => format!("{base}-fault"),
            other => format!("{base}-fault-{other}"),
        };
        Names {
            kind,
            state: format!("/var/lib/{name}"),
            run: format!("/run/{name}"),
            netns: name,
        }
    }

    fn env(&self) -> [(&'static str, &str); 4] {
        [
            ("DOCKTEST_ENGINE_KIND", self.kind),
            ("DOCKTEST_NETNS_NAME", &self.netns),
            ("DOCKTEST_STATE", &self.state),
            ("DOCKTEST_RUN", &self.run),
        ]
    }

    /// Runs `scripts/NAME` for this engine, which must succeed.
    fn script(&self, name: &str) {
        let out = Command::new(support::manifest_dir().join("scripts").join(name))
            .envs(self.env())
            .output()
            .unwrap_or_else(|e| panic!("scripts/{name} does not run: {e}"));
        assert!(
            out.status.success(),
            "scripts/{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn host(&self) -> String {
        format!("unix://{}/docker.sock", self.run)
    }
}

impl PrivateEngine {
    pub(crate) fn start() -> PrivateEngine {
        PrivateEngine::start_of("docker-20.10")
    }

    /// An engine of `kind` (`podman`, `docker-26.1`) of this test's own.
    pub(crate) fn start_of(kind: &'static str) -> PrivateEngine {
        let names = Names::new(kind);
        Self::launch(&names);
        let host = names.host();
        let netns = format!("/var/run/netns/{}", names.netns);
        // It is this test's own engine: whatever an earlier, failed run of the test left goes.
        let docker = |args: &str| {
            Command::new("sh")
                .arg("-c")
                .arg(format!("docker {args}"))
                .env("DOCKER_HOST", &host)
                .output()
                .expect("docker CLI runs")
        };
        docker("ps -aq | xargs -r docker rm -f");
        docker("network prune -f");
        docker("volume prune -f");
        PrivateEngine {
            env: vec![
                ("DOCKER_HOST", host.clone()),
                ("DOCKTEST_NETNS", netns.clone()),
            ],
            endpoint: Endpoint {
                host,
                netns: Some(netns.into()),
            },
            names,
        }
    }

    /// Runs `scripts/engine-start` for this engine (idempotent).
    fn launch(names: &Names) {
        names.script("engine-start");
    }

    /// Runs `scripts/engine-stop` for this engine.
    fn stop(&self) {
        self.names.script("engine-stop");
    }

    /// Stops dockerd as `systemctl restart docker` does (its containers stop with it), and starts it again
    /// in the same namespace.
    fn restart(&self) {
        self.end(nix::sys::signal::Signal::SIGTERM);
        PrivateEngine::launch(&self.names);
    }

    /// Kills dockerd outright, as a crash or the OOM killer would, and leaves it dead.
    pub(crate) fn kill(&self) {
        self.end(nix::sys::signal::Signal::SIGKILL);
    }

    /// Sends dockerd `sig` and waits until it has gone.
    fn end(&self, sig: nix::sys::signal::Signal) {
        let pid: i32 = std::fs::read_to_string(format!("{}/dockerd.pid", self.names.run))
            .expect("the private engine's pid file")
            .trim()
            .parse()
            .unwrap();
        let pid = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(pid, sig).unwrap();
        while nix::sys::signal::kill(pid, None).is_ok() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for PrivateEngine {
    fn drop(&mut self) {
        let script = support::manifest_dir().join("scripts/engine-stop");
        let _ = Command::new(script).envs(self.names.env()).output();
    }
}

// The engine restarting under a page fails that page with a clear message; the next page runs; once the
// engine is back, nothing the page created is left.
#[test]
fn engine_restart_mid_page() {
    // The shared engine is not used, but starting, killing and restarting a second dockerd on this machine
    // would slow the timed runs of the tests that use it: this one runs alone too.
    let _engine_lock = support::lock_engine();
    let engine = PrivateEngine::start();
    let client = support::engine_at(engine.endpoint.clone());
    let before = client.inventory().unwrap();
    let child = test_book(fixture("restart"))
        .envs(engine.env.iter().map(|(k, v)| (k, v)))
        .spawn();
    // The first page has started its container when the inventory grows.
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.inventory().unwrap().containers.len() == before.containers.len() {
        assert!(
            Instant::now() < deadline,
            "the page never started its container"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    engine.restart();
    let out = Run::from(child.wait_with_output().unwrap());
    let said = out.all();
    assert_eq!(out.code, Some(1), "{said}");
    assert!(
        said.contains("the Docker engine stopped or restarted while this page ran"),
        "{said}"
    );
    assert!(said.contains("verified         src/next.md:3"), "{said}");
    let client = support::engine_at(engine.endpoint.clone());
    let after = client.inventory().unwrap();
    assert_eq!(after.containers, before.containers, "no container left");
    assert_eq!(after.volumes, before.volumes, "no volume left");
    // A restarted engine gives its predefined networks (bridge, host, none) new IDs: count them.
    assert_eq!(
        after.networks.len(),
        before.networks.len(),
        "no network left"
    );
}

// Starting Podman on the names of a running Docker engine ended that engine's containerd and took its socket:
// the script must refuse (exit 2) before touching anything, and the engine must keep answering.
#[test]
fn another_kind_on_a_running_engines_names_is_refused() {
    let engine = support::locked_engine();
    let socket = engine
        .endpoint()
        .host
        .strip_prefix("unix://")
        .expect("the sealed engine listens on a unix socket")
        .to_string();
    let run = std::path::Path::new(&socket).parent().unwrap();
    assert!(
        run.join("dockerd.pid").exists(),
        "this test needs a sealed engine started by scripts/engine-start, not {socket}"
    );
    let name = run.file_name().unwrap().to_string_lossy().into_owned();
    let out = Command::new(support::manifest_dir().join("scripts/engine-start"))
        .env("DOCKTEST_ENGINE_KIND", "podman")
        .env("DOCKTEST_NETNS_NAME", &name)
        .env("DOCKTEST_RUN", run)
        .env("DOCKTEST_STATE", format!("/var/lib/{name}"))
        .output()
        .expect("scripts/engine-start runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{name} already runs a docker-")) && stderr.contains("not podman"),
        "{stderr}"
    );
    assert!(Engine::connect(engine.endpoint().clone()).is_ok());
    engine.assert_left_as_found();
}

/// The conmons of the Podman engine whose run root is `run`, by their arguments (each names the engine's
/// storage run root for its exit command).
fn conmons_of(run: &str) -> Vec<i32> {
    let root = format!("{run}/podman/storage");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let mut args = cmdline.split(|&b| b == 0);
            let conmon = args.next().is_some_and(|a| a.ends_with(b"conmon"));
            (conmon && args.any(|a| a == root.as_bytes())).then_some(pid)
        })
        .collect()
}

// A `docker exec` on Podman leaves its conmon running for five minutes after the session (`--exit-delay
// 300`), to tell its exit code: `scripts/engine-stop` stopped the service and left them, each to run its exit
// command later against an engine that was gone.
#[test]
fn engine_stop_leaves_no_podman_conmon_behind() {
    let _engine_lock = support::lock_engine();
    let engine = PrivateEngine::start_of("podman");
    let run = test_book(fixture("podman-exec"))
        .envs(engine.env.iter().map(|(k, v)| (k, v)))
        .run();
    assert_eq!(run.code, Some(0), "{run}");
    assert!(run.stdout.contains("1 verified, 0 failed"), "{run}");
    // What the fix is for: the page's container is gone, its exec's conmon is not.
    assert!(
        !conmons_of(&engine.names.run).is_empty(),
        "the page's docker exec left no conmon to stop"
    );
    engine.stop();
    let left = conmons_of(&engine.names.run);
    assert!(left.is_empty(), "conmons left after engine-stop: {left:?}");
}
