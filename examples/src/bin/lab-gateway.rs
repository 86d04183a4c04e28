//! A lab behind a gateway, in one process: two instrument servers — `optics` (the spectrometer) and `motion`
//! (the stage and the thermostat), as two instrument PCs would run them — and the gateway `lab-gateway` in
//! front, serving all three Things on one address, over ZeroMQ and HTTP with the web panel, until ctrl-c.
//!
//! ```text
//! cargo run -p thingwire-examples --bin lab-gateway
//! thingwire list tcp://127.0.0.1:7000                        # every Thing, with the server it lives on
//! thingwire read tcp://127.0.0.1:7000 stage position
//! curl http://127.0.0.1:7080/thermostat/temperature          # HTTP, through the gateway
//! open http://127.0.0.1:7080/                                # the panel of every Thing
//! curl http://127.0.0.1:7080/things                          # the lab's Thing Directory (W3C WoT Discovery)
//! ```
//!
//! The gateway's directory lists its Things and takes registrations: a server started with
//! `.register_with("http://127.0.0.1:7080")` appears in it too.
//!
//! The gateway's configuration as `thingwire gateway` takes it, for two real PCs:
//! `thingwire gateway --backend tcp://optics-pc:5601 --backend tcp://motion-pc:5603 --tcp 0.0.0.0:7000
//! --http 0.0.0.0:7080`. A hololinked server goes behind it the same way, naming its Things:
//! `--backend tcp://old-pc:6000=laser`.

use thingwire::binding::http::HttpOptions;
use thingwire::persist::Storage;
use thingwire::remote::Backend;
use thingwire::{Protocol, Server};
use thingwire_examples::{SPECTROMETER, STAGE, THERMOSTAT};

const OPTICS: &str = "127.0.0.1:5601";
const MOTION: &str = "127.0.0.1:5603";
const GATEWAY_TCP: &str = "127.0.0.1:7000";
const GATEWAY_HTTP: &str = "127.0.0.1:7080";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    thingwire_examples::init_logging();
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The gateway's HTTP options: its Thing Directory takes other servers' registrations.
fn directory() -> HttpOptions {
    let mut options = HttpOptions::default();
    options.directory.accept_registrations = true;
    options
}

async fn run() -> Result<(), thingwire::ServerError> {
    let optics = Server::builder("optics")
        .thing(thingwire_examples::Spectrometer::new(SPECTROMETER))
        .tcp(OPTICS)
        .start()
        .await?;
    // The stage's limits and the thermostat's setpoint and PID gains persist on the motion PC.
    let storage = Storage::sqlite("target/lab-gateway-state");
    let motion = thingwire_examples::start_motion(Server::builder("motion").tcp(MOTION).storage(storage)).await?;
    let gateway = Server::builder("lab-gateway")
        .backend(Backend::new(optics.address(Protocol::Tcp).unwrap_or(OPTICS)))
        .backend(Backend::new(motion.address(Protocol::Tcp).unwrap_or(MOTION)))
        .tcp(GATEWAY_TCP)
        .http(GATEWAY_HTTP)
        .http_options(directory())
        .start()
        .await?;
    println!(
        "servers `optics` on tcp://{OPTICS} ({SPECTROMETER}) and `motion` on tcp://{MOTION} ({STAGE}, {THERMOSTAT})"
    );
    println!(
        "gateway `lab-gateway` serves {:?} on tcp://{GATEWAY_TCP} and http://{GATEWAY_HTTP} (panel at http://{GATEWAY_HTTP}/); ctrl-c stops",
        gateway.thing_ids()
    );
    gateway.run_until_signal().await;
    motion.shutdown().await;
    optics.shutdown().await;
    Ok(())
}
