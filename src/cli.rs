//! The `creditdesk` command line: parse, set up logging, dispatch.

use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Settings, DEFAULT_DATABASE_URL};
use crate::db::{self, DbConnection, Pool};
use crate::domain::{Email, Role};
use crate::passwords::generate_password;
use crate::startup::Application;
use crate::store::{activity, admins, api_keys};

#[derive(Debug, Parser)]
#[command(
    name = "creditdesk",
    version,
    about = "Self-hosted admin console for promo credits"
)]
pub struct Cli {
    /// Database: a SQLite file path or sqlite://path, or postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    database_url: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, then serve the console and the API (the default command).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage console users.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Manage API keys for the merchant's checkout.
    ApiKey {
        #[command(subcommand)]
        command: ApiKeyCommand,
    },
    /// Fill the database with demo customers, configs and ledger history.
    Demo {
        /// How many customers to create.
        #[arg(long, default_value_t = 200)]
        customers: u32,
    },
    /// Check every ledger invariant over the whole database; exit 1 listing what breaks.
    Verify,
    /// Bulk-generate synthetic customers and ledger history for benchmarks (empty database only).
    Seed {
        /// How many customers.
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        /// How many ledger rows.
        #[arg(long, default_value_t = 10_000_000)]
        rows: u64,
        /// Spread the rows over this many days, ending now.
        #[arg(long, default_value_t = 365)]
        days: i64,
        /// Random seed (the same seed gives the same data).
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "CREDITDESK_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Mark the session cookie Secure (when served over HTTPS).
    #[arg(long, env = "CREDITDESK_SECURE_COOKIES")]
    secure_cookies: bool,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a console user.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// owner, billing_admin, support or operator.
        #[arg(long)]
        role: String,
        /// At least 12 characters; without it CREDITDESK_ADMIN_PASSWORD, else a generated one.
        #[arg(long, env = "CREDITDESK_ADMIN_PASSWORD")]
        password: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Create an API key; its secret is printed alone on the last line.
    Create {
        #[arg(long)]
        name: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs {
        bind: std::env::var("CREDITDESK_BIND").unwrap_or_else(|_| "127.0.0.1:8080".into()),
        secure_cookies: std::env::var("CREDITDESK_SECURE_COOKIES")
            .is_ok_and(|v| v == "true" || v == "1"),
    }));
    let pool = open(&cli.database_url)?;
    let mut conn = pool.get()?;
    match command {
        Command::Serve(args) => {
            drop(conn);
            let mut settings = Settings::new(&cli.database_url);
            settings.secure_cookies = args.secure_cookies;
            serve(pool, settings, &args.bind)?;
        }
        Command::Migrate => println!("Database is up to date."),
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    name,
                    role,
                    password,
                },
        } => {
            let email = Email::parse(&email)?;
            let role = Role::parse(&role).map_err(|_| {
                anyhow::anyhow!(
                    "unknown role {role:?}: use owner, billing_admin, support or operator"
                )
            })?;
            let generated = password.is_none();
            let password = password.unwrap_or_else(generate_password);
            let admin = admins::create(&mut conn, &email, &name, role, &password)?;
            activity::record(
                &mut conn,
                activity::Record {
                    actor: "system",
                    action: "admin.create",
                    target: &admin.email,
                    details: role.as_str(),
                    ip: None,
                },
            )?;
            println!("Created {} ({}).", admin.email, role.label());
            if generated {
                println!("Password: {password}");
            }
        }
        Command::ApiKey {
            command: ApiKeyCommand::Create { name },
        } => {
            if name.trim().is_empty() {
                anyhow::bail!("give the key a name with --name");
            }
            let key = api_keys::create(&mut conn, &name, None)?;
            activity::record(
                &mut conn,
                activity::Record {
                    actor: "system",
                    action: "api_key.create",
                    target: name.trim(),
                    details: "",
                    ip: None,
                },
            )?;
            println!(
                "Created API key {:?} (id {}). Its secret is shown only now:",
                name.trim(),
                key.id
            );
            println!("{}", key.secret);
        }
        Command::Demo { customers } => {
            let summary = crate::demo::run(&mut conn, customers)?;
            println!(
                "Demo data: {} customers and {} ledger rows; EUR and USD enabled at 1.00.",
                summary.customers, summary.rows
            );
        }
        Command::Seed {
            customers,
            rows,
            days,
            seed,
        } => {
            let started = std::time::Instant::now();
            let plan = crate::bulk::Plan {
                customers,
                rows,
                days,
                seed,
            };
            let mut next_report = 0u64;
            crate::bulk::seed(&mut conn, &plan, |written| {
                if written >= next_report {
                    eprintln!(
                        "  {written} ledger rows written ({:.0?})",
                        started.elapsed()
                    );
                    next_report = written + 1_000_000;
                }
            })?;
            println!(
                "Seeded {customers} customers and {rows} ledger rows in {:.1?}.",
                started.elapsed()
            );
        }
        Command::Verify => {
            let report = crate::ledger::verify::verify(&mut conn)?;
            println!(
                "Checked {} accounts and {} ledger rows.",
                report.accounts, report.transactions
            );
            if !report.is_clean() {
                for problem in &report.problems {
                    println!("BROKEN: {problem}");
                }
                println!("{} invariant breaks found.", report.problem_count);
                return Ok(ExitCode::from(1));
            }
            println!("All invariants hold.");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Connects (failing at once with the server's message) and migrates.
fn open(url: &str) -> anyhow::Result<Pool> {
    let pool = db::connect(url, 10)?;
    let mut conn = pool.get()?;
    let applied = db::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(applied, "database migrated");
    }
    Ok(pool)
}

fn serve(pool: Pool, settings: Settings, bind: &str) -> anyhow::Result<()> {
    let mut conn = pool.get()?;
    if let Some((email, password)) = bootstrap_owner(&mut conn)? {
        println!("Created the owner login (shown once):");
        println!("  email:    {email}");
        println!("  password: {password}");
    }
    drop(conn);
    let listener =
        TcpListener::bind(bind).map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    let address = listener.local_addr()?;
    actix_web::rt::System::new().block_on(async move {
        let application = Application::build(pool, settings, listener)?;
        println!("Creditdesk is listening on http://{address}");
        application.server().await
    })?;
    Ok(())
}

/// On a database with no admin, creates the owner with a generated password.
pub fn bootstrap_owner(conn: &mut DbConnection) -> anyhow::Result<Option<(String, String)>> {
    if admins::count(conn)? > 0 {
        return Ok(None);
    }
    let email = Email::parse("owner@creditdesk.local")?;
    let password = generate_password();
    match admins::create(conn, &email, "Owner", Role::Owner, &password) {
        Ok(admin) => {
            activity::record(
                conn,
                activity::Record {
                    actor: "system",
                    action: "admin.create",
                    target: &admin.email,
                    details: "owner",
                    ip: None,
                },
            )?;
            Ok(Some((admin.email, password)))
        }
        // Another process created it first.
        Err(admins::AdminError::EmailTaken(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
