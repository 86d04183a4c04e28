//! The `thingwire` command: inspect and drive the Things of any thingwire or hololinked 0.4 server from a
//! shell, as `busctl` does for D-Bus, over ZeroMQ or HTTP.
//!
//! ```text
//! thingwire list  tcp://127.0.0.1:5555
//! thingwire td    tcp://127.0.0.1:5555 spectrometer --summary
//! thingwire read  tcp://127.0.0.1:5555 spectrometer integration_time_ms
//! thingwire write tcp://127.0.0.1:5555 spectrometer integration_time_ms 200
//! thingwire call  tcp://127.0.0.1:5555 stage move_to target=12.5
//! thingwire watch tcp://127.0.0.1:5555 thermostat temperature --count 3
//! thingwire read  http://127.0.0.1:8095 thermostat temperature
//! ```
//!
//! Exit status: 0 on success, 1 when the server reports an error or a name is unknown, 2 for a mistake on
//! the command line, 3 when the server cannot be reached or does not answer in time, 130 on ctrl-c.

mod address;
mod commands;
mod describe;
mod failure;
mod gateway;
mod http;
mod output;
mod progress;
mod suggest;
mod values;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::failure::{Failure, Kind};
use crate::values::{Limit, parse_duration, parse_limit};

const ABOUT: &str = "Inspect and drive Things served by thingwire or hololinked 0.4 over ZeroMQ or HTTP";

const LONG_ABOUT: &str = "\
Inspect and drive Things served by thingwire or hololinked 0.4 over ZeroMQ or HTTP.

A server is named by its address: tcp://host:port, host:port, a bare port (on this machine),
ipc:///path/to/socket.ipc, the id of a server whose IPC socket is in ~/.hololinked/sockets, or the
base URL of an HTTP server, http(s)://host:port (its Things' descriptions are at
<base>/<thing>/resources/wot-td; events come as Server-Sent Events).
A Thing is named by its id; `thingwire list` shows the ids a thingwire server serves over ZeroMQ.

Output is for people by default; --json prints JSON on stdout (JSON lines for `watch`) and errors
as JSON on stderr. Slow answers show progress on stderr (-q hides it).";

const EXAMPLES: &str = "\
Examples:
  thingwire list tcp://127.0.0.1:5555
  thingwire td localhost:5555 spectrometer --summary
  thingwire read localhost:5555 spectrometer serial_number
  thingwire write localhost:5555 spectrometer integration_time_ms 200
  thingwire call localhost:5555 stage move_to target=12.5
  thingwire call localhost:5555 thermostat wait_until_settled tolerance=0.5 --timeout 2m
  thingwire watch localhost:5555 thermostat temperature --count 3
  thingwire --json read localhost:5555 thermostat temperature
  thingwire read http://127.0.0.1:8095 thermostat temperature

Exit status:
  0 success, 1 the server reported an error or a name is unknown, 2 a mistake on the command line,
  3 the server could not be reached or did not answer in time, 130 interrupted (ctrl-c)";

#[derive(Debug, Parser)]
#[command(name = "thingwire", version, about = ABOUT, long_about = LONG_ABOUT, after_help = EXAMPLES)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes, before or after its name.
#[derive(Debug, Clone, Args)]
struct Global {
    /// Print JSON on stdout (JSON lines for `watch`) and errors as JSON on stderr
    #[arg(long, global = true)]
    json: bool,
    /// How long to wait for a reply: 500ms, 10s, 2m, or `none` [default: 10s]. For `watch`: how long to
    /// wait for each event (default: for ever)
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_limit)]
    timeout: Option<Limit>,
    /// How long to try to reach the server
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, default_value = "5s")]
    connect_timeout: Duration,
    /// Show no progress messages on stderr
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Show the server's traceback with remote errors
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the Things a thingwire server serves over ZeroMQ (hololinked servers cannot list theirs)
    #[command(after_help = "Examples:\n  thingwire list tcp://127.0.0.1:5555\n  thingwire --json list 5555")]
    List {
        /// The server: tcp://host:port, host:port, port, ipc://path or an IPC server id (not over HTTP yet)
        address: String,
    },
    /// Print a Thing's Thing Description (W3C TD JSON), or a summary of it
    #[command(after_help = "\
Examples:
  thingwire td tcp://127.0.0.1:5555 spectrometer
  thingwire td tcp://127.0.0.1:5555 spectrometer --summary
  thingwire td tcp://127.0.0.1:5555 spectrometer --protocol IPC
  thingwire td tcp://127.0.0.1:5555 spectrometer --model
  thingwire td http://127.0.0.1:8095 spectrometer --summary")]
    Td {
        /// The server: tcp://host:port, host:port, port, ipc://path, an IPC server id, or http(s)://host:port
        address: String,
        /// The Thing's id
        thing: String,
        /// The transport whose addresses the description's forms use: TCP, IPC or INPROC [default: the
        /// one connected over]
        #[arg(long, value_name = "PROTOCOL")]
        protocol: Option<String>,
        /// Print the Thing Model instead (the description without forms)
        #[arg(long, conflicts_with = "protocol")]
        model: bool,
        /// Print a short summary for people: properties, actions and events, one per line
        #[arg(long)]
        summary: bool,
    },
    /// Read a property
    #[command(after_help = "\
Examples:
  thingwire read tcp://127.0.0.1:5555 spectrometer integration_time_ms
  thingwire --json read localhost:5555 thermostat pid
  thingwire read http://127.0.0.1:8095 spectrometer integration_time_ms")]
    Read {
        /// The server: tcp://host:port, host:port, port, ipc://path, an IPC server id, or http(s)://host:port
        address: String,
        /// The Thing's id
        thing: String,
        /// The property
        property: String,
    },
    /// Write a property; the value is read as the property's type (a string needs no quotes; objects and
    /// arrays are JSON)
    #[command(
        allow_negative_numbers = true,
        after_help = "\
Examples:
  thingwire write tcp://127.0.0.1:5555 spectrometer integration_time_ms 200
  thingwire write localhost:5555 spectrometer trigger_mode external
  thingwire write localhost:5555 thermostat pid '{\"kp\": 2.0, \"ki\": 0.1, \"kd\": 0.0}'
  thingwire write localhost:5555 stage limits '{\"min\": 0, \"max\": 80}'
  thingwire write http://127.0.0.1:8095 spectrometer integration_time_ms 200"
    )]
    Write {
        /// The server: tcp://host:port, host:port, port, ipc://path, an IPC server id, or http(s)://host:port
        address: String,
        /// The Thing's id
        thing: String,
        /// The property
        property: String,
        /// The value: as the property's type, or JSON
        value: String,
    },
    /// Invoke an action with arguments as name=value (or positional, in the order the action declares)
    #[command(
        allow_negative_numbers = true,
        after_help = "\
Each value is read as its argument's type from the Thing Description: a number for a number, the raw
text for a string (no quotes needed), JSON for objects and arrays; JSON is always accepted.

Examples:
  thingwire call tcp://127.0.0.1:5555 stage move_to target=12.5
  thingwire call localhost:5555 stage move_to 12.5
  thingwire call localhost:5555 thermostat wait_until_settled tolerance=0.5 timeout_s=60 --timeout 2m
  thingwire call localhost:5555 stage move_to --args '{\"target\": 25}'
  thingwire call localhost:5555 spectrometer acquire --timeout 30s --execution-timeout 20s
  thingwire call http://127.0.0.1:8095 stage move_to target=12.5"
    )]
    Call {
        /// The server: tcp://host:port, host:port, port, ipc://path, an IPC server id, or http(s)://host:port
        address: String,
        /// The Thing's id
        thing: String,
        /// The action
        action: String,
        /// Arguments: name=value, or values in the order the action declares them
        #[arg(value_name = "ARG")]
        args: Vec<String>,
        /// All or some arguments as one JSON object (name=value arguments override its keys)
        #[arg(long = "args", value_name = "JSON")]
        args_json: Option<String>,
        /// Ask the server to stop the action after this long (TIMEOUT reply)
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        execution_timeout: Option<Duration>,
        /// Ask the server to give up if the action waits this long in the Thing's queue
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        invocation_timeout: Option<Duration>,
        /// Send without waiting for a reply
        #[arg(long)]
        oneway: bool,
    },
    /// Stream a Thing's events, or an observable property's changes, with timestamps
    #[command(after_help = "\
Runs until ctrl-c, or until --count events arrived. With --timeout, gives up (exit status 3) when no
event comes for that long. An observable property's changes are the event `<property>_change_event`;
naming the property is enough.

Examples:
  thingwire watch tcp://127.0.0.1:5555 spectrometer spectrum_ready
  thingwire watch localhost:5555 thermostat temperature --count 10
  thingwire --json watch localhost:5555 stage limit_reached --count 1 --timeout 60s
  thingwire watch http://127.0.0.1:8095 thermostat temperature --count 3")]
    Watch {
        /// The server: tcp://host:port, host:port, port, ipc://path, an IPC server id, or http(s)://host:port
        address: String,
        /// The Thing's id
        thing: String,
        /// An event, or an observable property
        name: String,
        /// Stop after this many events
        #[arg(long, short = 'n', value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        count: Option<u64>,
    },
    /// Serve the Things of other servers (thingwire or hololinked) through one gateway: its ZeroMQ, HTTP
    /// (with the web panel) and MQTT bindings and its authentication, until ctrl-c
    #[command(after_help = "\
Each backend is a ZeroMQ address; a thingwire backend's Things are all served, a hololinked backend
names its Things after `=` (hololinked servers do not list theirs). A --config TOML file can give
backends (`[[backend]]` with address, things, optional, wait, username, password), addresses and
front-side authentication (`[auth]` http_users, http_tokens, zmq_users); flags add to it.

Examples:
  thingwire gateway --backend tcp://127.0.0.1:5555 --backend tcp://10.0.0.7:6000=stage,laser --http 0.0.0.0:8080
  thingwire gateway --config lab-gateway.toml
  thingwire list tcp://127.0.0.1:7000          # every Thing, with the backend it lives on")]
    Gateway {
        /// A TOML file with the backends, addresses and authentication
        #[arg(long, value_name = "FILE")]
        config: Option<std::path::PathBuf>,
        /// The gateway's server id [default: gateway]
        #[arg(long)]
        id: Option<String>,
        /// A backend: tcp://host:port, ipc://path, optionally `=thing,thing` (repeatable)
        #[arg(long = "backend", value_name = "ADDRESS[=THINGS]")]
        backends: Vec<String>,
        /// Serve ZeroMQ on this TCP address (events on port + 1), e.g. 0.0.0.0:7000
        #[arg(long, value_name = "HOST:PORT")]
        tcp: Option<String>,
        /// Serve ZeroMQ on IPC too
        #[arg(long)]
        ipc: bool,
        /// Serve HTTP (and the web panel) on this address, e.g. 0.0.0.0:8080
        #[arg(long, value_name = "HOST:PORT")]
        http: Option<String>,
        /// Publish to this MQTT broker, e.g. mqtt://127.0.0.1:1883
        #[arg(long, value_name = "URL")]
        mqtt: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.json;
    if let Command::Gateway { config, id, backends, tcp, ipc, http, mqtt } = cli.command {
        let flags = gateway::Flags { config, id, backends, tcp, ipc, http, mqtt };
        return serve_gateway(flags, cli.global.quiet, json);
    }
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            Failure::failed(format!("could not start the async runtime: {e}")).print(json);
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let watching = matches!(cli.command, Command::Watch { .. });
        let run = commands::run(cli.command, cli.global);
        if watching {
            // `watch` treats ctrl-c as its normal end.
            return run.await;
        }
        tokio::select! {
            result = run => result,
            _ = tokio::signal::ctrl_c() => Err(Failure::new(Kind::Interrupted, "interrupted")),
        }
    });
    exit(result, json)
}

fn exit(result: Result<(), Failure>, json: bool) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print(json);
            failure.exit_code()
        }
    }
}

/// The gateway runs on every core: it forwards many requests at once.
fn serve_gateway(flags: gateway::Flags, quiet: bool, json: bool) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if quiet { "error" } else { "info" }));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return exit(Err(Failure::failed(format!("could not start the async runtime: {e}"))), json),
    };
    let result = gateway::Config::load(flags).map(|config| runtime.block_on(gateway::run(config, quiet)));
    exit(result.and_then(|r| r), json)
}
