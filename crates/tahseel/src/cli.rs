//! The `tahseel` command line.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tahseel_core::agency::{parse_iban, AgencyCode, Names, ServiceCode, ServiceKind, ServiceTerms};
use tahseel_core::Fils;

use std::time::Duration;

use tahseel_core::payment::Method;

use crate::app::{AcquirerSetting, HubConfig};
use crate::hub::ReconcileConfig;
use crate::store::{NewAgency, NewService, Store, DEFAULT_DATABASE_URL};

#[derive(Parser)]
#[command(
    name = "tahseel",
    version,
    about = "Tahseel — government e-payment collection hub"
)]
pub struct Cli {
    /// Database: sqlite://FILE (the embedded default) or postgres://…
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (migrates the database first).
    Serve(ServeArgs),
    /// Run the simulated card acquirer on its own.
    AcquirerSim {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Shared with Tahseel: authenticates its calls and signs notices.
        #[arg(long, env = "TAHSEEL_SIM_SECRET")]
        secret: String,
        /// How long a card page stays open.
        #[arg(long, default_value_t = 900)]
        session_ttl_secs: u64,
        /// The URL payers' browsers reach the simulator at (default: http://LISTEN).
        #[arg(long)]
        public_url: Option<String>,
    },
    /// Collections by period, with growth against a comparison period.
    Report(ReportArgs),
    /// Load payments from earlier collection systems.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Generate a scenario's payments through the payment and ledger code.
    Simulate {
        #[arg(long, default_value = "bahrain-2018-h1")]
        scenario: String,
        #[arg(long, default_value_t = 2018)]
        seed: u64,
        /// A multiple of the scenario's size: 0.05 for a quick look, 10 for ten million payments.
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// An agency's settlement statement for a Bahrain business day.
    Statement {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        date: chrono::NaiveDate,
        #[arg(long, value_enum, default_value = "json")]
        format: StatementFormat,
    },
    /// Pay a finished business day out to every agency: payable to bank, once per agency and day.
    Settle {
        #[arg(long)]
        date: chrono::NaiveDate,
    },
    /// Measure captures per second, latencies, pgbench, fsync, postings and reports on this machine.
    Bench {
        /// Also measure on this PostgreSQL server (a fresh database is made there).
        #[arg(long)]
        postgres_url: Option<String>,
        /// Concurrent clients, comma-separated.
        #[arg(long, default_value = "1,16,128", value_delimiter = ',')]
        clients: Vec<usize>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// A database with many payments (from `simulate --scale 10`) to time a report on.
        #[arg(long)]
        report_db: Option<String>,
        /// A short run that only shows every part works (CI).
        #[arg(long)]
        smoke: bool,
        /// Group commit in the measured server (as `serve --group-commit`); 0 turns it off.
        #[arg(long, default_value_t = 64)]
        group_commit: usize,
        /// Run each measured server as a `tahseel serve` process of its own
        /// and print its peak memory (writes/tx is then not shown).
        #[arg(long)]
        server_process: bool,
    },
    /// Agency webhooks.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Check or rebuild the daily rollups that reports read.
    Rollups {
        #[command(subcommand)]
        command: RollupsCommand,
    },
    /// Reconcile an acquirer's settlement file against the ledger.
    Reconcile {
        #[command(subcommand)]
        command: ReconcileCommand,
    },
    /// Apply database migrations.
    Migrate,
    /// Load the demo agencies, services and bills and print the bills.
    Demo,
    /// Manage kiosks and count their cash boxes.
    Kiosk {
        #[command(subcommand)]
        command: KioskCommand,
    },
    /// Manage agencies.
    Agency {
        #[command(subcommand)]
        command: AgencyCommand,
    },
    /// Manage services.
    Service {
        #[command(subcommand)]
        command: ServiceCommand,
    },
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Check the ledger.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Load the demo agencies, services and bills, and run the simulated acquirer.
    #[arg(long)]
    demo: bool,
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The URL payers' browsers and acquirers reach this node at (default: http://LISTEN).
    #[arg(long, env = "TAHSEEL_PUBLIC_URL")]
    public_url: Option<String>,
    /// An acquirer: NAME=URL (repeatable). Card methods go to the first unless routed.
    #[arg(long = "acquirer", value_name = "NAME=URL")]
    acquirers: Vec<String>,
    /// An acquirer's shared secret: NAME=SECRET (repeatable; also TAHSEEL_ACQUIRER_SECRETS, comma-separated).
    #[arg(
        long = "acquirer-secret",
        value_name = "NAME=SECRET",
        env = "TAHSEEL_ACQUIRER_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    acquirer_secrets: Vec<String>,
    /// Send a method to an acquirer: METHOD=NAME (repeatable).
    #[arg(long = "route", value_name = "METHOD=NAME")]
    routes: Vec<String>,
    /// A fee on top of the bills for a method: METHOD=BHD, like credit=0.500 (repeatable).
    #[arg(long = "fee", value_name = "METHOD=BHD")]
    fees: Vec<String>,
    /// Where the demo's simulated acquirer listens.
    #[arg(long, default_value = "127.0.0.1:8081")]
    sim_listen: SocketAddr,
    /// How long to wait for an acquirer's answer, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    acquirer_timeout_ms: u64,
    /// How often agency webhook events are sent, in milliseconds; 0 turns it off.
    #[arg(long, default_value_t = 1000)]
    webhook_every_ms: u64,
    /// How often the reconciler runs, in milliseconds; 0 turns it off.
    #[arg(long, default_value_t = 5000)]
    reconcile_every_ms: u64,
    /// Ask the acquirer about a payment pending this long, in milliseconds.
    #[arg(long, default_value_t = 120_000)]
    reconcile_after_ms: u64,
    /// Expire a payment that never reached an acquirer after this many seconds.
    #[arg(long, default_value_t = 900)]
    expire_unsent_after_secs: u64,
    /// Group commit: at most this many payment writes (new payments,
    /// payments sent to the acquirer, acquirer answers) share one
    /// transaction and one commit; 0 gives each its own.
    #[arg(long, default_value_t = 64)]
    group_commit: usize,
    /// A kiosk screen clears itself and ends the visit after this many idle seconds.
    #[arg(long, default_value_t = 90)]
    kiosk_idle_secs: u64,
    /// The national identity provider's issuer URL, for citizen sign-in (OpenID Connect).
    #[arg(long, env = "TAHSEEL_OIDC_ISSUER", requires_all = ["oidc_client_id", "oidc_client_secret"])]
    oidc_issuer: Option<String>,
    #[arg(long, env = "TAHSEEL_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    #[arg(long, env = "TAHSEEL_OIDC_CLIENT_SECRET", hide_env_values = true)]
    oidc_client_secret: Option<String>,
    /// Serve the development identity provider at /dev-idp and sign citizens in
    /// through it (on with --demo unless --oidc-issuer is given). Never in production.
    #[arg(long)]
    dev_idp: bool,
}

#[derive(Args)]
struct ReportArgs {
    /// 2018, 2018-H1, 2018-Q2 or 2018-03 (Bahrain time).
    #[arg(long, conflicts_with_all = ["from", "to"], required_unless_present_all = ["from", "to"])]
    period: Option<String>,
    /// First day, inclusive (YYYY-MM-DD).
    #[arg(long, requires = "to")]
    from: Option<chrono::NaiveDate>,
    /// Last day, inclusive.
    #[arg(long, requires = "from")]
    to: Option<chrono::NaiveDate>,
    /// The period to compare with (default: the same period a year earlier).
    #[arg(long)]
    compare: Option<String>,
    /// agency, service, channel, method or month, or a pair: service,channel.
    #[arg(long)]
    by: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: FormatArg,
    #[arg(long, default_value = "en")]
    lang: String,
    /// Subtract refunds paid in the period.
    #[arg(long)]
    net: bool,
    /// Write the press-release statement instead of the table.
    #[arg(long)]
    statement: bool,
    /// Also draw the report as a chart: FILE.svg or FILE.png.
    #[arg(long, value_name = "FILE")]
    chart: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// paid_at,agency,service,channel,method,amount,reference[,payer]
    Payments { file: std::path::PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum StatementFormat {
    Json,
    Csv,
    Camt053,
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Set an agency's webhook URL and issue its first signing secret (printed last).
    Set {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        url: String,
    },
    /// Put dead-lettered events back in the queue (one agency's, or all).
    Redeliver {
        #[arg(long)]
        agency: Option<String>,
    },
}

#[derive(Subcommand)]
enum RollupsCommand {
    /// Recompute from the ledger and list every difference; exit 1 on any.
    Verify,
    /// Replace the rollups with what the ledger says.
    Rebuild,
}

#[derive(Subcommand)]
enum ReconcileCommand {
    /// Match a settlement file line by line; exit 1 on any mismatch.
    Settlement {
        file: std::path::PathBuf,
        #[arg(long)]
        acquirer: String,
    },
}

#[derive(Subcommand)]
enum AgencyCommand {
    /// Add an agency.
    Add {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name_en: String,
        #[arg(long)]
        name_ar: String,
        /// Settlement IBAN (BH…).
        #[arg(long)]
        iban: Option<String>,
    },
    /// List agencies.
    List,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Bill,
    Fee,
}

#[derive(Subcommand)]
enum ServiceCommand {
    /// Add a service to an agency.
    Add(ServiceAdd),
}

#[derive(Args)]
struct ServiceAdd {
    #[arg(long)]
    agency: String,
    #[arg(long)]
    code: String,
    #[arg(long, value_enum)]
    kind: KindArg,
    /// The fixed fee of a fee service, in BHD (25.000).
    #[arg(long)]
    fee: Option<String>,
    /// Accept partial payments.
    #[arg(long)]
    partial: bool,
    #[arg(long)]
    name_en: String,
    #[arg(long)]
    name_ar: String,
}

#[derive(Subcommand)]
enum KioskCommand {
    /// Register a kiosk; its key is printed once, alone on the last line.
    Add {
        /// Like MUH-01: capital letters, digits and dashes.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name_en: String,
        #[arg(long)]
        name_ar: String,
    },
    /// List kiosks.
    List,
    /// Stop a kiosk's key from working.
    Revoke {
        #[arg(long)]
        kiosk: String,
    },
    /// Reconcile a counted cash box against the ledger and empty it there:
    /// prints what the ledger expected, what was counted and the difference.
    Cashup {
        #[arg(long)]
        kiosk: String,
        /// The cash counted in the box, in BHD (like 245.500).
        #[arg(long)]
        counted: String,
        #[arg(long, value_enum, default_value = "text")]
        format: CashupFormat,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CashupFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum ApikeyCommand {
    /// Issue a key; it is printed once, alone on the last line.
    Create {
        /// The agency the key acts for.
        #[arg(long, conflicts_with = "admin", required_unless_present = "admin")]
        agency: Option<String>,
        /// An administrator key instead.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Recompute every entry and balance from the postings; exit 1 on any fault.
    Verify,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn open(url: &str) -> anyhow::Result<Store> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    Ok(store)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let store = open(&cli.database_url).await?;
    match cli.command {
        Command::Serve(args) => serve(store, args).await?,
        Command::AcquirerSim {
            listen,
            secret,
            session_ttl_secs,
            public_url,
        } => {
            let (addr, _sim, task) = crate::simulator::start(
                listen,
                secret,
                Duration::from_secs(session_ttl_secs),
                public_url,
            )
            .await?;
            println!("simulated acquirer on http://{addr}");
            tokio::select! { r = task => { r??; }, _ = shutdown_signal() => {} }
        }
        Command::Report(args) => report(&store, args).await?,
        Command::Import {
            command: ImportCommand::Payments { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let payments = match crate::import::check(&store, &text).await? {
                Ok(p) => p,
                Err(bad) => {
                    for b in &bad {
                        println!("line {}: {}", b.line, b.reason);
                    }
                    println!("nothing imported: {} bad line(s)", bad.len());
                    return Ok(ExitCode::FAILURE);
                }
            };
            let bar = progress_bar(payments.len() as u64);
            let written = crate::import::import(&store, &payments, |n| bar.inc(n)).await?;
            bar.finish_and_clear();
            println!(
                "imported {written} payment(s); {} were already there",
                payments.len() as u64 - written
            );
        }
        Command::Simulate {
            scenario,
            seed,
            scale,
        } => {
            let bar = progress_bar(crate::simulate::planned(scale));
            let started = std::time::Instant::now();
            let written =
                crate::simulate::run(&store, &scenario, seed, scale, |n| bar.inc(n)).await?;
            bar.finish_and_clear();
            println!(
                "simulated {written} new payment(s) in {:.1} s (scenario {scenario}, seed {seed})",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Bench {
            postgres_url,
            clients,
            seconds,
            report_db,
            smoke,
            group_commit,
            server_process,
        } => {
            let (clients, seconds) = if smoke {
                (vec![1, 4], 0.5)
            } else {
                (clients, seconds)
            };
            // The table is printed as it is measured.
            crate::bench::run(crate::bench::BenchOptions {
                postgres_url,
                clients,
                seconds,
                report_db,
                group_commit: (group_commit > 0).then_some(group_commit),
                server_process,
            })
            .await?;
        }
        Command::Statement {
            agency,
            date,
            format,
        } => {
            let statement = crate::statement::build(&store, &agency, date).await?;
            match format {
                StatementFormat::Json => println!("{}", serde_json::to_string_pretty(&statement)?),
                StatementFormat::Csv => print!("{}", statement.csv()),
                StatementFormat::Camt053 => print!("{}", statement.camt053()),
            }
        }
        Command::Settle { date } => {
            for s in crate::statement::settle(&store, date).await? {
                let what = if s.posted {
                    "settled"
                } else {
                    "already settled"
                };
                println!("{} {date}: {what} {} BHD", s.agency, s.amount);
            }
        }
        Command::Webhooks {
            command: WebhooksCommand::Set { agency, url },
        } => {
            let agency = store.agency_by_code(&agency).await?;
            crate::http::agency::check_webhook_url(&url)?;
            store.set_webhook(agency.id, Some(&url)).await?;
            let secret = store
                .rotate_webhook_secret(agency.id, chrono::Duration::zero())
                .await?;
            println!("webhook of {} set to {url}; signing secret:", agency.code);
            println!("{secret}");
        }
        Command::Webhooks {
            command: WebhooksCommand::Redeliver { agency },
        } => {
            let n = store.redeliver(agency.as_deref()).await?;
            println!("{n} dead-lettered event(s) queued again");
        }
        Command::Rollups {
            command: RollupsCommand::Verify,
        } => {
            let diffs = store.verify_rollups().await?;
            for d in &diffs {
                println!(
                    "DIFFERS {} {}/{} {} {}: stored {:?}, ledger {:?}",
                    d.key.day,
                    d.key.agency,
                    d.key.service,
                    d.key.channel,
                    d.key.method,
                    d.stored,
                    d.from_ledger
                );
            }
            if !diffs.is_empty() {
                println!(
                    "{} rollup(s) differ from the ledger; `tahseel rollups rebuild` fixes them",
                    diffs.len()
                );
                return Ok(ExitCode::FAILURE);
            }
            println!("rollups OK: they agree with the ledger");
        }
        Command::Rollups {
            command: RollupsCommand::Rebuild,
        } => {
            let n = store.rebuild_rollups().await?;
            println!("rollups rebuilt from the ledger: {n} row(s)");
        }
        Command::Reconcile {
            command: ReconcileCommand::Settlement { file, acquirer },
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let (id, report) = crate::reconcile::reconcile_file(
                &store,
                &acquirer,
                &file.display().to_string(),
                &text,
            )
            .await?;
            for line in report.lines() {
                println!("{line}");
            }
            println!("kept as reconciliation {id} (GET /api/v1/admin/reconciliations/{id})");
            if report.mismatch_count() > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Migrate => println!("migrations applied ({})", store.backend_name()),
        Command::Demo => print_demo(&store, None).await?,
        Command::Agency {
            command:
                AgencyCommand::Add {
                    code,
                    name_en,
                    name_ar,
                    iban,
                },
        } => {
            let agency = store
                .add_agency(NewAgency {
                    code: AgencyCode::parse(&code)?,
                    name: Names::new(&name_en, &name_ar)?,
                    iban: iban.as_deref().map(parse_iban).transpose()?,
                })
                .await?;
            println!("agency {} ({})", agency.code, agency.id);
        }
        Command::Kiosk { command } => kiosk(&store, command).await?,
        Command::Agency {
            command: AgencyCommand::List,
        } => {
            for a in store.agencies().await? {
                println!("{}\t{}\t{}", a.code, a.name.en, a.name.ar);
            }
        }
        Command::Service {
            command: ServiceCommand::Add(s),
        } => {
            let kind = match s.kind {
                KindArg::Bill => ServiceKind::Bill,
                KindArg::Fee => ServiceKind::Fee,
            };
            let fee = s.fee.as_deref().map(Fils::parse_amount).transpose()?;
            let service = store
                .add_service(NewService {
                    agency: AgencyCode::parse(&s.agency)?,
                    code: ServiceCode::parse(&s.code)?,
                    name: Names::new(&s.name_en, &s.name_ar)?,
                    terms: ServiceTerms::new(kind, fee, s.partial)?,
                })
                .await?;
            println!(
                "service {}/{} ({})",
                service.agency, service.code, service.id
            );
        }
        Command::Apikey {
            command: ApikeyCommand::Create { agency, admin: _ },
        } => {
            let (record, key) = store.create_api_key(agency.as_deref()).await?;
            println!(
                "{} key {} for {}",
                record.role,
                record.id,
                record.agency.as_deref().unwrap_or("administrators")
            );
            println!("{key}");
        }
        Command::Ledger {
            command: LedgerCommand::Verify,
        } => {
            let faults = store.verify_ledger().await?;
            if faults.is_empty() {
                println!(
                    "ledger OK: every entry balances and every account agrees with its postings"
                );
            } else {
                for f in &faults {
                    println!("FAULT: {f}");
                }
                println!("{} fault(s)", faults.len());
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} payments · {per_sec} · {eta} left",
        )
        .expect("template parses"),
    );
    bar
}

async fn report(store: &Store, args: ReportArgs) -> anyhow::Result<()> {
    use crate::report::{build, parse_dimensions, statement, Period, ReportRequest};
    let lang = crate::i18n::Lang::parse(&args.lang)
        .ok_or_else(|| anyhow::anyhow!("--lang must be ar or en"))?;
    let period = match (&args.period, args.from, args.to) {
        (Some(p), _, _) => Period::parse(p)?,
        (None, Some(from), Some(to)) => Period::between(from, to)?,
        _ => anyhow::bail!("give --period or --from and --to"),
    };
    let compare = args.compare.as_deref().map(Period::parse).transpose()?;
    let by = args
        .by
        .as_deref()
        .map(parse_dimensions)
        .transpose()?
        .unwrap_or_default();
    let request = |by: Vec<crate::store::Dimension>| ReportRequest {
        period: period.clone(),
        compare: compare.clone(),
        by,
        net: args.net,
    };
    if args.statement {
        use crate::store::Dimension;
        let total = build(store, request(vec![])).await?;
        let by_service = build(store, request(vec![Dimension::Service])).await?;
        let by_channel = build(store, request(vec![Dimension::Channel])).await?;
        println!("{}", statement(&total, &by_service, &by_channel, lang));
        return Ok(());
    }
    let report = build(store, request(by)).await?;
    if let Some(path) = &args.chart {
        let svg = crate::charts::svg(&report, lang)?;
        let bytes = match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => svg.into_bytes(),
            Some("png") => crate::charts::png(&svg)?,
            _ => anyhow::bail!("--chart must name a .svg or .png file"),
        };
        std::fs::write(path, bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    match args.format {
        FormatArg::Text => print!("{}", report.text(lang)),
        FormatArg::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        FormatArg::Csv => print!("{}", report.csv()),
    }
    Ok(())
}

fn pair(text: &str, what: &str) -> anyhow::Result<(String, String)> {
    let (k, v) = text
        .split_once('=')
        .ok_or_else(|| anyhow::anyhow!("{what} {text:?} must be KEY=VALUE"))?;
    Ok((k.trim().to_owned(), v.trim().to_owned()))
}

fn method(text: &str) -> anyhow::Result<Method> {
    Method::parse(text)
        .ok_or_else(|| anyhow::anyhow!("{text:?} is not a method (debit, credit, wallet, cash)"))
}

async fn serve(store: Store, args: ServeArgs) -> anyhow::Result<()> {
    let secrets: std::collections::BTreeMap<String, String> = args
        .acquirer_secrets
        .iter()
        .map(|s| pair(s, "--acquirer-secret"))
        .collect::<anyhow::Result<_>>()?;
    let mut acquirers = Vec::new();
    for a in &args.acquirers {
        let (name, url) = pair(a, "--acquirer")?;
        let secret = secrets
            .get(&name)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no --acquirer-secret for acquirer {name}"))?;
        acquirers.push(AcquirerSetting { name, url, secret });
    }
    if args.demo {
        print_demo(&store, Some(args.listen)).await?;
        if acquirers.is_empty() {
            // The demo runs its own simulated acquirer, sharing a secret kept in the database.
            let secret = store.hub_secret("demo_acquirer_sim").await?;
            let (addr, _sim, _task) = crate::simulator::start(
                args.sim_listen,
                secret.clone(),
                Duration::from_secs(900),
                None,
            )
            .await?;
            println!("Simulated acquirer on http://{addr} (test card 4111 1111 1111 1111)");
            if store.kiosks().await?.is_empty() {
                let (kiosk, key) = store
                    .add_kiosk(
                        "DEMO-01",
                        tahseel_core::agency::Names {
                            en: "Demo kiosk".into(),
                            ar: "كشك تجريبي".into(),
                        },
                    )
                    .await?;
                println!(
                    "Demo kiosk {}: open /kiosk and activate it with the key {key}",
                    kiosk.code
                );
            }
            acquirers.push(AcquirerSetting {
                name: "sim".into(),
                url: format!("http://{addr}"),
                secret,
            });
        }
    }
    if acquirers.is_empty() {
        tracing::warn!(
            "no acquirer configured (--acquirer NAME=URL): card payments will be refused"
        );
    }
    let config = HubConfig {
        agency_fetch_timeout: None,
        acquirer_timeout: Some(Duration::from_millis(args.acquirer_timeout_ms)),
        public_url: args.public_url,
        acquirers,
        routes: args
            .routes
            .iter()
            .map(|r| {
                let (m, name) = pair(r, "--route")?;
                Ok((method(&m)?, name))
            })
            .collect::<anyhow::Result<_>>()?,
        fees: args
            .fees
            .iter()
            .map(|f| {
                let (m, amount) = pair(f, "--fee")?;
                Ok((method(&m)?, Fils::parse(&amount)?))
            })
            .collect::<anyhow::Result<_>>()?,
        reconcile_every: (args.reconcile_every_ms > 0)
            .then(|| Duration::from_millis(args.reconcile_every_ms)),
        webhook_every: (args.webhook_every_ms > 0)
            .then(|| Duration::from_millis(args.webhook_every_ms)),
        webhooks: crate::webhooks::WebhookConfig::default(),
        reconcile: ReconcileConfig {
            pending_after: Duration::from_millis(args.reconcile_after_ms),
            created_after: Duration::from_secs(args.expire_unsent_after_secs),
        },
        group_commit: (args.group_commit > 0).then_some(args.group_commit),
        portal: crate::portal::PortalConfig {
            kiosk_idle: Duration::from_secs(args.kiosk_idle_secs.max(5)),
            oidc: match (
                args.oidc_issuer,
                args.oidc_client_id,
                args.oidc_client_secret,
            ) {
                (Some(issuer), Some(client_id), Some(client_secret)) => {
                    Some(crate::portal::signin::OidcConfig {
                        issuer,
                        client_id,
                        client_secret,
                    })
                }
                _ => None,
            },
            dev_idp: args.dev_idp || args.demo,
        },
    };
    let running = crate::app::start(store.clone(), args.listen, config, shutdown_signal()).await?;
    tracing::info!(addr = %running.addr, database = store.backend_name(), "tahseel serving");
    println!(
        "Tahseel is serving on http://{} ({})",
        running.addr,
        store.backend_name()
    );
    running.task.await??;
    store.close().await;
    Ok(())
}

async fn print_demo(store: &Store, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let bills = crate::demo::load(store).await?;
    println!("Demo bills (payer · agency/service · reference · outstanding BHD · state):");
    for b in &bills {
        println!(
            "  {}  {}/{}  {}  {}  {}",
            b.payer,
            b.agency,
            b.service,
            b.reference,
            b.amount_outstanding,
            b.state.as_str()
        );
    }
    if let Some(addr) = listen {
        println!("Look them up with: curl 'http://{addr}/api/v1/dues?payer=850101234'");
    }
    if !store.has_admin_key().await? {
        let (_, key) = store.create_api_key(None).await?;
        println!(
            "Administrator API key (shown once; `tahseel apikey create --admin` issues another):"
        );
        println!("{key}");
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn kiosk(store: &Store, command: KioskCommand) -> anyhow::Result<()> {
    match command {
        KioskCommand::Add {
            code,
            name_en,
            name_ar,
        } => {
            let (kiosk, key) = store
                .add_kiosk(&code, Names::new(&name_en, &name_ar)?)
                .await?;
            println!("Kiosk {} added. Its key, shown only now:", kiosk.code);
            println!("{key}");
        }
        KioskCommand::List => {
            for k in store.kiosks().await? {
                let state = if k.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}\t{state}", k.code, k.name.en, k.name.ar);
            }
        }
        KioskCommand::Revoke { kiosk } => {
            store.revoke_kiosk(&kiosk).await?;
            println!("Kiosk {kiosk} revoked.");
        }
        KioskCommand::Cashup {
            kiosk,
            counted,
            format,
        } => {
            let counted = Fils::parse(counted.trim())?;
            let c = store.cashup(&kiosk, counted).await?;
            match format {
                CashupFormat::Json => println!("{}", serde_json::to_string_pretty(&c)?),
                CashupFormat::Text => {
                    println!(
                        "Kiosk {}: {} cash payments since {}",
                        c.kiosk,
                        c.payments,
                        c.since
                            .map(|t| tahseel_core::time::to_local(t).to_rfc3339())
                            .unwrap_or_else(|| "it was installed".into())
                    );
                    println!("  expected (ledger)  BHD {}", c.expected);
                    println!("  counted            BHD {}", c.counted);
                    let verdict = if c.difference.is_negative() {
                        "short"
                    } else if c.difference.is_positive() {
                        "over"
                    } else {
                        "balanced"
                    };
                    println!("  difference         BHD {} ({verdict})", c.difference);
                }
            }
        }
    }
    Ok(())
}
