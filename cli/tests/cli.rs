//! The `thingwire` binary, run as a subprocess against a real server: a Thing written with the macros and
//! served in this process over TCP on loopback, and (when its venv exists) the real hololinked 0.4.2.
//!
//! Every wait is bounded: each run of the binary must finish within [`RUN_LIMIT`].

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingwire::prelude::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The longest one run of the binary may take.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Data of the `tick` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Tick {
    /// The value given to `emit`.
    pub value: i64,
}

/// Output current limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Limits {
    /// Lowest current, A.
    pub min: f64,
    /// Highest current, A.
    pub max: f64,
}

/// A bench power supply, for the CLI tests.
#[thing(title = "Bench supply")]
pub struct Supply {
    id: String,
    /// Output voltage in volts
    #[property(minimum = 0, maximum = 30, observable, default = 5.0)]
    voltage: f64,
    /// Serial number
    #[property(read_only)]
    serial: String,
    /// A free-text label
    #[property]
    label: String,
    /// Current limits
    #[property]
    limits: Limits,
    /// Emitted by `emit`
    #[event]
    tick: Event<Tick>,
}

impl Supply {
    fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            voltage: 5.0,
            serial: "SN-42".into(),
            label: "bench".into(),
            limits: Limits { min: 0.0, max: 1.0 },
            tick: Event::new(),
        }
    }
}

#[thing]
impl Supply {
    /// Describes a channel configuration (an action with arguments of several types).
    #[action]
    fn configure(&self, name: String, channels: Vec<u8>, gain: f64) -> String {
        format!("{name}: channels {channels:?} at gain {gain}")
    }

    /// Adds two numbers.
    #[action]
    fn add(&self, a: f64, b: f64) -> f64 {
        a + b
    }

    /// Sets the label (for oneway calls).
    #[action]
    fn rename(&mut self, label: String) {
        self.label = label;
    }

    /// Always fails with a ValueError.
    #[action]
    fn fail(&self, message: String) -> Result<(), ThingError> {
        Err(ThingError::value_error(message))
    }

    /// Sleeps, outside the Thing's queue.
    #[action(concurrent)]
    async fn sleep(&self, seconds: f64) {
        tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    }

    /// Publishes `tick`.
    #[action]
    fn emit(&mut self, value: i64) -> Result<(), ThingError> {
        self.tick.emit(&Tick { value }).map_err(|e| ThingError::runtime(e.to_string()))
    }
}

/// Serves two supplies, `supply` and `spare`, over TCP on loopback; returns the server and its address.
async fn serve() -> (Server, String) {
    let server = Server::builder("cli-test")
        .thing(Supply::new("supply"))
        .thing(Supply::new("spare"))
        .tcp("127.0.0.1:0")
        .start()
        .await
        .expect("the server starts");
    let address = server.address(thingwire::Protocol::Tcp).expect("bound over tcp").to_owned();
    (server, address)
}

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self
    }

    fn fails_with(&self, code: i32) -> &Self {
        assert_eq!(self.code, Some(code), "expected exit status {code}: {self:#?}");
        assert!(!self.stderr.is_empty(), "a failure says why on stderr: {self:#?}");
        self
    }

    fn stdout_is(&self, expected: &str) -> &Self {
        assert_eq!(self.stdout, expected, "{self:#?}");
        self
    }

    fn stderr_has(&self, part: &str) -> &Self {
        assert!(self.stderr.contains(part), "stderr lacks {part:?}: {self:#?}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:#?}"))
    }
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_thingwire"));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    command
}

/// Runs the binary to completion.
async fn thingwire(args: &[&str]) -> Run {
    let output = tokio::time::timeout(RUN_LIMIT, command(args).output())
        .await
        .unwrap_or_else(|_| panic!("`thingwire {}` did not finish within {RUN_LIMIT:?}", args.join(" ")))
        .expect("the binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs the binary while `poke` is called every 100 ms (at most 200 times) until the binary exits.
async fn thingwire_while<F, Fut>(args: &[&str], mut poke: F) -> Run
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let child = command(args).spawn().expect("the binary runs");
    let mut finished = tokio::spawn(async move { child.wait_with_output().await });
    let mut n = 0;
    let output = loop {
        tokio::select! {
            out = &mut finished => break out.expect("join").expect("output"),
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                assert!(n < 200, "`thingwire {}` did not finish while being poked for 20 s", args.join(" "));
                poke(n).await;
                n += 1;
            }
        }
    };
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `2024-05-01 14:03:07.412` at the start of a line.
fn starts_with_local_timestamp(line: &str) -> bool {
    let b = line.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(10) == Some(&b' ')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && b.get(19) == Some(&b'.')
        && digits(20..23)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_the_things_of_a_thingwire_server() {
    let (server, address) = serve().await;
    thingwire(&["list", &address]).await.ok().stdout_is("spare   Bench supply\nsupply  Bench supply\n");
    let listed = thingwire(&["--json", "list", &address]).await.ok().json();
    assert_eq!(listed[0]["id"], "spare");
    assert_eq!(listed[1]["id"], "supply");
    assert_eq!(listed[1]["title"], "Bench supply");
    // host:port and a bare port are accepted too.
    let host_port = address.strip_prefix("tcp://").expect("tcp address");
    thingwire(&["list", host_port]).await.ok();
    let port = host_port.rsplit_once(':').expect("port").1;
    thingwire(&["list", port]).await.ok();
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn td_prints_the_description_and_a_summary() {
    let (server, address) = serve().await;
    let td = thingwire(&["td", &address, "supply"]).await.ok().json();
    assert_eq!(td["title"], "Bench supply");
    assert_eq!(td["properties"]["voltage"]["maximum"], json!(30));
    assert_eq!(td["properties"]["serial"]["readOnly"], json!(true));
    assert!(td["actions"]["configure"]["input"]["properties"]["channels"].is_object(), "{td}");
    let forms = td["properties"]["voltage"]["forms"].to_string();
    assert!(forms.contains(address.rsplit_once(':').expect("port").1), "forms use the served port: {forms}");

    let summary = thingwire(&["td", &address, "supply", "--summary"]).await.ok().stdout.clone();
    for line in [
        "supply (Bench supply)",
        "voltage: number, 0..30, observable",
        "serial: string, read-only",
        "configure(name: string, channels: array of integer, gain: number) -> string",
        "limits: {min: number, max: number}",
        "tick: {value: integer}",
    ] {
        assert!(summary.contains(line), "summary lacks {line:?}:\n{summary}");
    }
    let model = thingwire(&["--json", "td", &address, "supply", "--model"]).await.ok().json();
    assert_eq!(model["title"], "Bench supply");
    assert!(model["properties"]["voltage"].get("forms").is_none(), "a Thing Model has no forms: {model}");
    thingwire(&["td", &address, "supply", "--protocol", "CAN"])
        .await
        .fails_with(2)
        .stderr_has("unknown protocol `CAN`");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_write_properties() {
    let (server, address) = serve().await;
    thingwire(&["read", &address, "supply", "serial"]).await.ok().stdout_is("SN-42\n");
    thingwire(&["read", &address, "supply", "voltage"]).await.ok().stdout_is("5.0\n");
    thingwire(&["write", &address, "supply", "voltage", "12.5"]).await.ok().stdout_is("supply.voltage = 12.5\n");
    thingwire(&["read", &address, "supply", "voltage"]).await.ok().stdout_is("12.5\n");
    // A string needs no quotes; a number-looking string stays a string; JSON is accepted too.
    thingwire(&["write", &address, "supply", "label", "bench A"]).await.ok();
    thingwire(&["read", &address, "supply", "label"]).await.ok().stdout_is("bench A\n");
    thingwire(&["write", &address, "supply", "label", "42"]).await.ok().stdout_is("supply.label = \"42\"\n");
    thingwire(&["write", &address, "supply", "label", "\"quoted\""]).await.ok();
    thingwire(&["--json", "read", &address, "supply", "label"]).await.ok().stdout_is("\"quoted\"\n");
    // Objects are JSON.
    thingwire(&["write", &address, "supply", "limits", r#"{"min": 0.5, "max": 2}"#]).await.ok();
    let limits = thingwire(&["--json", "read", &address, "supply", "limits"]).await.ok().json();
    assert_eq!(limits, json!({"min": 0.5, "max": 2.0}));
    let written = thingwire(&["--json", "write", &address, "supply", "voltage", "3"]).await.ok().json();
    assert_eq!(written, json!({"thing": "supply", "property": "voltage", "value": 3}));
    // The other Thing is untouched.
    thingwire(&["read", &address, "spare", "voltage"]).await.ok().stdout_is("5.0\n");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_writes_fail_with_the_reason() {
    let (server, address) = serve().await;
    thingwire(&["write", &address, "supply", "voltage", "99"])
        .await
        .fails_with(1)
        .stderr_has("supply.voltage: the server raised ValueError")
        .stderr_has("at most 30");
    thingwire(&["write", &address, "supply", "voltage", "-1"]).await.fails_with(1).stderr_has("ValueError");
    thingwire(&["write", &address, "supply", "voltage", "high"])
        .await
        .fails_with(2)
        .stderr_has("property `voltage` of `supply` expects a number, got `high`");
    thingwire(&["write", &address, "supply", "serial", "SN-1"])
        .await
        .fails_with(1)
        .stderr_has("property `serial` of `supply` is read-only")
        .stderr_has("writable properties of `supply`: voltage, label, limits");
    thingwire(&["write", &address, "supply", "limits", "1,2"]).await.fails_with(2).stderr_has("written as JSON");
    let run = thingwire(&["--json", "write", &address, "supply", "voltage", "99"]).await;
    run.fails_with(1);
    assert_eq!(run.stdout, "", "nothing on stdout when a command fails");
    let error: Value = serde_json::from_str(run.stderr.trim()).expect("a JSON error on stderr");
    assert_eq!(error["error"]["exception"]["type"], "ValueError", "{error}");
    assert_eq!(error["error"]["kind"], "failed");
    thingwire(&["read", &address, "supply", "voltage"]).await.ok().stdout_is("5.0\n");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_reads_arguments_with_the_action_schema() {
    let (server, address) = serve().await;
    thingwire(&["call", &address, "supply", "configure", "name=probe A", "channels=[1, 2]", "gain=2.5"])
        .await
        .ok()
        .stdout_is("probe A: channels [1, 2] at gain 2.5\n");
    // Positional values, in declaration order; a negative number is a value, not a flag.
    thingwire(&["call", &address, "supply", "add", "1.5", "-0.5"]).await.ok().stdout_is("1.0\n");
    thingwire(&["call", &address, "supply", "add", "b=2", "1"]).await.ok().stdout_is("3.0\n");
    thingwire(&["call", &address, "supply", "add", "--args", r#"{"a": 1, "b": 2}"#]).await.ok().stdout_is("3.0\n");
    let result = thingwire(&["--json", "call", &address, "supply", "configure", "name=x", "channels=[3]", "gain=1"])
        .await
        .ok()
        .json();
    assert_eq!(result, json!("x: channels [3] at gain 1"));
    thingwire(&["call", &address, "supply", "emit", "value=1"]).await.ok().stdout_is("supply.emit: done\n");
    let client = Client::connect(&address).await.expect("the test's client connects");
    thingwire(&["call", &address, "supply", "rename", "--oneway", "label=renamed"])
        .await
        .ok()
        .stdout_is("")
        .stderr_has("sent supply.rename (oneway: no reply)");
    thingwire(&["read", &address, "supply", "label"]).await.ok().stdout_is("renamed\n");
    thingwire(&["--json", "call", &address, "supply", "add", "--oneway", "1", "2"]).await.ok().stdout_is("null\n");
    // The server is still in order after oneway calls.
    let sum: f64 = client.invoke("supply", "add", &json!({"a": 1, "b": 1})).await.expect("add");
    assert_eq!(sum, 2.0);

    thingwire(&["call", &address, "supply", "add", "a=one", "b=2"])
        .await
        .fails_with(2)
        .stderr_has("argument `a` of `add` expects a number, got `one`");
    thingwire(&["call", &address, "supply", "add", "a=1"])
        .await
        .fails_with(2)
        .stderr_has("`add` needs argument `b` (arguments: a: number, b: number)");
    thingwire(&["call", &address, "supply", "add", "a=1", "bb=2"])
        .await
        .fails_with(2)
        .stderr_has("`add` has no argument `bb`, did you mean `b`?");
    thingwire(&["call", &address, "supply", "add", "1", "2", "3"]).await.fails_with(2).stderr_has("too many values");
    thingwire(&["call", &address, "supply", "fail", "message=out of paper"])
        .await
        .fails_with(1)
        .stderr_has("supply.fail: the server raised ValueError: out of paper");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_streams_events_with_timestamps() {
    let (server, address) = serve().await;
    let client = Client::connect(&address).await.expect("the test's client connects");
    let run = thingwire_while(&["watch", &address, "supply", "tick", "--count", "2", "--timeout", "20s"], |n| {
        let client = client.clone();
        async move {
            let _: Value = client.invoke("supply", "emit", &json!({"value": n})).await.expect("emit");
        }
    })
    .await;
    run.ok().stderr_has("watching supply/tick at tcp://");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    for line in lines {
        assert!(starts_with_local_timestamp(line), "{line:?}");
        let (_, rest) = line.split_at(23);
        assert!(rest.starts_with("  tick  {\"value\":"), "{line:?}");
    }

    // An observable property, as JSON lines.
    let run = thingwire_while(&["--json", "watch", &address, "supply", "voltage", "-n", "2"], |n| {
        let client = client.clone();
        async move {
            client.write_property("supply", "voltage", &(1.0 + (n % 20) as f64)).await.expect("write");
        }
    })
    .await;
    run.ok();
    let lines: Vec<Value> =
        run.stdout.lines().map(|l| serde_json::from_str(l).expect("each line is a JSON document")).collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    for line in &lines {
        assert_eq!(
            (&line["thing"], &line["event"], &line["property"]),
            (&json!("supply"), &json!("voltage_change_event"), &json!("voltage"))
        );
        assert!(line["data"].is_number(), "{line}");
        let time = line["time"].as_str().expect("a time");
        assert!(time.ends_with('Z') && time.len() == 24, "RFC 3339 UTC with milliseconds: {time}");
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_gives_up_after_its_timeout_and_checks_names() {
    let (server, address) = serve().await;
    thingwire(&["watch", &address, "supply", "tick", "--timeout", "300ms"])
        .await
        .fails_with(3)
        .stderr_has("no `tick` from `supply` within 300ms");
    thingwire(&["watch", &address, "supply", "label"])
        .await
        .fails_with(1)
        .stderr_has("property `label` of `supply` is not observable")
        .stderr_has("observable properties of `supply`: voltage");
    thingwire(&["watch", &address, "supply", "tik"]).await.fails_with(1).stderr_has("did you mean `tick`?");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipc_addresses_work_too() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-ipc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let server =
        Server::builder("cli-ipc").thing(Supply::new("supply")).ipc_in(&dir).start().await.expect("the server starts");
    let address = server.address(thingwire::Protocol::Ipc).expect("bound over ipc").to_owned();
    assert!(address.starts_with("ipc://"), "{address}");
    thingwire(&["read", &address, "supply", "serial"]).await.ok().stdout_is("SN-42\n");
    // A path to the socket file is an IPC address as well.
    let path = address.strip_prefix("ipc://").expect("ipc address");
    thingwire(&["write", path, "supply", "voltage", "7"]).await.ok();
    let td = thingwire(&["td", path, "supply"]).await.ok().json();
    assert!(td["properties"]["voltage"]["forms"][0]["href"].as_str().is_some_and(|h| h.starts_with("ipc://")), "{td}");
    let client = Client::connect(&address).await.expect("the test's client connects");
    let run = thingwire_while(&["watch", &address, "supply", "voltage", "-n", "1", "--timeout", "20s"], |n| {
        let client = client.clone();
        async move {
            client.write_property("supply", "voltage", &(10.0 + (n % 10) as f64)).await.expect("write");
        }
    })
    .await;
    run.ok();
    assert!(run.stdout.contains("  voltage  1"), "{run:#?}");
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_get_suggestions() {
    let (server, address) = serve().await;
    thingwire(&["read", &address, "supply", "voltag"])
        .await
        .fails_with(1)
        .stderr_has("`supply` has no property `voltag`; did you mean `voltage`?")
        .stderr_has("properties of `supply`: voltage, serial, label, limits");
    thingwire(&["read", &address, "supply", "configure"])
        .await
        .fails_with(1)
        .stderr_has("`configure` is an action: use `thingwire call`");
    thingwire(&["call", &address, "supply", "confgure"]).await.fails_with(1).stderr_has("did you mean `configure`?");
    thingwire(&["td", &address, "suply"])
        .await
        .fails_with(1)
        .stderr_has("has no thing `suply`; did you mean `supply`?")
        .stderr_has("things there: spare, supply");
    thingwire(&["read", &address, "nothing-like-it", "voltage"])
        .await
        .fails_with(1)
        .stderr_has("no thing `nothing-like-it`");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_servers_and_bad_addresses() {
    // A TCP port that accepts connections but never speaks ZeroMQ: the handshake cannot succeed.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("tcp://{}", silent.local_addr().expect("addr"));
    let run = thingwire(&["read", &address, "supply", "voltage", "--connect-timeout", "500ms"]).await;
    run.fails_with(3).stderr_has(&format!("could not reach a server at {address}")).stderr_has("within 500ms");
    assert_eq!(run.stdout, "");
    let run = thingwire(&["--json", "list", &address, "--connect-timeout", "300ms"]).await;
    run.fails_with(3);
    let error: Value = serde_json::from_str(run.stderr.trim()).expect("a JSON error on stderr");
    assert_eq!(error["error"]["kind"], "no-answer");
    drop(silent);

    thingwire(&["read", "inproc://lab", "supply", "voltage"]).await.fails_with(2).stderr_has("in-process address");
    thingwire(&["read", "host:notaport", "supply", "voltage"]).await.fails_with(2).stderr_has("not a number");
    thingwire(&["read", "ipc:///nonexistent/lab.ipc", "supply", "voltage"])
        .await
        .fails_with(2)
        .stderr_has("no IPC socket");
    thingwire(&["read", "127.0.0.1:5555", "supply", "voltage", "--timeout", "soon"])
        .await
        .fails_with(2)
        .stderr_has("not a duration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_say_what_to_do() {
    let (server, address) = serve().await;
    thingwire(&["call", &address, "supply", "sleep", "seconds=2", "--timeout", "300ms"])
        .await
        .fails_with(3)
        .stderr_has(&format!("supply.sleep: no reply from {address} within 300ms"))
        .stderr_has("--timeout");
    thingwire(&["call", &address, "supply", "sleep", "2", "--execution-timeout", "200ms"])
        .await
        .fails_with(3)
        .stderr_has("supply.sleep: ran longer than allowed (execution timeout)");
    thingwire(&["call", &address, "supply", "sleep", "0.01", "--timeout", "none"])
        .await
        .ok()
        .stdout_is("supply.sleep: done\n");
    server.shutdown().await;
}

#[test]
fn help_texts_have_examples() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_thingwire")).arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    for part in ["Examples:", "thingwire list", "thingwire watch", "Exit status:", "--json", "--timeout", "http://"] {
        assert!(help.contains(part), "--help lacks {part:?}:\n{help}");
    }
    for (command, part) in [
        ("call", "name=value"),
        ("watch", "--count"),
        ("write", "thingwire write"),
        ("td", "--summary"),
        ("read", "thingwire read"),
        ("list", "thingwire list"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_thingwire"))
            .args([command, "--help"])
            .output()
            .expect("runs");
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Examples:") && text.contains(part), "`{command} --help` lacks {part:?}:\n{text}");
        if command != "list" {
            assert!(text.contains(&format!("thingwire {command} http://")), "`{command} --help` has no HTTP example");
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_thingwire")).arg("raed").output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("read"), "clap suggests the subcommand");
}

// ---- hololinked 0.4.2 --------------------------------------------------------------------------------

/// The venv the workspace's interop tests create (`target/hololinked-venv`).
fn hololinked_python() -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/hololinked-venv/bin/python");
    python.exists().then_some(python)
}

/// A free loopback TCP port (free when asked: another process may take it before it is used).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A free loopback TCP port whose successor is free too (hololinked publishes events on port + 1).
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let a = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = a.local_addr().expect("addr").port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free pair of loopback ports");
}

/// Starts `tests/python/hololinked_server.py`; the process ends when the returned child is dropped (its
/// stdin closes and it is killed).
async fn hololinked_server(python: &PathBuf, thing_id: &str) -> (tokio::process::Child, String) {
    let (child, address, _) = start_hololinked(python, thing_id, false).await;
    (child, address)
}

/// [`hololinked_server`] that also serves the Thing over hololinked's own HTTP server; returns its base URL
/// (`http://127.0.0.1:<port>`) too.
async fn hololinked_http_server(python: &PathBuf, thing_id: &str) -> (tokio::process::Child, String, String) {
    let (child, address, http) = start_hololinked(python, thing_id, true).await;
    (child, address, http.expect("an HTTP port"))
}

async fn start_hololinked(
    python: &PathBuf,
    thing_id: &str,
    http: bool,
) -> (tokio::process::Child, String, Option<String>) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/python/hololinked_server.py");
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port_pair();
        let http_port = http.then(free_port);
        let mut args = vec!["--port".to_owned(), port.to_string(), "--server-id".into(), "cli-holo".into()];
        args.extend(["--thing-id".to_owned(), thing_id.to_owned()]);
        if let Some(p) = http_port {
            args.extend(["--http-port".to_owned(), p.to_string()]);
        }
        let mut child = Command::new(python)
            .arg(&script)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python runs");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.trim() == "READY" {
                    return true;
                }
            }
            false
        })
        .await;
        if ready == Ok(true) {
            return (child, format!("tcp://127.0.0.1:{port}"), http_port.map(|p| format!("http://127.0.0.1:{p}")));
        }
        let _ = child.start_kill();
        let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await;
        last_error = match out {
            Ok(Ok(o)) => String::from_utf8_lossy(&o.stderr).into_owned(),
            _ => "no output".into(),
        };
    }
    panic!("the hololinked server did not start:\n{last_error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_a_real_hololinked_server() {
    let Some(python) = hololinked_python() else {
        eprintln!(
            "SKIPPED drives_a_real_hololinked_server: no venv at target/hololinked-venv \
             (`cargo test -p thingwire-tests` creates it)"
        );
        return;
    };
    let (server, address) = hololinked_server(&python, "interop").await;

    thingwire(&["list", &address])
        .await
        .fails_with(1)
        .stderr_has("cannot list its Things")
        .stderr_has("hololinked servers have no such operation");
    let td = thingwire(&["td", &address, "interop"]).await.ok().json();
    assert_eq!(td["properties"]["gain"]["maximum"], json!(100.0));
    thingwire(&["td", &address, "interop", "--summary"]).await.ok();
    thingwire(&["read", &address, "interop", "serial"]).await.ok().stdout_is("SN-001\n");
    thingwire(&["write", &address, "interop", "gain", "2.5"]).await.ok();
    thingwire(&["read", &address, "interop", "gain"]).await.ok().stdout_is("2.5\n");
    thingwire(&["write", &address, "interop", "mode", "external"]).await.ok();
    thingwire(&["--json", "read", &address, "interop", "mode"]).await.ok().stdout_is("\"external\"\n");
    thingwire(&["write", &address, "interop", "gain", "1000"])
        .await
        .fails_with(1)
        .stderr_has("interop.gain: the server raised ValueError")
        .stderr_has("at most 100");
    thingwire(&["call", &address, "interop", "add", "a=1", "b=2.5"]).await.ok().stdout_is("3.5\n");
    thingwire(&["call", &address, "interop", "fail", "message=boom"])
        .await
        .fails_with(1)
        .stderr_has("interop.fail: the server raised ValueError: boom");
    thingwire(&["-v", "call", &address, "interop", "fail", "message=boom"]).await.fails_with(1).stderr_has("Traceback");
    thingwire(&["read", &address, "interop", "gian"]).await.fails_with(1).stderr_has("did you mean `gain`?");
    thingwire(&["td", &address, "intrope"])
        .await
        .fails_with(1)
        .stderr_has("serves no thing `intrope`")
        .stderr_has("cannot list its Things");

    let run = thingwire_while(&["watch", &address, "interop", "tick", "--count", "2", "--timeout", "20s"], |n| {
        let address = address.clone();
        async move {
            thingwire(&["call", &address, "interop", "emit", &format!("value={n}")]).await.ok();
        }
    })
    .await;
    run.ok();
    assert_eq!(run.stdout.lines().count(), 2, "{run:#?}");
    assert!(run.stdout.lines().all(|l| l.contains("  tick  {\"value\":")), "{run:#?}");
    drop(server);
}

// ---- over HTTP ----------------------------------------------------------------------------------------

/// The venv's python, or `None` after saying the test is skipped.
fn hololinked_python_for(test: &str) -> Option<PathBuf> {
    let python = hololinked_python();
    if python.is_none() {
        eprintln!("SKIPPED {test}: no venv at target/hololinked-venv (`cargo test -p thingwire-tests` creates it)");
    }
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_hololinked_over_http() {
    let Some(python) = hololinked_python_for("drives_hololinked_over_http") else { return };
    let (server, _, base) = hololinked_http_server(&python, "interop").await;
    let a = base.as_str();

    // The description, as hololinked serves it (its hrefs name this machine's host name).
    let td = thingwire(&["td", a, "interop"]).await.ok().json();
    assert_eq!(td["properties"]["gain"]["maximum"], json!(100.0));
    let forms = td["properties"]["gain"]["forms"].to_string();
    assert!(forms.contains("\"htv:methodName\":\"PUT\"") && forms.contains("\"sse\""), "{forms}");
    let summary = thingwire(&["td", a, "interop", "--summary"]).await.ok().stdout.clone();
    for line in ["interop (InteropThing)", "gain: number, 0.1..100.0, observable", "serial: string, read-only"] {
        assert!(summary.contains(line), "summary lacks {line:?}:\n{summary}");
    }
    assert!(summary.contains("add(a: number, b: number) -> number"), "{summary}");
    assert!(summary.contains("tick: {value: integer}"), "{summary}");
    let model = thingwire(&["--json", "td", a, "interop", "--model"]).await.ok().json();
    assert!(model["properties"]["gain"].get("forms").is_none(), "a Thing Model has no forms: {model}");
    thingwire(&["td", a, "interop", "--protocol", "TCP"]).await.fails_with(2).stderr_has("over HTTP");

    // Properties.
    thingwire(&["read", a, "interop", "serial"]).await.ok().stdout_is("SN-001\n");
    thingwire(&["write", a, "interop", "gain", "2.5"]).await.ok().stdout_is("interop.gain = 2.5\n");
    thingwire(&["read", a, "interop", "gain"]).await.ok().stdout_is("2.5\n");
    thingwire(&["write", a, "interop", "mode", "external"]).await.ok();
    thingwire(&["--json", "read", a, "interop", "mode"]).await.ok().stdout_is("\"external\"\n");
    // A refused value: hololinked answers 200 with an exception body.
    thingwire(&["write", a, "interop", "gain", "1000"])
        .await
        .fails_with(1)
        .stderr_has("interop.gain: the server raised ValueError")
        .stderr_has("at most 100");
    let run = thingwire(&["--json", "write", a, "interop", "gain", "1000"]).await;
    run.fails_with(1);
    assert_eq!(run.stdout, "", "nothing on stdout when a command fails");
    let error: Value = serde_json::from_str(run.stderr.trim()).expect("a JSON error on stderr");
    assert_eq!(error["error"]["exception"]["type"], "ValueError", "{error}");
    thingwire(&["read", a, "interop", "gain"]).await.ok().stdout_is("2.5\n");
    thingwire(&["write", a, "interop", "gain", "high"])
        .await
        .fails_with(2)
        .stderr_has("property `gain` of `interop` expects a number, got `high`");
    thingwire(&["write", a, "interop", "serial", "SN-2"])
        .await
        .fails_with(1)
        .stderr_has("property `serial` of `interop` is read-only")
        .stderr_has("writable properties of `interop`: gain, mode");

    // Unknown names: suggestions from the description.
    thingwire(&["read", a, "interop", "gian"])
        .await
        .fails_with(1)
        .stderr_has("`interop` has no property `gian`; did you mean `gain`?");
    thingwire(&["read", a, "interop", "add"])
        .await
        .fails_with(1)
        .stderr_has("`add` is an action: use `thingwire call`");
    thingwire(&["call", a, "interop", "ad", "1", "2"]).await.fails_with(1).stderr_has("did you mean `add`?");
    thingwire(&["td", a, "intrope"])
        .await
        .fails_with(1)
        .stderr_has("serves no thing `intrope`")
        .stderr_has("cannot list its Things over HTTP");
    thingwire(&["list", a]).await.fails_with(2).stderr_has("not supported over HTTP");

    // Actions.
    thingwire(&["call", a, "interop", "add", "a=1", "b=2.5"]).await.ok().stdout_is("3.5\n");
    thingwire(&["call", a, "interop", "add", "1.5", "-0.5"]).await.ok().stdout_is("1.0\n");
    thingwire(&["--json", "call", a, "interop", "add", "--args", r#"{"a": 1, "b": 2}"#]).await.ok().stdout_is("3\n");
    thingwire(&["call", a, "interop", "emit", "value=1"]).await.ok().stdout_is("interop.emit: done\n");
    thingwire(&["call", a, "interop", "add", "a=1"]).await.fails_with(2).stderr_has("`add` needs argument `b`");
    thingwire(&["call", a, "interop", "fail", "message=boom"])
        .await
        .fails_with(1)
        .stderr_has("interop.fail: the server raised ValueError: boom")
        .stderr_has("-v shows the server's traceback");
    thingwire(&["-v", "call", a, "interop", "fail", "message=boom"]).await.fails_with(1).stderr_has("Traceback");
    thingwire(&["call", a, "interop", "add", "--oneway", "1", "2"])
        .await
        .ok()
        .stdout_is("")
        .stderr_has("sent interop.add (oneway: no reply)");
    // hololinked's 408: the server stopped the action.
    thingwire(&["call", a, "interop", "sleep", "seconds=2", "--execution-timeout", "200ms"])
        .await
        .fails_with(3)
        .stderr_has("interop.sleep: ran longer than allowed (execution timeout)");
    thingwire(&["call", a, "interop", "sleep", "seconds=2", "--timeout", "300ms"])
        .await
        .fails_with(3)
        .stderr_has(&format!("interop.sleep: no reply from {a}/interop/sleep within 300ms"));

    // The description's URL is an address too.
    let td_url = format!("{a}/interop/resources/wot-td");
    thingwire(&["read", &td_url, "interop", "serial"]).await.ok().stdout_is("SN-001\n");
    thingwire(&["read", &td_url, "other", "serial"]).await.fails_with(2).stderr_has("the description of `interop`");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_hololinked_over_server_sent_events() {
    let Some(python) = hololinked_python_for("watches_hololinked_over_server_sent_events") else { return };
    let (server, _, base) = hololinked_http_server(&python, "interop").await;
    let a = base.as_str();

    let run = thingwire_while(&["watch", a, "interop", "tick", "--count", "2", "--timeout", "20s"], |n| {
        let a = a.to_owned();
        async move {
            thingwire(&["call", &a, "interop", "emit", &format!("value={n}")]).await.ok();
        }
    })
    .await;
    run.ok().stderr_has(&format!("watching interop/tick at {a}/interop/tick"));
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    for line in lines {
        assert!(starts_with_local_timestamp(line), "{line:?}");
        assert!(line[23..].starts_with("  tick  {\"value\":"), "{line:?}");
    }

    // An observable property's changes, as JSON lines; each write is a new value, or hololinked sends nothing.
    let run = thingwire_while(&["--json", "watch", a, "interop", "gain", "-n", "2", "--timeout", "20s"], |n| {
        let a = a.to_owned();
        async move {
            thingwire(&["write", &a, "interop", "gain", &(1 + n % 20).to_string()]).await.ok();
        }
    })
    .await;
    run.ok();
    let lines: Vec<Value> =
        run.stdout.lines().map(|l| serde_json::from_str(l).expect("each line is a JSON document")).collect();
    assert_eq!(lines.len(), 2, "{run:#?}");
    for line in &lines {
        assert_eq!(
            (&line["thing"], &line["event"], &line["property"]),
            (&json!("interop"), &json!("gain_change_event"), &json!("gain"))
        );
        assert!(line["data"].is_number(), "{line}");
    }

    thingwire(&["watch", a, "interop", "tick", "--timeout", "300ms"])
        .await
        .fails_with(3)
        .stderr_has("no `tick` from `interop` within 300ms");
    thingwire(&["watch", a, "interop", "mode"]).await.fails_with(1).stderr_has("is not observable");
    thingwire(&["watch", a, "interop", "tik"]).await.fails_with(1).stderr_has("did you mean `tick`?");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_http_servers_and_bad_urls() {
    // Nothing listens on the port: the connection is refused.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let run = thingwire(&["read", &closed, "interop", "gain"]).await;
    run.fails_with(3).stderr_has(&format!("could not reach a server at {closed}")).stderr_has("refused");
    assert_eq!(run.stdout, "");
    let run = thingwire(&["--json", "watch", &closed, "interop", "tick"]).await;
    run.fails_with(3);
    let error: Value = serde_json::from_str(run.stderr.trim()).expect("a JSON error on stderr");
    assert_eq!(error["error"]["kind"], "no-answer");

    // A port that accepts connections but never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = format!("http://{}", silent.local_addr().expect("addr"));
    thingwire(&["td", &address, "interop", "--timeout", "500ms"])
        .await
        .fails_with(3)
        .stderr_has("the description of `interop`: no reply from")
        .stderr_has("within 500ms");
    drop(silent);

    thingwire(&["read", "http://0.0.0.0:8080", "interop", "gain"]).await.fails_with(2).stderr_has("try 127.0.0.1");
    thingwire(&["read", "http://lab:notaport", "interop", "gain"]).await.fails_with(2).stderr_has("not a URL");
    thingwire(&["list", "http://127.0.0.1:8080"]).await.fails_with(2).stderr_has("not supported over HTTP");
}

/// Every command against the simulated lab of the examples, as the README's quick start uses them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_against_the_lab() {
    let server =
        thingwire_examples::start_lab(Server::builder("cli-lab").tcp("127.0.0.1:0")).await.expect("lab starts");
    let address = server.address(thingwire::Protocol::Tcp).expect("tcp").to_owned();
    let a = address.as_str();
    let listed = thingwire(&["list", a]).await;
    listed.ok();
    for thing in ["spectrometer", "stage", "thermostat"] {
        assert!(listed.stdout.contains(thing), "{listed:#?}");
    }
    let td = thingwire(&["--json", "td", a, "thermostat"]).await;
    assert_eq!(td.ok().json()["id"], "urn:thingwire:cli-lab:thermostat");
    thingwire(&["write", a, "thermostat", "setpoint", "35"]).await.ok();
    thingwire(&["read", a, "thermostat", "setpoint"]).await.ok().stdout_is("35.0\n");
    thingwire(&["write", a, "thermostat", "setpoint", "400"]).await.fails_with(1).stderr_has("ValueError");
    let moved = thingwire(&["--json", "call", a, "stage", "move_to", "target=2"]).await;
    assert_eq!(moved.ok().json()["reached"], true, "{moved:#?}");
    thingwire(&["read", a, "stage", "positon"]).await.fails_with(1).stderr_has("did you mean `position`");
    let watched = thingwire(&["watch", a, "thermostat", "reading", "--count", "2", "--timeout", "20s"]).await;
    assert_eq!(watched.ok().stdout.lines().filter(|l| starts_with_local_timestamp(l)).count(), 2, "{watched:#?}");
    server.shutdown().await;
}

/// The same commands against thingwire's own HTTP binding: its status codes (400, 404, 405) read as they
/// should, and events come over its Server-Sent Events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_a_thingwire_server_over_http() {
    let server = Server::builder("cli-http")
        .thing(Supply::new("supply"))
        .tcp("127.0.0.1:0")
        .http("127.0.0.1:0")
        .start()
        .await
        .expect("the server starts");
    let base = server.http_base_url().expect("http").to_owned();
    let tcp = server.address(thingwire::Protocol::Tcp).expect("tcp").to_owned();
    thingwire(&["read", &base, "supply", "voltage"]).await.ok().stdout_is("5.0\n");
    thingwire(&["write", &base, "supply", "voltage", "12.5"]).await.ok().stdout_is("supply.voltage = 12.5\n");
    thingwire(&["read", &base, "supply", "voltage"]).await.ok().stdout_is("12.5\n");
    thingwire(&["write", &base, "supply", "voltage", "99"])
        .await
        .fails_with(1)
        .stderr_has("ValueError")
        .stderr_has("at most 30");
    thingwire(&["call", &base, "supply", "add", "a=1", "b=2"]).await.ok().stdout_is("3.0\n");
    thingwire(&["call", &base, "supply", "fail", "message=no sample"]).await.fails_with(1).stderr_has("no sample");
    thingwire(&["read", &base, "supply", "voltag"]).await.fails_with(1).stderr_has("did you mean `voltage`");
    let summary = thingwire(&["td", &base, "supply", "--summary"]).await;
    assert!(summary.ok().stdout.contains("voltage"), "{summary:#?}");
    let client = Client::connect(&tcp).await.expect("the test's client connects");
    let run = thingwire_while(&["watch", &base, "supply", "tick", "--count", "2", "--timeout", "20s"], |n| {
        let client = client.clone();
        async move {
            let _: Value = client.invoke("supply", "emit", &json!({"value": n})).await.expect("emit");
        }
    })
    .await;
    run.ok();
    assert_eq!(run.stdout.lines().count(), 2, "{run:#?}");
    assert!(run.stdout.lines().all(|l| l.contains("tick  {\"value\":")), "{run:#?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_serves_the_things_of_its_backends() {
    let (server, address) = serve().await;
    let dir = std::env::temp_dir().join(format!("thingwire-cli-gateway-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("gateway.toml");
    let port = free_port_pair();
    std::fs::write(
        &config,
        format!("id = \"cli-gw\"\ntcp = \"127.0.0.1:{port}\"\n\n[[backend]]\naddress = \"{address}\"\n"),
    )
    .expect("write the configuration");
    let mut gateway = command(&["gateway", "--config", config.to_str().expect("utf-8 path")]).spawn().expect("runs");
    let front = format!("tcp://127.0.0.1:{port}");
    let mut listed = None;
    for _ in 0..50 {
        let run = thingwire(&["list", &front, "--connect-timeout", "200ms"]).await;
        if run.code == Some(0) {
            listed = Some(run);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = listed.expect("the gateway answers within 5 s");
    listed.stdout_is(&format!("spare   Bench supply  on {address}\nsupply  Bench supply  on {address}\n"));
    let json = thingwire(&["--json", "list", &front]).await.ok().json();
    assert_eq!(json[0]["backend"], address.as_str());
    // Operations go through to the backend, its errors too.
    thingwire(&["write", &front, "supply", "voltage", "7.5"]).await.ok();
    thingwire(&["read", &front, "supply", "voltage"]).await.ok().stdout_is("7.5\n");
    thingwire(&["write", &front, "supply", "voltage", "1000"]).await.fails_with(1).stderr_has("ValueError");
    gateway.kill().await.expect("stop the gateway");
    server.shutdown().await;

    // Configurations that cannot work say why, before anything starts.
    thingwire(&["gateway", "--tcp", "127.0.0.1:0"]).await.fails_with(2).stderr_has("no backend");
    thingwire(&["gateway", "--backend", &address]).await.fails_with(2).stderr_has("serves on nothing");
    std::fs::write(&config, "tcp = \"127.0.0.1:0\"\nbackends = []\n").expect("write");
    thingwire(&["gateway", "--config", config.to_str().expect("utf-8")])
        .await
        .fails_with(2)
        .stderr_has("unknown field `backends`");
    thingwire(&["gateway", "--config", "/nonexistent/gw.toml"]).await.fails_with(2).stderr_has("could not read");
    let nobody = format!("tcp://127.0.0.1:{}", free_port_pair());
    let config_text = format!("tcp = \"127.0.0.1:0\"\n[[backend]]\naddress = \"{nobody}\"\nwait = \"300ms\"\n");
    std::fs::write(&config, config_text).expect("write");
    thingwire(&["gateway", "--config", config.to_str().expect("utf-8")])
        .await
        .fails_with(3)
        .stderr_has("could not connect");
    let _ = std::fs::remove_dir_all(&dir);
}
