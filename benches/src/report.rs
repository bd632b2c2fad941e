//! The report: a table per workload on stdout, the markdown document
//! (`BENCHMARKS.md`) with the machine and versions, and an SVG chart of
//! the ratios to gofer, written by hand (no fonts or plotting crates).

use crate::spec::Peer;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The figures of one peer at one worker count.
#[derive(Default, Debug)]
pub struct Cell {
    pub values: Vec<f64>,
    /// Set when a run failed; later runs are skipped.
    pub error: Option<String>,
}

impl Cell {
    /// (median, min, max) of the successful runs.
    pub fn stats(&self) -> Option<(f64, f64, f64)> {
        let mut xs = self.values.clone();
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let m = xs.len();
        let median = if m % 2 == 1 {
            xs[m / 2]
        } else {
            (xs[m / 2 - 1] + xs[m / 2]) / 2.0
        };
        Some((median, xs[0], xs[m - 1]))
    }
}

/// A peer's line in a workload's table.
#[derive(Clone, Copy, Debug)]
pub enum Row {
    /// It ran; how (maybe empty).
    Ran(Peer, &'static str),
    /// The workload does not apply to this peer; why.
    NotApplicable(Peer, &'static str),
    /// The peer is not installed here.
    Missing(Peer, &'static str),
}

pub struct WorkloadResult {
    pub id: &'static str,
    pub title: String,
    pub unit: &'static str,
    pub higher_better: bool,
    pub what: &'static str,
    pub runs: usize,
    pub rows: Vec<Row>,
    pub cells: BTreeMap<(Peer, usize), Cell>,
}

impl WorkloadResult {
    fn median(&self, peer: Peer, procs: usize) -> Option<f64> {
        self.cells.get(&(peer, procs))?.stats().map(|s| s.0)
    }

    /// Peer's cost over gofer's (time, memory), or gofer's throughput over
    /// the peer's: > 1 means gofer did better.
    pub fn ratio(&self, peer: Peer, procs: usize) -> Option<f64> {
        let g = self.median(Peer::Gofer, procs)?;
        let p = self.median(peer, procs)?;
        if g <= 0.0 || p <= 0.0 {
            return None;
        }
        Some(if self.higher_better { g / p } else { p / g })
    }

    fn ran(&self) -> impl Iterator<Item = (Peer, &'static str)> + '_ {
        self.rows.iter().filter_map(|r| match r {
            Row::Ran(p, how) => Some((*p, *how)),
            _ => None,
        })
    }

    fn procs(&self) -> Vec<usize> {
        let mut ps: Vec<usize> = self.cells.keys().map(|k| k.1).collect();
        ps.sort();
        ps.dedup();
        ps
    }

    /// "median (min–max)", or why there is none.
    fn figure(&self, peer: Peer, procs: usize) -> String {
        match self.cells.get(&(peer, procs)) {
            None => "—".into(),
            Some(c) => match (c.stats(), &c.error) {
                (None, Some(_)) => "failed".into(),
                (Some((m, lo, hi)), error) => {
                    let k = c.values.len();
                    let note = match error {
                        Some(_) => format!(" [{k} runs, then failed]"),
                        None if k < self.runs => format!(" [{k} runs]"),
                        None => String::new(),
                    };
                    format!("{} ({}–{}){note}", fmt_val(m), fmt_val(lo), fmt_val(hi))
                }
                (None, None) => "—".into(),
            },
        }
    }

    fn ratio_text(&self, peer: Peer, procs: usize) -> String {
        if peer == Peer::Gofer {
            return if self.median(peer, procs).is_some() {
                "1".into()
            } else {
                "—".into()
            };
        }
        self.ratio(peer, procs)
            .map(|r| format!("{}×", fmt_ratio(r)))
            .unwrap_or_else(|| "—".into())
    }
}

/// Three significant digits or so; thousands grouped.
pub fn fmt_val(v: f64) -> String {
    if v >= 10_000.0 {
        crate::spec::group_digits(v.round() as usize)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// A ratio with two significant digits below 1, two decimals above.
pub fn fmt_ratio(r: f64) -> String {
    if r >= 1000.0 {
        crate::spec::group_digits(r.round() as usize)
    } else if r >= 0.1 {
        format!("{r:.2}")
    } else {
        format!("{r:.2e}")
    }
}

fn workers(procs: usize) -> String {
    format!("{procs} worker{}", if procs == 1 { "" } else { "s" })
}

/// The table of one workload, on stdout.
pub fn print_table(r: &WorkloadResult) {
    let procs = r.procs();
    let better = if r.higher_better { "higher" } else { "lower" };
    println!("{} [{}; {better} is better]", r.title, r.unit);
    let mut head = format!("  {:<12}", "peer");
    for &p in &procs {
        head += &format!(" {:>38} {:>8}", workers(p), "vs gofer");
    }
    println!("{head}");
    for (peer, _) in r.ran() {
        let mut line = format!("  {:<12}", peer.label());
        for &p in &procs {
            line += &format!(" {:>38} {:>8}", r.figure(peer, p), r.ratio_text(peer, p));
        }
        println!("{line}");
    }
    for (peer, how) in r.ran().filter(|(_, how)| !how.is_empty()) {
        println!("    {}: {how}", peer.label());
    }
    for row in &r.rows {
        match row {
            Row::NotApplicable(p, why) => println!("    {}: n/a, {why}", p.label()),
            Row::Missing(p, why) => println!("    {}: skipped, {why}", p.label()),
            Row::Ran(..) => {}
        }
    }
    for ((peer, p), c) in &r.cells {
        if let Some(e) = &c.error {
            println!("    {} failed with {}: {e}", peer.label(), workers(*p));
        }
    }
}

/// The machine, the versions, and how loaded the machine was.
pub struct Env {
    pub date: String,
    pub cpu: String,
    pub nproc: usize,
    pub kernel: String,
    pub mem_gib: f64,
    pub rustc: String,
    pub go: Option<String>,
    pub tokio: String,
    pub may: String,
    pub crossbeam: String,
    /// 1-, 5- and 15-minute load averages before the first run.
    pub load_start: [f64; 3],
    /// Highest 1-minute load average seen between workloads.
    pub load_max: f64,
    pub elapsed: Duration,
    pub quick: bool,
    pub threads_pinned: bool,
    pub wrk: bool,
}

fn load_average() -> [f64; 3] {
    let s = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut it = s.split_whitespace().map(|v| v.parse().unwrap_or(f64::NAN));
    [
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
        it.next().unwrap_or(f64::NAN),
    ]
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// A package's version in the workspace's Cargo.lock.
fn locked_version(name: &str) -> String {
    const LOCK: &str = include_str!("../../Cargo.lock");
    let key = format!("name = \"{name}\"\n");
    LOCK.split("[[package]]")
        .find(|p| p.trim_start().starts_with(&key))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| "?".into())
}

impl Env {
    pub fn collect(quick: bool) -> Env {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).trim().to_string())
            .unwrap_or_else(|| "unknown CPU".into());
        let mem_kib: f64 = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0.0);
        let load_start = load_average();
        Env {
            date: command_line("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
                .unwrap_or_else(|| "?".into()),
            cpu,
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "?".into()),
            mem_gib: mem_kib / (1024.0 * 1024.0),
            rustc: command_line("rustc", &["--version"]).unwrap_or_else(|| "rustc ?".into()),
            go: None,
            tokio: locked_version("tokio"),
            may: locked_version("may"),
            crossbeam: locked_version("crossbeam-channel"),
            load_start,
            load_max: load_start[0],
            elapsed: Duration::ZERO,
            quick,
            threads_pinned: false,
            wrk: false,
        }
    }

    pub fn sample_load(&mut self) {
        let l = load_average()[0];
        if l > self.load_max {
            self.load_max = l;
        }
    }

    /// Was the machine busy with other work when the run started? Our own
    /// runs load at most about two CPUs, so judge by the start.
    pub fn loaded(&self) -> bool {
        self.load_start[0] > 0.5 * self.nproc as f64
    }

    pub fn summary_line(&self) -> String {
        format!(
            "{}; {} CPUs ({}), Linux {}; {}; {}; tokio {}, may {}; load average {:.2} {:.2} {:.2}{}",
            self.date,
            self.nproc,
            self.cpu,
            self.kernel,
            self.rustc,
            self.go.as_deref().unwrap_or("Go not installed"),
            self.tokio,
            self.may,
            self.load_start[0],
            self.load_start[1],
            self.load_start[2],
            if self.loaded() {
                " — LOADED: other work is running, figures are indicative only"
            } else {
                ""
            }
        )
    }
}

/// The whole report as markdown; `svg` is the chart's path relative to
/// the document.
pub fn markdown(results: &[WorkloadResult], env: &Env, procs: &[usize], svg: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Benchmarks: gofer beside Go, tokio, may and std threads\n"
    );
    if env.loaded() {
        let _ = writeln!(
            s,
            "> **These figures come from a loaded machine.** The load average was {:.1} ({:.1} over 5 minutes) \
             on {} CPUs when the run started, and reached {:.1} during it: other jobs were running. \
             Absolute figures and ratios are indicative only; re-run on a quiet machine \
             (`cargo run --release -p gofer-benches`) before drawing conclusions.\n",
            env.load_start[0], env.load_start[1], env.nproc, env.load_max
        );
    }
    if env.quick {
        let _ = writeln!(
            s,
            "> `--quick` run: tiny sizes, a smoke test of the harness; the figures mean nothing.\n"
        );
    }
    let _ = writeln!(
        s,
        "Generated by `cargo run --release -p gofer-benches{}` on {}, in {:.0} s.\n",
        if env.quick { " -- --quick" } else { "" },
        env.date,
        env.elapsed.as_secs_f64()
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| machine | {}, {} CPUs, {:.1} GiB, Linux {} |",
        env.cpu, env.nproc, env.mem_gib, env.kernel
    );
    let _ = writeln!(s, "| rustc | {} |", env.rustc);
    let _ = writeln!(
        s,
        "| Go | {} |",
        env.go.as_deref().unwrap_or("not installed: skipped")
    );
    let _ = writeln!(
        s,
        "| tokio | {} (multi-thread runtime, all drivers enabled) |",
        env.tokio
    );
    let _ = writeln!(
        s,
        "| may | {} (default configuration but the worker count) |",
        env.may
    );
    let _ = writeln!(
        s,
        "| crossbeam-channel | {} (on std threads) |",
        env.crossbeam
    );
    let _ = writeln!(
        s,
        "| load average | {:.2} {:.2} {:.2} at the start; highest 1-minute value during the run {:.2} |",
        env.load_start[0], env.load_start[1], env.load_start[2], env.load_max
    );
    let _ = writeln!(
        s,
        "| HTTP load | {} |\n",
        if env.wrk {
            "wrk, one thread"
        } else {
            "wrk not installed: skipped"
        }
    );

    let _ = writeln!(s, "## How to read this\n");
    let _ = writeln!(
        s,
        "* Every figure is the **median of the runs, with min–max**. Each run is a fresh process per peer \
         (the runner re-executes itself, or runs the Go program), and the peers of a workload take turns run \
         by run, so drift on the machine hits all of them alike.\n\
         * **1 worker / 2 workers**: GOMAXPROCS for gofer and Go, `worker_threads` for tokio, `set_workers` \
         for may; the std-threads process is {} to 1 or 2 CPUs.\n\
         * **vs gofer** = peer ÷ gofer for costs (time, memory) and gofer ÷ peer for throughputs: **above 1 \
         gofer did better**, below 1 the peer did.\n\
         * Each micro-benchmark run stops after its operation count or a time budget (0.5 s; 20 ms with `--quick`), whichever comes \
         first, and is timed over the operations it did; spawn, chain and memory always do all of theirs. \
         A peer whose first run of a workload takes over 5 s runs 3 times (marked `[3 runs]`). \
         Every task-based peer drives the workload from inside a task (like Go's main goroutine).\n\
         * Where a peer has no exact equivalent, the closest idiomatic form is used and named next to the \
         peer (for example tokio's `Notify` for park/unpark, `mpsc::channel(1)` for a rendezvous channel).\n\
         * Network: each server is written in its runtime (a task per connection) and started fresh for every \
         run; the load comes from one client written once — a single-threaded tokio current-thread client in \
         the runner's process — or from `wrk`, the same for every server. HTTP compares runtimes, not HTTP \
         stacks: gofer, tokio, may and std threads run the same minimal hand-written keep-alive handler \
         (`httparse`, the logic of `examples/http_hello.rs`); Go's figure is its standard `net/http`, a full \
         HTTP stack.\n\
         * Limits: the machine has 2 CPUs, so the load generator and the server share them (at 2 workers they \
         compete). The echo client is one thread: at 1,000 connections it may be the bottleneck, which narrows \
         the differences between servers. Streaming connections keep at most 64 KiB in flight each, so that \
         1,000 of them stay within the kernel's TCP memory.\n",
        if env.threads_pinned {
            "pinned with `taskset`"
        } else {
            "NOT pinned (taskset missing)"
        }
    );
    let _ = writeln!(s, "![ratio of each peer to gofer]({svg})\n");

    // Summary: ratios at a glance.
    let peers: Vec<Peer> = Peer::ALL
        .into_iter()
        .filter(|p| *p != Peer::Gofer)
        .collect();
    let _ = writeln!(s, "## Summary: each peer vs gofer (>1: gofer better)\n");
    let mut head = "| workload | gofer |".to_string();
    let mut rule = "|---|---:|".to_string();
    for p in &peers {
        head += &format!(" {} |", p.label());
        rule += "---:|";
    }
    let _ = writeln!(s, "{head}\n{rule}");
    let label = procs
        .iter()
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(" / ");
    for r in results {
        let gofer = procs
            .iter()
            .map(|&p| {
                r.median(Peer::Gofer, p)
                    .map(fmt_val)
                    .unwrap_or_else(|| "—".into())
            })
            .collect::<Vec<_>>()
            .join(" / ");
        let mut line = format!("| {} | {gofer} {} |", r.id, r.unit);
        for &peer in &peers {
            let cells: Vec<String> = procs
                .iter()
                .map(|&p| {
                    if r.cells
                        .get(&(peer, p))
                        .is_some_and(|c| c.error.is_some() && c.values.is_empty())
                    {
                        "failed".into()
                    } else {
                        r.ratio(peer, p)
                            .map(fmt_ratio)
                            .unwrap_or_else(|| "—".into())
                    }
                })
                .collect();
            let _ = write!(line, " {} |", cells.join(" / "));
        }
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "\nEach cell: {label} worker(s). gofer's column is its own figure (median).\n"
    );

    for r in results {
        let better = if r.higher_better { "higher" } else { "lower" };
        let _ = writeln!(s, "## {}\n", r.title);
        let _ = writeln!(
            s,
            "`{}` — {}. Unit: **{}**, {better} is better; {} runs per peer.\n",
            r.id, r.what, r.unit, r.runs
        );
        let mut head = "| peer |".to_string();
        let mut rule = "|---|".to_string();
        for &p in procs {
            head += &format!(" {} | vs gofer |", workers(p));
            rule += "---:|---:|";
        }
        let _ = writeln!(s, "{head}\n{rule}");
        for (peer, how) in r.ran() {
            let name = if peer == Peer::Gofer {
                format!("**{}**", peer.label())
            } else {
                peer.label().to_string()
            };
            let name = if how.is_empty() {
                name
            } else {
                format!("{name}: {how}")
            };
            let mut line = format!("| {name} |");
            for &p in procs {
                let _ = write!(line, " {} | {} |", r.figure(peer, p), r.ratio_text(peer, p));
            }
            let _ = writeln!(s, "{line}");
        }
        let mut notes = Vec::new();
        for row in &r.rows {
            match row {
                Row::NotApplicable(p, why) => notes.push(format!("{}: n/a, {why}.", p.label())),
                Row::Missing(p, why) => notes.push(format!("{}: skipped, {why}.", p.label())),
                Row::Ran(..) => {}
            }
        }
        for ((peer, p), c) in &r.cells {
            if let Some(e) = &c.error {
                notes.push(format!(
                    "{} failed with {}: `{}`",
                    peer.label(),
                    workers(*p),
                    e.replace('`', "'")
                ));
            }
        }
        if !notes.is_empty() {
            let _ = writeln!(s);
            for n in notes {
                let _ = writeln!(s, "* {n}");
            }
        }
        let _ = writeln!(s);
    }
    s += &behind(results, procs, svg);
    s
}

/// A peer ahead of gofer by more than this (its ratio below `1 - BEHIND`)
/// is listed under "Where gofer is behind"; smaller differences are within
/// the noise of this machine.
const BEHIND: f64 = 0.10;

/// The closing section: the workloads where some peer beat gofer by more
/// than 10% in this run, and a pointer to `benches/GAPS.md`, which explains
/// each known gap (cause, evidence, what closing it would take).
fn behind(results: &[WorkloadResult], procs: &[usize], svg: &str) -> String {
    // The document sits at the workspace root when the chart is under
    // `benches/` (a full run), and under `target/` otherwise.
    let gaps = if svg.starts_with("benches/") {
        "benches/GAPS.md"
    } else {
        "../benches/GAPS.md"
    };
    let mut lines = Vec::new();
    for r in results {
        let mut peers = Vec::new();
        for peer in Peer::ALL.into_iter().filter(|p| *p != Peer::Gofer) {
            let behind: Vec<String> = procs
                .iter()
                .filter_map(|&p| {
                    let ratio = r.ratio(peer, p)?;
                    (ratio < 1.0 - BEHIND).then(|| format!("{} ({})", fmt_ratio(ratio), workers(p)))
                })
                .collect();
            if !behind.is_empty() {
                peers.push(format!("{} {}", peer.label(), behind.join(", ")));
            }
        }
        if !peers.is_empty() {
            lines.push(format!("* `{}`: {}", r.id, peers.join("; ")));
        }
    }
    let mut s = String::new();
    let _ = writeln!(s, "## Where gofer is behind\n");
    if lines.is_empty() {
        let _ = writeln!(
            s,
            "In this run no peer beat gofer by more than {:.0}% on any workload.\n",
            BEHIND * 100.0
        );
    } else {
        let _ = writeln!(
            s,
            "Workloads where a peer beat gofer by more than {:.0}% in this run (the peer's ratio to gofer, \
             as in the tables: below 1 the peer did better):\n",
            BEHIND * 100.0
        );
        for l in lines {
            let _ = writeln!(s, "{l}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "Why each known gap is there — measured with instruction counts (callgrind) and system-call and \
         context-switch counts per operation (perf) — what closing it would take, and what prototypes of \
         the fixes gained: [{gaps}]({gaps}).\n"
    );
    s
}

fn color(peer: Peer) -> &'static str {
    match peer {
        Peer::Gofer => "#333333",
        Peer::Go => "#00a2c7",
        Peer::Tokio => "#8e44ad",
        Peer::May => "#e67e22",
        Peer::Threads => "#6b8e23",
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A chart of every peer's ratio to gofer, one panel per worker count,
/// log scale from 1/32 to 32: bars to the right, gofer did better.
pub fn svg(results: &[WorkloadResult], procs: &[usize]) -> String {
    const LABEL_W: f64 = 150.0;
    const PANEL_W: f64 = 330.0;
    const GAP: f64 = 30.0;
    const BAR_H: f64 = 8.0;
    const TOP: f64 = 74.0;
    const SPAN: f64 = 5.0; // log2 of the largest ratio shown
    let peers: Vec<Peer> = Peer::ALL
        .into_iter()
        .filter(|p| *p != Peer::Gofer)
        .collect();
    let row_h = |r: &WorkloadResult| {
        let bars = r.ran().filter(|(p, _)| *p != Peer::Gofer).count().max(1);
        bars as f64 * BAR_H + 10.0
    };
    let height = TOP + results.iter().map(row_h).sum::<f64>() + 30.0;
    let width = LABEL_W + procs.len() as f64 * (PANEL_W + GAP) + 10.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         viewBox=\"0 0 {width:.0} {height:.0}\" font-family=\"sans-serif\" font-size=\"10\">"
    );
    let _ = writeln!(s, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        s,
        "<text x=\"10\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Each peer vs gofer: \
         cost ÷ gofer's (throughput: gofer's ÷ peer's); right of 1 = gofer better; log scale</text>"
    );
    // Legend.
    let mut x = 10.0;
    for &p in &peers {
        let _ = writeln!(
            s,
            "<rect x=\"{x}\" y=\"26\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"35\">{}</text>",
            color(p),
            x + 14.0,
            esc(p.label())
        );
        x += 24.0 + 7.0 * p.label().len() as f64;
    }
    let x_of = |panel: usize, r: f64| {
        let l = r.log2().clamp(-SPAN, SPAN);
        LABEL_W + panel as f64 * (PANEL_W + GAP) + (l + SPAN) / (2.0 * SPAN) * PANEL_W
    };
    for (i, &p) in procs.iter().enumerate() {
        let x0 = LABEL_W + i as f64 * (PANEL_W + GAP);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"54\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>",
            x0 + PANEL_W / 2.0,
            workers(p)
        );
        for (k, label) in [(-4, "1/16"), (-2, "1/4"), (0, "1"), (2, "4"), (4, "16")] {
            let gx = x_of(i, 2f64.powi(k));
            let _ = writeln!(
                s,
                "<line x1=\"{gx:.1}\" y1=\"{:.1}\" x2=\"{gx:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"{}\"/>\
                 <text x=\"{gx:.1}\" y=\"68\" text-anchor=\"middle\" fill=\"#555\">{label}</text>",
                TOP - 4.0,
                height - 24.0,
                if k == 0 { "#000" } else { "#ddd" },
                if k == 0 { 1.2 } else { 0.8 }
            );
        }
    }
    let mut y = TOP;
    for r in results {
        let h = row_h(r);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LABEL_W - 6.0,
            y + h / 2.0,
            esc(r.id)
        );
        let _ = writeln!(
            s,
            "<line x1=\"4\" y1=\"{:.1}\" x2=\"{width:.0}\" y2=\"{:.1}\" stroke=\"#f0f0f0\"/>",
            y + h - 2.0,
            y + h - 2.0
        );
        let mut by = y + 3.0;
        for (peer, _) in r.ran().filter(|(p, _)| *p != Peer::Gofer) {
            for (i, &p) in procs.iter().enumerate() {
                let one = x_of(i, 1.0);
                let failed = r.cells.get(&(peer, p)).is_some_and(|c| c.error.is_some());
                match r.ratio(peer, p) {
                    Some(ratio) => {
                        let end = x_of(i, ratio);
                        let (bx, bw) = if end >= one {
                            (one, end - one)
                        } else {
                            (end, one - end)
                        };
                        let _ = writeln!(
                            s,
                            "<rect x=\"{bx:.1}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\">\
                             <title>{} {} {}: {ratio:.2}</title></rect>",
                            bw.max(0.8),
                            BAR_H - 1.5,
                            color(peer),
                            esc(r.id),
                            esc(peer.label()),
                            workers(p)
                        );
                        let (tx, anchor) = if end >= one {
                            (end + 2.0, "start")
                        } else {
                            (end - 2.0, "end")
                        };
                        let _ = writeln!(
                            s,
                            "<text x=\"{tx:.1}\" y=\"{:.1}\" font-size=\"7\" text-anchor=\"{anchor}\" fill=\"#444\">{}</text>",
                            by + BAR_H - 2.0,
                            fmt_ratio(ratio)
                        );
                    }
                    None if failed => {
                        let _ = writeln!(
                            s,
                            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"7\" fill=\"{}\">{} failed</text>",
                            one + 2.0,
                            by + BAR_H - 2.0,
                            color(peer),
                            esc(peer.label())
                        );
                    }
                    None => {}
                }
            }
            by += BAR_H;
        }
        y += h;
    }
    let _ = writeln!(s, "</svg>");
    s
}
