//! The book's `[preprocessor.docktest]` table in `book.toml`.
//!
//! mdBook reads `command`, `before`, `after`, `optional` and `renderers` from the same table, so they are
//! declared here too: every other unknown key is an error naming the key, and so is a value of the wrong
//! type (`on-unverified = "maybe"`: "option `on-unverified`: unknown variant ...").
//!
//! ```toml
//! [preprocessor.docktest]
//! after = ["links"]              # expand {{#include}} first
//! on-unverified = "error"        # or "warn": what `mdbook build` does with an unverified or stale block
//! snapshots = "snapshots"        # relative to the book root (the default)
//! real-output = true             # show the real output where the page wrote `...` or `[..]`
//! prompts = ['[/~]\S* # ', '# '] # container prompts, as regexes (replaces the defaults)
//! bare-commands = true           # run prompt-less sh/bash fences, each line a command
//! engines = ["unix:///run/docktest/docker.sock", "ssh://ci"]   # where `test` runs pages, see --engine
//! allow = ["bind-mounts:/srv/site"]  # powers beyond the page's sandbox, for every block (see engine::policy)
//! matrix = ["docker-20.10", "docker-26.1"]   # the engine kinds every page is verified on
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::engine::policy::Allowed;
use crate::snippet::{PromptError, Prompts};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}{}: {problem}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        /// The line of book.toml the problem is on, where docktest can tell.
        line: Option<usize>,
        /// Boxed: `toml`'s error is large, and this one travels in every `Result` that reads a book.
        problem: Box<OptionsError>,
    },
}

/// What is wrong with the options themselves, naming the option.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    /// book.toml is not TOML.
    #[error(transparent)]
    Toml(#[from] toml::de::Error),
    #[error("[preprocessor.docktest]: expected a table of options, found {0}")]
    NotATable(&'static str),
    /// An unknown option, or one with a value of the wrong type: serde's words, naming it.
    #[error("[preprocessor.docktest]: {0}")]
    Option(String),
    #[error("[preprocessor.docktest]: option `prompts`: {0}")]
    Prompts(#[from] PromptError),
    /// A power name `allow` does not know.
    #[error("[preprocessor.docktest]: option `allow`: {problem}")]
    Allow { word: String, problem: String },
    /// book.toml could not be read for editing (`init`).
    #[error(transparent)]
    Edit(#[from] toml_edit::TomlError),
    /// `preprocessor` is there but is not a `[preprocessor]` table `init` can add to.
    #[error("`preprocessor` is {0}, not a table of preprocessors")]
    PreprocessorsNotATable(&'static str),
}

/// The comment `init` writes above the table it adds.
const INIT_COMMENT: &str = "# Verified shell examples: `mdbook-docktest test` runs them against a Docker engine, \
                            `mdbook build` publishes\n# each as its last verified run (mdbook-docktest on PATH).\n";

/// `book_toml` with a `[preprocessor.docktest]` table added, every other byte kept (`init`): the table
/// mdBook needs to run docktest, with `after = ["links"]` so that examples pulled in with `{{#include}}`
/// are checked too. `None` when the book already has the table (or one of its sub-tables).
pub fn with_docktest_table(book_toml: &str) -> Result<Option<String>, OptionsError> {
    let mut doc: toml_edit::DocumentMut = book_toml.parse()?;
    let preprocessors = doc.entry("preprocessor").or_insert_with(|| {
        let mut t = toml_edit::Table::new();
        // `[preprocessor.docktest]` alone, no empty `[preprocessor]` header above it.
        t.set_implicit(true);
        toml_edit::Item::Table(t)
    });
    let type_name = preprocessors.type_name();
    let Some(preprocessors) = preprocessors.as_table_mut() else {
        return Err(OptionsError::PreprocessorsNotATable(type_name));
    };
    if preprocessors.contains_key("docktest") {
        return Ok(None);
    }
    let mut table = toml_edit::Table::new();
    // A blank line above the comment; toml_edit ends the last line of the file if it was not ended.
    let separator = if book_toml.is_empty() || book_toml.ends_with("\n\n") {
        ""
    } else {
        "\n"
    };
    table
        .decor_mut()
        .set_prefix(format!("{separator}{INIT_COMMENT}"));
    // Last in the file, whatever tables follow `[preprocessor]`: the file's bytes are kept as a prefix.
    table.set_position(Some(isize::MAX));
    table["after"] = toml_edit::value(toml_edit::Array::from_iter(["links"]));
    preprocessors.insert("docktest", toml_edit::Item::Table(table));
    Ok(Some(doc.to_string()))
}

/// The snapshot folder of a book whose table does not name one, relative to the book root.
pub const DEFAULT_SNAPSHOTS: &str = "snapshots";

/// docktest's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Where the `.snap` files live, relative to the book root. Default: [`DEFAULT_SNAPSHOTS`], inside the
    /// book's folder, so a book whose book.toml sits at a repository's root keeps them in the repository.
    pub snapshots: Option<PathBuf>,
    /// What `mdbook build` does with a block that has no snapshot, whose command changed since its snapshot,
    /// or whose written output no longer matches it. Default: [`OnUnverified::Error`].
    #[serde(default)]
    pub on_unverified: OnUnverified,
    /// Where the page wrote `...` or `[..]`, the published block shows the output that really ran.
    #[serde(default = "yes")]
    pub real_output: bool,
    /// Container prompts as regexes matched at the start of a line (trailing space included), replacing
    /// [`Prompts::DEFAULT`]. Checked when the config is read.
    pub prompts: Option<Vec<String>>,
    /// `sh`, `bash` and `shell` fences that hold no prompt are run as bare commands: each line a command,
    /// no claim about its output. Default: false (such fences are not run).
    #[serde(default)]
    pub bare_commands: bool,
    /// The engines `mdbook-docktest test` runs pages on (each a DOCKER_HOST), when `--engine` names none: a
    /// developer's Docker Desktop, a CI runner's engine, `ssh://` engines. Empty: DOCKTEST_ENGINES for
    /// `--jobs` above 1, else the one engine DOCKER_HOST names.
    #[serde(default)]
    pub engines: Vec<String>,
    /// Powers beyond the page's sandbox that every block of the book may use (`["bind-mounts:/srv/site"]`,
    /// names as [`Allowed::parse`] reads them); a block adds its own with `allow=`. Checked when the
    /// config is read. Default: none.
    #[serde(default)]
    pub allow: Vec<String>,
    /// The engine kinds the book is verified on (`docker-20.10`, `docker-26.1`, `podman`, or a product
    /// alone): `test` runs every page on an engine of each kind. The first kind's transcripts are the
    /// snapshots; another kind's transcript is stored beside them (`NAME@KIND.snap`) only where it differs.
    /// Empty: the engines found, as one.
    #[serde(default)]
    pub matrix: Vec<String>,
    /// Local recipes for images that cannot be pulled, by image reference (`alpine:latest`).
    #[serde(default)]
    pub images: BTreeMap<String, ImageRecipe>,

    // Keys mdBook itself reads from a preprocessor's table.
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub before: Vec<String>,
    #[serde(default)]
    pub after: Vec<String>,
    #[serde(default)]
    pub optional: Option<bool>,
    #[serde(default)]
    pub renderers: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            snapshots: None,
            on_unverified: OnUnverified::default(),
            real_output: true,
            prompts: None,
            bare_commands: false,
            engines: Vec::new(),
            allow: Vec::new(),
            matrix: Vec::new(),
            images: BTreeMap::new(),
            command: None,
            before: Vec::new(),
            after: Vec::new(),
            optional: None,
            renderers: Vec::new(),
        }
    }
}

fn yes() -> bool {
    true
}

/// What the preprocessor does with a block it cannot vouch for.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum OnUnverified {
    /// Fail the build, naming every such block.
    #[default]
    Error,
    /// Print a warning per block and publish it marked "not verified".
    Warn,
}

/// How to build a stand-in image offline: a rootfs imported into the engine (`docker import`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImageRecipe {
    /// The base of the rootfs. `busybox`: the host's static busybox with every applet linked.
    pub base: ImageBase,
    /// A directory (relative to the book root) copied over the base.
    pub files: Option<PathBuf>,
    /// The image's `CMD`.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// Ports the image declares, as `EXPOSE` does (`80/tcp`).
    #[serde(default)]
    pub expose: Vec<String>,
    /// `KEY=value` pairs, as `ENV` does.
    #[serde(default)]
    pub env: Vec<String>,
    pub workdir: Option<String>,
    /// What the stand-in replaces, for the report (`busybox httpd serving nginx's default page`).
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ImageBase {
    Busybox,
}

#[derive(Deserialize)]
struct BookToml {
    #[serde(default)]
    preprocessor: BTreeMap<String, toml::Value>,
}

impl ConfigError {
    /// `problem` in the book.toml at `path`, whose text is `text`, at its line where docktest can tell.
    pub fn invalid(path: PathBuf, text: &str, problem: OptionsError) -> ConfigError {
        // A bad power name is found after serde has read the table, so its line is looked up here.
        let line = match &problem {
            OptionsError::Allow { word, .. } => text
                .lines()
                .position(|l| {
                    l.contains(&format!("\"{word}\"")) || l.contains(&format!("'{word}'"))
                })
                .map(|i| i + 1),
            _ => None,
        };
        ConfigError::Invalid {
            path,
            line,
            problem: Box::new(problem),
        }
    }
}

impl Config {
    /// Reads `BOOK/book.toml`; a book without a `[preprocessor.docktest]` table gets the defaults.
    pub fn load(book_root: &Path) -> Result<Config, ConfigError> {
        let path = book_root.join("book.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::parse(&text).map_err(|problem| ConfigError::invalid(path, &text, problem))
    }

    /// Parses a whole `book.toml`; an error names the offending option.
    pub fn parse(book_toml: &str) -> Result<Config, OptionsError> {
        let book: BookToml = toml::from_str(book_toml)?;
        match book.preprocessor.get("docktest") {
            None => Ok(Config::default()),
            Some(table) => Config::from_table(table.clone()),
        }
    }

    /// Reads the `[preprocessor.docktest]` table itself (as mdBook hands it to a preprocessor). An unknown
    /// or ill-typed option, or a prompt pattern that does not compile, is an error naming the option.
    pub fn from_table(table: toml::Value) -> Result<Config, OptionsError> {
        let toml::Value::Table(table) = table else {
            return Err(OptionsError::NotATable(table.type_str()));
        };
        let config: Config =
            toml::Value::Table(table.clone())
                .try_into()
                .map_err(|e: toml::de::Error| {
                    // serde names unknown keys but not the key of a value of the wrong type: find it by reading
                    // the options one by one.
                    let culprit = table.iter().find_map(|(key, value)| {
                        let mut one = toml::Table::new();
                        one.insert(key.clone(), value.clone());
                        toml::Value::Table(one).try_into::<Config>().err().map(|e| {
                            let message = e.message();
                            if message.contains(&format!("`{key}`")) {
                                message.to_string()
                            } else {
                                format!("option `{key}`: {message}")
                            }
                        })
                    });
                    OptionsError::Option(culprit.unwrap_or_else(|| e.message().to_string()))
                })?;
        // The book's own prompt patterns must compile; the defaults do (and compiling them costs a cached
        // replay more than the rest of it).
        if config.prompts.is_some() {
            config.container_prompts()?;
        }
        config.allowed()?;
        Ok(config)
    }

    /// The powers `allow` grants every block.
    pub fn allowed(&self) -> Result<Allowed, OptionsError> {
        Allowed::parse(self.allow.iter().map(String::as_str)).map_err(|problem| {
            let word = self
                .allow
                .iter()
                .find(|w| Allowed::parse([w.as_str()]).is_err())
                .cloned()
                .unwrap_or_default();
            OptionsError::Allow { word, problem }
        })
    }

    /// The container prompts pages are parsed with: the `prompts` option, else the defaults.
    pub fn container_prompts(&self) -> Result<Prompts, PromptError> {
        match &self.prompts {
            Some(patterns) => Prompts::new(patterns),
            None => Ok(Prompts::default()),
        }
    }

    /// The snapshot directory for a book at `book_root`.
    pub fn snapshot_dir(&self, book_root: &Path) -> PathBuf {
        let joined = book_root.join(
            self.snapshots
                .as_deref()
                .unwrap_or(Path::new(DEFAULT_SNAPSHOTS)),
        );
        // `book/../snapshots` reads badly in reports; fold `..` lexically (no symlinks are resolved).
        let mut out = PathBuf::new();
        for part in joined.components() {
            match part {
                std::path::Component::ParentDir
                    if matches!(
                        out.components().next_back(),
                        Some(std::path::Component::Normal(_))
                    ) =>
                {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        if out.as_os_str().is_empty() {
            out.push(".");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The default snapshot folder is inside the book's folder: a book whose book.toml sits at a
    // repository's root keeps its snapshots in the repository.
    #[test]
    fn default_snapshot_dir_is_inside_the_book() {
        let c = Config::default();
        assert_eq!(
            c.snapshot_dir(Path::new("book")),
            Path::new("book/snapshots")
        );
        assert_eq!(c.snapshot_dir(Path::new(".")), Path::new("snapshots"));
        assert_eq!(
            c.snapshot_dir(Path::new("/w/docs")),
            Path::new("/w/docs/snapshots")
        );
    }

    // A folder named next to the book is shown without `..` in reports.
    #[test]
    fn snapshot_dir_folds_parent_components() {
        let c = Config::parse("[preprocessor.docktest]\nsnapshots = \"../snapshots\"\n").unwrap();
        assert_eq!(c.snapshot_dir(Path::new("book")), Path::new("snapshots"));
        assert_eq!(
            c.snapshot_dir(Path::new("/w/book")),
            Path::new("/w/snapshots")
        );
        assert_eq!(c.snapshot_dir(Path::new(".")), Path::new("../snapshots"));
    }

    // A typo in an option is an error that names it, not a silent default.
    #[test]
    fn unknown_option_is_named() {
        let err = Config::parse(
            "[preprocessor.docktest]
snapshot = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown field `snapshot`"), "{err}");
    }

    // An option of the wrong type names the option, not just the type it expected.
    #[test]
    fn ill_typed_option_is_named() {
        for (toml, option) in [
            ("real-output = \"yes\"", "real-output"),
            ("on-unverified = \"maybe\"", "on-unverified"),
            ("prompts = \"# \"", "prompts"),
            ("snapshots = 3", "snapshots"),
        ] {
            let err = Config::parse(&format!("[preprocessor.docktest]\n{toml}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("[preprocessor.docktest]: option `{option}`: ")),
                "{err}"
            );
        }
    }

    // A prompt pattern that cannot work is refused when the book is read, not when a page is parsed.
    #[test]
    fn bad_prompt_pattern_is_named() {
        let err = Config::parse("[preprocessor.docktest]\nprompts = [\"(\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("[preprocessor.docktest]: option `prompts`: bad prompt pattern `(`"),
            "{err}"
        );
    }

    // The defaults: fail on unverified blocks, show real output, default prompts.
    #[test]
    fn defaults() {
        let c = Config::parse("[book]\ntitle = \"x\"\n").unwrap();
        assert_eq!(c.on_unverified, OnUnverified::Error);
        assert!(c.real_output);
        assert!(c.prompts.is_none());
        let c = Config::parse(
            "[preprocessor.docktest]\non-unverified = \"warn\"\nreal-output = false\n",
        )
        .unwrap();
        assert_eq!(c.on_unverified, OnUnverified::Warn);
        assert!(!c.real_output);
    }

    // A book-wide grant is read when the book is; a misspelt power is an error at its line of book.toml.
    #[test]
    fn allow_names_known_powers() {
        let c = Config::parse(
            "[preprocessor.docktest]\nallow = [\"pid-host\", \"bind-mounts:/srv\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.allowed().unwrap().names(),
            ["pid-host", "bind-mounts:/srv"]
        );
        assert!(Config::default().allowed().unwrap().is_empty());
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("book.toml"),
            "[book]\ntitle = \"x\"\n\n[preprocessor.docktest]\nallow = [\"cap-add\", \"root\"]\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{}:5: [preprocessor.docktest]: option `allow`: unknown power `root` (known: {})",
                dir.path().join("book.toml").display(),
                crate::engine::policy::known_names()
            )
        );
    }

    // `init` adds the table at the end and keeps every byte of the rest, comments and layout included.
    #[test]
    fn init_adds_the_table_and_keeps_the_rest() {
        let book = "# My book\n[book]\ntitle = \"Nets\"   # aligned\nsrc = 'src'\n\n[output.html]\nadditional-js = [ \"x.js\" ]\n";
        let added = with_docktest_table(book).unwrap().unwrap();
        let (kept, table) = added.split_at(book.len());
        assert_eq!(kept, book);
        insta::assert_snapshot!(table, @r#"

        # Verified shell examples: `mdbook-docktest test` runs them against a Docker engine, `mdbook build` publishes
        # each as its last verified run (mdbook-docktest on PATH).
        [preprocessor.docktest]
        after = ["links"]
        "#);
        let config = Config::parse(&added).unwrap();
        assert_eq!(config.after, ["links"]);
        // Run again, it finds the table.
        assert_eq!(with_docktest_table(&added).unwrap(), None);
    }

    // Other preprocessors stay where they are, and a file without a final newline gets one before the table.
    #[test]
    fn init_beside_other_preprocessors() {
        let book = "[book]\ntitle = \"x\"\n[preprocessor.admonish]\ncommand = \"mdbook-admonish\"";
        let added = with_docktest_table(book).unwrap().unwrap();
        assert!(added.starts_with(book), "{added}");
        assert!(
            added.ends_with("\n[preprocessor.docktest]\nafter = [\"links\"]\n"),
            "{added}"
        );
        assert!(added[book.len()..].starts_with("\n\n# Verified"), "{added}");
        assert!(Config::parse(&added).is_ok());
        assert_eq!(
            with_docktest_table("").unwrap().unwrap(),
            format!("{INIT_COMMENT}[preprocessor.docktest]\nafter = [\"links\"]\n")
        );
        // A `[preprocessor]` table with other tables after it: the new table still goes last.
        for book in [
            "[book]\n[preprocessor]\n[output.html]\nx = 1\n",
            "[preprocessor.a]\nx=1\n[output.html]\nx = 1\n",
            "preprocessor.a.x = 1\n[output.html]\nx = 1\n",
        ] {
            let added = with_docktest_table(book).unwrap().unwrap();
            assert!(added.starts_with(book), "{added}");
            assert_eq!(Config::parse(&added).unwrap().after, ["links"], "{added}");
        }
    }

    // A table that is there in any form (a sub-table alone, a dotted key) is there: nothing to add.
    #[test]
    fn init_finds_the_table_in_any_form() {
        for book in [
            "[preprocessor.docktest]\n",
            "[preprocessor.docktest.images.\"alpine:latest\"]\nbase = \"busybox\"\n",
            "[preprocessor]\ndocktest = { after = [\"links\"] }\n",
        ] {
            assert_eq!(with_docktest_table(book).unwrap(), None, "{book}");
        }
        let err = with_docktest_table("preprocessor = 3\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "`preprocessor` is integer, not a table of preprocessors"
        );
    }

    // The keys mdBook reads from a preprocessor table are not docktest's typos.
    #[test]
    fn mdbook_keys_are_accepted() {
        let c = Config::parse(
            "[preprocessor.docktest]\ncommand = \"x\"\nafter = [\"links\"]\nrenderers = [\"html\"]\n",
        )
        .unwrap();
        assert_eq!(c.after, ["links"]);
    }
}
