//! The Python side of the interop tests: a venv with the real `hololinked[zmq,mqtt,sqlalchemy]==0.4.2` (the
//! `mqtt` extra for `ClientFactory.mqtt`: aiomqtt and paho-mqtt; SQLAlchemy for its SQLite storage), created on
//! first use under the workspace's `target/` and reused after that; a venv made for another requirement is made
//! again. [`ensure_venv`] makes the other venvs the tests use the same way (`tdd.rs`: the Thing Description
//! Directory).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The pinned requirement the interop tests run against.
/// The pinned requirements (pip arguments, space-separated; the venv's stamp): hololinked with ZeroMQ, with MQTT for
/// `ClientFactory.mqtt`, and with SQLAlchemy for the persisted-property interop test (hololinked's SQLite storage). The tests and the
/// benchmark share the venv, so they must name the same ones.
pub const REQUIREMENT: &str = "hololinked[zmq,mqtt,sqlalchemy]==0.4.2 sqlalchemy==2.1.9";

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/python/<name>`.
pub fn script(name: &str) -> PathBuf {
    workspace().join("tests/python").join(name)
}

/// The venv's Python interpreter, creating the venv (once per machine) when needed.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| {
            let args: Vec<&str> = REQUIREMENT.split_whitespace().collect();
            ensure_venv(&workspace().join("target/hololinked-venv"), &args, REQUIREMENT, "hololinked")
        })
        .clone()
}

/// The Python interpreter of the venv `dir`, in which `pip install <pip_args>` ran; `stamp` (kept in the venv)
/// says what was installed, and a venv whose stamp differs is made again. `what` names it in messages.
pub fn ensure_venv(dir: &Path, pip_args: &[&str], stamp: &str, what: &str) -> PathBuf {
    let python = dir.join("bin/python");
    let stamp_file = dir.join(".thingwire-requirement");
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s.trim() == stamp.trim()) && python.exists() {
        return python;
    }
    // Build in a private folder, then move it into place, so concurrent test processes never see half a venv.
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let host_python = std::env::var("THINGWIRE_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&host_python).args(["-m", "venv"]).arg(&tmp), "create the venv (is python3 with venv installed?)");
    run(
        Command::new(tmp.join("bin/python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
            .args(pip_args),
        &format!("pip install {what} (is PyPI reachable?)"),
    );
    std::fs::write(tmp.join(".thingwire-requirement"), stamp).expect("write the venv stamp");
    let _ = std::fs::remove_dir_all(dir);
    if std::fs::rename(&tmp, dir).is_err() {
        // Another process finished first: use its venv.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    // A venv's scripts embed its path: pip ran under `tmp`, but `bin/python` is a symlink and the
    // interpreter finds site-packages relative to itself, so the moved venv works for `python -m` and imports.
    python
}

fn run(command: &mut Command, what: &str) {
    let status = command.stdout(Stdio::null()).status().unwrap_or_else(|e| panic!("could not {what}: {e}"));
    assert!(status.success(), "could not {what}: exit status {status}");
}
