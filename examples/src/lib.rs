//! A simulated lab for thingwire's examples: a [`Spectrometer`], a linear [`Stage`] and a [`Thermostat`],
//! each written with the `#[thing]` macros, with behaviour users meet in real labs — acquisitions that take
//! their integration time, moves that take distance / speed and can be stopped, a PID loop, alarms.
//!
//! The binaries:
//!
//! * `lab` serves all three under server id `lab` on `tcp://127.0.0.1:5555` (events on 5556) and on IPC
//!   where hololinked clients look for id `lab`, until ctrl-c;
//! * `lab-client` drives a running lab with the generated typed clients;
//! * `quickstart` does both in one process and exits;
//! * `emit-td` writes the Thing Descriptions to `examples/td/`.
//!
//! `examples/python/drive_lab.py` drives the same lab with hololinked 0.4.2's own Python client.

pub mod drive;
mod sim;
pub mod spectrometer;
pub mod stage;
pub mod thermostat;

pub use spectrometer::{Spectrometer, SpectrometerClient, Spectrum, TriggerMode};
pub use stage::{LimitReached, Limits, MoveOutcome, Side, Stage, StageClient};
pub use thermostat::{Alarm, PidGains, Reading, Thermostat, ThermostatClient};

use thingwire::binding::http::HttpForms;
use thingwire::td::{ThingDescription, tcp_addresses, thing_urn};
use thingwire::{DescribeThing, EventBinder, Server, ServerBuilder, ServerError, ThingDescriptor};

/// The server id the lab serves under.
pub const SERVER_ID: &str = "lab";

/// The lab's default TCP host.
pub const TCP_HOST: &str = "127.0.0.1";

/// The lab's default TCP port (events on port + 1).
pub const TCP_PORT: u16 = 5555;

/// Where the lab binary serves HTTP unless told otherwise.
pub const HTTP_ADDRESS: &str = "127.0.0.1:8080";

/// The id of the spectrometer in the lab.
pub const SPECTROMETER: &str = "spectrometer";

/// The id of the stage in the lab.
pub const STAGE: &str = "stage";

/// The id of the thermostat in the lab.
pub const THERMOSTAT: &str = "thermostat";

/// Logs to stderr at the level `RUST_LOG` says (default `info`), as the lab's programs do.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
}

/// Serves the lab's three Things on a server being configured, and returns the running server:
///
/// ```no_run
/// # async fn demo() -> Result<(), thingwire::ServerError> {
/// let server = thingwire_examples::start_lab(thingwire::Server::builder("lab").tcp("127.0.0.1:5555").ipc()).await?;
/// // … serve until something says stop …
/// server.shutdown().await;
/// # Ok(()) }
/// ```
///
/// Besides adding the Things, it connects the handles through which the stage's motion task and the
/// thermostat's control loop publish the changes of the observable `position` and `temperature`
/// ([`EventBinder::bind_property_change`]: ZeroMQ topics `<thing>/<property>_change_event`, under the plain
/// id and the TD id, and the HTTP change streams): the runtime only publishes changes after operations, and
/// gives a Thing no way to reach its publisher from a background task.
///
/// # Panics
///
/// Outside a Tokio runtime (the thermostat starts its control loop at once).
pub async fn start_lab(builder: ServerBuilder) -> Result<Server, ServerError> {
    start_motion(builder.thing(Spectrometer::new(SPECTROMETER))).await
}

/// Serves the lab's stage and thermostat (not the spectrometer) on a server being configured, as
/// [`start_lab`] does: the lab's "motion PC" of the `lab-gateway` example.
///
/// # Panics
///
/// Outside a Tokio runtime (the thermostat starts its control loop at once).
pub async fn start_motion(builder: ServerBuilder) -> Result<Server, ServerError> {
    let stage = Stage::new(STAGE);
    let thermostat = Thermostat::new(THERMOSTAT);
    let notifiers = [
        (STAGE, "position", stage.position_notifier()),
        (THERMOSTAT, "temperature", thermostat.temperature_notifier()),
    ];
    let server = builder.thing(stage).thing(thermostat).start().await?;
    for (thing, property, handle) in notifiers {
        EventBinder::new(thing, server.publisher().clone())
            .with_alias(&thing_urn(server.id(), thing))
            .bind_property_change(&handle, property);
    }
    Ok(server)
}

/// Every lab Thing's Thing Description (ZeroMQ TCP forms at the default address, then the HTTP forms of the
/// lab's default HTTP address) and Thing Model, as the pretty-printed files `td/<thing>.json` and
/// `td/<thing>.tm.json` hold them. A TD is a pure function of the
/// type and the addresses — no instance, no server: `cargo run -p thingwire-examples --bin emit-td` rewrites
/// the files, and a test fails when they drift from the code.
pub fn thing_description_files() -> Vec<(String, String)> {
    let addresses = tcp_addresses(TCP_HOST, TCP_PORT);
    let http = HttpForms::new(format!("http://{HTTP_ADDRESS}"));
    let things: [(&str, &ThingDescriptor); 3] = [
        (SPECTROMETER, Spectrometer::thing_descriptor()),
        (STAGE, Stage::thing_descriptor()),
        (THERMOSTAT, Thermostat::thing_descriptor()),
    ];
    let mut files = Vec::new();
    for (id, descriptor) in things {
        let td = ThingDescription::new(descriptor, SERVER_ID, id).served_on(&addresses).with_forms(&http);
        files.push((format!("{id}.json"), pretty(&td.to_json())));
        files.push((format!("{id}.tm.json"), pretty(&td.to_thing_model())));
    }
    files
}

/// The user guide's Rust examples (`docs/guide.md`), compiled as doctests so they stay true.
#[doc = include_str!("../../docs/guide.md")]
#[cfg(doctest)]
pub struct GuideDoctests;

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}
