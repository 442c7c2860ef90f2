//! The only module that talks to Docker (bollard) or spawns terminals.
//!
//! bollard is async and everything around it is not: [`Engine`] owns one tokio runtime and blocks on it at
//! this edge.

mod images;
pub mod policy;
mod proxy;
mod ssh;
mod terminal;
pub mod topology;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListImagesOptions, ListNetworksOptions,
    ListNetworksOptionsBuilder, ListVolumesOptions, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveImageOptions, RemoveImageOptionsBuilder,
    RemoveVolumeOptionsBuilder,
};
use bollard::Docker;

use crate::config::ImageRecipe;

pub use images::{canonical_reference, ImageError, ImageOrigin, ImageStatus};
pub use proxy::ProxyError;
pub(crate) use proxy::{Created, Proxy};
pub use terminal::TerminalError;
pub(crate) use terminal::{CommandResult, StepKind, StepSpec, Terminal, TerminalSetup};

/// Set once the user asked the run to stop (Ctrl-C): commands in flight are given up on, no further block
/// starts, and each page still removes what it created.
static CANCELLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks the run to stop as soon as it can, cleaning up as it goes.
pub(crate) fn cancel() {
    CANCELLED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Whether [`cancel`] was called.
pub(crate) fn cancelled() -> bool {
    CANCELLED.load(std::sync::atomic::Ordering::SeqCst)
}

/// The socket `scripts/engine-start` gives docktest's sealed engine by default.
pub const SEALED_SOCKET: &str = "/run/docktest/docker.sock";
/// The file `scripts/engine-start` writes next to a sealed engine's socket: the path of the network
/// namespace the engine runs in. Every sealed engine has its own folder, socket and file.
pub const NETNS_MARKER: &str = "docktest-netns";
const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The oldest engine API docktest works with (Docker 20.10, what Debian 12's `docker.io` gives).
const MIN_API: (u32, u32) = (1, 41);
/// How long one Docker API call may take before docktest gives up on the engine.
const API_TIMEOUT_SECS: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("cannot reach the Docker engine at {endpoint}")]
    Connect {
        endpoint: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "the Docker engine at {endpoint} speaks API {found}; docktest needs {}.{} (Docker 20.10) or newer",
        MIN_API.0, MIN_API.1
    )]
    TooOld { endpoint: String, found: String },
    #[error("docker {operation} failed")]
    Docker {
        operation: &'static str,
        #[source]
        source: bollard::errors::Error,
    },
    #[error(
        "the engine at {endpoint} runs in network namespace {}, which does not exist",
        netns.display()
    )]
    SealedNamespaceMissing { endpoint: String, netns: PathBuf },
    #[error("cannot read {} to find the network namespace of the engine at {endpoint}", marker.display())]
    Marker {
        endpoint: String,
        marker: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("network namespace {} (DOCKTEST_NETNS) does not exist", netns.display())]
    NetnsMissing { netns: PathBuf },
    #[error(
        "cannot reach the Docker engine at {endpoint}: docktest reaches engines at unix://, tcp:// (without \
         TLS) and ssh://[user@]host[:port] addresses"
    )]
    Unsupported { endpoint: String },
    #[error("cannot reach the Docker engine at {endpoint} through ssh")]
    Ssh {
        endpoint: String,
        #[source]
        source: ssh::SshError,
    },
    #[error("cannot remove {kind} {name}")]
    Remove {
        kind: &'static str,
        name: String,
        #[source]
        source: bollard::errors::Error,
    },
}

impl EngineError {
    /// Whether the engine could not be reached at all (stopped, restarting), rather than refusing.
    pub fn is_unreachable(&self) -> bool {
        let source = match self {
            EngineError::Connect { source, .. }
            | EngineError::Docker { source, .. }
            | EngineError::Remove { source, .. } => source,
            _ => return false,
        };
        !matches!(
            source,
            bollard::errors::Error::DockerResponseServerError { .. }
        )
    }
}

/// Where the engine is and how terminals reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `unix:///run/docktest/docker.sock`, `tcp://…`.
    pub host: String,
    /// The network namespace the engine lives in, which the page's terminals join.
    pub netns: Option<PathBuf>,
}

impl Endpoint {
    /// The engine is `DOCKER_HOST` when set; else docktest's sealed engine when its socket exists; else the
    /// default socket. Its terminals join `DOCKTEST_NETNS` when set; else, for one of docktest's sealed
    /// engines, the namespace its marker names, so that `DOCKER_HOST` alone is enough; any other engine is
    /// used from this machine's namespace, as the user's shell uses it. A namespace that does not exist is
    /// an error: terminals outside their engine's namespace would reach this machine's network instead.
    pub fn from_env() -> Result<Endpoint, EngineError> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| {
                let socket = if Path::new(SEALED_SOCKET).exists() {
                    SEALED_SOCKET
                } else {
                    DEFAULT_SOCKET
                };
                format!("unix://{socket}")
            });
        let netns = std::env::var_os("DOCKTEST_NETNS")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Endpoint::resolve(host, netns)
    }

    /// The endpoint of the engine at `host`, with the namespace its terminals join (`netns` when given).
    fn resolve(host: String, netns: Option<PathBuf>) -> Result<Endpoint, EngineError> {
        let netns = match netns {
            Some(netns) if !netns.exists() => return Err(EngineError::NetnsMissing { netns }),
            Some(netns) => Some(netns),
            None => match sealed_netns(&host)? {
                Some(netns) if !netns.exists() => {
                    return Err(EngineError::SealedNamespaceMissing {
                        endpoint: host,
                        netns,
                    })
                }
                found => found,
            },
        };
        Ok(Endpoint { host, netns })
    }
}

/// The namespace the marker next to the engine's socket names, when the engine at `host` is one of
/// docktest's sealed engines; `None` for any other engine.
fn sealed_netns(host: &str) -> Result<Option<PathBuf>, EngineError> {
    let Some(socket) = host.strip_prefix("unix://") else {
        return Ok(None);
    };
    let marker = Path::new(socket).with_file_name(NETNS_MARKER);
    match std::fs::read_to_string(&marker) {
        Ok(text) => Ok(Some(PathBuf::from(text.trim()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(EngineError::Marker {
            endpoint: host.to_string(),
            marker,
            source,
        }),
    }
}

/// The engines a run of `jobs` pages at a time uses: `hosts` when given (`--engine`); else, for more than one
/// job, those `DOCKTEST_ENGINES` lists (whitespace-separated DOCKER_HOSTs, as `scripts/engine-start N`
/// prints them); else the one engine [`Endpoint::from_env`] finds. At most `jobs` of them. Each sealed
/// engine's terminals join the namespace its marker names.
pub fn pool(hosts: &[String], jobs: usize) -> Result<Vec<Endpoint>, EngineError> {
    let listed: Vec<String> = if !hosts.is_empty() {
        hosts.to_vec()
    } else if jobs > 1 {
        std::env::var("DOCKTEST_ENGINES")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    } else {
        Vec::new()
    };
    if listed.is_empty() {
        return Ok(vec![Endpoint::from_env()?]);
    }
    let mut pool: Vec<Endpoint> = Vec::new();
    for host in listed {
        if pool.len() < jobs && !pool.iter().any(|e| e.host == host) {
            pool.push(Endpoint::resolve(host, None)?);
        }
    }
    Ok(pool)
}

/// The engines `clean` looks at, as DOCKER_HOSTs: `hosts` when given (`--engine`, book.toml `engines`);
/// else every engine `test` could have run pages on (those DOCKTEST_ENGINES lists, the one DOCKER_HOST
/// names, or else the one [`Endpoint::from_env`] finds) and every engine a killed run's journal names. Each one once.
pub fn clean_pool(hosts: &[String]) -> Vec<String> {
    let mut listed: Vec<String> = if !hosts.is_empty() {
        hosts.to_vec()
    } else {
        std::env::var("DOCKTEST_ENGINES")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    if hosts.is_empty() {
        // The default socket only when nothing else names an engine: it may well not exist.
        let named = std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty());
        if named || listed.is_empty() {
            listed.extend(Endpoint::from_env().map(|e| e.host));
        }
        listed.extend(stale_journal_engines());
    }
    let mut pool: Vec<String> = Vec::new();
    for host in listed {
        if !pool.contains(&host) {
            pool.push(host);
        }
    }
    pool
}

/// Whether `text` names an engine kind (`docker`, `podman-4.3`, `docker-26.1.5`) rather than a DOCKER_HOST.
pub fn is_kind_name(text: &str) -> bool {
    let (word, version) = match text.split_once('-') {
        Some((word, version)) => (word, Some(version)),
        None => (text, None),
    };
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
    });
    matches!(word.to_ascii_lowercase().as_str(), "docker" | "podman") && version_ok
}

/// Whose engine answers the Docker API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Product {
    Docker,
    /// Podman's Docker-compatible service (`podman system service`).
    Podman,
}

impl Product {
    /// `docker`, `podman`: the first word of a kind's name.
    pub fn word(self) -> &'static str {
        match self {
            Product::Docker => "docker",
            Product::Podman => "podman",
        }
    }

    /// `Docker`, `Podman`: as a reader names it.
    pub fn title(self) -> &'static str {
        match self {
            Product::Docker => "Docker",
            Product::Podman => "Podman",
        }
    }

    /// Podman names its own component "Podman Engine" in `GET /version`; dockerd's is "Engine" (and its
    /// platform "Docker Engine - Community" in Docker's own builds, nothing in Debian's).
    fn from_version(version: &bollard::models::SystemVersion) -> Product {
        let podman = |name: &str| name.to_ascii_lowercase().contains("podman");
        let by_component = version.components.iter().flatten().any(|c| podman(&c.name));
        let by_platform = version.platform.as_ref().is_some_and(|p| podman(&p.name));
        if by_component || by_platform {
            Product::Podman
        } else {
            Product::Docker
        }
    }
}

/// The engine's identity, from its API, for report headers, snapshots and the book's matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub product: Product,
    /// `20.10.24+dfsg1`, `4.3.1`
    pub version: String,
    /// `1.41`
    pub api_version: String,
}

impl EngineInfo {
    /// The version without its packaging suffix: `20.10.24+dfsg1` → `20.10.24`.
    pub fn release(&self) -> &str {
        self.version
            .split(['+', '~', '-'])
            .next()
            .unwrap_or(&self.version)
    }

    /// The engine's kind, product and major.minor version as `scripts/engine-start` names kinds:
    /// `docker-20.10`, `docker-26.1`, `podman-4.3`.
    pub fn kind(&self) -> String {
        let mut parts = self.release().split('.');
        match (parts.next(), parts.next()) {
            (Some(major), Some(minor)) => format!("{}-{major}.{minor}", self.product.word()),
            _ => format!("{}-{}", self.product.word(), self.release()),
        }
    }

    /// `Docker 26.1.5`, `Podman 4.3.1`: as a reader names the engine.
    pub fn short_name(&self) -> String {
        format!("{} {}", self.product.title(), self.release())
    }

    /// Whether a kind's name denotes this engine: the product alone (`podman`), or the product and a
    /// version prefix of whole components (`docker-26`, `docker-26.1`, `docker-26.1.5`).
    pub fn is_kind(&self, name: &str) -> bool {
        let name = name.trim().to_ascii_lowercase();
        let (word, version) = match name.split_once('-') {
            Some((word, version)) => (word, Some(version)),
            None => (name.as_str(), None),
        };
        if word != self.product.word() {
            return false;
        }
        let Some(version) = version else {
            return true;
        };
        let mine: Vec<&str> = self.release().split('.').collect();
        let wanted: Vec<&str> = version.split('.').collect();
        wanted.len() <= mine.len() && wanted.iter().zip(&mine).all(|(a, b)| a == b)
    }
}

impl std::fmt::Display for EngineInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (API {})",
            self.product.title(),
            self.version,
            self.api_version
        )
    }
}

/// An engine as [`EngineInfo`]'s `Display` wrote it into a snapshot (`Docker 26.1.5+dfsg1 (API 1.45)`), read
/// back without the engine, so that the badge names it and tells its kinds as the matrix names them.
pub fn described(text: &str) -> Option<EngineInfo> {
    let (text, api) = text.split_once(" (API ").unwrap_or((text, ""));
    let (title, version) = text.trim().split_once(' ')?;
    let product = [Product::Docker, Product::Podman]
        .into_iter()
        .find(|p| p.title() == title)?;
    Some(EngineInfo {
        product,
        version: version.to_string(),
        api_version: api.trim_end_matches(')').to_string(),
    })
}

/// The engine objects that exist at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub containers: BTreeSet<String>,
    pub networks: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
    /// Image references, in their full spelling (`docker.io/library/alpine:latest`).
    pub references: BTreeSet<String>,
}

/// What a cleanup removed, by kind, as names for the report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
    pub images: Vec<String>,
}

impl Removed {
    fn absorb(&mut self, other: Removed) {
        self.containers.extend(other.containers);
        self.networks.extend(other.networks);
        self.volumes.extend(other.volumes);
        self.images.extend(other.images);
    }

    pub fn is_empty(&self) -> bool {
        self.containers.is_empty()
            && self.networks.is_empty()
            && self.volumes.is_empty()
            && self.images.is_empty()
    }
}

pub struct Engine {
    docker: Docker,
    rt: tokio::runtime::Runtime,
    endpoint: Endpoint,
    info: EngineInfo,
}

impl Engine {
    /// Connects, negotiates the API version and checks the engine is recent enough.
    pub fn connect(endpoint: Endpoint) -> Result<Engine, EngineError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(EngineError::Runtime)?;
        let connect_err = |source| EngineError::Connect {
            endpoint: endpoint.host.clone(),
            source,
        };
        let docker = connect(&endpoint.host, bollard::API_DEFAULT_VERSION)?;
        // The engine's `Server` header names it, where `GET /version` costs Podman 400 ms of CPU (it asks
        // its package manager and its runtimes for their versions) at every run's start.
        let (product, version, api_version) = match rt
            .block_on(proxy::ping_headers(&endpoint.host))
            .and_then(from_ping)
        {
            Some(known) => known,
            None => {
                let version = rt.block_on(docker.version()).map_err(connect_err)?;
                (
                    Product::from_version(&version),
                    version.version.unwrap_or_else(|| "unknown".to_string()),
                    version.api_version.unwrap_or_default(),
                )
            }
        };
        let Some((major, minor)) = parse_api(&api_version).filter(|&v| v >= MIN_API) else {
            return Err(EngineError::TooOld {
                endpoint: endpoint.host.clone(),
                found: api_version,
            });
        };
        let engine_api = bollard::ClientVersion {
            major_version: major as usize,
            minor_version: minor as usize,
        };
        // A new client is free (no request): one that speaks the lower of the two versions, unless the host
        // is one bollard's local defaults serve, which then negotiates as bollard does.
        let spoken = if engine_api < docker.client_version() {
            engine_api
        } else {
            docker.client_version()
        };
        let docker = connect(&endpoint.host, &spoken)?;
        let docker = if docker.client_version() > spoken {
            rt.block_on(docker.negotiate_version())
                .map_err(connect_err)?
        } else {
            docker
        };
        let info = EngineInfo {
            product,
            version,
            api_version,
        };
        Ok(Engine {
            docker,
            rt,
            endpoint,
            info,
        })
    }

    pub fn info(&self) -> &EngineInfo {
        &self.info
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How a page's terminals start: in the engine's namespace, pointed at `docker_host` (the page's
    /// proxy).
    pub(crate) fn terminal_setup(&self, cwd: &Path, docker_host: &str) -> TerminalSetup {
        TerminalSetup {
            cwd: cwd.to_path_buf(),
            netns: self.endpoint.netns.clone(),
            env: vec![("DOCKER_HOST".to_string(), docker_host.to_string())],
        }
    }

    /// Makes every image of the recipes available: present, pulled, or built offline.
    pub(crate) fn ensure_images(
        &self,
        book_root: &Path,
        recipes: &BTreeMap<String, ImageRecipe>,
    ) -> Result<Vec<ImageStatus>, ImageError> {
        self.rt
            .block_on(images::ensure_images(&self.docker, book_root, recipes))
    }

    /// Makes an image the book uses without a recipe available: present, or pulled.
    pub(crate) fn ensure_present(&self, reference: &str) -> Result<ImageStatus, ImageError> {
        let origin = self
            .rt
            .block_on(images::ensure_present(&self.docker, reference))?;
        Ok(ImageStatus {
            reference: reference.to_string(),
            origin,
        })
    }

    /// Loads into `other` the images of `references` this engine holds and `other` lacks (or holds an older
    /// stand-in of), exported from here: a stand-in is built once, in the first engine, and every other
    /// engine gets the very same image. Returns the references loaded.
    pub(crate) fn share_images(
        &self,
        other: &Engine,
        references: &[String],
    ) -> Result<Vec<String>, ImageError> {
        // Each engine's client lives on its own runtime: every call goes through its own engine's.
        let wanted = self
            .rt
            .block_on(images::image_ids(&self.docker, references))?;
        let needed = other.rt.block_on(images::to_load(&other.docker, &wanted))?;
        if needed.is_empty() {
            return Ok(needed);
        }
        let tar = self.rt.block_on(images::save(&self.docker, &needed))?;
        other.rt.block_on(images::load(
            &other.docker,
            &other.endpoint.host,
            &needed,
            tar,
        ))?;
        Ok(needed)
    }

    /// The network the page that created `created` has built so far (see [`topology`]).
    pub(crate) fn topology(
        &self,
        created: &Created,
        gone: &mut topology::Gone,
    ) -> Result<topology::Topology, EngineError> {
        self.block(topology::topology(&self.docker, created, gone))
    }

    pub fn inventory(&self) -> Result<Inventory, EngineError> {
        self.block(async {
            let containers = self
                .docker
                .list_containers(Some(ListContainersOptionsBuilder::new().all(true).build()))
                .await
                .map_err(|source| EngineError::Docker {
                    operation: "container list",
                    source,
                })?
                .into_iter()
                .filter_map(|c| c.id)
                .collect();
            let networks = self
                .docker
                .list_networks(None::<ListNetworksOptions>)
                .await
                .map_err(|source| EngineError::Docker {
                    operation: "network list",
                    source,
                })?
                .into_iter()
                .filter_map(|n| n.id)
                .collect();
            let volumes = self
                .docker
                .list_volumes(None::<ListVolumesOptions>)
                .await
                .map_err(|source| EngineError::Docker {
                    operation: "volume list",
                    source,
                })?
                .volumes
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.name)
                .collect();
            let references = self
                .docker
                .list_images(None::<ListImagesOptions>)
                .await
                .map_err(|source| EngineError::Docker {
                    operation: "image list",
                    source,
                })?
                .into_iter()
                .flat_map(|i| i.repo_tags)
                .filter(|t| t != "<none>:<none>")
                .map(|t| images::full_reference(&t))
                .collect();
            Ok(Inventory {
                containers,
                networks,
                volumes,
                references,
            })
        })
    }

    /// Starts the proxy a page's terminals talk through, with a journal of what it creates, in `dir`;
    /// `folder` is the page's working folder, which its containers may bind-mount.
    pub(crate) fn start_proxy(
        &self,
        dir: &Path,
        folder: &Path,
        before: &Inventory,
    ) -> Result<Proxy, ProxyError> {
        let stem = journal_stem(dir);
        let journal = journal_dir().join(format!("{stem}.journal"));
        let bind_err = |source| ProxyError::Bind {
            path: journal.clone(),
            source,
        };
        std::fs::create_dir_all(journal_dir()).map_err(bind_err)?;
        // The volumes already there go first, before the page can mount one: `clean` after a kill must
        // leave a volume the page only used (a user's data), and only this line says which ones were.
        let had: String = before.volumes.iter().map(|v| format!(" {v}")).collect();
        std::fs::write(
            &journal,
            format!("engine {}\n{HAD_VOLUMES}{had}\n", self.endpoint.host),
        )
        .map_err(bind_err)?;
        Proxy::start(
            &dir.join("docker.sock"),
            &self.endpoint.host,
            journal,
            folder,
            proxy::owner_label(&stem),
            before.references.clone(),
        )
    }

    /// Removes what the page whose proxy ran in `proxy_dir` created: what its proxy saw (`created`), and
    /// what carries its label though the proxy never saw the engine's answer (a `docker run` interrupted
    /// while its create was on the way). Anything in `before` is never touched.
    pub(crate) fn remove_page(
        &self,
        proxy_dir: &Path,
        created: &Created,
        before: &Inventory,
    ) -> Result<Removed, EngineError> {
        let mut created = created.clone();
        let owner = proxy::owner_label(&journal_stem(proxy_dir));
        if let Some(labeled) = self.labeled()?.remove(&owner) {
            created.absorb(labeled);
        }
        self.remove_created(&created, Some(before))
    }

    /// The containers, networks and volumes that carry [`proxy::JOURNAL_LABEL`], by its value.
    fn labeled(&self) -> Result<BTreeMap<String, Created>, EngineError> {
        let filters = HashMap::from([("label", vec![proxy::JOURNAL_LABEL])]);
        let owner = |labels: Option<&HashMap<String, String>>| {
            labels.and_then(|l| l.get(proxy::JOURNAL_LABEL)).cloned()
        };
        self.block(async {
            let mut by_owner: BTreeMap<String, Created> = BTreeMap::new();
            let list_err = |operation| move |source| EngineError::Docker { operation, source };
            let containers = self
                .docker
                .list_containers(Some(
                    ListContainersOptionsBuilder::new()
                        .all(true)
                        .filters(&filters)
                        .build(),
                ))
                .await
                .map_err(list_err("container list"))?;
            for c in containers {
                if let (Some(owner), Some(id)) = (owner(c.labels.as_ref()), c.id) {
                    by_owner.entry(owner).or_default().containers.push(id);
                }
            }
            let networks = self
                .docker
                .list_networks(Some(
                    ListNetworksOptionsBuilder::new().filters(&filters).build(),
                ))
                .await
                .map_err(list_err("network list"))?;
            for n in networks {
                if let (Some(owner), Some(id)) = (owner(n.labels.as_ref()), n.id) {
                    by_owner.entry(owner).or_default().networks.push(id);
                }
            }
            let volumes = self
                .docker
                .list_volumes(Some(
                    ListVolumesOptionsBuilder::new().filters(&filters).build(),
                ))
                .await
                .map_err(list_err("volume list"))?
                .volumes
                .unwrap_or_default();
            for v in volumes {
                if let Some(owner) = owner(Some(&v.labels)) {
                    by_owner.entry(owner).or_default().volumes.push(v.name);
                }
            }
            Ok(by_owner)
        })
    }

    /// Removes what a page created (as its proxy saw it), plus named volumes its containers created on the
    /// fly. Anything in `before` is never touched; a committed image is always new (its ID hashes the moment
    /// of the commit), so images need no such check. With `before` lost (a killed run without its journal),
    /// a volume a container mounts is taken only when the engine made it for that container
    /// ([`made_for`]): one that was there already, such as a user's data, stays. Keeps going past a failed
    /// removal and returns the first error with everything else done.
    pub(crate) fn remove_created(
        &self,
        created: &Created,
        before: Option<&Inventory>,
    ) -> Result<Removed, EngineError> {
        let nothing = Inventory::default();
        let known = before.is_some();
        let before = before.unwrap_or(&nothing);
        self.block(async {
            let mut removed = Removed::default();
            let mut first_err = None;
            let mut volumes: Vec<String> = created.volumes.clone();
            for id in created
                .containers
                .iter()
                .filter(|id| !before.containers.contains(*id))
            {
                let (name, mounted, since) = match self.docker.inspect_container(id, None).await {
                    Ok(c) => (
                        c.name
                            .map(|n| n.trim_start_matches('/').to_string())
                            .unwrap_or_else(|| short(id)),
                        c.mounts
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|m| m.typ.as_deref() == Some("volume"))
                            .filter_map(|m| m.name)
                            .collect::<Vec<_>>(),
                        c.created,
                    ),
                    Err(e) if is_not_found(&e) => continue,
                    Err(_) => (short(id), Vec::new(), None),
                };
                for volume in mounted {
                    if known || self.made_for(&volume, since.as_deref()).await {
                        volumes.push(volume);
                    }
                }
                let opts = RemoveContainerOptionsBuilder::new()
                    .force(true)
                    .v(true)
                    .build();
                let outcome = self.docker.remove_container(id, Some(opts)).await;
                note_removal(
                    outcome,
                    "container",
                    name,
                    &mut removed.containers,
                    &mut first_err,
                );
            }
            for id in created
                .networks
                .iter()
                .filter(|id| !before.networks.contains(*id))
            {
                let name = match self.docker.inspect_network(id, None).await {
                    Ok(n) => n.name.unwrap_or_else(|| short(id)),
                    Err(e) if is_not_found(&e) => continue,
                    Err(_) => short(id),
                };
                let outcome = self.docker.remove_network(id).await;
                note_removal(
                    outcome,
                    "network",
                    name,
                    &mut removed.networks,
                    &mut first_err,
                );
            }
            volumes.sort();
            volumes.dedup();
            for name in volumes.iter().filter(|v| !before.volumes.contains(*v)) {
                let opts = RemoveVolumeOptionsBuilder::new().force(true).build();
                let outcome = self.docker.remove_volume(name, Some(opts)).await;
                note_removal(
                    outcome,
                    "volume",
                    name.clone(),
                    &mut removed.volumes,
                    &mut first_err,
                );
            }
            // A reference the page made, newest first; the image goes with its last reference, and so do
            // the untagged layers a build made for it, but not an image a container still uses.
            for reference in created
                .tags
                .iter()
                .rev()
                .filter(|r| !before.references.contains(*r))
            {
                let outcome = self
                    .docker
                    .remove_image(reference, None::<RemoveImageOptions>, None)
                    .await;
                let name = reference.clone();
                note_removal(outcome, "image", name, &mut removed.images, &mut first_err);
            }
            // Newest first: an image committed from a container of an earlier one is its child, and Docker
            // refuses to remove a parent before its children. `noprune`: a parent the page did not make stays.
            for id in created.images.iter().rev() {
                let name = match self.docker.inspect_image(id).await {
                    Ok(image) => image
                        .repo_tags
                        .unwrap_or_default()
                        .into_iter()
                        .next()
                        .unwrap_or_else(|| short(id.trim_start_matches("sha256:"))),
                    Err(e) if is_not_found(&e) => continue,
                    Err(_) => short(id.trim_start_matches("sha256:")),
                };
                let opts = RemoveImageOptionsBuilder::new()
                    .force(true)
                    .noprune(true)
                    .build();
                let outcome = self.docker.remove_image(id, Some(opts), None).await;
                note_removal(outcome, "image", name, &mut removed.images, &mut first_err);
            }
            match first_err {
                Some(e) => Err(e),
                None => Ok(removed),
            }
        })
    }

    /// Whether the engine made the volume `name` for a container it created at `container_created` (its
    /// inspect's `Created`): `docker run -v data:/x` makes `data` within the create when it is missing.
    /// Engines give a volume's time to the second, so one made up to 2 s before the container counts; an
    /// older one, or one whose age is not known, was there before.
    async fn made_for(&self, name: &str, container_created: Option<&str>) -> bool {
        let time_of = |t: &str| humantime::parse_rfc3339_weak(t).ok();
        let Some(container) = container_created.and_then(time_of) else {
            return false;
        };
        let Ok(volume) = self.docker.inspect_volume(name).await else {
            return false;
        };
        volume
            .created_at
            .as_deref()
            .and_then(time_of)
            .is_some_and(|made| made + Duration::from_secs(2) >= container)
    }

    /// Removes what killed runs left on this engine, from their journals (which it then deletes) and from
    /// the label their proxies put on what they created, which finds what reached the engine after the
    /// journal's last line. Objects of runs still alive, of other machines' runs and without the label are
    /// left alone, and so are other engines' journals, and the volumes a journal says were there before.
    pub fn clean(&self) -> Result<Removed, EngineError> {
        let mut removed = Removed::default();
        let mut labeled = self.labeled()?;
        for journal in stale_journals(Some(&self.endpoint.host)) {
            let mut created = journal.created;
            if let Some(more) = journal_owner(&journal.path).and_then(|o| labeled.remove(&o)) {
                created.absorb(more);
            }
            let before = journal.volumes_before.map(|volumes| Inventory {
                volumes,
                ..Inventory::default()
            });
            removed.absorb(self.remove_created(&created, before.as_ref())?);
            let _ = std::fs::remove_file(journal.path);
        }
        for (owner, created) in labeled {
            if owned_by_dead_run(&owner) {
                removed.absorb(self.remove_created(&created, None)?);
            }
        }
        Ok(removed)
    }

    fn block<T>(
        &self,
        fut: impl Future<Output = Result<T, EngineError>>,
    ) -> Result<T, EngineError> {
        self.rt.block_on(async {
            match tokio::time::timeout(Duration::from_secs(API_TIMEOUT_SECS), fut).await {
                Ok(r) => r,
                Err(_) => Err(EngineError::Docker {
                    operation: "request",
                    source: bollard::errors::Error::RequestTimeoutError,
                }),
            }
        })
    }
}

/// The engine's product, version and API version from its `_ping` headers ([`proxy::ping_headers`]), when
/// its `Server` header is one dockerd (`Docker/20.10.24+dfsg1 (linux)`) or Podman (`Libpod/4.3.1 (linux)`)
/// sends.
fn from_ping((server, api_version): (String, String)) -> Option<(Product, String, String)> {
    let (name, rest) = server.split_once('/')?;
    let version = rest.split_whitespace().next()?.to_string();
    let product = match name {
        "Docker" => Product::Docker,
        "Libpod" => Product::Podman,
        _ => return None,
    };
    Some((product, version, api_version))
}

/// A client of the engine at `host` that speaks API `version` (no request made): `unix://`, `tcp://` or
/// `http://`, or `ssh://` through a local bridge ([`ssh`]). Any other scheme is refused: connecting
/// elsewhere instead would run the pages on an engine the user did not name.
fn connect(host: &str, version: &bollard::ClientVersion) -> Result<Docker, EngineError> {
    let connect_err = |source| EngineError::Connect {
        endpoint: host.to_string(),
        source,
    };
    if let Some(path) = host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, API_TIMEOUT_SECS, version).map_err(connect_err)
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, API_TIMEOUT_SECS, version).map_err(connect_err)
    } else if host.starts_with("ssh://") {
        let socket = ssh::socket_for(host).map_err(|source| EngineError::Ssh {
            endpoint: host.to_string(),
            source,
        })?;
        Docker::connect_with_unix(&socket.to_string_lossy(), API_TIMEOUT_SECS, version)
            .map_err(connect_err)
    } else {
        Err(EngineError::Unsupported {
            endpoint: host.to_string(),
        })
    }
}

fn parse_api(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Whether the object is not there. Docker answers 404; Podman's Docker API answers 500 with its libpod
/// error (`container … does not exist in database: no such container`) when the object went away while
/// the request was served, as a `--rm` container does on its own.
fn is_not_found(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        } => true,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 500,
            message,
        } => ["no such container", "no such network", "no such volume"]
            .iter()
            .any(|gone| message.ends_with(gone)),
        _ => false,
    }
}

/// One removal's outcome in a cleanup that goes on past failures: `name` among what was removed, nothing
/// when the object was already gone (or going), else the error, kept if it is the first.
fn note_removal<T>(
    outcome: Result<T, bollard::errors::Error>,
    kind: &'static str,
    name: String,
    removed: &mut Vec<String>,
    first_err: &mut Option<EngineError>,
) {
    match outcome {
        Ok(_) => removed.push(name),
        Err(e) if is_not_found(&e) || is_in_progress(&e) => {}
        Err(source) => {
            first_err.get_or_insert(EngineError::Remove { kind, name, source });
        }
    }
}

fn is_in_progress(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 409,
            message,
        } if message.contains("already in progress")
    )
}

/// Where runs keep the journals of what their pages created until they have removed it.
pub(crate) fn journal_dir() -> PathBuf {
    std::env::var_os("DOCKTEST_JOURNALS")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("docktest-journals"))
}

/// The name of the journal of the page whose proxy runs in `proxy_dir`, without `.journal`: the run's pid
/// and the folder's name, `4242-docktest-proxy-Ab3dE`.
fn journal_stem(proxy_dir: &Path) -> String {
    format!(
        "{}-{}",
        std::process::id(),
        proxy_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    )
}

/// Deletes a page's journal once its objects are gone.
pub(crate) fn forget_journal(proxy_dir: &Path) {
    let _ =
        std::fs::remove_file(journal_dir().join(format!("{}.journal", journal_stem(proxy_dir))));
}

/// Whether the run of a journal stem (`<pid>-…`) is still alive on this machine.
fn run_alive(stem: &str) -> bool {
    stem.split('-')
        .next()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| Path::new(&format!("/proc/{p}")).exists())
}

/// Whether a [`proxy::JOURNAL_LABEL`] value (`<stem>@<machine>`) names a run of this machine that is no
/// longer alive. A run of another machine sharing the engine may be alive: its objects are its own.
fn owned_by_dead_run(owner: &str) -> bool {
    owner
        .rsplit_once('@')
        .is_some_and(|(stem, machine)| machine == proxy::machine() && !run_alive(stem))
}

/// The engines the journals of runs no longer alive name.
fn stale_journal_engines() -> Vec<String> {
    stale_journals(None).into_iter().map(|j| j.engine).collect()
}

/// The line of a journal that lists the volumes its page found on the engine, space-separated.
const HAD_VOLUMES: &str = "had-volumes";

/// A journal of a run that is no longer alive.
struct StaleJournal {
    path: PathBuf,
    /// The engine it names.
    engine: String,
    /// What it lists as the page's.
    created: Created,
    /// The volumes the engine held when the page started; `None` in a journal written before docktest
    /// recorded them.
    volumes_before: Option<BTreeSet<String>>,
}

/// Journals of runs that are no longer alive, for the engine at `host` (any engine: `None`).
fn stale_journals(host: Option<&str>) -> Vec<StaleJournal> {
    let Ok(entries) = std::fs::read_dir(journal_dir()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        if path.extension().is_none_or(|e| e != "journal") {
            continue;
        }
        let alive = path
            .file_stem()
            .and_then(|s| s.to_str())
            .is_some_and(run_alive);
        if alive {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Some(journal) = parse_journal(path, &text) else {
            continue;
        };
        if host.is_some_and(|h| h != journal.engine) {
            continue;
        }
        out.push(journal);
    }
    out
}

fn parse_journal(path: PathBuf, text: &str) -> Option<StaleJournal> {
    let mut lines = text.lines();
    let engine = lines.next()?.strip_prefix("engine ")?.to_string();
    let mut created = Created::default();
    let mut volumes_before = None;
    for line in lines {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        if word == HAD_VOLUMES {
            volumes_before = Some(rest.split_whitespace().map(str::to_string).collect());
        } else if let (Some(kind), false) = (proxy::Kind::from_word(word), rest.is_empty()) {
            created.push(kind, rest.to_string());
        }
    }
    Some(StaleJournal {
        path,
        engine,
        created,
        volumes_before,
    })
}

/// The [`proxy::JOURNAL_LABEL`] value the proxy of the journal at `path` put on what it created.
fn journal_owner(path: &Path) -> Option<String> {
    Some(proxy::owner_label(path.file_stem()?.to_str()?))
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_says_which_volumes_were_there_before_its_page() {
        let path = PathBuf::from("/j/7-docktest-proxy-x.journal");
        let journal = parse_journal(
            path.clone(),
            "engine unix:///e.sock\nhad-volumes data cache\ncontainer c1\nvolume made\n",
        )
        .unwrap();
        assert_eq!(journal.engine, "unix:///e.sock");
        assert_eq!(journal.created.containers, ["c1"]);
        assert_eq!(journal.created.volumes, ["made"]);
        assert_eq!(
            journal.volumes_before,
            Some(BTreeSet::from(["cache".to_string(), "data".to_string()]))
        );
        // An engine with no volume at the page's start: known, and empty.
        let empty = parse_journal(path.clone(), "engine unix:///e.sock\nhad-volumes\n").unwrap();
        assert_eq!(empty.volumes_before, Some(BTreeSet::new()));
        // A journal written before docktest recorded them: not known.
        let old = parse_journal(path, "engine unix:///e.sock\ncontainer c1\ncontainer\n").unwrap();
        assert_eq!(old.volumes_before, None);
        assert_eq!(old.created.containers, ["c1"]);
    }

    // Regression: on Podman two-terminals' and through-the-host's topology failed with "container inspect
    // failed: status code 500: container … does not exist in database: no such container": a `--rm`
    // container removed itself between the proxy's record and the inspect. Gone is gone, whatever the code.
    #[test]
    fn podman_500_no_such_container_is_not_found() {
        let answer = |status_code: u16, message: &str| {
            is_not_found(&bollard::errors::Error::DockerResponseServerError {
                status_code,
                message: message.into(),
            })
        };
        assert!(answer(404, "No such container: web"));
        assert!(answer(
            500,
            "container c1ed2f8f48f1 does not exist in database: no such container"
        ));
        assert!(!answer(
            500,
            "error setting rlimit type 7: operation not permitted"
        ));
        assert!(!answer(409, "no such container"));
    }

    fn info(product: Product, version: &str) -> EngineInfo {
        EngineInfo {
            product,
            version: version.into(),
            api_version: "1.41".into(),
        }
    }

    // The badge names engines from the snapshot's text alone: the engine's own words read back.
    #[test]
    fn described_reads_back_what_display_wrote() {
        let d26 = EngineInfo {
            api_version: "1.45".into(),
            ..info(Product::Docker, "26.1.5+dfsg1")
        };
        assert_eq!(described(&d26.to_string()), Some(d26));
        let podman = described("Podman 4.3.1 (API 1.41)").unwrap();
        assert_eq!(podman.short_name(), "Podman 4.3.1");
        assert!(podman.is_kind("podman-4.3"));
        assert_eq!(described(""), None);
        assert_eq!(described("Moby 1.0 (API 1.0)"), None);
    }

    // The matrix names engines by kind: Debian's packaging suffix is no part of the version, and a kind's
    // version is a prefix of whole components (`docker-2` is not Docker 20.10).
    #[test]
    fn kinds_are_named_by_product_and_version() {
        let d20 = info(Product::Docker, "20.10.24+dfsg1");
        let d26 = info(Product::Docker, "26.1.5+dfsg1");
        let podman = info(Product::Podman, "4.3.1");
        assert_eq!(d20.kind(), "docker-20.10");
        assert_eq!(d26.kind(), "docker-26.1");
        assert_eq!(podman.kind(), "podman-4.3");
        assert_eq!(d26.short_name(), "Docker 26.1.5");
        assert_eq!(podman.to_string(), "Podman 4.3.1 (API 1.41)");
        assert_eq!(d20.to_string(), "Docker 20.10.24+dfsg1 (API 1.41)");
        assert!(d26.is_kind("docker") && d26.is_kind("docker-26") && d26.is_kind("Docker-26.1"));
        assert!(d26.is_kind("docker-26.1.5"));
        assert!(!d26.is_kind("docker-2") && !d26.is_kind("docker-26.1.5.1"));
        assert!(!d20.is_kind("podman") && podman.is_kind("podman") && podman.is_kind("podman-4.3"));
        assert!(is_kind_name("docker-26.1") && is_kind_name("podman") && is_kind_name("docker-20"));
        assert!(!is_kind_name("unix:///run/docktest/docker.sock") && !is_kind_name("ssh://ci"));
        assert!(!is_kind_name("docker-") && !is_kind_name("docker-26.x") && !is_kind_name("moby"));
    }

    // An engine is named by its `_ping` headers, as its `/version` names it; a `Server` header of another
    // product (a proxy's, a registry's) leaves it to `/version`.
    #[test]
    fn engines_are_named_by_their_ping_headers() {
        let ping = |server: &str| from_ping((server.to_string(), "1.41".to_string()));
        assert_eq!(
            ping("Docker/20.10.24+dfsg1 (linux)"),
            Some((Product::Docker, "20.10.24+dfsg1".into(), "1.41".into()))
        );
        assert_eq!(
            ping("Libpod/4.3.1 (linux)"),
            Some((Product::Podman, "4.3.1".into(), "1.41".into()))
        );
        assert_eq!(ping("nginx/1.25.3"), None);
        assert_eq!(ping("Docker"), None);
    }

    // Podman's service says it is Podman only in its components: without looking there it passed for Docker.
    #[test]
    fn podman_is_told_by_its_components() {
        let version: bollard::models::SystemVersion = serde_json::from_value(serde_json::json!({
            "Platform": { "Name": "linux/amd64/debian-12" },
            "Components": [
                { "Name": "Podman Engine", "Version": "4.3.1" },
                { "Name": "Engine", "Version": "4.3.1" },
            ],
            "Version": "4.3.1",
            "ApiVersion": "1.41",
        }))
        .unwrap();
        assert_eq!(Product::from_version(&version), Product::Podman);
        let docker: bollard::models::SystemVersion = serde_json::from_value(serde_json::json!({
            "Platform": { "Name": "" },
            "Components": [{ "Name": "Engine", "Version": "26.1.5+dfsg1" }],
            "Version": "26.1.5+dfsg1",
        }))
        .unwrap();
        assert_eq!(Product::from_version(&docker), Product::Docker);
    }

    // An engine older than API 1.41 must be refused, and the comparison must be numeric (1.9 < 1.41).
    #[test]
    fn api_versions_compare_numerically() {
        assert!(parse_api("1.40").unwrap() < MIN_API);
        assert!(parse_api("1.9").unwrap() < MIN_API);
        assert!(parse_api("1.41").unwrap() >= MIN_API);
        assert!(parse_api("1.53").unwrap() >= MIN_API);
        assert_eq!(parse_api("garbage"), None);
    }

    /// A folder like the one `scripts/engine-start` fills: a socket path and, when `netns` is given, the
    /// marker naming it.
    fn run_dir(netns: Option<&Path>) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(netns) = netns {
            std::fs::write(
                dir.path().join(NETNS_MARKER),
                format!("{}\n", netns.display()),
            )
            .unwrap();
        }
        let host = format!("unix://{}", dir.path().join("docker.sock").display());
        (dir, host)
    }

    // With only DOCKER_HOST naming a sealed engine, the terminals ran in this machine's namespace and the
    // book's `curl http://172.17.0.1:8080` went out towards the machine's real network.
    #[test]
    fn a_sealed_engine_is_joined_through_its_socket_alone() {
        let netns = tempfile::NamedTempFile::new().unwrap();
        let (_dir, host) = run_dir(Some(netns.path()));
        let endpoint = Endpoint::resolve(host, None).unwrap();
        assert_eq!(endpoint.netns.as_deref(), Some(netns.path()));
    }

    // A user's own engine (no marker next to its socket, or not a socket at all) is used as their shell uses
    // it, from this machine's namespace.
    #[test]
    fn any_other_engine_is_used_from_this_machines_namespace() {
        let (_dir, host) = run_dir(None);
        assert_eq!(Endpoint::resolve(host, None).unwrap().netns, None);
        let tcp = Endpoint::resolve("tcp://127.0.0.1:2375".into(), None).unwrap();
        assert_eq!(tcp.netns, None);
    }

    // A sealed engine whose namespace is gone must stop the run: its terminals would run outside it.
    #[test]
    fn a_sealed_engine_without_its_namespace_is_an_error() {
        let (_dir, host) = run_dir(Some(Path::new("/nonexistent/netns/dt-gone")));
        let err = Endpoint::resolve(host, None).unwrap_err();
        assert!(
            matches!(&err, EngineError::SealedNamespaceMissing { netns, .. } if netns == Path::new("/nonexistent/netns/dt-gone")),
            "{err:?}"
        );
    }

    // DOCKTEST_NETNS names the namespace to join, whatever the socket says; a wrong one is an error too.
    #[test]
    fn docktest_netns_wins_and_must_exist() {
        let netns = tempfile::NamedTempFile::new().unwrap();
        let (_dir, host) = run_dir(Some(Path::new("/nonexistent/netns/dt-gone")));
        let endpoint = Endpoint::resolve(host.clone(), Some(netns.path().into())).unwrap();
        assert_eq!(endpoint.netns.as_deref(), Some(netns.path()));
        let err = Endpoint::resolve(host, Some("/nonexistent/netns/dt-other".into())).unwrap_err();
        assert!(matches!(err, EngineError::NetnsMissing { .. }), "{err:?}");
    }
}
