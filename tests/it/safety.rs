//! The engine the project's scripts start gives containers no way off this machine. Proven by looking at
//! its network namespace, never by sending traffic anywhere.

use std::process::Command;

use crate::support::{self, docker, Endpoint};

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

// In its sealed namespace the engine has no uplink: no default route, no interface but its own, and nothing
// masquerades traffic towards an outside.
#[test]
fn sealed_engine_has_no_route_off_the_machine() {
    // No other test's networks, interfaces or rules come and go while the namespace is read.
    let _engine_lock = support::lock_engine();
    let endpoint = Endpoint::from_env();
    let netns = endpoint.netns.unwrap_or_else(|| {
        panic!(
            "the engine at {} is not sealed in a network namespace; start docktest's own engine with \
             `sudo scripts/engine-start` (it sets DOCKTEST_NETNS)",
            endpoint.host
        )
    });
    let ns = netns.to_str().expect("utf-8 path");

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

    let nat = run(Some(ns), &["iptables", "-t", "nat", "-S"]);
    assert!(
        !nat.contains("MASQUERADE"),
        "a masquerading rule in {ns}:\n{nat}"
    );
}

// The engine's own view agrees: it was started without IP masquerading.
#[test]
fn engine_runs_without_masquerading() {
    let _engine_lock = support::lock_engine();
    let masquerade = docker(&[
        "network",
        "inspect",
        "bridge",
        "-f",
        "{{index .Options \"com.docker.network.bridge.enable_ip_masquerade\"}}",
    ]);
    assert_eq!(masquerade, "false");
}
