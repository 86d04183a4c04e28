//! Persisted properties: a restarted server restores what was written (SQLite, JSON files, PostgreSQL when
//! its binaries are installed), `init` and `commit` behave as hololinked's `db_init` and `db_commit`, a
//! corrupt or mistyped stored value is reported with the property's name while the default is used, a
//! value is in the store when its write is answered, and hololinked 0.4.2 reads what thingwire wrote in one
//! SQLite file and the reverse.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use thingwire::persist::{PersistWarning, PersistWarningKind, Storage};
use thingwire::prelude::*;
use thingwire::transport::Protocol;

use crate::common::scratch_dir;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Pid {
    p: f64,
    i: f64,
    d: f64,
}

/// An oven whose settings survive a restart.
#[thing]
pub struct Oven {
    id: String,
    /// Stored on every write, restored at start.
    #[property(persist, minimum = 0, maximum = 500)]
    setpoint: f64,
    #[property(persist)]
    pid: Pid,
    /// Only restored (provisioned in the database), never stored by writes.
    #[property(persist = "init")]
    calibration: f64,
    /// Read-only for clients, restored from the database.
    #[property(persist = "init", read_only)]
    serial: String,
    /// Stored, never restored.
    #[property(persist = "commit")]
    last_recipe: String,
    #[property]
    plain: u32,
    power: f64,
}

impl Oven {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.into(),
            setpoint: 20.0,
            pid: Pid { p: 1.0, i: 0.0, d: 0.0 },
            calibration: 1.0,
            serial: "unset".into(),
            last_recipe: String::new(),
            plain: 0,
            power: 0.0,
        }
    }
}

#[thing]
impl Oven {
    /// Heater power, through a getter and setter.
    #[property(persist)]
    fn power(&self) -> f64 {
        self.power
    }

    #[property(setter)]
    fn set_power(&mut self, value: f64) {
        self.power = value;
    }

    /// Back to room temperature: a change made by an action is stored too.
    #[action]
    fn cool_down(&mut self) {
        self.setpoint = 25.0;
    }
}

async fn start(storage: Storage) -> Server {
    Server::builder("persist").thing(Oven::new("oven")).storage(storage).in_memory().start().await.expect("start")
}

async fn write(server: &Server, name: &str, value: Value) {
    let answer = server.memory().write("oven", name, &value).await;
    assert!(answer.json::<Value>().is_ok(), "write {name} = {value}: {answer:?}");
}

async fn read(server: &Server, name: &str) -> Value {
    let answer = server.memory().read("oven", name).await;
    answer.json().unwrap_or_else(|e| panic!("read {name}: {e}"))
}

/// Writes through one server, restarts on the same storage, and checks what came back.
async fn restart_restores(make: impl Fn() -> Storage) {
    let server = start(make()).await;
    assert_eq!(read(&server, "setpoint").await, json!(20.0), "the default before anything is stored");
    write(&server, "setpoint", json!(180.5)).await;
    write(&server, "pid", json!({"p": 2.0, "i": 0.5, "d": 0.1})).await;
    write(&server, "power", json!(7.5)).await;
    write(&server, "calibration", json!(9.0)).await;
    write(&server, "last_recipe", json!("bread")).await;
    write(&server, "plain", json!(3)).await;
    assert_eq!(server.persist_warnings(), Vec::<PersistWarning>::new());
    server.shutdown().await;

    let server = start(make()).await;
    assert_eq!(read(&server, "setpoint").await, json!(180.5), "persist: restored");
    assert_eq!(read(&server, "pid").await, json!({"p": 2.0, "i": 0.5, "d": 0.1}), "a struct value");
    assert_eq!(read(&server, "power").await, json!(7.5), "a getter/setter property, restored through its setter");
    assert_eq!(read(&server, "calibration").await, json!(1.0), "init: a write is not stored");
    assert_eq!(read(&server, "last_recipe").await, json!(""), "commit: stored but not restored");
    assert_eq!(read(&server, "plain").await, json!(0), "not persisted");
    // A queued action's change is stored as well.
    let answer = server.memory().invoke("oven", "cool_down", &json!({})).await;
    assert!(answer.error().is_none(), "{answer:?}");
    server.shutdown().await;

    let server = start(make()).await;
    assert_eq!(read(&server, "setpoint").await, json!(25.0), "the action's change was stored");
    assert_eq!(server.persist_warnings(), Vec::<PersistWarning>::new());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_restores_from_sqlite() {
    let dir = scratch_dir("persist-sqlite");
    restart_restores(|| Storage::sqlite(&dir)).await;
    assert!(dir.join("Oven.oven.db").exists(), "one file per Thing, named as hololinked names it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_restores_from_json_files() {
    let dir = scratch_dir("persist-json");
    restart_restores(|| Storage::json_dir(&dir)).await;
    let file: Value = serde_json::from_slice(&std::fs::read(dir.join("oven.json")).expect("the file")).expect("JSON");
    assert_eq!(file["setpoint"], json!(25.0));
    assert_eq!(file["last_recipe"], json!("bread"), "hololinked's flat layout: {file}");
}

/// The rows of `path` for the oven: name to (serialized value, content type).
fn rows(path: &Path) -> std::collections::HashMap<String, (Vec<u8>, String)> {
    let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
    let mut stmt = conn
        .prepare("SELECT name, serialized_value, content_type FROM properties WHERE thing_id = 'oven' AND thing_class = 'Oven'")
        .expect("query");
    stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("read rows")
}

fn set_row(path: &Path, name: &str, value: &[u8]) {
    let conn = rusqlite::Connection::open(path).expect("open the SQLite file");
    let n = conn
        .execute("UPDATE properties SET serialized_value = ?1 WHERE name = ?2", rusqlite::params![value, name])
        .expect("update");
    assert_eq!(n, 1, "row `{name}` exists");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_is_in_the_file_when_its_write_is_answered() {
    let dir = scratch_dir("persist-durable");
    let file = dir.join("Oven.oven.db");
    let server = start(Storage::sqlite(&dir)).await;
    // The first start stored the current values of what is restored, as hololinked does.
    let first = rows(&file);
    assert_eq!(first["setpoint"], (b"20.0".to_vec(), "application/json".to_owned()));
    assert!(first.contains_key("serial") && !first.contains_key("last_recipe"), "{first:?}");
    for value in [1.0, 2.5, 499.0] {
        write(&server, "setpoint", json!(value)).await;
        // Another connection, right after the reply: the commit came before it.
        assert_eq!(rows(&file)["setpoint"].0, serde_json::to_vec(&value).expect("json"));
    }
    write(&server, "last_recipe", json!("pizza")).await;
    assert_eq!(rows(&file)["last_recipe"].0, b"\"pizza\"".to_vec(), "commit: stored on write");
    // Over ZeroMQ as well, from a client.
    server.shutdown().await;
    let dir_ipc = scratch_dir("persist-durable-ipc");
    let server = Server::builder("persist-ipc")
        .thing(Oven::new("oven"))
        .storage(Storage::sqlite(&dir))
        .ipc_in(&dir_ipc)
        .start()
        .await
        .expect("start");
    let client = thingwire::Client::connect(server.address(Protocol::Ipc).expect("ipc")).await.expect("connect");
    client.write_property("oven", "setpoint", &321.0).await.expect("write");
    assert_eq!(rows(&file)["setpoint"].0, b"321.0".to_vec());
    server.shutdown().await;

    let dir = scratch_dir("persist-durable-json");
    let server = start(Storage::json_dir(&dir)).await;
    write(&server, "setpoint", json!(42.0)).await;
    let stored: Value = serde_json::from_slice(&std::fs::read(dir.join("oven.json")).expect("read")).expect("JSON");
    assert_eq!(stored["setpoint"], json!(42.0));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_and_mistyped_values_are_reported_by_name_and_the_defaults_used() {
    let dir = scratch_dir("persist-corrupt");
    let file = dir.join("Oven.oven.db");
    start(Storage::sqlite(&dir)).await.shutdown().await;
    set_row(&file, "setpoint", b"{not json");
    set_row(&file, "pid", b"\"warm\"");
    set_row(&file, "power", b"1e999x");
    let server = start(Storage::sqlite(&dir)).await;
    let warnings = server.persist_warnings();
    let find = |name: &str| {
        warnings.iter().find(|w| w.property == name).unwrap_or_else(|| panic!("a warning for `{name}`: {warnings:?}"))
    };
    assert_eq!(find("setpoint").kind, PersistWarningKind::Corrupt);
    assert!(find("setpoint").message.contains("not valid JSON"), "{}", find("setpoint"));
    assert_eq!(find("pid").kind, PersistWarningKind::Rejected);
    assert!(find("pid").message.contains("\"warm\""), "the message quotes the value: {}", find("pid"));
    assert_eq!(find("power").kind, PersistWarningKind::Corrupt);
    assert!(find("setpoint").to_string().contains("property `setpoint` of `oven`"), "{}", find("setpoint"));
    // The defaults, and the server serves.
    assert_eq!(read(&server, "setpoint").await, json!(20.0));
    assert_eq!(read(&server, "pid").await, json!({"p": 1.0, "i": 0.0, "d": 0.0}));
    // The next write replaces the bad value.
    write(&server, "setpoint", json!(100.0)).await;
    server.shutdown().await;

    // Out of bounds is refused like a client's write; a value from hololinked's pickle serializer is named.
    set_row(&file, "setpoint", b"9000");
    let conn = rusqlite::Connection::open(&file).expect("open");
    conn.execute("UPDATE properties SET content_type = 'x-pickle' WHERE name = 'pid'", []).expect("update");
    drop(conn);
    let server = start(Storage::sqlite(&dir)).await;
    let warnings = server.persist_warnings();
    let setpoint = warnings.iter().find(|w| w.property == "setpoint").expect("setpoint warning");
    assert_eq!(setpoint.kind, PersistWarningKind::Rejected);
    assert!(setpoint.message.contains("500"), "says the bound: {setpoint}");
    let pid = warnings.iter().find(|w| w.property == "pid").expect("pid warning");
    assert_eq!(pid.kind, PersistWarningKind::UnsupportedContentType, "{pid}");
    assert_eq!(read(&server, "setpoint").await, json!(20.0));
    server.shutdown().await;

    // A JSON file that is not JSON: the Thing starts with its defaults, and writes say they were not stored.
    let dir = scratch_dir("persist-corrupt-json");
    std::fs::write(dir.join("oven.json"), b"{\"setpoint\": 1").expect("write");
    let server = start(Storage::json_dir(&dir)).await;
    let warnings = server.persist_warnings();
    assert!(warnings.iter().any(|w| w.kind == PersistWarningKind::Store && w.message.contains("not valid JSON")));
    let answer = server.memory().write("oven", "setpoint", &json!(5.0)).await;
    let error = answer.error().expect("an error");
    assert!(error.message.contains("was set but could not be stored"), "{error:?}");
    assert_eq!(read(&server, "setpoint").await, json!(5.0), "the value is set all the same");
    assert_eq!(std::fs::read(dir.join("oven.json")).expect("read"), b"{\"setpoint\": 1", "the file is kept");
    server.shutdown().await;

    // A mistyped value in a JSON file.
    let dir = scratch_dir("persist-mistyped-json");
    std::fs::write(dir.join("oven.json"), br#"{"setpoint": "hot", "power": 3.0}"#).expect("write");
    let server = start(Storage::json_dir(&dir)).await;
    let warnings = server.persist_warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!((warnings[0].property.as_str(), warnings[0].kind), ("setpoint", PersistWarningKind::Rejected));
    assert_eq!(read(&server, "power").await, json!(3.0), "the others are restored");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_values_are_provisioned_in_the_database_and_commit_values_only_recorded() {
    let dir = scratch_dir("persist-init");
    let file = dir.join("Oven.oven.db");
    start(Storage::sqlite(&dir)).await.shutdown().await;
    // Provisioned by hand (or by a hololinked script): the read-only serial and the calibration.
    set_row(&file, "serial", b"\"SN-0042\"");
    set_row(&file, "calibration", b"1.25");
    let server = start(Storage::sqlite(&dir)).await;
    assert_eq!(read(&server, "serial").await, json!("SN-0042"), "a read-only property is restored");
    assert_eq!(read(&server, "calibration").await, json!(1.25));
    let refused = server.memory().write("oven", "serial", &json!("x")).await;
    assert!(refused.error().is_some_and(|e| e.message.contains("read-only")), "{refused:?}");
    write(&server, "calibration", json!(3.0)).await;
    write(&server, "last_recipe", json!("cake")).await;
    server.shutdown().await;
    let stored = rows(&file);
    assert_eq!(stored["calibration"].0, b"1.25".to_vec(), "init: writes are not stored");
    assert_eq!(stored["last_recipe"].0, b"\"cake\"".to_vec(), "commit: writes are stored");
    let server = start(Storage::sqlite(&dir)).await;
    assert_eq!(read(&server, "calibration").await, json!(1.25));
    assert_eq!(read(&server, "last_recipe").await, json!(""), "commit: not restored");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_opened_is_reported_and_writes_say_so() {
    let dir = scratch_dir("persist-unwritable");
    let blocker = dir.join("not-a-dir");
    std::fs::write(&blocker, b"a file where the folder should be").expect("write");
    let server = start(Storage::sqlite(blocker.join("state"))).await;
    let warnings = server.persist_warnings();
    assert!(warnings.iter().any(|w| w.kind == PersistWarningKind::Store && w.thing_id == "oven"), "{warnings:?}");
    assert_eq!(read(&server, "setpoint").await, json!(20.0), "the server serves with the defaults");
    let answer = server.memory().write("oven", "setpoint", &json!(30.0)).await;
    assert!(answer.error().is_some_and(|e| e.message.contains("not survive a restart")), "{answer:?}");
    write(&server, "plain", json!(1)).await; // an unpersisted property is not affected
    server.shutdown().await;
}

/// Debian's PostgreSQL binaries (`apt-get install -y postgresql`), if installed.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> =
        std::fs::read_dir("/usr/lib/postgresql").ok()?.flatten().map(|e| e.path()).collect();
    versions.sort();
    versions.into_iter().rev().map(|v| v.join("bin")).find(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
}

/// A throwaway PostgreSQL server in a temporary folder on a free port, stopped on drop. It runs as the
/// `postgres` user when the tests run as root (PostgreSQL refuses root).
struct TempPostgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    user: Option<&'static str>,
}

impl TempPostgres {
    fn run(&self, program: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(program);
        let mut command = match self.user {
            Some(user) => {
                let mut c = std::process::Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => std::process::Command::new(&program),
        };
        command.args(args).output().unwrap_or_else(|e| panic!("run {}: {e}", program.display()))
    }

    fn start(bin: PathBuf) -> Self {
        let is_root = std::process::Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let user = is_root.then_some("postgres");
        // A folder the `postgres` user can write, outside target/ (whose parents it may not enter).
        let data = std::env::temp_dir().join(format!("thingwire-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).expect("create the data folder");
        if let Some(user) = user {
            let status = std::process::Command::new("chown").arg(user).arg(&data).status().expect("chown");
            assert!(status.success(), "chown {user} {}", data.display());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
        let this = Self { bin, data, port, user };
        let pgdata = this.data.join("db");
        let out = this.run("initdb", &["-D", pgdata.to_str().expect("utf-8"), "-U", "thingwire", "--auth=trust"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let options = format!("-p {port} -c listen_addresses=127.0.0.1 -k {}", this.data.display());
        let log = this.data.join("log");
        let out = this.run(
            "pg_ctl",
            &["-D", pgdata.to_str().expect("utf-8"), "-l", log.to_str().expect("utf-8"), "-o", &options, "-w", "start"],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        this
    }

    fn url(&self) -> String {
        format!("postgresql://thingwire@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let pgdata = self.data.join("db");
        let _ = self.run("pg_ctl", &["-D", pgdata.to_str().unwrap_or_default(), "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_restores_from_postgresql() {
    let Some(bin) = postgres_bin() else {
        println!("skipped: no PostgreSQL binaries under /usr/lib/postgresql; `apt-get install -y postgresql` runs it");
        return;
    };
    let pg = TempPostgres::start(bin);
    let url = pg.url();
    restart_restores(|| Storage::postgres(url.clone())).await;
    // The rows are hololinked's, and the schema version is recorded.
    let rows = tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
        let version: i32 = client.query_one("SELECT version FROM thingwire_schema", &[]).expect("version").get(0);
        let row = client
            .query_one(
                "SELECT serialized_value, content_type FROM properties WHERE thing_id = 'oven' AND thing_class = 'Oven' \
                 AND name = 'setpoint'",
                &[],
            )
            .expect("row");
        (version, row.get::<_, Vec<u8>>(0), row.get::<_, String>(1))
    })
    .await
    .expect("join");
    assert_eq!(rows, (1, b"25.0".to_vec(), "application/json".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_postgresql_url_is_a_warning_not_a_crash() {
    // Port 1 on loopback: nothing listens.
    let server = start(Storage::postgres("postgresql://nobody:secret@127.0.0.1:1/none")).await;
    let warnings = server.persist_warnings();
    assert!(
        warnings.iter().any(|w| w.kind == PersistWarningKind::Store && w.message.contains("connecting")),
        "{warnings:?}"
    );
    assert!(!warnings.iter().any(|w| w.message.contains("secret")), "no password in messages: {warnings:?}");
    server.shutdown().await;
}

#[test]
fn persisted_properties_are_marked_in_the_td_which_stays_valid() {
    use thingwire::td::{ThingDescription, tcp_addresses};
    let tcp = tcp_addresses("127.0.0.1", 5555);
    let td = ThingDescription::new(Oven::thing_descriptor(), "lab", "oven").served_on(&tcp).to_json();
    let marks: Vec<(String, Value)> = td["properties"]
        .as_object()
        .expect("properties")
        .iter()
        .map(|(name, p)| (name.clone(), p.get("tw:persist").cloned().unwrap_or(Value::Null)))
        .collect();
    let expected = [
        ("setpoint", json!("always")),
        ("pid", json!("always")),
        ("calibration", json!("init")),
        ("serial", json!("init")),
        ("last_recipe", json!("commit")),
        ("plain", Value::Null),
        ("power", json!("always")),
    ];
    assert_eq!(marks, expected.map(|(n, v)| (n.to_owned(), v)));
    assert!(td["@context"].as_array().expect("context").contains(&json!({"tw": thingwire::td::EXTENSION_CONTEXT})));
    crate::td::assert_valid(&crate::td::validator("td-json-schema-validation.json"), &td, "the oven's TD");
    let tm = ThingDescription::new(Oven::thing_descriptor(), "lab", "oven").to_thing_model();
    assert_eq!(tm["properties"]["setpoint"]["tw:persist"], json!("always"));
    crate::td::assert_valid(&crate::td::validator("tm-json-schema-validation.json"), &tm, "the oven's TM");
}

/// Runs `tests/python/hololinked_persist.py <mode> <file>` with hololinked 0.4.2; its last line of output.
async fn hololinked_persist(mode: &'static str, file: &Path) -> Value {
    let python = tokio::task::spawn_blocking(crate::common::python::python).await.expect("venv");
    let script = crate::common::python::script("hololinked_persist.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .arg(mode)
        .arg(file)
        .kill_on_drop(true)
        .output()
        .await
        .expect("run the hololinked script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "hololinked {mode} failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let last =
        stdout.lines().rev().find(|l| l.starts_with('{')).unwrap_or_else(|| panic!("no JSON line in:\n{stdout}"));
    serde_json::from_str(last).expect("the script's JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hololinked_and_thingwire_read_each_others_values_in_one_sqlite_file() {
    let dir = scratch_dir("persist-hololinked");
    let file = dir.join("shared.db");
    let rust = || Storage::sqlite_file(&file);

    // thingwire writes, hololinked reads.
    let server = start(rust()).await;
    write(&server, "setpoint", json!(123.25)).await;
    write(&server, "pid", json!({"p": 2.0, "i": 0.5, "d": 0.125})).await;
    write(&server, "power", json!(7.5)).await;
    write(&server, "last_recipe", json!("bread")).await;
    server.shutdown().await;
    let seen = hololinked_persist("read", &file).await;
    assert_eq!(
        seen,
        json!({
            "setpoint": 123.25,
            "pid": {"p": 2.0, "i": 0.5, "d": 0.125},
            "calibration": 1.0,
            "serial": "unset",
            "last_recipe": "",
            "power": 7.5,
        }),
        "hololinked restores db_persist values and leaves db_commit ones"
    );

    // hololinked writes, thingwire reads.
    hololinked_persist("write", &file).await;
    let server = start(rust()).await;
    assert_eq!(server.persist_warnings(), Vec::<PersistWarning>::new());
    assert_eq!(read(&server, "setpoint").await, json!(77.5));
    assert_eq!(read(&server, "pid").await, json!({"p": 3.0, "i": 0.25, "d": 0.0}));
    assert_eq!(read(&server, "power").await, json!(4.0));
    assert_eq!(read(&server, "last_recipe").await, json!(""), "commit: not restored on either side");
    server.shutdown().await;
    assert_eq!(rows(&file)["last_recipe"].0, b"\"soup\"".to_vec(), "hololinked's db_commit row");
}
