//! The quick start in one process: serves the simulated lab (spectrometer, stage, thermostat) over TCP,
//! drives it with the generated typed clients — properties, refused writes, actions, events — and shuts
//! down.
//!
//! ```text
//! cargo run -p thingwire-examples --bin quickstart
//! ```
//!
//! To keep a lab running and drive it from elsewhere, use the `lab` and `lab-client` binaries.

use thingwire::{Protocol, Server};
use thingwire_examples::drive::drive_lab;
use thingwire_examples::start_lab;

#[tokio::main]
async fn main() -> Result<(), thingwire_examples::drive::Error> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    // Port 0: any free port, so the quick start never clashes with a running lab.
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let server = start_lab(Server::builder("quickstart").tcp(address)).await?;
    for a in server.addresses() {
        println!("serving {:?} on {} (events on {})", server.thing_ids(), a.request_href, a.event_href);
    }
    let address = server.address(Protocol::Tcp).ok_or("the server has no TCP address")?.to_owned();
    let result = drive_lab(&address).await;
    server.shutdown().await;
    result?;
    println!("\ndone");
    Ok(())
}
