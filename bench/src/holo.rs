//! hololinked 0.4.2: its Python server (`tests/python/hololinked_server.py`) and its Python client
//! (`bench/python/holo_client_bench.py`), from the venv at `target/hololinked-venv`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::child::ServerProcess;

/// The pinned requirement (the same as the interop tests').
/// The pinned requirements (pip arguments, space-separated; the venv's stamp): hololinked with ZeroMQ, with MQTT for
/// `ClientFactory.mqtt`, and with SQLAlchemy for the persisted-property interop test (hololinked's SQLite storage). The tests and the
/// benchmark share the venv, so they must name the same ones.
pub const REQUIREMENT: &str = "hololinked[zmq,mqtt,sqlalchemy]==0.4.2 sqlalchemy==2.1.9";

/// The venv's interpreter, creating the venv when it is missing (as the interop tests do).
pub fn ensure_venv(dir: &Path) -> Result<PathBuf, String> {
    let python = dir.join("bin/python");
    let stamp = dir.join(".thingwire-requirement");
    if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == REQUIREMENT) {
        return Ok(python);
    }
    if python.exists() && probe(&python) {
        return Ok(python);
    }
    eprintln!("creating {} with {REQUIREMENT} (once)…", dir.display());
    let host = std::env::var("THINGWIRE_PYTHON").unwrap_or_else(|_| "python3".into());
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    run(Command::new(&host).args(["-m", "venv"]).arg(&tmp), "create the venv (is python3 with venv installed?)")?;
    run(
        Command::new(tmp.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(REQUIREMENT.split_whitespace()),
        "pip install hololinked (is PyPI reachable?)",
    )?;
    std::fs::write(tmp.join(".thingwire-requirement"), REQUIREMENT).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(dir);
    if std::fs::rename(&tmp, dir).is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(python)
}

fn probe(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import hololinked, sys; sys.exit(0 if hololinked.__version__ == '0.4.2' else 1)"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(command: &mut Command, what: &str) -> Result<(), String> {
    let status = command.stdout(Stdio::null()).status().map_err(|e| format!("could not {what}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("could not {what}: {status}")) }
}

/// Two free loopback ports in a row (hololinked publishes events on port + 1).
fn free_port_pair() -> Result<u16, String> {
    for _ in 0..50 {
        let a = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = a.local_addr().map_err(|e| e.to_string())?.port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return Ok(port);
        }
    }
    Err("no free pair of loopback ports".into())
}

/// Starts hololinked's Python server serving Thing `thing_id` as server `server_id` over TCP.
pub fn start_server(python: &Path, workspace: &Path, server_id: &str, thing_id: &str) -> Result<ServerProcess, String> {
    let script = workspace.join("tests/python/hololinked_server.py");
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port_pair()?;
        let mut command = Command::new(python);
        command.arg(&script).args(["--port", &port.to_string(), "--server-id", server_id, "--thing-id", thing_id]);
        match ServerProcess::start(command, "hololinked server", Duration::from_secs(90)) {
            Ok(mut p) => {
                p.address = format!("tcp://127.0.0.1:{port}");
                return Ok(p);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// A free loopback port.
fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// Starts hololinked's Python server serving Thing `thing_id` over ZeroMQ TCP and over its own tornado HTTP
/// server; returns the process (its `address` the HTTP base URL) and the ZeroMQ address.
pub fn start_http_server(
    python: &Path,
    workspace: &Path,
    server_id: &str,
    thing_id: &str,
) -> Result<(ServerProcess, String), String> {
    let script = workspace.join("tests/python/hololinked_server.py");
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port_pair()?;
        let http = free_port()?;
        if http == port || http == port + 1 {
            continue;
        }
        let mut command = Command::new(python);
        command.arg(&script).args(["--port", &port.to_string(), "--server-id", server_id, "--thing-id", thing_id]);
        command.args(["--http-port", &http.to_string()]);
        match ServerProcess::start(command, "hololinked server (HTTP)", Duration::from_secs(90)) {
            Ok(mut p) => {
                p.address = format!("http://127.0.0.1:{http}");
                return Ok((p, format!("tcp://127.0.0.1:{port}")));
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// One operation's figures as the Python script reports them.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, serde::Serialize)]
pub struct PyStats {
    pub ops: u64,
    pub secs: f64,
    pub ops_per_sec: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub mean_us: f64,
    pub max_us: f64,
}

/// Runs hololinked's Python client against `access_point`; returns the script's JSON.
pub fn run_python_client(
    python: &Path,
    workspace: &Path,
    server_id: &str,
    thing_id: &str,
    access_point: &str,
    seconds: f64,
    max_ops: u64,
) -> Result<serde_json::Value, String> {
    let script = workspace.join("bench/python/holo_client_bench.py");
    let output = Command::new(python)
        .arg(script)
        .args(["--server-id", server_id, "--thing-id", thing_id, "--access-point", access_point])
        .args(["--seconds", &seconds.to_string(), "--max-ops", &max_ops.to_string()])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("could not run the Python client: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().rev().find(|l| l.trim_start().starts_with('{'));
    match (output.status.success(), line) {
        (true, Some(line)) => serde_json::from_str(line).map_err(|e| format!("bad JSON from the Python client: {e}")),
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
            Err(format!("the Python client failed ({}):\n{}", output.status, tail.join("\n")))
        }
    }
}
