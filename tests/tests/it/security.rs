//! Security: ZAP authentication on TCP (PLAIN credentials, an IP allow-list, CURVE where libzmq has it),
//! what the TD says about it, and no pickle. See `docs/security.md`.

use std::path::PathBuf;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use thingwire::auth::{Auth, AuthError, Credentials, CurveKeyPair, curve_available};
use thingwire::error::AuthRefusal;
use thingwire::td::{SecurityScheme, ThingDescription, tcp_addresses};
use thingwire::transport::{BoundAddresses, Protocol};
use thingwire::{Client, ClientError, ConnectOptions, Server};

use crate::common::{RawClient, Sensor, sensor::Tick, to_bytes};

fn users() -> Auth {
    Auth::plain([("alice", "secret"), ("bob", "hunter2")])
}

async fn secured_server(id: &str, auth: Auth) -> (Server, String) {
    let server = Server::builder(id)
        .thing(Sensor::new("sensor"))
        .tcp("127.0.0.1:0")
        .authentication(auth)
        .start()
        .await
        .expect("server starts");
    let address = server.address(Protocol::Tcp).expect("tcp").to_owned();
    (server, address)
}

fn with(credentials: Credentials) -> ConnectOptions {
    ConnectOptions { credentials, handshake_timeout: Duration::from_secs(5), ..ConnectOptions::default() }
}

/// Connecting fails at once with [`ClientError::Unauthorized`] and the reason matching `$reason`, instead of a
/// handshake timeout; its message names the address and contains `$why`.
macro_rules! assert_refused {
    ($result:expr, $reason:pat, $why:expr) => {
        match $result {
            Err(ClientError::Unauthorized { address, reason }) => {
                assert!(matches!(reason, $reason), "refused for another reason: {reason:?}");
                let text = ClientError::Unauthorized { address: address.clone(), reason }.to_string();
                assert!(address.starts_with("tcp://") && text.contains(&address) && text.contains($why), "{text}");
            }
            Err(other) => panic!("expected ClientError::Unauthorized containing `{}`, got: {other:?}", $why),
            Ok(client) => panic!("an unauthorized client got in: {client:?}"),
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_refuses_missing_or_wrong_credentials_and_serves_the_right_ones() {
    let (server, address) = secured_server("plain", users()).await;
    // A client that authenticated first must not be disturbed by the failures that follow.
    let alice = Client::connect_with(&address, with(Credentials::plain("alice", "secret"))).await.expect("alice");
    // Each refusal is reported as such (a timeout would be `Unreachable`, which `assert_refused` rejects).
    assert_refused!(
        Client::connect_with(&address, with(Credentials::None)).await,
        AuthRefusal::MechanismMismatch,
        "different security mechanisms"
    );
    assert_refused!(
        Client::connect_with(&address, with(Credentials::plain("alice", "wrong"))).await,
        AuthRefusal::Refused { status: 400 },
        "wrong username or password"
    );
    assert_refused!(
        Client::connect_with(&address, with(Credentials::plain("mallory", "secret"))).await,
        AuthRefusal::Refused { status: 400 },
        "wrong username or password"
    );
    assert_refused!(
        Client::connect_with(&address, with(Credentials::plain("bob", "secret"))).await,
        AuthRefusal::Refused { status: 400 },
        "wrong username or password"
    );
    // Many refused attempts in a row: the server stays healthy.
    for _ in 0..20 {
        let options =
            ConnectOptions { handshake_timeout: Duration::from_secs(2), ..with(Credentials::plain("x", "y")) };
        assert!(Client::connect_with(&address, options).await.is_err());
    }
    assert_eq!(alice.read_property::<f64>("sensor", "gain").await.expect("still served"), 1.0);
    let bob = Client::connect_with(&address, with(Credentials::plain("bob", "hunter2"))).await.expect("bob");
    bob.write_property("sensor", "gain", &3.0).await.expect("write");
    let sum: f64 = bob.invoke("sensor", "add", &json!({"a": 1, "b": 2})).await.expect("invoke");
    assert_eq!(sum, 3.0);
    assert_eq!(alice.read_property::<f64>("sensor", "gain").await.expect("read"), 3.0);
    // Event subscriptions present the client's credentials too.
    let mut ticks = bob.subscribe::<Tick>("sensor", "tick").await.expect("subscribe");
    let got = crate::common::first_tick(&bob, &mut ticks).await;
    assert!(got.is_some(), "an authenticated subscriber receives events");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_peers_get_nothing_and_cause_nothing() {
    let (server, address) = secured_server("plain-silent", users()).await;
    // A raw socket without credentials sends a well-formed request: libzmq closes it during the handshake,
    // so the request never reaches the server and nothing comes back.
    let socket = tmq::dealer(thingwire::transport::context())
        .set_identity(b"intruder")
        .set_linger(0)
        .connect(&address)
        .expect("connect");
    let (mut tx, mut rx) = socket.split::<Vec<zmq::Message>>();
    let header = json!({
        "messageType": "OPERATION", "messageID": "m1", "senderID": "intruder", "receiverID": "plain-silent",
        "serverExecutionContext": {"invokationTimeout": 5, "executionTimeout": 5, "oneway": false},
        "thingExecutionContext": {"fetchExecutionLogs": false},
        "thingID": "sensor", "objekt": "record", "operation": "invokeaction",
        "payloadContentType": "application/json", "preencodedPayloadContentType": "text/plain",
    });
    let frames = || -> Vec<zmq::Message> {
        vec![vec![], to_bytes(&header), to_bytes(&json!({"n": 666})), vec![]].into_iter().map(Into::into).collect()
    };
    // DEALER queues while there is no connection; send a few in case one slips into a reconnect window.
    for _ in 0..3 {
        let _ = tokio::time::timeout(Duration::from_millis(200), tx.send(frames())).await;
    }
    let heard = tokio::time::timeout(Duration::from_secs(1), rx.next()).await;
    assert!(heard.is_err(), "an unauthenticated peer got an answer: {heard:?}");
    // Plain garbage on the TCP port does not bother the server either.
    let port = address.rsplit(':').next().expect("port").to_owned();
    for junk in [&b"GET / HTTP/1.0\r\n\r\n"[..], &[0xff; 64][..], &[0u8; 10][..]] {
        use std::io::Write;
        if let Ok(mut stream) = std::net::TcpStream::connect(format!("127.0.0.1:{port}")) {
            let _ = stream.write_all(junk);
        }
    }
    let alice = Client::connect_with(&address, with(Credentials::plain("alice", "secret"))).await.expect("alice");
    let order: Vec<u32> = alice.read_property("sensor", "order").await.expect("read");
    assert!(order.is_empty(), "the intruder's `record` never ran: {order:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_refuses_other_addresses() {
    // Every 127.x.y.z address is the loopback interface on Linux: a client can connect *from* 127.0.0.2 with
    // libzmq's `tcp://source;destination` form, which makes a second machine out of one.
    let (server, address) = secured_server("allow-list", Auth::address_only().allow_ips(["127.0.0.1"])).await;
    let destination = address.trim_start_matches("tcp://");
    let from = |source: &str| format!("tcp://{source}:0;{destination}");
    let client = Client::connect_with(&from("127.0.0.1"), with(Credentials::None)).await.expect("listed address");
    assert_eq!(client.read_property::<String>("sensor", "serial").await.expect("read"), "SN-001");
    assert_refused!(
        Client::connect_with(&from("127.0.0.2"), with(Credentials::None)).await,
        AuthRefusal::Refused { status: 400 },
        "allow-list"
    );
    assert_eq!(client.read_property::<String>("sensor", "serial").await.expect("still served"), "SN-001");
    server.shutdown().await;

    // With PLAIN, both must hold: the right password from a listed address.
    let auth = users().allow_ips(["127.0.0.0/30", "::1"]);
    let (server, address) = secured_server("plain-allow-list", auth).await;
    let destination = address.trim_start_matches("tcp://");
    let from = |source: &str| format!("tcp://{source}:0;{destination}");
    let alice = || with(Credentials::plain("alice", "secret"));
    let client = Client::connect_with(&from("127.0.0.2"), alice()).await.expect("inside the network");
    assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read"), 1.0);
    assert_refused!(
        Client::connect_with(&from("127.0.0.9"), alice()).await,
        AuthRefusal::Refused { status: 400 },
        "allow-list"
    );
    assert_refused!(
        Client::connect_with(&from("127.0.0.1"), with(Credentials::plain("alice", "nope"))).await,
        AuthRefusal::Refused { status: 400 },
        "wrong username or password"
    );
    server.shutdown().await;

    // An entry that is no address is a clear error at start.
    let err = Server::builder("bad-list")
        .thing(Sensor::new("sensor"))
        .tcp("127.0.0.1:0")
        .authentication(Auth::address_only().allow_ips(["localhost"]))
        .start()
        .await
        .expect_err("refused");
    assert!(err.to_string().contains("`localhost`") && err.to_string().contains("CIDR"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_for_a_server_that_wants_none_fail_clearly() {
    let (server, address) = crate::common::sensor_server(Protocol::Tcp).await;
    assert_refused!(
        Client::connect_with(&address, with(Credentials::plain("alice", "secret"))).await,
        AuthRefusal::MechanismMismatch,
        "different security mechanisms"
    );
    // Over IPC and INPROC, credentials are not used (thingwire authenticates TCP only).
    let (ipc, ipc_address) = crate::common::sensor_server(Protocol::Ipc).await;
    let client = Client::connect_with(&ipc_address, with(Credentials::plain("alice", "secret"))).await.expect("ipc");
    assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read"), 1.0);
    ipc.shutdown().await;
    server.shutdown().await;
}

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas")
}

fn td_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(schema_dir().join("td-json-schema-validation.json")).expect("schema");
    let schema: Value = serde_json::from_str(&text).expect("json");
    jsonschema::draft7::options().should_validate_formats(true).build(&schema).expect("the W3C schema compiles")
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, td: &Value, what: &str) {
    let errors: Vec<String> = validator.iter_errors(td).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} is not a valid TD:\n{}", errors.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_td_says_what_is_required_and_still_validates() {
    let validator = td_validator();
    let server = Server::builder("td-secured")
        .thing(Sensor::new("sensor"))
        .tcp("127.0.0.1:0")
        .ipc_in(crate::common::scratch_dir("td-secured"))
        .authentication(users().allow_ips(["127.0.0.1"]))
        .start()
        .await
        .expect("starts");
    let address = server.address(Protocol::Tcp).expect("tcp").to_owned();
    let client = Client::connect_with(&address, with(Credentials::plain("alice", "secret"))).await.expect("alice");
    let td = client.thing_description("sensor").await.expect("td");
    assert_eq!(td["security"], json!(["basic_sc"]));
    assert_eq!(td["securityDefinitions"]["basic_sc"]["scheme"], "basic");
    let description = td["securityDefinitions"]["basic_sc"]["description"].as_str().expect("described");
    assert!(description.contains("PLAIN") && description.contains("clear text") && description.contains("allow-list"));
    assert!(td["securityDefinitions"].get("nosec_sc").is_none(), "{td}");
    assert_valid(&validator, &td, "the PLAIN server's TCP TD");
    // Over IPC nothing is required, and the TD fetched there says so.
    let ipc = Client::connect(server.address(Protocol::Ipc).expect("ipc")).await.expect("ipc client");
    let td = ipc.thing_description("sensor").await.expect("td");
    assert_eq!(
        (&td["security"], &td["securityDefinitions"]),
        (&json!(["nosec_sc"]), &json!({"nosec_sc": {"scheme": "nosec"}}))
    );
    assert_valid(&validator, &td, "the IPC TD");
    server.shutdown().await;

    // TDs built without a server: every scheme, alone and with IPC forms beside the TCP ones.
    use thingwire::DescribeThing;
    let descriptor = crate::macros::MacroSensor::thing_descriptor();
    let tcp = tcp_addresses("lab-pc", 5555);
    let ipc = BoundAddresses {
        protocol: Protocol::Ipc,
        requests: "ipc:///tmp/lab.ipc".into(),
        events: "ipc:///tmp/lab.event-publisher.ipc".into(),
        request_href: "ipc:///tmp/lab.ipc".into(),
        event_href: "ipc:///tmp/lab.event-publisher.ipc".into(),
    };
    let key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7".to_owned();
    let schemes = [
        SecurityScheme::NoSec { allow_list: true },
        SecurityScheme::Basic { allow_list: false },
        SecurityScheme::Curve { server_key: key.clone(), allow_list: true },
    ];
    for scheme in &schemes {
        for mixed in [false, true] {
            let mut builder = ThingDescription::new(descriptor, "lab", "sensor").served_on(&tcp);
            if mixed {
                builder = builder.served_on(&ipc);
            }
            let td = builder.secured_by(scheme).to_json();
            assert_valid(&validator, &td, &format!("a TD secured by {scheme:?} (with IPC forms: {mixed})"));
            assert_eq!(td["security"], json!([scheme.name()]));
            let forms = td["properties"]["gain"]["forms"].as_array().expect("forms");
            for form in forms {
                let over_ipc = form["href"].as_str().is_some_and(|h| h.starts_with("ipc://"));
                let nosec_override = form.get("security") == Some(&json!(["nosec_sc"]));
                let expected = over_ipc && !matches!(scheme, SecurityScheme::NoSec { .. });
                assert_eq!(nosec_override, expected, "{form}");
            }
            if let SecurityScheme::Curve { .. } = scheme {
                assert_eq!(td["securityDefinitions"]["curve_sc"]["scheme"], "tw:curve");
                assert_eq!(td["securityDefinitions"]["curve_sc"]["tw:serverKey"], key.as_str());
                assert_eq!(td["@context"][2]["tw"], thingwire::td::EXTENSION_CONTEXT, "the prefix is declared");
            }
        }
    }
    // A scheme on a TD with no TCP forms changes nothing: thingwire authenticates TCP only.
    let td = ThingDescription::new(descriptor, "lab", "sensor").served_on(&ipc).secured_by(&schemes[1]).to_json();
    assert_eq!(td["security"], json!(["nosec_sc"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curve_encrypts_and_names_its_clients_where_libzmq_has_it() {
    if !curve_available() {
        // This libzmq has no CURVE (the vendored build lacks libsodium): every way in says so clearly.
        assert_eq!(CurveKeyPair::generate().expect_err("no curve"), AuthError::CurveUnavailable);
        let key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
        let pair = CurveKeyPair::from_z85(key, key).expect("keys are checked without libsodium");
        let err = Auth::curve(pair.clone(), [key]).expect_err("no curve");
        assert!(err.to_string().contains("libsodium") && err.to_string().contains("docs/security.md"), "{err}");
        assert!(matches!(Credentials::curve(key, pair), Err(AuthError::CurveUnavailable)));
        return;
    }
    let server_keys = CurveKeyPair::generate().expect("server keys");
    let client_keys = CurveKeyPair::generate().expect("client keys");
    let stranger = CurveKeyPair::generate().expect("stranger keys");
    let auth = Auth::curve(server_keys.clone(), [client_keys.public_key()]).expect("curve");
    let (server, address) = secured_server("curve", auth).await;
    let credentials = |keys: &CurveKeyPair| Credentials::curve(server_keys.public_key(), keys.clone()).expect("creds");
    let client = Client::connect_with(&address, with(credentials(&client_keys))).await.expect("listed client");
    assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("read"), 1.0);
    let td = client.thing_description("sensor").await.expect("td");
    assert_eq!(td["securityDefinitions"]["curve_sc"]["tw:serverKey"], server_keys.public_key());
    assert_valid(&td_validator(), &td, "the CURVE server's TD");
    let mut ticks = client.subscribe::<Tick>("sensor", "tick").await.expect("subscribe");
    let got = crate::common::first_tick(&client, &mut ticks).await;
    assert!(got.is_some(), "events reach a CURVE subscriber");
    assert_refused!(
        Client::connect_with(&address, with(credentials(&stranger))).await,
        AuthRefusal::Refused { status: 400 },
        "CURVE public key"
    );
    assert_refused!(
        Client::connect_with(&address, with(Credentials::None)).await,
        AuthRefusal::MechanismMismatch,
        "different security mechanisms"
    );
    let wrong_server = Credentials::curve(stranger.public_key(), client_keys.clone()).expect("creds");
    let r = Client::connect_with(
        &address,
        ConnectOptions { handshake_timeout: Duration::from_secs(2), ..with(wrong_server) },
    )
    .await;
    assert!(
        matches!(
            r,
            Err(ClientError::Unauthorized { reason: AuthRefusal::CurveKey, .. } | ClientError::Unreachable { .. })
        ),
        "a client that does not know the server's key gets nowhere: {r:?}"
    );
    assert_eq!(client.read_property::<f64>("sensor", "gain").await.expect("still served"), 1.0);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pickle_and_other_code_carrying_formats_are_never_deserialized() {
    let (server, address) = crate::common::sensor_server(Protocol::Inproc).await;
    let mut c = RawClient::connect(&address, server.id()).await;
    // A pickle whose loading would run `os.system("touch <marker>")`.
    let marker = crate::common::scratch_dir("pickle").join("pwned");
    let pickle = format!("cos\nsystem\n(S'touch {}'\ntR.", marker.display()).into_bytes();
    for content_type in ["application/x-pickle", "application/python-pickle", "application/x-python-serialize"] {
        for (objekt, operation) in [
            ("echo", "invokeaction"),
            ("gain", "writeproperty"),
            ("", "writemultipleproperties"),
            ("add", "invokeaction"),
        ] {
            let h =
                c.header("OPERATION", "sensor", Some(objekt), operation, json!({"payloadContentType": content_type}));
            let r = c.exchange(h, pickle.clone(), vec![]).await;
            r.assert_exception("ValueError", "unsupported payload content type");
            assert_ne!(r.header["payloadContentType"], content_type, "the reply is not pickled either");
        }
    }
    // Frame 4 is opaque bytes whatever its declared type: handed over as they came, never decoded.
    let h = c.header(
        "OPERATION",
        "sensor",
        Some("echo_bytes"),
        "invokeaction",
        json!({"preencodedPayloadContentType": "application/x-pickle"}),
    );
    let r = c.exchange(h, b"{}".to_vec(), pickle.clone()).await;
    assert_eq!(r.kind, "REPLY", "{r:?}");
    assert_eq!(r.preserialized, pickle, "the bytes come back untouched");
    assert!(!marker.exists(), "nothing was executed");
    let r = c.op("sensor", Some("gain"), "readproperty", Value::Null).await;
    assert_eq!((r.kind.as_str(), &r.payload), ("REPLY", &json!(1.0)), "the server still serves");
    server.shutdown().await;
}

/// hololinked's Python client has no option for ZeroMQ security, but it creates every socket from one
/// global pyzmq context, and pyzmq applies a context's default socket options to each new socket: setting
/// `plain_username`/`plain_password` there is enough. Without them the client never gets an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_client_authenticates_through_pyzmq_context_defaults() {
    let (server, address) = secured_server("plain-python", users()).await;
    let python = tokio::task::spawn_blocking(crate::common::python::python).await.expect("venv");
    let script = r#"
import os, sys, threading
threading.Timer(60, lambda: os._exit(3)).start()
import zmq
from hololinked.config import global_config
context = global_config.zmq_context()
context.setsockopt(zmq.PLAIN_USERNAME, b"alice")
context.setsockopt(zmq.PLAIN_PASSWORD, b"secret")
from hololinked.client import ClientFactory
thing = ClientFactory.zmq(server_id=sys.argv[1], thing_id="sensor", access_point=sys.argv[2])
print("serial", thing.serial, flush=True)
thing.gain = 7.5
print("gain", thing.gain, flush=True)
print("add", thing.add(a=2, b=3), flush=True)
os._exit(0)
"#;
    let (id, at) = (server.id().to_owned(), address.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python).arg("-c").arg(script).arg(id).arg(at).output().expect("python runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}\n{stdout}\n{stderr}", output.status);
    assert!(stdout.contains("serial SN-001") && stdout.contains("gain 7.5") && stdout.contains("add 5"), "{stdout}");
    server.shutdown().await;
}
