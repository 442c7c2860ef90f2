//! The chapter's picture of its network: taken by the runner, kept in the page's topology snapshot, drawn by
//! the preprocessor, looked at in headless Chromium.

use std::path::Path;
use std::process::Command;

use crate::support::{self, browser, docktest, fixture_copy, test_book, BIN};

// Issue 15: a page that creates a network with two aliased containers and a published port records them in
// its topology snapshot (redacted as its transcripts are), and the built chapter shows them in a picture
// at the author's directive, which a browser decodes; its screenshot is kept as a test artifact.
#[test]
fn a_network_with_two_aliased_containers_is_recorded_and_drawn() {
    let engine = support::locked_engine();
    let book = fixture_copy("topology");
    let first = test_book(book.path()).without_ci().run();
    let out = first.all();
    assert_eq!(first.code, Some(1), "new snapshots are pending\n{out}");
    assert!(
        book.path()
            .join("snapshots/src-page.topology.snap.new")
            .is_file(),
        "{out}"
    );
    let accept = docktest(["accept".as_ref(), book.path().as_os_str()]).run();
    assert!(accept.success(), "{}", accept.all());
    let again = test_book(book.path()).run();
    assert_eq!(again.code, Some(0), "{}", again.all());
    engine.assert_left_as_found();

    let snap =
        std::fs::read_to_string(book.path().join("snapshots/src-page.topology.snap")).unwrap();
    let body = snap.rsplit("\n---\n").next().unwrap();
    for line in [
        "after src-page__a-network-with-two-aliased-containers-1",
        "network topo-net bridge [IP",
        "container topo-web",
        "  port 127.0.0.1:18080->80/tcp",
        "container topo-db",
    ] {
        assert!(body.contains(line), "{line}\n{body}");
    }
    assert!(
        body.contains(" alias=www\n") && body.contains(" alias=database\n"),
        "{body}"
    );
    assert!(!body.contains("172."), "addresses are redacted\n{body}");
    assert!(
        snap.contains("raw: \"after "),
        "the real values are kept for readers\n{snap}"
    );

    let dest = tempfile::tempdir().unwrap();
    let built = Command::new("mdbook")
        .arg("build")
        .arg(book.path())
        .arg("-d")
        .arg(dest.path())
        .env("MDBOOK_PREPROCESSOR__DOCKTEST__COMMAND", BIN)
        .output()
        .expect("mdbook on PATH (scripts/test installs it)");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let html_path = dest.path().join("page.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(html.matches("class=\"dt-topology\"").count(), 1, "{html}");
    let at = html.find("class=\"dt-topology\"").unwrap();
    assert!(
        html.find("The picture goes here").unwrap() < at && at < html.find("nslookup").unwrap(),
        "the picture stands where the directive is"
    );
    for text in [
        "%3Etopo-web%3C",
        "%3Etopo-db%3C",
        "aka www",
        "aka database",
        "127.0.0.1:18080→80/tcp",
    ] {
        assert!(html.contains(text), "{text}");
    }

    let mut page = browser::Browser::launch();
    page.open(&html_path);
    let seen = page.eval(
        "new Promise(ok => { const pic = document.querySelector('.dt-topology svg[role=img]'); \
         const img = new Image(); \
         const done = () => ok([img.naturalWidth, pic.getBoundingClientRect().height, pic.getAttribute('aria-label')]); \
         img.onload = done; img.onerror = done; \
         img.src = pic.querySelector('image').getAttribute('href'); })",
    );
    let width = seen[0].as_f64().unwrap();
    // An image that does not decode has no natural width; this one has the width its SVG states.
    let stated: f64 = html[at..]
        .split("width=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(width, stated, "the SVG decodes: {seen}");
    assert!(seen[1].as_f64().unwrap() > 100.0, "{seen}");
    let alt = seen[2].as_str().unwrap();
    assert!(
        alt.contains("topo-web at ") && alt.contains("aliases database"),
        "{alt}"
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-artifacts");
    std::fs::create_dir_all(&shots).unwrap();
    page.eval("document.querySelector('.dt-topology').scrollIntoView()");
    let shot = shots.join("topology.png");
    page.screenshot(&shot);
    assert!(shot.is_file());
    eprintln!("screenshot: {}", shot.display());
}

// through-the-host's topology snapshot differed from run to run: the network after a client's block was
// taken while the server it had ended was still going. The fixture's server ends a second after its client's
// block; the network after that block is taken once it has ended, so it shows nothing left.
#[test]
fn the_network_after_a_block_waits_for_the_server_it_ended() {
    let engine = support::locked_engine();
    let run = test_book(support::fixture("topology-server")).run();
    assert_eq!(run.code, Some(0), "{}", run.all());
    assert!(run.stdout.contains("3 verified, 0 failed"), "{}", run.all());
    engine.assert_left_as_found();
}
