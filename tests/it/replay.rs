//! `mdbook build` with docktest's preprocessor, as a docs author runs it, on fixture books with recorded
//! snapshots (no engine needed), plus the guide itself once its snapshots exist.
//!
//! mdBook 0.5.4 must be on PATH (`scripts/test` installs it), and Debian's `chromium` for the badge test.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use serde_json::{json, Value};

use crate::support::{self, browser, docktest, fixture_copy, Book, Page, Run, BIN};

/// `mdbook build BOOK -d DEST` with docktest's preprocessor being the binary under test, DEST a new
/// temporary folder.
fn mdbook_build(book: &Path, env: &[(&str, &str)]) -> (Run, TempDir) {
    let dest = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("mdbook");
    cmd.arg("build")
        .arg(book)
        .arg("-d")
        .arg(dest.path())
        .env("MDBOOK_PREPROCESSOR__DOCKTEST__COMMAND", BIN)
        // Each build replays afresh, and the user's cache folder is left alone, unless a test asks.
        .env("DOCKTEST_REPLAY_CACHE", "off");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap_or_else(|e| {
        panic!(
            "cannot run `mdbook` ({e}); install mdBook 0.5.4 with `cargo install mdbook --version 0.5.4 --locked` \
             (scripts/test does)"
        )
    });
    (out.into(), dest)
}

/// Replaces `from` by `to` in the file at `path` inside a copied book.
fn edit(book: &TempDir, path: &str, from: &str, to: &str) {
    let file = book.path().join(path);
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace(from, to)).unwrap();
}

/// The `<main>` of a rendered chapter.
fn main_of(html: &str) -> &str {
    let start = html.find("<main>").expect("<main>");
    let end = html.find("</main>").expect("</main>");
    &html[start..end]
}

/// The text of every `<pre><code>` of a chapter's main part.
fn code_blocks(main: &str) -> Vec<&str> {
    main.split("<pre")
        .skip(1)
        .filter_map(|rest| rest.split_once("><code").map(|(_, code)| code))
        .map(|rest| &rest[..rest.find("</code></pre>").expect("closed code block")])
        .collect()
}

/// Checks a built chapter: a badge under every published runnable block, and nothing of docktest's
/// grammar left (attributes, `?` lines).
fn assert_published(html: &str, page: &Page, place: &str) {
    let main = main_of(html);
    let published = page
        .blocks
        .iter()
        .filter(|b| !b.attrs.hidden && !b.attrs.teardown)
        .count();
    assert_eq!(
        main.matches("<div class=\"docktest-badge ").count(),
        published,
        "{place}: one badge per published runnable block\n{main}"
    );
    assert_eq!(
        main.matches("docktest-badge docktest-unverified").count(),
        0,
        "{place}: every block verified\n{main}"
    );
    for code in code_blocks(main) {
        let (class, body) = code.split_once('>').expect("code tag");
        for attr in [
            "hidden", "teardown", "ignore", "term=", "timeout=", "retry=", "id=",
        ] {
            assert!(
                !class.contains(attr),
                "{place}: attribute `{attr}` left in {class}"
            );
        }
        for line in body.lines() {
            assert!(
                !(line.trim_end() == "?" || line.starts_with("? ")),
                "{place}: `?` line left: {line}\n{body}"
            );
        }
    }
}

// The acceptance check on a fixture: the book builds, every runnable block carries a badge, hidden blocks,
// attributes and `?` lines are gone, wildcards show the real output and ignored blocks their reason.
#[test]
fn fixture_book_publishes_only_verified_blocks() {
    let book = fixture_copy("replay");
    let (out, dest) = mdbook_build(book.path(), &[]);
    assert!(out.success(), "{out}");

    let parsed = Book::load(book.path()).unwrap();
    for page in &parsed.pages {
        let html_path = dest
            .path()
            .join(page.path.strip_prefix("src").unwrap())
            .with_extension("html");
        let html = std::fs::read_to_string(&html_path).unwrap();
        assert_published(&html, page, &page.path.display().to_string());
    }
    let basics = std::fs::read_to_string(dest.path().join("basics.html")).unwrap();
    let main = main_of(&basics);
    assert!(!main.contains("export GREETING"), "hidden block shown");
    assert!(!main.contains("unset GREETING"), "teardown block shown");
    // `...` became the lines that really ran, `[..]` the real text.
    assert!(
        main.contains("alpha\nbeta\ngamma\ndelta\n"),
        "real output: {main}"
    );
    assert!(
        !main.contains("Linux [..]") && main.contains("which runs Linux "),
        "{main}"
    );
    assert!(main.contains("Not run: needs a registry"), "{main}");
    assert!(main.contains(" data-text=\"Verified on Docker "), "{main}");
}

// A stale example must break the build where the author looks: the file and line of the edited command,
// and the command that fixes it. Also after an {{#include}} shifted the chapter's lines.
#[test]
fn edited_command_fails_the_build_with_file_and_line() {
    let book = fixture_copy("replay");
    edit(&book, "src/basics.md", "$ ls /nonexistent", "$ ls /missing");
    edit(&book, "src/nested/containers.md", "> $ seq 3", "> $ seq 4");

    let (out, dest) = mdbook_build(book.path(), &[]);
    let stderr = &out.stderr;
    assert!(!out.success(), "{out}");
    assert!(
        stderr.contains("error: src/basics.md:22: stale: the commands changed since snapshot "),
        "{stderr}"
    );
    assert!(
        stderr.contains("error: src/nested/containers.md:14: stale: the commands changed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: verify them with `mdbook-docktest test "),
        "{stderr}"
    );
    assert!(!dest.path().join("basics.html").exists());
}

// A rebuild takes unchanged chapters from the replay cache and publishes the same book; a snapshot changed
// since then is judged again at once, so a stale block still fails the build.
#[test]
fn rebuild_from_the_cache_sees_a_changed_snapshot() {
    let book = fixture_copy("replay");
    let cache = tempfile::tempdir().unwrap();
    let env = [("DOCKTEST_REPLAY_CACHE", cache.path().to_str().unwrap())];
    let (first, first_dest) = mdbook_build(book.path(), &env);
    assert!(first.success(), "{first}");
    let entries = std::fs::read_dir(cache.path()).unwrap().count();
    assert!(entries > 0, "the first build cached nothing");
    let (second, second_dest) = mdbook_build(book.path(), &env);
    assert!(second.success(), "{second}");
    let page = |dest: &TempDir| std::fs::read_to_string(dest.path().join("basics.html")).unwrap();
    assert_eq!(page(&first_dest), page(&second_dest));

    edit(
        &book,
        "snapshots/src-basics__wildcards.snap",
        "delta",
        "epsilon",
    );
    let (third, _dest) = mdbook_build(book.path(), &env);
    assert!(!third.success(), "{third}");
    assert!(
        third.stderr.contains("src/basics.md:12: stale: "),
        "{third}"
    );
}

// A changed expected output (the command unchanged) is stale too, named at the command's line.
#[test]
fn edited_output_fails_the_build_at_the_command() {
    let book = fixture_copy("replay");
    edit(&book, "src/basics.md", "\ndelta\n", "\nepsilon\n");
    let (out, _dest) = mdbook_build(book.path(), &[]);
    let stderr = &out.stderr;
    assert!(!out.success(), "{stderr}");
    assert!(
        stderr.contains("error: src/basics.md:12: stale: the output no longer matches snapshot "),
        "{stderr}"
    );
    assert!(stderr.contains("-epsilon"), "{stderr}");
}

// `on-unverified = "warn"` publishes the book, the stale block marked "not verified", with a warning.
#[test]
fn warn_mode_publishes_stale_blocks_marked() {
    let book = fixture_copy("replay");
    edit(&book, "src/basics.md", "$ ls /nonexistent", "$ ls /missing");
    let (out, dest) = mdbook_build(
        book.path(),
        &[("MDBOOK_PREPROCESSOR__DOCKTEST__ON_UNVERIFIED", "warn")],
    );
    let stderr = &out.stderr;
    assert!(out.success(), "{out}");
    assert!(
        stderr.contains("warning: src/basics.md:22: stale: the commands changed"),
        "{stderr}"
    );
    let html = std::fs::read_to_string(dest.path().join("basics.html")).unwrap();
    assert!(
        html.contains("Not verified: its commands changed since the last run"),
        "{html}"
    );
    assert_eq!(html.matches("docktest-badge docktest-verified").count(), 1);
}

// A typo or a wrong type in book.toml is an error naming the option, not a silent default.
#[test]
fn bad_option_fails_naming_it() {
    for (line, option) in [
        ("real-output = \"yes\"", "real-output"),
        ("on-unverifed = \"warn\"", "on-unverifed"),
    ] {
        let book = fixture_copy("replay");
        edit(
            &book,
            "book.toml",
            "[preprocessor.docktest]\n",
            &format!("[preprocessor.docktest]\n{line}\n"),
        );
        let (out, _dest) = mdbook_build(book.path(), &[]);
        let stderr = &out.stderr;
        assert!(!out.success(), "{stderr}");
        assert!(stderr.contains(&format!("`{option}`")), "{stderr}");
    }
}

// mdBook asks before running a preprocessor; docktest processes every renderer (others get text badges).
#[test]
fn supports_every_renderer() {
    for renderer in ["html", "markdown"] {
        let out = docktest(["supports", renderer]).run();
        assert_eq!(out.code, Some(0), "{renderer}");
    }
}

// mdBook writes its JSON to the preprocessor in thousands of small unbuffered writes: a book arriving in
// pieces, with pauses between them and larger than a pipe holds, comes back whole.
#[test]
fn a_book_piped_in_small_writes_larger_than_the_pipe_comes_back_whole() {
    use mdbook_preprocessor::book::{Book as MdBook, BookItem, Chapter};
    use mdbook_preprocessor::config::Config as MdConfig;
    use mdbook_preprocessor::PreprocessorContext;
    use std::io::Write;
    use std::str::FromStr;

    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("book.toml"), "[preprocessor.docktest]\n").unwrap();
    // Prose only, 2 MB: twice the pipe, so the reader must take some before the writer is done.
    let content = "A line of prose with \"quotes\" that JSON escapes.\n".repeat(40_000);
    let book = MdBook::new_with_items(vec![BookItem::Chapter(Chapter::new(
        "Prose",
        content.clone(),
        "prose.md",
        Vec::new(),
    ))]);
    let config = MdConfig::from_str("[preprocessor.docktest]\n").unwrap();
    let ctx = PreprocessorContext::new(root.path().to_path_buf(), config, "html".to_string());
    let input = serde_json::to_vec(&(ctx, book)).unwrap();

    let mut child = std::process::Command::new(BIN)
        .current_dir(root.path())
        .env("DOCKTEST_REPLAY_CACHE", "off")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for (i, piece) in input.chunks(4096).enumerate() {
            stdin.write_all(piece).unwrap();
            if i % 64 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(3));
            }
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let book: MdBook = serde_json::from_slice(&out.stdout).expect("a book on stdout");
    let BookItem::Chapter(chapter) = &book.items[0] else {
        panic!("the chapter is gone: {:?}", book.items);
    };
    assert_eq!(chapter.content, content);
}

// The guide itself: once its snapshots are recorded (`mdbook-docktest test book`), `mdbook build book`
// publishes every chapter with a badge on every runnable block and none of docktest's grammar left.
#[test]
fn the_guide_builds_with_a_badge_on_every_block() {
    let root = support::manifest_dir().join("book");
    let (out, dest) = mdbook_build(&root, &[]);
    assert!(
        out.success(),
        "mdbook build book failed (are the guide's snapshots recorded?)\n{out}"
    );
    let book = Book::load(&root).unwrap();
    let mut badges = 0;
    for page in &book.pages {
        let html_path = dest
            .path()
            .join(page.path.strip_prefix("src").unwrap())
            .with_extension("html");
        let html = std::fs::read_to_string(&html_path).unwrap();
        assert_published(&html, page, &page.path.display().to_string());
        badges += main_of(&html)
            .matches("docktest-badge docktest-verified")
            .count();
    }
    assert!(badges >= 12, "the guide shows at least 12 verified blocks");
    // The same sentence under every example is no search result (its words are the badge's data-text); the
    // authors' chapter quoting one still is.
    let index = std::fs::read_dir(dest.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("searchindex"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .expect("a search index");
    let badge = regex::Regex::new(r"Verified on Docker [^,]*, \d{4}-\d{2}-\d{2}").unwrap();
    let quoted: usize = book
        .pages
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(root.join(&p.path)).unwrap();
            badge.find_iter(&text).count()
        })
        .sum();
    assert!(
        badge.find_iter(&index).count() <= quoted,
        "the badges' text is indexed"
    );
}

// Issue 15: every chapter whose run created networks or containers shows a picture of them, with the names
// of its run, and the picture's text stays out of mdBook's search index.
#[test]
fn every_chapter_that_builds_a_network_shows_its_picture() {
    let root = support::manifest_dir().join("book");
    let (out, dest) = mdbook_build(&root, &[]);
    assert!(out.success(), "{out}");
    let book = Book::load(&root).unwrap();
    let snapshots = support::manifest_dir().join("snapshots");
    let mut pictures = 0;
    for page in &book.pages {
        let Some(sections) = mdbook_docktest::snapshot::topology::read(&snapshots, page).unwrap()
        else {
            continue;
        };
        if sections.iter().all(|s| s.topology.is_empty()) {
            continue;
        }
        let html_path = dest
            .path()
            .join(page.path.strip_prefix("src").unwrap())
            .with_extension("html");
        let html = std::fs::read_to_string(&html_path).unwrap();
        let main = main_of(&html);
        assert!(
            main.contains("class=\"dt-topology\""),
            "{}",
            page.path.display()
        );
        let last = sections
            .iter()
            .rev()
            .find(|s| !s.topology.is_empty())
            .unwrap();
        for c in &last.topology.containers {
            assert!(
                main.contains(&format!("%3E{}%3C", c.name)),
                "{}: {}",
                page.path.display(),
                c.name
            );
        }
        pictures += 1;
    }
    assert!(pictures >= 10, "{pictures} chapters with a picture");
    let index = std::fs::read_dir(dest.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("searchindex"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .unwrap_or_default();
    assert!(
        !index.contains("aka nginx"),
        "the picture's text is not indexed"
    );
}

/// Runs headless Chromium (Debian's `chromium`) with the flags that keep it off the network.
fn chromium(args: &[&str], profile: &Path) -> Run {
    Command::new("chromium")
        .args(browser::FLAGS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `chromium` ({e}); install Debian's package: `apt-get install chromium`"
            )
        })
        .into()
}

/// The WCAG contrast ratio of two CSS colors, `contrast(a, b)`, and `rgb(c)`, their numbers, for the
/// measuring scripts (where they say `/* contrast */`).
const CONTRAST: &str = r#"
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const [r, g, b] = rgb(c).slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const contrast = (a, b) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
"#;

/// Measures every badge in every mdBook theme, in the browser: size, display, visibility, opacity, and the
/// contrast of its text against the background it sits on. One line per badge and theme, in a `<pre>`.
const MEASURE: &str = r#"<script>
(function () {
  const html = document.documentElement;
  const themes = ["light", "rust", "coal", "navy", "ayu"];
  /* contrast */
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      const v = rgb(c);
      if (v.length === 3 || (v.length === 4 && v[3] > 0)) return c;
    }
    return "rgb(255, 255, 255)";
  };
  const lines = [];
  for (const theme of themes) {
    themes.forEach((t) => html.classList.remove(t));
    html.classList.add(theme);
    document.querySelectorAll(".docktest-badge").forEach((b, i) => {
      const r = b.getBoundingClientRect();
      const s = getComputedStyle(b);
      const ratio = contrast(s.color, background(b));
      /* The words the sheet draws from data-text (a screen reader's are checked in the accessibility tree). */
      const after = getComputedStyle(b, "::after").content;
      const spoken = (after.startsWith('"') ? JSON.parse(after) : after).trim();
      lines.push([theme, i, Math.round(r.width), Math.round(r.height), Math.round(r.right),
        window.innerWidth, s.display, s.visibility, s.opacity, ratio.toFixed(2), spoken].join("|"));
    });
  }
  themes.forEach((t) => html.classList.remove(t));
  html.classList.add("light");
  const pre = document.createElement("pre");
  pre.id = "docktest-measure";
  pre.textContent = "\n" + lines.join("\n") + "\n";
  document.body.appendChild(pre);
})();
</script></body>"#;

// Readers must see the badge: rendered by a real browser, in every theme, it has a size, is displayed,
// visible and opaque, fits the page, its text contrasts with its background (WCAG AA, 4.5:1), and a screen
// reader reads it as plain words, with nothing but [preprocessor.docktest] in book.toml. The screenshot is
// kept for a human to look at.
#[test]
fn badge_is_visible_in_headless_chromium() {
    let book = fixture_copy("replay");
    let (out, dest) = mdbook_build(book.path(), &[]);
    assert!(out.success(), "{}", out.stderr);

    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let page = dest.path().join("basics.html");
    let shot: PathBuf = artifacts.join("badge.png");
    let _ = std::fs::remove_file(&shot);
    let out = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            &format!("file://{}", page.display()),
        ],
        profile.path(),
    );
    assert!(shot.is_file(), "no screenshot written\n{}", out.stderr);
    eprintln!("screenshot: {}", shot.display());

    let html = std::fs::read_to_string(&page).unwrap();
    let measured_page = dest.path().join("basics-measured.html");
    std::fs::write(
        &measured_page,
        html.replacen("</body>", &MEASURE.replace("/* contrast */", CONTRAST), 1),
    )
    .unwrap();
    let out = chromium(
        &[
            "--virtual-time-budget=3000",
            "--dump-dom",
            &format!("file://{}", measured_page.display()),
        ],
        profile.path(),
    );
    let dom = &out.stdout;
    let start = dom
        .find("<pre id=\"docktest-measure\">")
        .unwrap_or_else(|| panic!("the measuring script did not run\n{}", out.stderr));
    let report = &dom[start..];
    let report = &report[report.find('>').unwrap() + 1..report.find("</pre>").unwrap()];
    let rows: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split('|').collect())
        .collect();
    assert_eq!(rows.len(), 5 * 3, "3 badges in each of 5 themes:\n{report}");
    for row in &rows {
        let [theme, _, width, height, right, window, display, visibility, opacity, contrast, spoken] =
            row[..]
        else {
            panic!("bad row {row:?}");
        };
        let num = |s: &str| s.parse::<f64>().unwrap();
        let what = format!("{theme}: {row:?}");
        assert!(num(width) > 100.0 && num(height) > 10.0, "{what}");
        assert!(num(right) <= num(window), "{what}");
        assert_ne!(display, "none", "{what}");
        assert_eq!(visibility, "visible", "{what}");
        assert_eq!(num(opacity), 1.0, "{what}");
        assert!(num(contrast) >= 4.5, "contrast too low: {what}");
        assert!(
            spoken.starts_with("Verified on Docker ") || spoken == "Not run: needs a registry",
            "{what}"
        );
    }
}

/// The folder under `target/` where the browser tests leave their screenshots.
fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What the published session block of the `replay` fixture holds, line by line, as the page shows it.
const SESSION_TEXT: &str = "$ docker run -dit --name dt-fixture-copy alpine
$ docker attach dt-fixture-copy
/ #
/ # echo \"inside the container\"
inside the container
/ # ls /nonexistent
ls: /nonexistent: No such file or directory
/ # CTRL+p CTRL+q
$ printf '%s\\n' one \\
>   two
one
two
";

/// What a reader pastes into a shell from that block: its commands, in order, continuation lines kept,
/// the container's included; no prompt, output, bare prompt or detach keys.
const SESSION_COMMANDS: &str = "docker run -dit --name dt-fixture-copy alpine
docker attach dt-fixture-copy
echo \"inside the container\"
ls /nonexistent
printf '%s\\n' one \\
  two
";

/// Colors, selectability and the badge's frame of the session block in the current theme, measured by the
/// browser: the prompts' colors and contrast against the block, the commands' color, and whether each kind
/// of text can be selected.
const LOOK: &str = r#"(() => {
  const pre = document.querySelector("pre.docktest");
  const code = pre.querySelector("code");
  /* contrast */
  const bg = getComputedStyle(code).backgroundColor;
  const prompts = Array.from(pre.querySelectorAll(".dt-p")).map((p) => ({
    text: p.textContent, color: getComputedStyle(p).color,
    contrast: contrast(getComputedStyle(p).color, bg),
    select: getComputedStyle(p).userSelect,
  }));
  const outputs = Array.from(pre.querySelectorAll(".dt-o")).map((o) => getComputedStyle(o).userSelect);
  const badge = getComputedStyle(document.querySelector(".docktest-badge"));
  return {
    theme: document.documentElement.className,
    commandColor: getComputedStyle(code).color,
    commandSelect: getComputedStyle(code).userSelect,
    prompts, outputs,
    badge: { border: badge.borderBottomStyle, padding: badge.paddingLeft, display: badge.display },
  };
})()"#;

/// The center of the copy button mdBook puts on the session block, scrolled into view.
fn copy_button(page: &mut browser::Browser) -> (f64, f64) {
    let at = page.eval(
        r#"(() => {
          const b = document.querySelector("pre.docktest .clip-button");
          if (!b) return null;
          b.scrollIntoView({block: "center"});
          const r = b.getBoundingClientRect();
          return [r.x + r.width / 2, r.y + r.height / 2];
        })()"#,
    );
    assert!(at.is_array(), "mdBook put no copy button on the block");
    (at[0].as_f64().unwrap(), at[1].as_f64().unwrap())
}

// Readers copy what they run: in a real browser and in each of mdBook's five themes, clicking the copy
// button of a block with prompts, output and a container session puts exactly its commands on the
// clipboard; prompts (host and container) are highlighted, and neither they nor the output can be selected
// with the mouse while the commands can; the badge is styled though book.toml has no additional-css. With
// JavaScript off the block is the plain text it always was. The screenshot is kept under target/.
#[test]
fn copy_button_copies_the_commands_only() {
    let book = fixture_copy("replay");
    let toml = std::fs::read_to_string(book.path().join("book.toml")).unwrap();
    assert!(!toml.contains("additional-css"), "{toml}");
    let (out, dest) = mdbook_build(book.path(), &[]);
    assert!(out.success(), "{}", out.stderr);
    let page_file = dest.path().join("session.html");

    let mut page = browser::Browser::launch();
    page.open(&page_file);
    assert_eq!(
        page.eval("document.querySelectorAll('pre.docktest').length"),
        json!(1)
    );
    for theme in ["light", "rust", "coal", "navy", "ayu"] {
        page.eval(&format!(
            "document.getElementById('mdbook-theme-{theme}').click()"
        ));
        let look = page.eval(&LOOK.replace("/* contrast */", CONTRAST));
        let what = format!("{theme}: {look:#}");
        assert!(
            look["theme"]
                .as_str()
                .unwrap()
                .split(' ')
                .any(|c| c == theme),
            "{what}"
        );
        let prompts = look["prompts"].as_array().unwrap();
        // highlight.js may split a prompt (`$` and its space), so its pieces are read together.
        let texts: String = prompts
            .iter()
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        assert_eq!(texts, "$ $ / #/ # / # / # $ > ", "{what}");
        for prompt in prompts {
            assert_ne!(
                prompt["color"], look["commandColor"],
                "prompt not highlighted: {what}"
            );
            assert!(
                prompt["contrast"].as_f64().unwrap() >= 4.5,
                "prompt contrast too low: {what}"
            );
            assert_eq!(prompt["select"], "none", "{what}");
        }
        let outputs = look["outputs"].as_array().unwrap();
        assert!(
            !outputs.is_empty() && outputs.iter().all(|s| s == "none"),
            "{what}"
        );
        assert_ne!(look["commandSelect"], "none", "{what}");
        assert_eq!(look["badge"]["border"], "solid", "badge not styled: {what}");
        assert_ne!(look["badge"]["padding"], "0px", "badge not styled: {what}");
        assert_eq!(look["badge"]["display"], "flex", "badge not styled: {what}");

        // What a click on the copy button puts on the clipboard, replacing something else.
        page.eval(&format!(
            "navigator.clipboard.writeText('before the click in {theme}')"
        ));
        let (x, y) = copy_button(&mut page);
        page.click(x, y);
        let copied = page.eval("navigator.clipboard.readText()");
        assert_eq!(
            copied.as_str(),
            Some(SESSION_COMMANDS),
            "{theme}: clipboard"
        );
        // The block shows its prompts and output again right after.
        assert_eq!(
            page.eval("document.querySelector('.dt-copy') === null && document.querySelector('pre.docktest .dt-o').getClientRects().length > 0"),
            json!(true),
            "{theme}"
        );
    }
    page.eval("document.getElementById('mdbook-theme-light').click()");
    let (x, y) = copy_button(&mut page);
    page.click(x, y);
    let shot = artifacts().join("copy-button.png");
    page.screenshot(&shot);
    eprintln!("screenshot: {}", shot.display());

    // A screen reader reads the badge's words (drawn by the stylesheet, out of the search index) as text
    // of its note, and not its mark.
    page.call("Accessibility.enable", json!({}));
    let tree = page.call("Accessibility.getFullAXTree", json!({}));
    let names: Vec<&str> = tree["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["role"]["value"] == "StaticText")
        .filter_map(|n| n["name"]["value"].as_str())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("Verified on Docker ")),
        "badge words not in the accessibility tree: {names:?}"
    );
    assert!(
        !names.iter().any(|n| n.contains('\u{2713}')),
        "the badge's mark is read: {names:?}"
    );

    // A reader's mouse drag over the whole block selects the commands and nothing else.
    let area = page.eval(
        r#"(() => {
          getSelection().removeAllRanges();
          const r = document.querySelector("pre.docktest code").getBoundingClientRect();
          return [r.left + 2, r.top + 2, r.right - 2, r.bottom - 2];
        })()"#,
    );
    let n = |i: usize| area[i].as_f64().unwrap();
    page.drag((n(0), n(1)), (n(2), n(3)));
    let selected = page.eval("getSelection().toString()");
    let selected = selected.as_str().unwrap();
    for command in SESSION_COMMANDS.lines() {
        assert!(
            selected.contains(command),
            "{command:?} not selected in {selected:?}"
        );
    }
    for shown in [
        "$ docker",
        "/ # echo",
        "inside the container\n",
        "No such file",
        "CTRL+p",
        "one\ntwo",
    ] {
        assert!(
            !selected.contains(shown),
            "{shown:?} selected in {selected:?}"
        );
    }

    // Without JavaScript, no copy button, and the block reads as the page shows it.
    page.call(
        "Emulation.setScriptExecutionDisabled",
        json!({"value": true}),
    );
    page.open(&page_file);
    assert_eq!(
        page.eval("document.querySelector('pre.docktest, .dt-p, .dt-o')"),
        Value::Null
    );
    let text: Value = page.eval(
        "document.querySelector('.docktest-badge[data-dt]').previousElementSibling.querySelector('code').innerText",
    );
    assert_eq!(text.as_str(), Some(SESSION_TEXT));
    assert_eq!(
        page.eval("document.querySelector('.clip-button')"),
        Value::Null
    );
}
