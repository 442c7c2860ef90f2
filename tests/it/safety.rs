//! The engine the project's scripts start gives containers no way off this machine, proven by looking at
//! its network namespace, never by sending traffic anywhere; inside, it looks stock, names fail at once,
//! and the page's terminals share its namespace.

use std::os::unix::fs::MetadataExt;
use std::process::Command;

use crate::support::{self, docker, fixture, test_book, NETNS_MARKER};

fn run(netns: Option<&str>, args: &[&str]) -> String {
    let out = match netns {
        Some(ns) => Command::new("nsenter")
            .arg(format!("--net={ns}"))
            .arg("--")
            .args(args)
            .output(),
        None => Command::new(args[0]).args(&args[1..]).output(),
    }
    .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Interfaces an engine's namespace may hold: its loopback, the engine's bridges and their veths.
fn engine_owned(name: &str) -> bool {
    name == "lo" || name == "docker0" || name.starts_with("br-") || name.starts_with("veth")
}

// In its sealed namespace the engine has no uplink: no default route and no interface but its own. That
// alone keeps every packet on this machine, so the engine may masquerade and forward as a stock engine does:
// there is no interface for a packet to leave by.
#[test]
fn sealed_engine_has_no_route_off_the_machine() {
    // No other test's networks, interfaces or rules come and go while the namespace is read.
    let _engine_lock = support::lock_engine();
    let ns = sealed_netns();
    let ns = ns.as_str();

    let routes = run(Some(ns), &["ip", "-o", "route", "show", "table", "all"]);
    let default: Vec<&str> = routes
        .lines()
        .filter(|l| l.starts_with("default"))
        .collect();
    assert!(default.is_empty(), "default routes in {ns}: {default:?}");
    let routes6 = run(Some(ns), &["ip", "-6", "-o", "route", "show"]);
    assert!(
        !routes6.lines().any(|l| l.starts_with("default")),
        "IPv6 default route in {ns}: {routes6}"
    );

    let links = run(Some(ns), &["ip", "-o", "link", "show"]);
    let foreign: Vec<String> = links
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| !engine_owned(n))
        .collect();
    assert!(
        foreign.is_empty(),
        "interfaces not owned by the engine in {ns}: {foreign:?}"
    );
}

// The name server the engine hands containers is a local address of the namespace itself, so a lookup never
// needs a route: unknown names fail at once, and no query leaves the machine.
#[test]
fn containers_name_server_lives_in_the_namespace() {
    let _engine_lock = support::lock_engine();
    let ns = sealed_netns();
    let resolv = engine_resolv_conf(&ns);
    let servers: Vec<&str> = resolv
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver"))
        .map(str::trim)
        .collect();
    assert!(
        !servers.is_empty(),
        "no name server in the engine's resolv.conf:\n{resolv}"
    );
    for server in servers {
        let route = run(Some(&ns), &["ip", "-o", "route", "get", server]);
        assert!(
            route.starts_with(&format!("local {server} ")),
            "name server {server} is not delivered inside {ns}: {route}"
        );
    }
}

// Readers see what a stock engine shows: the default bridge named docker0, masquerading and inter-container
// traffic on, and its gateway recorded (a fresh data root records it only from the engine's second start).
#[test]
fn engine_shows_a_stock_default_bridge() {
    let _engine_lock = support::lock_engine();
    let option = |key: &str| {
        docker(&[
            "network",
            "inspect",
            "bridge",
            "-f",
            &format!("{{{{index .Options \"com.docker.network.bridge.{key}\"}}}}"),
        ])
    };
    assert_eq!(option("enable_ip_masquerade"), "true");
    assert_eq!(option("enable_icc"), "true");
    assert_eq!(option("name"), "docker0");
    let gateway = docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
    ]);
    assert_eq!(gateway, "172.17.0.1");
}

// With DOCKER_HOST naming a sealed engine and no DOCKTEST_NETNS, the terminals ran in this machine's own
// namespace: the book's `curl http://172.17.0.1:8080` went out towards the machine's real network. The
// fixture page reaches a port published on 127.0.0.1, which answers only inside the engine's namespace.
#[test]
fn terminals_join_a_sealed_engine_found_through_its_socket() {
    let engine = support::locked_engine();
    let host = support::endpoint().host;
    let socket = host.strip_prefix("unix://").expect("a unix socket");
    assert!(
        std::path::Path::new(socket)
            .with_file_name(NETNS_MARKER)
            .exists(),
        "the engine at {host} has no {NETNS_MARKER} next to its socket; (re)start it with this project's \
         `sudo scripts/engine-start`"
    );
    let run = test_book(fixture("sealed"))
        .args(["--filter", "terminals"])
        .env("DOCKER_HOST", &host)
        .env_remove("DOCKTEST_NETNS")
        .run();
    assert!(run.success(), "{run}");
    assert!(
        run.stdout.contains("sealed in network namespace"),
        "{}",
        run.stdout
    );
    engine.assert_left_as_found();
}

// Unknown names took 5 s each to fail in containers (the machine's name server is out of the namespace's
// reach, 10 s on a user-defined network): the fixture's blocks allow 4 s per command, on the default bridge
// and on a user-defined network.
#[test]
fn unknown_names_fail_at_once() {
    let engine = support::locked_engine();
    let run = test_book(fixture("sealed"))
        .args(["--filter", "names"])
        .run();
    assert!(run.success(), "{run}");
    engine.assert_left_as_found();
}

/// The network namespace of the engine of `DOCKER_HOST`; fails the test when it has none.
#[track_caller]
fn sealed_netns() -> String {
    let endpoint = support::endpoint();
    let netns = endpoint.netns.unwrap_or_else(|| {
        panic!(
            "the engine at {} is not sealed in a network namespace; start docktest's own engine with \
             `sudo scripts/engine-start`",
            endpoint.host
        )
    });
    netns.to_str().expect("utf-8 path").to_string()
}

/// /etc/resolv.conf as the engine's dockerd sees it (in its own mount namespace), found among the
/// processes of network namespace `ns`.
fn engine_resolv_conf(ns: &str) -> String {
    let target = std::fs::metadata(ns).expect("the namespace's file").ino();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let proc = entry.path();
        let in_ns = std::fs::metadata(proc.join("ns/net")).is_ok_and(|m| m.ino() == target);
        let comm = std::fs::read_to_string(proc.join("comm")).unwrap_or_default();
        if in_ns && comm.trim() == "dockerd" {
            return std::fs::read_to_string(proc.join("root/etc/resolv.conf"))
                .expect("the engine's resolv.conf");
        }
    }
    panic!("no dockerd runs in {ns}");
}
