//! Engines behind `ssh://[user@]host[:port]`, reached the way the docker CLI reaches them: every connection
//! is `ssh … host docker system dial-stdio`, the remote docker CLI's own way to its engine, so the remote
//! side needs nothing but sshd and the docker CLI, and its engine may sit wherever its DOCKER_HOST says. A
//! local socket stands for the remote engine, so bollard and the page's proxy talk to it as to any local
//! engine, and the page's CLI never sees the `ssh://` host.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{LazyLock, Mutex};

use tokio::io::AsyncWriteExt;

/// The remote engine an `ssh://` host names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    user: Option<String>,
    host: String,
    port: Option<u16>,
}

impl Target {
    /// `ssh://[user@]host[:port]`, as the docker CLI takes it (no path: the remote CLI's own DOCKER_HOST
    /// picks the engine). `None` for anything else.
    fn of(url: &str) -> Option<Target> {
        let rest = url.strip_prefix("ssh://")?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') {
            return None;
        }
        let (user, host_port) = match rest.rsplit_once('@') {
            Some((user, hp)) if !user.is_empty() => (Some(user.to_string()), hp),
            Some(_) => return None,
            None => (None, rest),
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.starts_with('[') => {
                (host, Some(port.parse().ok()?))
            }
            _ => (host_port, None),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        (!host.is_empty() && !host.starts_with('-')).then(|| Target {
            user,
            host: host.to_string(),
            port,
        })
    }

    /// `ssh`'s arguments for running `command` there. `-T`: no terminal, so the bytes pass untouched;
    /// `BatchMode`: a run never stops to ask for a password or a host key; `--`: the host is never an option.
    fn ssh_args(&self, command: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = ["-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30"]
            .map(String::from)
            .to_vec();
        if let Some(user) = &self.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        args.push("--".to_string());
        args.push(self.host.clone());
        args.extend(command.iter().map(|c| c.to_string()));
        args
    }
}

/// Why an `ssh://` engine cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("`{0}` is not an ssh engine docktest can reach: write it as ssh://[user@]host[:port]")]
    Url(String),
    #[error("cannot run ssh")]
    Spawn(#[source] std::io::Error),
    #[error("`ssh {args}` failed: {message}")]
    Remote { args: String, message: String },
    #[error("cannot listen on {path}")]
    Listen {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The bridges this process started, by `ssh://` host: each a local socket, and the folder that holds it.
static BRIDGES: LazyLock<Mutex<HashMap<String, (PathBuf, tempfile::TempDir)>>> =
    LazyLock::new(Default::default);

/// The local socket that stands for the engine at the `ssh://` host `url`, started on first use: once the
/// remote docker CLI answered through ssh, so that a refused key or a missing docker CLI is reported as
/// ssh tells it, rather than as a connection that closed.
pub(crate) fn socket_for(url: &str) -> Result<PathBuf, SshError> {
    let mut bridges = BRIDGES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((socket, _)) = bridges.get(url) {
        return Ok(socket.clone());
    }
    let target = Target::of(url).ok_or_else(|| SshError::Url(url.to_string()))?;
    check(&target)?;
    let dir = tempfile::Builder::new()
        .prefix("docktest-ssh-")
        .tempdir()
        .map_err(|source| SshError::Listen {
            path: std::env::temp_dir(),
            source,
        })?;
    let socket = dir.path().join("docker.sock");
    let listen_err = |source| SshError::Listen {
        path: socket.clone(),
        source,
    };
    let listener = std::os::unix::net::UnixListener::bind(&socket).map_err(listen_err)?;
    listener.set_nonblocking(true).map_err(listen_err)?;
    std::thread::Builder::new()
        .name(format!("ssh {}", target.host))
        .spawn(move || serve(listener, target))
        .map_err(SshError::Spawn)?;
    bridges.insert(url.to_string(), (socket.clone(), dir));
    Ok(socket)
}

/// Runs `docker version` there through ssh: the engine answers, or ssh's own words say why not.
fn check(target: &Target) -> Result<(), SshError> {
    let args = target.ssh_args(&["docker", "version", "--format", "{{.Server.APIVersion}}"]);
    let out = std::process::Command::new("ssh")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(SshError::Spawn)?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    let message = said
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    Err(SshError::Remote {
        args: args.join(" "),
        message: if message.is_empty() {
            out.status.to_string()
        } else {
            message
        },
    })
}

/// Accepts connections on the bridge's socket for as long as the process lives; each gets an ssh of its own.
fn serve(listener: std::os::unix::net::UnixListener, target: Target) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async move {
        let Ok(listener) = tokio::net::UnixListener::from_std(listener) else {
            return;
        };
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(carry(
                client,
                target.ssh_args(&["docker", "system", "dial-stdio"]),
            ));
        }
    });
}

/// Carries one connection over `ssh … docker system dial-stdio`, each direction until its end: the
/// client's end closes ssh's input, which the remote CLI passes on to the engine as the end of the request
/// stream (a `docker run`'s attach half-closes so), and the engine's end closes the client's side.
async fn carry(client: tokio::net::UnixStream, args: Vec<String>) {
    // A group of its own: the Ctrl-C a terminal sends to docktest's group must not end the connections
    // docktest still needs to remove the page's containers.
    let Ok(mut child) = tokio::process::Command::new("ssh")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
    else {
        return;
    };
    let (Some(mut to_remote), Some(mut from_remote)) = (child.stdin.take(), child.stdout.take())
    else {
        return;
    };
    let (mut from_client, mut to_client) = client.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut from_client, &mut to_remote).await;
        let _ = to_remote.shutdown().await;
        drop(to_remote);
    };
    let down = async {
        let _ = tokio::io::copy(&mut from_remote, &mut to_client).await;
        let _ = to_client.shutdown().await;
    };
    tokio::join!(up, down);
    let _ = child.wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_as_the_docker_cli_takes_them() {
        let t = |user: Option<&str>, host: &str, port: Option<u16>| {
            Some(Target {
                user: user.map(str::to_string),
                host: host.to_string(),
                port,
            })
        };
        assert_eq!(Target::of("ssh://ci"), t(None, "ci", None));
        assert_eq!(
            Target::of("ssh://me@ci:2222"),
            t(Some("me"), "ci", Some(2222))
        );
        assert_eq!(Target::of("ssh://me@ci/"), t(Some("me"), "ci", None));
        assert_eq!(Target::of("ssh://[::1]:22"), t(None, "::1", Some(22)));
        for bad in [
            "ssh://",
            "ssh://@ci",
            "ssh://ci:port",
            "ssh://ci/var/run/docker.sock",
            "ssh://-oProxyCommand=x",
            "tcp://ci:2375",
        ] {
            assert_eq!(Target::of(bad), None, "{bad}");
        }
    }

    #[test]
    fn ssh_never_takes_the_host_for_an_option_and_never_asks() {
        let target = Target::of("ssh://me@ci:2222").unwrap();
        let args = target.ssh_args(&["docker", "system", "dial-stdio"]);
        assert_eq!(
            args.join(" "),
            "-T -o BatchMode=yes -o ConnectTimeout=30 -l me -p 2222 -- ci docker system dial-stdio"
        );
    }
}
