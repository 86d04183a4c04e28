//! The real Python package: hololinked 0.4.2's own client (`ClientFactory.zmq` / ObjectProxy) drives a Rust
//! server, step by step (see `tests/python/hololinked_client_check.py`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Sensor, python};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_client_drives_a_rust_server() {
    let python = tokio::task::spawn_blocking(python::python).await.expect("venv");
    let server = thingwire::Server::builder("rust-server")
        .thing(Sensor::new("interop"))
        .tcp("127.0.0.1:0")
        .start()
        .await
        .expect("server starts");
    let address = server.address(thingwire::Protocol::Tcp).expect("tcp").to_owned();
    let script = python::script("hololinked_client_check.py");
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(script)
            .args(["--server-id", "rust-server", "--thing-id", "interop", "--access-point", &address])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the check script");
        let stdout = child.stdout.take().expect("stdout");
        let started = Instant::now();
        let lines: Vec<String> = BufReader::new(stdout).lines().map_while(Result::ok).collect();
        let status = child.wait().expect("wait");
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut stderr);
        }
        assert!(started.elapsed() < Duration::from_secs(120));
        (status, lines, stderr)
    })
    .await
    .expect("script ran");
    let (status, lines, stderr) = output;
    let failed: Vec<&String> = lines.iter().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        status.success() && failed.is_empty() && lines.iter().any(|l| l == "ALL OK"),
        "hololinked's client failed against the Rust server ({status}):\n{}\n--- stderr ---\n{}",
        lines.join("\n"),
        stderr.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(lines.iter().filter(|l| l.starts_with("ok ")).count() >= 12, "{lines:?}");
    server.shutdown().await;
}
