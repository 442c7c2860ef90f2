//! Guides written the way Docker's own documentation writes them, not for docktest: blank lines around
//! output, a session opened in one block and used in the next, a detach told in prose, bare commands in
//! `sh` blocks, tables and a whole `network inspect` as an older engine printed them, a wget progress bar
//! from a wider terminal. Each runs as written, with docktest's annotations only.

use crate::support::{self, fixture, fixture_copy, test_book};

// The fixture in Docker's docs style verifies against the engine and its recorded snapshots.
#[test]
fn docker_docs_style_tutorial_verifies() {
    let engine = support::locked_engine();
    let run = test_book(fixture("docker-docs")).run();
    let out = run.all();
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("17 verified, 0 failed"), "{out}");
    engine.assert_left_as_found();
}

// The rules that let such a guide run still catch a stale example: a wrong line after a blank line, a
// wrong line inside a session opened two blocks above, a wrong cell of an old engine's table, a wrong
// value in the part of `network inspect` the page shows.
#[test]
fn docker_docs_style_tutorial_still_fails_on_a_wrong_line() {
    let engine = support::locked_engine();
    let book = fixture_copy("docker-docs");
    // The copy sits elsewhere: its stand-in's files are the guide's, named from here.
    let toml = book.path().join("book.toml");
    let nginx = support::manifest_dir().join("book/images/nginx");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replace("../../../book/images/nginx", nginx.to_str().unwrap());
    std::fs::write(&toml, text).unwrap();
    let page = book.path().join("src/default-bridge.md");
    let text = std::fs::read_to_string(&page).unwrap();
    let text = text
        .replace("alpine1: Up 3 seconds", "alpine9: Up 3 seconds")
        .replace("ping: bad address 'alpine2'", "ping: bad address 'alpine3'");
    std::fs::write(&page, text).unwrap();
    let inspect = book.path().join("src/inspect.md");
    let text = std::fs::read_to_string(&inspect).unwrap();
    let text = text
        .replace(
            "4e8d2c1a7b90        host                host",
            "4e8d2c1a7b90        hosts               host",
        )
        .replace(
            "\"com.docker.network.bridge.enable_icc\": \"true\"",
            "\"com.docker.network.bridge.enable_icc\": \"false\"",
        );
    std::fs::write(&inspect, text).unwrap();
    let run = test_book(book.path()).run();
    let out = run.all();
    assert_eq!(run.code, Some(1), "{out}");
    assert!(out.contains("-alpine9: Up 3 seconds"), "{out}");
    assert!(
        out.contains("src/default-bridge.md:67: # ping -c 2 alpine2"),
        "{out}"
    );
    assert!(out.contains("-ping: bad address 'alpine3'"), "{out}");
    assert!(
        out.contains("src/inspect.md:16: $ docker network ls"),
        "{out}"
    );
    assert!(out.contains("hosts"), "{out}");
    assert!(
        out.contains("src/inspect.md:38: $ docker network inspect bridge"),
        "{out}"
    );
    assert!(out.contains("\"false\""), "{out}");
    assert!(out.contains("13 verified, 4 failed"), "{out}");
    engine.assert_left_as_found();
}
