//! `thingwire gateway`: one server in front of many — every Thing of every backend (thingwire or hololinked
//! 0.4, over ZeroMQ) served under its id through the gateway's own ZeroMQ, HTTP (with the web panel) and MQTT
//! bindings, with the gateway's authentication in front.
//!
//! Configured by a TOML file and/or flags (flags add backends and override the file's addresses):
//!
//! ```toml
//! id = "lab-gateway"
//! tcp = "0.0.0.0:5555"        # ZeroMQ (events on port + 1)
//! http = "0.0.0.0:8080"       # HTTP + SSE + the web panel
//! mqtt = "mqtt://127.0.0.1:1883"
//! accept_registrations = true # its Thing Directory (/things) takes other servers' TDs (default true)
//!
//! [auth]                      # the gateway's front side; backends may have none
//! http_users = { alice = "$argon2id$v=19$…" }   # HTTP Basic, argon2 hashes
//! http_tokens = ["a-long-random-token"]         # HTTP Bearer
//! zmq_users = { alice = "secret" }              # ZeroMQ PLAIN on TCP
//!
//! [[backend]]
//! address = "tcp://spectro-pc:5555"   # a thingwire server: all the Things it lists
//!
//! [[backend]]
//! address = "tcp://stage-pc:6000"     # a hololinked server lists none: name them
//! things = ["stage", "laser"]
//! optional = true                     # start without it when it is down
//! wait = "30s"                        # how long to wait for it at start (default 10s)
//! username = "gw"                     # PLAIN credentials the backend requires
//! password = "…"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use thingwire::binding::http::{HttpAuth, HttpOptions};
use thingwire::remote::Backend;
use thingwire::{Auth, Credentials, Server};

use crate::failure::{Failure, Kind};

/// The gateway's configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The gateway's server id.
    id: Option<String>,
    /// ZeroMQ TCP address to serve on.
    tcp: Option<String>,
    /// Serve on IPC too.
    #[serde(default)]
    ipc: bool,
    /// HTTP address to serve on.
    http: Option<String>,
    /// MQTT broker to publish to.
    mqtt: Option<String>,
    /// Whether the HTTP binding's Thing Directory takes registrations from other servers.
    #[serde(default = "yes")]
    accept_registrations: bool,
    #[serde(default)]
    auth: AuthConfig,
    #[serde(default, rename = "backend")]
    backends: Vec<BackendConfig>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthConfig {
    #[serde(default)]
    http_users: BTreeMap<String, String>,
    #[serde(default)]
    http_tokens: Vec<String>,
    #[serde(default)]
    zmq_users: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackendConfig {
    address: String,
    things: Option<Vec<String>>,
    #[serde(default)]
    optional: bool,
    wait: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// What the command line says, besides the file.
#[derive(Debug, Default)]
pub struct Flags {
    pub config: Option<PathBuf>,
    pub id: Option<String>,
    pub backends: Vec<String>,
    pub tcp: Option<String>,
    pub ipc: bool,
    pub http: Option<String>,
    pub mqtt: Option<String>,
}

impl Config {
    /// The file (if any) with the flags applied.
    pub fn load(flags: Flags) -> Result<Self, Failure> {
        let mut config = match &flags.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Failure::usage(format!("could not read the gateway configuration `{}`: {e}", path.display()))
                })?;
                toml::from_str::<Config>(&text).map_err(|e| {
                    Failure::usage(format!("the gateway configuration `{}` is not valid: {e}", path.display()))
                })?
            }
            None => Config { accept_registrations: true, ..Config::default() },
        };
        config.id = flags.id.or(config.id);
        config.tcp = flags.tcp.or(config.tcp);
        config.ipc |= flags.ipc;
        config.http = flags.http.or(config.http);
        config.mqtt = flags.mqtt.or(config.mqtt);
        for backend in flags.backends {
            let (address, things) = match backend.split_once('=') {
                Some((address, things)) => {
                    (address.to_owned(), Some(things.split(',').map(|t| t.trim().to_owned()).collect()))
                }
                None => (backend, None),
            };
            config.backends.push(BackendConfig {
                address,
                things,
                optional: false,
                wait: None,
                username: None,
                password: None,
            });
        }
        if config.backends.is_empty() {
            return Err(Failure::usage(
                "the gateway has no backend: add `--backend tcp://host:port` or `[[backend]]` entries in --config",
            ));
        }
        if config.tcp.is_none() && config.http.is_none() && !config.ipc && config.mqtt.is_none() {
            return Err(Failure::usage(
                "the gateway serves on nothing: add --tcp 0.0.0.0:5555, --http 0.0.0.0:8080, --ipc or --mqtt URL",
            ));
        }
        Ok(config)
    }

    /// The server builder this configuration describes.
    fn builder(self) -> Result<thingwire::ServerBuilder, Failure> {
        let mut builder = Server::builder(self.id.unwrap_or_else(|| "gateway".to_owned()));
        for b in self.backends {
            let mut backend = Backend::new(&b.address);
            if let Some(things) = b.things {
                backend = backend.things(things);
            }
            if b.optional {
                backend = backend.optional();
            }
            if let Some(wait) = &b.wait {
                let wait = crate::values::parse_duration(wait)
                    .map_err(|e| Failure::usage(format!("backend `{}`: wait: {e}", b.address)))?;
                backend = backend.wait(wait);
            }
            match (b.username, b.password) {
                (Some(user), Some(password)) => backend = backend.credentials(Credentials::plain(user, password)),
                (None, None) => {}
                _ => {
                    return Err(Failure::usage(format!(
                        "backend `{}`: give both username and password, or neither",
                        b.address
                    )));
                }
            }
            builder = builder.backend(backend);
        }
        if let Some(tcp) = self.tcp {
            builder = builder.tcp(tcp);
        }
        if self.ipc {
            builder = builder.ipc();
        }
        if !self.auth.zmq_users.is_empty() {
            builder = builder.authentication(Auth::plain(self.auth.zmq_users));
        }
        if let Some(http) = self.http {
            let mut options = HttpOptions::default();
            // A lab's directory: its own (remote) Things, and whatever other servers register.
            options.directory.accept_registrations = self.accept_registrations;
            if !self.auth.http_users.is_empty() || !self.auth.http_tokens.is_empty() {
                let mut auth = HttpAuth::new();
                for (user, hash) in &self.auth.http_users {
                    auth = auth.user(user, hash).map_err(|e| Failure::usage(format!("[auth] http_users: {e}")))?;
                }
                for token in &self.auth.http_tokens {
                    auth = auth.token(token);
                }
                options.auth = Some(auth);
            }
            builder = builder.http(http).http_options(options);
        }
        if let Some(mqtt) = self.mqtt {
            builder = builder.mqtt(mqtt);
        }
        Ok(builder)
    }
}

/// Starts the gateway and serves until ctrl-c.
pub async fn run(config: Config, quiet: bool) -> Result<(), Failure> {
    let server = config
        .builder()?
        .start()
        .await
        .map_err(|e| Failure::new(Kind::NoAnswer, format!("the gateway could not start: {e}")))?;
    if !quiet {
        eprintln!("gateway `{}` serves {} Things:", server.id(), server.thing_ids().len());
        for id in server.thing_ids() {
            eprintln!("  {id}");
        }
        for address in server.addresses() {
            eprintln!("on {}", address.request_href);
        }
        if let Some(url) = server.http_base_url() {
            eprintln!("on {url} (the web panel at {url}/)");
        }
    }
    server.run_until_signal().await;
    Ok(())
}
