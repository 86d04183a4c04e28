//! Starting and stopping: a stop handle from another thread ends `run_until_signal`, and the server says
//! whether it still runs.

use std::time::Duration;

use thingwire::Server;
use thingwire::transport::Protocol;

use crate::common::{Sensor, scratch_dir};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_handle_from_another_thread_stops_a_serving_server() {
    let dir = scratch_dir("lifecycle");
    let server =
        Server::builder("lifecycle-stop").thing(Sensor::new("sensor")).ipc_in(&dir).start().await.expect("start");
    let address = server.address(Protocol::Ipc).expect("ipc").to_owned();
    let client = thingwire::Client::connect(&address).await.expect("connect");
    assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read"), 1.0);
    let handle = server.stop_handle();
    assert!(handle.is_running() && server.is_running());
    let copy = handle.clone();
    let stopper = std::thread::spawn(move || copy.stop());
    tokio::time::timeout(Duration::from_secs(10), server.run_until_signal())
        .await
        .expect("run_until_signal returns once stopped from the other thread");
    stopper.join().expect("the stopping thread");
    assert!(!handle.is_running(), "a stopped server says so");
    handle.stop(); // again: nothing happens
    assert!(std::fs::read_dir(&dir).expect("dir").next().is_none(), "its IPC socket files are gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_remote_exit_count_as_stopping() {
    let server = Server::builder("lifecycle-exit")
        .thing(Sensor::new("sensor"))
        .inproc()
        .allow_remote_exit(true)
        .start()
        .await
        .expect("start");
    let handle = server.stop_handle();
    let waiting = tokio::spawn({
        let handle = handle.clone();
        async move {
            for _ in 0..1000 {
                if !handle.is_running() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        }
    });
    let address = server.address(Protocol::Inproc).expect("inproc").to_owned();
    let mut raw = crate::common::RawClient::connect(&address, "lifecycle-exit").await;
    let exit = raw.header("EXIT", "", Some(""), "", serde_json::json!({}));
    raw.send(&exit, b"null".to_vec()).await;
    assert!(waiting.await.expect("join"), "a remote EXIT stops the server");
    tokio::time::timeout(Duration::from_secs(10), server.stopped()).await.expect("stopped resolves");
    server.shutdown().await;
}
