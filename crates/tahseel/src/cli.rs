//! The `tahseel` command line.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tahseel_core::agency::{parse_iban, AgencyCode, Names, ServiceCode, ServiceKind, ServiceTerms};
use tahseel_core::Fils;

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
    Serve {
        /// Load the demo agencies, services and bills first.
        #[arg(long)]
        demo: bool,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// The URL payers' browsers reach this node at (default: http://LISTEN).
        #[arg(long, env = "TAHSEEL_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Apply database migrations.
    Migrate,
    /// Load the demo agencies, services and bills and print the bills.
    Demo,
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
        Command::Serve {
            demo,
            listen,
            public_url,
        } => {
            if demo {
                print_demo(&store).await?;
            }
            let running =
                crate::app::start(store.clone(), listen, public_url, shutdown_signal()).await?;
            tracing::info!(addr = %running.addr, database = store.backend_name(), "tahseel serving");
            println!(
                "Tahseel is serving on http://{} ({})",
                running.addr,
                store.backend_name()
            );
            running.task.await??;
            store.close().await;
        }
        Command::Migrate => println!("migrations applied ({})", store.backend_name()),
        Command::Demo => print_demo(&store).await?,
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

async fn print_demo(store: &Store) -> anyhow::Result<()> {
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
    println!("Look them up with: curl 'http://127.0.0.1:8080/api/v1/dues?payer=850101234'");
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
