//! A book as docktest reads it: `book.toml`'s options and every chapter `SUMMARY.md` links, parsed into
//! pages, before anything runs.

use std::path::{Path, PathBuf};

use crate::config::{Config, ConfigError, OptionsError};
use crate::engine;
use crate::snippet::{self, Grammar, Page, ParseError, Prompts};

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("{path} is not an mdBook book: no book.toml")]
    NotABook { path: PathBuf },
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Parse(Vec<ParseError>),
}

/// A book ready to run: its options and its pages in SUMMARY order.
#[derive(Debug, Clone)]
pub struct Book {
    pub root: PathBuf,
    pub config: Config,
    /// The container prompts of `config`, compiled.
    prompts: Prompts,
    pub pages: Vec<Page>,
}

impl Book {
    /// Reads `root/book.toml` and every chapter `SUMMARY.md` links, and parses their runnable blocks with the
    /// container prompts the book's options name. Every malformed block of the book is reported, not just
    /// the first.
    pub fn load(root: &Path) -> Result<Book, BookError> {
        if !root.join("book.toml").is_file() {
            return Err(BookError::NotABook {
                path: root.to_path_buf(),
            });
        }
        let config = Config::load(root)?;
        let prompts = config
            .container_prompts()
            .map_err(|e| ConfigError::Invalid {
                path: root.join("book.toml"),
                line: None,
                problem: Box::new(OptionsError::Prompts(e)),
            })?;
        let mut book = Book {
            root: root.to_path_buf(),
            config,
            prompts,
            pages: Vec::new(),
        };
        let src = root.join("src");
        let summary = read(&src.join("SUMMARY.md"))?;
        let mut errors = Vec::new();
        for chapter in crate::markdown::summary_chapters(&summary) {
            let content = read(&src.join(&chapter))?;
            // Paths in reports read as the author sees them from the book root: `src/bridge.md:12`.
            match book.parse(&Path::new("src").join(&chapter), &content) {
                Ok(page) => book.pages.push(page),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(BookError::Parse(errors));
        }
        Ok(book)
    }

    /// Parses a page of this book (`path` as the runner names pages: `src/page.md`) with the grammar its
    /// options set.
    pub fn parse(&self, path: &Path, content: &str) -> Result<Page, ParseError> {
        let grammar = Grammar {
            prompts: &self.prompts,
            bare_commands: self.config.bare_commands,
        };
        snippet::parse_page_in(path, content, grammar)
    }

    /// Every image the pages start containers from (`docker run`/`create`), canonical (`alpine:latest`), with
    /// where it is first used. Ignored blocks do not run, so their images are not needed; nor are the images a
    /// page makes itself (`docker commit`, `docker tag`) before it runs them.
    pub fn images_used(&self) -> Vec<(String, String)> {
        let mut used: Vec<(String, String)> = Vec::new();
        for page in &self.pages {
            let mut made = Vec::new();
            for block in page.blocks.iter().filter(|b| b.attrs.ignore.is_none()) {
                for step in &block.steps {
                    if let Some(image) = snippet::image_made_by(step) {
                        made.push(engine::canonical_reference(&image));
                    }
                    let Some(image) = snippet::image_of(step) else {
                        continue;
                    };
                    let image = engine::canonical_reference(&image);
                    if made.contains(&image) {
                        continue;
                    }
                    if !used.iter().any(|(i, _)| *i == image) {
                        used.push((image, format!("{}:{}", page.path.display(), step.line)));
                    }
                }
            }
        }
        used
    }

    /// Number of runnable blocks (ignored ones included).
    pub fn block_count(&self) -> usize {
        self.pages.iter().map(|p| p.blocks.len()).sum()
    }
}

fn read(path: &Path) -> Result<String, BookError> {
    std::fs::read_to_string(path).map_err(|source| BookError::Read {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // A page that commits an image and then runs it was refused before it ran: the committed image was
    // looked for on the engine, in a registry and in the recipes, and found in none.
    #[test]
    fn images_a_page_makes_are_not_needed_beforehand() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("book.toml"), "[book]\ntitle = \"t\"\n").unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("src/SUMMARY.md"),
            "# Summary\n\n- [Commit](commit.md)\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("src/commit.md"),
            "# Commit\n\n```console\n$ docker run --rm greeter:v0 true\n? failed\n\
             $ docker run -d --name builder alpine sleep 60\n\
             $ docker commit builder greeter:v1\n$ docker run --rm greeter:v1 true\n\
             $ docker tag greeter:v1 greeter\n$ docker run --rm greeter true\n```\n",
        )
        .unwrap();
        let book = Book::load(dir.path()).unwrap();
        let used: Vec<String> = book.images_used().into_iter().map(|(i, _)| i).collect();
        assert_eq!(used, ["greeter:v0", "alpine:latest"]);
    }
}
