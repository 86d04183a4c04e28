//! Events through an MQTT broker (Mosquitto, started here on a free loopback port): one Thing's `tick` events
//! to one subscriber, at QoS 0 and 1, against the same payloads published by a bare rumqttc client
//! (`mosquitto_pub`-style: a publish loop and its connection task, nothing else) — the limit of the broker and
//! the client library. The two alternate, round by round, in the same run; the target is ≥ 80 % of the bare
//! client's rate.
//!
//! A run emits `count` events as fast as the emitter can and measures, at the subscriber, the rate from the
//! first to the last event received (nothing is dropped: the binding's queue is larger than the run).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};
use serde::Serialize;
use thingwire::Server;
use thingwire::binding::mqtt::{MqttOptions as BindingOptions, MqttQos};

use crate::thing::{BenchThing, Tick, now_ns};

/// One measured run.
#[derive(Debug, Clone, Serialize)]
pub struct MqttRun {
    /// `thingwire` or `rumqttc` (the bare client).
    pub stack: String,
    pub qos: u8,
    pub round: usize,
    pub emitted: u64,
    pub received: u64,
    /// Events per second at the subscriber, first to last.
    pub rate: f64,
    /// The binding's counters after the run (thingwire only): dropped and lost events.
    pub dropped: u64,
    pub lost: u64,
}

/// Mosquitto on a free loopback port; stopped when dropped.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mosquitto_binary() -> Option<std::path::PathBuf> {
    let sbin = std::path::PathBuf::from("/usr/sbin/mosquitto");
    if sbin.exists() {
        return Some(sbin);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::PathBuf::from(d).join("mosquitto"))
        .find(|p| p.exists())
}

pub async fn start_mosquitto(dir: &std::path::Path) -> Result<Mosquitto, String> {
    let binary = mosquitto_binary().ok_or("no mosquitto binary (install it: apt-get install -y mosquitto)")?;
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let conf = dir.join("mosquitto-bench.conf");
    // No limit on queued messages per client: the subscriber must not be the one dropping.
    let text = format!(
        "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\nmax_inflight_messages 0\nlog_dest none\n"
    );
    std::fs::write(&conf, text).map_err(|e| e.to_string())?;
    let child = Command::new(binary)
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("start mosquitto: {e}"))?;
    let broker = Mosquitto { child, port };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(broker);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err("mosquitto did not listen within 5 s".into())
}

fn qos5(qos: u8) -> QoS {
    if qos == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce }
}

/// A subscriber counting `expected` messages on `topic` (or until 2 s pass without one); returns how many came
/// and the rate from the first to the last.
async fn subscriber(
    port: u16,
    topic: &str,
    qos: u8,
    id: &str,
    expected: u64,
) -> Result<tokio::task::JoinHandle<(u64, f64)>, String> {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30)).set_max_packet_size(Some(1 << 20));
    let (client, mut events) = AsyncClient::new(options, 1024);
    client.subscribe(topic, qos5(qos)).await.map_err(|e| e.to_string())?;
    // Wait for the subscription to be in place.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout(Duration::from_secs(5), events.poll()).await {
            Ok(Ok(Event::Incoming(Incoming::SubAck(_)))) => break,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(format!("the bench subscriber: {e}")),
            Err(_) => return Err("the bench subscriber got no SUBACK".into()),
        }
        if Instant::now() > deadline {
            return Err("the bench subscriber got no SUBACK".into());
        }
    }
    let topic = topic.to_owned();
    Ok(tokio::spawn(async move {
        let _client = client;
        let (mut n, mut first, mut last) = (0u64, None, Instant::now());
        while n < expected {
            match tokio::time::timeout(Duration::from_secs(2), events.poll()).await {
                Ok(Ok(Event::Incoming(Incoming::Publish(p)))) if p.topic == topic.as_bytes() => {
                    if n == 0 {
                        first = Some(Instant::now());
                    }
                    n += 1;
                    last = Instant::now();
                }
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(_) => break,
            }
        }
        let secs = first.map_or(0.0, |f| (last - f).as_secs_f64());
        (n, if secs > 0.0 { n as f64 / secs } else { 0.0 })
    }))
}

/// The bare client: publishes `count` ticks as fast as its connection takes them.
async fn bare(port: u16, qos: u8, count: u64, round: usize) -> Result<MqttRun, String> {
    let topic = "bare/tick";
    let receiver = subscriber(port, topic, qos, &format!("bench-sub-bare-{qos}-{round}"), count).await?;
    let mut options = MqttOptions::new(format!("bench-bare-{qos}-{round}"), "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30)).set_request_channel_capacity(256);
    let (client, mut events) = AsyncClient::new(options, 256);
    let connection = tokio::spawn(async move { while events.poll().await.is_ok() {} });
    for seq in 0..count {
        let tick = Tick { seq, t_ns: now_ns() };
        let payload = serde_json::to_vec(&tick).map_err(|e| e.to_string())?;
        client.publish(topic, qos5(qos), false, payload).await.map_err(|e| e.to_string())?;
    }
    let (received, rate) = receiver.await.map_err(|e| e.to_string())?;
    let _ = client.disconnect().await;
    connection.abort();
    Ok(MqttRun { stack: "rumqttc".into(), qos, round, emitted: count, received, rate, dropped: 0, lost: 0 })
}

/// thingwire: the bench Thing's `tick`, emitted by its own code, published by the MQTT binding.
async fn thingwire_run(port: u16, qos: u8, count: u64, round: usize) -> Result<MqttRun, String> {
    let options = BindingOptions {
        qos: if qos == 0 { MqttQos::AtMostOnce } else { MqttQos::AtLeastOnce },
        queue: count as usize + 16,
        ..BindingOptions::default()
    };
    let server = Server::builder(format!("bench-mqtt-{qos}-{round}"))
        .thing(BenchThing::new("bench"))
        .mqtt(format!("mqtt://127.0.0.1:{port}"))
        .mqtt_options(options)
        .shutdown_grace(Duration::from_millis(200))
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let receiver = subscriber(port, "bench/tick", qos, &format!("bench-sub-tw-{qos}-{round}"), count).await?;
    // The Thing's own code emits them (`burst`: a worker thread, as fast as it can).
    let burst =
        server.memory().invoke("bench", "burst", &serde_json::json!({ "count": count, "interval_us": 0 })).await;
    if let Some(e) = burst.error() {
        return Err(format!("the burst action: {e}"));
    }
    let (received, rate) = receiver.await.map_err(|e| e.to_string())?;
    let stats = server.mqtt_stats().unwrap_or_default();
    server.shutdown().await;
    Ok(MqttRun {
        stack: "thingwire".into(),
        qos,
        round,
        emitted: count,
        received,
        rate,
        dropped: stats.dropped,
        lost: stats.lost,
    })
}

fn print_run(run: &MqttRun) {
    println!(
        "  mqtt qos {} {:<9} round {}: {:>7} of {:>7} received, {:>9.0} events/s{}",
        run.qos,
        run.stack,
        run.round,
        run.received,
        run.emitted,
        run.rate,
        if run.stack == "thingwire" { format!(" (dropped {}, lost {})", run.dropped, run.lost) } else { String::new() }
    );
}

/// The section: for QoS 0 and 1, `rounds` alternating pairs (bare client, then thingwire); prints each run and
/// the median ratio.
pub async fn section(quick: bool, rounds: usize, dir: &std::path::Path) -> Result<Vec<MqttRun>, String> {
    let broker = start_mosquitto(dir).await?;
    let count: u64 = if quick { 20_000 } else { 100_000 };
    let mut runs = Vec::new();
    for qos in [0u8, 1] {
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let raw = bare(broker.port, qos, count, round).await?;
            print_run(&raw);
            let tw = thingwire_run(broker.port, qos, count, round).await?;
            print_run(&tw);
            if raw.rate > 0.0 {
                ratios.push(tw.rate / raw.rate);
            }
            runs.push(raw);
            runs.push(tw);
        }
        ratios.sort_by(f64::total_cmp);
        if let Some(median) = ratios.get(ratios.len() / 2) {
            println!(
                "  mqtt qos {qos}: thingwire / bare rumqttc = {:.0} % (median of {} rounds; target ≥ 80 %)",
                median * 100.0,
                ratios.len()
            );
        }
    }
    Ok(runs)
}
