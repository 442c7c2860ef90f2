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
//! snapshots = "../snapshots"     # relative to the book root
//! real-output = true             # show the real output where the page wrote `...` or `[..]`
//! prompts = ['[/~]\S* # ', '# '] # container prompts, as regexes (replaces the defaults)
//! bare-commands = true           # run prompt-less sh/bash fences, each line a command
//! engines = ["unix:///run/docktest/docker.sock", "ssh://ci"]   # where `test` runs pages, see --engine
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::snippet::{PromptError, Prompts};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {problem}")]
    Invalid {
        path: PathBuf,
        problem: OptionsError,
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
}

/// docktest's options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Where the `.snap` files live, relative to the book root. Default: `../snapshots`.
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

impl Config {
    /// Reads `BOOK/book.toml`; a book without a `[preprocessor.docktest]` table gets the defaults.
    pub fn load(book_root: &Path) -> Result<Config, ConfigError> {
        let path = book_root.join("book.toml");
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::parse(&text).map_err(|problem| ConfigError::Invalid { path, problem })
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
        Ok(config)
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
                .unwrap_or(Path::new("../snapshots")),
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

    // The default snapshot folder sits next to the book, and reports show it without `..`.
    #[test]
    fn snapshot_dir_folds_parent_components() {
        let c = Config::default();
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
