//! The lab and its Rust client, run as a user runs them: the three Things served over TCP and IPC, driven
//! end to end by `drive_lab` (what `lab-client` and `quickstart` run), then shut down.

use std::path::PathBuf;

use futures::StreamExt;
use thingwire::{Client, Protocol, Server};
use thingwire_examples::drive::drive_lab;
use thingwire_examples::{STAGE, StageClient, THERMOSTAT, ThermostatClient, start_lab};

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("thingwire-examples-lab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lab_client_drives_the_lab_and_the_lab_shuts_down_cleanly() {
    let dir = scratch_dir();
    let server = start_lab(Server::builder("lab-test").tcp("127.0.0.1:0").ipc_in(&dir)).await.expect("starts");
    let tcp = server.address(Protocol::Tcp).expect("tcp").to_owned();
    let ipc = server.address(Protocol::Ipc).expect("ipc").to_owned();

    drive_lab(&tcp).await.expect("every step of the drive succeeds");

    // The same Things over IPC, and the change events the background tasks publish.
    let client = Client::connect(&ipc).await.expect("connects over ipc");
    let ids: Vec<String> = client.list_things().await.expect("lists").into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["spectrometer", "stage", "thermostat"]);
    let thermostat = ThermostatClient::from_handle(thingwire::ThingHandle::new(client.clone(), THERMOSTAT));
    let mut temperatures = thermostat.temperature_changes().await.expect("subscribes");
    let change = tokio::time::timeout(std::time::Duration::from_secs(5), temperatures.next())
        .await
        .expect("the control loop publishes temperature changes without any request")
        .expect("stream open")
        .expect("decodes");
    assert!((0.0..300.0).contains(&change.data), "{}", change.data);
    let stage = StageClient::from_handle(thingwire::ThingHandle::new(client, STAGE));
    assert_eq!(stage.position().await.expect("position"), 0.0, "drive_lab homed the stage");

    let (request_file, event_file) = thingwire::transport::ipc_paths(&dir, "lab-test");
    assert!(request_file.exists() && event_file.exists());
    server.shutdown().await;
    assert!(!request_file.exists() && !event_file.exists(), "shutdown removes the IPC socket files");
    let _ = std::fs::remove_dir_all(&dir);
}
