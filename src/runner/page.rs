//! One page's run: what it holds in the engine (terminals, the proxy that records what it creates, a working
//! folder), released on every way out, unwinding included.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use super::block::PageRunner;
use super::{wait_for_engine, Observer, PageError, PageRun, RunOptions};
use crate::engine::policy::{Allowed, Refusal};
use crate::engine::{self, Engine, Inventory, Proxy, Removed, StepKind, Terminal, TerminalError};
use crate::snippet::{Page, Prompt, SessionChange};

/// Owns what a page holds in the engine, so that it is released on every way out, unwinding included.
pub(super) struct PageScope<'e> {
    pub terminals: BTreeMap<String, Terminal>,
    engine: &'e Engine,
    before: Option<Inventory>,
    /// Working directory of the page's terminals.
    workdir: Option<tempfile::TempDir>,
    /// The proxy the terminals reach the engine through, and the private folder of its socket.
    proxy: Option<(Proxy, tempfile::TempDir)>,
}

impl<'e> PageScope<'e> {
    /// Takes stock of the engine, then readies the page's working folder and proxy.
    fn open(engine: &'e Engine) -> Result<Self, PageError> {
        let mut scope = PageScope {
            terminals: BTreeMap::new(),
            engine,
            before: None,
            workdir: None,
            proxy: None,
        };
        scope.before = Some(wait_for_engine(|| engine.inventory())?);
        let folder = |what| move |source| PageError::Folder { what, source };
        scope.workdir = Some(
            tempfile::Builder::new()
                .prefix("docktest-page-")
                .tempdir()
                .map_err(folder("a working directory"))?,
        );
        let dir = tempfile::Builder::new()
            .prefix("docktest-proxy-")
            .tempdir()
            .map_err(folder("the proxy's folder"))?;
        let workdir = scope.workdir.as_ref().expect("made above").path();
        let before = scope.before.as_ref().expect("taken above");
        scope.proxy = Some((engine.start_proxy(dir.path(), workdir, before)?, dir));
        Ok(scope)
    }

    /// The powers beyond the sandbox the page's requests may use from now on.
    pub fn allow(&self, allowed: Allowed) {
        if let Some((proxy, _)) = &self.proxy {
            proxy.allow(allowed);
        }
    }

    /// What the proxy refused since the last call.
    pub fn take_refusals(&self) -> Vec<Refusal> {
        self.proxy
            .as_ref()
            .map(|(proxy, _)| proxy.take_refusals())
            .unwrap_or_default()
    }

    /// The IDs of the containers, networks and images the page made so far, for the redactor.
    pub fn created_ids(&self) -> Vec<String> {
        let Some((proxy, _)) = &self.proxy else {
            return Vec::new();
        };
        let created = proxy.created();
        [created.containers, created.networks, created.images].concat()
    }

    /// The terminal `name`, started in the page's working folder the first time a block uses it.
    pub fn terminal(&mut self, name: &str) -> Result<&mut Terminal, TerminalError> {
        if !self.terminals.contains_key(name) {
            let cwd = self
                .workdir
                .as_ref()
                .map(|d| d.path().to_path_buf())
                .unwrap_or_else(std::env::temp_dir);
            let host = self
                .proxy
                .as_ref()
                .map_or_else(|| self.engine.endpoint().host.clone(), |(p, _)| p.host());
            let term = Terminal::start(name, &self.engine.terminal_setup(&cwd, &host))?;
            self.terminals.insert(name.to_string(), term);
        }
        Ok(self.terminals.get_mut(name).expect("inserted above"))
    }

    /// Leaves every open container session (the docker CLI attached to it is killed; the container itself
    /// is removed with the page), so that teardown blocks start at a host prompt.
    pub fn close_sessions(&mut self) {
        let lost: Vec<String> = self
            .terminals
            .iter_mut()
            .filter(|(_, t)| t.in_session())
            .filter_map(|(name, t)| t.close_session().is_err().then(|| name.clone()))
            .collect();
        for name in lost {
            self.terminals.remove(&name);
        }
    }

    /// The network the page has built so far.
    pub fn topology(
        &self,
        gone: &mut engine::topology::Gone,
    ) -> Result<engine::topology::Topology, engine::EngineError> {
        match &self.proxy {
            Some((proxy, _)) => self.engine.topology(&proxy.created(), gone),
            None => Ok(Default::default()),
        }
    }

    /// Whether the engine stopped or restarted under the page (its proxy saw the connection drop).
    fn engine_lost(&self) -> bool {
        self.proxy.as_ref().is_some_and(|(p, _)| p.engine_lost())
    }

    /// Closes the terminals (killing what still runs in them), then removes what the page created.
    fn release(&mut self) -> Result<Removed, PageError> {
        self.terminals.clear();
        self.workdir.take();
        let Some((proxy, dir)) = self.proxy.take() else {
            return Ok(Removed::default());
        };
        let created = proxy.created();
        drop(proxy);
        let before = self.before.take().unwrap_or_default();
        // The journal stays when this fails: `mdbook-docktest clean` finishes the job once the engine is back.
        let removed = wait_for_engine(|| self.engine.remove_page(dir.path(), &created, &before))
            .map_err(PageError::Unfinished)?;
        engine::forget_journal(dir.path());
        Ok(removed)
    }
}

impl Drop for PageScope<'_> {
    fn drop(&mut self) {
        if self.proxy.is_some() {
            if let Err(e) = self.release() {
                eprintln!(
                    "error: cleanup after a failed page: {}",
                    crate::error_chain(&e)
                );
            }
        }
    }
}

pub(super) fn run_page(
    engine: &Engine,
    page: &Page,
    book_allow: &Allowed,
    options: &RunOptions,
    snapshot_dir: &Path,
    date: &str,
    observer: &mut dyn Observer,
) -> PageRun {
    let start = Instant::now();
    let mut scope = match PageScope::open(engine) {
        Ok(scope) => scope,
        Err(e) => {
            return PageRun {
                path: page.path.clone(),
                blocks: Vec::new(),
                cleanup: Err(e),
                problem: None,
                elapsed: start.elapsed(),
            }
        }
    };
    let mut run = PageRunner::new(
        page,
        step_kinds(page),
        book_allow,
        options,
        snapshot_dir,
        date,
        engine.info(),
    );
    let order = page.run_order();
    let names = crate::snapshot::names(page);
    let mut topology = super::topology::TopologyLog::default();
    let mut teardown_started = false;
    for (pos, &i) in order.iter().enumerate() {
        if engine::cancelled() {
            break;
        }
        let block = &page.blocks[i];
        if block.attrs.teardown && !teardown_started {
            teardown_started = true;
            run.settle_all(&mut scope, observer);
            scope.close_sessions();
        }
        // The next block that runs decides whether this block's last command may keep running.
        let next_term = order
            .get(pos + 1)
            .map(|&j| page.blocks[j].attrs.term.as_str());
        run.run_block(&mut scope, i, next_term, observer);
        if block.attrs.ignore.is_none() {
            // A server this block's client has just ended (`nc -l` in another terminal) goes when it goes:
            // the next block waits for it before anything else, so it is waited for before the network is
            // taken, which then does not depend on how fast it went (through-the-host's listener was
            // drawn after its client's block in some runs only).
            match order.get(pos + 1).map(|&j| (j, &page.blocks[j])) {
                Some((_, next)) if next.attrs.teardown && !teardown_started => {
                    run.settle_all(&mut scope, observer)
                }
                Some((j, next)) if next.attrs.term != block.attrs.term => {
                    run.settle_before(&mut scope, j, observer)
                }
                _ => {}
            }
            topology.observe(&scope, &names[i], block.line, run.quiet());
        }
    }
    run.settle_all(&mut scope, observer);
    let mut redactor = run.redactor.clone();
    let mut blocks = run.into_blocks();
    let engine_info = engine.info().to_string();
    if let Some(changed) = topology.finish(
        page,
        &mut redactor,
        options,
        snapshot_dir,
        &engine_info,
        date,
    ) {
        observer.block_done(page, &changed);
        blocks.push(changed);
    }
    let problem = scope.engine_lost().then(|| {
        format!(
            "the Docker engine stopped or restarted while this page ran (engine {}); its results do not \
             count (run the page again once the engine is steady)",
            engine.endpoint().host
        )
    });
    let cleanup = scope.release();
    PageRun {
        path: page.path.clone(),
        blocks,
        cleanup,
        problem,
        elapsed: start.elapsed(),
    }
}

/// How each step of the page is typed. An opening command followed (in its terminal, maybe in a later
/// block) by a detach written alone on its line, with no command typed in its session before it, attaches
/// to a program that is not a shell.
fn step_kinds(page: &Page) -> Vec<Vec<StepKind>> {
    let mut kinds: Vec<Vec<StepKind>> = Vec::new();
    let mut last_open: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (b, block) in page.blocks.iter().enumerate() {
        let mut row = Vec::new();
        for (k, step) in block.steps.iter().enumerate() {
            let kind = match (&step.prompt, &step.session) {
                (_, SessionChange::Exit) => StepKind::Exit,
                (Prompt::Container(p), SessionChange::Detach) => {
                    if p.is_empty() {
                        if let Some(&(ob, ok)) = last_open.get(block.attrs.term.as_str()) {
                            let lines = page.blocks[ob].steps[ok].expected.len();
                            if ob == b {
                                row[ok] = StepKind::Attach { lines };
                            } else {
                                kinds[ob][ok] = StepKind::Attach { lines };
                            }
                        }
                    }
                    StepKind::Detach
                }
                (Prompt::Host, SessionChange::Detach) => StepKind::Detach,
                (Prompt::Host, SessionChange::Open) => {
                    last_open.insert(block.attrs.term.as_str(), (b, k));
                    StepKind::OpenShell
                }
                (Prompt::Host, SessionChange::None) => StepKind::Host,
                (Prompt::Container(_), _) => {
                    // The session showed a prompt: whatever opened it runs a shell.
                    last_open.remove(block.attrs.term.as_str());
                    StepKind::Container
                }
            };
            row.push(kind);
        }
        kinds.push(row);
    }
    kinds
}
