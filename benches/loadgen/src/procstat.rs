//! Observing processes through `/proc`: CPU time and memory of the server and of the load
//! generator, sampled on a thread of its own, and `perf record` on the server when asked for.

use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::process::{Child, Command};

/// CPU time and memory of one process.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ProcStat {
    /// User + system CPU seconds since the process started.
    pub cpu_s: f64,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// Peak resident set size (VmHWM), KiB.
    pub peak_rss_kb: u64,
    /// Threads.
    pub threads: u64,
}

impl ProcStat {
    /// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`.
    pub fn read(pid: u32) -> Option<Self> {
        Self::read_path(&format!("/proc/{pid}"))
    }

    /// The figures of several processes added up (zero for none or unreadable ones).
    pub fn sum(pids: &[u32]) -> Self {
        pids.iter()
            .filter_map(|p| Self::read(*p))
            .fold(Self::default(), |a, b| Self {
                cpu_s: a.cpu_s + b.cpu_s,
                rss_kb: a.rss_kb + b.rss_kb,
                peak_rss_kb: a.peak_rss_kb + b.peak_rss_kb,
                threads: a.threads + b.threads,
            })
    }

    /// The load generator itself.
    pub fn own() -> Option<Self> {
        Self::read_path("/proc/self")
    }

    fn read_path(dir: &str) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        let after_comm = &stat[stat.rfind(')')? + 1..];
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        // Fields counted from the state (field 3): utime is field 14, stime 15.
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Some(Self {
            cpu_s: (utime + stime) / clock_ticks(),
            rss_kb: kb("VmRSS:"),
            peak_rss_kb: kb("VmHWM:"),
            threads: kb("Threads:"),
        })
    }
}

/// `sysconf(_SC_CLK_TCK)` without `unsafe`: asked of `getconf` once (100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

async fn callgrind_control(pid: u32, args: &[&str]) {
    let status = Command::new("callgrind_control")
        .args(args)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .status()
        .await;
    if !status.as_ref().is_ok_and(|s| s.success()) {
        eprintln!("  callgrind_control {args:?} failed: {status:?}");
    }
}

/// The thread of the server's HAR recorder that writes files (`src/record/`), named by it.
const WRITER_THREAD: &str = "har-writer";

/// On-CPU time of a process's live threads, in milliseconds, read from
/// `/proc/<pid>/task/*/schedstat` (the scheduler's own nanosecond count, where `stat` only has
/// 10 ms clock ticks): the recorder's writer thread apart from every other thread, the request
/// path. A thread that ends between two readings takes its time with it; the server's threads
/// (runtime workers, the writer) live as long as it does.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ThreadCpu {
    /// Every thread but the recorder's writer: the work done to answer clients.
    pub request_path_ms: f64,
    /// The recorder's writer thread (zero when the server does not record).
    pub writer_ms: f64,
    /// Context switches of the request path's threads (voluntary: it waited; involuntary: it
    /// was preempted), from each thread's `status`.
    pub request_path_switches: (u64, u64),
    /// The writer thread's context switches (voluntary, involuntary): each time it slept and
    /// was woken counts one voluntary switch, so a writer woken by every queued item shows
    /// as many as the items, and one on a timer about one a tick.
    pub writer_switches: (u64, u64),
}

impl ThreadCpu {
    /// Reads the threads of `pid` (zero when unreadable).
    pub fn read(pid: u32) -> Self {
        let mut cpu = Self::default();
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return cpu;
        };
        for task in tasks.flatten() {
            let path = task.path();
            let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            else {
                continue;
            };
            let name = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
            let count = |key: &str| {
                status
                    .lines()
                    .find_map(|l| l.strip_prefix(key))
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(0)
            };
            let switches = (
                count("voluntary_ctxt_switches:"),
                count("nonvoluntary_ctxt_switches:"),
            );
            if name.trim() == WRITER_THREAD {
                cpu.writer_ms += ns / 1e6;
                cpu.writer_switches.0 += switches.0;
                cpu.writer_switches.1 += switches.1;
                continue;
            }
            cpu.request_path_ms += ns / 1e6;
            cpu.request_path_switches.0 += switches.0;
            cpu.request_path_switches.1 += switches.1;
        }
        cpu
    }

    /// The figures of several processes added up.
    pub fn sum(pids: &[u32]) -> Self {
        pids.iter()
            .map(|p| Self::read(*p))
            .fold(Self::default(), |a, b| Self {
                request_path_ms: a.request_path_ms + b.request_path_ms,
                writer_ms: a.writer_ms + b.writer_ms,
                request_path_switches: (
                    a.request_path_switches.0 + b.request_path_switches.0,
                    a.request_path_switches.1 + b.request_path_switches.1,
                ),
                writer_switches: (
                    a.writer_switches.0 + b.writer_switches.0,
                    a.writer_switches.1 + b.writer_switches.1,
                ),
            })
    }

    /// What was spent since `before`.
    #[must_use]
    pub fn since(self, before: Self) -> Self {
        let less = |now: (u64, u64), was: (u64, u64)| {
            (now.0.saturating_sub(was.0), now.1.saturating_sub(was.1))
        };
        Self {
            request_path_ms: self.request_path_ms - before.request_path_ms,
            writer_ms: self.writer_ms - before.writer_ms,
            request_path_switches: less(self.request_path_switches, before.request_path_switches),
            writer_switches: less(self.writer_switches, before.writer_switches),
        }
    }
}

/// `--engine-pids` values (`name=pid`) as (name, pid).
pub fn engine_pids(list: &[String]) -> crate::error::Result<Vec<(String, u32)>> {
    use crate::error::err;
    list.iter()
        .map(|kv| {
            let (name, pid) = kv
                .split_once('=')
                .ok_or_else(|| err(format!("--engine-pids {kv:?}: expected name=pid")))?;
            let pid = pid
                .parse()
                .map_err(|_| err(format!("--engine-pids {kv:?}: not a pid")))?;
            Ok((name.to_string(), pid))
        })
        .collect()
}

/// CPU-seconds used so far by each named process (those that can be read).
pub fn engine_cpu(pids: &[(String, u32)]) -> std::collections::BTreeMap<String, f64> {
    pids.iter()
        .filter_map(|(name, pid)| Some((name.clone(), ProcStat::read(*pid)?.cpu_s)))
        .collect()
}

/// One sample of server and load-generator figures.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sample {
    /// Seconds since the run's clock started.
    pub t: f64,
    /// Server figures (zero when the pid is unknown).
    pub server: ProcStat,
    /// Load-generator figures.
    pub client: ProcStat,
}

/// Samples `/proc` on its own thread (so a busy runtime does not delay it) until stopped.
pub struct Sampler {
    samples: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    /// Starts sampling the processes `pids` (figures summed) every `every`, timed from `t0`.
    pub fn start(pids: Vec<u32>, t0: Instant, every: Duration) -> Self {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, flag) = (samples.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                let sample = Sample {
                    t: t0.elapsed().as_secs_f64(),
                    server: ProcStat::sum(&pids),
                    client: ProcStat::own().unwrap_or_default(),
                };
                s.lock().unwrap_or_else(|e| e.into_inner()).push(sample);
                std::thread::sleep(every);
            }
        });
        Self {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// The samples so far, shared while sampling goes on.
    pub fn shared(&self) -> Arc<Mutex<Vec<Sample>>> {
        self.samples.clone()
    }

    /// Stops and returns every sample.
    pub fn finish(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Where `perf record` writes phase `name`'s samples under `dir`, which is made if it is
/// missing: perf does not make it, and quietly recorded nothing.
fn perf_file(dir: &Path, name: &str) -> std::io::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    Ok(dir.join(format!("{name}.perf.data")))
}

/// `perf record` on the server during a measured phase, when asked for (`--perf DIR`), or
/// callgrind's instruction counting switched on for the phase (`--callgrind`).
pub struct Profiler(Option<Child>, Option<(u32, String)>);

impl Profiler {
    /// Starts `perf record -F 997 --call-graph dwarf` on `pid`, writing `<dir>/<name>.perf.data`,
    /// and gives it a moment to attach.
    pub async fn start(dir: Option<&Path>, pid: Option<u32>, name: &str) -> Self {
        let (Some(dir), Some(pid)) = (dir, pid) else {
            return Self(None, None);
        };
        let file = match perf_file(dir, name) {
            Ok(file) => file,
            Err(e) => {
                eprintln!("  perf not started: {e}");
                return Self(None, None);
            }
        };
        // `LOADGEN_PERF_FREQ` samples more often (a 5,000-join burst lasts half a second: about
        // 1,000 samples at 997 Hz); `LOADGEN_PERF_CALL_GRAPH=none` keeps only the sampled
        // function, whose dwarf unwinding otherwise slows the server at a high rate.
        let freq = std::env::var("LOADGEN_PERF_FREQ").unwrap_or_else(|_| "997".into());
        let graph =
            std::env::var("LOADGEN_PERF_CALL_GRAPH").unwrap_or_else(|_| "dwarf,16384".into());
        let mut args = vec!["record".to_string(), "-F".into(), freq];
        if graph != "none" {
            args.extend(["--call-graph".into(), graph]);
        }
        args.extend(["-p".into(), pid.to_string(), "-o".into()]);
        let child = Command::new("perf")
            .args(&args)
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(mut c) => {
                tokio::time::sleep(Duration::from_millis(800)).await;
                // perf's own messages are not shown: one that gave up at once (no permission
                // to attach, say) is told here rather than leaving no file behind in silence.
                if let Ok(Some(status)) = c.try_wait() {
                    eprintln!("  perf ended before the phase began ({status}): nothing profiled");
                    return Self(None, None);
                }
                eprintln!("  profiling the server into {}", file.display());
                Self(Some(c), None)
            }
            Err(e) => {
                eprintln!("  perf not started: {e}");
                Self(None, None)
            }
        }
    }

    /// Switches callgrind's instrumentation on in the server `pid` (run under
    /// `valgrind --tool=callgrind --instr-atstart=no`); [`Profiler::stop`] switches it off and
    /// dumps the counts of the phase `name`.
    pub async fn callgrind(pid: Option<u32>, name: &str) -> Self {
        let Some(pid) = pid else {
            return Self(None, None);
        };
        callgrind_control(pid, &["-i", "on"]).await;
        eprintln!("  counting the server's instructions ({name})");
        Self(None, Some((pid, name.to_string())))
    }

    /// Stops recording (SIGINT, as perf expects) and waits for the file to be written.
    pub async fn stop(self) {
        if let Some((pid, name)) = &self.1 {
            callgrind_control(*pid, &["-i", "off"]).await;
            callgrind_control(*pid, &[&format!("--dump={name}")]).await;
        }
        let Some(mut child) = self.0 else { return };
        if let Some(pid) = child.id() {
            let _ = Command::new("kill")
                .arg("-INT")
                .arg(pid.to_string())
                .status()
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::perf_file;

    #[test]
    fn the_perf_folder_is_made_when_it_is_missing() {
        let root = std::env::temp_dir().join(format!("loadgen-perf-{}", std::process::id()));
        let dir = root.join("not").join("yet");
        let file = perf_file(&dir, "seat-rush").expect("made");
        assert_eq!(file, dir.join("seat-rush.perf.data"));
        assert!(dir.is_dir());
        let _ = std::fs::remove_dir_all(&root);
    }
}
