//! The page's network, taken after each block from what the page's proxy recorded, and checked against the
//! page's topology snapshot (`snapshot::topology`) once the page is done.

use std::path::Path;
use std::time::Duration;

use super::page::PageScope;
use super::record::check_one;
use super::{BlockRun, RunOptions, SnapshotMode, SnapshotVerdict, Verdict};
use crate::engine::topology::Topology;
use crate::redact::Redactor;
use crate::snapshot::topology::{self as snap, Section};
use crate::snippet::Page;

/// The topology after every block that changed it, in the order the blocks ran.
#[derive(Default)]
pub(super) struct TopologyLog {
    last: Topology,
    sections: Vec<Section>,
    /// Page line of the last block that changed it.
    line: usize,
    error: Option<String>,
}

impl TopologyLog {
    /// Takes the topology after the block `name` (at page line `line`) ran.
    pub fn observe(&mut self, scope: &PageScope<'_>, name: &str, line: usize) {
        if self.error.is_some() {
            return;
        }
        match scope.topology() {
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

    /// The page's topology snapshot checked: `None` when it matches (or the page built nothing and has no
    /// snapshot), else a run the report shows as it shows a block's changed snapshot.
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
                // After the page's transcripts: values they showed keep their placeholders.
                let body = redactor.redact(&raw);
                let meta = snap::meta(page, engine, date, raw);
                match check_one(options, dir, &name, &meta, &body) {
                    SnapshotVerdict::Matches => return None,
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
