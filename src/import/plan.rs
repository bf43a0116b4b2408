//! What a customer file would do to the database as it is now, row by row: create, update,
//! leave unchanged, or refuse, and which opening balances it would post (docs/import.md,
//! "What a row does"). Planning only reads; applying plans again inside its transaction.

use std::collections::HashMap;

use diesel::QueryResult;

use crate::db::models::User;
use crate::db::DbConnection;
use crate::domain::{counted, expiry_label, CurrencyCode};
use crate::store::customers::{self, NewCustomer};
use crate::store::{configs, credits};

use super::file::CustomerFile;
use super::row::{CellError, CheckedRow};
use super::ImportError;

/// What a row does to its customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Create,
    /// The customer `user_id` gets the fields described in `changes` (`first name: Ann →
    /// Anna`).
    Update {
        user_id: i64,
        changes: Vec<String>,
    },
    Unchanged {
        user_id: i64,
    },
    Refused(Vec<CellError>),
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Create => "create",
            Outcome::Update { .. } => "update",
            Outcome::Unchanged { .. } => "unchanged",
            Outcome::Refused(_) => "refused",
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        match self {
            Outcome::Update { user_id, .. } | Outcome::Unchanged { user_id } => Some(*user_id),
            _ => None,
        }
    }
}

/// An opening balance of a row: posted when the customer has no account in the currency
/// yet, else left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opening {
    pub currency: CurrencyCode,
    pub credits: i64,
    pub expires_at: Option<time::Date>,
    /// The balance of the account that already exists, which the file does not touch.
    pub existing_balance: Option<i64>,
}

impl Opening {
    pub fn applies(&self) -> bool {
        self.existing_balance.is_none()
    }
}

/// One row's plan.
#[derive(Debug, Clone)]
pub struct RowPlan {
    pub line: u64,
    /// As typed, for the report.
    pub external_id: String,
    pub email: String,
    pub outcome: Outcome,
    /// The customer's fields as the file gives them (none for a refused row).
    pub customer: Option<NewCustomer>,
    pub openings: Vec<Opening>,
}

impl RowPlan {
    /// What the report says about the row beyond its outcome.
    pub fn details(&self) -> String {
        let mut parts: Vec<String> = match &self.outcome {
            Outcome::Refused(errors) => errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect(),
            Outcome::Update { changes, .. } => changes.clone(),
            _ => Vec::new(),
        };
        for opening in &self.openings {
            parts.push(match opening.existing_balance {
                None => format!(
                    "opening balance {} in {}{}",
                    counted(opening.credits, "credit", "credits"),
                    opening.currency,
                    opening
                        .expires_at
                        .map(|day| format!(", expiring on {}", expiry_label(day)))
                        .unwrap_or_default()
                ),
                Some(balance) => format!(
                    "{} account exists with {}: left as it is",
                    opening.currency,
                    counted(balance, "credit", "credits")
                ),
            });
        }
        // One line each: the report shows them as written.
        parts.join("\n")
    }
}

/// How many rows do what.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub create: i64,
    pub update: i64,
    pub unchanged: i64,
    pub refused: i64,
    /// Opening balances that would be posted.
    pub openings: i64,
}

impl Counts {
    pub fn rows(&self) -> i64 {
        self.create + self.update + self.unchanged + self.refused
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub rows: Vec<RowPlan>,
    pub counts: Counts,
}

/// Plans every row of `file` against the database as `conn` sees it.
pub fn plan(conn: &mut DbConnection, file: &CustomerFile) -> Result<Plan, ImportError> {
    let mut checked = Vec::new();
    let today = crate::db::now_utc().date();
    for fields in file.rows() {
        let fields = fields?;
        let typed = (
            fields.customer.external_id.trim().to_owned(),
            fields.customer.email.trim().to_owned(),
        );
        checked.push((fields.line, typed, fields.check(today)));
    }
    let known = Known::load(
        conn,
        checked.iter().filter_map(|(.., row)| row.as_ref().ok()),
    )?;
    let mut seen = Seen::default();
    let mut rows = Vec::with_capacity(checked.len());
    let mut counts = Counts::default();
    for (line, (external_id, email), row) in checked {
        let row = match row {
            Err(errors) => refused(line, external_id, email, errors),
            Ok(row) => plan_row(&known, &mut seen, row, external_id, email),
        };
        match &row.outcome {
            Outcome::Create => counts.create += 1,
            Outcome::Update { .. } => counts.update += 1,
            Outcome::Unchanged { .. } => counts.unchanged += 1,
            Outcome::Refused(_) => counts.refused += 1,
        }
        if !matches!(row.outcome, Outcome::Refused(_)) {
            counts.openings += row.openings.iter().filter(|o| o.applies()).count() as i64;
        }
        rows.push(row);
    }
    Ok(Plan { rows, counts })
}

/// What the database holds about the customers a file names, read in a few queries: the
/// customers by email and by external id, their accounts' balances, and which currencies
/// are enabled.
struct Known {
    by_email: HashMap<String, User>,
    by_external_id: HashMap<String, User>,
    balances: HashMap<(i64, String), i64>,
    currencies: HashMap<String, bool>,
}

impl Known {
    fn load<'a>(
        conn: &mut DbConnection,
        rows: impl Iterator<Item = &'a CheckedRow>,
    ) -> QueryResult<Known> {
        let (mut emails, mut external_ids) = (Vec::new(), Vec::new());
        for row in rows {
            emails.push(row.customer.email.normalized());
            external_ids.extend(row.customer.external_id.clone());
        }
        let users = customers::with_emails_or_external_ids(conn, &emails, &external_ids)?;
        let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        let balances = credits::accounts_of_all(conn, &ids)?
            .into_iter()
            .map(|a| ((a.user_id, a.currency), a.balance))
            .collect();
        let currencies = configs::list(conn)?
            .into_iter()
            .map(|c| (c.currency, c.enabled))
            .collect();
        let mut known = Known {
            by_email: HashMap::new(),
            by_external_id: HashMap::new(),
            balances,
            currencies,
        };
        for user in users {
            if let Some(external_id) = &user.external_id {
                known
                    .by_external_id
                    .insert(external_id.clone(), user.clone());
            }
            known.by_email.insert(user.email_lower.clone(), user);
        }
        Ok(known)
    }
}

fn refused(line: u64, external_id: String, email: String, errors: Vec<CellError>) -> RowPlan {
    RowPlan {
        line,
        external_id,
        email,
        outcome: Outcome::Refused(errors),
        customer: None,
        openings: Vec::new(),
    }
}

/// The lines on which each external id and email (lower-cased) first appeared, so a file
/// cannot name one customer twice.
#[derive(Default)]
struct Seen {
    external_ids: HashMap<String, u64>,
    emails: HashMap<String, u64>,
    customers: HashMap<i64, u64>,
}

fn plan_row(
    known: &Known,
    seen: &mut Seen,
    row: CheckedRow,
    external_id: String,
    email: String,
) -> RowPlan {
    let CheckedRow {
        line,
        customer,
        credits,
    } = row;
    let email_lower = customer.email.normalized();
    let mut errors = Vec::new();
    if let Some(first) = seen.emails.get(&email_lower) {
        errors.push(cell("email", format!("This email is on line {first} too.")));
    }
    if let Some(first) = customer
        .external_id
        .as_ref()
        .and_then(|id| seen.external_ids.get(id))
    {
        errors.push(cell(
            "external_id",
            format!("This external id is on line {first} too."),
        ));
    }
    if !errors.is_empty() {
        return refused(line, external_id, email, errors);
    }
    seen.emails.insert(email_lower.clone(), line);
    if let Some(id) = &customer.external_id {
        seen.external_ids.insert(id.clone(), line);
    }
    let matched = match match_customer(known, &customer, &email_lower) {
        Ok(Some(user)) => match seen.customers.insert(user.id, line) {
            Some(first) => Err(cell(
                "email",
                format!("Line {first} names this customer already."),
            )),
            None => Ok(Some(user)),
        },
        other => other,
    };
    let outcome = match matched {
        Ok(None) => Outcome::Create,
        Ok(Some(user)) => match changes(&user, &customer) {
            changes if changes.is_empty() => Outcome::Unchanged { user_id: user.id },
            changes => Outcome::Update {
                user_id: user.id,
                changes,
            },
        },
        Err(error) => Outcome::Refused(vec![error]),
    };
    let mut openings = Vec::new();
    let mut errors = Vec::new();
    for (currency, amount, expires_at) in credits {
        let existing_balance = outcome.user_id().and_then(|user_id| {
            let key = (user_id, currency.as_str().to_owned());
            known.balances.get(&key).copied()
        });
        let opening = Opening {
            currency,
            credits: amount,
            expires_at,
            existing_balance,
        };
        if opening.applies() {
            if let Some(message) = currency_refusal(&known.currencies, &currency) {
                errors.push(cell(format!("credits_{currency}"), message));
            }
        }
        openings.push(opening);
    }
    let outcome = match outcome {
        Outcome::Refused(mut first) => {
            first.extend(errors);
            Outcome::Refused(first)
        }
        _ if !errors.is_empty() => Outcome::Refused(errors),
        outcome => outcome,
    };
    RowPlan {
        line,
        external_id,
        email,
        customer: Some(customer),
        openings,
        outcome,
    }
}

fn cell(field: impl Into<String>, message: impl Into<String>) -> CellError {
    CellError {
        field: field.into(),
        message: message.into(),
    }
}

/// Why credits cannot be posted in `currency`, if they cannot.
fn currency_refusal(currencies: &HashMap<String, bool>, currency: &CurrencyCode) -> Option<String> {
    match currencies.get(currency.as_str()) {
        None => Some(format!(
            "Promo credits are not offered in {currency}: add it in Settings first."
        )),
        Some(false) => Some(format!(
            "Promo credits in {currency} are disabled: no opening balance can be posted."
        )),
        Some(true) => None,
    }
}

/// The customer a row updates: the one with its external id, else the one with its email;
/// an error when the two point at different customers.
fn match_customer(
    known: &Known,
    customer: &NewCustomer,
    email_lower: &str,
) -> Result<Option<User>, CellError> {
    let by_email = known.by_email.get(email_lower).cloned();
    let by_external = customer
        .external_id
        .as_ref()
        .and_then(|id| known.by_external_id.get(id))
        .cloned();
    match (by_external, by_email) {
        (Some(user), Some(other)) if user.id != other.id => Err(cell(
            "email",
            format!(
                "This email belongs to customer {}, not to the customer with this external id ({}).",
                other.id, user.id
            ),
        )),
        (Some(user), _) => Ok(Some(user)),
        (None, Some(user)) => match (&user.external_id, &customer.external_id) {
            (Some(theirs), Some(ours)) if theirs != ours => Err(cell(
                "external_id",
                format!(
                    "This email belongs to customer {}, whose external id is {theirs}.",
                    user.id
                ),
            )),
            _ => Ok(Some(user)),
        },
        (None, None) => Ok(None),
    }
}

/// The fields a row would change, described `field: old → new`. An empty cell leaves the
/// field as it is (docs/import.md).
fn changes(user: &User, row: &NewCustomer) -> Vec<String> {
    let mut changes = Vec::new();
    let mut compare = |name: &str, old: Option<&str>, new: Option<&str>| {
        if let Some(new) = new.filter(|n| !n.is_empty()) {
            if old != Some(new) {
                let old = old.filter(|o| !o.is_empty()).unwrap_or("(none)");
                changes.push(format!("{name}: {old} → {new}"));
            }
        }
    };
    compare(
        "external id",
        user.external_id.as_deref(),
        row.external_id.as_deref(),
    );
    compare("email", Some(&user.email), Some(row.email.as_str()));
    compare("first name", Some(&user.first_name), Some(&row.first_name));
    compare("last name", Some(&user.last_name), Some(&row.last_name));
    compare("country", user.country.as_deref(), row.country.as_deref());
    changes
}
