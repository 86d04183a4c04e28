//! The one table, the targets of issue 7 marked met or missed, and `target/bench/*.json`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::events::EventRun;
use crate::sse::SseRun;
use crate::stats::{Mode, Record, size_label};

/// The machine the run happened on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    pub rustc: String,
    pub kernel: String,
    pub python: String,
    /// `/proc/loadavg` when the run started and when it ended: other work on the machine skews every figure.
    pub load_start: String,
    pub load_end: String,
}

impl Machine {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim()))
            .unwrap_or("unknown")
            .to_owned();
        let output = |cmd: &str, args: &[&str]| {
            std::process::Command::new(cmd)
                .args(args)
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
                .unwrap_or_default()
        };
        Self {
            nproc: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            cpu,
            rustc: output("rustc", &["--version"]),
            kernel: output("uname", &["-sr"]),
            python: String::new(),
            load_start: load_average(),
            load_end: String::new(),
        }
    }
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Resident memory of a server process.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryRow {
    pub server: String,
    pub things: usize,
    pub state: String,
    pub rss_kib: u64,
    pub peak_rss_kib: u64,
}

/// The [`Round::op`] of the reads that a client with compact headers turned off makes (hololinked's JSON
/// header and five frames, as to a hololinked server).
pub const JSON_HEADER_OP: &str = "readproperty, JSON header";

/// A pair the targets compare, measured in alternating rounds: `raw[i]` then `thingwire[i]`.
#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub transport: String,
    /// `echo` or `fetch`, against thingwire's readproperty of `Vec<f64>` of the same size; `hololinked`; over
    /// `http`, the baseline server: `axum` or `hololinked`.
    pub raw_op: String,
    /// thingwire's operation: `readproperty`, `readproperty gain`, `invokeaction add`.
    pub op: String,
    pub payload: usize,
    pub mode: Mode,
    pub raw: Vec<Record>,
    pub thingwire: Vec<Record>,
}

impl Round {
    /// The median over the rounds of thingwire's `f` ÷ raw's `f`.
    pub fn median_ratio(&self, f: impl Fn(&Record) -> Option<f64>) -> Option<f64> {
        let ratios: Vec<f64> = self.raw.iter().zip(&self.thingwire).filter_map(|(r, t)| div(f(t), f(r))).collect();
        median(ratios)
    }

    /// The median over the rounds of the baseline's `f` ÷ thingwire's `f`.
    pub fn median_inverse_ratio(&self, f: impl Fn(&Record) -> Option<f64>) -> Option<f64> {
        median(self.raw.iter().zip(&self.thingwire).filter_map(|(r, t)| div(f(r), f(t))).collect())
    }

    /// The median over the rounds of `f` of one side.
    pub fn median_of(side: &[Record], f: impl Fn(&Record) -> Option<f64>) -> Option<f64> {
        median(side.iter().filter_map(f).collect())
    }

    /// Each round's ratio, for the record.
    pub fn ratios(&self, f: impl Fn(&Record) -> Option<f64>) -> Vec<f64> {
        self.raw.iter().zip(&self.thingwire).filter_map(|(r, t)| div(f(t), f(r))).collect()
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Everything one run measured.
#[derive(Debug, Default, Serialize)]
pub struct Results {
    pub machine: Machine,
    pub quick: bool,
    pub records: Vec<Record>,
    pub events: Vec<EventRun>,
    pub memory: Vec<MemoryRow>,
    /// The targets' pairs in alternating rounds.
    pub rounds: Vec<Round>,
    /// Server-Sent Events to one subscriber over HTTP.
    pub sse: Vec<SseRun>,
    /// Whether this build has thingwire's HTTP binding (the bench's feature `http-binding`).
    pub http_binding: bool,
    /// Events through an MQTT broker: thingwire's binding and a bare rumqttc client, alternating.
    pub mqtt: Vec<crate::mqtt::MqttRun>,
    /// Anything that failed or was skipped.
    pub problems: Vec<String>,
    /// The persisted-property section's report lines.
    pub persist: Vec<String>,
    /// The gateway section's report lines.
    pub gateway: Vec<String>,
    /// The scaling section (issue 19): its curves, memory, slow client and burst, and its report lines.
    pub scale: Option<crate::scale::Scale>,
}

impl Results {
    #[allow(clippy::too_many_arguments, reason = "a lookup by every field of a record's key, named at each call")]
    pub fn find(
        &self,
        stack: &str,
        client: &str,
        op: &str,
        data: &str,
        transport: &str,
        payload: usize,
        mode: Mode,
    ) -> Option<&Record> {
        self.records.iter().find(|r| {
            r.stack == stack
                && r.client == client
                && r.op == op
                && r.data == data
                && r.transport == transport
                && r.payload == payload
                && r.mode == mode
        })
    }

    fn raw(&self, op: &str, transport: &str, payload: usize, mode: Mode) -> Option<&Record> {
        self.find("raw", "tmq", op, "bytes", transport, payload, mode)
    }

    fn round(&self, transport: &str, raw_op: &str, payload: usize, mode: Mode) -> Option<&Round> {
        self.rounds.iter().find(|r| {
            r.transport == transport
                && r.raw_op == raw_op
                && r.payload == payload
                && r.mode == mode
                && r.op != JSON_HEADER_OP
        })
    }

    /// The JSON-header twin of [`Results::round`].
    fn json_round(&self, transport: &str, payload: usize, mode: Mode) -> Option<&Round> {
        self.rounds.iter().find(|r| {
            r.transport == transport
                && r.raw_op == "echo"
                && r.payload == payload
                && r.mode == mode
                && r.op == JSON_HEADER_OP
        })
    }

    /// An HTTP record of `stack`, whichever client drove it.
    fn http(&self, stack: &str, op: &str, mode: Mode) -> Option<&Record> {
        self.records.iter().find(|r| r.transport == "http" && r.stack == stack && r.op == op && r.mode == mode)
    }

    fn http_round(&self, base: &str, op: &str, mode: Mode) -> Option<&Round> {
        self.rounds.iter().find(|r| r.transport == "http" && r.raw_op == base && r.op == op && r.mode == mode)
    }
}

/// A target of issue 7.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    /// `None`: not measured in this run.
    pub met: Option<bool>,
}

fn us(x: f64) -> String {
    if x <= 0.0 {
        "-".into()
    } else if x < 10.0 {
        format!("{x:.2}")
    } else if x < 1000.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

fn rate(x: f64) -> String {
    if x <= 0.0 {
        "-".into()
    } else if x >= 10_000.0 {
        format!("{:.1}k", x / 1000.0)
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn ratio(x: Option<f64>) -> String {
    match x {
        Some(x) if x.is_finite() && x > 0.0 => {
            if x >= 100.0 {
                format!("{x:.0}×")
            } else if x >= 10.0 {
                format!("{x:.1}×")
            } else {
                format!("{x:.2}×")
            }
        }
        _ => "-".into(),
    }
}

fn div(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a > 0.0 => Some(a / b),
        _ => None,
    }
}

fn opt(x: Option<f64>, f: fn(f64) -> String) -> String {
    x.map(f).unwrap_or_else(|| "-".into())
}

const HEADERS: [&str; 13] = [
    "transport",
    "what",
    "payload",
    "p50 µs",
    "p99 µs",
    "p50 ratio",
    "p99 ratio",
    "64-in-flight op/s",
    "ratio",
    "8-conn op/s",
    "ratio",
    "srv CPU µs/op seq",
    "srv CPU µs/op 64",
];

struct Table {
    rows: Vec<Vec<String>>,
    /// Section rows: (index before which it goes, text).
    sections: Vec<(usize, String)>,
}

impl Table {
    fn section(&mut self, text: String) {
        self.sections.push((self.rows.len(), text));
    }

    fn render(&self) -> String {
        let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let total: usize = widths.iter().sum::<usize>() + 3 * (widths.len() - 1);
        let line = |cells: &[String]| {
            let mut s = String::new();
            for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
                let pad = w - cell.chars().count();
                if i > 0 {
                    s.push_str(" │ ");
                }
                // Text columns left, numbers right.
                if i <= 1 {
                    s.push_str(cell);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(cell);
                }
            }
            s.trim_end().to_owned()
        };
        let mut out = String::new();
        let headers: Vec<String> = HEADERS.iter().map(|h| (*h).to_owned()).collect();
        let _ = writeln!(out, "{}", line(&headers));
        let _ = writeln!(out, "{}", "─".repeat(total));
        let mut sections = self.sections.iter().peekable();
        for (i, row) in self.rows.iter().enumerate() {
            while let Some((_, text)) = sections.next_if(|(at, _)| *at == i) {
                let _ = writeln!(out, "── {text} {}", "─".repeat(total.saturating_sub(text.chars().count() + 4)));
            }
            let _ = writeln!(out, "{}", line(row));
        }
        out
    }
}

/// The one table.
pub fn table(results: &Results) -> String {
    let mut t = Table { rows: Vec::new(), sections: Vec::new() };
    let transports = ["inproc", "ipc", "tcp"];
    let cpu = |r: Option<&Record>| opt(r.and_then(|r| r.server_cpu_us_per_op), us);
    // Raw baseline and thingwire, per transport.
    for transport in transports {
        let raw_rows: Vec<&Record> =
            results.records.iter().filter(|r| r.stack == "raw" && r.transport == transport).collect();
        let tw_rows: Vec<&Record> = results
            .records
            .iter()
            .filter(|r| {
                r.stack == "thingwire" && r.transport == transport && !r.op.contains("gain") && !r.op.contains(" add")
            })
            .collect();
        if raw_rows.is_empty() && tw_rows.is_empty() {
            continue;
        }
        t.section(format!(
            "{transport}: raw tmq DEALER↔ROUTER, then thingwire (ratios: thingwire / raw echo of the same payload; raw fetch / raw echo)"
        ));
        let mut keys: Vec<(String, String, usize)> = Vec::new();
        for r in raw_rows.iter().chain(&tw_rows) {
            let k = (format!("{} {}", r.stack, r.op), r.data.clone(), r.payload);
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for (what, data, payload) in keys {
            let stack = what.split(' ').next().unwrap_or("");
            let op = &what[stack.len() + 1..];
            let client = if stack == "raw" { "tmq" } else { "rust" };
            let get = |mode| results.find(stack, client, op, &data, transport, payload, mode);
            let base = |mode| results.raw("echo", transport, payload, mode);
            let (seq, pipe, conn) = (get(Mode::Sequential), get(Mode::Pipelined64), get(Mode::Conn8));
            let is_echo_baseline = stack == "raw" && op == "echo";
            let r = |a: Option<&Record>, b: Option<&Record>, f: fn(&Record) -> f64| {
                if is_echo_baseline { None } else { div(a.map(f), b.map(f)) }
            };
            let label = if stack == "raw" { format!("raw {op}") } else { format!("{op} {data}") };
            t.rows.push(vec![
                transport.to_owned(),
                label,
                size_label(payload),
                opt(seq.map(|r| r.latency.p50_us), us),
                opt(seq.map(|r| r.latency.p99_us), us),
                ratio(r(seq, base(Mode::Sequential), |r| r.latency.p50_us)),
                ratio(r(seq, base(Mode::Sequential), |r| r.latency.p99_us)),
                opt(pipe.map(|r| r.ops_per_sec), rate),
                ratio(r(pipe, base(Mode::Pipelined64), |r| r.ops_per_sec)),
                opt(conn.map(|r| r.ops_per_sec), rate),
                ratio(r(conn, base(Mode::Conn8), |r| r.ops_per_sec)),
                cpu(seq),
                cpu(pipe),
            ]);
        }
    }
    // hololinked comparison.
    let holo: Vec<&Record> = results
        .records
        .iter()
        .filter(|r| r.transport != "http" && (r.op.contains("gain") || r.op.contains(" add")))
        .collect();
    if !holo.is_empty() {
        t.section(
            "tcp, the same operations on both servers (ratios: hololinked / thingwire for latency, thingwire / hololinked for throughput)"
                .into(),
        );
        let combos = [
            ("thingwire", "rust", "thingwire srv, Rust client"),
            ("hololinked", "rust", "hololinked srv, Rust client"),
            ("thingwire", "python", "thingwire srv, Python client"),
            ("hololinked", "python", "hololinked srv, Python client"),
        ];
        for op in ["readproperty gain", "writeproperty gain", "invokeaction add"] {
            for (stack, client, label) in combos {
                let get = |s: &str, c: &str, mode| results.find(s, c, op, "f64", "tcp", 8, mode);
                let seq = get(stack, client, Mode::Sequential);
                let pipe = get(stack, client, Mode::Pipelined64);
                if seq.is_none() && pipe.is_none() {
                    continue;
                }
                // hololinked rows compare with thingwire driven by the same client.
                let (rs50, rs99, rpipe) = if stack == "hololinked" {
                    let tw_seq = get("thingwire", client, Mode::Sequential);
                    let tw_pipe = get("thingwire", client, Mode::Pipelined64);
                    (
                        div(seq.map(|r| r.latency.p50_us), tw_seq.map(|r| r.latency.p50_us)),
                        div(seq.map(|r| r.latency.p99_us), tw_seq.map(|r| r.latency.p99_us)),
                        div(tw_pipe.map(|r| r.ops_per_sec), pipe.map(|r| r.ops_per_sec)),
                    )
                } else {
                    (None, None, None)
                };
                t.rows.push(vec![
                    "tcp".into(),
                    format!("{op}: {label}"),
                    "8 B".into(),
                    opt(seq.map(|r| r.latency.p50_us), us),
                    opt(seq.map(|r| r.latency.p99_us), us),
                    ratio(rs50),
                    ratio(rs99),
                    opt(pipe.map(|r| r.ops_per_sec), rate),
                    ratio(rpipe),
                    "-".into(),
                    "-".into(),
                    cpu(seq),
                    cpu(pipe),
                ]);
            }
        }
    }
    // The targets' pairs, in alternating rounds.
    if results.rounds.iter().any(|r| r.transport != "http") {
        let n = results.rounds.iter().filter(|r| r.transport != "http").map(|r| r.raw.len()).max().unwrap_or(0);
        t.section(format!(
            "the targets' pairs again, {n} alternating rounds: medians of thingwire's figures and of each round's ratio (hololinked rows: ratios as in the hololinked section)"
        ));
        for round in results.rounds.iter().filter(|r| r.transport != "http") {
            let med = |f: fn(&Record) -> Option<f64>| Round::median_of(&round.thingwire, f);
            let seq = round.mode == Mode::Sequential;
            let holo = round.raw_op == "hololinked";
            let cpu = med(|r| r.server_cpu_us_per_op);
            // Latency ratios: thingwire / raw, but hololinked / thingwire.
            let lat = |f: fn(&Record) -> Option<f64>| {
                if !seq {
                    "-".to_owned()
                } else if holo {
                    ratio(round.median_inverse_ratio(f))
                } else {
                    ratio(round.median_ratio(f))
                }
            };
            let what = if holo {
                format!("readproperty gain, thingwire srv vs hololinked srv (Rust client), {}", round.mode.label())
            } else {
                let op = round.op.replacen("readproperty", "readproperty Vec<f64>", 1);
                format!("{op} vs raw {}, {}", round.raw_op, round.mode.label())
            };
            t.rows.push(vec![
                round.transport.clone(),
                what,
                size_label(round.payload),
                if seq { opt(med(|r| Some(r.latency.p50_us)), us) } else { "-".into() },
                if seq { opt(med(|r| Some(r.latency.p99_us)), us) } else { "-".into() },
                lat(|r| Some(r.latency.p50_us)),
                lat(|r| Some(r.latency.p99_us)),
                if seq { "-".into() } else { opt(med(|r| Some(r.ops_per_sec)), rate) },
                if seq { "-".into() } else { ratio(round.median_ratio(|r| Some(r.ops_per_sec))) },
                "-".into(),
                "-".into(),
                if seq { opt(cpu, us) } else { "-".into() },
                if seq { "-".into() } else { opt(cpu, us) },
            ]);
        }
    }
    // Events.
    if !results.events.is_empty() {
        t.section(
            "ipc events to one subscriber (p50/p99: emit → receipt; 64-in-flight column: events received/s)".into(),
        );
        for e in &results.events {
            t.rows.push(vec![
                "ipc".into(),
                format!(
                    "events {}, PUB HWM {}: {} sent, {} received, {} lost",
                    e.name, e.high_water_mark, e.emitted, e.received, e.lost
                ),
                "Tick".into(),
                us(e.latency.p50_us),
                us(e.latency.p99_us),
                "-".into(),
                "-".into(),
                rate(e.receive_rate),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
    }
    if !results.memory.is_empty() {
        t.section("server memory (resident set size)".into());
        for m in &results.memory {
            let mut row = vec![
                "ipc".into(),
                format!(
                    "RSS {:.1} MiB (peak {:.1}): {}, {} Thing{}, {}",
                    m.rss_kib as f64 / 1024.0,
                    m.peak_rss_kib as f64 / 1024.0,
                    m.server,
                    m.things,
                    if m.things == 1 { "" } else { "s" },
                    m.state,
                ),
            ];
            row.extend(std::iter::repeat_n("-".to_owned(), HEADERS.len() - 2));
            if m.server.starts_with("hololinked") {
                row[0] = "tcp".into();
            }
            t.rows.push(row);
        }
    }
    http_table(results, &mut t);
    t.render()
}

/// The HTTP section's rows: each server against the bare axum handler, the alternating rounds, SSE.
fn http_table(results: &Results, t: &mut Table) {
    let cpu = |r: Option<&Record>| opt(r.and_then(|r| r.server_cpu_us_per_op), us);
    let client = results.records.iter().find(|r| r.transport == "http").map(|r| r.client.clone());
    if let Some(client) = &client {
        t.section(format!(
            "http: HTTP/1.1 keep-alive over loopback tcp, client {client} (ratios: server / bare axum handler; 64-in-flight columns: 64 connections, one request in flight on each)"
        ));
        for op in ["readproperty gain", "invokeaction add"] {
            for (stack, label) in [
                ("axum", "bare axum handler"),
                ("thingwire", "thingwire"),
                ("hololinked", "hololinked 0.4.2 (tornado)"),
            ] {
                let (seq, conn) = (results.http(stack, op, Mode::Sequential), results.http(stack, op, Mode::Conn64));
                if seq.is_none() && conn.is_none() {
                    continue;
                }
                let base = |mode| if stack == "axum" { None } else { results.http("axum", op, mode) };
                let (bseq, bconn) = (base(Mode::Sequential), base(Mode::Conn64));
                let p = |r: Option<&Record>, f: fn(&Record) -> f64| r.map(f);
                let what = match conn {
                    Some(c) => format!(
                        "{op}: {label}; 64 connections p50/p99 {}/{} µs",
                        us(c.latency.p50_us),
                        us(c.latency.p99_us)
                    ),
                    None => format!("{op}: {label}"),
                };
                t.rows.push(vec![
                    "http".into(),
                    what,
                    "8 B".into(),
                    opt(p(seq, |r| r.latency.p50_us), us),
                    opt(p(seq, |r| r.latency.p99_us), us),
                    ratio(div(p(seq, |r| r.latency.p50_us), p(bseq, |r| r.latency.p50_us))),
                    ratio(div(p(seq, |r| r.latency.p99_us), p(bseq, |r| r.latency.p99_us))),
                    opt(p(conn, |r| r.ops_per_sec), rate),
                    ratio(div(p(conn, |r| r.ops_per_sec), p(bconn, |r| r.ops_per_sec))),
                    "-".into(),
                    "-".into(),
                    cpu(seq),
                    cpu(conn),
                ]);
            }
        }
    }
    let rounds: Vec<&Round> = results.rounds.iter().filter(|r| r.transport == "http").collect();
    if !rounds.is_empty() {
        let n = rounds.iter().map(|r| r.raw.len()).max().unwrap_or(0);
        t.section(format!(
            "http: the targets' pairs again, {n} alternating rounds (medians of thingwire's figures and of each round's ratio thingwire / baseline)"
        ));
        for round in rounds {
            let med = |f: fn(&Record) -> Option<f64>| Round::median_of(&round.thingwire, f);
            let seq = round.mode == Mode::Sequential;
            let base = if round.raw_op == "axum" { "bare axum handler" } else { "hololinked's HTTP server" };
            let dash = || "-".to_owned();
            t.rows.push(vec![
                "http".into(),
                format!("{}: thingwire vs {base}, {}", round.op, round.mode.label()),
                "8 B".into(),
                if seq { opt(med(|r| Some(r.latency.p50_us)), us) } else { dash() },
                if seq { opt(med(|r| Some(r.latency.p99_us)), us) } else { dash() },
                if seq { ratio(round.median_ratio(|r| Some(r.latency.p50_us))) } else { dash() },
                if seq { ratio(round.median_ratio(|r| Some(r.latency.p99_us))) } else { dash() },
                if seq { dash() } else { opt(med(|r| Some(r.ops_per_sec)), rate) },
                if seq { dash() } else { ratio(round.median_ratio(|r| Some(r.ops_per_sec))) },
                dash(),
                dash(),
                if seq { opt(med(|r| r.server_cpu_us_per_op), us) } else { dash() },
                if seq { dash() } else { opt(med(|r| r.server_cpu_us_per_op), us) },
            ]);
        }
    }
    if !results.sse.is_empty() {
        t.section(
            "http: Server-Sent Events to one subscriber (p50/p99: emit → receipt; 64-in-flight column: events received/s)"
                .into(),
        );
        for e in &results.sse {
            let mut row = vec![
                "http".into(),
                format!(
                    "SSE {} {}: {} sent at {}/s, {} received, {} lost{}{}",
                    e.stack,
                    e.name,
                    e.emitted,
                    rate(e.emit_rate),
                    e.received,
                    e.lost,
                    if e.out_of_order > 0 { format!(", {} out of order", e.out_of_order) } else { String::new() },
                    if e.server_dropped > 0 {
                        format!(" (server: {} dropped)", e.server_dropped)
                    } else {
                        String::new()
                    }
                ),
                "Tick".into(),
                us(e.latency.p50_us),
                us(e.latency.p99_us),
                "-".into(),
                "-".into(),
                rate(e.receive_rate),
            ];
            row.extend(std::iter::repeat_n("-".to_owned(), HEADERS.len() - row.len()));
            t.rows.push(row);
        }
    }
}

/// The targets of issue 7, each marked met or missed.
pub fn targets(results: &Results) -> Vec<Target> {
    let mut out = Vec::new();
    let small = 64;
    let mib = 1 << 20;
    let p50 = |r: &Record| Some(r.latency.p50_us);
    let p99 = |r: &Record| Some(r.latency.p99_us);
    let tput = |r: &Record| Some(r.ops_per_sec);
    let cpu = |r: &Record| r.server_cpu_us_per_op;
    for transport in ["inproc", "ipc", "tcp"] {
        let seq = (transport, "echo", small, Mode::Sequential);
        out.push(pair_target(
            results,
            seq,
            p50,
            "µs",
            |x| x <= 1.3,
            &format!("{transport}: sequential readproperty p50 ≤ 1.3 × raw echo p50 (64 B)"),
        ));
        out.push(pair_target(
            results,
            seq,
            p99,
            "µs",
            |x| x <= 1.5,
            &format!("{transport}: sequential readproperty p99 ≤ 1.5 × raw echo p99 (64 B)"),
        ));
        out.push(pair_target(
            results,
            (transport, "echo", small, Mode::Pipelined64),
            tput,
            "op/s",
            |x| x >= 0.6,
            &format!("{transport}: 64 in flight readproperty ≥ 60 % of raw pipelined echo throughput (64 B)"),
        ));
    }
    for transport in ["ipc", "tcp"] {
        for mode in [Mode::Sequential, Mode::Pipelined64] {
            out.push(pair_target(
                results,
                (transport, "echo", small, mode),
                cpu,
                "µs",
                |x| x <= 1.5,
                &format!(
                    "{transport}: server CPU per readproperty ≤ 1.5 × raw echo server's per message ({})",
                    mode.label()
                ),
            ));
        }
    }
    let mut push = |target: String, measured: String, met: Option<bool>| out.push(Target { target, measured, met });
    let idle = results.memory.iter().find(|m| m.server == "thingwire" && m.things == 10 && m.state == "idle");
    push(
        "idle RSS ≤ 15 MiB with 10 Things".into(),
        idle.map(|m| format!("{:.1} MiB", m.rss_kib as f64 / 1024.0)).unwrap_or_else(|| "-".into()),
        idle.map(|m| m.rss_kib <= 15 * 1024),
    );
    let get = |stack: &str, mode| results.find(stack, "rust", "readproperty gain", "f64", "tcp", 8, mode);
    let holo_round = |mode| results.round("tcp", "hololinked", 8, mode);
    let lat = |r: &Record| Some(r.latency.p50_us);
    let tput = |r: &Record| Some(r.ops_per_sec);
    let (measured, r) = match holo_round(Mode::Sequential) {
        Some(round) => {
            let r = round.median_inverse_ratio(lat);
            let each: Vec<String> =
                round.raw.iter().zip(&round.thingwire).map(|(h, t)| ratio(div(lat(h), lat(t)))).collect();
            let measured = format!(
                "{} vs {} µs = {} (median of {} alternating rounds: {})",
                opt(Round::median_of(&round.raw, lat), us),
                opt(Round::median_of(&round.thingwire, lat), us),
                ratio(r),
                round.raw.len(),
                each.join(", ")
            );
            (measured, r)
        }
        None => {
            let h = get("hololinked", Mode::Sequential).and_then(lat);
            let t = get("thingwire", Mode::Sequential).and_then(lat);
            (format!("{} vs {} µs = {}", opt(h, us), opt(t, us), ratio(div(h, t))), div(h, t))
        }
    };
    push(
        "vs the hololinked 0.4.2 server (same Rust client, tcp): ≥ 4 × lower sequential readproperty p50".into(),
        measured,
        r.map(|x| x >= 4.0),
    );
    let (measured, r) = match holo_round(Mode::Pipelined64) {
        Some(round) => {
            let r = round.median_ratio(tput);
            let each: Vec<String> = round.ratios(tput).into_iter().map(|x| ratio(Some(x))).collect();
            let measured = format!(
                "{} vs {} op/s = {} (median of {} alternating rounds: {})",
                opt(Round::median_of(&round.thingwire, tput), rate),
                opt(Round::median_of(&round.raw, tput), rate),
                ratio(r),
                round.raw.len(),
                each.join(", ")
            );
            (measured, r)
        }
        None => {
            let t = get("thingwire", Mode::Pipelined64).and_then(tput);
            let h = get("hololinked", Mode::Pipelined64).and_then(tput);
            (format!("{} vs {} op/s = {}", opt(t, rate), opt(h, rate), ratio(div(t, h))), div(t, h))
        }
    };
    push(
        "vs the hololinked 0.4.2 server (same Rust client, tcp): ≥ 50 × pipelined readproperty throughput".into(),
        measured,
        r.map(|x| x >= 50.0),
    );
    let burst =
        results.events.iter().find(|e| e.name == "burst" && e.lost == 0 && e.high_water_mark as u64 >= e.emitted);
    let any_burst =
        burst.or_else(|| results.events.iter().find(|e| e.name == "burst" && e.high_water_mark as u64 >= e.emitted));
    push(
        "events: ≥ 200 k events/s to one subscriber over ipc".into(),
        any_burst.map(|e| format!("{} events/s received", rate(e.receive_rate))).unwrap_or_else(|| "-".into()),
        any_burst.map(|e| e.receive_rate >= 200_000.0),
    );
    push(
        "events: none lost when the high-water mark allows".into(),
        any_burst.map(|e| format!("{} of {} received", e.received, e.emitted)).unwrap_or_else(|| "-".into()),
        any_burst.map(|e| e.lost == 0),
    );
    for transport in ["inproc", "ipc", "tcp"] {
        out.push(pair_target(
            results,
            (transport, "fetch", mib, Mode::Sequential),
            |r: &Record| Some(r.latency.p50_us),
            "µs",
            |x| x <= 2.0,
            &format!("{transport}: 1 MiB Vec<f64> readproperty p50 ≤ 2 × raw transfer of 1 MiB (raw fetch p50)"),
        ));
    }
    issue19_targets(results, &mut out);
    http_targets(results, &mut out);
    out
}

/// The targets of issue 19 for two thingwire peers (compact headers), and the JSON header's figures beside
/// them: the same reads with hololinked's header, against the same raw rounds.
fn issue19_targets(results: &Results, out: &mut Vec<Target>) {
    let small = 64;
    let p50 = |r: &Record| Some(r.latency.p50_us);
    let tput = |r: &Record| Some(r.ops_per_sec);
    let cpu = |r: &Record| r.server_cpu_us_per_op;
    for transport in ["inproc", "ipc", "tcp"] {
        let share = if transport == "inproc" { 0.5 } else { 0.8 };
        out.push(pair_target(
            results,
            (transport, "echo", small, Mode::Pipelined64),
            tput,
            "op/s",
            move |x| x >= share,
            &format!(
                "issue 19, {transport}: thingwire peers, 64 in flight ≥ {:.0} % of raw pipelined echo (64 B)",
                share * 100.0
            ),
        ));
        out.push(pair_target(
            results,
            (transport, "echo", small, Mode::Sequential),
            p50,
            "µs",
            |x| x <= 1.15,
            &format!("issue 19, {transport}: thingwire peers, sequential p50 ≤ 1.15 × raw echo (64 B)"),
        ));
        if transport != "inproc" {
            out.push(pair_target(
                results,
                (transport, "echo", small, Mode::Pipelined64),
                cpu,
                "µs",
                |x| x <= 1.3,
                &format!("issue 19, {transport}: thingwire peers, server CPU per pipelined read ≤ 1.3 × raw echo's"),
            ));
        }
        for (mode, what, metric) in [
            (Mode::Pipelined64, "64 in flight, share of raw", tput as fn(&Record) -> Option<f64>),
            (Mode::Sequential, "sequential p50 vs raw", p50),
        ] {
            let Some(round) = results.json_round(transport, small, mode) else { continue };
            let r = round.median_ratio(metric);
            let shown = |r: Option<f64>| match mode {
                Mode::Pipelined64 => r.map(|f| format!("{:.0} %", f * 100.0)).unwrap_or_else(|| "-".into()),
                _ => ratio(r),
            };
            let each: Vec<String> = round.ratios(metric).into_iter().map(|x| shown(Some(x))).collect();
            out.push(Target {
                target: format!("issue 19, {transport}: JSON headers (for the record), {what} (64 B)"),
                measured: format!("{} (median of {} rounds: {})", shown(r), round.raw.len(), each.join(", ")),
                met: None,
            });
        }
    }
}

/// The HTTP binding's targets. Without the binding they print as not measured.
fn http_targets(results: &Results, out: &mut Vec<Target>) {
    let p50 = |r: &Record| Some(r.latency.p50_us);
    let tput = |r: &Record| Some(r.ops_per_sec);
    for (op, short) in [("readproperty gain", "readproperty"), ("invokeaction add", "invokeaction")] {
        out.push(http_pair_target(
            results,
            ("axum", op, Mode::Sequential),
            p50,
            "µs",
            |x| x <= 1.3,
            &format!("http: sequential {short} p50 ≤ 1.3 × bare axum handler"),
        ));
        out.push(http_pair_target(
            results,
            ("hololinked", op, Mode::Conn64),
            tput,
            "op/s",
            |x| x >= 20.0,
            &format!("http: 64-connection {short} throughput ≥ 20 × hololinked's HTTP server"),
        ));
    }
    // Read from the paced run (111 k/s, which a subscriber that keeps up receives whole); the burst, emitted
    // faster than any subscriber reads, is shown for its ceiling and the server's buffer.
    let target = "http: ≥ 100 k events/s to one SSE subscriber, none lost".to_owned();
    let runs: Vec<&SseRun> = results.sse.iter().filter(|e| e.stack == "thingwire").collect();
    let paced = runs.iter().find(|e| e.name.starts_with("paced"));
    let (measured, met) = match paced {
        _ if !results.http_binding => ("not measured (HTTP binding missing)".to_owned(), None),
        None => ("-".to_owned(), None),
        Some(p) => {
            let burst = runs
                .iter()
                .find(|e| e.name == "burst")
                .map(|b| {
                    format!(
                        "; burst (emitted at {}/s): {} received at {}/s, {} lost",
                        rate(b.emit_rate),
                        b.received,
                        rate(b.receive_rate),
                        b.lost
                    )
                })
                .unwrap_or_default();
            (
                format!(
                    "{} events/s received, {} of {} ({} emitted at {}/s){burst}",
                    rate(p.receive_rate),
                    p.received,
                    p.emitted,
                    p.name,
                    rate(p.emit_rate)
                ),
                Some(p.receive_rate >= 100_000.0 && p.lost == 0),
            )
        }
    };
    out.push(Target { target, measured, met });
}

/// A target comparing thingwire's HTTP server with `base` (`axum` or `hololinked`) on `metric` (thingwire ÷
/// base): the median of the alternating rounds when they ran, else the table's single measurements.
fn http_pair_target(
    results: &Results,
    (base, op, mode): (&str, &str, Mode),
    metric: impl Fn(&Record) -> Option<f64> + Copy,
    unit: &str,
    met: impl Fn(f64) -> bool,
    target: &str,
) -> Target {
    if !results.http_binding {
        return Target { target: target.into(), measured: "not measured (HTTP binding missing)".into(), met: None };
    }
    let fmt = |x: Option<f64>| if unit == "op/s" { opt(x, rate) } else { opt(x, us) };
    if let Some(round) = results.http_round(base, op, mode) {
        let r = round.median_ratio(metric);
        let each: Vec<String> = round.ratios(metric).into_iter().map(|x| ratio(Some(x))).collect();
        return Target {
            target: target.into(),
            measured: format!(
                "{} vs {} {unit} = {} (median of {} alternating rounds: {})",
                fmt(Round::median_of(&round.thingwire, metric)),
                fmt(Round::median_of(&round.raw, metric)),
                ratio(r),
                round.raw.len(),
                each.join(", ")
            ),
            met: r.map(&met),
        };
    }
    let tw = results.http("thingwire", op, mode).and_then(metric);
    let b = results.http(base, op, mode).and_then(metric);
    let r = div(tw, b);
    Target {
        target: target.into(),
        measured: format!("{} vs {} {unit} = {}", fmt(tw), fmt(b), ratio(r)),
        met: r.map(met),
    }
}

/// A target comparing thingwire's `readproperty Vec<f64>` with the raw baseline on `metric`: the median of
/// the alternating rounds when they ran, else the table's single measurements.
fn pair_target(
    results: &Results,
    (transport, raw_op, payload, mode): (&str, &str, usize, Mode),
    metric: impl Fn(&Record) -> Option<f64> + Copy,
    unit: &str,
    met: impl Fn(f64) -> bool,
    target: &str,
) -> Target {
    let fmt = |x: Option<f64>| if unit == "op/s" { opt(x, rate) } else { opt(x, us) };
    let shown = |r: Option<f64>| {
        if unit == "op/s" { r.map(|f| format!("{:.0} %", f * 100.0)).unwrap_or_else(|| "-".into()) } else { ratio(r) }
    };
    if let Some(round) = results.round(transport, raw_op, payload, mode) {
        let r = round.median_ratio(metric);
        let each: Vec<String> = round.ratios(metric).into_iter().map(|x| shown(Some(x))).collect();
        return Target {
            target: target.into(),
            measured: format!(
                "{} vs {} {unit} = {} (median of {} alternating rounds: {})",
                fmt(Round::median_of(&round.thingwire, metric)),
                fmt(Round::median_of(&round.raw, metric)),
                shown(r),
                round.raw.len(),
                each.join(", ")
            ),
            met: r.map(&met),
        };
    }
    let tw = results.find("thingwire", "rust", "readproperty", "Vec<f64>", transport, payload, mode).and_then(metric);
    let raw = results.raw(raw_op, transport, payload, mode).and_then(metric);
    let r = div(tw, raw);
    Target {
        target: target.into(),
        measured: format!("{} vs {} {unit} = {}", fmt(tw), fmt(raw), shown(r)),
        met: r.map(met),
    }
}

pub fn render_targets(targets: &[Target]) -> String {
    let width = targets.iter().map(|t| t.target.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for t in targets {
        let mark = match t.met {
            Some(true) => "met   ",
            Some(false) => "MISSED",
            None => "n/a   ",
        };
        let pad = width - t.target.chars().count();
        let _ = writeln!(out, "  [{mark}] {}{} │ {}", t.target, " ".repeat(pad), t.measured);
    }
    out
}

/// Writes `dir/{machine,targets,all}.json` and, for the sections that ran, `dir/{raw,thingwire,hololinked,events,
/// memory,http}.json` (a partial run leaves the other sections' files alone).
pub fn write_json(dir: &Path, results: &Results, targets: &[Target]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let write = |name: &str, value: serde_json::Value| {
        let empty = value.as_array().is_some_and(Vec::is_empty);
        if empty {
            return Ok(());
        }
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        std::fs::write(dir.join(name), text + "\n")
    };
    let of = |pred: &dyn Fn(&Record) -> bool| {
        serde_json::to_value(results.records.iter().filter(|r| pred(r)).collect::<Vec<_>>()).unwrap_or_default()
    };
    let gain = |r: &Record| r.transport != "http" && (r.op.contains("gain") || r.op.contains(" add"));
    write("machine.json", serde_json::json!({ "machine": results.machine, "quick": results.quick }))?;
    write("raw.json", of(&|r| r.stack == "raw"))?;
    write("thingwire.json", of(&|r| r.stack == "thingwire" && r.transport != "http" && !gain(r)))?;
    write("hololinked.json", of(&gain))?;
    write("events.json", serde_json::to_value(&results.events).unwrap_or_default())?;
    write("mqtt.json", serde_json::to_value(&results.mqtt).unwrap_or_default())?;
    let http: Vec<&Record> = results.records.iter().filter(|r| r.transport == "http").collect();
    let http_rounds: Vec<&Round> = results.rounds.iter().filter(|r| r.transport == "http").collect();
    if !http.is_empty() || !results.sse.is_empty() {
        write(
            "http.json",
            serde_json::json!({ "records": http, "rounds": http_rounds, "sse": results.sse, "http_binding": results.http_binding }),
        )?;
    }
    write("memory.json", serde_json::to_value(&results.memory).unwrap_or_default())?;
    if let Some(scale) = &results.scale {
        write("scale.json", serde_json::to_value(scale).unwrap_or_default())?;
        write_scale_charts(dir, scale)?;
    }
    write("targets.json", serde_json::to_value(targets).unwrap_or_default())?;
    write("all.json", serde_json::json!({ "results": results, "targets": targets }))
}

/// The scaling curves as SVG beside `scale.json`: throughput and p99 against connections, and against Things.
fn write_scale_charts(dir: &Path, scale: &crate::scale::Scale) -> std::io::Result<()> {
    use crate::svg::{Chart, Series, line_chart};
    let curve = |points: &[crate::scale::Point], y: fn(&crate::scale::Point) -> f64| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.x as f64, y(p))).collect()
    };
    let charts = [
        (
            "scale-connections.svg",
            "Reads per second against client connections",
            "connections (one read in flight each)",
            "reads/s",
            true,
            &scale.connections,
            "thingwire server, 64 B read",
            (|p: &crate::scale::Point| p.ops_per_sec) as fn(&crate::scale::Point) -> f64,
        ),
        (
            "scale-connections-p99.svg",
            "p99 latency against client connections",
            "connections (one read in flight each)",
            "p99 (µs)",
            true,
            &scale.connections,
            "thingwire server, 64 B read",
            |p| p.p99_us,
        ),
        (
            "scale-things.svg",
            "Reads per second against served Things",
            "Things (reads spread over them, 64 in flight)",
            "reads/s",
            true,
            &scale.things,
            "thingwire server, 64 B read",
            |p| p.ops_per_sec,
        ),
    ];
    for (file, title, x_label, y_label, log_x, points, name, y) in charts {
        if points.is_empty() {
            continue;
        }
        let chart = Chart { title, x_label, y_label, log_x };
        std::fs::write(dir.join(file), line_chart(&chart, &[Series { name, points: curve(points, y) }]))?;
    }
    Ok(())
}
