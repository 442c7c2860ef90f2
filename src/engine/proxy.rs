//! A pass-through proxy between a page's terminals and the engine, which notes every container, network,
//! volume and committed image the page creates.
//!
//! Cleanup must remove exactly what the page made: diffing the engine's inventory before and after a page
//! would also remove what anyone else created on the same engine meanwhile. The docker CLI in the page's
//! terminals talks to this socket instead of the engine's; requests and responses pass unchanged (streams
//! and the hijacked connections of `attach` and `exec` included), and the IDs in the answers to `create`
//! calls are recorded, in memory and in a journal file that `mdbook-docktest clean` reads after a run was
//! killed.
//!
//! The proxy is also where the page's sandbox is enforced: the bodies of container, exec and volume creates
//! are read whole and put to [`policy::check`] before anything is forwarded. A refused request never reaches
//! the engine: the CLI gets the engine's own kind of refusal (HTTP 403, `{"message": …}`), and the refusal
//! is kept for the runner, which fails the block with it.
//! Two changes keep what a run creates findable when the journal cannot be trusted (a run killed between the
//! engine's answer and the journal write): every create the proxy forwards carries the label
//! [`JOURNAL_LABEL`], naming the run's journal, and that label is taken out again of what the engine tells
//! the page (inspect and list answers, events), so readers see what a stock engine shows.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::policy::{self, Allowed, Check, Refusal};
/// The label the proxy puts on every container, network and volume it forwards a create for. Its value is
/// [`owner_label`]'s: the run's journal and the machine it runs on, so `clean` can tell a dead run's
/// objects from a live one's, and from those of runs on other machines sharing the engine.
pub(crate) const JOURNAL_LABEL: &str = "io.docktest.journal";

/// The value of [`JOURNAL_LABEL`] for the page whose journal is `<stem>.journal`: `<stem>@<machine>`.
pub(crate) fn owner_label(stem: &str) -> String {
    format!("{stem}@{}", machine())
}

/// This machine's name, as `owner_label` records it.
pub(crate) fn machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// What a page created, in order of creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    /// Images made by `docker commit`, by ID.
    pub images: Vec<String>,
    /// Image references the page made that did not exist before it (`docker build -t`, `docker tag`).
    pub tags: Vec<String>,
}

impl Created {
    pub(crate) fn push(&mut self, kind: Kind, id: String) {
        match kind {
            Kind::Container => self.containers.push(id),
            Kind::Network => self.networks.push(id),
            Kind::Volume => self.volumes.push(id),
            Kind::Image => self.images.push(id),
            Kind::Tag => self.tags.push(id),
        }
    }

    /// Adds what `other` lists and this does not.
    pub(crate) fn absorb(&mut self, other: Created) {
        for (mine, theirs) in [
            (&mut self.containers, other.containers),
            (&mut self.networks, other.networks),
            (&mut self.volumes, other.volumes),
            (&mut self.images, other.images),
            (&mut self.tags, other.tags),
        ] {
            for id in theirs {
                if !mine.contains(&id) {
                    mine.push(id);
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("cannot start the engine proxy at {path}")]
    Bind {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the engine proxy supports unix:// and tcp:// engines without TLS, not {host}")]
    Unsupported { host: String },
}

/// What the page may do now, and what it asked for and was refused since the runner last looked: shared
/// between the runner (which sets the grants before each block) and the proxy.
#[derive(Debug, Default)]
struct Guard {
    allowed: Allowed,
    refusals: Vec<Refusal>,
    /// Names the page gave the containers it created (`--volumes-from` takes names).
    names: Vec<String>,
}

/// A running proxy; stops when dropped.
pub struct Proxy {
    socket: PathBuf,
    created: Arc<Mutex<Created>>,
    guard: Arc<Mutex<Guard>>,
    lost: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Listens on `socket`, forwarding to the engine at `upstream` (`unix:///…` or `tcp://host:port`).
    /// Creations are appended to `journal` as `container <id>` lines as they happen, and carry
    /// [`JOURNAL_LABEL`]`=label`. `folder` is the page's working folder, the one host path its containers
    /// may bind-mount without a grant. Image references the page makes are the page's unless they are
    /// among `references_before`.
    pub fn start(
        socket: &Path,
        upstream: &str,
        journal: PathBuf,
        folder: &Path,
        label: String,
        references_before: BTreeSet<String>,
    ) -> Result<Proxy, ProxyError> {
        let Some(upstream) = Upstream::of(upstream) else {
            return Err(ProxyError::Unsupported {
                host: upstream.to_string(),
            });
        };
        let bind_err = |source| ProxyError::Bind {
            path: socket.to_path_buf(),
            source,
        };
        let std_listener = std::os::unix::net::UnixListener::bind(socket).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let created = Arc::new(Mutex::new(Created::default()));
        let lost = Arc::new(AtomicBool::new(false));
        let guard = Arc::new(Mutex::new(Guard::default()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let state = Arc::new(State {
            upstream,
            created: created.clone(),
            guard: guard.clone(),
            folder: folder.to_path_buf(),
            journal: Mutex::new(journal),
            label,
            lost: lost.clone(),
            references_before,
        });
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(bind_err)?;
        let thread = std::thread::Builder::new()
            .name("docktest-proxy".into())
            .spawn(move || rt.block_on(serve(std_listener, state, stop_rx)))
            .map_err(bind_err)?;
        Ok(Proxy {
            socket: socket.to_path_buf(),
            created,
            guard,
            lost,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// `unix://…` for the terminals' `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Whether the engine went away (stopped, restarted) while the proxy ran.
    pub fn engine_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// What was created through the proxy so far.
    pub fn created(&self) -> Created {
        self.created
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The powers the page's requests may use from now on (the block about to run).
    pub fn allow(&self, allowed: Allowed) {
        lock(&self.guard).allowed = allowed;
    }

    /// The requests refused since the last call, in order.
    pub fn take_refusals(&self) -> Vec<Refusal> {
        std::mem::take(&mut lock(&self.guard).refusals)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.socket);
    }
}

enum Upstream {
    Unix(PathBuf),
    Tcp(String),
}

/// Either kind of connection to the engine.
trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

impl Upstream {
    /// The engine at `host` (`unix:///…`, `tcp://host:port` without TLS, or `ssh://…` through its bridge),
    /// when the proxy can reach it.
    fn of(host: &str) -> Option<Upstream> {
        let tls = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty());
        match (host.strip_prefix("unix://"), host.strip_prefix("tcp://")) {
            (Some(path), _) => Some(Upstream::Unix(PathBuf::from(path))),
            (_, Some(addr)) if !tls => Some(Upstream::Tcp(addr.to_string())),
            _ if host.starts_with("ssh://") => {
                super::ssh::socket_for(host).ok().map(Upstream::Unix)
            }
            _ => None,
        }
    }

    async fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        Ok(match self {
            Upstream::Unix(path) => Box::new(tokio::net::UnixStream::connect(path).await?),
            Upstream::Tcp(addr) => Box::new(tokio::net::TcpStream::connect(addr).await?),
        })
    }
}

struct State {
    upstream: Upstream,
    created: Arc<Mutex<Created>>,
    guard: Arc<Mutex<Guard>>,
    /// The page's working folder.
    folder: PathBuf,
    journal: Mutex<PathBuf>,
    /// The value of [`JOURNAL_LABEL`] on what this page creates.
    label: String,
    /// Set when the engine's event stream broke: it stopped or restarted while the page ran.
    lost: Arc<AtomicBool>,
    /// The image references the engine had when the page began: a page's `docker tag` onto one of those
    /// is not the page's to remove.
    references_before: BTreeSet<String>,
}

impl State {
    /// The policy's answer to `request` with `body`, from the page's sandbox as it is now; a refusal is
    /// kept for the runner.
    fn screen(&self, request: policy::Request, body: &[u8]) -> Check {
        let mut guard = lock(&self.guard);
        let own: Vec<String> = lock(&self.created)
            .containers
            .iter()
            .chain(&guard.names)
            .cloned()
            .collect();
        let sandbox = policy::Sandbox {
            allowed: &guard.allowed,
            folder: &self.folder,
            own: &own,
        };
        let check = policy::check(request, body, &sandbox);
        if let Check::Refused(refusal) = &check {
            guard.refusals.push(refusal.clone());
        }
        check
    }

    fn record(&self, kind: Kind, id: String) {
        if kind == Kind::Tag && self.references_before.contains(&id) {
            // Not the page's: it only moved a reference someone had (which cannot be given back).
            return;
        }
        lock(&self.created).push(kind, id.clone());
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        // Best effort: the journal only matters if the run is killed before its own cleanup.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&*journal)
        {
            let _ = writeln!(f, "{} {id}", kind.word());
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Container,
    Network,
    Volume,
    Image,
    /// An image reference (`name:tag`).
    Tag,
}

impl Kind {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Network => "network",
            Kind::Volume => "volume",
            Kind::Image => "image",
            Kind::Tag => "tag",
        }
    }

    pub(crate) fn from_word(word: &str) -> Option<Kind> {
        match word {
            "container" => Some(Kind::Container),
            "network" => Some(Kind::Network),
            "volume" => Some(Kind::Volume),
            "image" => Some(Kind::Image),
            "tag" => Some(Kind::Tag),
            _ => None,
        }
    }
}

/// The image references a request names for the engine to make: every `t` of `POST /build`, and
/// `repo:tag` of `POST /images/NAME/tag` and of `POST /commit`, each in its full spelling
/// (`docker.io/library/name:latest`).
fn made_references(method: &Method, uri: &hyper::Uri) -> Vec<String> {
    if method != Method::POST {
        return Vec::new();
    }
    let path = policy::unversioned(uri.path());
    let query = || form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes());
    let references: Vec<String> = if path == "/build" {
        query()
            .filter(|(k, _)| k == "t")
            .map(|(_, v)| v.into_owned())
            .collect()
    } else if path == "/commit" || path.starts_with("/images/") && path.ends_with("/tag") {
        let get = |key: &str| query().find(|(k, _)| k == key).map(|(_, v)| v.into_owned());
        match (get("repo"), get("tag")) {
            (Some(repo), Some(tag)) if !tag.is_empty() => vec![format!("{repo}:{tag}")],
            (Some(repo), _) => vec![repo],
            (None, _) => Vec::new(),
        }
    } else {
        Vec::new()
    };
    references
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| super::images::full_reference(r))
        .collect()
}

/// Which create call a request is, if any: `POST [/v1.41]/containers/create`, …, and `POST /commit`, which
/// makes an image of a container.
fn create_kind(method: &Method, path: &str) -> Option<Kind> {
    if method != Method::POST {
        return None;
    }
    match policy::unversioned(path).as_str() {
        "/containers/create" => Some(Kind::Container),
        "/networks/create" => Some(Kind::Network),
        "/volumes/create" => Some(Kind::Volume),
        "/commit" => Some(Kind::Image),
        _ => None,
    }
}

/// The ID (containers, networks, images) or name (volumes) in a create call's answer.
fn created_id(kind: Kind, body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let key = match kind {
        Kind::Volume => "Name",
        Kind::Container | Kind::Network | Kind::Image => "Id",
        // Read from the request (`made_references`), not from an answer.
        Kind::Tag => return None,
    };
    value.get(key)?.as_str().map(String::from)
}

async fn serve(
    listener: std::os::unix::net::UnixListener,
    state: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::UnixListener::from_std(listener) else {
        return;
    };
    tokio::spawn(watch_engine(state.clone()));
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { forward(req, state).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                });
            }
        }
    }
}

/// The `Server` and `Api-Version` headers of the engine's answer to `HEAD /_ping` (`Docker/20.10.24+dfsg1
/// (linux)` or `Libpod/4.3.1 (linux)`, and `1.41`), when the engine at `host` can be reached this way and
/// sends both.
pub(super) async fn ping_headers(host: &str) -> Option<(String, String)> {
    let stream = Upstream::of(host)?.connect().await.ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    let request = Request::head("/_ping")
        .header(hyper::header::HOST, "docker")
        .body(http_body_util::Empty::<Bytes>::new())
        .ok()?;
    let response = sender.send_request(request).await.ok()?;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Some((header("server")?, header("api-version")?))
}

/// Follows the engine's event stream for as long as the proxy runs: the engine ends it only when it stops,
/// so its end means the page's view of the engine broke.
async fn watch_engine(state: Arc<State>) {
    let lost = || state.lost.store(true, Ordering::SeqCst);
    let Ok(stream) = state.upstream.connect().await else {
        return lost();
    };
    let Ok((mut sender, conn)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return lost();
    };
    tokio::spawn(conn);
    let request = Request::get("/events")
        .header(hyper::header::HOST, "docker")
        .body(http_body_util::Empty::<Bytes>::new());
    let Ok(request) = request else {
        return lost();
    };
    let Ok(response) = sender.send_request(request).await else {
        return lost();
    };
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        if frame.is_err() {
            break;
        }
    }
    lost();
}

type Body = BoxBody<Bytes, hyper::Error>;

async fn forward(
    mut req: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Body>, hyper::Error> {
    let kind = create_kind(req.method(), req.uri().path());
    let name = container_name(kind, req.uri());
    let references = made_references(req.method(), req.uri());
    let answer = Answer::of(req.method(), req.uri().path());
    let wants_upgrade = req.headers().contains_key(hyper::header::UPGRADE);
    let client_side = wants_upgrade.then(|| hyper::upgrade::on(&mut req));
    let req = match screen(req, &state).await? {
        Ok(req) => req,
        Err(refused) => return Ok(refused),
    };
    let req = label_create(req, kind, &state.label).await?;

    let upstream = match state.upstream.connect().await {
        Ok(s) => s,
        Err(e) => return Ok(bad_gateway(&format!("cannot reach the engine: {e}"))),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(upstream)).await?;
    tokio::spawn(conn.with_upgrades());
    // Recorded before the engine makes them: a run killed between the engine's answer and the journal's
    // line would otherwise leave a reference `clean` cannot find (an image keeps no label of the proxy's).
    // One the request then fails to make is not there to remove, which removal skips.
    for reference in references {
        state.record(Kind::Tag, reference);
    }
    let mut resp = sender.send_request(req).await?;
    if let Some(answer) = answer.filter(|_| resp.status().is_success()) {
        return unlabel_answer(resp, answer).await;
    }

    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client_side) = client_side {
            let engine_side = hyper::upgrade::on(&mut resp);
            tokio::spawn(async move {
                if let (Ok(client), Ok(engine)) = (client_side.await, engine_side.await) {
                    let _ = tokio::io::copy_bidirectional(
                        &mut TokioIo::new(client),
                        &mut TokioIo::new(engine),
                    )
                    .await;
                }
            });
        }
        return Ok(resp.map(|b| b.boxed()));
    }
    match kind {
        Some(kind) if resp.status().is_success() => {
            let (parts, body) = resp.into_parts();
            let bytes = body.collect().await?.to_bytes();
            if let Some(id) = created_id(kind, &bytes) {
                state.record(kind, id);
                lock(&state.guard).names.extend(name);
            }
            Ok(Response::from_parts(parts, full(bytes)))
        }
        _ => Ok(resp.map(|b| b.boxed())),
    }
}

/// The name a container create gives its container (`?name=web`), if any.
fn container_name(kind: Option<Kind>, uri: &hyper::Uri) -> Option<String> {
    if kind != Some(Kind::Container) {
        return None;
    }
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, v)| k == "name" && !v.is_empty())
        .map(|(_, v)| v.into_owned())
}

/// Reads a request's whole body, for the requests whose body must be looked at before it is forwarded.
async fn buffer_body(
    req: Request<Incoming>,
) -> Result<(hyper::http::request::Parts, Bytes), hyper::Error> {
    let (parts, body) = req.into_parts();
    Ok((parts, body.collect().await?.to_bytes()))
}

/// Puts the requests the sandbox covers to the policy: `Ok` with the request to forward (the same bytes),
/// or `Err` with the answer the CLI gets instead; every other request passes as it streams.
async fn screen(
    req: Request<Incoming>,
    state: &State,
) -> Result<Result<Request<Body>, Response<Body>>, hyper::Error> {
    let Some(request) = policy::Request::of(req.method(), req.uri().path()) else {
        return Ok(Ok(req.map(|b| b.boxed())));
    };
    let (parts, bytes) = buffer_body(req).await?;
    Ok(match state.screen(request, &bytes) {
        Check::Allowed => Ok(Request::from_parts(
            parts,
            Full::new(bytes).map_err(|never| match never {}).boxed(),
        )),
        // As the engine refuses what it will not do, so the CLI prints `Error response from daemon: …`.
        Check::Refused(refusal) => Err(json_error(StatusCode::FORBIDDEN, &refusal.to_string())),
        Check::Unreadable(why) => Err(json_error(
            StatusCode::BAD_REQUEST,
            &format!("docktest did not forward this request: {why}"),
        )),
    })
}

/// A create request with [`JOURNAL_LABEL`] added to its body's `Labels`; any other request as it is. A body
/// that is not a JSON object goes on unchanged, for the engine to refuse.
async fn label_create(
    req: Request<Body>,
    kind: Option<Kind>,
    label: &str,
) -> Result<Request<Body>, hyper::Error> {
    // A committed image is found through the page's journal; an image keeps its labels in its config for
    // as long as it exists, so the label stays off it.
    if !matches!(kind, Some(Kind::Container | Kind::Network | Kind::Volume)) {
        return Ok(req);
    }
    let (mut parts, body) = req.into_parts();
    let bytes = body.collect().await?.to_bytes();
    let bytes = with_label(&bytes, label).map_or(bytes, Bytes::from);
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(hyper::header::CONTENT_LENGTH, bytes.len().into());
    Ok(Request::from_parts(parts, full(bytes)))
}

/// `body` (a create call's JSON) with `Labels[JOURNAL_LABEL] = label`; `None` when it is not a JSON object.
fn with_label(body: &[u8], label: &str) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    let labels = object
        .entry("Labels")
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !labels.is_object() {
        *labels = serde_json::Value::Object(Default::default());
    }
    labels
        .as_object_mut()
        .expect("made an object above")
        .insert(JOURNAL_LABEL.to_string(), label.into());
    serde_json::to_vec(&value).ok()
}

/// An answer of the engine that can show [`JOURNAL_LABEL`] to the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Container, network and image inspect and list answers, `system df`.
    Labels,
    /// Volume inspect and list: a volume without labels shows `"Labels":null`.
    VolumeLabels,
    /// The event stream, one JSON object per event.
    Events,
}

impl Answer {
    /// `GET [/v1.41]/containers/json`, `/containers/ID/json`, `/networks[/ID]`, `/volumes[/NAME]`,
    /// `/images/NAME/json`, `/system/df`, `/events`.
    fn of(method: &Method, path: &str) -> Option<Answer> {
        if method != Method::GET {
            return None;
        }
        let path = policy::unversioned(path);
        let mut segments = path.trim_start_matches('/').split('/');
        match (
            segments.next()?,
            segments.next(),
            segments.next(),
            segments.next(),
        ) {
            ("containers", Some(_), Some("json"), None) | ("containers", Some("json"), None, _) => {
                Some(Answer::Labels)
            }
            ("networks", None | Some(_), None, _) => Some(Answer::Labels),
            ("volumes", None | Some(_), None, _) => Some(Answer::VolumeLabels),
            ("images", Some(_), ..) if path.ends_with("/json") && path != "/images/json" => {
                Some(Answer::Labels)
            }
            ("system", Some("df"), None, _) => Some(Answer::Labels),
            ("events", None, ..) => Some(Answer::Events),
            _ => None,
        }
    }
}

/// The engine's answer without [`JOURNAL_LABEL`]: whole for inspect and list answers, event by event for the
/// stream of events (which must not wait for its end).
async fn unlabel_answer(
    resp: Response<Incoming>,
    answer: Answer,
) -> Result<Response<Body>, hyper::Error> {
    let (mut parts, body) = resp.into_parts();
    if answer == Answer::Events {
        let body = body.map_frame(|frame| {
            frame.map_data(|data| without_label(&data, false).map_or(data, Bytes::from))
        });
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        return Ok(Response::from_parts(parts, body.boxed()));
    }
    let bytes = body.collect().await?.to_bytes();
    let Some(stripped) = without_label(&bytes, answer == Answer::VolumeLabels) else {
        return Ok(Response::from_parts(parts, full(bytes)));
    };
    parts.headers.remove(hyper::header::TRANSFER_ENCODING);
    parts
        .headers
        .insert(hyper::header::CONTENT_LENGTH, stripped.len().into());
    Ok(Response::from_parts(parts, full(Bytes::from(stripped))))
}

/// `json` with every `"io.docktest.journal":"…"` member taken out, its comma with it; every other byte as
/// the engine wrote it (key order, spacing, escapes), so the docker CLI prints what it would print for a
/// stock engine. With `empty_is_null`, a `Labels` left empty becomes `null`, as the engine shows a volume
/// created without labels. `None` when there is no such member.
fn without_label(json: &[u8], empty_is_null: bool) -> Option<Vec<u8>> {
    static MEMBER: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
        let key = regex::escape(JOURNAL_LABEL);
        regex::bytes::Regex::new(&format!(r#""{key}"\s*:\s*"(?:[^"\\]|\\.)*""#))
            .expect("a valid pattern")
    });
    let found: Vec<(usize, usize)> = MEMBER
        .find_iter(json)
        .map(|m| (m.start(), m.end()))
        .collect();
    if found.is_empty() {
        return None;
    }
    let space = |bytes: &mut dyn Iterator<Item = &u8>| {
        bytes.take_while(|b| b.is_ascii_whitespace()).count()
    };
    let mut out = Vec::with_capacity(json.len());
    let mut kept = 0;
    for (start, end) in found {
        let after = end + space(&mut json[end..].iter());
        let before = start - space(&mut json[..start].iter().rev());
        let (cut, replacement): ((usize, usize), &[u8]) = if json.get(after) == Some(&b',') {
            // First or middle member: its comma goes with it, and the space after that comma.
            let next = after + 1 + space(&mut json[after + 1..].iter());
            ((start, next), b"")
        } else if before > 0 && json[before - 1] == b',' {
            // Last member: the comma before it goes.
            ((before - 1, end), b"")
        } else if empty_is_null
            && before > 0
            && json[before - 1] == b'{'
            && json.get(after) == Some(&b'}')
            && is_labels_value(&json[..before - 1])
        {
            // The only label: `"Labels":{…}` becomes `"Labels":null`.
            ((before - 1, after + 1), b"null")
        } else {
            ((start, end), b"")
        };
        out.extend_from_slice(&json[kept..cut.0.max(kept)]);
        out.extend_from_slice(replacement);
        kept = cut.1;
    }
    out.extend_from_slice(&json[kept..]);
    Some(out)
}

/// Whether `head` ends with `"Labels":`, so the object after it is an object's labels.
fn is_labels_value(head: &[u8]) -> bool {
    head.trim_ascii_end()
        .strip_suffix(b":")
        .is_some_and(|h| h.trim_ascii_end().ends_with(br#""Labels""#))
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn bad_gateway(message: &str) -> Response<Body> {
    json_error(StatusCode::BAD_GATEWAY, message)
}

/// An answer in the engine's own error form.
fn json_error(status: StatusCode, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut resp = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every create call the docker CLI makes is recognized, versioned or not; nothing else is.
    // `docker build -t` and `docker tag` make names the page owns: read from the request, as the engine
    // answers a tag with no body and a build with a stream.
    #[test]
    fn builds_and_tags_name_the_references_they_make() {
        let refs = |method: Method, uri: &str| made_references(&method, &uri.parse().unwrap());
        assert_eq!(
            refs(Method::POST, "/v1.41/build?t=app%3A1&t=me%2Fapp&q=1"),
            ["docker.io/library/app:1", "docker.io/me/app:latest"]
        );
        assert_eq!(
            refs(
                Method::POST,
                "/v1.41/images/alpine/tag?repo=docker.io%2Flibrary%2Fusers&tag=keep"
            ),
            ["docker.io/library/users:keep"]
        );
        assert_eq!(
            refs(Method::POST, "/images/alpine/tag?repo=users&tag="),
            ["docker.io/library/users:latest"]
        );
        // `docker commit web users:v1`: the committed image gets the name too.
        assert_eq!(
            refs(
                Method::POST,
                "/v1.41/commit?container=web&repo=users&tag=v1"
            ),
            ["docker.io/library/users:v1"]
        );
        assert!(refs(Method::POST, "/v1.41/commit?container=web").is_empty());
        assert!(refs(Method::POST, "/v1.41/build?q=1").is_empty());
        assert!(refs(Method::GET, "/v1.41/build?t=app").is_empty());
        assert!(refs(Method::POST, "/v1.41/images/create?fromImage=alpine").is_empty());
    }

    // Regression: a run killed between the engine's answer to `docker tag` (or a build, or a commit) and the
    // journal's line left the new name on the engine, where `clean` could not find it: an image carries no
    // label of the proxy's. The name is in the journal before the engine has answered.
    #[test]
    fn a_reference_is_in_the_journal_before_the_engine_answers() {
        use std::io::{Read, Write};
        let dir = tempfile::tempdir().unwrap();
        // An engine that takes every request and never answers.
        let engine =
            std::os::unix::net::UnixListener::bind(dir.path().join("engine.sock")).unwrap();
        std::thread::spawn(move || {
            for conn in engine.incoming().flatten() {
                std::thread::spawn(move || {
                    let mut conn = conn;
                    let mut buf = [0u8; 4096];
                    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
                });
            }
        });
        let journal = dir.path().join("page.journal");
        let proxy = Proxy::start(
            &dir.path().join("docker.sock"),
            &format!("unix://{}", dir.path().join("engine.sock").display()),
            journal.clone(),
            dir.path(),
            "label".to_string(),
            BTreeSet::new(),
        )
        .unwrap();
        let mut client =
            std::os::unix::net::UnixStream::connect(dir.path().join("docker.sock")).unwrap();
        client
            .write_all(
                b"POST /v1.41/images/alpine/tag?repo=users&tag=v1 HTTP/1.1\r\nHost: docker\r\n\
                  Content-Length: 0\r\n\r\n",
            )
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let line = "tag docker.io/library/users:v1";
        while !std::fs::read_to_string(&journal).is_ok_and(|j| j.lines().any(|l| l == line)) {
            assert!(
                std::time::Instant::now() < deadline,
                "no `{line}` in the journal"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(proxy.created().tags, ["docker.io/library/users:v1"]);
    }

    #[test]
    fn create_calls_are_recognized() {
        assert_eq!(
            create_kind(&Method::POST, "/v1.41/containers/create"),
            Some(Kind::Container)
        );
        assert_eq!(
            create_kind(&Method::POST, "/networks/create"),
            Some(Kind::Network)
        );
        assert_eq!(
            create_kind(&Method::POST, "/v1.53/volumes/create"),
            Some(Kind::Volume)
        );
        // A committed image is the page's as much as a container is (`docker commit`).
        assert_eq!(
            create_kind(&Method::POST, "/v1.41/commit"),
            Some(Kind::Image)
        );
        assert_eq!(create_kind(&Method::GET, "/v1.41/containers/create"), None);
        assert_eq!(
            create_kind(&Method::POST, "/v1.41/containers/abc/start"),
            None
        );
    }

    // Containers and networks answer with `Id`, volumes with `Name`.
    #[test]
    fn ids_come_from_the_answer() {
        assert_eq!(
            created_id(Kind::Container, br#"{"Id":"abc","Warnings":[]}"#),
            Some("abc".into())
        );
        assert_eq!(
            created_id(Kind::Volume, br#"{"Name":"data","Driver":"local"}"#),
            Some("data".into())
        );
        assert_eq!(
            created_id(Kind::Image, br#"{"Id":"sha256:14cf"}"#),
            Some("sha256:14cf".into())
        );
        assert_eq!(created_id(Kind::Network, b"not json"), None);
    }

    fn stripped(json: &str, empty_is_null: bool) -> String {
        String::from_utf8(without_label(json.as_bytes(), empty_is_null).expect("a label to strip"))
            .unwrap()
    }

    // Every create the proxy forwards carries the run's label, next to the labels the page asked for, in
    // the order the CLI sent them; a create without labels gets some.
    #[test]
    fn creates_get_the_journal_label() {
        let body = br#"{"Image":"alpine","Labels":{"app":"web"},"HostConfig":{}}"#;
        let labeled = with_label(body, "7-docktest-proxy-x@m").unwrap();
        assert_eq!(
            String::from_utf8(labeled).unwrap(),
            r#"{"Image":"alpine","Labels":{"app":"web","io.docktest.journal":"7-docktest-proxy-x@m"},"HostConfig":{}}"#
        );
        for body in [
            &br#"{"Name":"data"}"#[..],
            br#"{"Name":"data","Labels":null}"#,
        ] {
            let labeled: serde_json::Value =
                serde_json::from_slice(&with_label(body, "7-p@m").unwrap()).unwrap();
            assert_eq!(
                labeled["Labels"],
                serde_json::json!({ JOURNAL_LABEL: "7-p@m" })
            );
        }
        // Not an object: passed on for the engine to refuse.
        assert_eq!(with_label(b"[1]", "7-p@m"), None);
        assert_eq!(with_label(b"not json", "7-p@m"), None);
    }

    // The page's CLI sees labels as a stock engine shows them: the label taken out wherever it stands,
    // every other byte as the engine wrote it.
    #[test]
    fn answers_lose_the_journal_label() {
        let k = r#""io.docktest.journal":"7-docktest-proxy-x@m""#;
        assert_eq!(
            stripped(&format!(r#"{{"Labels":{{{k}}}}}"#), false),
            r#"{"Labels":{}}"#
        );
        assert_eq!(
            stripped(
                &format!(r#"{{"Labels":{{{k},"app":"web"}},"Id":"1"}}"#),
                false
            ),
            r#"{"Labels":{"app":"web"},"Id":"1"}"#
        );
        assert_eq!(
            stripped(&format!(r#"{{"Labels":{{"a":"<1>",{k}}}}}"#), false),
            r#"{"Labels":{"a":"<1>"}}"#
        );
        assert_eq!(
            stripped(&format!(r#"{{"Labels":{{"a":"1",{k},"b":"2"}}}}"#), false),
            r#"{"Labels":{"a":"1","b":"2"}}"#
        );
        // Indented, as some engines answer.
        assert_eq!(
            stripped(
                &format!("{{\n  \"Labels\": {{\n    \"a\": \"1\",\n    {k}\n  }}\n}}"),
                false
            ),
            "{\n  \"Labels\": {\n    \"a\": \"1\"\n  }\n}"
        );
        // A list answer: every object of it.
        assert_eq!(
            stripped(
                &format!(r#"[{{"Labels":{{{k}}}}},{{"Labels":{{"x":"y",{k}}}}}]"#),
                false
            ),
            r#"[{"Labels":{}},{"Labels":{"x":"y"}}]"#
        );
        // An event: the label is one of its actor's attributes.
        assert_eq!(
            stripped(
                &format!(r#"{{"Actor":{{"Attributes":{{"image":"alpine",{k},"name":"web"}}}}}}"#),
                false
            ),
            r#"{"Actor":{"Attributes":{"image":"alpine","name":"web"}}}"#
        );
        assert_eq!(without_label(br#"{"Labels":{"app":"web"}}"#, false), None);
    }

    // A volume created without labels shows `"Labels":null` on a stock engine, not `{}`.
    #[test]
    fn a_volume_left_without_labels_shows_null() {
        let k = r#""io.docktest.journal":"7-p@m""#;
        assert_eq!(
            stripped(
                &format!(r#"{{"Driver":"local","Labels":{{{k}}},"Name":"data"}}"#),
                true
            ),
            r#"{"Driver":"local","Labels":null,"Name":"data"}"#
        );
        assert_eq!(
            stripped(&format!(r#"{{"Labels":{{"a":"1",{k}}}}}"#), true),
            r#"{"Labels":{"a":"1"}}"#
        );
    }

    // Only the answers that can show labels are rewritten; streams such as logs and attach never are.
    #[test]
    fn answers_that_show_labels_are_known() {
        let get = |path| Answer::of(&Method::GET, path);
        assert_eq!(get("/v1.41/containers/json"), Some(Answer::Labels));
        assert_eq!(get("/v1.41/containers/abc/json"), Some(Answer::Labels));
        assert_eq!(get("/networks"), Some(Answer::Labels));
        assert_eq!(get("/v1.41/networks/sandbox"), Some(Answer::Labels));
        assert_eq!(get("/v1.41/volumes"), Some(Answer::VolumeLabels));
        assert_eq!(get("/v1.41/volumes/data"), Some(Answer::VolumeLabels));
        assert_eq!(
            get("/v1.41/images/library/alpine/json"),
            Some(Answer::Labels)
        );
        assert_eq!(get("/v1.41/system/df"), Some(Answer::Labels));
        assert_eq!(get("/v1.41/events"), Some(Answer::Events));
        assert_eq!(get("/v1.41/containers/abc/logs"), None);
        assert_eq!(get("/v1.41/images/json"), None);
        assert_eq!(get("/_ping"), None);
        assert_eq!(
            Answer::of(&Method::POST, "/v1.41/containers/abc/json"),
            None
        );
    }
}
