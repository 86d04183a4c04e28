//! The browser side of the web panel tests: the system's Chromium (Debian's `chromium`), driven by
//! puppeteer-core pinned by `tests/browser/package-lock.json` and installed with `npm ci` under
//! `target/browser-tools/` (as `node.rs` installs node-wot). puppeteer-core downloads no browser.
//!
//! Without Chromium the panel's browser test is skipped, saying so and how to install it; `.ci/run` installs
//! it, so CI always runs the test.

use std::path::PathBuf;
use std::sync::OnceLock;

use super::node::{Install, ensure_installed};

const PUPPETEER: Install = Install {
    what: "puppeteer-core",
    packages: "puppeteer-core@24.43.1",
    sources: "browser",
    folder: "browser-tools",
    marker: "puppeteer-core/package.json",
};

/// The Chromium to drive: `THINGWIRE_CHROMIUM`, else `chromium` or `chromium-browser` on `PATH`, else
/// `/usr/bin/chromium`; `None` when there is none.
pub fn chromium() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("THINGWIRE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .chain([PathBuf::from("/usr/bin/chromium")])
        .find(|candidate| candidate.is_file())
}

/// The folder holding `node_modules/` with the pinned puppeteer-core, installing it when needed.
pub fn puppeteer() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| ensure_installed(&PUPPETEER)).clone()
}

/// `tests/browser/<name>`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/browser").join(name)
}
