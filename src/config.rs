//! The book's `[preprocessor.docktest]` table in `book.toml`.
//!
//! mdBook reads `command`, `before`, `after`, `optional` and `renderers` from the same table, so they are
//! declared here too: every other unknown key is an error naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// docktest's options.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Where the `.snap` files live, relative to the book root. Default: `../snapshots`.
    pub snapshots: Option<PathBuf>,
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
        Config::parse(&text).map_err(|message| ConfigError::Invalid { path, message })
    }

    /// Parses a whole `book.toml`, returning a message that names the offending option.
    pub fn parse(book_toml: &str) -> Result<Config, String> {
        let book: BookToml = toml::from_str(book_toml).map_err(|e| e.to_string())?;
        match book.preprocessor.get("docktest") {
            None => Ok(Config::default()),
            Some(table) => table
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| format!("[preprocessor.docktest]: {}", e.message())),
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
        .unwrap_err();
        assert!(err.contains("unknown field `snapshot`"), "{err}");
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
