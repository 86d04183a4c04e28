//! The web panel: its routes and headers over real sockets, and the lab's panels in a real headless Chromium
//! (`tests/browser/panel_check.mjs`): writes, a refused value, actions with plots, live events, markup shown
//! as text, a server that goes away and comes back, Basic auth, and no request to anywhere else.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use thingwire::Server;
use thingwire::binding::http::{HttpAuth, HttpOptions};
use thingwire::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::common::{Sensor, browser, node};

/// Markup a panel must show as text.
const XSS: &str = "<img src=x onerror=alert(1)>";

/// A Thing whose value is markup.
#[thing(title = "Notebook")]
pub struct Notebook {
    id: String,
    /// A free-text note
    #[property]
    note: String,
}

#[thing]
impl Notebook {}

async fn lab(address: &str) -> Server {
    let builder =
        Server::builder("panel-lab").thing(Notebook { id: "notebook".into(), note: XSS.into() }).http(address);
    thingwire_examples::start_lab(builder).await.expect("the lab starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_panel_is_served_with_a_strict_policy_and_can_be_switched_off() {
    let server = lab("127.0.0.1:0").await;
    let base = server.http_base_url().expect("http").to_owned();
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    for path in ["/", "/stage/"] {
        let page = c.get(format!("{base}{path}")).send().await.expect("page");
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let csp = page.headers()["content-security-policy"].to_str().expect("text").to_owned();
        assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"), "{csp}");
        assert_eq!(page.headers()["x-content-type-options"], "nosniff");
        let html = page.text().await.expect("html");
        assert!(html.contains("/_panel/panel.js") && !html.contains("<script>"), "{html}");
    }
    let redirect = c.get(format!("{base}/stage")).send().await.expect("redirect");
    assert_eq!(redirect.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(redirect.headers()["location"], "/stage/");
    let unknown = c.get(format!("{base}/stag/")).send().await.expect("unknown");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.expect("text").contains("did you mean `stage`"));
    let things: Value = c.get(format!("{base}/_panel/things")).send().await.expect("list").json().await.expect("json");
    assert_eq!(things, serde_json::json!(["notebook", "spectrometer", "stage", "thermostat"]));
    for (file, kind) in
        [("panel.js", "text/javascript"), ("uPlot.iife.min.js", "text/javascript"), ("panel.css", "text/css")]
    {
        let asset = c.get(format!("{base}/_panel/{file}")).send().await.expect("asset");
        assert_eq!(asset.status(), StatusCode::OK, "{file}");
        assert!(asset.headers()["content-type"].to_str().expect("text").starts_with(kind), "{file}");
    }
    let missing = c.get(format!("{base}/_panel/jquery.js")).send().await.expect("missing");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    server.shutdown().await;

    let off = Server::builder("panel-off")
        .thing(Sensor::new("sensor"))
        .http("127.0.0.1:0")
        .http_options(HttpOptions { panel: false, ..HttpOptions::default() })
        .start()
        .await
        .expect("server");
    let base = off.http_base_url().expect("http").to_owned();
    assert_eq!(c.get(format!("{base}/")).send().await.expect("page").status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get(format!("{base}/sensor/")).send().await.expect("page").status(), StatusCode::NOT_FOUND);
    assert_eq!(c.get(format!("{base}/sensor/gain")).send().await.expect("read").status(), StatusCode::OK);
    off.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_panels_work_in_a_real_browser() {
    let Some(chromium) = browser::chromium() else {
        eprintln!(
            "SKIPPED the_lab_panels_work_in_a_real_browser: no Chromium found (set THINGWIRE_CHROMIUM, or install \
             Debian's: `apt-get install -y chromium chromium-driver`)"
        );
        return;
    };
    let tools = tokio::task::spawn_blocking(browser::puppeteer).await.expect("puppeteer install");
    let mut server = Some(lab("127.0.0.1:0").await);
    let base = server.as_ref().and_then(Server::http_base_url).expect("http").to_owned();
    let address = base.trim_start_matches("http://").to_owned();
    let auth = HttpAuth::new().user("lab", &HttpAuth::hash_password("secret")).expect("hash");
    let secured = Server::builder("panel-auth")
        .thing(Sensor::new("sensor"))
        .http("127.0.0.1:0")
        .http_options(HttpOptions { auth: Some(auth), ..HttpOptions::default() })
        .start()
        .await
        .expect("server");
    let auth_base = secured.http_base_url().expect("http").to_owned();
    let shots = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/panel-screenshots");
    std::fs::create_dir_all(&shots).expect("screenshot folder");

    let mut child = tokio::process::Command::new(node::node_program())
        .arg(browser::script("panel_check.mjs"))
        .args(["--base", &base, "--auth-base", &auth_base])
        .arg("--chromium")
        .arg(&chromium)
        .arg("--shots")
        .arg(&shots)
        .arg("--hololinked-td")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tds/hololinked-0.4.2/td-stage-http.json"))
        .current_dir(&tools)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stderr = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.expect("read the script's output") {
            match line.as_str() {
                // The script asks for an outage and for the server back, on the same port.
                "STOP-SERVER" => {
                    if let Some(running) = server.take() {
                        running.shutdown().await;
                    }
                    stdin.write_all(b"stopped\n").await.expect("answer");
                }
                "START-SERVER" => {
                    server = Some(lab(&address).await);
                    stdin.write_all(b"started\n").await.expect("answer");
                }
                _ => seen.push(line),
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(240), run).await;
    let mut errors = String::new();
    let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut errors).await;
    let status = child.wait().await.expect("the script's status");
    assert!(finished.is_ok(), "the browser check did not finish within 240 s:\n{}", seen.join("\n"));
    let failed = seen.iter().any(|l| l.starts_with("FAIL"));
    assert!(
        status.success() && !failed && seen.iter().any(|l| l == "ALL OK"),
        "the panel check in Chromium failed ({status}):\n{}\n--- stderr ---\n{errors}",
        seen.join("\n")
    );
    eprintln!("{}", seen.join("\n"));
    for shot in ["index", "spectrometer", "stage", "thermostat"] {
        assert!(shots.join(format!("{shot}.png")).is_file(), "screenshot {shot}.png");
    }
    if let Some(running) = server {
        running.shutdown().await;
    }
    secured.shutdown().await;
}
