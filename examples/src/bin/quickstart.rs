//! The quick start: serves a simulated thermostat over TCP and IPC, then drives it with the Rust client —
//! reads, writes (including a refused out-of-range one), actions and an event — and shuts down.
//!
//! ```text
//! cargo run -p thingwire-examples --bin quickstart
//! ```

use std::time::Duration;

use futures::StreamExt;
use thingwire::{Client, ClientError, Protocol, Server};
use thingwire_examples::{Reading, Thermostat};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::from_default_env()).init();
    let address = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let server = Server::builder("quickstart").thing(Thermostat::new("thermostat")).tcp(address).ipc().start().await?;
    for a in server.addresses() {
        println!("serving `thermostat` on {} (events on {})", a.request_href, a.event_href);
    }

    let client = Client::connect(server.address(Protocol::Tcp).expect("tcp is served")).await?;
    println!("connected to server `{}`", client.server_id());

    let temperature: f64 = client.read_property("thermostat", "temperature").await?;
    println!("temperature: {temperature:.2} °C");
    client.write_property("thermostat", "setpoint", &35.0).await?;
    println!("setpoint set to 35 °C");
    match client.write_property("thermostat", "setpoint", &500.0).await {
        Err(ClientError::Remote(e)) => println!("setpoint 500 °C refused: {}: {}", e.kind, e.message),
        other => println!("unexpected answer to an out-of-range setpoint: {other:?}"),
    }

    let mut readings = client.subscribe::<Reading>("thermostat", "reading").await?;
    tokio::time::sleep(Duration::from_millis(200)).await; // let the subscription reach the publisher
    let published: Reading = client.invoke("thermostat", "publish_reading", &()).await?;
    let received = tokio::time::timeout(Duration::from_secs(5), readings.next()).await?;
    println!("published {published:?}; the subscription received {:?}", received.map(|e| e.map(|e| e.data)));

    client.write_property("thermostat", "setpoint", &20.5).await?;
    let settled: f64 =
        client.invoke("thermostat", "wait_until_settled", &serde_json::json!({"tolerance": 0.2})).await?;
    println!("settled at {settled:.2} °C");

    let td = client.thing_description("thermostat").await?;
    println!(
        "Thing Description: {} properties, {} actions, {} events",
        td["properties"].as_object().map_or(0, |o| o.len()),
        td["actions"].as_object().map_or(0, |o| o.len()),
        td["events"].as_object().map_or(0, |o| o.len())
    );

    server.shutdown().await;
    println!("done");
    Ok(())
}
