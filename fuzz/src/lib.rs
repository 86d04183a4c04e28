//! Fuzz targets for thingwire (run with `cargo fuzz`, see `docs/fuzzing.md`): the Thing they dispatch into
//! and the per-target harness, both shared with the regression tests in `tests/tests/it/fuzz_regressions.rs`.

pub mod harness;
pub mod thing;

use std::cell::RefCell;

use thingwire::Server;

/// The server the `server` target drives: one tokio runtime, created once per process, serving
/// [`thing::FuzzScope`] over inproc, and the DEALER probing it.
///
/// The runtime has a single worker thread with tokio's default 2 MiB stack, so the server's tasks run as in
/// a user's `#[tokio::main]` server (a current-thread runtime would poll them on libFuzzer's 8 MiB main
/// thread and hide stack overflows); the probe runs on the main thread with `block_on`.
pub struct ServerUnderTest {
    runtime: tokio::runtime::Runtime,
    probe: harness::Probe,
    _server: Server,
}

impl ServerUnderTest {
    fn start() -> Self {
        let runtime = fuzz_runtime();
        let (server, probe) = runtime.block_on(async {
            let server = Server::builder(thing::SERVER_ID)
                .thing(thing::FuzzScope::new(thing::THING_ID))
                .inproc()
                .start()
                .await
                .expect("the server starts");
            let address = server.address(thingwire::Protocol::Inproc).expect("inproc address").to_owned();
            let probe = harness::Probe::connect(&address, thing::THING_ID).await;
            (server, probe)
        });
        Self { runtime, probe, _server: server }
    }

    /// Sends one input's frames, then proves the server still answers a normal request.
    pub fn run(&mut self, data: &[u8]) {
        let frames = harness::split_frames(data);
        let probe = &mut self.probe;
        self.runtime.block_on(async {
            probe.send(frames).await;
            probe.still_serves().await;
        });
    }
}

/// The runtime a target's server runs on (see [`ServerUnderTest`]).
fn fuzz_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a tokio runtime")
}

/// The server the `http` target drives: as [`ServerUnderTest`], serving [`thing::FuzzScope`] over HTTP on a
/// loopback port, and the kept-alive connection probing it.
pub struct HttpServerUnderTest {
    runtime: tokio::runtime::Runtime,
    probe: harness::HttpProbe,
    _server: Server,
}

impl HttpServerUnderTest {
    fn start() -> Self {
        let runtime = fuzz_runtime();
        let (server, probe) = runtime.block_on(async {
            let server = Server::builder(thing::SERVER_ID)
                .thing(thing::FuzzScope::new(thing::THING_ID))
                .http("127.0.0.1:0")
                .start()
                .await
                .expect("the server starts");
            let base = server.http_base_url().expect("an HTTP address");
            let address = base.trim_start_matches("http://").parse().expect("host:port");
            (server, harness::HttpProbe::new(address))
        });
        Self { runtime, probe, _server: server }
    }

    /// Sends one input's request and checks its answer, then proves the server still answers a normal one.
    pub fn run(&mut self, data: &[u8]) {
        let probe = &mut self.probe;
        self.runtime.block_on(async {
            probe.send(data).await;
            probe.still_serves().await;
        });
    }
}

thread_local! {
    static SERVER: RefCell<Option<ServerUnderTest>> = const { RefCell::new(None) };
    static HTTP_SERVER: RefCell<Option<HttpServerUnderTest>> = const { RefCell::new(None) };
}

/// Runs `data` through the process's HTTP server under test, starting it on first use.
pub fn with_http_server(data: &[u8]) {
    HTTP_SERVER.with(|cell| {
        let mut slot = cell.borrow_mut();
        slot.get_or_insert_with(HttpServerUnderTest::start).run(data);
    });
}

/// Runs `data` through the process's server under test, starting it on first use.
pub fn with_server(data: &[u8]) {
    SERVER.with(|cell| {
        let mut slot = cell.borrow_mut();
        slot.get_or_insert_with(ServerUnderTest::start).run(data);
    });
}
