//! `creditdesk demo`: EUR and USD enabled at 1.00, and customers with ledger history written
//! through the ledger like any other change.

use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::schema::admins;
use crate::db::DbConnection;
use crate::domain::{Change, CurrencyCode, Email, Note, Reason, Role, TransactionType};
use crate::ledger::{self, Actor, Adjustment, Entry, Source, Target};
use crate::store::configs;
use crate::store::customers::{self, CustomerError, NewCustomer};

const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Klara",
    "Liam", "Mia", "Noah", "Olivia", "Paul",
];
const LAST_NAMES: &[&str] = &[
    "Schmidt", "Martin", "Smith", "Jansen", "Garcia", "Rossi", "Dubois", "Novak", "Berg", "Keller",
    "Moreau", "Fischer",
];
const COUNTRIES: &[&str] = &["DE", "FR", "US", "NL", "ES", "IT", "GB", "AT"];

pub struct DemoSummary {
    pub customers: u32,
    pub rows: u32,
}

pub fn run(conn: &mut DbConnection, customers: u32) -> anyhow::Result<DemoSummary> {
    let eur = CurrencyCode::parse("EUR")?;
    let usd = CurrencyCode::parse("USD")?;
    for currency in [&eur, &usd] {
        configs::ensure_demo_currency(conn, currency)?;
    }
    let owner: Option<i64> = admins::table
        .filter(admins::role.eq(Role::Owner.as_str()))
        .order(admins::id)
        .select(admins::id)
        .first(conn)
        .optional()?;
    let staff = owner.map(Actor::Admin).unwrap_or(Actor::System);

    let mut rng = StdRng::seed_from_u64(0x0c4ed17);
    let mut number = customers::count(conn)? as u64;
    let (mut created, mut rows) = (0u32, 0u32);
    while created < customers {
        number += 1;
        let first = FIRST_NAMES[rng.gen_range(0..FIRST_NAMES.len())];
        let last = LAST_NAMES[rng.gen_range(0..LAST_NAMES.len())];
        let email = Email::parse(&format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            number
        ))?;
        let customer = match customers::create(
            conn,
            &NewCustomer {
                external_id: Some(format!("cus_{number:06}")),
                email,
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                country: Some(COUNTRIES[rng.gen_range(0..COUNTRIES.len())].to_owned()),
            },
            None,
        ) {
            Ok(customer) => customer,
            Err(
                CustomerError::EmailTaken | CustomerError::ExternalIdTaken | CustomerError::Taken,
            ) => continue,
            Err(e) => return Err(e.into()),
        };
        created += 1;

        let opening = rng.gen_range(1..=50) * 10;
        system_entry(
            conn,
            customer.id,
            &eur,
            opening,
            TransactionType::Imported,
            "Opening balance from demo data",
            None,
        )?;
        rows += 1;
        if rng.gen_bool(0.6) {
            ledger::adjust(
                conn,
                Adjustment {
                    user_id: customer.id,
                    currency: eur,
                    change: Change::By(rng.gen_range(1..=20) * 5),
                    note: Note::generated("Goodwill after a delayed delivery"),
                    reason: Some(Reason::Goodwill),
                    expires_at: None,
                    expected_version: None,
                    actor: staff,
                    source: Source::Console,
                    idempotency_key: None,
                    audit: None,
                },
            )?;
            rows += 1;
        }
        if rng.gen_bool(0.5) {
            let invoice = format!("INV-{number:06}");
            let spend = -rng.gen_range(1..=opening);
            let note = format!("Applied to invoice {invoice}");
            system_entry(
                conn,
                customer.id,
                &eur,
                spend,
                TransactionType::InvoiceApplied,
                &note,
                Some(invoice),
            )?;
            rows += 1;
        }
        if rng.gen_bool(0.3) {
            ledger::adjust(
                conn,
                Adjustment {
                    user_id: customer.id,
                    currency: eur,
                    change: Change::By(rng.gen_range(1..=10) * 10),
                    note: Note::generated("Referral bonus"),
                    reason: Some(Reason::Referral),
                    // Referral bonuses last a season: the breakage forecast has something
                    // to show.
                    expires_at: Some(
                        crate::db::now_utc().date() + time::Duration::days(rng.gen_range(10..=170)),
                    ),
                    expected_version: None,
                    actor: Actor::System,
                    source: Source::Api,
                    idempotency_key: None,
                    audit: None,
                },
            )?;
            rows += 1;
        }
        if number.is_multiple_of(3) {
            let amount = rng.gen_range(1..=20) * 25;
            system_entry(
                conn,
                customer.id,
                &usd,
                amount,
                TransactionType::Imported,
                "Opening balance from demo data",
                None,
            )?;
            rows += 1;
        }
    }
    Ok(DemoSummary {
        customers: created,
        rows,
    })
}

fn system_entry(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &CurrencyCode,
    delta: i64,
    kind: TransactionType,
    note: &str,
    invoice_id: Option<String>,
) -> anyhow::Result<()> {
    let note = Note::generated(note);
    ledger::post(conn, Target::system(user_id, currency), |_| {
        Ok(Entry {
            invoice_id: invoice_id.clone(),
            ..Entry::new(delta, kind, note.clone(), Actor::System)
        })
    })?;
    Ok(())
}
