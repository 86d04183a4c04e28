//! The real Python package: hololinked 0.4.2's own client (`ClientFactory.zmq` / ObjectProxy) drives Rust
//! servers step by step (see `tests/python/hololinked_client_check.py`): a hand-written Thing over TCP, and
//! a macro-written Thing over TCP and over IPC found by server id alone, as `access_point="IPC"` does.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

use thingwire::{Protocol, Server, Thing};

use crate::common::{Sensor, python};
use crate::macros::MacroSensor;

/// Runs the check script against `access_point`; fails the test with its output when any step fails.
async fn run_check(server_id: &str, access_point: &str) {
    run_check_on(server_id, "interop", access_point).await;
}

/// [`run_check`] on the Thing `thing_id`.
pub(crate) async fn run_check_on(server_id: &str, thing_id: &str, access_point: &str) {
    let python = tokio::task::spawn_blocking(python::python).await.expect("venv");
    let script = python::script("hololinked_client_check.py");
    let args = ["--server-id", server_id, "--thing-id", thing_id, "--access-point", access_point].map(str::to_owned);
    let (status, lines, stderr) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the check script");
        let stdout = child.stdout.take().expect("stdout");
        let lines: Vec<String> = BufReader::new(stdout).lines().map_while(Result::ok).collect();
        let status = child.wait().expect("wait");
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        (status, lines, stderr)
    })
    .await
    .expect("script ran");
    let failed: Vec<&String> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    let tail: Vec<&str> = stderr.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
    assert!(
        status.success() && failed.is_empty() && lines.iter().any(|l| l == "ALL OK"),
        "hololinked's client failed against the Rust server at {access_point} ({status}):\n{}\n--- stderr ---\n{}",
        lines.join("\n"),
        tail.join("\n")
    );
    assert!(lines.iter().filter(|l| l.starts_with("ok ")).count() >= 12, "{lines:?}");
}

async fn check_over_tcp(server_id: &str, thing: impl Thing) {
    let server = Server::builder(server_id).thing(thing).tcp("127.0.0.1:0").start().await.expect("server starts");
    let address = server.address(Protocol::Tcp).expect("tcp").to_owned();
    run_check(server_id, &address).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_client_drives_a_hand_written_thing() {
    check_over_tcp("rust-server", Sensor::new("interop")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_client_drives_a_macro_thing() {
    check_over_tcp("rust-macro-server", MacroSensor::new("interop")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_lab_script_drives_the_simulated_lab() {
    let server = thingwire_examples::start_lab(Server::builder("py-lab").tcp("127.0.0.1:0")).await.expect("lab starts");
    let address = server.address(Protocol::Tcp).expect("tcp").to_owned();
    let python = tokio::task::spawn_blocking(python::python).await.expect("venv");
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/python/drive_lab.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(["--server-id", "py-lab", "--access-point", &address, "--overall-timeout", "120"])
        .kill_on_drop(true)
        .output();
    let output =
        tokio::time::timeout(std::time::Duration::from_secs(150), output).await.expect("finishes").expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "examples/python/drive_lab.py failed ({}):\n{stdout}\n--- stderr ---\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_client_finds_a_rust_server_by_id_over_ipc() {
    // `.ipc()` binds where hololinked looks: ~/.hololinked/sockets/<id>.ipc.
    let server_id = format!("thingwire-ipc-interop-{}", std::process::id());
    let server =
        Server::builder(&server_id).thing(MacroSensor::new("interop")).ipc().start().await.expect("server starts");
    let path = server.address(Protocol::Ipc).expect("ipc").to_owned();
    assert!(path.ends_with(&format!(".hololinked/sockets/{server_id}.ipc")), "{path}");
    run_check(&server_id, "IPC").await;
    server.shutdown().await;
}
