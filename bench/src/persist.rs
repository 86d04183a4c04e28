//! `--only persist`: a persisted property's write against an unpersisted one on the same Thing, same server,
//! same client, in alternating rounds (issue 17: target ≤ 2× with durability on). The store is SQLite in WAL
//! mode with `synchronous = FULL`, in a folder on the disk `--out` is on (not a tmpfs), so every persisted
//! write waits for one `fsync` before its reply.

use std::path::Path;
use std::time::{Duration, Instant};

use thingwire::Protocol;
use thingwire::persist::Storage;
use thingwire::prelude::*;

/// The Thing measured: the same `f64` write, stored or not.
#[thing]
pub struct PersistBench {
    id: String,
    /// Stored in SQLite on every write, before the reply.
    #[property(persist)]
    stored: f64,
    /// Not stored.
    #[property]
    plain: f64,
}

#[thing]
impl PersistBench {}

/// The median and 99th percentile of `samples` (sorted in place).
fn quantiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Runs the section; its lines for the report, or what went wrong.
pub async fn section(quick: bool, out: &Path, dir: &Path) -> Result<Vec<String>, String> {
    let state = out.join("persist-state");
    let _ = std::fs::remove_dir_all(&state);
    let server = Server::builder("persist-bench")
        .thing(PersistBench { id: "bench".into(), stored: 0.0, plain: 0.0 })
        .storage(Storage::sqlite(&state))
        .ipc_in(dir)
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let address = server.address(Protocol::Ipc).ok_or("no ipc address")?.to_owned();
    let client = thingwire::Client::connect(&address).await.map_err(|e| e.to_string())?;
    let (rounds, per_round) = if quick { (4, 100) } else { (10, 500) };
    let mut plain = Vec::with_capacity(rounds * per_round);
    let mut stored = Vec::with_capacity(rounds * per_round);
    let mut value = 0.0_f64;
    for _ in 0..50 {
        value += 1.0;
        client.write_property("bench", "plain", &value).await.map_err(|e| e.to_string())?;
        client.write_property("bench", "stored", &value).await.map_err(|e| e.to_string())?;
    }
    for round in 0..rounds {
        // Alternate which goes first, so a drift in the machine's load favours neither.
        let order: [(&str, bool); 2] =
            if round % 2 == 0 { [("plain", false), ("stored", true)] } else { [("stored", true), ("plain", false)] };
        for (name, is_stored) in order {
            for _ in 0..per_round {
                value += 1.0;
                let start = Instant::now();
                client.write_property("bench", name, &value).await.map_err(|e| e.to_string())?;
                let took = start.elapsed();
                if is_stored { stored.push(took) } else { plain.push(took) }
            }
        }
    }
    let warnings = server.persist_warnings();
    server.shutdown().await;
    if !warnings.is_empty() {
        return Err(format!("the store warned: {warnings:?}"));
    }
    let (plain_p50, plain_p99) = quantiles(&mut plain);
    let (stored_p50, stored_p99) = quantiles(&mut stored);
    let ratio = stored_p50.as_secs_f64() / plain_p50.as_secs_f64();
    Ok(vec![
        format!(
            "  writeproperty f64 over ipc, sequential, {} writes each in {rounds} alternating rounds; SQLite in {}",
            plain.len(),
            state.display()
        ),
        format!("  unpersisted  median {:>8.1} µs   p99 {:>8.1} µs", us(plain_p50), us(plain_p99)),
        format!("  persisted    median {:>8.1} µs   p99 {:>8.1} µs", us(stored_p50), us(stored_p99)),
        format!(
            "  persisted / unpersisted (medians): {ratio:.2}×  (target ≤ 2×: {})",
            if ratio <= 2.0 { "met" } else { "missed" }
        ),
    ])
}
