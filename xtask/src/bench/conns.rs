//! `cargo xtask bench conns`: the release todo-api against slow and idle clients, as the
//! loopback attack of issue 16 ran them. Prints how long each kind of slow client holds a
//! connection, whether `/livez` keeps answering while thousands of idle connections press on
//! a process with a small file-descriptor limit, and how SIGTERM goes under load with idle
//! and half-open connections present. Numbers only: nothing here fails on speed.

use super::{ms, register, release_binaries};
use anyhow::{Context, Result};
use local_stack::{LogMode, ServiceProcess, free_port};
use std::path::Path;
use std::time::{Duration, Instant};
use throwaway_postgres::PgServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xshell::Shell;

#[derive(clap::Args)]
pub struct Args {
    /// Seconds between the slow clients' header lines and body bytes (the attack used 5).
    #[arg(long, default_value_t = 5)]
    drip_seconds: u64,
    /// Idle keep-alive connections to open against the limited process.
    #[arg(long, default_value_t = 2000)]
    idle_connections: usize,
    /// RLIMIT_NOFILE (soft and hard) set on the server for the idle test.
    #[arg(long, default_value_t = 1024)]
    nofile: u64,
    /// Client loops sending requests while SIGTERM arrives.
    #[arg(long, default_value_t = 32)]
    load_clients: usize,
    /// How many times to start the API, load it and send SIGTERM.
    #[arg(long, default_value_t = 3)]
    sigterm_rounds: usize,
}

const SECRET: &str = "bench-secret-bench-secret-bench-secret";
/// A slow client still connected after this is reported as held "for good".
const GIVE_UP: Duration = Duration::from_secs(120);

pub fn run(sh: &Shell, args: Args) -> Result<()> {
    let bin_dir = release_binaries(sh, &["todo-api"])?;
    let bin = bin_dir.join("todo-api");
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let pg = PgServer::start()?;
        let url = pg.create_database("bench_conns")?;
        let env = vec![
            ("DATABASE_URL", url.clone()),
            ("JWT_SECRET", SECRET.to_owned()),
            ("RUST_LOG", "error".to_owned()),
        ];
        // This process opens thousands of sockets too: lift its own soft limit to the hard one.
        let own = raise_own_nofile();

        eprintln!("slow clients against the default settings (one byte or line every {} s)...", args.drip_seconds);
        let mut api = spawn(&bin, &env, &[]).await?;
        let addr = format!("127.0.0.1:{}", api.port);
        let drip = Duration::from_secs(args.drip_seconds);
        let (headers, idle, body) = tokio::join!(
            hold_slow_headers(&addr, drip),
            hold_idle_keep_alive(&addr),
            hold_slow_body(&addr, drip),
        );
        api.terminate(Duration::from_secs(30)).await?;

        let mut floods = Vec::new();
        for cap in [None, Some(100_000)] {
            eprintln!("{} idle connections, server RLIMIT_NOFILE {}, HTTP_MAX_CONNECTIONS {}...", args.idle_connections, args.nofile, cap.map_or("default".to_owned(), |c: usize| c.to_string()));
            let extra: Vec<(&str, String)> = cap.map(|c| ("HTTP_MAX_CONNECTIONS", c.to_string())).into_iter().collect();
            let mut api = spawn(&bin, &env, &extra).await?;
            let pid = api.pid().context("todo-api exited")?;
            let limit = set_nofile(pid, args.nofile)?;
            floods.push((cap, limit, flood(&api.base_url(), &format!("127.0.0.1:{}", api.port), pid, args.idle_connections).await));
            api.terminate(Duration::from_secs(30)).await?;
        }

        eprintln!("SIGTERM with {} clients sending requests, 50 idle and 50 half-open connections...", args.load_clients);
        let mut terms = Vec::new();
        for round in 0..args.sigterm_rounds {
            let mut api = spawn(&bin, &env, &[("SHUTDOWN_GRACE_SECONDS", "20".to_owned())]).await?;
            terms.push(sigterm_under_load(&mut api, args.load_clients, round).await?);
        }

        println!("\nbench conns: release todo-api, default connection settings unless noted, this machine");
        println!("  this load generator's RLIMIT_NOFILE     {own}");
        println!("  how long a slow client holds a connection (gave up at {} s):", GIVE_UP.as_secs());
        println!("    headers, a line every {:>2} s          {}", args.drip_seconds, held(&headers));
        println!("    idle keep-alive after one request    {}", held(&idle));
        println!("    body, a byte every {:>2} s             {}", args.drip_seconds, held(&body));
        for (cap, limit, f) in &floods {
            println!(
                "  {} idle keep-alive connections, server RLIMIT_NOFILE {limit}, HTTP_MAX_CONNECTIONS {}:",
                args.idle_connections,
                cap.map_or("512 (default)".to_owned(), |c| c.to_string())
            );
            println!("    opened and answered                  {} (the rest refused or closed: {})", f.opened, args.idle_connections - f.opened);
            println!("    server's open descriptors, peak      {}", f.peak_fds);
            println!("    /livez on fresh connections          {}/{} answered 200, slowest {:.1} ms", f.livez_ok, f.livez_tries, ms(f.livez_slowest));
        }
        println!("  SIGTERM under load ({} clients on /livez and the task list, 50 idle, 50 half-open), {} rounds:", args.load_clients, terms.len());
        for term in &terms {
            println!(
                "    answered {:>6}, failed (sent, no answer) {}, non-2xx {}, refused after the close {:>3}, SIGTERM -> exit {:>4.0} ms (grace 20 s), exit {}",
                term.ok,
                term.failed,
                term.non_success,
                term.refused,
                ms(term.exit_after),
                if term.clean { "0" } else { "not 0" }
            );
        }
        drop(pg);
        Ok(())
    })
}

async fn spawn(
    bin: &Path,
    env: &[(&str, String)],
    extra: &[(&str, String)],
) -> Result<ServiceProcess> {
    let all: Vec<(&str, String)> = env.iter().chain(extra).cloned().collect();
    let mut api = ServiceProcess::spawn("todo-api", bin, free_port()?, &all, LogMode::Quiet)?;
    api.wait_ready(Duration::from_secs(30)).await?;
    Ok(api)
}

/// Lifts this process's soft RLIMIT_NOFILE to its hard limit; returns "soft/hard" as it is then.
fn raise_own_nofile() -> String {
    let me = std::process::id();
    if let Some((_, hard)) = nofile_of(me) {
        let _ = std::process::Command::new("prlimit")
            .args(["--pid", &me.to_string(), &format!("--nofile={hard}:{hard}")])
            .status();
    }
    nofile_of(me).map_or("unknown".to_owned(), |(s, h)| format!("{s}/{h}"))
}

/// Sets the process's RLIMIT_NOFILE (soft and hard) with `prlimit`; returns the soft limit read back.
fn set_nofile(pid: u32, limit: u64) -> Result<u64> {
    let status = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={limit}:{limit}"),
        ])
        .status()
        .context("running prlimit (util-linux)")?;
    anyhow::ensure!(
        status.success(),
        "prlimit --nofile={limit} failed for pid {pid}"
    );
    nofile_of(pid)
        .map(|(soft, _)| soft)
        .context("reading the server's limits")
}

/// (soft, hard) "Max open files" from /proc/PID/limits.
fn nofile_of(pid: u32) -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut numbers = line.split_whitespace().skip(3);
    Some((numbers.next()?.parse().ok()?, numbers.next()?.parse().ok()?))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// How long the connection stayed open, and what the server answered if anything.
struct Held {
    open_for: Duration,
    answer: Option<String>,
}

fn held(h: &Result<Held>) -> String {
    match h {
        Ok(h) if h.open_for >= GIVE_UP => format!("still open after {} s", GIVE_UP.as_secs()),
        Ok(h) => format!(
            "closed after {:.1} s{}",
            h.open_for.as_secs_f64(),
            h.answer
                .as_ref()
                .map_or(String::new(), |a| format!(", answered {a:?}"))
        ),
        Err(e) => format!("error: {e:#}"),
    }
}

/// Reads until EOF (or [`GIVE_UP`]); the first line read, if any, is the answer.
async fn until_closed(stream: &mut TcpStream, started: Instant) -> Held {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = GIVE_UP.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
    let answer = (!seen.is_empty()).then(|| {
        String::from_utf8_lossy(&seen)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    Held {
        open_for: started.elapsed(),
        answer,
    }
}

async fn hold_slow_headers(addr: &str, drip: Duration) -> Result<Held> {
    let mut stream = TcpStream::connect(addr).await?;
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        let _ = writer.write_all(b"GET /livez HTTP/1.1\r\n").await;
        for i in 0.. {
            tokio::time::sleep(drip).await;
            if writer
                .write_all(format!("x-slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let mut byte = [0u8; 1];
    tokio::select! {
        () = trickle => {}
        _ = reader.read(&mut byte) => {}
        () = tokio::time::sleep(GIVE_UP) => {}
    }
    Ok(Held {
        open_for: started.elapsed(),
        answer: None,
    })
}

async fn hold_idle_keep_alive(addr: &str) -> Result<Held> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /livez HTTP/1.1\r\nHost: bench\r\n\r\n")
        .await?;
    read_head(&mut stream).await?;
    // /livez answers a small JSON body; give it a moment to arrive, then time the idle wait.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut drain = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_millis(10), stream.read(&mut drain)).await;
    let started = Instant::now();
    let mut held = until_closed(&mut stream, started).await;
    held.answer = None;
    Ok(held)
}

async fn hold_slow_body(addr: &str, drip: Duration) -> Result<Held> {
    let mut stream = TcpStream::connect(addr).await?;
    let started = Instant::now();
    stream
        .write_all(b"POST /api/auth/login HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        .await?;
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        loop {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(drip).await;
        }
        std::future::pending::<()>().await;
    };
    let mut seen = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::select! {
        () = trickle => {}
        () = read => {}
        () = tokio::time::sleep(GIVE_UP) => {}
    }
    let answer = (!seen.is_empty()).then(|| {
        String::from_utf8_lossy(&seen)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    Ok(Held {
        open_for: started.elapsed(),
        answer,
    })
}

async fn read_head(stream: &mut TcpStream) -> Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        anyhow::ensure!(
            stream.read(&mut byte).await? == 1,
            "closed before the response head"
        );
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

struct Flood {
    opened: usize,
    peak_fds: usize,
    livez_ok: usize,
    livez_tries: usize,
    livez_slowest: Duration,
}

/// Opens `count` keep-alive connections, each after one answered request, and keeps them;
/// then probes /livez on fresh connections, as a kubelet would.
async fn flood(base: &str, addr: &str, pid: u32, count: usize) -> Flood {
    let mut held = Vec::new();
    let mut opened = 0;
    let mut peak_fds = 0;
    for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
        let tasks: Vec<_> = chunk
            .iter()
            .map(|_| {
                let addr = addr.to_owned();
                tokio::spawn(async move {
                    let mut s = TcpStream::connect(&addr).await.ok()?;
                    s.write_all(b"GET /livez HTTP/1.1\r\nHost: bench\r\n\r\n")
                        .await
                        .ok()?;
                    tokio::time::timeout(Duration::from_secs(5), read_head(&mut s))
                        .await
                        .ok()?
                        .ok()?;
                    Some(s)
                })
            })
            .collect();
        for t in tasks {
            if let Ok(Some(s)) = t.await {
                opened += 1;
                held.push(s);
            }
        }
        peak_fds = peak_fds.max(open_fds(pid));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_default();
    let (mut livez_ok, mut livez_slowest) = (0, Duration::ZERO);
    let livez_tries = 20;
    for _ in 0..livez_tries {
        let started = Instant::now();
        if let Ok(r) = client.get(format!("{base}/livez")).send().await
            && r.status() == 200
        {
            livez_ok += 1;
        }
        livez_slowest = livez_slowest.max(started.elapsed());
        peak_fds = peak_fds.max(open_fds(pid));
    }
    drop(held);
    Flood {
        opened,
        peak_fds,
        livez_ok,
        livez_tries,
        livez_slowest,
    }
}

struct Term {
    ok: u64,
    failed: u64,
    non_success: u64,
    refused: u64,
    exit_after: Duration,
    clean: bool,
}

async fn sigterm_under_load(
    api: &mut ServiceProcess,
    clients: usize,
    round: usize,
) -> Result<Term> {
    let base = api.base_url();
    let addr = format!("127.0.0.1:{}", api.port);
    let http = reqwest::Client::new();
    let token = register(&http, &base, &format!("conns{round}@example.com")).await?;
    // Idle keep-alive and half-open connections that must not hold up the exit.
    let mut bystanders = Vec::new();
    for i in 0..100 {
        let mut s = TcpStream::connect(&addr).await?;
        if i % 2 == 0 {
            s.write_all(b"GET /livez HTTP/1.1\r\nHost: bench\r\n\r\n")
                .await?;
            read_head(&mut s).await?;
        } else {
            s.write_all(b"GET /livez HTTP/1.1\r\nHost: be").await?;
        }
        bystanders.push(s);
    }
    let loops: Vec<_> = (0..clients)
        .map(|i| {
            let base = base.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut ok, mut failed, mut non_success, mut refused) = (0u64, 0u64, 0u64, 0u64);
                loop {
                    let request = if i % 2 == 0 {
                        client.get(format!("{base}/livez"))
                    } else {
                        client
                            .get(format!("{base}/api/tasks?limit=20"))
                            .bearer_auth(&token)
                    };
                    match request.send().await {
                        Ok(r) if r.status().is_success() => match r.bytes().await {
                            Ok(_) => ok += 1,
                            Err(_) => failed += 1,
                        },
                        Ok(_) => non_success += 1,
                        // The listener is closed: the client never got in (expected after SIGTERM).
                        Err(e) if e.is_connect() => {
                            refused += 1;
                            break;
                        }
                        Err(_) => failed += 1,
                    }
                }
                (ok, failed, non_success, refused)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let clean = api.terminate(Duration::from_secs(30)).await?;
    let exit_after = started.elapsed();
    let mut term = Term {
        ok: 0,
        failed: 0,
        non_success: 0,
        refused: 0,
        exit_after,
        clean,
    };
    for l in loops {
        let (ok, failed, non_success, refused) = l.await?;
        term.ok += ok;
        term.failed += failed;
        term.non_success += non_success;
        term.refused += refused;
    }
    drop(bystanders);
    Ok(term)
}
