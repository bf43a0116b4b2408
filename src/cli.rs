//! The `creditdesk` command line: parse, set up logging, dispatch.

use std::net::TcpListener;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{
    default_max_exports, parse_seconds, parse_trusted_proxies, parse_webhook_timeout,
    secure_cookies_by_default, Settings, WebhookSettings, DEFAULT_API_RATE_LIMIT,
    DEFAULT_DATABASE_URL, DEFAULT_EXPORT_STALL_LIMIT, DEFAULT_IMPORT_MAX_BYTES,
};
use crate::db::{self, DbConnection, Pool, PoolOptions};
use crate::domain::{Email, Role};
use crate::import;
use crate::passwords::generate_password;
use crate::startup::Application;
use crate::store::activity::Audit;
use crate::store::sessions::SessionPolicy;
use crate::store::{admins, api_keys};

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
    /// Database connections kept open.
    #[arg(long, env = "CREDITDESK_POOL_SIZE", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u32).range(1..=500))]
    pool_size: u32,
    /// Seconds a request waits for a database connection before it is answered 503.
    #[arg(long, env = "CREDITDESK_POOL_TIMEOUT", default_value = "5", global = true,
          value_parser = parse_seconds)]
    pool_timeout: std::time::Duration,
    /// Log lines on stderr: text for people, json (one object a line) for log collectors.
    #[arg(long, env = "CREDITDESK_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text,
          global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

/// How log lines are written (docs/operations.md, "Logs").
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
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
    /// Expire the grants whose expiry day has ended, as the server does on its own after
    /// every midnight UTC (docs/concepts.md, "Expiry"); for those who prefer cron.
    Expire {
        /// List what would expire, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import from a CSV file (docs/import.md).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Copy a SQLite database, consistently, while the server keeps serving (PostgreSQL:
    /// use pg_dump). Then check the copy with `creditdesk --database-url FILE verify`.
    Backup {
        /// The new file to write; an existing file is never overwritten.
        file: std::path::PathBuf,
    },
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

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "CREDITDESK_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Mark cookies Secure (true/false). By default true unless --bind is a loopback
    /// address: say false only when plain HTTP reaches the console on purpose.
    #[arg(long, env = "CREDITDESK_SECURE_COOKIES", value_parser = clap::builder::BoolishValueParser::new())]
    secure_cookies: Option<bool>,
    /// CSV exports allowed to run at once (by default a third of the pool).
    #[arg(long, env = "CREDITDESK_MAX_EXPORTS", value_parser = clap::value_parser!(u32).range(1..=100))]
    max_exports: Option<u32>,
    /// Reverse proxies whose X-Forwarded-For is believed: addresses or networks,
    /// comma-separated (10.0.0.1,10.1.0.0/16). Nobody's by default.
    #[arg(long, env = "CREDITDESK_TRUSTED_PROXIES", default_value = "", value_parser = trusted_proxies)]
    trusted_proxies: TrustedProxies,
    /// Minutes without a request after which a session ends.
    #[arg(long, env = "CREDITDESK_SESSION_IDLE_MINUTES", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=1440))]
    session_idle_minutes: u32,
    /// Hours after sign-in at which a session ends, however active.
    #[arg(long, env = "CREDITDESK_SESSION_HOURS", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(1..=720))]
    session_hours: u32,
    /// API requests one key may send per minute (in bursts of up to as many); 0 for no
    /// limit. Over it, 429 with Retry-After.
    #[arg(long, env = "CREDITDESK_API_RATE_LIMIT", default_value_t = DEFAULT_API_RATE_LIMIT,
          value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    api_rate_limit: u32,
    /// The largest customer file /users/import accepts, in bytes.
    #[arg(long, env = "CREDITDESK_IMPORT_MAX_BYTES", default_value_t = DEFAULT_IMPORT_MAX_BYTES)]
    import_max_bytes: usize,
    /// Send webhooks (true/false). Say false on a copy of the database that must not call
    /// the merchant's systems: events are still written, and wait.
    #[arg(long, env = "CREDITDESK_WEBHOOKS_SEND", default_value_t = true,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    webhooks_send: bool,
    /// Let webhook endpoints be plain http:// and loopback (development and tests only).
    #[arg(long, env = "CREDITDESK_WEBHOOKS_ALLOW_INSECURE", default_value_t = false,
          action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    webhooks_allow_insecure: bool,
    /// Seconds a webhook attempt waits for its answer, 1 to 15.
    #[arg(long, env = "CREDITDESK_WEBHOOKS_TIMEOUT", default_value = "15",
          value_parser = parse_webhook_timeout)]
    webhooks_timeout: std::time::Duration,
}

/// The parsed `--trusted-proxies` (one value holding a list).
#[derive(Debug, Clone)]
struct TrustedProxies(Vec<ipnet::IpNet>);

fn trusted_proxies(text: &str) -> Result<TrustedProxies, String> {
    parse_trusted_proxies(text).map(TrustedProxies)
}

/// `serve`'s options alone, to read them (flags are absent, so from the environment and
/// the defaults) when `creditdesk` runs without a command.
#[derive(Debug, Parser)]
struct DefaultServe {
    #[command(flatten)]
    args: ServeArgs,
}

impl ServeArgs {
    fn settings(self, database_url: &str, pool: PoolOptions) -> Settings {
        Settings {
            database_url: database_url.to_owned(),
            secure_cookies: self
                .secure_cookies
                .unwrap_or_else(|| secure_cookies_by_default(&self.bind)),
            pool,
            max_exports: self
                .max_exports
                .map_or(default_max_exports(pool.max_size), |n| n as usize),
            trusted_proxies: self.trusted_proxies.0,
            sessions: SessionPolicy {
                lifetime: time::Duration::hours(i64::from(self.session_hours)),
                idle: time::Duration::minutes(i64::from(self.session_idle_minutes)),
            },
            export_stall_limit: DEFAULT_EXPORT_STALL_LIMIT,
            api_rate_limit: self.api_rate_limit,
            import_max_bytes: self.import_max_bytes,
            webhooks: WebhookSettings {
                send: self.webhooks_send,
                allow_insecure: self.webhooks_allow_insecure,
                timeout: self.webhooks_timeout,
                retry_divisor: 1,
            },
        }
    }
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
enum ImportCommand {
    /// Create or update customers from FILE (external_id,email,first_name,last_name,country
    /// and credits_<CUR> opening balances); all rows or none. Exit 1 when rows are refused
    /// and not skipped.
    Customers {
        file: std::path::PathBuf,
        /// Only say what the file would do; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply the good rows and skip the refused ones (by default nothing is applied
        /// while any row is refused).
        #[arg(long)]
        skip_refused: bool,
        /// The largest file accepted, in bytes.
        #[arg(long, env = "CREDITDESK_IMPORT_MAX_BYTES", default_value_t = DEFAULT_IMPORT_MAX_BYTES)]
        max_bytes: usize,
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
    init_tracing(cli.log_format);
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). In JSON each line is one object
/// whose `span` holds the request id of the request being served.
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        Some(command) => command,
        None => Command::Serve(DefaultServe::parse_from(["creditdesk"]).args),
    };
    let options = PoolOptions {
        max_size: cli.pool_size,
        checkout_timeout: cli.pool_timeout,
    };
    // A backup changes nothing, not even the schema, and copies only a database that exists.
    let migrate = match &command {
        Command::Backup { .. } => {
            db::backup::check_source(&cli.database_url)?;
            false
        }
        _ => true,
    };
    let pool = open(&cli.database_url, options, migrate)?;
    let mut conn = pool.get()?;
    match command {
        Command::Serve(args) => {
            drop(conn);
            let bind = args.bind.clone();
            serve(pool, args.settings(&cli.database_url, options), &bind)?;
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
            let admin =
                admins::create(&mut conn, &email, &name, role, &password, &Audit::system())?;
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
            let key = api_keys::create(&mut conn, &name, None, &Audit::system())?;
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
            let plan = crate::seed::Plan {
                customers,
                rows,
                days,
                seed,
            };
            let mut next_report = 0u64;
            crate::seed::seed(&mut conn, &plan, |written| {
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
        Command::Import {
            command:
                ImportCommand::Customers {
                    file,
                    dry_run,
                    skip_refused,
                    max_bytes,
                },
        } => return import_customers(&mut conn, &file, dry_run, skip_refused, max_bytes),
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
        Command::Expire { dry_run } => expire(&mut conn, dry_run)?,
        Command::Backup { file } => {
            let written = db::backup::backup(&mut conn, &file)?;
            println!("Backed up to {}.", written.display());
            println!(
                "Check the copy: creditdesk --database-url {} verify",
                written.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `creditdesk expire [--dry-run]`.
fn expire(conn: &mut DbConnection, dry_run: bool) -> anyhow::Result<()> {
    use crate::ledger::expiry;
    let today = crate::db::now_utc().date();
    let credits = |outcome: &expiry::Outcome| -> String {
        let parts: Vec<String> = outcome
            .credits
            .iter()
            .map(|(currency, credits)| format!("{credits} {currency}"))
            .collect();
        parts.join(", ")
    };
    if dry_run {
        let (outcome, due) = expiry::dry_run(conn, today)?;
        for grant in &due {
            println!(
                "would expire {} credits of customer {} ({}) in {}: {}",
                grant.grant.remaining,
                grant.user_id,
                grant.email,
                grant.currency,
                crate::ledger::expiry_note(&grant.grant)
            );
        }
        match outcome.rows {
            0 => println!("Nothing to expire today ({today}). Dry run: nothing was written."),
            rows => println!(
                "{rows} grants would expire ({}). Dry run: nothing was written.",
                credits(&outcome)
            ),
        }
        return Ok(());
    }
    let holder = format!("command {}", std::process::id());
    let outcome = expiry::run(conn, today, &holder)?;
    if outcome.busy {
        println!("Another run (a server or this command) is expiring grants right now; it does the work. Nothing was done here.");
    } else if outcome.rows == 0 {
        println!("Nothing to expire today ({today}).");
    } else {
        println!(
            "Wrote {} expired rows ({}).",
            outcome.rows,
            credits(&outcome)
        );
    }
    Ok(())
}

/// `creditdesk import customers`: the console's check and apply, from the shell.
fn import_customers(
    conn: &mut DbConnection,
    path: &std::path::Path,
    dry_run: bool,
    skip_refused: bool,
    max_bytes: usize,
) -> anyhow::Result<ExitCode> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let file = import::CustomerFile::read(&name, &bytes, max_bytes)?;
    let importer = import::Importer {
        actor: crate::ledger::Actor::System,
        audit: Audit::new("command line", None),
    };
    let (id, plan) = if dry_run {
        (None, import::plan(conn, &file)?)
    } else {
        let (id, plan) = import::check(conn, &file, &importer)?;
        (Some(id), plan)
    };
    for row in &plan.rows {
        if let import::Outcome::Refused(errors) = &row.outcome {
            for error in errors {
                println!("line {}: {}: {}", row.line, error.field, error.message);
            }
        }
    }
    let counts = plan.counts;
    println!(
        "{}: {} to create, {} to update, {} unchanged, {} refused; {} to post.",
        crate::domain::counted(counts.rows(), "row", "rows"),
        counts.create,
        counts.update,
        counts.unchanged,
        counts.refused,
        crate::domain::counted(counts.openings, "opening balance", "opening balances")
    );
    let refused = counts.refused > 0 && !skip_refused;
    let Some(id) = id.filter(|_| !refused) else {
        if refused {
            println!("Nothing was applied: fix the refused rows, or pass --skip-refused.");
        }
        return Ok(if refused {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        });
    };
    let total = import::steps(counts.rows(), counts.refused, counts.openings);
    let mut reported = 0;
    let mut report = |done: u64| {
        let percent = (done * 100).checked_div(total).unwrap_or(100);
        if percent >= reported + 10 || done == total {
            reported = percent;
            eprintln!("  {percent}% applied");
        }
    };
    let applied = import::apply(conn, id, skip_refused, &importer, &mut report)?;
    println!("Applied (import {id}): {}.", applied.outcome);
    Ok(ExitCode::SUCCESS)
}

/// Connects (failing at once with the server's message) and migrates when asked to.
fn open(url: &str, options: PoolOptions, migrate: bool) -> anyhow::Result<Pool> {
    let pool = db::connect(url, options)?;
    if !migrate {
        return Ok(pool);
    }
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
    if settings.secure_cookies && !address.ip().is_loopback() {
        println!(
            "Cookies are marked Secure: reach the console over HTTPS (a proxy in front), \
             or pass --secure-cookies false for plain HTTP on a trusted network."
        );
    }
    // On SIGTERM the server stops accepting, lets the requests in flight finish and returns
    // (docs/operations.md, "Stopping").
    let system = actix_web::rt::System::new();
    let served = system.block_on(async move {
        let application = Application::build(pool, settings, listener)?;
        println!("Creditdesk is listening on http://{address}");
        application.server().await
    });
    // Ends the housekeeping task, which holds the last handle on the pool: its connections
    // close here.
    drop(system);
    served?;
    tracing::info!("shut down");
    Ok(())
}

/// On a database with no admin, creates the owner with a generated password.
pub fn bootstrap_owner(conn: &mut DbConnection) -> anyhow::Result<Option<(String, String)>> {
    if admins::count(conn)? > 0 {
        return Ok(None);
    }
    let email = Email::parse("owner@creditdesk.local")?;
    let password = generate_password();
    match admins::create(
        conn,
        &email,
        "Owner",
        Role::Owner,
        &password,
        &Audit::system(),
    ) {
        Ok(admin) => Ok(Some((admin.email, password))),
        // Another process created it first.
        Err(admins::AdminError::EmailTaken(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
