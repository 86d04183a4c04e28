//! The Node side of the HTTP interop tests: Eclipse Thingweb node-wot, pinned by `tests/node/package-lock.json`,
//! installed with `npm ci` on first use under the workspace's `target/node-wot/` and reused while the lock (and
//! the Node version) is unchanged — as `python.rs` does with the hololinked venv.
//!
//! Nothing here skips: without Node.js and npm, or when the registry cannot be reached, the test fails and says
//! what to install or check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

/// The pinned packages (kept in step with `tests/node/package.json`; the lock pins their dependencies).
pub const PACKAGES: &str = "@node-wot/core@0.9.2 @node-wot/binding-http@0.9.2 @node-wot/binding-mqtt@0.8.16";

/// The oldest Node.js major version the scripts run on (they use the global `fetch`).
const MIN_NODE_MAJOR: u32 = 18;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `tests/node/<name>`.
pub fn script(name: &str) -> PathBuf {
    workspace().join("tests/node").join(name)
}

/// The Node.js executable: `THINGWIRE_NODE`, else `node` on `PATH`.
pub fn node_program() -> String {
    std::env::var("THINGWIRE_NODE").unwrap_or_else(|_| "node".into())
}

fn npm_program() -> String {
    std::env::var("THINGWIRE_NPM").unwrap_or_else(|_| "npm".into())
}

/// The folder holding `node_modules/` with the pinned node-wot, installing it (once per lock) when needed. The
/// check scripts run with this as their working directory, from which they resolve node-wot.
pub fn node_wot() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| ensure_installed(&NODE_WOT)).clone()
}

/// A set of pinned npm packages the tests install: from `tests/<sources>/package(-lock).json` into
/// `target/<folder>/`, complete when `node_modules/<marker>` exists.
pub struct Install {
    /// What it is, for messages.
    pub what: &'static str,
    /// The packages, as pinned (for the stamp and messages).
    pub packages: &'static str,
    /// The folder under `tests/` with `package.json` and `package-lock.json`.
    pub sources: &'static str,
    /// The folder under `target/` it is installed in.
    pub folder: &'static str,
    /// A file under `node_modules/` that exists once the install is complete.
    pub marker: &'static str,
}

const NODE_WOT: Install = Install {
    what: "node-wot",
    packages: PACKAGES,
    sources: "node",
    folder: "node-wot",
    marker: "@node-wot/binding-mqtt/package.json",
};

/// Installs `install` (once per lock and Node version) and returns the folder holding its `node_modules/`.
pub fn ensure_installed(install: &Install) -> PathBuf {
    let Install { what, packages, sources, folder, marker } = *install;
    let dir = &workspace().join("target").join(folder);
    let node_version = node_version();
    let sources = workspace().join("tests").join(sources);
    let manifest = read(&sources.join("package.json"));
    let lock = read(&sources.join("package-lock.json"));
    let stamp = format!(
        "{packages}\nnode {node_version}\nlock fnv1a64 {:016x}\n",
        fnv1a64(&[manifest.as_slice(), b"\0", lock.as_slice()])
    );
    let stamp_file = dir.join(".thingwire-lock-stamp");
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) && dir.join("node_modules").join(marker).exists()
    {
        return dir.to_owned();
    }
    // Install into a private folder, then move it into place, so concurrent test processes never see half an
    // install. npm's download cache goes under target/ too, so that `target/` is the whole cache.
    let tmp = dir.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).expect("create the npm install folder");
    std::fs::write(tmp.join("package.json"), &manifest).expect("copy package.json");
    std::fs::write(tmp.join("package-lock.json"), &lock).expect("copy package-lock.json");
    let output = Command::new(npm_program())
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&tmp)
        .env("npm_config_cache", workspace().join("target/npm-cache"))
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            let _ = std::fs::remove_dir_all(&tmp);
            panic!(
                "could not run `{} ci` to install {what} ({packages}): {e}. Install npm (it comes with Node.js \
                 {MIN_NODE_MAJOR}+, e.g. `apt-get install nodejs npm`) or point THINGWIRE_NPM at it",
                npm_program()
            )
        });
    if !output.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(
        output.status.success(),
        "`npm ci` in {} failed ({}) installing {what} ({packages}) from {}/package-lock.json: is the npm \
         registry reachable (npm config get registry)?\n--- stdout ---\n{}\n--- stderr ---\n{}",
        tmp.display(),
        output.status,
        sources.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(tmp.join(".thingwire-lock-stamp"), &stamp).expect("write the install stamp");
    let _ = std::fs::remove_dir_all(dir);
    if std::fs::rename(&tmp, dir).is_err() {
        // Another process finished first: use its install.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    dir.to_owned()
}

/// `node --version` (e.g. `v20.11.1`), failing the test when Node.js is missing or too old.
fn node_version() -> String {
    let node = node_program();
    let output = Command::new(&node).arg("--version").stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!(
            "the node-wot interop tests need Node.js {MIN_NODE_MAJOR}+ and npm, but `{node} --version` could not \
             run: {e}. Install them (e.g. `apt-get install nodejs npm`) or point THINGWIRE_NODE/THINGWIRE_NPM at them"
        )
    });
    let version = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let major = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse::<u32>().ok());
    assert!(
        output.status.success() && major.is_some_and(|m| m >= MIN_NODE_MAJOR),
        "the node-wot interop tests need Node.js {MIN_NODE_MAJOR}+, but `{node} --version` says {version:?} ({})",
        output.status
    );
    version
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// 64-bit FNV-1a: a stamp that stays the same across Rust releases (std's hashers promise no such thing).
fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in parts.iter().flat_map(|p| p.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// Runs `tests/node/wot_client_check.mjs` with `plan` (see the script's header) and fails the test, with the
/// script's output, unless every step passed. Returns the step lines.
pub async fn run_wot_check(plan: &Value, what: &str) -> Vec<String> {
    let dir = tokio::task::spawn_blocking(node_wot).await.expect("node-wot install");
    let output = tokio::process::Command::new(node_program())
        .arg(script("wot_client_check.mjs"))
        .args(["--plan", &plan.to_string(), "--timeout", "60"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), output)
        .await
        .unwrap_or_else(|_| panic!("node-wot's check against {what} did not finish within 90 s"))
        .expect("run node");
    assert_check_passed(&format!("node-wot against {what}"), &output)
}

/// Asserts that a check script's run (one `ok …`/`FAIL …` line a step, `ALL OK` last) passed: exit status 0, no
/// `FAIL` line, an `ALL OK` line. On failure the message holds the whole stdout and the end of stderr. Returns
/// the stdout lines.
pub fn assert_check_passed(what: &str, output: &Output) -> Vec<String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    let failed = lines.iter().any(|l| l.starts_with("FAIL"));
    let tail: Vec<&str> = stderr.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
    assert!(
        output.status.success() && !failed && lines.iter().any(|l| l == "ALL OK"),
        "{what} failed ({}):\n{stdout}\n--- stderr (last 40 lines) ---\n{}",
        output.status,
        tail.join("\n")
    );
    lines
}
