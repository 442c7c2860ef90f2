//! The page's network, taken after each block from what the page's proxy recorded, and checked against the
//! page's topology snapshot (`snapshot::topology`) once the page is done.

use std::path::Path;
use std::time::Duration;

use super::page::PageScope;
use super::record::check_snapshot;
use super::{BlockRun, RunOptions, SnapshotMode, SnapshotVerdict, Verdict};
use crate::engine::topology::Topology;
use crate::redact::{self, Class, Redactor};
use crate::snapshot::topology::{self as snap, Section};
use crate::snippet::Page;

/// The topology after every block that changed it, in the order the blocks ran.
/// `t` without the containers whose names the engine generated.
fn steady(t: Topology) -> Topology {
    t.without(|c| generated(&c.name))
}

/// While a command of the page runs, how long the engine may take to show what just ended (a server whose
/// client has gone), and how often it is asked.
const SETTLE_PAUSE: Duration = Duration::from_millis(150);
const SETTLE_TRIES: u32 = 10;

fn generated(name: &str) -> bool {
    redact::volatile_spans(name)
        .iter()
        .any(|s| s.class == Class::Name && s.range == (0..name.len()))
}

#[derive(Default)]
pub(super) struct TopologyLog {
    last: Topology,
    sections: Vec<Section>,
    /// Page line of the last block that changed it.
    line: usize,
    error: Option<String>,
    gone: crate::engine::topology::Gone,
}

impl TopologyLog {
    /// Takes the topology after the block `name` (at page line `line`) ran. While a command of the page
    /// still runs (`quiet` false: a server in one terminal, a client in another), the containers with
    /// names the engine made up are left out: those are throw-away clients (`docker run --rm`) whose
    /// container exists or not at that moment by timing alone, and would change the snapshot from run to
    /// run; named ones (the server) stay.
    pub fn observe(&mut self, scope: &PageScope<'_>, name: &str, line: usize, quiet: bool) {
        if self.error.is_some() {
            return;
        }
        let mut take = || {
            scope
                .topology(&mut self.gone)
                .map(|t| if quiet { t } else { steady(t) })
        };
        let mut taken = take();
        // A server in another terminal ends with its client, at a moment no block waits for, and the engine
        // reports its container running a little longer: through-the-host's picture after the last client
        // showed the listener in some runs and not in others. Asked again until two answers agree.
        for _ in 0..if quiet { 0 } else { SETTLE_TRIES } {
            std::thread::sleep(SETTLE_PAUSE);
            let again = take();
            let settled = matches!((&taken, &again), (Ok(a), Ok(b)) if a == b);
            taken = again;
            if settled {
                break;
            }
        }
        match taken {
            Ok(now) if now != self.last => {
                self.sections.push(Section {
                    after: name.to_string(),
                    topology: now.clone(),
                });
                self.last = now;
                self.line = line;
            }
            Ok(_) => {}
            Err(e) => self.error = Some(crate::error_chain(&e)),
        }
    }

    /// The page's topology snapshot checked: `None` when it matches or there is none yet (or the page built
    /// nothing and has none), else a run the report shows as it shows a block's changed snapshot.
    pub fn finish(
        self,
        page: &Page,
        redactor: &mut Redactor,
        options: &RunOptions,
        dir: &Path,
        engine: &str,
        date: &str,
    ) -> Option<BlockRun> {
        if options.snapshots == SnapshotMode::Skip {
            return None;
        }
        let name = snap::name(page);
        let snapshot = match self.error {
            Some(diff) => SnapshotVerdict::Changed {
                diff: format!("cannot take the page's topology: {diff}"),
                pending: None,
            },
            None => {
                if self.sections.is_empty() && !crate::snapshot::path(dir, &name).exists() {
                    return None;
                }
                let raw = snap::render(&self.sections);
                let body = snap::render_redacted(&self.sections, redactor);
                let meta = snap::meta(page, engine, date, raw);
                // Like a block's: an engine kind that draws another picture (Podman's default network is
                // `podman`, its addresses 10.88.x) keeps its own beside the shared one.
                match check_snapshot(options, dir, &name, &meta, &body) {
                    // A page recorded before topologies were taken is offered one for review (its
                    // `.snap.new`, outside CI) but does not fail for lacking it: the book's examples are
                    // as verified as they were, and its chapters replay without a picture.
                    SnapshotVerdict::Matches | SnapshotVerdict::New { .. } => return None,
                    other => other,
                }
            }
        };
        Some(BlockRun {
            line: self.line.max(1),
            name,
            verdict: Verdict::Verified,
            snapshot,
            transcript: String::new(),
            steps: Vec::new(),
            meta: Default::default(),
            elapsed: Duration::ZERO,
            hidden: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::topology::Container;

    // Regression: on Podman every page that draws a picture failed "snapshot changed" against the Docker
    // picture, with no `@podman` snapshot offered: the topology was checked against the shared snapshot
    // only. Another kind's picture is its own snapshot, as a block's transcript is.
    #[test]
    fn another_kinds_picture_is_its_own_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let page = crate::snippet::parse_page(Path::new("src/p.md"), "# P\n").unwrap();
        let log = |network: &str| TopologyLog {
            sections: vec![Section {
                after: "src-p__top-1".into(),
                topology: Topology {
                    networks: vec![],
                    containers: vec![Container {
                        name: "web".into(),
                        networks: vec![crate::engine::topology::Attachment {
                            network: network.into(),
                            ..Default::default()
                        }],
                        ..Container::default()
                    }],
                },
            }],
            line: 3,
            ..TopologyLog::default()
        };
        let options = |kind: Option<&str>| RunOptions {
            filter: None,
            partition: None,
            snapshots: SnapshotMode::CheckAndWritePending,
            color: false,
            engine_kind: kind.map(str::to_string),
            kinds_before: Vec::new(),
        };
        let finish = |network: &str, kind: Option<&str>| {
            log(network).finish(
                &page,
                &mut Redactor::new(),
                &options(kind),
                dir.path(),
                "e",
                "d",
            )
        };
        let name = snap::name(&page);
        assert!(
            finish("bridge", None).is_none(),
            "a first picture is offered, pending"
        );
        std::fs::rename(
            crate::snapshot::pending_path(dir.path(), &name),
            crate::snapshot::path(dir.path(), &name),
        )
        .unwrap();
        assert!(finish("bridge", Some("podman")).is_none());
        let differs = finish("podman", Some("podman")).expect("a different picture is reported");
        let SnapshotVerdict::Changed {
            pending: Some(pending),
            ..
        } = differs.snapshot
        else {
            panic!("{:?}", differs.snapshot);
        };
        assert!(
            pending.ends_with("src-p.topology@podman.snap.new"),
            "{pending:?}"
        );
        let own = crate::snapshot::engine_name(&name, "podman");
        std::fs::rename(&pending, crate::snapshot::path(dir.path(), &own)).unwrap();
        assert!(finish("podman", Some("podman")).is_none());
        assert!(
            finish("podman", None).is_some(),
            "the first kind still has the shared one"
        );
    }

    // A throw-away client named by the engine comes and goes with timing while a server runs: the steady
    // topology keeps the page's own names only.
    #[test]
    fn generated_names_are_left_out_while_a_command_runs() {
        let t = Topology {
            networks: vec![],
            containers: ["listener", "focused_shirley", "my_app"]
                .map(|n| Container {
                    name: n.into(),
                    ..Container::default()
                })
                .to_vec(),
        };
        let names: Vec<String> = steady(t).containers.into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["listener", "my_app"]);
    }
}
