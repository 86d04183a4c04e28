//! A real, independent Thing Description Directory for the registration tests: Eclipse Thingweb's
//! `domus-tdd-api` over an in-memory Oxigraph SPARQL store, both started by the test on free loopback ports.
//!
//! Both come from PyPI, pinned (with every dependency) by `tests/tdd/requirements.txt`, into a venv of their
//! own, `target/tdd-venv`, made on first use and again when that file changes (hololinked's venv is left
//! alone). PyPI's `oxigraph` wheel is Oxigraph's own CLI, prebuilt: the program the `oxigraph-cli` crate
//! builds, without compiling RocksDB. domus runs through `tests/tdd/serve_domus.py`, which says why it
//! changes one thing.
//!
//! domus needs two programs from the machine: Python 3 with `venv`, and Node.js (domus converts JSON-LD with
//! bundled jsonld.js scripts it runs with `node`). Without either, [`Directory::start`] prints `SKIPPED: …`
//! with the package to install and returns `None`; `.ci/run` installs both. Everything else that goes wrong
//! (PyPI unreachable, a server that does not start) fails the test, with the servers' logs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::broker::{free_port, skipped};

/// How long each server may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(60);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running Thing Description Directory; dropping it kills domus and the SPARQL store.
pub struct Directory {
    url: String,
    sparql_url: String,
    /// Oxigraph, then domus: dropping the directory kills both, so a failed start leaves nothing behind.
    children: Vec<Child>,
    logs: PathBuf,
}

impl Directory {
    /// Installs (on first use) and starts Oxigraph and domus, and waits until both answer. `None`, after
    /// printing why and what to install, when this machine lacks Python's `venv` or Node.js.
    pub async fn start(test: &str) -> Option<Self> {
        if let Some(missing) = missing_system_packages() {
            skipped(&format!("SKIPPED: {test}: {missing}"));
            return None;
        }
        let python = tokio::task::spawn_blocking(venv_python).await.expect("install the TDD venv");
        let bin = python.parent().expect("the venv's bin/").to_owned();
        let (sparql_port, domus_port) = (free_port(), free_port());
        let mut directory = Self {
            url: format!("http://127.0.0.1:{domus_port}"),
            sparql_url: format!("http://127.0.0.1:{sparql_port}/sparql"),
            children: Vec::new(),
            logs: super::scratch_dir("tdd"),
        };

        // In memory: without `--location`, Oxigraph keeps nothing on disk.
        directory.spawn(
            Command::new(bin.join("oxigraph")).args(["serve", "--bind", &format!("127.0.0.1:{sparql_port}")]),
            "oxigraph.log",
        );
        let client = http_client();
        let sparql = client
            .post(&directory.sparql_url)
            .form(&[("query", "ASK { ?s ?p ?o }")])
            .header("Accept", "application/sparql-results+json");
        directory
            .wait_until("Oxigraph", "oxigraph.log", || sparql.try_clone().expect("a plain request"), |_| true)
            .await;

        let mut domus = Command::new(&python);
        domus
            .arg(workspace().join("tests/tdd/serve_domus.py"))
            .args(["--host", "127.0.0.1", "--port", &domus_port.to_string()])
            // domus also reads a `config.toml` in its working directory: run it where there is none.
            .current_dir(&directory.logs)
            .env("PYTHONUNBUFFERED", "1")
            .env("TDD__SPARQLENDPOINT_URL", &directory.sparql_url)
            .env("TDD__TD_REPO_URL", &directory.url)
            // Validate what is registered against domus's TD JSON Schema (off by default).
            .env("TDD__CHECK_SCHEMA", "true")
            // Use domus's own copy of the Discovery context: there is no internet to fetch it from.
            .env("TDD__OVERWRITE_DISCOVERY", "true");
        directory.spawn(&mut domus, "domus.log");
        // The directory's own TD, of `@type` ThingDirectory: it is domus that answers on the port.
        let root = client.get(format!("{}/", directory.url));
        directory
            .wait_until(
                "domus-tdd-api",
                "domus.log",
                || root.try_clone().expect("a plain request"),
                |body| body.contains("ThingDirectory"),
            )
            .await;
        Some(directory)
    }

    /// domus's base URL, `http://127.0.0.1:<port>` (the TDD API is under `/things`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What domus has printed so far (its request log, tracebacks, and jsonld.js errors), for failure
    /// messages.
    pub fn domus_log(&self) -> String {
        read_log(&self.logs.join("domus.log"))
    }

    fn spawn(&mut self, command: &mut Command, log: &str) {
        let path = self.logs.join(log);
        let out = std::fs::File::create(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        let err = out.try_clone().expect("clone the log file");
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
        self.children.push(child);
    }

    /// Sends `request()` until it is answered with a success whose body passes `check`; fails the test, with
    /// the server's log, when the last started server exits or [`START_TIMEOUT`] passes first.
    async fn wait_until(
        &mut self,
        what: &str,
        log: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
        check: impl Fn(&str) -> bool,
    ) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(answer) = request().send().await
                && answer.status().is_success()
                && answer.text().await.is_ok_and(|body| check(&body))
            {
                return;
            }
            let child = self.children.last_mut().expect("a started server");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("{what} exited ({status}) before it answered; its output:\n{}", read_log(&self.logs.join(log)));
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not answer within {} s; its output:\n{}",
                START_TIMEOUT.as_secs(),
                read_log(&self.logs.join(log))
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What is missing to run domus, with how to install it; `None` when nothing is.
fn missing_system_packages() -> Option<String> {
    let python = std::env::var("THINGWIRE_PYTHON").unwrap_or_else(|_| "python3".into());
    let venv = Command::new(&python)
        .args(["-c", "import venv, ensurepip"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !venv.is_ok_and(|s| s.success()) {
        return Some(format!(
            "domus-tdd-api needs Python 3 with venv, but `{python} -c 'import venv, ensurepip'` failed (install it: \
             `apt-get install -y python3-venv`)"
        ));
    }
    let node = Command::new("node").arg("--version").stdin(Stdio::null()).output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Some(
            "domus-tdd-api runs jsonld.js with `node`, but `node --version` failed (install Node.js: `apt-get \
             install -y nodejs`)"
                .into(),
        );
    }
    None
}

/// The TDD venv's Python, installing the pinned requirements (once per machine and requirements file).
fn venv_python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let requirements = workspace().join("tests/tdd/requirements.txt");
            let pinned = std::fs::read_to_string(&requirements)
                .unwrap_or_else(|e| panic!("read {}: {e}", requirements.display()));
            let file = requirements.to_str().expect("a UTF-8 path");
            super::python::ensure_venv(
                &workspace().join("target/tdd-venv"),
                &["--requirement", file],
                &pinned,
                "domus-tdd-api and oxigraph (tests/tdd/requirements.txt)",
            )
        })
        .clone()
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(no log at {}: {e})", path.display()))
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("an HTTP client")
}
