//! The parent side: finds the peers, runs every workload round by round
//! (each peer once per round, in turn), one child process per peer-run,
//! and hands the figures to the report.

use crate::report::{self, Env, WorkloadResult};
use crate::spec::{Kind, Peer, Support, Workload, workloads};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Command-line options.
struct Options {
    quick: bool,
    patterns: Vec<String>,
    peers: Option<Vec<Peer>>,
    procs: Vec<usize>,
    runs: Option<usize>,
    out: Option<PathBuf>,
}

fn usage() -> ! {
    eprintln!(
        "usage: gofer-benches [--quick] [WORKLOAD...] [--peers gofer,go,tokio,may,threads] \
         [--procs 1,2] [--runs N] [--out FILE.md] | --list\n\
         WORKLOAD: a workload name or the start of one (`echo`, `bounded`, `rss`)"
    );
    std::process::exit(2);
}

fn parse(args: &[String]) -> Options {
    let mut o = Options {
        quick: false,
        patterns: Vec::new(),
        peers: None,
        procs: vec![1, 2],
        runs: None,
        out: None,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_else(|| usage());
        match a.as_str() {
            "--quick" => o.quick = true,
            "--list" => {
                for w in workloads() {
                    println!("{:<18} {}", w.id, w.title_for(w.n));
                }
                std::process::exit(0);
            }
            "--peers" => {
                let v = value();
                o.peers = Some(
                    v.split(',')
                        .map(|p| Peer::from_id(p).unwrap_or_else(|| usage()))
                        .collect(),
                );
            }
            "--procs" => {
                let v = value();
                o.procs = v
                    .split(',')
                    .map(|p| p.parse().ok().filter(|&n| n > 0).unwrap_or_else(|| usage()))
                    .collect();
            }
            "--runs" => {
                o.runs = Some(
                    value()
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .unwrap_or_else(|| usage()),
                )
            }
            "--out" => o.out = Some(PathBuf::from(value())),
            "-h" | "--help" => usage(),
            s if s.starts_with('-') => usage(),
            s => o.patterns.push(s.to_string()),
        }
    }
    o
}

/// How long one child may take before it is killed and the run counted
/// as failed.
fn child_timeout(kind: Kind, quick: bool) -> Duration {
    match (kind, quick) {
        (Kind::Rss, false) => Duration::from_secs(180),
        (_, false) => Duration::from_secs(60),
        (_, true) => Duration::from_secs(10),
    }
}

/// Where the peers live and how to start them.
struct Peers {
    /// This binary, re-executed for every child.
    exe: PathBuf,
    /// The built Go benchmark program, if `go` is installed.
    go_bin: Option<PathBuf>,
    /// Is `taskset` there to pin the std-threads peer?
    taskset: bool,
    wrk: bool,
}

impl Peers {
    fn available(&self, peer: Peer) -> Result<(), &'static str> {
        match peer {
            Peer::Go if self.go_bin.is_none() => Err("go not installed"),
            _ => Ok(()),
        }
    }

    /// The command that runs `peer` with `procs` workers, before its
    /// arguments.
    fn command(&self, peer: Peer, procs: usize) -> Command {
        match peer {
            Peer::Go => {
                let mut c = Command::new(self.go_bin.as_ref().expect("go available"));
                c.env("GOMAXPROCS", procs.to_string());
                c
            }
            Peer::Threads if self.taskset => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(format!("0-{}", procs - 1)).arg(&self.exe);
                c
            }
            _ => Command::new(&self.exe),
        }
    }
}

/// Builds `benches/go` if `go` is installed; says so and skips Go if not.
fn build_go(env: &mut Env) -> Option<PathBuf> {
    let version = Command::new("go").arg("version").output();
    match version {
        Ok(out) if out.status.success() => {
            env.go = Some(String::from_utf8_lossy(&out.stdout).trim().to_string());
        }
        _ => {
            println!("go: not installed, skipping");
            return None;
        }
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("go");
    let bin = std::env::current_exe()
        .ok()?
        .parent()?
        .join("gofer-benches-go");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg(".")
        .current_dir(&src)
        .output();
    match out {
        Ok(o) if o.status.success() => Some(bin),
        Ok(o) => {
            println!(
                "go: build of {} failed, skipping: {}",
                src.display(),
                String::from_utf8_lossy(&o.stderr).trim()
            );
            None
        }
        Err(e) => {
            println!("go: cannot run the build ({e}), skipping");
            None
        }
    }
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

pub fn runner_main(args: &[String]) {
    let opts = parse(args);
    // 1,000 connections on each side of the echo workloads.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        println!("cannot raise the open-file limit: {e}");
    }
    let all = workloads();
    let selected: Vec<&Workload> = all
        .iter()
        .filter(|w| {
            opts.patterns.is_empty() || opts.patterns.iter().any(|p| w.id.starts_with(p.as_str()))
        })
        .collect();
    if selected.is_empty() {
        eprintln!("no workload matches {:?}; see --list", opts.patterns);
        std::process::exit(2);
    }

    let mut env = Env::collect(opts.quick);
    let peers = Peers {
        exe: std::env::current_exe().expect("current_exe"),
        go_bin: build_go(&mut env),
        taskset: have("taskset", "--version"),
        wrk: net_wrk(),
    };
    if !peers.taskset {
        println!("taskset: not installed, std threads run unpinned");
    }
    env.threads_pinned = peers.taskset;
    env.wrk = peers.wrk;
    println!("{}", env.summary_line());

    let started = Instant::now();
    let mut results = Vec::new();
    for w in selected {
        let r = run_workload(w, &opts, &peers);
        report::print_table(&r);
        results.push(r);
        env.sample_load();
    }
    env.elapsed = started.elapsed();

    let full = !opts.quick
        && opts.patterns.is_empty()
        && opts.peers.is_none()
        && opts.runs.is_none()
        && opts.procs == [1, 2];
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let (md, svg) = match (&opts.out, full) {
        (Some(p), _) => (p.clone(), p.with_extension("svg")),
        (None, true) => (root.join("BENCHMARKS.md"), root.join("benches/ratios.svg")),
        (None, false) => {
            let name = if opts.quick { "quick" } else { "partial" };
            let dir = root.join("target");
            (
                dir.join(format!("benchmarks-{name}.md")),
                dir.join(format!("ratios-{name}.svg")),
            )
        }
    };
    let svg_link = if full {
        "benches/ratios.svg".to_string()
    } else {
        svg.file_name().unwrap().to_string_lossy().into_owned()
    };
    let write = std::fs::write(&svg, report::svg(&results, &opts.procs)).and_then(|_| {
        std::fs::write(
            &md,
            report::markdown(&results, &env, &opts.procs, &svg_link),
        )
    });
    match write {
        Ok(()) => println!("\nwrote {} and {}", md.display(), svg.display()),
        Err(e) => println!("\ncannot write the report: {e}"),
    }
    println!("total time {:.1} s", env.elapsed.as_secs_f64());

    let gofer_failed = results
        .iter()
        .flat_map(|r| r.cells.iter())
        .any(|((p, _), c)| *p == Peer::Gofer && c.error.is_some());
    if gofer_failed {
        println!("a gofer run failed (see above)");
        std::process::exit(1);
    }
}

fn net_wrk() -> bool {
    let ok = crate::net::have_wrk();
    if !ok {
        println!("wrk: not installed, skipping the HTTP workload");
    }
    ok
}

fn run_workload(w: &Workload, opts: &Options, peers: &Peers) -> WorkloadResult {
    let n = if opts.quick { w.quick_n } else { w.n };
    let runs = opts.runs.unwrap_or(if opts.quick { 2 } else { w.runs });
    let mut result = WorkloadResult {
        id: w.id,
        title: w.title_for(n),
        unit: w.unit,
        higher_better: w.higher_better,
        what: w.what,
        runs,
        rows: Vec::new(),
        cells: BTreeMap::new(),
    };
    let mut active = Vec::new();
    for &(peer, support) in &w.peers {
        if opts.peers.as_ref().is_some_and(|ps| !ps.contains(&peer)) {
            continue;
        }
        let row = match (support, peers.available(peer)) {
            (Support::No(why), _) => report::Row::NotApplicable(peer, why),
            (Support::Yes(_), Err(why)) => report::Row::Missing(peer, why),
            (Support::Yes(_), Ok(())) if w.kind == Kind::Http && !peers.wrk => {
                report::Row::Missing(peer, "wrk not installed")
            }
            (Support::Yes(how), Ok(())) => {
                active.push(peer);
                report::Row::Ran(peer, how)
            }
        };
        result.rows.push(row);
    }
    println!(
        "\n## {} — {} runs per peer, peers in turn: {}",
        result.title,
        runs,
        active
            .iter()
            .map(|p| p.label())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // A peer whose first run took longer than this runs only `SLOW_RUNS`
    // times, to keep the suite's time in bounds.
    const SLOW: Duration = Duration::from_secs(5);
    const SLOW_RUNS: usize = 3;
    let mut slow = std::collections::BTreeSet::new();
    for &procs in &opts.procs {
        for round in 0..runs {
            for &peer in &active {
                let cell = result.cells.entry((peer, procs)).or_default();
                if cell.error.is_some() {
                    continue; // failed once: not again
                }
                if round >= SLOW_RUNS && slow.contains(&(peer, procs)) {
                    continue;
                }
                let t = Instant::now();
                let m = measure(w, peer, procs, n, opts.quick, peers);
                if round == 0 && t.elapsed() > SLOW {
                    slow.insert((peer, procs));
                }
                match m {
                    Ok(v) => cell.values.push(v),
                    Err(mut e) => {
                        if e.contains("failed to alloc sys stack") {
                            e += &format!(
                                " (may maps every coroutine stack with a guard page, two memory mappings each, \
                                 and vm.max_map_count is {})",
                                std::fs::read_to_string("/proc/sys/vm/max_map_count")
                                    .map(|s| s.trim().to_string())
                                    .unwrap_or_else(|_| "?".into())
                            );
                        }
                        println!(
                            "  {} failed ({} worker{}, run {}): {e}",
                            peer.label(),
                            procs,
                            if procs == 1 { "" } else { "s" },
                            round + 1
                        );
                        cell.error = Some(e);
                    }
                }
            }
        }
    }
    result
}

/// One run of one peer: its figure, or why there is none.
fn measure(
    w: &Workload,
    peer: Peer,
    procs: usize,
    n: usize,
    quick: bool,
    peers: &Peers,
) -> Result<f64, String> {
    let timeout = child_timeout(w.kind, quick);
    match w.kind {
        Kind::Micro | Kind::Rss => {
            let budget_ms = if quick { 20 } else { 500 };
            let mut cmd = peers.command(peer, procs);
            if peer == Peer::Go {
                cmd.args([
                    "-w",
                    w.id,
                    "-n",
                    &n.to_string(),
                    "-budget",
                    &budget_ms.to_string(),
                ]);
            } else {
                cmd.args([
                    "--child",
                    peer.id(),
                    w.id,
                    &procs.to_string(),
                    &n.to_string(),
                    &budget_ms.to_string(),
                ]);
            }
            let out = run_child(cmd, timeout)?;
            out.lines()
                .find_map(|l| l.strip_prefix("RESULT "))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("no RESULT line in its output: {}", out.trim()))
        }
        Kind::Echo { stream } => {
            let (warm, dur) = if quick {
                (Duration::from_millis(20), Duration::from_millis(100))
            } else {
                (Duration::from_millis(200), Duration::from_secs(1))
            };
            with_server(peers, peer, "echo", procs, |addr| {
                crate::net::echo_client(addr, n, stream, warm, dur)
            })
        }
        Kind::Http => {
            let dur = Duration::from_secs(if quick { 1 } else { 2 });
            with_server(peers, peer, "http", procs, |addr| {
                crate::net::wrk(addr, n, dur)
            })
        }
    }
}

/// Runs a child to completion (or kills it at `timeout`); its stdout, or
/// an error made of the tail of its stderr.
fn run_child(mut cmd: Command, timeout: Duration) -> Result<String, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start: {e}"))?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    match status {
        None => Err(format!(
            "timed out after {} s{}",
            timeout.as_secs(),
            tail(&stderr)
        )),
        Some(s) if s.success() => Ok(stdout),
        Some(s) => Err(match s.signal() {
            Some(sig) => format!("killed by signal {sig}{}", tail(&stderr)),
            None => format!("exit code {}{}", s.code().unwrap_or(-1), tail(&stderr)),
        }),
    }
}

/// Reads a pipe to the end on a thread of its own.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            s = String::from_utf8_lossy(&bytes).into_owned();
        }
        s
    })
}

/// The telling part of a child's stderr: a panic message, a Go panic or
/// fatal error, or the last line.
fn tail(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    let pick = lines
        .iter()
        .position(|l| {
            l.contains("panicked at") || l.starts_with("panic:") || l.starts_with("fatal error")
        })
        .map(|i| lines[i..(i + 2).min(lines.len())].join(" "))
        .or_else(|| lines.last().map(|l| l.to_string()));
    match pick {
        Some(mut s) => {
            if s.len() > 300 {
                let mut cut = 300;
                while !s.is_char_boundary(cut) {
                    cut -= 1;
                }
                s.truncate(cut);
                s.push('…');
            }
            format!(": {s}")
        }
        None => String::new(),
    }
}

/// Starts `peer`'s server of `kind` with `procs` workers, waits for its
/// address, runs `client` against it and kills it.
fn with_server(
    peers: &Peers,
    peer: Peer,
    kind: &str,
    procs: usize,
    client: impl FnOnce(SocketAddr) -> Result<f64, String>,
) -> Result<f64, String> {
    let mut cmd = peers.command(peer, procs);
    if peer == Peer::Go {
        cmd.args(["-serve", kind]);
    } else {
        cmd.args(["--serve", peer.id(), kind, &procs.to_string()]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the server: {e}"))?;
    let err = drain(child.stderr.take());
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(a) = line.strip_prefix("LISTEN ") {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let result = match rx.recv_timeout(Duration::from_secs(15)) {
        Ok(a) => match a.parse::<SocketAddr>() {
            Ok(addr) => client(addr),
            Err(e) => Err(format!("bad server address {a}: {e}")),
        },
        Err(_) => Err("the server did not start".to_string()),
    };
    let exited = child.try_wait().ok().flatten();
    kill(&mut child);
    let stderr = err.join().unwrap_or_default();
    match (result, exited) {
        (Ok(v), None) => Ok(v),
        (Ok(_), Some(s)) => Err(format!(
            "the server exited during the run ({s}){}",
            tail(&stderr)
        )),
        (Err(e), _) => Err(format!("{e}{}", tail(&stderr))),
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}
