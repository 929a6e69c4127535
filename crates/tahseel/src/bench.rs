//! `tahseel bench`: what this machine can do, measured in one run against
//! servers the command starts itself. Captured payments per second end to
//! end over HTTP (create → card page → signed notice → capture → ledger →
//! outbox) with request latencies at several client counts; beside them,
//! PostgreSQL's own TPC-B-like rate (pgbench) on the same server and the
//! disk's durable-write rate; ledger postings per second without HTTP; a
//! report over a large database; and this process's peak memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use tahseel_core::payer::PayerId;
use tahseel_core::payment::{Channel, Method};
use tahseel_core::Fils;
use uuid::Uuid;

use crate::acquirer::HostedSession;
use crate::app::{AcquirerSetting, HubConfig};
use crate::error::{Error, Result};
use crate::store::{AcquirerOutcome, NewBill, NewPayment, Store};

pub struct BenchOptions {
    /// A PostgreSQL server to measure beside SQLite (a fresh database is made on it).
    pub postgres_url: Option<String>,
    pub clients: Vec<usize>,
    pub seconds: f64,
    /// A database holding many payments, to time a report on.
    pub report_db: Option<String>,
    /// Group commit in the measured server.
    pub group_commit: Option<usize>,
    /// Each measured server a `tahseel serve` process of its own, so that
    /// its memory is measured apart from the load clients and the acquirer.
    pub server_process: bool,
}

/// Latency percentiles of one kind of request, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Percentiles {
    pub p50: f64,
    pub p99: f64,
    pub p999: f64,
}

fn percentiles(mut samples: Vec<Duration>) -> Percentiles {
    samples.sort();
    let at = |q: f64| {
        if samples.is_empty() {
            return 0.0;
        }
        let i = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[i].as_secs_f64() * 1000.0
    };
    Percentiles {
        p50: at(0.50),
        p99: at(0.99),
        p999: at(0.999),
    }
}

#[derive(Debug, Clone)]
pub struct HttpRun {
    pub backend: &'static str,
    pub clients: usize,
    pub captures_per_sec: f64,
    pub create: Percentiles,
    pub pay: Percentiles,
    pub pgbench_tps: Option<f64>,
    /// The clients pgbench ran with, where the server allowed fewer than asked.
    pub pgbench_clients: Option<usize>,
    /// Writes per shared transaction during the run (group commit on, the
    /// server in this process).
    pub writes_per_tx: Option<f64>,
    /// The server process's peak memory, in MiB (the server in a process
    /// of its own).
    pub server_rss_mib: Option<f64>,
}

/// Durable writes per second: 4 KiB written and `fdatasync`ed in a loop.
pub fn fsync_rate(dir: &std::path::Path, seconds: f64) -> Result<f64> {
    use std::io::Write;
    let path = dir.join("fsync-probe");
    let mut file =
        std::fs::File::create(&path).map_err(|e| Error::Invalid(format!("fsync probe: {e}")))?;
    let block = [0u8; 4096];
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        file.write_all(&block)
            .and_then(|_| file.sync_data())
            .map_err(|e| Error::Invalid(format!("fsync probe: {e}")))?;
        n += 1;
    }
    let _ = std::fs::remove_file(&path);
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// PostgreSQL's TPC-B-like transactions per second at `clients`, by pgbench.
pub fn pgbench(url: &str, clients: usize, seconds: f64) -> Result<f64> {
    let out = std::process::Command::new("pgbench")
        .args([
            "-n",
            "-b",
            "tpcb-like",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.min(2).to_string(),
            "-T",
        ])
        .arg(format!("{}", seconds.ceil().max(1.0) as u64))
        .arg(url)
        .output()
        .map_err(|e| Error::Invalid(format!("pgbench: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("tps = ")
                .and_then(|r| r.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .ok_or_else(|| {
            Error::Invalid(format!(
                "pgbench gave no tps: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            ))
        })
}

fn pgbench_init(url: &str) -> Result<()> {
    let out = std::process::Command::new("pgbench")
        .args(["-i", "-q", "-s", "10", url])
        .output()
        .map_err(|e| Error::Invalid(format!("pgbench: {e}")))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "pgbench -i: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// How many more connections the server takes now, less a few to spare.
async fn free_connections(store: &Store) -> Result<usize> {
    let Store::Postgres(pool, _) = store else {
        return Ok(0);
    };
    let free: i64 = sqlx::query_scalar(
        "SELECT (current_setting('max_connections')::int \
         - current_setting('superuser_reserved_connections')::int \
         - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int \
         - 5)::bigint",
    )
    .fetch_one(pool)
    .await?;
    Ok(free.max(0) as usize)
}

/// Makes `count` open bills to pay during a run (not timed).
async fn bills(store: &Store, count: usize) -> Result<Vec<Uuid>> {
    let agency = store.agency_by_code("GDT").await?;
    let run = Uuid::now_v7().simple().to_string();
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count)
        .collect::<Vec<_>>()
        .chunks(crate::store::MAX_BULK)
    {
        let lines = chunk
            .iter()
            .map(|i| {
                let new = NewBill {
                    service: "traffic-fines".into(),
                    reference: format!("BENCH-{run}-{i}"),
                    payer: PayerId::parse("850101234").expect("valid CPR"),
                    amount: Some(Fils::new(10_000)),
                    due_date: NaiveDate::from_ymd_opt(2030, 1, 1).expect("valid date"),
                    expires_at: None,
                };
                (*i, Ok(new))
            })
            .collect();
        match store.create_bills(agency.id, lines).await? {
            Ok(made) => ids.extend(made.into_iter().map(|b| b.id)),
            Err(bad) => return Err(Error::Invalid(format!("bench bills: {bad:?}"))),
        }
    }
    Ok(ids)
}

/// A `tahseel serve` of this executable in a process of its own.
struct ServerProcess {
    child: tokio::process::Child,
    base: String,
}

impl ServerProcess {
    /// Starts it on `url`, with the simulated acquirer at `acquirer`, and
    /// waits until it serves.
    async fn start(
        url: &str,
        acquirer: &str,
        secret: &str,
        group_commit: Option<usize>,
    ) -> Result<ServerProcess> {
        use tokio::io::AsyncBufReadExt;
        let failed = |e: std::io::Error| Error::Invalid(format!("server process: {e}"));
        let exe = std::env::current_exe().map_err(failed)?;
        let mut child = tokio::process::Command::new(exe)
            .args(["--database-url", url, "serve", "--listen", "127.0.0.1:0"])
            .args(["--webhook-every-ms", "0", "--reconcile-every-ms", "0"])
            .arg("--acquirer")
            .arg(format!("sim={acquirer}"))
            .arg("--acquirer-secret")
            .arg(format!("sim={secret}"))
            .arg("--group-commit")
            .arg(group_commit.unwrap_or(0).to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(failed)?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let serving = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("Tahseel is serving on ") {
                    return Ok(rest.split_whitespace().next().unwrap_or("").to_owned());
                }
            }
            Err(std::io::Error::other("it stopped before serving"))
        };
        let base = tokio::time::timeout(Duration::from_secs(60), serving)
            .await
            .map_err(|_| failed(std::io::Error::other("not serving after 60 s")))?
            .map_err(failed)?;
        // Whatever else it prints is read, so that it never waits on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess { child, base })
    }

    /// Its peak memory so far, then stops it.
    async fn stop(mut self) -> Option<f64> {
        let rss = self
            .child
            .id()
            .and_then(|pid| peak_rss_of(&format!("/proc/{pid}/status")));
        let _ = self.child.kill().await;
        rss
    }
}

/// The server a run measures.
enum Server {
    InProcess(crate::app::Running),
    Process(ServerProcess),
}

/// Captured payments per second over HTTP with `clients` at once.
async fn http_run(
    (store, url): (&Store, &str),
    backend: &'static str,
    clients: usize,
    seconds: f64,
    group_commit: Option<usize>,
    server_process: bool,
) -> Result<HttpRun> {
    let secret = "bench-acquirer".to_owned();
    let (sim_addr, _sim, sim_task) = crate::simulator::start(
        "127.0.0.1:0".parse().expect("addr"),
        secret.clone(),
        Duration::from_secs(900),
        None,
    )
    .await
    .map_err(|e| Error::Invalid(format!("simulator: {e}")))?;
    let acquirer_url = format!("http://{sim_addr}");
    let (base, server) = if server_process {
        let process = ServerProcess::start(url, &acquirer_url, &secret, group_commit).await?;
        (process.base.clone(), Server::Process(process))
    } else {
        let config = HubConfig {
            acquirers: vec![AcquirerSetting {
                name: "sim".into(),
                url: acquirer_url,
                secret,
            }],
            group_commit,
            ..HubConfig::default()
        };
        let server = crate::app::start(
            store.clone(),
            "127.0.0.1:0".parse().expect("addr"),
            config,
            std::future::pending(),
        )
        .await
        .map_err(|e| Error::Invalid(format!("server: {e}")))?;
        (format!("http://{}", server.addr), Server::InProcess(server))
    };
    // Enough bills that no client runs out: a generous guess at the rate.
    let bill_ids =
        Arc::new(bills(store, (clients * 40 + 2000) * (seconds.ceil() as usize + 1)).await?);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let grouped = |store: &Store| {
        store.group_stats().map(|s| {
            use std::sync::atomic::Ordering::Relaxed;
            (s.transactions.load(Relaxed), s.writes.load(Relaxed))
        })
    };
    // Untimed first: the tables then hold bills and payments, as a live
    // hub's do, and have statistics (autovacuum's analyze, done here at
    // once). On an empty table PostgreSQL plans lookups as scans, and keeps
    // those plans (foreign-key checks among them) until the next analyze.
    let warm_up = Duration::from_secs_f64((seconds * 0.2).clamp(0.2, 1.0));
    let load = Load {
        client,
        base,
        bill_ids,
        next: Arc::new(AtomicUsize::new(0)),
    };
    load.run(clients, Instant::now() + warm_up).await?;
    store.analyze().await?;
    // On stderr, so a profiler can be attached for the timed part only.
    tracing::info!(backend, clients, seconds, "timed run starts");
    let grouped_before = grouped(store);
    let started = Instant::now();
    let (creates, pays, done) = load
        .run(clients, started + Duration::from_secs_f64(seconds))
        .await?;
    let elapsed = started.elapsed().as_secs_f64();
    let writes_per_tx = match (grouped_before, grouped(store)) {
        (Some((t0, w0)), Some((t1, w1))) if t1 > t0 => Some((w1 - w0) as f64 / (t1 - t0) as f64),
        _ => None,
    };
    let server_rss_mib = match server {
        Server::InProcess(running) => {
            running.task.abort();
            None
        }
        Server::Process(process) => process.stop().await,
    };
    sim_task.abort();
    Ok(HttpRun {
        backend,
        clients,
        captures_per_sec: done as f64 / elapsed,
        create: percentiles(creates),
        pay: percentiles(pays),
        pgbench_tps: None,
        pgbench_clients: None,
        writes_per_tx,
        server_rss_mib,
    })
}

/// Load clients paying bills in turn, each bill once.
struct Load {
    client: reqwest::Client,
    base: String,
    bill_ids: Arc<Vec<Uuid>>,
    next: Arc<AtomicUsize>,
}

/// Request latencies of each kind, and the payments captured.
type Measured = (Vec<Duration>, Vec<Duration>, usize);

impl Load {
    /// `clients` at once, each creating a payment and paying it on the
    /// acquirer's card page, again and again until `deadline`.
    async fn run(&self, clients: usize, deadline: Instant) -> Result<Measured> {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..clients {
            let (client, base, bill_ids, next) = (
                self.client.clone(),
                self.base.clone(),
                self.bill_ids.clone(),
                self.next.clone(),
            );
            tasks.spawn(async move {
                let mut creates = Vec::new();
                let mut pays = Vec::new();
                let mut done = 0usize;
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(bill) = bill_ids.get(i) else { break };
                    let t = Instant::now();
                    let created: serde_json::Value = match client
                        .post(format!("{base}/api/v1/payments"))
                        .header("Idempotency-Key", Uuid::now_v7().to_string())
                        .json(&serde_json::json!({"channel": "mobile", "method": "debit", "lines": [{"bill_id": bill, "amount": "10.000"}]}))
                        .send()
                        .await
                    {
                        Ok(r) => r.json().await.unwrap_or_default(),
                        Err(_) => continue,
                    };
                    creates.push(t.elapsed());
                    let Some(page) = created["next_url"].as_str() else { continue };
                    let t = Instant::now();
                    let paid = client
                        .post(page)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body("card_number=4111111111111111&expiry=12%2F39&cvv=123")
                        .send()
                        .await;
                    if paid.is_ok_and(|r| r.status().is_redirection()) {
                        pays.push(t.elapsed());
                        done += 1;
                    }
                }
                (creates, pays, done)
            });
        }
        let (mut creates, mut pays, mut done) = (Vec::new(), Vec::new(), 0);
        while let Some(r) = tasks.join_next().await {
            let (c, p, d) = r.map_err(|e| Error::Invalid(format!("client: {e}")))?;
            creates.extend(c);
            pays.extend(p);
            done += d;
        }
        Ok((creates, pays, done))
    }
}

/// Ledger postings per second through the store's own capture path, no HTTP:
/// create, send to the acquirer, capture (two postings each).
async fn postings_rate(store: &Store, seconds: f64) -> Result<f64> {
    let ids = bills(store, 20_000).await?;
    let started = Instant::now();
    let mut captured = 0usize;
    for (n, bill) in ids.iter().enumerate() {
        if started.elapsed().as_secs_f64() >= seconds {
            break;
        }
        let id = Uuid::now_v7();
        let acquirer_ref = format!("bench-{n}-{id}");
        let new = NewPayment {
            id,
            channel: Channel::Counter,
            method: Method::Debit,
            lines: vec![(*bill, Fils::new(10_000))],
            fee: Fils::ZERO,
            acquirer: "bench".into(),
            kiosk: None,
            idempotency_key: format!("bench-{}", Uuid::now_v7()),
            request_hash: String::new(),
            session: Some(HostedSession {
                acquirer_ref: acquirer_ref.clone(),
                next_url: "about:blank".into(),
            }),
        };
        let payment = store.create_payment(new).await?.into_inner();
        let outcome = AcquirerOutcome::Approved {
            acquirer_ref,
            amount: payment.total,
            card_brand: "visa".into(),
            card_last4: "1111".into(),
        };
        store.apply_outcome(payment.id, &outcome).await?;
        captured += 1;
    }
    Ok(captured as f64 * 2.0 / started.elapsed().as_secs_f64())
}

/// Median of ten runs of the 2018-H1 report by service, in milliseconds.
async fn report_ms(url: &str) -> Result<(f64, i64)> {
    use crate::report::{build, Period, ReportRequest};
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let mut times = Vec::new();
    let mut count = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let r = build(
            &store,
            ReportRequest {
                period: Period::parse("2018-H1")?,
                compare: None,
                by: vec![crate::store::Dimension::Service],
                net: false,
            },
        )
        .await?;
        times.push(t.elapsed());
        count = r.total.count + r.total.compare_count;
    }
    Ok((percentiles(times).p50, count))
}

/// The peak resident memory of this process, in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    peak_rss_of("/proc/self/status")
}

/// The peak resident memory in a `/proc/…/status` file, in MiB.
fn peak_rss_of(status: &str) -> Option<f64> {
    let status = std::fs::read_to_string(status).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Prints a line of the table as soon as it is measured, and keeps it.
fn emit(out: &mut String, line: &str) {
    print!("{line}");
    out.push_str(line);
}

/// Runs everything, printing the table as it goes, and returns it as text.
pub async fn run(opts: BenchOptions) -> Result<String> {
    let dir = tempfile_dir()?;
    let mut out = String::new();
    let fsyncs = fsync_rate(&dir, opts.seconds.min(2.0))?;
    emit(
        &mut out,
        &format!(
            "disk: {fsyncs:.0} fdatasync'd 4 KiB writes per second ({})\n",
            dir.display()
        ),
    );
    let mut stores: Vec<(&'static str, Store, String, Option<String>)> = Vec::new();
    let sqlite_url = format!("sqlite://{}", dir.join("bench.db").display());
    let sqlite = Store::connect(&sqlite_url).await?;
    stores.push(("sqlite", sqlite, sqlite_url, None));
    if let Some(url) = &opts.postgres_url {
        let name = format!("tahseel_bench_{}", Uuid::now_v7().simple());
        let admin = Store::connect(url).await?;
        if let Store::Postgres(pool, _) = &admin {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(pool)
                .await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name}_pgbench"
            )))
            .execute(pool)
            .await?;
        }
        let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
        let pgbench_url = format!("{base}/{name}_pgbench");
        pgbench_init(&pgbench_url)?;
        let url = format!("{base}/{name}");
        stores.push((
            "postgres",
            Store::connect(&url).await?,
            url,
            Some(pgbench_url),
        ));
    }
    emit(&mut out, "\nbackend   clients  captures/s  create p50/p99/p99.9 ms   pay p50/p99/p99.9 ms   pgbench tps  captures/tps  captures/fsync  writes/tx\n");
    let mut server_rss = Vec::new();
    for (backend, store, url, pgbench_url) in &stores {
        store.migrate().await?;
        crate::demo::load(store).await?;
        let mut peak: Option<f64> = None;
        for &clients in &opts.clients {
            let mut run = http_run(
                (store, url),
                backend,
                clients,
                opts.seconds,
                opts.group_commit,
                opts.server_process,
            )
            .await?;
            if let Some(mib) = run.server_rss_mib {
                peak = Some(peak.map_or(mib, |p| p.max(mib)));
            }
            if let Some(url) = pgbench_url {
                match pgbench(url, clients, opts.seconds) {
                    Ok(tps) => run.pgbench_tps = Some(tps),
                    // More clients than the server allows connections, say:
                    // say so, and run it with as many as the server allows.
                    Err(e) => {
                        emit(
                            &mut out,
                            &format!(
                                "pgbench at {clients} clients did not run: {}\n",
                                e.to_string().lines().last().unwrap_or("")
                            ),
                        );
                        let allowed = free_connections(store).await?;
                        if allowed > 0 && allowed < clients {
                            let tps = pgbench(url, allowed, opts.seconds)?;
                            emit(&mut out, &format!("pgbench at {allowed} clients instead, the most this server allows now: {tps:.0} tps\n"));
                            run.pgbench_tps = Some(tps);
                            run.pgbench_clients = Some(allowed);
                        }
                    }
                }
            }
            let tps = match (run.pgbench_tps, run.pgbench_clients) {
                (Some(t), Some(n)) => format!("{:>11}", format!("{t:.0}@{n}")),
                (Some(t), None) => format!("{t:>11.0}"),
                _ => format!("{:>11}", "-"),
            };
            let ratio = run
                .pgbench_tps
                .map(|t| format!("{:>12.2}", run.captures_per_sec / t))
                .unwrap_or_else(|| format!("{:>12}", "-"));
            let per_tx = run
                .writes_per_tx
                .map(|w| format!("{w:>9.1}"))
                .unwrap_or_else(|| format!("{:>9}", "-"));
            emit(&mut out, &format!(
                "{:<9} {:>7}  {:>10.0}  {:>6.1} {:>6.1} {:>7.1}    {:>6.1} {:>6.1} {:>7.1}  {tps}  {ratio}  {:>14.3}  {per_tx}\n",
                run.backend,
                run.clients,
                run.captures_per_sec,
                run.create.p50,
                run.create.p99,
                run.create.p999,
                run.pay.p50,
                run.pay.p99,
                run.pay.p999,
                run.captures_per_sec / fsyncs,
            ));
        }
        let postings = postings_rate(store, opts.seconds).await?;
        emit(&mut out, &format!("{backend}: {postings:.0} ledger postings per second in process (create, send, capture; one at a time)\n"));
        // A server runs on one database: the next backend's runs should
        // not carry this one's connections, caches and mapped pages.
        store.close().await;
        if let Some(mib) = peak {
            server_rss.push(format!("{backend} {mib:.0} MiB"));
        }
    }
    if let Some(url) = &opts.report_db {
        let (ms, count) = report_ms(url).await?;
        emit(&mut out, &format!("report 2018-H1 by service over a database of {count} transactions in the two half-years: {ms:.1} ms (median of 10)\n"));
    }
    if !server_rss.is_empty() {
        emit(
            &mut out,
            &format!(
                "peak RSS of the server process, over its runs: {}\n",
                server_rss.join(", ")
            ),
        );
    }
    if let Some(mib) = peak_rss_mib() {
        let what = if opts.server_process {
            "simulator and load clients"
        } else {
            "servers, simulator and load clients together"
        };
        emit(
            &mut out,
            &format!("peak RSS of this process ({what}): {mib:.0} MiB\n"),
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("tahseel-bench-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))?;
    Ok(dir)
}
