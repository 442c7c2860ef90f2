//! What a page may ask of the engine: the sandbox every container create, exec create and volume create a
//! page sends must stay inside.
//!
//! The sealed engine keeps a page's traffic on the machine; it does not keep the page off the machine
//! itself. A container with `-v /:/host`, `--pid host` or `--privileged` reaches the files, processes or
//! kernel of whatever machine runs the book, and docs are contributed by people who would never be allowed
//! to change the CI scripts. So by default a page gets what an ordinary unprivileged container gets, and
//! each power beyond that ([`Power`]) must be granted by name, on the block (`allow="pid-host"`) or for
//! the whole book (`allow = ["pid-host"]` under `[preprocessor.docktest]`). `--network host` needs no
//! grant: in a sealed engine the host is the sealed namespace.
//!
//! [`check`] is pure: the proxy hands it a request's JSON body and the page's sandbox, and forwards the
//! request only when it answers [`Check::Allowed`]. dockerd decodes bodies with Go's `encoding/json`, which
//! matches keys case-insensitively, reads only the first JSON value of a body, and still honours host
//! options written at the top level of a create body (the pre-1.24 layout); the reading here is at least
//! as wide, so nothing dockerd would act on passes unseen.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

/// One power beyond an ordinary container's, as authors name it in `allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Power {
    /// `--privileged`, on `docker run` or `docker exec`.
    Privileged,
    /// `--pid host`
    PidHost,
    /// `--ipc host`
    IpcHost,
    /// `--uts host`
    UtsHost,
    /// `--userns host`
    UsernsHost,
    /// `--cgroupns host`
    CgroupnsHost,
    /// `--device`, `--gpus`, `--device-cgroup-rule`, a volume that mounts a device.
    Devices,
    /// `--cap-add` of a capability Docker does not give every container.
    CapAdd,
    /// `--security-opt seccomp=unconfined`, `apparmor=unconfined`, `label=disable`,
    /// `systempaths=unconfined`, or a seccomp profile of the page's own.
    Unconfined,
    /// A bind mount of a host path outside the page's working folder (`-v /src:/dst`, `--mount
    /// type=bind`, a local volume with `o=bind`).
    BindMounts,
    /// `--volumes-from` a container the page did not create.
    VolumesFrom,
}

impl Power {
    pub const ALL: [Power; 11] = [
        Power::Privileged,
        Power::PidHost,
        Power::IpcHost,
        Power::UtsHost,
        Power::UsernsHost,
        Power::CgroupnsHost,
        Power::Devices,
        Power::CapAdd,
        Power::Unconfined,
        Power::BindMounts,
        Power::VolumesFrom,
    ];

    /// The name authors write in `allow`.
    pub fn name(self) -> &'static str {
        match self {
            Power::Privileged => "privileged",
            Power::PidHost => "pid-host",
            Power::IpcHost => "ipc-host",
            Power::UtsHost => "uts-host",
            Power::UsernsHost => "userns-host",
            Power::CgroupnsHost => "cgroupns-host",
            Power::Devices => "devices",
            Power::CapAdd => "cap-add",
            Power::Unconfined => "unconfined",
            Power::BindMounts => "bind-mounts",
            Power::VolumesFrom => "volumes-from",
        }
    }

    fn from_name(name: &str) -> Option<Power> {
        Power::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Power {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every power name, for error messages: `privileged, pid-host, …, bind-mounts[:PATH], volumes-from`.
pub fn known_names() -> String {
    Power::ALL
        .iter()
        .map(|p| match p {
            Power::BindMounts => format!("{p}[:PATH]"),
            p => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The powers granted to a block: the book's and its own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allowed {
    powers: BTreeSet<Power>,
    /// `bind-mounts:/srv/data`: bind mounts of this host path and below only.
    bind_paths: BTreeSet<PathBuf>,
}

impl Allowed {
    /// Reads power names (`pid-host`, `bind-mounts:/srv/data`). An unknown name, or a bind path that is not
    /// absolute, is an error naming it and the known ones.
    pub fn parse<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Allowed, String> {
        let mut allowed = Allowed::default();
        for word in words {
            if let Some(path) = word.strip_prefix("bind-mounts:") {
                if !path.starts_with('/') {
                    return Err(format!(
                        "`{word}`: the path after `bind-mounts:` must be absolute, e.g. `bind-mounts:/srv/data`"
                    ));
                }
                allowed.bind_paths.insert(PathBuf::from(path));
            } else if let Some(power) = Power::from_name(word) {
                allowed.powers.insert(power);
            } else {
                return Err(format!("unknown power `{word}` (known: {})", known_names()));
            }
        }
        Ok(allowed)
    }

    /// Both grants together.
    pub fn union(&self, other: &Allowed) -> Allowed {
        Allowed {
            powers: self.powers.union(&other.powers).copied().collect(),
            bind_paths: self.bind_paths.union(&other.bind_paths).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.powers.is_empty() && self.bind_paths.is_empty()
    }

    /// The grants as authors write them, for the note readers see.
    pub fn names(&self) -> Vec<String> {
        let powers = self.powers.iter().map(|p| p.to_string());
        let paths = self
            .bind_paths
            .iter()
            .map(|p| format!("bind-mounts:{}", p.display()));
        powers.chain(paths).collect()
    }

    fn allows(&self, power: Power) -> bool {
        self.powers.contains(&power)
    }

    /// Whether a bind mount of `source` (resolved) is granted: all of them, or one of the named paths.
    fn allows_bind(&self, source: &Path) -> bool {
        self.allows(Power::BindMounts)
            || self
                .bind_paths
                .iter()
                .any(|granted| source.starts_with(resolve(granted)))
    }
}

/// What a page may do right now: the grants of the block that runs, its working folder (bind mounts of it
/// and below are always fine) and the containers it created (`--volumes-from` them is fine).
#[derive(Debug, Clone, Copy)]
pub struct Sandbox<'a> {
    pub allowed: &'a Allowed,
    pub folder: &'a Path,
    /// IDs and names of the containers the page created.
    pub own: &'a [String],
}

/// The requests the policy reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `POST [/v1.xx]/containers/create`
    ContainerCreate,
    /// `POST [/v1.xx]/containers/{id}/exec`
    ExecCreate,
    /// `POST [/v1.xx]/volumes/create`
    VolumeCreate,
}

impl Request {
    /// Which request a call is, from its method and path; `None` for every call the policy lets through.
    pub fn of(method: &hyper::Method, path: &str) -> Option<Request> {
        if method != hyper::Method::POST {
            return None;
        }
        let path = unversioned(path);
        match path.as_str() {
            "/containers/create" => Some(Request::ContainerCreate),
            "/volumes/create" => Some(Request::VolumeCreate),
            _ => {
                // dockerd routes `/containers/{name:.*}/exec`: any name, slashes included.
                let id = path.strip_prefix("/containers/")?.strip_suffix("/exec")?;
                (!id.is_empty()).then_some(Request::ExecCreate)
            }
        }
    }
}

/// The API path dockerd routes a request by: percent-decoded, as its router matches it
/// (`/containers/%63reate` is `/containers/create` to dockerd), without the `/v1.xx` version prefix.
pub(crate) fn unversioned(path: &str) -> String {
    let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let bare = match path.strip_prefix("/v") {
        Some(rest) => rest.find('/').map_or(&*path, |i| &rest[i..]),
        None => &path,
    };
    bare.to_string()
}

/// A power a request asked for and was not granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub power: Power,
    /// What exactly was asked, in the docker CLI's words where it has them: `--pid host`,
    /// `a bind mount of / (-v /:/host)`.
    pub what: String,
    /// The narrowest grant that allows it, as written in `allow`: `pid-host`, `bind-mounts:/srv/data`.
    pub grant: String,
}

impl Refusal {
    fn new(power: Power, what: impl Into<String>) -> Refusal {
        Refusal {
            power,
            what: what.into(),
            grant: power.to_string(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "docktest refused {}: a page needs `allow=\"{}\"` on its block for that",
            self.what, self.grant
        )
    }
}

/// The policy's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Allowed,
    Refused(Refusal),
    /// A body the policy cannot read is not forwarded: dockerd might read in it what the policy did not.
    Unreadable(String),
}

/// Whether the page may send `request` with `body` from inside `sandbox`.
pub fn check(request: Request, body: &[u8], sandbox: &Sandbox<'_>) -> Check {
    if body.iter().all(u8::is_ascii_whitespace) {
        // Nothing asked: the engine answers as it does to an empty body.
        return Check::Allowed;
    }
    let Some(value) = first_json_value(body) else {
        return Check::Unreadable("the request body is not JSON".to_string());
    };
    let Value::Object(_) = value else {
        return Check::Allowed;
    };
    let result = match request {
        Request::ContainerCreate => check_container(&value, sandbox),
        Request::ExecCreate => check_exec(&value, sandbox),
        Request::VolumeCreate => check_volume_options(
            all_fields(&value, "DriverOpts").collect(),
            "docker volume create",
            sandbox,
        ),
    };
    match result {
        Ok(()) => Check::Allowed,
        Err(refusal) => Check::Refused(refusal),
    }
}

/// The first JSON value of a body, as Go's `json.Decoder` reads it (trailing bytes ignored, invalid UTF-8
/// replaced).
fn first_json_value(body: &[u8]) -> Option<Value> {
    let first = |bytes: &[u8]| {
        serde_json::Deserializer::from_slice(bytes)
            .into_iter::<Value>()
            .next()
            .and_then(Result::ok)
    };
    first(body).or_else(|| first(String::from_utf8_lossy(body).as_bytes()))
}

/// Every value of `object` under `key`, compared as Go compares JSON keys with struct fields: without case.
/// All of them, since which one dockerd keeps depends on their order.
fn all_fields<'v>(object: &'v Value, key: &'static str) -> impl Iterator<Item = &'v Value> {
    object
        .as_object()
        .into_iter()
        .flatten()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn strings<'v>(object: &'v Value, key: &'static str) -> impl Iterator<Item = &'v str> {
    all_fields(object, key).filter_map(Value::as_str)
}

fn array_items<'v>(object: &'v Value, key: &'static str) -> impl Iterator<Item = &'v Value> {
    all_fields(object, key)
        .filter_map(Value::as_array)
        .flatten()
}

fn check_exec(body: &Value, sandbox: &Sandbox<'_>) -> Result<(), Refusal> {
    // Only `Privileged` gives an exec more than its container has.
    if all_fields(body, "Privileged").any(is_true) && !sandbox.allowed.allows(Power::Privileged) {
        return Err(Refusal::new(
            Power::Privileged,
            "`docker exec --privileged`",
        ));
    }
    Ok(())
}

fn is_true(v: &Value) -> bool {
    v.as_bool() == Some(true)
}

fn check_container(body: &Value, sandbox: &Sandbox<'_>) -> Result<(), Refusal> {
    // dockerd still reads host options from the top level when `HostConfig` is absent.
    let host_configs = std::iter::once(body).chain(all_fields(body, "HostConfig"));
    for hc in host_configs.filter(|v| v.is_object()) {
        check_host_config(hc, sandbox)?;
    }
    Ok(())
}

fn check_host_config(hc: &Value, sandbox: &Sandbox<'_>) -> Result<(), Refusal> {
    let allowed = sandbox.allowed;
    let refuse = |power: Power, what: String| {
        if allowed.allows(power) {
            Ok(())
        } else {
            Err(Refusal::new(power, what))
        }
    };
    if all_fields(hc, "Privileged").any(is_true) {
        refuse(Power::Privileged, "`--privileged`".into())?;
    }
    for (key, flag, power) in [
        ("PidMode", "--pid", Power::PidHost),
        ("IpcMode", "--ipc", Power::IpcHost),
        ("UTSMode", "--uts", Power::UtsHost),
        ("UsernsMode", "--userns", Power::UsernsHost),
        ("CgroupnsMode", "--cgroupns", Power::CgroupnsHost),
    ] {
        if strings(hc, key).any(|mode| mode.trim().eq_ignore_ascii_case("host")) {
            refuse(
                power,
                format!("`{flag} host` (the machine's own namespace)"),
            )?;
        }
    }
    for (key, flag) in [
        ("Devices", "--device"),
        ("DeviceRequests", "--gpus"),
        ("DeviceCgroupRules", "--device-cgroup-rule"),
    ] {
        if let Some(item) = array_items(hc, key).next() {
            let shown = match item {
                Value::Object(_) => strings(item, "PathOnHost").next(),
                Value::String(s) => Some(s.as_str()),
                _ => None,
            };
            let what = match shown {
                Some(shown) => format!("`{flag} {shown}`"),
                None => format!("`{flag}`"),
            };
            refuse(Power::Devices, what)?;
        }
    }
    for cap in array_items(hc, "CapAdd").filter_map(Value::as_str) {
        if !is_default_capability(cap) {
            refuse(
                Power::CapAdd,
                format!("`--cap-add {cap}` (beyond Docker's default capabilities)"),
            )?;
        }
    }
    for opt in array_items(hc, "SecurityOpt").filter_map(Value::as_str) {
        if let Some(what) = unconfined(opt) {
            refuse(Power::Unconfined, what)?;
        }
    }
    for key in ["MaskedPaths", "ReadonlyPaths"] {
        // The API form of `systempaths=unconfined`: an explicitly empty list.
        if all_fields(hc, key).any(|v| v.as_array().is_some_and(Vec::is_empty)) {
            refuse(
                Power::Unconfined,
                format!("an empty `{key}` (`--security-opt systempaths=unconfined`)"),
            )?;
        }
    }
    for bind in array_items(hc, "Binds").filter_map(Value::as_str) {
        check_bind_spec(bind, sandbox)?;
    }
    for mount in array_items(hc, "Mounts") {
        check_mount(mount, sandbox)?;
    }
    for from in array_items(hc, "VolumesFrom").filter_map(Value::as_str) {
        if !is_own_container(from, sandbox.own) {
            refuse(
                Power::VolumesFrom,
                format!("`--volumes-from {from}`, a container this page did not create"),
            )?;
        }
    }
    Ok(())
}

/// Docker's default capability set (moby `oci/caps/defaults.go`): what every container already has.
const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
];

fn is_default_capability(cap: &str) -> bool {
    let cap = cap.trim().to_ascii_uppercase();
    let cap = cap.strip_prefix("CAP_").unwrap_or(&cap);
    DEFAULT_CAPABILITIES.contains(&cap)
}

/// What a `--security-opt` switches off, if it switches off confinement.
fn unconfined(opt: &str) -> Option<String> {
    // `key=value`, or the old `key:value`.
    let (key, value) = opt.split_once('=').or_else(|| opt.split_once(':'))?;
    let (key, value) = (key.trim().to_ascii_lowercase(), value.trim());
    let off = match key.as_str() {
        "seccomp" if value.eq_ignore_ascii_case("unconfined") => "no seccomp filter",
        // The CLI sends the profile file's content: a profile of the page's own may allow anything.
        "seccomp" => {
            return Some(
                "a seccomp profile of the page's own (`--security-opt seccomp=FILE`)".into(),
            )
        }
        "apparmor" if value.eq_ignore_ascii_case("unconfined") => "no AppArmor profile",
        "label" if value.eq_ignore_ascii_case("disable") => "no SELinux labels",
        "systempaths" if value.eq_ignore_ascii_case("unconfined") => {
            "the kernel's /proc and /sys files unmasked"
        }
        _ => return None,
    };
    Some(format!("`--security-opt {opt}` ({off})"))
}

/// `-v SRC:DST[:OPTS]`: a bind mount when SRC is a path; a named volume otherwise; `-v DST` alone is an
/// anonymous volume.
fn check_bind_spec(spec: &str, sandbox: &Sandbox<'_>) -> Result<(), Refusal> {
    let mut parts = spec.splitn(3, ':');
    let (Some(source), Some(_target)) = (parts.next(), parts.next()) else {
        return Ok(());
    };
    if !source.starts_with('/') {
        return Ok(());
    }
    check_bind_source(Path::new(source), &format!("`-v {spec}`"), sandbox)
}

/// `--mount`: `type=bind` names a host path; a `type=volume` mount may carry local-driver options that do.
fn check_mount(mount: &Value, sandbox: &Sandbox<'_>) -> Result<(), Refusal> {
    if strings(mount, "Type").any(|t| t.eq_ignore_ascii_case("bind")) {
        for source in strings(mount, "Source") {
            check_bind_source(
                Path::new(source),
                &format!("`--mount type=bind,source={source}`"),
                sandbox,
            )?;
        }
    }
    let driver_options: Vec<&Value> = all_fields(mount, "VolumeOptions")
        .flat_map(|v| all_fields(v, "DriverConfig"))
        .flat_map(|v| all_fields(v, "Options"))
        .collect();
    check_volume_options(driver_options, "`--mount type=volume`", sandbox)
}

/// The local volume driver mounts whatever `device` names: with `o=bind` a host path, else a disk or a
/// network file system. Only tmpfs needs no grant.
fn check_volume_options(
    options: Vec<&Value>,
    how: &str,
    sandbox: &Sandbox<'_>,
) -> Result<(), Refusal> {
    for opts in options {
        let Some(device) = strings(opts, "device").next() else {
            continue;
        };
        if strings(opts, "type").any(|t| t.trim() == "tmpfs") {
            continue;
        }
        let binds = strings(opts, "o").any(|o| {
            o.split(',')
                .any(|w| w.trim() == "bind" || w.trim() == "rbind")
        });
        if binds {
            check_bind_source(
                Path::new(device),
                &format!("{how} with `o=bind,device={device}`"),
                sandbox,
            )?;
        } else if !sandbox.allowed.allows(Power::Devices) {
            return Err(Refusal::new(
                Power::Devices,
                format!("{how} mounting `device={device}` from the machine"),
            ));
        }
    }
    Ok(())
}

/// A bind mount of `source` is fine inside the page's folder, or where granted.
fn check_bind_source(source: &Path, how: &str, sandbox: &Sandbox<'_>) -> Result<(), Refusal> {
    let resolved = resolve(source);
    if resolved.starts_with(resolve(sandbox.folder)) || sandbox.allowed.allows_bind(&resolved) {
        return Ok(());
    }
    Err(Refusal {
        power: Power::BindMounts,
        what: format!(
            "a bind mount of {} ({how}), outside the page's working folder",
            resolved.display()
        ),
        grant: format!("bind-mounts:{}", resolved.display()),
    })
}

/// `source` as the kernel will find it when dockerd mounts it: `.` and `..` folded as dockerd cleans the
/// path, then symlinks resolved as far as the path exists.
fn resolve(source: &Path) -> PathBuf {
    let mut clean = PathBuf::from("/");
    for part in source.components() {
        match part {
            Component::ParentDir => {
                clean.pop();
            }
            Component::Normal(name) => clean.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let mut existing = clean.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            return rest.iter().rev().fold(real, |path, name| path.join(name));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => return clean,
        }
    }
}

/// Whether `--volumes-from REF[:ro|:rw]` names one of the page's containers (by name, ID or ID prefix).
fn is_own_container(reference: &str, own: &[String]) -> bool {
    let name = reference
        .rsplit_once(':')
        .filter(|(_, mode)| matches!(*mode, "ro" | "rw"))
        .map_or(reference, |(name, _)| name)
        .trim_start_matches('/');
    !name.is_empty()
        && own
            .iter()
            .any(|o| o == name || (name.len() >= 12 && o.starts_with(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Page {
        folder: tempfile::TempDir,
        allowed: Allowed,
        own: Vec<String>,
    }

    fn page(allow: &[&str]) -> Page {
        Page {
            folder: tempfile::tempdir().unwrap(),
            allowed: Allowed::parse(allow.iter().copied()).unwrap(),
            own: vec!["web".into(), "0123456789abcdef0123".into()],
        }
    }

    impl Page {
        fn check(&self, request: Request, body: Value) -> Check {
            let sandbox = Sandbox {
                allowed: &self.allowed,
                folder: self.folder.path(),
                own: &self.own,
            };
            check(request, body.to_string().as_bytes(), &sandbox)
        }

        fn create(&self, host_config: Value) -> Check {
            self.check(
                Request::ContainerCreate,
                json!({"Image": "alpine", "HostConfig": host_config}),
            )
        }
    }

    #[track_caller]
    fn refused(check: Check, power: Power) -> Refusal {
        match check {
            Check::Refused(r) if r.power == power => r,
            other => panic!("expected a refusal of {power}, got {other:?}"),
        }
    }

    // An ordinary `docker run` (what the guide's pages do) passes untouched.
    #[test]
    fn an_ordinary_container_is_allowed() {
        let p = page(&[]);
        let hc = json!({
            "NetworkMode": "mynet", "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}]},
            "Binds": null, "CapAdd": null, "SecurityOpt": null, "Devices": [], "PidMode": "",
            "Privileged": false, "AutoRemove": true, "Links": ["db:db"], "DeviceRequests": null,
        });
        assert_eq!(p.create(hc), Check::Allowed);
    }

    // `--privileged` gives the container the whole kernel; with the grant it passes.
    #[test]
    fn privileged() {
        let r = refused(
            page(&[]).create(json!({"Privileged": true})),
            Power::Privileged,
        );
        assert_eq!(r.grant, "privileged");
        assert!(r.to_string().contains("--privileged"), "{r}");
        assert_eq!(
            page(&["privileged"]).create(json!({"Privileged": true})),
            Check::Allowed
        );
    }

    // Each host namespace is its own power; another container's namespace is fine.
    #[test]
    fn host_namespaces() {
        for (key, power) in [
            ("PidMode", Power::PidHost),
            ("IpcMode", Power::IpcHost),
            ("UTSMode", Power::UtsHost),
            ("UsernsMode", Power::UsernsHost),
            ("CgroupnsMode", Power::CgroupnsHost),
        ] {
            let r = refused(page(&[]).create(json!({key: "host"})), power);
            assert!(r.what.contains("host"), "{r:?}");
            assert_eq!(
                page(&[power.name()]).create(json!({key: "host"})),
                Check::Allowed
            );
            for fine in ["", "private", "container:web"] {
                assert_eq!(
                    page(&[]).create(json!({key: fine})),
                    Check::Allowed,
                    "{key}={fine}"
                );
            }
        }
        // `--network host` needs nothing: in a sealed engine the host is the sealed namespace.
        assert_eq!(
            page(&[]).create(json!({"NetworkMode": "host"})),
            Check::Allowed
        );
    }

    // Devices come in three forms; an empty list is not a device.
    #[test]
    fn devices() {
        let p = page(&[]);
        let dev = json!([{"PathOnHost": "/dev/kmsg", "PathInContainer": "/dev/kmsg", "CgroupPermissions": "rwm"}]);
        let r = refused(p.create(json!({"Devices": dev})), Power::Devices);
        assert!(r.what.contains("--device /dev/kmsg"), "{r:?}");
        refused(
            p.create(json!({"DeviceRequests": [{"Count": -1, "Capabilities": [["gpu"]]}]})),
            Power::Devices,
        );
        refused(
            p.create(json!({"DeviceCgroupRules": ["c 1:3 mr"]})),
            Power::Devices,
        );
        assert_eq!(p.create(json!({"Devices": []})), Check::Allowed);
        assert_eq!(
            page(&["devices"]).create(json!({"Devices": dev})),
            Check::Allowed
        );
    }

    // Adding a capability every container has already is fine, in any spelling; others need the grant.
    #[test]
    fn capabilities() {
        let p = page(&[]);
        for fine in ["NET_RAW", "cap_kill", "CAP_CHOWN", "setuid"] {
            assert_eq!(
                p.create(json!({"CapAdd": [fine]})),
                Check::Allowed,
                "{fine}"
            );
        }
        for beyond in ["SYS_ADMIN", "NET_ADMIN", "ALL", "CAP_SYS_PTRACE"] {
            let r = refused(
                p.create(json!({"CapAdd": ["NET_RAW", beyond]})),
                Power::CapAdd,
            );
            assert!(r.what.contains(beyond), "{r:?}");
        }
        assert_eq!(
            p.create(json!({"CapDrop": ["ALL"]})),
            Check::Allowed,
            "dropping is always fine"
        );
        assert_eq!(
            page(&["cap-add"]).create(json!({"CapAdd": ["SYS_ADMIN"]})),
            Check::Allowed
        );
    }

    // Security options that switch confinement off, in both spellings; those that tighten it are fine.
    #[test]
    fn unconfined_security_options() {
        let p = page(&[]);
        for off in [
            "seccomp=unconfined",
            "seccomp:unconfined",
            "apparmor=unconfined",
            "label=disable",
            "systempaths=unconfined",
            r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#,
        ] {
            refused(p.create(json!({"SecurityOpt": [off]})), Power::Unconfined);
            assert_eq!(
                page(&["unconfined"]).create(json!({"SecurityOpt": [off]})),
                Check::Allowed
            );
        }
        for fine in [
            "no-new-privileges",
            "no-new-privileges:true",
            "apparmor=docker-default",
            "label=level:s0",
        ] {
            assert_eq!(
                p.create(json!({"SecurityOpt": [fine]})),
                Check::Allowed,
                "{fine}"
            );
        }
        refused(p.create(json!({"MaskedPaths": []})), Power::Unconfined);
        assert_eq!(p.create(json!({"MaskedPaths": null})), Check::Allowed);
    }

    // `-v /:/host` read the CI machine's files; the page's own folder, and named volumes, are fine.
    #[test]
    fn bind_mounts_in_binds() {
        let p = page(&[]);
        let folder = p.folder.path().display().to_string();
        let r = refused(p.create(json!({"Binds": ["/:/host"]})), Power::BindMounts);
        assert_eq!(r.grant, "bind-mounts:/");
        assert!(r.what.contains("-v /:/host"), "{r:?}");
        refused(
            p.create(json!({"Binds": ["/etc:/etc:ro"]})),
            Power::BindMounts,
        );
        for fine in [
            format!("{folder}:/data"),
            format!("{folder}/site:/usr/share/nginx/html:ro"),
            "data:/data".to_string(),
            "/anonymous".to_string(),
        ] {
            assert_eq!(p.create(json!({"Binds": [fine]})), Check::Allowed, "{fine}");
        }
        assert_eq!(
            page(&["bind-mounts"]).create(json!({"Binds": ["/:/host"]})),
            Check::Allowed
        );
    }

    // `..` and symlinks are followed before the folder is compared: neither leads out of it unseen.
    #[test]
    fn bind_paths_are_resolved_first() {
        let p = page(&[]);
        let folder = p.folder.path();
        let up = format!("{}/../..:/host", folder.display());
        refused(p.create(json!({"Binds": [up]})), Power::BindMounts);
        std::os::unix::fs::symlink("/etc", folder.join("etc")).unwrap();
        let r = refused(
            p.create(json!({"Binds": [format!("{}/etc:/x", folder.display())]})),
            Power::BindMounts,
        );
        assert!(r.what.contains("bind mount of /etc "), "{r:?}");
        // Not there yet: dockerd creates it, inside the folder.
        let fresh = format!("{}/new/dir/../sub:/x", folder.display());
        assert_eq!(p.create(json!({"Binds": [fresh]})), Check::Allowed);
    }

    // `--mount type=bind` is the same power; `type=volume` and `tmpfs` are not bind mounts.
    #[test]
    fn bind_mounts_in_mounts() {
        let p = page(&[]);
        let r = refused(
            p.create(json!({"Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/s"}]})),
            Power::BindMounts,
        );
        assert!(r.what.contains("--mount type=bind"), "{r:?}");
        let own = p.folder.path().display().to_string();
        assert_eq!(
            p.create(json!({"Mounts": [{"Type": "bind", "Source": own, "Target": "/d"}]})),
            Check::Allowed
        );
        assert_eq!(
            p.create(json!({"Mounts": [{"Type": "volume", "Source": "data", "Target": "/d"}, {"Type": "tmpfs", "Target": "/t"}]})),
            Check::Allowed
        );
    }

    // A local volume with `o=bind` is a bind mount by another name, inline or created first.
    #[test]
    fn volumes_that_mount_host_paths() {
        let p = page(&[]);
        let opts = json!({"type": "none", "o": "bind", "device": "/etc"});
        refused(
            p.check(
                Request::VolumeCreate,
                json!({"Name": "v", "DriverOpts": opts}),
            ),
            Power::BindMounts,
        );
        let inline = json!({"Mounts": [{"Type": "volume", "Target": "/d",
            "VolumeOptions": {"DriverConfig": {"Name": "local", "Options": opts}}}]});
        refused(p.create(inline), Power::BindMounts);
        refused(
            p.check(
                Request::VolumeCreate,
                json!({"DriverOpts": {"type": "ext4", "device": "/dev/sda1"}}),
            ),
            Power::Devices,
        );
        for fine in [
            json!({"Name": "data"}),
            json!({"DriverOpts": {"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}}),
        ] {
            assert_eq!(p.check(Request::VolumeCreate, fine), Check::Allowed);
        }
    }

    // A grant of one path allows that path and below, nothing beside it.
    #[test]
    fn a_bind_grant_names_a_path() {
        let p = page(&["bind-mounts:/etc"]);
        assert_eq!(
            p.create(json!({"Binds": ["/etc/hosts:/h:ro"]})),
            Check::Allowed
        );
        refused(p.create(json!({"Binds": ["/:/host"]})), Power::BindMounts);
        refused(
            p.create(json!({"Binds": ["/etcetera:/x"]})),
            Power::BindMounts,
        );
    }

    // `--volumes-from` one of the page's containers is fine; from anyone else's it needs the grant.
    #[test]
    fn volumes_from() {
        let p = page(&[]);
        for fine in ["web", "web:ro", "0123456789abcdef", "/web"] {
            assert_eq!(
                p.create(json!({"VolumesFrom": [fine]})),
                Check::Allowed,
                "{fine}"
            );
        }
        for foreign in ["db", "01234", "ci-runner:rw"] {
            refused(
                p.create(json!({"VolumesFrom": [foreign]})),
                Power::VolumesFrom,
            );
        }
        assert_eq!(
            page(&["volumes-from"]).create(json!({"VolumesFrom": ["db"]})),
            Check::Allowed
        );
    }

    // `docker exec --privileged` is refused like `docker run --privileged`; a plain exec passes.
    #[test]
    fn exec() {
        let p = page(&[]);
        let body = json!({"Cmd": ["sh"], "Privileged": true, "Tty": true});
        refused(
            p.check(Request::ExecCreate, body.clone()),
            Power::Privileged,
        );
        assert_eq!(
            p.check(
                Request::ExecCreate,
                json!({"Cmd": ["sh"], "Privileged": false})
            ),
            Check::Allowed
        );
        assert_eq!(
            page(&["privileged"]).check(Request::ExecCreate, body),
            Check::Allowed
        );
    }

    // dockerd reads keys without case, host options at the top level, and only the first JSON value: so
    // does the policy, or a hand-made request would slip past it.
    #[test]
    fn bodies_are_read_as_dockerd_reads_them() {
        let p = page(&[]);
        refused(
            p.check(
                Request::ContainerCreate,
                json!({"Image": "a", "privileged": true}),
            ),
            Power::Privileged,
        );
        refused(
            p.check(
                Request::ContainerCreate,
                json!({"Image": "a", "hostconfig": {"pidmode": "host"}}),
            ),
            Power::PidHost,
        );
        let sandbox = Sandbox {
            allowed: &p.allowed,
            folder: p.folder.path(),
            own: &p.own,
        };
        let trailing = br#"{"HostConfig":{"Privileged":true}} trailing"#;
        refused(
            check(Request::ContainerCreate, trailing, &sandbox),
            Power::Privileged,
        );
        let latin1 = b"{\"Image\":\"\xff\",\"HostConfig\":{\"Privileged\":true}}";
        refused(
            check(Request::ContainerCreate, latin1, &sandbox),
            Power::Privileged,
        );
        assert!(matches!(
            check(Request::ContainerCreate, b"{not json", &sandbox),
            Check::Unreadable(_)
        ));
        assert_eq!(
            check(Request::ContainerCreate, b"", &sandbox),
            Check::Allowed
        );
    }

    // Exec and volume creates are read too, versioned or not; starting or inspecting is not.
    #[test]
    fn requests_are_recognized() {
        use hyper::Method;
        assert_eq!(
            Request::of(&Method::POST, "/v1.41/containers/create"),
            Some(Request::ContainerCreate)
        );
        assert_eq!(
            Request::of(&Method::POST, "/containers/abc123/exec"),
            Some(Request::ExecCreate)
        );
        assert_eq!(
            Request::of(&Method::POST, "/v1.53/volumes/create"),
            Some(Request::VolumeCreate)
        );
        // dockerd's router decodes the path first: an encoded create is still a create.
        assert_eq!(
            Request::of(&Method::POST, "/v1.41/containers/%63reate"),
            Some(Request::ContainerCreate)
        );
        assert_eq!(
            Request::of(&Method::POST, "/v1.41/containers/web/exec"),
            Some(Request::ExecCreate)
        );
        assert_eq!(
            Request::of(&Method::POST, "/containers/web%2Fx/exec"),
            Some(Request::ExecCreate)
        );
        assert_eq!(Request::of(&Method::POST, "/exec/abc/start"), None);
        assert_eq!(Request::of(&Method::POST, "/containers/abc/start"), None);
        assert_eq!(Request::of(&Method::GET, "/containers/create"), None);
        assert_eq!(Request::of(&Method::POST, "/networks/create"), None);
    }

    // A misspelt power names the known ones; a bind grant needs an absolute path.
    #[test]
    fn grants_are_checked() {
        let err = Allowed::parse(["pid_host"]).unwrap_err();
        assert_eq!(
            err,
            format!("unknown power `pid_host` (known: {})", known_names())
        );
        assert!(known_names().starts_with("privileged, pid-host, "));
        assert!(Allowed::parse(["bind-mounts:srv"]).is_err());
        let a = Allowed::parse(["cap-add", "bind-mounts:/srv", "pid-host"]).unwrap();
        assert_eq!(a.names(), ["pid-host", "cap-add", "bind-mounts:/srv"]);
        let b = Allowed::parse(["privileged"]).unwrap();
        assert_eq!(
            a.union(&b).names(),
            ["privileged", "pid-host", "cap-add", "bind-mounts:/srv"]
        );
        assert!(Allowed::default().is_empty());
    }
}
