//! An engine named as `ssh://user@host:port`: docktest reaches it as the docker CLI does, through
//! `ssh … docker system dial-stdio`. The "remote" machine is this one: an sshd of the test's own on
//! 127.0.0.1 (Debian's openssh-server, which scripts/install-tools installs), whose `docker` CLI talks to
//! the test's engine.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, fixture, test_book};

/// An sshd on 127.0.0.1 that lets root in with a key of its own and gives its sessions `DOCKER_HOST`;
/// `ssh_dir` holds an `ssh` that uses that key, to put first on PATH. Stopped when dropped.
struct Sshd {
    child: Child,
    port: u16,
    ssh_dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sshd {
    fn start(docker_host: &str) -> Sshd {
        let sshd = Path::new("/usr/sbin/sshd");
        assert!(
            sshd.exists(),
            "this test needs sshd: `apt-get install openssh-server` (scripts/install-tools --test-tools does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        for key in ["host_key", "client_key"] {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(path(key))
                .output()
                .expect("ssh-keygen runs");
            assert!(out.status.success(), "ssh-keygen: {out:?}");
        }
        std::fs::copy(path("client_key.pub"), path("authorized_keys")).unwrap();
        // sshd's privilege separation needs its folder; Debian's package makes it only when its service starts.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        std::fs::write(
            path("sshd_config"),
            format!(
                "ListenAddress 127.0.0.1\nPort {port}\nHostKey {}\nAuthorizedKeysFile {}\n\
                 PermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\n\
                 UsePAM no\nPidFile none\nSetEnv DOCKER_HOST={docker_host}\n",
                path("host_key").display(),
                path("authorized_keys").display(),
            ),
        )
        .unwrap();
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(path("sshd_config"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sshd starts");
        let ssh_dir = path("bin");
        std::fs::create_dir_all(&ssh_dir).unwrap();
        let wrapper = ssh_dir.join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nexec /usr/bin/ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
                 -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \"$@\"\n",
                path("client_key").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "sshd never listened on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd {
            child,
            port,
            ssh_dir,
            _dir: dir,
        }
    }

    /// PATH with the test's `ssh` first.
    fn path(&self) -> String {
        format!(
            "{}:{}",
            self.ssh_dir.display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_book_runs_on_an_engine_reached_through_ssh() {
    let engine = support::locked_engine();
    let sshd = Sshd::start(&engine.endpoint().host);
    let url = format!("ssh://root@127.0.0.1:{}", sshd.port);

    let run = test_book(fixture("clean"))
        .args(["--engine", &url])
        .env("PATH", sshd.path())
        .run();
    assert!(run.success(), "{run}");
    assert!(run.stdout.contains(&format!("at {url}")), "{run}");
    assert!(run.stdout.contains("1 verified, 0 failed"), "{run}");
    engine.assert_left_as_found();

    // Nothing answers there: one error that says what ssh said, and exit 2.
    drop(sshd);
    let run = test_book(fixture("clean")).args(["--engine", &url]).run();
    assert_eq!(run.code, Some(2), "{run}");
    assert!(
        run.stderr.contains(&format!(
            "cannot reach the Docker engine at {url} through ssh"
        )) && run.stderr.contains("Connection refused"),
        "{run}"
    );
    engine.assert_left_as_found();
}

#[test]
fn an_engine_address_docktest_cannot_reach_is_refused_rather_than_replaced() {
    for host in [
        "npipe:////./pipe/docker_engine",
        "ssh://ci/var/run/docker.sock",
    ] {
        let run = test_book(fixture("clean")).args(["--engine", host]).run();
        assert_eq!(run.code, Some(2), "{host}: {run}");
        assert!(
            run.stderr
                .contains(&format!("cannot reach the Docker engine at {host}")),
            "{host}: {run}"
        );
        assert!(!run.stdout.contains("verified"), "{host}: {run}");
    }
}
