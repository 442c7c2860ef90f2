//! Headless Chromium (Debian's `chromium`, no browser download) driven over the DevTools protocol, for the
//! tests that look at the published book as a reader does: clicks, the clipboard, computed styles,
//! screenshots.
//!
//! The protocol runs over `--remote-debugging-pipe` (JSON messages ended by a NUL byte on file descriptors 3
//! and 4, as Puppeteer uses it): no port, no WebSocket client, nothing to download; `sh` hands the child's
//! stdin and stdout to the browser as those descriptors.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The flags that keep Chromium headless and off the network (see NOTES.md).
pub const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
];

/// How long one protocol call may take before the test fails instead of hanging.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A running browser with one page attached.
pub struct Browser {
    child: Child,
    to: ChildStdin,
    from: Receiver<Value>,
    next_id: u64,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens one blank page, focused (so the clipboard can be
    /// read) with the clipboard permissions granted.
    pub fn launch() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg("chromium")
            .args(FLAGS)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromium through sh ({e})"));
        let to = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, from) = mpsc::channel();
        std::thread::spawn(move || loop {
            let mut message = Vec::new();
            match stdout.read_until(0, &mut message) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    message.pop_if(|b| *b == 0);
                    let Ok(value) = serde_json::from_slice::<Value>(&message) else {
                        continue;
                    };
                    if tx.send(value).is_err() {
                        return;
                    }
                }
            }
        });
        let mut browser = Browser {
            child,
            to,
            from,
            next_id: 0,
            session: String::new(),
            _profile: profile,
        };
        let version = browser.try_browser_call("Browser.getVersion", json!({}));
        if let Err(e) = version {
            panic!(
                "chromium does not answer on its DevTools pipe ({e}); install Debian's package with \
                 `scripts/install-tools --test-tools` (or `apt-get install chromium`)"
            );
        }
        let target = browser.browser_call("Target.createTarget", json!({"url": "about:blank"}));
        let attached = browser.browser_call(
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        browser.session = attached["sessionId"].as_str().unwrap().to_string();
        browser.browser_call(
            "Browser.grantPermissions",
            json!({"permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]}),
        );
        browser.call(
            "Emulation.setFocusEmulationEnabled",
            json!({"enabled": true}),
        );
        browser.call("Page.enable", json!({}));
        browser
    }

    fn send(
        &mut self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).unwrap();
        bytes.push(0);
        self.to
            .write_all(&bytes)
            .and_then(|()| self.to.flush())
            .map_err(|e| format!("cannot write to chromium: {e}"))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let reply = self
                .from
                .recv_timeout(left)
                .map_err(|e| format!("no answer to {method} ({e})"))?;
            if reply["id"] != json!(id) {
                continue; // an event, or an answer nobody waits for any more
            }
            if let Some(error) = reply.get("error") {
                return Err(format!("{method}: {error}"));
            }
            return Ok(reply["result"].clone());
        }
    }

    fn try_browser_call(&mut self, method: &str, params: Value) -> Result<Value, String> {
        self.send(method, params, None)
    }

    /// A call to the browser itself (`Browser.*`, `Target.*`).
    pub fn browser_call(&mut self, method: &str, params: Value) -> Value {
        self.try_browser_call(method, params)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A call to the page.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Loads `file` and waits until it has loaded (its scripts have run).
    pub fn open(&mut self, file: &Path) {
        let url = format!("file://{}", file.display());
        self.call("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + CALL_TIMEOUT;
        while self.eval(&format!(
            "document.readyState === 'complete' && location.href === {}",
            json!(url)
        )) != json!(true)
        {
            assert!(Instant::now() < deadline, "{url} did not load");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The value of a JavaScript expression in the page (a promise is awaited); a thrown error fails the
    /// test with its text.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression}\nthrew {exception}");
        }
        result["result"]["value"].clone()
    }

    /// A real left click at a point of the page (mouse moved there, pressed, released), which counts as a
    /// user's gesture, as copying needs. The pointer rests there first: mdBook's code buttons appear on hover,
    /// after a short transition.
    pub fn click(&mut self, x: f64, y: f64) {
        self.mouse("mouseMoved", x, y, "none");
        std::thread::sleep(Duration::from_millis(300));
        self.mouse("mousePressed", x, y, "left");
        self.mouse("mouseReleased", x, y, "left");
    }

    /// A drag with the left button held, as a reader selects text.
    pub fn drag(&mut self, from: (f64, f64), to: (f64, f64)) {
        self.mouse("mouseMoved", from.0, from.1, "none");
        self.mouse("mousePressed", from.0, from.1, "left");
        let steps = 10;
        for i in 1..=steps {
            let t = f64::from(i) / f64::from(steps);
            let x = from.0 + (to.0 - from.0) * t;
            let y = from.1 + (to.1 - from.1) * t;
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": "mouseMoved", "x": x, "y": y, "button": "left", "buttons": 1}),
            );
        }
        self.mouse("mouseReleased", to.0, to.1, "left");
    }

    fn mouse(&mut self, kind: &str, x: f64, y: f64, button: &str) {
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": button, "clickCount": 1}),
        );
    }

    /// Writes a PNG of what the page shows now.
    pub fn screenshot(&mut self, file: &Path) {
        use base64::Engine as _;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(file, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
