//! Server processes: this binary re-executed with `--serve`, and the Python hololinked server; plus what
//! `/proc` says about a process (CPU time, resident memory).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A server running in its own process. Dropping it closes the child's stdin (it exits on EOF) and reaps it,
/// killing it if it does not leave within two seconds.
pub struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The request address it printed.
    pub address: String,
}

impl ServerProcess {
    /// Starts `command` and waits up to `timeout` for a stdout line `READY` or `READY <address>`.
    pub fn start(mut command: Command, label: &str, timeout: Duration) -> Result<Self, String> {
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| format!("{label}: could not start: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let ready = lines.by_ref().map_while(Result::ok).find_map(|line| {
                let line = line.trim().to_owned();
                line.strip_prefix("READY").map(|rest| rest.trim().to_owned())
            });
            let _ = tx.send(ready);
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        // stderr: keep the tail for error messages, never block the child.
        let (etx, erx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut all = String::new();
            let _ = stderr.read_to_string(&mut all);
            let _ = etx.send(all);
        });
        let mut process = Self { child, stdin, address: String::new() };
        match rx.recv_timeout(timeout) {
            Ok(Some(address)) => {
                process.address = address;
                // Drop the stderr collector's result later; it ends with the child.
                drop(erx);
                Ok(process)
            }
            _ => {
                let _ = process.child.kill();
                let _ = process.child.wait();
                let err = erx.recv_timeout(Duration::from_secs(2)).unwrap_or_default();
                let tail: Vec<&str> = err.lines().rev().take(30).collect::<Vec<_>>().into_iter().rev().collect();
                Err(format!("{label}: did not print READY within {timeout:?}:\n{}", tail.join("\n")))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time (user + system) the process has used so far.
    pub fn cpu(&self) -> Duration {
        cpu_time(self.pid())
    }

    /// Resident and peak resident memory.
    pub fn memory(&self) -> Memory {
        memory(self.pid())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        for _ in 0..40 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// CPU time of process `pid`, all threads, user + system.
///
/// Sums each thread's `schedstat` run time (nanoseconds); where that is unavailable, falls back to
/// `/proc/<pid>/stat` utime + stime (clock ticks, 10 ms resolution). Threads that exit are not counted by the
/// first method, which is fine for servers whose threads live as long as they do.
pub fn cpu_time(pid: u32) -> Duration {
    let mut total = 0u64;
    let mut any = false;
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for task in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat"))
                && let Some(ns) = s.split_whitespace().next().and_then(|v| v.parse::<u64>().ok())
            {
                total += ns;
                any = true;
            }
        }
    }
    if any {
        return Duration::from_nanos(total);
    }
    cpu_time_ticks(pid)
}

/// utime + stime from `/proc/<pid>/stat`.
pub fn cpu_time_ticks(pid: u32) -> Duration {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return Duration::ZERO };
    // The command name may contain spaces; fields after the closing parenthesis are space separated.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else { return Duration::ZERO };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    let ticks = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    let hz = clock_ticks_per_second();
    Duration::from_nanos((ticks(14) + ticks(15)) * (1_000_000_000 / hz))
}

fn clock_ticks_per_second() -> u64 {
    static HZ: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&hz| hz > 0)
            .unwrap_or(100)
    })
}

/// Memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Memory {
    /// VmRSS, KiB.
    pub rss_kib: u64,
    /// VmHWM (peak RSS), KiB.
    pub peak_rss_kib: u64,
}

pub fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory { rss_kib: field("VmRSS:"), peak_rss_kib: field("VmHWM:") }
}

/// This binary as a server process: `thingwire-bench --serve <kind> …`.
///
/// `THINGWIRE_BENCH_SERVER_WRAPPER` (whitespace-separated words) is put in front of the command, to run the
/// server under a profiler, e.g. `valgrind --tool=callgrind --callgrind-out-file=target/bench/cg.%p`.
pub fn self_server(kind: &str, transport: &str, dir: &Path, extra: &[String]) -> Result<ServerProcess, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let wrapper = std::env::var("THINGWIRE_BENCH_SERVER_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    command.args(["--serve", kind, "--transport", transport, "--dir"]).arg(dir).args(extra);
    let timeout = Duration::from_secs(if wrapper.is_empty() { 20 } else { 120 });
    ServerProcess::start(command, &format!("{kind} server over {transport}"), timeout)
}
