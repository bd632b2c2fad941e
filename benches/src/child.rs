//! The child side: one measurement (`--child PEER WORKLOAD PROCS N
//! BUDGET_MS`, prints `RESULT <value>`), or one server (`--serve PEER
//! echo|http PROCS`, prints `LISTEN <addr>` and serves until killed).

use crate::Params;
use crate::peers;
use crate::spec::Peer;
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// Any panic, on any thread, task or goroutine, ends the child at once
/// with its message: a failed assertion is a failed run, never a hang.
/// No backtrace: a child that ran out of memory mappings (may's stacks)
/// cannot allocate one, and hung trying.
fn exit_on_panic() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| info.payload().downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let at = info
            .location()
            .map(|l| {
                // A dependency's path from its crate's directory on.
                let file = l.file();
                let file = file
                    .split_once("/registry/src/")
                    .and_then(|(_, rest)| rest.split_once('/'))
                    .map_or(file, |(_, rest)| rest);
                format!("{file}:{}", l.line())
            })
            .unwrap_or_default();
        eprintln!("panicked at {at}: {msg}");
        let _ = std::io::stderr().flush();
        std::process::exit(101);
    }));
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2);
}

/// VmRSS when the child started, before any runtime: the baseline of the
/// memory workloads (so a runtime's start-up pools count too).
static START_RSS: OnceLock<usize> = OnceLock::new();

pub fn start_rss() -> usize {
    *START_RSS.get().expect("set in child_main")
}

pub fn child_main(args: &[String]) {
    START_RSS.get_or_init(peers::rss_kib);
    exit_on_panic();
    let [peer, workload, procs, n, budget_ms] = args else {
        fail("usage: --child PEER WORKLOAD PROCS N BUDGET_MS");
    };
    let peer = Peer::from_id(peer).unwrap_or_else(|| fail("unknown peer"));
    let procs: usize = procs.parse().unwrap_or_else(|_| fail("bad PROCS"));
    let params = Params {
        n: n.parse().unwrap_or_else(|_| fail("bad N")),
        budget: Duration::from_millis(budget_ms.parse().unwrap_or_else(|_| fail("bad BUDGET_MS"))),
    };
    let result = match peer {
        Peer::Gofer => peers::gofer::run(workload, procs, params),
        Peer::Tokio => peers::tokio::run(workload, procs, params),
        Peer::May => peers::may::run(workload, procs, params),
        Peer::Threads => peers::threads::run(workload, params),
        Peer::Go => Err("the Go peer is a Go program".into()),
    };
    match result {
        Ok(v) => {
            println!("RESULT {v}");
            let _ = std::io::stdout().flush();
            // Leave parked tasks and runtimes behind without tearing down.
            std::process::exit(0);
        }
        Err(e) => fail(&e),
    }
}

/// Tells the runner where a server listens.
pub fn announce(addr: std::io::Result<std::net::SocketAddr>) -> Result<(), String> {
    let addr = addr.map_err(|e| format!("local_addr: {e}"))?;
    println!("LISTEN {addr}");
    std::io::stdout().flush().map_err(|e| e.to_string())
}

pub fn serve_main(args: &[String]) {
    exit_on_panic();
    let [peer, kind, procs] = args else {
        fail("usage: --serve PEER echo|http PROCS");
    };
    let peer = Peer::from_id(peer).unwrap_or_else(|| fail("unknown peer"));
    let procs: usize = procs.parse().unwrap_or_else(|_| fail("bad PROCS"));
    let http = match kind.as_str() {
        "echo" => false,
        "http" => true,
        _ => fail("KIND is echo or http"),
    };
    // Each server binds 127.0.0.1:0 its own way, calls `announce`, and
    // serves until the runner kills it.
    let r = match peer {
        Peer::Gofer => peers::gofer::serve(http, procs),
        Peer::Tokio => peers::tokio::serve(http, procs),
        Peer::May => peers::may::serve(http, procs),
        Peer::Threads => peers::threads::serve(http),
        Peer::Go => Err("the Go peer is a Go program".into()),
    };
    if let Err(e) = r {
        fail(&e);
    }
}
