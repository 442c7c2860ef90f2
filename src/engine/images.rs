//! Images the book needs: taken from the engine, pulled, or built offline from a local recipe.
//!
//! A recipe (`[preprocessor.docktest.images."nginx:alpine"]` in book.toml) describes a stand-in: the host's
//! static busybox with a symlink for every applet, a few generated base files (`/etc/passwd`, `/etc/os-release`,
//! `/tmp`, …), then the recipe's `files` directory on top. The rootfs is a tar built in memory, wrapped with
//! its image config in the archive `docker save` writes, and loaded (`POST /images/load`), which needs no
//! registry. Not `docker import` (`POST /images/create?fromSrc=-` with `changes`): bollard sends the changes
//! as one newline-joined value, which dockerd parses as a Dockerfile but Podman reads as one instruction, so
//! on Podman the stand-in's `PATH` held the whole list and nothing in it could be run ("unable to upgrade to
//! tcp, received 409" on every attached `docker run`), and Podman also drops the import's tag.
//!
//! The tar is deterministic (sorted entries, mtime 0, owner root): the same recipe and busybox give the same
//! layer. Its digest is kept in a label, so a stand-in whose recipe or files changed is rebuilt, while an image
//! that is not a stand-in is never replaced.

// Until the runner calls `ensure_images`, nothing outside this file's tests uses it.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ImportImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptions,
};
use bollard::Docker;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use serde_json::{json, Map, Value};

use crate::config::{ImageBase, ImageRecipe};

/// Label on every stand-in; its value is the recipe's description (what the stand-in replaces).
pub(crate) const STAND_IN_LABEL: &str = "org.docktest.stand-in";
/// Label holding the digest of the stand-in's rootfs and image changes, to notice a changed recipe.
const RECIPE_DIGEST_LABEL: &str = "org.docktest.recipe";
/// Where Debian's `busybox-static` installs the binary the stand-ins are made of.
const BUSYBOX: &str = "/bin/busybox";
const BUSYBOX_FIX: &str = "install a static busybox with `apt-get install busybox-static`";
/// A pull that has not finished by then is given up for the recipe. Offline, a pull fails within a few
/// milliseconds (the registry's name does not resolve); the bound is for networks that drop packets instead.
const PULL_TIMEOUT: Duration = Duration::from_secs(15);
/// alpine's `PATH`; a stand-in has no environment but the one its config gives.
const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where an image the book uses came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageStatus {
    pub reference: String,
    pub origin: ImageOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageOrigin {
    /// The engine already had it; `stand_in` is the description of an earlier-built stand-in.
    Present { stand_in: Option<String> },
    /// Pulled from its registry just now.
    Pulled,
    /// Built from its recipe just now: busybox plus `files` (the directory, as found from the book root).
    Built {
        stand_in: String,
        files: Option<PathBuf>,
    },
}

impl ImageOrigin {
    /// What the stand-in replaces, when the image is one.
    pub fn stand_in(&self) -> Option<&str> {
        match self {
            ImageOrigin::Present { stand_in } => stand_in.as_deref(),
            ImageOrigin::Pulled => None,
            ImageOrigin::Built { stand_in, .. } => Some(stand_in),
        }
    }
}

impl fmt::Display for ImageOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageOrigin::Present { stand_in: None } => f.write_str("from the engine"),
            ImageOrigin::Present {
                stand_in: Some(stand_in),
            } => write!(f, "stand-in ({stand_in}), already in the engine"),
            ImageOrigin::Pulled => f.write_str("pulled"),
            ImageOrigin::Built {
                stand_in,
                files: Some(files),
            } => write!(f, "stand-in ({stand_in}), built from {}", files.display()),
            ImageOrigin::Built {
                stand_in,
                files: None,
            } => write!(f, "stand-in ({stand_in}), built from the host's busybox"),
        }
    }
}

impl fmt::Display for ImageStatus {
    /// `nginx:alpine  stand-in (busybox httpd serving nginx's default page), built from book/images/nginx`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  {}", self.reference, self.origin)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot inspect image {reference}")]
    InspectImage {
        reference: String,
        #[source]
        source: BollardError,
    },
    #[error("cannot pull image {reference}")]
    PullImage {
        reference: String,
        #[source]
        source: BollardError,
    },
    #[error("cannot load the stand-in image {reference}")]
    ImportImage {
        reference: String,
        #[source]
        source: BollardError,
    },
    #[error("cannot export images {references} from the engine that readied them")]
    ExportImages {
        references: String,
        #[source]
        source: BollardError,
    },
    /// `what`: the images and the engine, `alpine:latest, nginx:alpine into the engine at unix://…`.
    #[error("cannot load images {what}")]
    LoadImages {
        what: String,
        #[source]
        source: BollardError,
    },
    #[error(
        "cannot read {path}, the files of the stand-in for {reference}; \
         fix `files` in [preprocessor.docktest.images.\"{reference}\"] of book.toml"
    )]
    RecipeFiles {
        reference: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} cannot be the stand-in images' busybox: {problem}; {BUSYBOX_FIX}")]
    RecipeBusybox {
        path: PathBuf,
        problem: String,
        #[source]
        source: Option<io::Error>,
    },
    #[error(
        "cannot build a stand-in for {reference}: {problem}; \
         fix the recipe [preprocessor.docktest.images.\"{reference}\"] in book.toml"
    )]
    RecipeInvalid { reference: String, problem: String },
    #[error(
        "image {reference} is not in the engine, cannot be pulled, and has no recipe; \
         add one as [preprocessor.docktest.images.\"{reference}\"] in book.toml, or load the image into \
         the engine"
    )]
    Unavailable {
        reference: String,
        #[source]
        source: BollardError,
    },
}

/// `alpine` → `alpine:latest`, as the engine reads a reference without a tag; digests stay as they are.
pub fn canonical_reference(reference: &str) -> String {
    match split_reference(reference) {
        Some((repo, tag)) => format!("{repo}:{tag}"),
        None => reference.to_owned(),
    }
}

/// A reference in the one spelling every engine and CLI can be compared in: `alpine` →
/// `docker.io/library/alpine:latest`, `me/app:1` → `docker.io/me/app:1`; a registry's stays its own. The
/// docker CLI sends `docker tag`'s new name in this form, while Docker lists `alpine:latest` (and Podman
/// the full form).
pub(crate) fn full_reference(reference: &str) -> String {
    let reference = canonical_reference(reference);
    let first = reference.split('/').next().unwrap_or_default();
    let registry = reference.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost");
    match (registry, reference.contains('/')) {
        (true, _) => reference,
        (false, true) => format!("docker.io/{reference}"),
        (false, false) => format!("docker.io/library/{reference}"),
    }
}

/// Makes sure the engine has an image the book uses but has no recipe for: present, else pulled.
pub(crate) async fn ensure_present(
    docker: &Docker,
    reference: &str,
) -> Result<ImageOrigin, ImageError> {
    match docker.inspect_image(reference).await {
        Ok(image) => {
            let stand_in = image
                .config
                .and_then(|config| config.labels)
                .and_then(|labels| labels.get(STAND_IN_LABEL).cloned());
            Ok(ImageOrigin::Present { stand_in })
        }
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => match pull(docker, reference).await {
            Ok(()) => Ok(ImageOrigin::Pulled),
            Err(ImageError::PullImage { source, .. }) => Err(ImageError::Unavailable {
                reference: reference.to_owned(),
                source,
            }),
            Err(other) => Err(other),
        },
        Err(source) => Err(ImageError::InspectImage {
            reference: reference.to_owned(),
            source,
        }),
    }
}

/// Makes sure the engine has every image that has a recipe: present, else pulled, else built from the recipe.
///
/// `book_root` is the folder of book.toml; recipes' `files` are relative to it.
pub(crate) async fn ensure_images(
    docker: &Docker,
    book_root: &Path,
    recipes: &BTreeMap<String, ImageRecipe>,
) -> Result<Vec<ImageStatus>, ImageError> {
    // Read once, and only when some image has to be built.
    let mut busybox: Option<Busybox> = None;
    let mut statuses = Vec::with_capacity(recipes.len());
    for (reference, recipe) in recipes {
        let origin = ensure_image(docker, book_root, reference, recipe, &mut busybox).await?;
        statuses.push(ImageStatus {
            reference: reference.clone(),
            origin,
        });
    }
    Ok(statuses)
}

async fn ensure_image(
    docker: &Docker,
    book_root: &Path,
    reference: &str,
    recipe: &ImageRecipe,
    busybox: &mut Option<Busybox>,
) -> Result<ImageOrigin, ImageError> {
    let inspect_error = |source| ImageError::InspectImage {
        reference: reference.to_owned(),
        source,
    };
    let present = match docker.inspect_image(reference).await {
        Ok(image) => Some(image),
        Err(BollardError::DockerResponseServerError {
            status_code: 404, ..
        }) => None,
        Err(source) => return Err(inspect_error(source)),
    };

    if let Some(image) = present {
        let labels = image
            .config
            .and_then(|config| config.labels)
            .unwrap_or_default();
        let Some(stand_in) = labels.get(STAND_IN_LABEL) else {
            // A real image (pulled or loaded by someone): never replaced by a stand-in.
            return Ok(ImageOrigin::Present { stand_in: None });
        };
        // A stand-in built earlier: keep it while its recipe and files are unchanged.
        let stand_in = stand_in.clone();
        let built = match build_stand_in(book_root, reference, recipe, busybox) {
            Ok(built) => built,
            // Built elsewhere, on a machine with busybox: usable as it is, though not checked.
            Err(ImageError::RecipeBusybox { .. }) => {
                return Ok(ImageOrigin::Present {
                    stand_in: Some(stand_in),
                })
            }
            Err(error) => return Err(error),
        };
        if labels.get(RECIPE_DIGEST_LABEL) == Some(&built.digest) {
            return Ok(ImageOrigin::Present {
                stand_in: Some(stand_in),
            });
        }
        import(docker, reference, built).await?;
        remove_outdated_stand_ins(docker).await;
        return Ok(built_origin(book_root, recipe));
    }

    if let Err(pull_error) = pull(docker, reference).await {
        if split_reference(reference).is_none() {
            // A digest names an image only its registry has: the pull's failure is the one to report.
            return Err(pull_error);
        }
        let built = build_stand_in(book_root, reference, recipe, busybox)?;
        import(docker, reference, built).await?;
        remove_outdated_stand_ins(docker).await;
        return Ok(built_origin(book_root, recipe));
    }
    Ok(ImageOrigin::Pulled)
}

fn built_origin(book_root: &Path, recipe: &ImageRecipe) -> ImageOrigin {
    ImageOrigin::Built {
        stand_in: recipe
            .description
            .clone()
            .unwrap_or_else(default_description),
        files: recipe.files.as_ref().map(|files| book_root.join(files)),
    }
}

fn default_description() -> String {
    "busybox".to_owned()
}

/// `docker pull`, bounded by [`PULL_TIMEOUT`].
async fn pull(docker: &Docker, reference: &str) -> Result<(), ImageError> {
    let options = match split_reference(reference) {
        Some((repo, tag)) => CreateImageOptionsBuilder::new()
            .from_image(repo)
            .tag(tag)
            .build(),
        // A digest reference (`name@sha256:…`): the engine reads it whole.
        None => CreateImageOptionsBuilder::new()
            .from_image(reference)
            .build(),
    };
    let drain = async {
        let mut progress = docker.create_image(Some(options), None, None);
        while let Some(message) = progress.next().await {
            message?;
        }
        Ok(())
    };
    tokio::time::timeout(PULL_TIMEOUT, drain)
        .await
        .unwrap_or(Err(BollardError::RequestTimeoutError))
        .map_err(|source| ImageError::PullImage {
            reference: reference.to_owned(),
            source,
        })
}

/// The image ID each of `references` has in the engine; references it lacks are left out.
pub(crate) async fn image_ids(
    docker: &Docker,
    references: &[String],
) -> Result<Vec<(String, String)>, ImageError> {
    let mut ids = Vec::with_capacity(references.len());
    for reference in references {
        match docker.inspect_image(reference).await {
            Ok(image) => ids.extend(image.id.map(|id| (reference.clone(), id))),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(source) => {
                return Err(ImageError::InspectImage {
                    reference: reference.clone(),
                    source,
                })
            }
        }
    }
    Ok(ids)
}

/// Of the images `wanted` (reference and ID in the engine that readied them), those this engine needs
/// loaded: it lacks them, or holds another build of the stand-in. An image of its own that is not a
/// stand-in is never replaced, as [`ensure_images`] never replaces one.
pub(crate) async fn to_load(
    docker: &Docker,
    wanted: &[(String, String)],
) -> Result<Vec<String>, ImageError> {
    let mut needed = Vec::new();
    for (reference, id) in wanted {
        match docker.inspect_image(reference).await {
            Ok(image) if image.id.as_ref() == Some(id) => {}
            Ok(image) => {
                let stand_in = image
                    .config
                    .and_then(|config| config.labels)
                    .is_some_and(|labels| labels.contains_key(STAND_IN_LABEL));
                if stand_in {
                    needed.push(reference.clone());
                }
            }
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => needed.push(reference.clone()),
            Err(source) => {
                return Err(ImageError::InspectImage {
                    reference: reference.clone(),
                    source,
                })
            }
        }
    }
    Ok(needed)
}

/// `docker save REFERENCES`: one tar of them all, in memory (stand-ins weigh about 2 MB).
pub(crate) async fn save(docker: &Docker, references: &[String]) -> Result<Vec<u8>, ImageError> {
    let names: Vec<&str> = references.iter().map(String::as_str).collect();
    let mut tar = Vec::new();
    let mut chunks = docker.export_images(&names);
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|source| ImageError::ExportImages {
            references: references.join(", "),
            source,
        })?;
        tar.extend_from_slice(&chunk);
    }
    Ok(tar)
}

/// `docker load` of a tar [`save`] made; then the stand-ins it replaced go, as after a rebuild.
pub(crate) async fn load(
    docker: &Docker,
    endpoint: &str,
    references: &[String],
    tar: Vec<u8>,
) -> Result<(), ImageError> {
    let options = bollard::query_parameters::ImportImageOptionsBuilder::new()
        .quiet(true)
        .build();
    let mut progress = docker.import_image(options, bollard::body_full(tar.into()), None);
    while let Some(message) = progress.next().await {
        message.map_err(|source| ImageError::LoadImages {
            what: format!("{} into the engine at {endpoint}", references.join(", ")),
            source,
        })?;
    }
    remove_outdated_stand_ins(docker).await;
    Ok(())
}

/// Removes stand-ins that a rebuild left untagged, once no container uses them.
///
/// Best effort: an image still used (by a running page, or by someone else's container) stays until a later
/// rebuild, and a failure here never fails the run. Only images carrying docktest's label are touched.
async fn remove_outdated_stand_ins(docker: &Docker) {
    let filters = HashMap::from([("dangling", vec!["true"]), ("label", vec![STAND_IN_LABEL])]);
    let options = ListImagesOptionsBuilder::new().filters(&filters).build();
    let Ok(images) = docker.list_images(Some(options)).await else {
        return;
    };
    for image in images {
        let _ = docker
            .remove_image(&image.id, None::<RemoveImageOptions>, None)
            .await;
    }
}

/// `docker load` of the stand-in: its layer and config in the archive `docker save` writes, tagged
/// `reference`. dockerd and Podman read this format alike (Podman stores the tag as
/// `docker.io/library/…`, the name its Docker API looks a short name up by).
async fn import(docker: &Docker, reference: &str, built: StandIn) -> Result<(), ImageError> {
    let archive = image_archive(reference, &built);
    let options = ImportImageOptionsBuilder::new().quiet(true).build();
    let mut progress = docker.import_image(options, bollard::body_full(archive.into()), None);
    while let Some(message) = progress.next().await {
        message.map_err(|source| ImageError::ImportImage {
            reference: reference.to_owned(),
            source,
        })?;
    }
    Ok(())
}

/// The archive `docker save` writes for one image of one layer: `manifest.json`, the config named by its
/// digest, the layer.
fn image_archive(reference: &str, built: &StandIn) -> Vec<u8> {
    let layer_digest = format!("sha256:{:x}", Sha256::digest(&built.tar));
    let config = json!({
        "architecture": oci_arch(),
        "os": "linux",
        "created": humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        "config": built.config,
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        "history": [{ "created_by": "docktest stand-in" }],
    });
    let config = serde_json::to_vec(&config).expect("JSON into memory");
    let config_name = format!("{:x}.json", Sha256::digest(&config));
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": [reference],
        "Layers": ["layer.tar"],
    }]);
    let manifest = serde_json::to_vec(&manifest).expect("JSON into memory");
    let mut tar = tar::Builder::new(Vec::new());
    for (path, data) in [
        ("layer.tar", built.tar.as_slice()),
        (config_name.as_str(), config.as_slice()),
        ("manifest.json", manifest.as_slice()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data)
            .expect("tar entry into memory");
    }
    tar.into_inner().expect("tar into memory")
}

/// This machine's architecture as image configs name it.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// A stand-in ready to load.
#[derive(Debug)]
struct StandIn {
    tar: Vec<u8>,
    /// The image config's `config` object (`Env`, `Cmd`, `ExposedPorts`, `Labels`, …).
    config: Value,
    /// `sha256:` of the tar and the config but the digest label itself.
    digest: String,
}

fn build_stand_in(
    book_root: &Path,
    reference: &str,
    recipe: &ImageRecipe,
    busybox: &mut Option<Busybox>,
) -> Result<StandIn, ImageError> {
    if split_reference(reference).is_none() {
        return Err(ImageError::RecipeInvalid {
            reference: reference.to_owned(),
            problem: "a digest reference names an image that only a registry has".to_owned(),
        });
    }
    let ImageBase::Busybox = recipe.base;
    let busybox = match busybox {
        Some(busybox) => busybox,
        None => busybox.insert(Busybox::load(Path::new(BUSYBOX))?),
    };
    let overlay = match &recipe.files {
        Some(files) => {
            let path = book_root.join(files);
            read_overlay(&path).map_err(|source| ImageError::RecipeFiles {
                reference: reference.to_owned(),
                path,
                source,
            })?
        }
        None => BTreeMap::new(),
    };
    let description = recipe
        .description
        .clone()
        .unwrap_or_else(default_description);
    let tar = rootfs_tar(busybox, reference, &description, overlay);
    let mut config = image_config(reference, recipe, &description)?;

    let mut hasher = Sha256::new();
    hasher.update(&tar);
    hasher.update(serde_json::to_vec(&config).expect("JSON into memory"));
    let digest = format!("sha256:{:x}", hasher.finalize());
    config["Labels"][RECIPE_DIGEST_LABEL] = Value::String(digest.clone());
    Ok(StandIn {
        tar,
        config,
        digest,
    })
}

/// `name:tag` split at the tag (`localhost:5000/web` has none: `latest`); `None` for a digest reference.
fn split_reference(reference: &str) -> Option<(&str, &str)> {
    if reference.contains('@') {
        return None;
    }
    let name_start = reference.rfind('/').map_or(0, |slash| slash + 1);
    Some(match reference[name_start..].rfind(':') {
        Some(colon) => (
            &reference[..name_start + colon],
            &reference[name_start + colon + 1..],
        ),
        None => (reference, "latest"),
    })
}

/// The image config the recipe gives (the `config` object of the image's JSON): what `docker import
/// --change` would set.
fn image_config(
    reference: &str,
    recipe: &ImageRecipe,
    description: &str,
) -> Result<Value, ImageError> {
    let invalid = |problem: String| ImageError::RecipeInvalid {
        reference: reference.to_owned(),
        problem,
    };
    let mut env = vec![Value::String(PATH_ENV.to_owned())];
    for pair in &recipe.env {
        if !is_env_pair(pair) {
            return Err(invalid(format!("`env` entry {pair:?} is not KEY=value")));
        }
        env.push(Value::String(pair.clone()));
    }
    let mut config = Map::new();
    config.insert("Env".to_owned(), Value::Array(env));
    if let Some(workdir) = &recipe.workdir {
        if !workdir.starts_with('/') || workdir.contains('\n') {
            return Err(invalid(format!(
                "`workdir` {workdir:?} is not an absolute path"
            )));
        }
        config.insert("WorkingDir".to_owned(), Value::String(workdir.clone()));
    }
    let mut exposed = Map::new();
    for port in &recipe.expose {
        let key = match port.split_once('/') {
            Some((number, protocol))
                if number.parse::<u16>().is_ok() && matches!(protocol, "tcp" | "udp" | "sctp") =>
            {
                port.clone()
            }
            None if port.parse::<u16>().is_ok() => format!("{port}/tcp"),
            _ => {
                return Err(invalid(format!(
                    "`expose` entry {port:?} is not PORT[/tcp|udp|sctp]"
                )))
            }
        };
        exposed.insert(key, json!({}));
    }
    if !exposed.is_empty() {
        config.insert("ExposedPorts".to_owned(), Value::Object(exposed));
    }
    if !recipe.cmd.is_empty() {
        config.insert("Cmd".to_owned(), json!(recipe.cmd));
    }
    config.insert(
        "Labels".to_owned(),
        json!({ STAND_IN_LABEL: description.replace('\n', " ") }),
    );
    Ok(Value::Object(config))
}

/// Whether `pair` is `KEY=value` with a key a shell could name.
fn is_env_pair(pair: &str) -> bool {
    let Some((key, value)) = pair.split_once('=') else {
        return false;
    };
    !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && !value.contains('\n')
}

/// The host's static busybox: its bytes, where its applets go, and its version line.
#[derive(Debug, Clone)]
struct Busybox {
    binary: Vec<u8>,
    /// Paths relative to the root, as `busybox --list-full` prints them (`bin/sh`, `usr/bin/wget`).
    applets: Vec<String>,
    /// `BusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1)`.
    version: String,
}

impl Busybox {
    fn load(path: &Path) -> Result<Busybox, ImageError> {
        let unusable = |problem: &str, source: Option<io::Error>| ImageError::RecipeBusybox {
            path: path.to_owned(),
            problem: problem.to_owned(),
            source,
        };
        let mut binary = std::fs::read(path).map_err(|e| unusable("cannot read it", Some(e)))?;
        match elf_is_static(&binary) {
            Some(true) => {}
            Some(false) => return Err(unusable("it is dynamically linked", None)),
            None => return Err(unusable("it is not an ELF executable", None)),
        }
        let list = std::process::Command::new(path)
            .arg("--list-full")
            .output()
            .map_err(|e| unusable("cannot run it", Some(e)))?;
        if !list.status.success() {
            return Err(unusable("`busybox --list-full` failed", None));
        }
        let applets = String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::trim)
            // Only the usual bin directories: Debian's list also has `linuxrc` at the root.
            .filter(|applet| {
                ["bin/", "sbin/", "usr/bin/", "usr/sbin/"]
                    .iter()
                    .any(|dir| applet.starts_with(dir))
                    && !applet.contains("..")
                    && *applet != "bin/busybox"
            })
            .map(str::to_owned)
            .collect::<Vec<_>>();
        if !applets.iter().any(|applet| applet == "bin/sh") {
            return Err(unusable("it has no `sh` applet", None));
        }
        // `busybox` alone prints its usage, starting with `BusyBox v1.35.0 (…) multi-call binary.`
        let usage = std::process::Command::new(path)
            .output()
            .map_err(|e| unusable("cannot run it", Some(e)))?;
        let version = String::from_utf8_lossy(&usage.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&usage.stderr).lines())
            .find(|line| line.starts_with("BusyBox"))
            .map(|line| line.trim_end_matches(" multi-call binary.").to_owned())
            .unwrap_or_else(|| "BusyBox".to_owned());
        silence_shell_banner(&mut binary);
        Ok(Busybox {
            binary,
            applets,
            version,
        })
    }
}

/// The format string Debian's busybox prints when `sh` starts on a terminal (`docker run -it alpine`).
const SHELL_BANNER: &[u8] = b"\n\n%s %s\nEnter 'help' for a list of built-in commands.\n\n\0";

/// Makes an interactive `sh` start with just its prompt, as alpine's does.
///
/// alpine builds busybox with `FEATURE_SH_EXTRA_QUIET`; Debian's prints a banner ("BusyBox v1.35.0 …
/// built-in shell (ash)") that a reader of the book would never see. The banner cannot be turned off at run
/// time, so its format string is emptied in the stand-in's copy of the binary (same length, one byte).
/// Returns whether the string was found; a busybox without it is left as it is.
fn silence_shell_banner(binary: &mut [u8]) -> bool {
    match binary
        .windows(SHELL_BANNER.len())
        .position(|window| window == SHELL_BANNER)
    {
        Some(at) => {
            binary[at] = 0;
            true
        }
        None => false,
    }
}

/// Whether an ELF executable has no program interpreter (`PT_INTERP`); `None` if it is not ELF.
fn elf_is_static(elf: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if elf.get(..4)? != b"\x7fELF" {
        return None;
    }
    let class = *elf.get(4)?;
    let little = match *elf.get(5)? {
        1 => true,
        2 => false,
        _ => return None,
    };
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = elf.get(at..at.checked_add(len)?)?;
        let mut value = 0u64;
        for i in 0..len {
            let byte = if little { bytes[len - 1 - i] } else { bytes[i] };
            value = (value << 8) | u64::from(byte);
        }
        Some(value)
    };
    // e_phoff, e_phentsize, e_phnum for ELF32 and ELF64.
    let (phoff, phentsize, phnum) = match class {
        1 => (read(0x1c, 4)?, read(0x2a, 2)?, read(0x2c, 2)?),
        2 => (read(0x20, 8)?, read(0x36, 2)?, read(0x38, 2)?),
        _ => return None,
    };
    for i in 0..phnum {
        let at = phoff.checked_add(i.checked_mul(phentsize)?)?;
        if read(usize::try_from(at).ok()?, 4)? == u64::from(PT_INTERP) {
            return Some(false);
        }
    }
    Some(true)
}

/// One entry of the rootfs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: PathBuf },
}

/// The files under `dir`, by path relative to it, with their modes; symlinks are kept as symlinks.
fn read_overlay(dir: &Path) -> io::Result<BTreeMap<String, Node>> {
    fn walk(dir: &Path, prefix: &str, nodes: &mut BTreeMap<String, Node>) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is not UTF-8", entry.path().display()),
                ));
            };
            let path = format!("{prefix}{name}");
            let meta = entry.path().symlink_metadata()?;
            let mode = meta.permissions().mode() & 0o7777;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(entry.path())?;
                nodes.insert(path, Node::Symlink { target });
            } else if meta.is_dir() {
                nodes.insert(path.clone(), Node::Dir { mode });
                walk(&entry.path(), &format!("{path}/"), nodes)?;
            } else if meta.is_file() {
                let data = std::fs::read(entry.path())?;
                nodes.insert(path, Node::File { mode, data });
            }
            // Sockets, fifos and devices have no place in a recipe; they are left out.
        }
        Ok(())
    }
    if !dir.is_dir() {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no such directory"));
    }
    let mut nodes = BTreeMap::new();
    walk(dir, "", &mut nodes)?;
    Ok(nodes)
}

/// The files every busybox stand-in has, before the recipe's own.
fn base_nodes(busybox: &Busybox, reference: &str, description: &str) -> BTreeMap<String, Node> {
    let mut nodes = BTreeMap::new();
    let dir = |mode| Node::Dir { mode };
    let file = |text: String| Node::File {
        mode: 0o644,
        data: text.into_bytes(),
    };
    for path in [
        "bin",
        "dev",
        "etc",
        "home",
        "lib",
        "media",
        "mnt",
        "opt",
        "proc",
        "run",
        "sbin",
        "srv",
        "sys",
        "usr",
        "usr/bin",
        "usr/lib",
        "usr/local",
        "usr/local/bin",
        "usr/local/sbin",
        "usr/sbin",
        "usr/share",
        "var",
        "var/cache",
        "var/empty",
        "var/lib",
        "var/log",
        "var/spool",
        "var/www",
    ] {
        nodes.insert(path.to_owned(), dir(0o755));
    }
    nodes.insert("root".to_owned(), dir(0o700));
    nodes.insert("tmp".to_owned(), dir(0o1777));
    nodes.insert("var/tmp".to_owned(), dir(0o1777));
    // As in alpine.
    let symlink = |target: &str| Node::Symlink {
        target: PathBuf::from(target),
    };
    nodes.insert("var/run".to_owned(), symlink("/run"));

    nodes.insert(
        "bin/busybox".to_owned(),
        Node::File {
            mode: 0o755,
            data: busybox.binary.clone(),
        },
    );
    for applet in &busybox.applets {
        nodes.insert(
            applet.clone(),
            Node::Symlink {
                target: PathBuf::from("/bin/busybox"),
            },
        );
    }

    nodes.insert(
        "etc/passwd".to_owned(),
        file(
            "root:x:0:0:root:/root:/bin/sh\n\
             daemon:x:2:2:daemon:/sbin:/sbin/nologin\n\
             www-data:x:82:82:www-data:/var/www:/sbin/nologin\n\
             nobody:x:65534:65534:nobody:/:/sbin/nologin\n"
                .to_owned(),
        ),
    );
    nodes.insert(
        "etc/group".to_owned(),
        file(
            "root:x:0:root\n\
             daemon:x:2:daemon\n\
             www-data:x:82:www-data\n\
             nogroup:x:65533:\n\
             nobody:x:65534:\n"
                .to_owned(),
        ),
    );
    nodes.insert(
        "etc/shadow".to_owned(),
        Node::File {
            mode: 0o640,
            data: b"root:*::0:::::\ndaemon:!::0:::::\nwww-data:!::0:::::\nnobody:!::0:::::\n"
                .to_vec(),
        },
    );
    nodes.insert(
        "etc/shells".to_owned(),
        file("/bin/sh\n/bin/ash\n".to_owned()),
    );
    nodes.insert(
        "etc/os-release".to_owned(),
        file(format!(
            "NAME=\"docktest stand-in\"\n\
             ID=docktest-stand-in\n\
             PRETTY_NAME={}\n\
             VERSION_ID={}\n\
             HOME_URL=\"https://busybox.net/\"\n",
            shell_quote(&format!("docktest stand-in for {reference}: {description}")),
            shell_quote(&busybox.version),
        )),
    );
    // busybox's nc, wget and nslookup look service names up here.
    nodes.insert(
        "etc/services".to_owned(),
        file(
            "ftp\t\t21/tcp\nssh\t\t22/tcp\ntelnet\t\t23/tcp\nsmtp\t\t25/tcp\ndomain\t\t53/tcp\n\
             domain\t\t53/udp\nhttp\t\t80/tcp\t\twww\nntp\t\t123/udp\nhttps\t\t443/tcp\n\
             mysql\t\t3306/tcp\npostgresql\t5432/tcp\nredis\t\t6379/tcp\n"
                .to_owned(),
        ),
    );
    nodes.insert(
        "etc/protocols".to_owned(),
        file(
            "ip\t0\tIP\nicmp\t1\tICMP\ntcp\t6\tTCP\nudp\t17\tUDP\nipv6-icmp\t58\tIPv6-ICMP\n"
                .to_owned(),
        ),
    );
    nodes
}

/// A value for an os-release line (shell syntax, double quotes).
fn shell_quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            quoted.push('\\');
        }
        if c != '\n' {
            quoted.push(c);
        }
    }
    quoted.push('"');
    quoted
}

/// The stand-in's rootfs as a tar: base files, then `overlay` on top, sorted by path, mtime 0, owner root.
fn rootfs_tar(
    busybox: &Busybox,
    reference: &str,
    description: &str,
    overlay: BTreeMap<String, Node>,
) -> Vec<u8> {
    let mut nodes = base_nodes(busybox, reference, description);
    nodes.extend(overlay);
    let mut tar = tar::Builder::new(Vec::new());
    for (path, node) in &nodes {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let written = match node {
            Node::Dir { mode } => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(*mode);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), io::empty())
            }
            Node::File { mode, data } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(*mode);
                header.set_size(data.len() as u64);
                tar.append_data(&mut header, path, data.as_slice())
            }
            Node::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_mode(0o777);
                header.set_size(0);
                tar.append_link(&mut header, path, target)
            }
        };
        // Writing into a Vec cannot fail; paths are relative and free of `..` by construction.
        written.expect("tar entry into memory");
    }
    tar.into_inner().expect("tar into memory")
}

#[cfg(test)]
mod tests {
    // `docker tag alpine users:keep` reaches the engine as `repo=docker.io/library/users`, which Docker
    // lists as `users:keep`: both must be seen as one name.
    #[test]
    fn references_compare_in_their_full_spelling() {
        for (given, full) in [
            ("users:keep", "docker.io/library/users:keep"),
            (
                "docker.io/library/users:keep",
                "docker.io/library/users:keep",
            ),
            ("alpine", "docker.io/library/alpine:latest"),
            ("me/app:1", "docker.io/me/app:1"),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("registry.example/a/b:2", "registry.example/a/b:2"),
        ] {
            assert_eq!(full_reference(given), full, "{given}");
        }
    }

    use super::*;

    fn fake_busybox() -> Busybox {
        Busybox {
            binary: b"\x7fELF fake busybox".to_vec(),
            applets: vec![
                "bin/sh".to_owned(),
                "bin/nc".to_owned(),
                "usr/bin/wget".to_owned(),
                "usr/sbin/httpd".to_owned(),
            ],
            version: "BusyBox v1.35.0 (test)".to_owned(),
        }
    }

    fn entries(tar: &[u8]) -> BTreeMap<String, (tar::EntryType, u32, Option<PathBuf>, Vec<u8>)> {
        let mut archive = tar::Archive::new(tar);
        let mut entries = BTreeMap::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let header = entry.header().clone();
            let link = entry.link_name().unwrap().map(|l| l.into_owned());
            let mut data = Vec::new();
            io::Read::read_to_end(&mut entry, &mut data).unwrap();
            let previous = entries.insert(
                path.clone(),
                (header.entry_type(), header.mode().unwrap(), link, data),
            );
            assert!(previous.is_none(), "{path} twice in the tar");
        }
        entries
    }

    fn temp_overlay(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("docktest-images-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("usr/share/nginx/html")).unwrap();
        std::fs::write(dir.join("usr/share/nginx/html/index.html"), "<h1>hi</h1>\n").unwrap();
        std::fs::write(dir.join("entrypoint.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.join("entrypoint.sh"),
            std::fs::Permissions::from_mode(0o750),
        )
        .unwrap();
        std::os::unix::fs::symlink("usr/share/nginx/html", dir.join("html")).unwrap();
        dir
    }

    // Every applet must be reachable by name, as in alpine, or `wget` in a snippet is "not found".
    #[test]
    fn applets_are_symlinks_to_busybox() {
        let tar = rootfs_tar(&fake_busybox(), "alpine:latest", "test", BTreeMap::new());
        let entries = entries(&tar);
        let (kind, mode, _, data) = &entries["bin/busybox"];
        assert_eq!((*kind, *mode), (tar::EntryType::Regular, 0o755));
        assert_eq!(data, b"\x7fELF fake busybox");
        for applet in ["bin/sh", "bin/nc", "usr/bin/wget", "usr/sbin/httpd"] {
            let (kind, _, link, _) = &entries[applet];
            assert_eq!(*kind, tar::EntryType::Symlink, "{applet}");
            assert_eq!(link.as_deref(), Some(Path::new("/bin/busybox")), "{applet}");
        }
    }

    // The generated base: what programs expect of any Linux rootfs (a sticky /tmp, a root user).
    #[test]
    fn base_files_are_generated() {
        let tar = rootfs_tar(
            &fake_busybox(),
            "nginx:alpine",
            "busybox httpd",
            BTreeMap::new(),
        );
        let entries = entries(&tar);
        assert_eq!(entries["tmp/"].1, 0o1777);
        assert_eq!(entries["tmp/"].0, tar::EntryType::Directory);
        assert_eq!(entries["root/"].1, 0o700);
        assert!(String::from_utf8_lossy(&entries["etc/passwd"].3).starts_with("root:x:0:0:"));
        let os_release = String::from_utf8_lossy(&entries["etc/os-release"].3).into_owned();
        assert!(
            os_release
                .contains("PRETTY_NAME=\"docktest stand-in for nginx:alpine: busybox httpd\""),
            "{os_release}"
        );
    }

    // The recipe's files land on top of the base with their modes, symlinks kept as symlinks.
    #[test]
    fn overlay_files_keep_their_modes() {
        let dir = temp_overlay("modes");
        let overlay = read_overlay(&dir).unwrap();
        let tar = rootfs_tar(&fake_busybox(), "nginx:alpine", "test", overlay);
        std::fs::remove_dir_all(&dir).unwrap();
        let entries = entries(&tar);
        let (kind, mode, _, data) = &entries["usr/share/nginx/html/index.html"];
        assert_eq!((*kind, *mode), (tar::EntryType::Regular, 0o644));
        assert_eq!(data, b"<h1>hi</h1>\n");
        assert_eq!(entries["entrypoint.sh"].1, 0o750);
        assert_eq!(entries["usr/share/nginx/"].0, tar::EntryType::Directory);
        let (kind, _, link, _) = &entries["html"];
        assert_eq!(*kind, tar::EntryType::Symlink);
        assert_eq!(link.as_deref(), Some(Path::new("usr/share/nginx/html")));
    }

    // Rebuilding the same recipe must give the same layer, so the digest label detects real changes only.
    #[test]
    fn tar_is_sorted_and_deterministic() {
        let dir = temp_overlay("determinism");
        let first = rootfs_tar(
            &fake_busybox(),
            "nginx:alpine",
            "t",
            read_overlay(&dir).unwrap(),
        );
        // Touch a file: mtimes must not reach the tar.
        std::fs::write(dir.join("entrypoint.sh"), "#!/bin/sh\n").unwrap();
        let second = rootfs_tar(
            &fake_busybox(),
            "nginx:alpine",
            "t",
            read_overlay(&dir).unwrap(),
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(first == second, "two builds of the same recipe differ");

        let mut archive = tar::Archive::new(first.as_slice());
        let mut paths = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            assert_eq!(entry.header().mtime().unwrap(), 0);
            assert_eq!(entry.header().uid().unwrap(), 0);
            paths.push(
                entry
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_end_matches('/')
                    .to_owned(),
            );
        }
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
    }

    // A missing `files` directory names the path and the book.toml table to fix.
    #[test]
    fn missing_files_dir_names_path_and_fix() {
        let recipe = ImageRecipe {
            base: ImageBase::Busybox,
            files: Some(PathBuf::from("images/nope")),
            cmd: vec![],
            expose: vec![],
            env: vec![],
            workdir: None,
            description: None,
        };
        let mut busybox = Some(fake_busybox());
        let error =
            build_stand_in(Path::new("book"), "nginx:alpine", &recipe, &mut busybox).unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot read book/images/nope, the files of the stand-in for nginx:alpine; \
             fix `files` in [preprocessor.docktest.images.\"nginx:alpine\"] of book.toml"
        );
    }

    // A missing busybox says how to install the static one.
    #[test]
    fn missing_busybox_names_the_fix() {
        let error = Busybox::load(Path::new("/nonexistent/busybox")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "/nonexistent/busybox cannot be the stand-in images' busybox: cannot read it; \
             install a static busybox with `apt-get install busybox-static`"
        );
    }

    // The stand-ins are made of the host's busybox: it must be static, list its applets and lose its banner.
    #[test]
    fn host_busybox_is_usable() {
        let busybox = Busybox::load(Path::new(BUSYBOX)).unwrap_or_else(|e| panic!("{e}"));
        for applet in [
            "bin/sh",
            "usr/bin/wget",
            "usr/bin/nc",
            "usr/bin/nslookup",
            "sbin/ip",
            "usr/sbin/httpd",
        ] {
            assert!(busybox.applets.iter().any(|a| a == applet), "no {applet}");
        }
        assert!(!busybox
            .applets
            .iter()
            .any(|a| a == "linuxrc" || a == "bin/busybox"));
        assert!(
            busybox.version.starts_with("BusyBox v"),
            "{}",
            busybox.version
        );
        assert!(!busybox
            .binary
            .windows(SHELL_BANNER.len())
            .any(|w| w == SHELL_BANNER));
    }

    // `docker run -it alpine` must show the prompt alone, not Debian's busybox banner.
    #[test]
    fn shell_banner_is_silenced() {
        let mut binary = b"\0turned off\0built-in shell (ash)\0".to_vec();
        binary.extend_from_slice(SHELL_BANNER);
        binary.extend_from_slice(b"[%d]   \0");
        let before = binary.clone();
        assert!(silence_shell_banner(&mut binary));
        assert_eq!(binary.len(), before.len());
        let at = before.windows(2).position(|w| w == b"\n\n").unwrap();
        assert_eq!(binary[at], 0);
        assert_eq!(binary[at + 1..], before[at + 1..]);
        // A busybox without the banner is left untouched.
        let mut other = b"BusyBox v1.36.1".to_vec();
        assert!(!silence_shell_banner(&mut other));
        assert_eq!(other, b"BusyBox v1.36.1");
    }

    // A dynamically linked busybox would not run in a rootfs without its libc.
    #[test]
    fn dynamic_elf_is_recognised() {
        let mut elf = vec![0u8; 0x40 + 56 * 2];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x20] = 0x40; // e_phoff
        elf[0x36] = 56; // e_phentsize
        elf[0x38] = 2; // e_phnum
        elf[0x40] = 1; // PT_LOAD
        assert_eq!(elf_is_static(&elf), Some(true));
        elf[0x40 + 56] = 3; // PT_INTERP
        assert_eq!(elf_is_static(&elf), Some(false));
        assert_eq!(elf_is_static(b"#!/bin/sh\n"), None);
    }

    // The config is taken as written: no Dockerfile quoting for an apostrophe, spaces or `$` to survive.
    #[test]
    fn config_keeps_values_as_written() {
        let recipe = ImageRecipe {
            base: ImageBase::Busybox,
            files: None,
            cmd: vec![
                "httpd".into(),
                "-f".into(),
                "-h".into(),
                "/srv/a \"b\"".into(),
            ],
            expose: vec!["80/tcp".into(), "53/udp".into(), "8080".into()],
            env: vec!["GREETING=hello $USER".into()],
            workdir: Some("/srv".into()),
            description: None,
        };
        let config = image_config(
            "nginx:alpine",
            &recipe,
            "busybox httpd serving nginx's page",
        )
        .unwrap();
        assert_eq!(
            config,
            json!({
                "Env": [
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "GREETING=hello $USER",
                ],
                "WorkingDir": "/srv",
                "ExposedPorts": { "80/tcp": {}, "53/udp": {}, "8080/tcp": {} },
                "Cmd": ["httpd", "-f", "-h", "/srv/a \"b\""],
                "Labels": { "org.docktest.stand-in": "busybox httpd serving nginx's page" },
            })
        );
        let bad = ImageRecipe {
            expose: vec!["http".into()],
            ..recipe
        };
        assert!(image_config("nginx:alpine", &bad, "x").is_err());
    }

    // On Podman the stand-in's PATH held every import change at once, so no command in it could run and
    // each attached `docker run` failed with "unable to upgrade to tcp, received 409": the archive carries
    // the config as JSON, one value per variable, and the tag the page uses.
    #[test]
    fn the_archive_names_its_config_layer_and_tag() {
        let built = StandIn {
            tar: b"layer".to_vec(),
            config: json!({ "Env": ["PATH=/bin"], "Cmd": ["sh"] }),
            digest: "sha256:x".into(),
        };
        let archive = image_archive("nginx:alpine", &built);
        let mut files = BTreeMap::new();
        for entry in tar::Archive::new(archive.as_slice()).entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            io::Read::read_to_end(&mut entry, &mut data).unwrap();
            files.insert(path, data);
        }
        let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        assert_eq!(manifest[0]["RepoTags"], json!(["nginx:alpine"]));
        assert_eq!(manifest[0]["Layers"], json!(["layer.tar"]));
        assert_eq!(files["layer.tar"], b"layer");
        let config_name = manifest[0]["Config"].as_str().unwrap();
        let config: Value = serde_json::from_slice(&files[config_name]).unwrap();
        assert_eq!(config["config"]["Env"], json!(["PATH=/bin"]));
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            json!(format!("sha256:{:x}", Sha256::digest(b"layer")))
        );
    }

    // Tags are split like the docker CLI does, a registry port is not a tag.
    #[test]
    fn references_split_at_the_tag() {
        assert_eq!(split_reference("nginx:alpine"), Some(("nginx", "alpine")));
        assert_eq!(split_reference("alpine"), Some(("alpine", "latest")));
        assert_eq!(
            split_reference("localhost:5000/web"),
            Some(("localhost:5000/web", "latest"))
        );
        assert_eq!(
            split_reference("localhost:5000/web:1"),
            Some(("localhost:5000/web", "1"))
        );
        assert_eq!(split_reference("alpine@sha256:abc"), None);
    }

    // The report line the runner prints for each image.
    #[test]
    fn status_reads_well() {
        let status = ImageStatus {
            reference: "nginx:alpine".to_owned(),
            origin: ImageOrigin::Built {
                stand_in: "busybox httpd serving nginx's default page".to_owned(),
                files: Some(PathBuf::from("book/images/nginx")),
            },
        };
        assert_eq!(
            status.to_string(),
            "nginx:alpine  stand-in (busybox httpd serving nginx's default page), built from book/images/nginx"
        );
        let present = ImageStatus {
            reference: "alpine:latest".to_owned(),
            origin: ImageOrigin::Present { stand_in: None },
        };
        assert_eq!(present.to_string(), "alpine:latest  from the engine");
    }
}
