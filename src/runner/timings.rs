//! How long each page took on each kind in the last run, so that the next run starts the longest first.
//!
//! One small JSON file per book (by its snapshot folder) in the user's cache folder
//! (`$XDG_CACHE_HOME/mdbook-docktest/timings`, else `~/.cache/…`); `DOCKTEST_TIMINGS` names another file,
//! or `off`. With `CI=true` and no `DOCKTEST_TIMINGS` there is none, as CI writes nothing. Best effort: a
//! file that cannot be read or written only costs the order (the estimate from the page's commands is used).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The environment variable naming the timings file, or `off`.
pub(crate) const ENV: &str = "DOCKTEST_TIMINGS";

/// The key of a run without a matrix.
const NO_KIND: &str = "-";

/// Seconds per page path, per kind.
#[derive(Debug, Default)]
pub(super) struct Timings {
    file: Option<PathBuf>,
    seconds: BTreeMap<String, BTreeMap<String, f64>>,
}

impl Timings {
    /// The last run's timings of the book whose snapshots are in `snapshot_dir`.
    pub fn load(snapshot_dir: &Path) -> Timings {
        let file = file_for(snapshot_dir);
        let seconds = file
            .as_deref()
            .and_then(|f| std::fs::read(f).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Timings { file, seconds }
    }

    pub fn get(&self, kind: Option<&str>, page: &Path) -> Option<Duration> {
        let secs = *self
            .seconds
            .get(kind.unwrap_or(NO_KIND))?
            .get(&page.to_string_lossy().into_owned())?;
        (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
    }

    pub fn set(&mut self, kind: Option<&str>, page: &Path, took: Duration) {
        self.seconds
            .entry(kind.unwrap_or(NO_KIND).to_string())
            .or_default()
            .insert(page.to_string_lossy().into_owned(), took.as_secs_f64());
    }

    /// Writes the timings back, whole (a temporary file renamed into place, so a reader never sees half).
    pub fn save(&self) {
        let Some(file) = &self.file else { return };
        let Some(dir) = file.parent() else { return };
        let Ok(json) = serde_json::to_vec_pretty(&self.seconds) else {
            return;
        };
        let _ = std::fs::create_dir_all(dir);
        if let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir) {
            use std::io::Write;
            if tmp.write_all(&json).is_ok() {
                let _ = tmp.persist(file);
            }
        }
    }
}

/// The timings file of a book, or `None` when there is none.
fn file_for(snapshot_dir: &Path) -> Option<PathBuf> {
    match std::env::var_os(ENV) {
        Some(v) if v == "off" => return None,
        Some(v) if !v.is_empty() => return Some(PathBuf::from(v)),
        _ if crate::cli::ci() => return None,
        _ => {}
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    // One file per book; std's hasher is stable enough for a file name that only this machine reads.
    let book = std::fs::canonicalize(snapshot_dir).unwrap_or_else(|_| snapshot_dir.to_path_buf());
    let mut h = DefaultHasher::new();
    h.write(book.as_os_str().as_encoded_bytes());
    Some(
        cache
            .join("mdbook-docktest")
            .join("timings")
            .join(format!("{:016x}.json", h.finish())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // A run's timings are read back by the next run, per kind and page, and a missing file is no timings.
    #[test]
    fn timings_are_read_back_per_kind() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        let mut t = Timings {
            file: Some(file.clone()),
            ..Default::default()
        };
        let page = Path::new("src/a.md");
        t.set(Some("docker-26.1"), page, Duration::from_millis(1500));
        t.set(None, page, Duration::from_secs(2));
        t.save();
        let back = Timings {
            file: Some(file.clone()),
            seconds: serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap(),
        };
        assert_eq!(
            back.get(Some("docker-26.1"), page),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(back.get(None, page), Some(Duration::from_secs(2)));
        assert_eq!(back.get(Some("docker-20.10"), page), None);
        assert_eq!(back.get(None, Path::new("src/b.md")), None);
    }
}
