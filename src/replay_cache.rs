//! Replays remembered between builds. `mdbook build`, and every rebuild `mdbook serve` makes after an edit,
//! replays each chapter from its snapshots; a chapter whose content, snapshots, options and docktest binary
//! are those of an earlier build comes out the same, so its published content is kept from that build
//! instead of judged again.
//!
//! One entry per chapter (per book and renderer), in the user's cache folder
//! (`$XDG_CACHE_HOME/mdbook-docktest`, else `~/.cache/mdbook-docktest`; `DOCKTEST_REPLAY_CACHE` names
//! another folder, or `off`; with `CI=true` and no `DOCKTEST_REPLAY_CACHE` there is none). An entry holds a
//! key (the binary, the `[preprocessor.docktest]` table, the renderer, the chapter's path and content) and
//! what was seen of every snapshot file the chapter's blocks name, absent ones included: a hit needs both to
//! be unchanged. A file is known by its size, inode and times, as make and git know theirs (reading and
//! hashing the guide's 158 snapshots cost a fifth of a cached build's preprocessor); one changed too
//! recently for its times to tell a later change apart is known by its content too. Only chapters that replayed with no problem are kept, so every problem is found and reported
//! afresh. Writing the cache is best effort: a folder that cannot be written only makes the next build
//! replay again.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::preprocessor::ReplayOptions;
use crate::snapshot;
use crate::snippet;

/// The environment variable naming the cache folder, or `off`.
pub(crate) const ENV: &str = "DOCKTEST_REPLAY_CACHE";

/// The cache folder, `None` when the cache is off.
fn folder() -> Option<PathBuf> {
    match std::env::var_os(ENV) {
        Some(v) if v == "off" => None,
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        // A CI machine starts with an empty cache and builds once: writing one would only cost time.
        _ if crate::cli::ci() => None,
        _ => Some(
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?
                .join("mdbook-docktest"),
        ),
    }
}

/// Where the entries of one book and renderer live, and what their keys start from.
pub(crate) struct ReplayCache {
    dir: PathBuf,
    /// The digest of everything besides the chapter that shapes a replay.
    salt: String,
    snapshot_dir: PathBuf,
    renderer: String,
}

/// What the cache keeps of a chapter.
#[derive(Serialize, Deserialize)]
struct Entry {
    key: String,
    /// Each snapshot file the chapter's blocks name, and what was seen of it (`None`: absent).
    files: Vec<(PathBuf, Option<Seen>)>,
    verified: usize,
    content: String,
}

/// What was seen of a chapter's snapshot files before its replay.
pub(crate) struct Files(Vec<(PathBuf, Option<Seen>)>);

/// A snapshot file as a cache entry knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seen {
    stamp: Stamp,
    /// The digest of its bytes, when it had changed within `RACY` of being seen: a write in the same tick
    /// of the file system's clock leaves the times as they were.
    digest: Option<String>,
}

/// A file's size, inode, and modification and change times in nanoseconds. Every write sets the change
/// time to the present, and no tool can set it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    len: u64,
    inode: u64,
    modified: i128,
    changed: i128,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        let nanos = |secs: i64, nsecs: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsecs);
        Some(Stamp {
            len: meta.len(),
            inode: meta.ino(),
            modified: nanos(meta.mtime(), meta.mtime_nsec()),
            changed: nanos(meta.ctime(), meta.ctime_nsec()),
        })
    }
}

/// How long after its last change a file's times may not yet tell a later change apart (file systems stamp
/// times from a clock that ticks every few milliseconds; this leaves room for a clock set back a little).
const RACY: i128 = 2_000_000_000;

impl ReplayCache {
    /// The cache for a book whose `[preprocessor.docktest]` table reads `table` and whose snapshots are in
    /// `snapshot_dir`, replayed for `renderer`; `None` when it is off or no cache folder is known.
    pub(crate) fn open(table: &str, renderer: &str, snapshot_dir: &Path) -> Option<ReplayCache> {
        ReplayCache::at(folder()?, table, renderer, snapshot_dir)
    }

    /// Whether this build will likely take its chapters from the cache: one is in use and an earlier build
    /// made its folder. Known before the book is read, so the preprocessor can tell whether to compile the
    /// redaction patterns while mdBook writes the book, which a cached chapter never needs.
    pub(crate) fn likely_warm() -> bool {
        folder().is_some_and(|dir| dir.is_dir())
    }

    /// The cache in `dir`.
    fn at(dir: PathBuf, table: &str, renderer: &str, snapshot_dir: &Path) -> Option<ReplayCache> {
        // A rebuilt docktest may replay differently with the same version number: its own file is in the
        // key. That also makes std's hasher, whose algorithm may change between Rust releases, safe here.
        let exe = std::env::current_exe().ok()?;
        let meta = std::fs::metadata(&exe).ok()?;
        let modified = meta
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        let salt = digest([
            env!("CARGO_PKG_VERSION").as_bytes(),
            exe.as_os_str().as_encoded_bytes(),
            &meta.len().to_le_bytes(),
            &modified.as_nanos().to_le_bytes(),
            table.as_bytes(),
            renderer.as_bytes(),
            snapshot_dir.as_os_str().as_encoded_bytes(),
        ]);
        Some(ReplayCache {
            dir,
            salt,
            snapshot_dir: snapshot_dir.to_path_buf(),
            renderer: renderer.to_string(),
        })
    }

    fn key(&self, page_path: &Path, content: &str) -> String {
        digest([
            self.salt.as_bytes(),
            page_path.as_os_str().as_encoded_bytes(),
            content.as_bytes(),
        ])
    }

    /// The entry's file: one per chapter of a book (by its snapshot folder) and renderer, replaced as the
    /// chapter changes, so the cache grows with the books built, not with the edits.
    fn entry_path(&self, page_path: &Path) -> PathBuf {
        let name = digest([
            self.snapshot_dir.as_os_str().as_encoded_bytes(),
            page_path.as_os_str().as_encoded_bytes(),
            self.renderer.as_bytes(),
        ]);
        self.dir.join(format!("{name}.json"))
    }

    /// The chapter's published content and its number of verified blocks, when an earlier build replayed
    /// the same chapter against the same snapshots.
    pub(crate) fn get(&self, page_path: &Path, content: &str) -> Option<(String, usize)> {
        let text = std::fs::read(self.entry_path(page_path)).ok()?;
        let entry: Entry = serde_json::from_slice(&text).ok()?;
        if entry.key != self.key(page_path, content) {
            return None;
        }
        let unchanged = entry.files.iter().all(|(path, seen)| unchanged(path, seen));
        unchanged.then_some((entry.content, entry.verified))
    }

    /// What is seen of the snapshot files the chapter's blocks name, before it is replayed: an entry is
    /// written only if it still holds after, so a snapshot rewritten during the build is never paired with a
    /// replay of its old content. `None` when the chapter does not parse (its replay reports why).
    pub(crate) fn files(page_path: &Path, content: &str, options: &ReplayOptions) -> Option<Files> {
        let grammar = snippet::Grammar {
            prompts: &options.prompts,
            bare_commands: options.bare_commands,
        };
        let page = snippet::parse_page_in(page_path, content, grammar).ok()?;
        // The shared snapshot of each block, the own snapshot of each other kind of the matrix, which
        // the badge reads too (absent ones included: one written later changes the badge).
        // And the page's topology snapshot, which the picture is drawn from.
        let times_suffice = times_tell_changes(&options.snapshot_dir);
        let mut names = vec![snapshot::topology::name(&page)];
        for name in snapshot::names(&page) {
            for kind in options.matrix.iter().skip(1) {
                names.push(snapshot::engine_name(&name, kind));
            }
            names.push(name);
        }
        Some(Files(
            names
                .iter()
                .map(|name| {
                    let path = snapshot::path(&options.snapshot_dir, name);
                    let seen = seen(&path, times_suffice);
                    (path, seen)
                })
                .collect(),
        ))
    }

    /// Keeps a chapter that replayed with no problem.
    pub(crate) fn put(
        &self,
        page_path: &Path,
        content: &str,
        before: Files,
        published: &str,
        verified: usize,
    ) {
        if !before.0.iter().all(|(path, seen)| unchanged(path, seen)) {
            return;
        }
        let entry = Entry {
            key: self.key(page_path, content),
            files: before.0,
            verified,
            content: published.to_string(),
        };
        let _ = self.write(&self.entry_path(page_path), &entry);
    }

    /// Writes an entry whole or not at all (a temporary file renamed), so a build running at the same time
    /// reads the old entry or the new one.
    fn write(&self, path: &Path, entry: &Entry) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        serde_json::to_writer(&mut file, entry)?;
        file.persist(path)?;
        Ok(())
    }
}

/// A 128-bit digest of `parts` in hex, each part length-prefixed so that no two lists of parts run together
/// alike. No adversary writes both a chapter and its cache, so a fast hash does (SHA-256 cost a build more
/// than all the rest of a cached replay).
fn digest<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut halves = [DefaultHasher::new(), DefaultHasher::new()];
    halves[1].write_u8(1);
    for part in parts {
        for h in &mut halves {
            h.write_u64(part.len() as u64);
            h.write(part);
        }
    }
    format!("{:016x}{:016x}", halves[0].finish(), halves[1].finish())
}

fn file_digest(path: &Path) -> Option<String> {
    std::fs::read(path)
        .ok()
        .map(|bytes| digest([bytes.as_slice()]))
}

/// The file at `path` as an entry keeps it, `None` when there is none; known by its bytes too unless
/// `times_suffice` (see [`times_tell_changes`]).
fn seen(path: &Path, times_suffice: bool) -> Option<Seen> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    seen_at(path, now, times_suffice)
}

/// `seen` at `now` (nanoseconds since the epoch).
fn seen_at(path: &Path, now: i128, times_suffice: bool) -> Option<Seen> {
    let stamp = Stamp::of(path)?;
    let digest = if !times_suffice || now - stamp.changed < RACY {
        Some(file_digest(path)?)
    } else {
        None
    };
    Some(Seen { stamp, digest })
}

/// Whether `stat` of the files in `dir` shows every change to them. A network file system's client may
/// answer it from attributes it keeps for a while (NFS: up to a minute) after another machine rewrote the
/// file, so a book there would be published from an old snapshot; opening a file is what makes the client
/// ask the server again (close-to-open), so there every snapshot is read and known by its bytes too, as
/// when it changed just now. A folder that cannot be asked is treated the same.
fn times_tell_changes(dir: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        nix::sys::statfs::statfs(dir).is_ok_and(|fs| !remote(fs.filesystem_type().0 as u32))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        true
    }
}

/// Whether a Linux file system type (`statfs`'s `f_type`, its low 32 bits) is one whose client may hold
/// another machine's change back: NFS, SMB/CIFS, FUSE (sshfs and the like), 9p (WSL's drives), AFS, Ceph,
/// Coda, NCP, OCFS2, GFS2, Lustre.
fn remote(f_type: u32) -> bool {
    const REMOTE: [u32; 14] = [
        0x6969,      // NFS
        0x517b,      // SMB
        0xff53_4d42, // CIFS
        0xfe53_4d42, // SMB2
        0x6573_5546, // FUSE
        0x0102_1997, // 9p
        0x5346_414f, // AFS
        0x6b41_4653, // kAFS
        0x00c3_6400, // Ceph
        0x7375_7245, // Coda
        0x564c,      // NCP
        0x7461_636f, // OCFS2
        0x0116_1970, // GFS2
        0x0bd0_0bd0, // Lustre
    ];
    REMOTE.contains(&f_type)
}

/// Whether the file at `path` is as it was when `before` was seen of it.
fn unchanged(path: &Path, before: &Option<Seen>) -> bool {
    match (before, Stamp::of(path)) {
        (None, now) => now.is_none(),
        (Some(before), Some(now)) => {
            now == before.stamp
                && before
                    .digest
                    .as_ref()
                    .is_none_or(|d| file_digest(path).as_ref() == Some(d))
        }
        (Some(_), None) => false,
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocessor::BadgeFormat;
    use crate::snippet::Prompts;

    const PAGE: &str = "# T\n\n```console\n$ echo hi\nhi\n```\n";

    fn setup() -> (tempfile::TempDir, ReplayOptions, ReplayCache) {
        let dir = tempfile::tempdir().unwrap();
        let options = ReplayOptions {
            snapshot_dir: dir.path().join("snapshots"),
            prompts: Prompts::default(),
            bare_commands: false,
            real_output: true,
            format: BadgeFormat::Html,
            matrix: Vec::new(),
        };
        std::fs::create_dir_all(&options.snapshot_dir).unwrap();
        let cache =
            ReplayCache::at(dir.path().join("cache"), "", "html", &options.snapshot_dir).unwrap();
        (dir, options, cache)
    }

    fn snap(options: &ReplayOptions) -> PathBuf {
        snapshot::path(&options.snapshot_dir, "src-p__t-1")
    }

    fn put(cache: &ReplayCache, options: &ReplayOptions, content: &str, published: &str) {
        let page = Path::new("src/p.md");
        let before = ReplayCache::files(page, content, options).unwrap();
        cache.put(page, content, before, published, 1);
    }

    fn get(cache: &ReplayCache, content: &str) -> Option<(String, usize)> {
        cache.get(Path::new("src/p.md"), content)
    }

    // A chapter built again with the same content and snapshots is taken from the cache; a change to either
    // replays it again, a snapshot that appears included.
    #[test]
    fn hits_only_when_content_and_snapshots_are_unchanged() {
        let (_dir, options, cache) = setup();
        assert_eq!(
            ReplayCache::files(Path::new("src/p.md"), PAGE, &options)
                .unwrap()
                .0
                .len(),
            2,
            "the block's snapshot and the page's topology"
        );
        std::fs::write(snap(&options), "one").unwrap();
        put(&cache, &options, PAGE, "published");
        assert_eq!(get(&cache, PAGE), Some(("published".into(), 1)));
        assert_eq!(get(&cache, &PAGE.replace("hi\n```", "ho\n```")), None);
        std::fs::write(snap(&options), "two").unwrap();
        assert_eq!(get(&cache, PAGE), None);

        std::fs::remove_file(snap(&options)).unwrap();
        put(&cache, &options, PAGE, "without");
        assert_eq!(get(&cache, PAGE), Some(("without".into(), 1)));
        std::fs::write(snap(&options), "one").unwrap();
        assert_eq!(get(&cache, PAGE), None);
    }

    // The badge names the kinds whose own snapshot replays: one written after the build was cached must
    // replay the chapter again, or the badge would go on leaving that engine out.
    #[test]
    fn another_kinds_own_snapshot_is_in_the_entry() {
        let (_dir, mut options, cache) = setup();
        options.matrix = vec!["docker-20.10".into(), "docker-26.1".into()];
        std::fs::write(snap(&options), "one").unwrap();
        put(&cache, &options, PAGE, "shared only");
        assert_eq!(get(&cache, PAGE), Some(("shared only".into(), 1)));
        let own = snapshot::path(
            &options.snapshot_dir,
            &snapshot::engine_name("src-p__t-1", "docker-26.1"),
        );
        std::fs::write(own, "26.1's own").unwrap();
        assert_eq!(get(&cache, PAGE), None);
    }

    // The chapter's picture is drawn from the page's topology snapshot: one recorded after the build was
    // cached must replay the chapter again, or the picture would stay the old one.
    #[test]
    fn the_topology_snapshot_is_in_the_entry() {
        let (_dir, options, cache) = setup();
        std::fs::write(snap(&options), "one").unwrap();
        put(&cache, &options, PAGE, "no picture");
        assert_eq!(get(&cache, PAGE), Some(("no picture".into(), 1)));
        let topology = snapshot::path(&options.snapshot_dir, "src-p.topology");
        std::fs::write(topology, "a network").unwrap();
        assert_eq!(get(&cache, PAGE), None);
    }

    // A snapshot rewritten while its chapter replays (a test run beside `mdbook serve`) leaves no entry,
    // else the old replay would be kept under the new snapshot's digest.
    #[test]
    fn a_snapshot_changed_during_the_replay_is_not_cached() {
        let (_dir, options, cache) = setup();
        std::fs::write(snap(&options), "old").unwrap();
        let page = Path::new("src/p.md");
        let before = ReplayCache::files(page, PAGE, &options).unwrap();
        std::fs::write(snap(&options), "new").unwrap();
        cache.put(page, PAGE, before, "replay of old", 1);
        assert_eq!(get(&cache, PAGE), None);
    }

    // A snapshot last changed long ago is known by its size, inode and times, not read again; a rewrite
    // of the same size still shows in its change time.
    #[test]
    fn an_old_snapshot_is_known_by_its_times_and_a_rewrite_changes_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.snap");
        std::fs::write(&path, "one").unwrap();
        let changed = Stamp::of(&path).unwrap().changed;
        let old = seen_at(&path, changed + RACY + 1, true).unwrap();
        assert_eq!(old.digest, None, "an old file is not read");
        assert!(unchanged(&path, &Some(old.clone())));
        // Past the file system's clock tick, so the rewrite gets another change time.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "two").unwrap();
        assert!(!unchanged(&path, &Some(old)));
    }

    // A snapshot rewritten within the same tick of the file system's clock keeps its times: one seen that
    // soon after a change is known by its bytes too.
    #[test]
    fn a_snapshot_seen_just_after_a_change_is_known_by_its_bytes_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.snap");
        std::fs::write(&path, "one").unwrap();
        let changed = Stamp::of(&path).unwrap().changed;
        let mut fresh = seen_at(&path, changed, true).unwrap();
        assert!(fresh.digest.is_some());
        assert!(unchanged(&path, &Some(fresh.clone())));
        // As a same-tick rewrite leaves it: the times as they were, other bytes.
        fresh.digest = Some(digest([b"two".as_slice()]));
        assert!(!unchanged(&path, &Some(fresh)));
    }

    // On a network file system `stat` may show another machine's rewrite late (NFS keeps attributes up to a
    // minute): a snapshot there is known by its bytes however old it is, so a rewrite that `stat` does not
    // show yet still misses, where times alone would have published the old replay.
    #[test]
    fn a_snapshot_on_a_network_file_system_is_known_by_its_bytes_even_when_stat_shows_no_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.snap");
        std::fs::write(&path, "one").unwrap();
        let long_after = Stamp::of(&path).unwrap().changed + RACY + 1;
        let remote = seen_at(&path, long_after, false).unwrap();
        let local = seen_at(&path, long_after, true).unwrap();
        assert!(remote.digest.is_some() && local.digest.is_none());
        std::fs::write(&path, "two").unwrap();
        // What a client answering from its old attributes shows: the times of before the rewrite.
        let stale = |mut seen: Seen| {
            seen.stamp = Stamp::of(&path).unwrap();
            Some(seen)
        };
        assert!(!unchanged(&path, &stale(remote)));
        assert!(unchanged(&path, &stale(local)), "times alone miss it");
    }

    #[test]
    fn network_file_systems_are_told_from_local_ones() {
        for nfs_cifs_fuse_9p in [0x6969, 0xff53_4d42, 0x6573_5546, 0x0102_1997] {
            assert!(remote(nfs_cifs_fuse_9p));
        }
        for ext4_xfs_btrfs_tmpfs_overlay_zfs in [
            0xef53,
            0x5846_5342,
            0x9123_683e,
            0x0102_1994,
            0x794c_7630,
            0x2fc1_2fc1,
        ] {
            assert!(!remote(ext4_xfs_btrfs_tmpfs_overlay_zfs));
        }
        let local = tempfile::tempdir().unwrap();
        assert!(times_tell_changes(local.path()));
        assert!(!times_tell_changes(&local.path().join("absent")));
    }

    // Another table (options), renderer or docktest binary makes another key.
    #[test]
    fn options_and_renderer_are_in_the_key() {
        let (dir, options, cache) = setup();
        std::fs::write(snap(&options), "one").unwrap();
        put(&cache, &options, PAGE, "published");
        let at = |table, renderer| {
            ReplayCache::at(
                dir.path().join("cache"),
                table,
                renderer,
                &options.snapshot_dir,
            )
            .unwrap()
        };
        assert_eq!(get(&at("real-output = false", "html"), PAGE), None);
        assert_eq!(get(&at("", "markdown"), PAGE), None);
        assert_eq!(get(&cache, PAGE), Some(("published".into(), 1)));
    }
}
