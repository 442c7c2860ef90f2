//! The page's network, taken after each block from what the page's proxy recorded, and checked against the
//! page's topology snapshot (`snapshot::topology`) once the page is done.

use std::path::Path;
use std::time::Duration;

use super::page::PageScope;
use super::record::check_one;
use super::{BlockRun, RunOptions, SnapshotMode, SnapshotVerdict, Verdict};
use crate::engine;
use crate::engine::topology::Topology;
use crate::redact::{self, Class, Redactor};
use crate::snapshot::topology::{self as snap, Section};
use crate::snippet::Page;

/// The topology after every block that changed it, in the order the blocks ran.
/// `t` without the containers whose names the engine generated.
/// A default network (`bridge`) is drawn for the containers on it, so one that only a left-out container
/// joined is left out with it: through-the-host's topology listed `bridge` alone in some runs, while a
/// throw-away client on it was being removed.
fn steady(mut t: Topology) -> Topology {
    t.containers.retain(|c| !generated(&c.name));
    let joined = |network: &str| {
        t.containers.iter().any(|c| {
            c.mode.as_deref() == Some(network) || c.networks.iter().any(|a| a.network == network)
        })
    };
    let keep: Vec<bool> = t
        .networks
        .iter()
        .map(|n| !engine::topology::is_default_network(&n.name) || joined(&n.name))
        .collect();
    let mut keep = keep.into_iter();
    t.networks.retain(|_| keep.next().unwrap_or(true));
    t
}

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
        match scope.topology().map(|t| if quiet { t } else { steady(t) }) {
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
                match check_one(options, dir, &name, &meta, &body) {
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

    // through-the-host's topology listed the default bridge alone in some runs: the throw-away client that
    // joined it was left out, its network not. A default network stays while a kept container is on it, and
    // the page's own networks always stay.
    #[test]
    fn a_default_network_goes_with_the_containers_left_out() {
        use crate::engine::topology::{Attachment, Network};
        let on = |name: &str, network: &str| Container {
            name: name.into(),
            networks: vec![Attachment {
                network: network.into(),
                ..Attachment::default()
            }],
            ..Container::default()
        };
        let net = |name: &str| Network {
            name: name.into(),
            ..Network::default()
        };
        let t = Topology {
            networks: vec![net("elsewhere"), net("bridge")],
            containers: vec![on("focused_shirley", "bridge")],
        };
        let names: Vec<String> = steady(t).networks.into_iter().map(|n| n.name).collect();
        assert_eq!(names, ["elsewhere"]);
        let t = Topology {
            networks: vec![net("bridge")],
            containers: vec![on("focused_shirley", "bridge"), on("listener", "bridge")],
        };
        assert_eq!(steady(t).networks.len(), 1);
    }
}
