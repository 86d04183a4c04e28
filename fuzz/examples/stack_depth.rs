//! Finds how deeply nested a msgpack argument may be before decoding it overflows a thread with tokio's
//! default worker stack (2 MiB), on the code path a server runs for an action taking `serde_json::Value`
//! (finding F2 in docs/fuzzing.md). A stack overflow aborts the process, so each depth runs in a child:
//!
//!     cargo run --release --example stack_depth            # from fuzz/, without the fuzzing flags
//!
//! prints, for a range of depths, whether decoding fits in a 2 MiB stack, the smallest stack (in 64 KiB
//! steps) that gets through the deepest input (rmp-serde refuses it at its limit of 1024 levels), and
//! whether a real server (tokio workers with their default 2 MiB stack) survives each depth sent to the
//! `anything` action of `FuzzScope`.

use std::process::Command;

use thingwire::args::ArgSlots;
use thingwire::protocol::ContentType;

fn decode_at(depth: usize, stack: usize) {
    let payload = [vec![0x81, 0xa5], b"value".to_vec(), vec![0x91; depth], vec![0x01]].concat();
    let worker = std::thread::Builder::new().stack_size(stack).spawn(move || {
        let args = thingwire::Args { payload: &payload, content_type: &ContentType::Msgpack, preserialized: &[] };
        let decoded = ArgSlots::<(serde_json::Value,)>::new(&["value"]).decode(args);
        decoded.is_ok()
    });
    let ok = worker.expect("thread").join().expect("join");
    println!("decoded: {ok}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, depth, stack] = &args[..] {
        if stack == "server" {
            serve_at(depth.parse().expect("a depth"));
        } else {
            decode_at(depth.parse().expect("a depth"), stack.parse().expect("a stack size"));
        }
        return;
    }
    let me = std::env::current_exe().expect("own path");
    let run = |depth: usize, stack: usize| {
        let out = Command::new(&me).args([depth.to_string(), stack.to_string()]).output().expect("child runs");
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    for depth in [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1023, 1100, 100_000] {
        let verdict = run(depth, 2 << 20).unwrap_or_else(|| "stack overflow (process aborted)".to_owned());
        println!("depth {depth}, 2 MiB stack: {verdict}");
    }
    for kib in (64..=2048).step_by(64) {
        if run(1023, kib << 10).is_some() {
            println!("depth 1023 first fits in a {kib} KiB stack");
            break;
        }
    }
    for depth in [300, 500, 700, 800, 900, 1000, 1023, 100_000] {
        let out = Command::new(&me).args([depth.to_string(), "server".to_owned()]).output().expect("child runs");
        let verdict = if out.status.success() { "served, still serving" } else { "server process aborted" };
        println!("depth {depth}, real server: {verdict}");
    }
}

fn serve_at(depth: usize) {
    use thingwire_fuzz::{harness, thing};
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let server = thingwire::Server::builder("depth-server")
            .thing(thing::FuzzScope::new(thing::THING_ID))
            .inproc()
            .start()
            .await
            .expect("server");
        let address = server.address(thingwire::Protocol::Inproc).expect("inproc").to_owned();
        let mut probe = harness::Probe::connect(&address, thing::THING_ID).await;
        let header = serde_json::json!({
            "messageType": "OPERATION", "messageID": "deep", "senderID": harness::CLIENT_ID, "receiverID": "",
            "thingID": thing::THING_ID, "objekt": "anything", "operation": "invokeaction",
            "payloadContentType": "application/msgpack",
        });
        let payload = [vec![0x81, 0xa5], b"value".to_vec(), vec![0x91; depth], vec![0x01]].concat();
        probe.send(vec![Vec::new(), serde_json::to_vec(&header).expect("json"), payload, Vec::new()]).await;
        probe.still_serves().await;
    });
}
