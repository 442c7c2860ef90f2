//! Bad input and unusable engines: one clear message saying what, where and how to fix it, exit status 2,
//! and nothing left in the engine.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;

use crate::support::{self, fixture, test_book, Run};

/// The one `error:` line, checked to be alone (a `hint:` line may follow).
fn error_line(run: &Run) -> String {
    assert_eq!(run.code, Some(2), "{run}");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    errors[0].to_string()
}

// A fence left open would swallow the rest of the page: the error points at its opening line.
#[test]
fn unterminated_fence() {
    let err = error_line(&test_book(fixture("unterminated")).without_engine().run());
    assert_eq!(
        err,
        "error: src/page.md:3: code fence is never closed; close it with ``` on a line of its own"
    );
}

// Typing into a container needs a session: a block starting at a container prompt with none is an error.
#[test]
fn container_prompt_with_no_session() {
    let err = error_line(&test_book(fixture("orphan-prompt")).without_engine().run());
    assert!(
        err.starts_with("error: src/page.md:4: container prompt `/ # ` with no open session; open one with `docker run -it`"),
        "{err}"
    );
}

// A misspelled option is named, with the options that exist.
#[test]
fn bad_book_toml_option() {
    let err = error_line(&test_book(fixture("bad-option")).without_engine().run());
    assert!(err.contains("book.toml"), "{err}");
    assert!(err.contains("unknown field `snapshot`"), "{err}");
    assert!(err.contains("`snapshots`"), "{err}");
}

// An image that is neither in the engine, nor pullable, nor has a recipe stops the run before any page runs,
// naming the page line that uses it and the book.toml table that would fix it.
#[test]
fn image_with_no_recipe_that_cannot_be_pulled() {
    let engine = support::locked_engine();
    let err = error_line(&test_book(fixture("missing-image")).run());
    assert!(
        err.starts_with("error: src/page.md:5: image docktest-nowhere/busybox:1.0 is not in the engine, cannot be pulled, and has no recipe; add one as [preprocessor.docktest.images.\"docktest-nowhere/busybox:1.0\"] in book.toml"),
        "{err}"
    );
    // Nothing ran, nothing is left.
    engine.assert_left_as_found();
}

// An engine older than Docker 20.10 is refused up front, saying which API it speaks.
#[test]
fn engine_too_old() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("old-docker.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer_as_docker_17(stream));
        }
    });
    let host = format!("unix://{}", socket.display());
    let run = test_book(fixture("clean")).env("DOCKER_HOST", &host).run();
    let err = error_line(&run);
    assert_eq!(
        err,
        format!("error: the Docker engine at {host} speaks API 1.30; docktest needs 1.41 (Docker 20.10) or newer")
    );
    assert!(run.stderr.contains("hint: upgrade the engine"));
}

// A sealed engine whose namespace is gone stops the run before anything runs (its terminals would run in this
// machine's namespace), saying how to bring the namespace back.
#[test]
fn sealed_engine_without_its_namespace() {
    let dir = tempfile::tempdir().unwrap();
    let netns = "/var/run/netns/dt-gone-for-this-test";
    std::fs::write(dir.path().join(support::NETNS_MARKER), format!("{netns}\n")).unwrap();
    let host = format!("unix://{}", dir.path().join("docker.sock").display());
    let run = test_book(fixture("clean"))
        .env("DOCKER_HOST", &host)
        .env_remove("DOCKTEST_NETNS")
        .run();
    let err = error_line(&run);
    assert_eq!(
        err,
        format!(
            "error: the engine at {host} runs in network namespace {netns}, which does not exist"
        )
    );
    let hints: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("hint:"))
        .collect();
    assert_eq!(hints.len(), 1, "{run}");
    assert!(
        hints[0].starts_with("hint: restart the engine with `sudo scripts/engine-stop`, then `sudo scripts/engine-start`"),
        "{run}"
    );
    assert!(!run.stdout.contains("engine:"), "nothing ran: {run}");
}

/// Answers every request on the connection the way Docker 17.06 answers `GET /version`.
fn answer_as_docker_17(stream: std::os::unix::net::UnixStream) {
    let body = r#"{"Version":"17.06.0-ce","ApiVersion":"1.30","MinAPIVersion":"1.12"}"#;
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut line = String::new();
        // Request line and headers, up to the blank line; these requests carry no body.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => {}
            }
        }
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nApi-Version: 1.30\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

// The engines book.toml names are the ones a run uses, before the DOCKER_HOST of the shell that runs it.
#[test]
fn engines_named_in_book_toml_come_first() {
    let book = support::fixture_copy("clean");
    let toml = book.path().join("book.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    let text = text.replace(
        "[preprocessor.docktest]\n",
        "[preprocessor.docktest]\nengines = [\"unix:///nonexistent/book-engine.sock\"]\n",
    );
    assert!(text.contains("book-engine.sock"), "{text}");
    std::fs::write(&toml, text).unwrap();
    let err = error_line(&test_book(book.path()).run());
    assert!(
        err.starts_with(
            "error: cannot reach the Docker engine at unix:///nonexistent/book-engine.sock"
        ),
        "{err}"
    );
}

// A shard that does not exist is a usage error naming the rule, before any engine work.
#[test]
fn partition_out_of_range() {
    let err = error_line(
        &test_book(fixture("partition"))
            .args(["--partition", "3/2"])
            .without_engine()
            .run(),
    );
    assert_eq!(
        err,
        "error: invalid value '3/2' for '--partition <K/N>': there is no shard 3 of 2: K/N needs 1 <= K <= N"
    );
}
