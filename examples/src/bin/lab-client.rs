//! Drives a running lab (`cargo run -p thingwire-examples --bin lab`) with the typed clients `#[thing]`
//! generates, printing what it does. Exits with status 1 on the first failure.
//!
//! ```text
//! cargo run -p thingwire-examples --bin lab-client                         # tcp://127.0.0.1:5555
//! cargo run -p thingwire-examples --bin lab-client -- ipc://$HOME/.hololinked/sockets/lab.ipc
//! ```

use thingwire_examples::{TCP_HOST, TCP_PORT, drive::drive_lab};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let address = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("THINGWIRE_LAB_ADDRESS").ok())
        .unwrap_or_else(|| format!("tcp://{TCP_HOST}:{TCP_PORT}"));
    let address = if address.contains("://") { address } else { format!("tcp://{address}") };
    match drive_lab(&address).await {
        Ok(()) => {
            println!("\nall done");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nerror: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
