//! Serves a simulated thermostat until ctrl-c: `cargo run -p thingwire-examples --bin thermostat-server`.
//! A hololinked client finds it with `ClientFactory.zmq("lab", "thermostat", "tcp://127.0.0.1:5555")` or
//! `access_point="IPC"`.

use thingwire::Server;
use thingwire_examples::Thermostat;

#[tokio::main]
async fn main() -> Result<(), thingwire::ServerError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5555".into());
    Server::builder("lab").thing(Thermostat::new("thermostat")).tcp(address).ipc().serve().await
}
