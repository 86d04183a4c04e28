//! The simulated lab: serves a spectrometer, a stage and a thermostat under server id `lab` until ctrl-c.
//!
//! ```text
//! cargo run -p thingwire-examples --bin lab                     # tcp://127.0.0.1:5555, events on 5556, and IPC
//! cargo run -p thingwire-examples --bin lab -- 0.0.0.0:6000     # another TCP address (events on port + 1)
//! THINGWIRE_LAB_ADDRESS=0.0.0.0:6000 cargo run -p thingwire-examples --bin lab
//! cargo run -p thingwire-examples --bin lab -- --no-ipc        # TCP only (e.g. beside another lab)
//! cargo run -p thingwire-examples --bin lab -- --state-dir ~/.lab-state   # where persisted settings live
//! cargo run -p thingwire-examples --bin lab -- --no-state      # settings start from their defaults each time
//! cargo run -p thingwire-examples --bin lab -- --mqtt mqtt://127.0.0.1:1883   # also publish to an MQTT broker
//! ```
//!
//! The stage's `limits` and the thermostat's `setpoint` and `pid` are persisted properties: they are kept in
//! one SQLite file per Thing in the state folder (default `target/lab-state`, or `THINGWIRE_LAB_STATE`) and
//! restored when the lab starts again.
//!
//! Log verbosity follows `RUST_LOG` (default `info`).

use thingwire::persist::Storage;
use thingwire::{Protocol, Server};
use thingwire_examples::{HTTP_ADDRESS, SERVER_ID, SPECTROMETER, STAGE, TCP_HOST, TCP_PORT, THERMOSTAT, start_lab};

const USAGE: &str = "usage: lab [HOST:PORT] [--no-ipc] [--http HOST:PORT | --no-http] [--state-dir DIR | --no-state] \
[--mqtt mqtt://HOST:PORT]   (or THINGWIRE_LAB_ADDRESS=HOST:PORT, THINGWIRE_LAB_STATE=DIR; default: ZeroMQ on 127.0.0.1:5555 and \
IPC, HTTP on 127.0.0.1:8080, persisted settings in target/lab-state)";

/// Where the lab keeps its persisted settings unless told otherwise.
const DEFAULT_STATE_DIR: &str = "target/lab-state";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    thingwire_examples::init_logging();
    let mut address = None;
    let mut ipc = true;
    let mut http = Some(HTTP_ADDRESS.to_owned());
    let mut state = Some(std::env::var("THINGWIRE_LAB_STATE").unwrap_or_else(|_| DEFAULT_STATE_DIR.to_owned()));
    let mut mqtt = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return std::process::ExitCode::SUCCESS;
            }
            "--no-ipc" => ipc = false,
            "--no-http" => http = None,
            "--no-state" => state = None,
            "--state-dir" => match args.next() {
                Some(dir) => state = Some(dir),
                None => {
                    eprintln!("error: --state-dir needs a folder\n{USAGE}");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "--mqtt" => match args.next() {
                Some(url) => mqtt = Some(url),
                None => {
                    eprintln!("error: --mqtt needs a broker URL, e.g. mqtt://127.0.0.1:1883\n{USAGE}");
                    return std::process::ExitCode::FAILURE;
                }
            },
            "--http" => match args.next() {
                Some(a) => http = Some(a),
                None => {
                    eprintln!("error: --http needs HOST:PORT\n{USAGE}");
                    return std::process::ExitCode::FAILURE;
                }
            },
            _ if arg.starts_with('-') || address.is_some() => {
                eprintln!("error: unexpected argument `{arg}`\n{USAGE}");
                return std::process::ExitCode::FAILURE;
            }
            _ => address = Some(arg),
        }
    }
    let address = address
        .or_else(|| std::env::var("THINGWIRE_LAB_ADDRESS").ok())
        .unwrap_or_else(|| format!("{TCP_HOST}:{TCP_PORT}"));
    let builder = Server::builder(SERVER_ID).tcp(&address);
    let builder = if ipc { builder.ipc() } else { builder };
    let builder = match &http {
        Some(a) => builder.http(a),
        None => builder,
    };
    let builder = match &state {
        Some(dir) => builder.storage(Storage::sqlite(dir)),
        None => builder,
    };
    let builder = match &mqtt {
        Some(url) => builder.mqtt(url),
        None => builder,
    };
    // `ServerBuilder::serve()` would do start + wait for ctrl-c + shutdown in one call, but `start_lab` has
    // to connect the change notifiers after the server has started, so this does the three steps itself.
    let server = match start_lab(builder).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("error: the lab could not start: {e}\n{USAGE}");
            return std::process::ExitCode::FAILURE;
        }
    };
    print_how_to_connect(&server, mqtt.as_deref());
    match &state {
        Some(dir) => println!("Persisted settings (stage limits, thermostat setpoint and PID) are kept in {dir}/."),
        None => println!("Persisted settings are not kept (--no-state)."),
    }
    for warning in server.persist_warnings() {
        eprintln!("warning: {warning}");
    }
    tokio::select! {
        () = shutdown_signal() => tracing::info!("signal received, shutting down"),
        () = server.stopped() => {}
    }
    server.shutdown().await;
    println!("lab stopped");
    std::process::ExitCode::SUCCESS
}

/// Resolves on ctrl-c (SIGINT) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn print_how_to_connect(server: &Server, mqtt: Option<&str>) {
    println!("\nthingwire lab — server id `{SERVER_ID}`, Things `{SPECTROMETER}`, `{STAGE}`, `{THERMOSTAT}`");
    for a in server.addresses() {
        println!("  {:<4} requests {}   events {}", a.protocol.as_str(), a.request_href, a.event_href);
    }
    let connect = server
        .addresses()
        .iter()
        .find(|a| a.protocol == Protocol::Tcp)
        .map_or_else(|| format!("tcp://{TCP_HOST}:{TCP_PORT}"), |a| a.request_href.clone());
    let http = match server.http_base_url() {
        Some(base) => {
            println!("  HTTP {base}  (Thing Descriptions at {base}/<thing>/resources/wot-td)");
            format!(
                "\n  HTTP:         curl {base}/{THERMOSTAT}/temperature\n                curl -X PUT -H 'Content-Type: application/json' -d 35 {base}/{THERMOSTAT}/setpoint\n                curl -X POST -H 'Content-Type: application/json' -d '{{\"target\": 25}}' {base}/{STAGE}/move-to\n                curl -N {base}/{THERMOSTAT}/reading   (events, as Server-Sent Events)"
            )
        }
        None => String::new(),
    };
    let mqtt = match mqtt {
        Some(url) => {
            println!(
                "  MQTT {url}  (TDs retained on <thing>/thing-description, status on thingwire/{SERVER_ID}/status)"
            );
            let (host, port) =
                url.rsplit_once("://").map_or(url, |(_, rest)| rest).rsplit_once(':').unwrap_or((url, "1883"));
            format!(
                "\n  MQTT:         mosquitto_sub -h {host} -p {port} -t '{THERMOSTAT}/#' -v\n                \
                 mosquitto_rr -h {host} -p {port} -t thingwire/{SERVER_ID}/{THERMOSTAT}/request -e me/replies \\\n                  \
                 -m '{{\"operation\": \"readproperty\", \"name\": \"setpoint\"}}'\n                \
                 hololinked: ClientFactory.mqtt(hostname=\"{host}\", port={port}, thing_id=\"{THERMOSTAT}\")"
            )
        }
        None => String::new(),
    };
    println!(
        r#"
Connect from another terminal:
  Rust client:  cargo run -p thingwire-examples --bin lab-client -- {connect}
  CLI:          thingwire list {connect}
                thingwire read {connect} {THERMOSTAT} temperature
                thingwire call {connect} {STAGE} move_to target=25
  Python:       target/hololinked-venv/bin/python examples/python/drive_lab.py --access-point {connect}
                or, in your own script, with hololinked 0.4.2:
                  from hololinked.client import ClientFactory
                  stage = ClientFactory.zmq(server_id="{SERVER_ID}", thing_id="{STAGE}", access_point="{connect}")
                  # access_point="IPC" finds the lab by its server id{http}{mqtt}

Stop with ctrl-c.
"#
    );
}
