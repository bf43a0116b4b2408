//! The Promo Credits tab of a billing profile, the Update Promo Credit form, and the
//! credit-use switch. Every change goes through `crate::ledger`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth::CurrentAdmin;
use crate::db::models::{CreditAccount, PromoCreditConfig, User};
use crate::db::DbConnection;
use crate::domain::{parse_amount, CurrencyCode, Mode, Note, Reason};
use crate::error::AppError;
use crate::ledger::{self, Actor, Adjustment, LedgerError, Source};
use crate::routes::users::{load_customer, parse_user_id};
use crate::startup::AppState;
use crate::store::{activity, configs, credits, customers};
use crate::views::credits::{
    confirmation, money_text, rate_text, AccountFigures, CurrencyTab, HistoryRow, Panel,
    PanelFragment, Preview, PreviewFragment, PromoCreditsPage, Selected, UpdateForm, UpdateModal,
    UpdatePage,
};
use crate::views::{CustomerView, Layout};
use crate::web::{field, html, is_htmx, ok, see_other, with_conn};

const HISTORY_PAGE: i64 = 20;

#[derive(Deserialize)]
pub struct TabQuery {
    currency: Option<String>,
    before: Option<String>,
    updated: Option<String>,
    usage: Option<String>,
}

fn tab_href(user_id: i64, currency: &str) -> String {
    format!("/users/{user_id}/promo-credits?currency={currency}")
}

/// Picks the requested currency when it is configured, else the first configured one.
fn pick<'a>(
    configs: &'a [PromoCreditConfig],
    requested: Option<&str>,
) -> Option<&'a PromoCreditConfig> {
    requested
        .and_then(|code| configs.iter().find(|c| c.currency == code))
        .or_else(|| configs.first())
}

/// Everything the panel shows, read in one blocking call.
fn load_panel(
    conn: &mut DbConnection,
    admin: &CurrentAdmin,
    user_id: i64,
    query: &TabQuery,
    confirmation_text: Option<String>,
) -> Result<Panel, AppError> {
    let configs = configs::list(conn)?;
    let currencies_selected = pick(&configs, query.currency.as_deref()).cloned();
    let currencies = configs
        .iter()
        .map(|c| CurrencyTab {
            code: c.currency.clone(),
            href: tab_href(user_id, &c.currency),
            selected: currencies_selected
                .as_ref()
                .is_some_and(|s| s.currency == c.currency),
        })
        .collect();
    let selected = match currencies_selected {
        None => None,
        Some(config) => {
            let account = credits::account(conn, user_id, &config.currency)?;
            let before = query.before.as_deref().and_then(|b| b.parse::<i64>().ok());
            let mut rows =
                credits::history(conn, user_id, &config.currency, before, HISTORY_PAGE + 1)?;
            let has_older = rows.len() as i64 > HISTORY_PAGE;
            rows.truncate(HISTORY_PAGE as usize);
            let labels = credits::actor_labels(conn, &rows)?;
            let confirmation_text = match confirmation_text {
                Some(text) => Some(text),
                None => match query
                    .updated
                    .as_deref()
                    .and_then(|id| id.parse::<i64>().ok())
                {
                    Some(id) => credits::transaction(conn, id)?
                        .filter(|row| row.user_id == user_id && row.currency == config.currency)
                        .map(|row| confirmation(&row)),
                    None => None,
                },
            }
            .or_else(|| match query.usage.as_deref() {
                Some("on") => Some(format!("Credit use turned on for {}.", config.currency)),
                Some("off") => Some(format!("Credit use turned off for {}.", config.currency)),
                _ => None,
            });
            let figures = AccountFigures::from(account.as_ref());
            Some(Selected {
                currency: config.currency.clone(),
                currency_enabled: config.enabled,
                rate_text: rate_text(&config),
                balance: figures.balance,
                version: figures.version,
                balance_text: crate::domain::format_credits(figures.balance),
                money_text: money_text(figures.balance, config.exchange_rate_e4, &config.currency),
                total_added_text: crate::domain::format_credits(figures.total_added),
                total_deducted_text: crate::domain::format_credits(figures.total_deducted),
                usage_enabled: figures.usage_enabled,
                can_adjust: admin.role.can_adjust_credits(),
                confirmation: confirmation_text,
                older_href: if has_older {
                    rows.last()
                        .map(|r| format!("{}&before={}", tab_href(user_id, &config.currency), r.id))
                } else {
                    None
                },
                newer_href: before.map(|_| tab_href(user_id, &config.currency)),
                history: rows
                    .iter()
                    .zip(labels)
                    .map(|(row, by)| HistoryRow::new(row, by))
                    .collect(),
            })
        }
    };
    Ok(Panel {
        user_id,
        csrf_token: admin.csrf_token.clone(),
        currencies,
        selected,
    })
}

/// The tab as a full page, or its panel alone for htmx: the customer and everything the
/// panel shows come from one blocking call.
async fn respond_with_tab(
    state: &AppState,
    request: &HttpRequest,
    admin: CurrentAdmin,
    user_id: i64,
    query: TabQuery,
    confirmation_text: Option<String>,
) -> Result<HttpResponse, AppError> {
    let (customer, panel) = {
        let admin = admin.clone();
        with_conn(&state.pool, move |conn| {
            let customer = customers::find(conn, user_id)?
                .ok_or_else(|| AppError::not_found("This customer"))?;
            let panel = load_panel(conn, &admin, user_id, &query, confirmation_text)?;
            Ok((customer, panel))
        })
        .await?
    };
    if is_htmx(request) {
        ok(&PanelFragment { panel })
    } else {
        ok(&PromoCreditsPage {
            layout: Layout::new(&admin, "customers"),
            customer: CustomerView::from(&customer),
            tab: "credits",
            panel,
        })
    }
}

pub async fn tab(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
    query: web::Query<TabQuery>,
) -> Result<HttpResponse, AppError> {
    let user_id = parse_user_id(&path)?;
    respond_with_tab(&state, &request, admin, user_id, query.into_inner(), None).await
}

#[derive(Deserialize)]
pub struct CurrencyQuery {
    currency: Option<String>,
}

/// The account and config the form is about; none when the currency is not configured.
fn form_context(
    conn: &mut DbConnection,
    user_id: i64,
    currency: &str,
) -> Result<(Option<PromoCreditConfig>, Option<CreditAccount>), AppError> {
    let config = configs::find(conn, currency)?;
    let account = match &config {
        Some(_) => credits::account(conn, user_id, currency)?,
        None => None,
    };
    Ok((config, account))
}

fn blank_form(admin: &CurrentAdmin, user_id: i64, currency: &str) -> UpdateForm {
    UpdateForm {
        user_id,
        csrf_token: admin.csrf_token.clone(),
        currency: currency.to_owned(),
        mode: "set".to_owned(),
        cancel_href: tab_href(user_id, currency),
        ..UpdateForm::default()
    }
}

/// The form as the htmx modal or, without JavaScript, a full page.
fn respond_with_form(
    request: &HttpRequest,
    admin: &CurrentAdmin,
    customer: &User,
    status: StatusCode,
    form: UpdateForm,
) -> Result<HttpResponse, AppError> {
    if is_htmx(request) {
        let mut response = html(status, &UpdateModal { form })?;
        if status != StatusCode::OK {
            // The form goes back into the modal, not over the tab's panel.
            let headers = response.headers_mut();
            headers.insert(
                "HX-Retarget".parse().map_err(AppError::internal)?,
                "#modal".parse().map_err(AppError::internal)?,
            );
            headers.insert(
                "HX-Reswap".parse().map_err(AppError::internal)?,
                "innerHTML".parse().map_err(AppError::internal)?,
            );
        }
        Ok(response)
    } else {
        html(
            status,
            &UpdatePage {
                layout: Layout::new(admin, "customers"),
                customer: CustomerView::from(customer),
                tab: "credits",
                form,
            },
        )
    }
}

pub async fn update_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
    query: web::Query<CurrencyQuery>,
) -> Result<HttpResponse, AppError> {
    admin.require_credit_adjuster()?;
    let customer = load_customer(&state, &path).await?;
    let user_id = customer.id;
    let requested = query.currency.clone();
    let (config, account) = with_conn(&state.pool, move |conn| {
        let configs = configs::list(conn)?;
        let Some(config) = pick(&configs, requested.as_deref()).cloned() else {
            return Ok((None, None));
        };
        let account = credits::account(conn, user_id, &config.currency)?;
        Ok((Some(config), account))
    })
    .await?;
    let Some(config) = config else {
        return Err(AppError::Unprocessable(
            "Promo credits are not enabled for any currency yet.".into(),
        ));
    };
    let figures = AccountFigures::from(account.as_ref());
    let mut form = blank_form(&admin, user_id, &config.currency);
    form.expected_version = figures.version.to_string();
    form.show_account(&figures, Some(&config));
    if !config.enabled {
        form.form_error = Some(LedgerError::CurrencyDisabled(config.currency.clone()).to_string());
    }
    respond_with_form(&request, &admin, &customer, StatusCode::OK, form)
}

#[derive(Deserialize)]
pub struct UpdateFields {
    currency: Option<String>,
    mode: Option<String>,
    amount: Option<String>,
    note: Option<String>,
    reason: Option<String>,
    expected_version: Option<String>,
}

pub async fn update(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
    fields: web::Form<UpdateFields>,
) -> Result<HttpResponse, AppError> {
    admin.require_credit_adjuster()?;
    let customer = load_customer(&state, &path).await?;
    let user_id = customer.id;
    let fields = fields.into_inner();

    // Read every field, keeping what was typed and collecting each problem beside its field.
    let typed_currency = field(&fields.currency).trim().to_owned();
    let mut form = blank_form(&admin, user_id, &typed_currency);
    form.mode = field(&fields.mode).to_owned();
    form.amount = field(&fields.amount).to_owned();
    form.note = field(&fields.note).to_owned();
    form.reason = field(&fields.reason).to_owned();
    form.expected_version = field(&fields.expected_version).to_owned();

    let currency = CurrencyCode::parse(&typed_currency);
    let lookup = typed_currency.clone();
    let (config, account) = with_conn(&state.pool, move |conn| {
        form_context(conn, user_id, &lookup)
    })
    .await?;
    match (&currency, &config) {
        (Err(error), _) => form.currency_error = Some(error.to_string()),
        (Ok(code), None) => {
            form.currency_error =
                Some(LedgerError::CurrencyNotOffered(code.to_string()).to_string())
        }
        _ => {}
    }
    let mode = Mode::parse(&form.mode);
    if mode.is_none() {
        form.mode_error = Some("Choose Set new total or Add or remove.".into());
    }
    let change = mode.map(|mode| parse_amount(&form.amount, mode));
    if let Some(Err(error)) = &change {
        form.amount_error = Some(error.to_string());
    }
    let note = Note::parse(&form.note);
    if let Err(error) = &note {
        form.note_error = Some(error.to_string());
    }
    let reason = match form.reason.trim() {
        "" => Ok(None),
        text => Reason::parse(text).map(Some),
    };
    if reason.is_err() {
        form.reason_error = Some("Choose a reason from the list, or leave it empty.".into());
    }
    let expected_version = match form.expected_version.trim() {
        "" => Ok(None),
        text => text.parse::<i64>().map(Some).map_err(|_| ()),
    };
    if expected_version.is_err() {
        form.form_error =
            Some("This form is out of date. Close it and open Update Promo Credit again.".into());
    }
    let figures = AccountFigures::from(account.as_ref());
    form.show_account(&figures, config.as_ref());

    let (
        Ok(currency),
        Some(Ok(change)),
        Ok(note),
        Ok(reason),
        Ok(expected_version),
        Some(_),
        false,
    ) = (
        currency,
        change,
        note,
        reason,
        expected_version,
        config.as_ref(),
        form.has_errors(),
    )
    else {
        return respond_with_form(
            &request,
            &admin,
            &customer,
            StatusCode::UNPROCESSABLE_ENTITY,
            form,
        );
    };

    let adjustment = Adjustment {
        user_id,
        currency: currency.clone(),
        change,
        note,
        reason,
        expected_version,
        actor: Actor::Admin(admin.admin_id),
        source: Source::Console,
    };
    let ip = request.peer_addr().map(|a| a.ip().to_string());
    let actor_email = admin.email.clone();
    let customer_email = customer.email.clone();
    let result = with_conn(&state.pool, move |conn| {
        let posted = match ledger::adjust(conn, adjustment) {
            Ok(posted) => posted,
            Err(LedgerError::Database(e)) => return Err(AppError::from(e)),
            Err(refused) => {
                let now = credits::account(conn, user_id, currency.as_str())?;
                return Ok(Err((refused, now)));
            }
        };
        let row = &posted.transaction;
        activity::record(
            conn,
            activity::Record {
                actor: &actor_email,
                action: "credit.adjust",
                target: &format!("customer {user_id} ({customer_email}) {}", row.currency),
                details: &format!(
                    "{} → {} ({:+}): {}",
                    row.balance_before, row.balance_after, row.delta, row.note
                ),
                ip: ip.as_deref(),
            },
        )?;
        Ok(Ok(posted))
    })
    .await?;

    match result {
        Ok(posted) => {
            let row = posted.transaction;
            if is_htmx(&request) {
                let query = TabQuery {
                    currency: Some(row.currency.clone()),
                    before: None,
                    updated: None,
                    usage: None,
                };
                respond_with_tab(
                    &state,
                    &request,
                    admin,
                    user_id,
                    query,
                    Some(confirmation(&row)),
                )
                .await
            } else {
                Ok(see_other(&format!(
                    "{}&updated={}",
                    tab_href(user_id, &row.currency),
                    row.id
                )))
            }
        }
        Err((refused, account_now)) => {
            let figures = AccountFigures::from(account_now.as_ref());
            form.show_account(&figures, config.as_ref());
            let status = match &refused {
                LedgerError::CustomerNotFound => return Err(AppError::not_found("This customer")),
                LedgerError::VersionConflict { version, .. } => {
                    form.expected_version = version.to_string();
                    form.form_error = Some(refused.to_string());
                    StatusCode::CONFLICT
                }
                LedgerError::BelowZero { .. } | LedgerError::AboveMaximum { .. } => {
                    form.amount_error = Some(refused.to_string());
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                LedgerError::NothingToChange => {
                    form.form_error = Some(format!(
                        "There is nothing to change: the balance is already {} credits.",
                        form.balance_text
                    ));
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                LedgerError::CurrencyNotOffered(_) => {
                    form.currency_error = Some(refused.to_string());
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => {
                    form.form_error = Some(refused.to_string());
                    StatusCode::UNPROCESSABLE_ENTITY
                }
            };
            respond_with_form(&request, &admin, &customer, status, form)
        }
    }
}

#[derive(Deserialize)]
pub struct UsageFields {
    currency: Option<String>,
    enabled: Option<String>,
}

pub async fn usage(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
    fields: web::Form<UsageFields>,
) -> Result<HttpResponse, AppError> {
    admin.require_credit_adjuster()?;
    let customer = load_customer(&state, &path).await?;
    let currency = CurrencyCode::parse(field(&fields.currency))
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let enabled = match field(&fields.enabled) {
        "true" | "on" => true,
        "false" | "off" => false,
        _ => {
            return Err(AppError::Unprocessable(
                "Say whether credit use is on (true) or off (false).".into(),
            ))
        }
    };
    let user_id = customer.id;
    let ip = request.peer_addr().map(|a| a.ip().to_string());
    let actor_email = admin.email.clone();
    let customer_email = customer.email.clone();
    let code = currency.clone();
    with_conn(&state.pool, move |conn| {
        let (before, after) =
            ledger::set_usage(conn, user_id, &code, enabled).map_err(|e| match e {
                LedgerError::Database(e) => AppError::from(e),
                LedgerError::CustomerNotFound => AppError::not_found("This customer"),
                other => AppError::Unprocessable(other.to_string()),
            })?;
        let word = |on: bool| if on { "on" } else { "off" };
        activity::record(
            conn,
            activity::Record {
                actor: &actor_email,
                action: "credit.usage",
                target: &format!("customer {user_id} ({customer_email}) {code}"),
                details: &format!(
                    "credit use {} → {}",
                    word(before.enabled),
                    word(after.enabled)
                ),
                ip: ip.as_deref(),
            },
        )?;
        Ok(())
    })
    .await?;
    let word = if enabled { "on" } else { "off" };
    if is_htmx(&request) {
        let query = TabQuery {
            currency: Some(currency.to_string()),
            before: None,
            updated: None,
            usage: Some(word.into()),
        };
        respond_with_tab(&state, &request, admin, user_id, query, None).await
    } else {
        Ok(see_other(&format!(
            "{}&usage={word}",
            tab_href(user_id, currency.as_str())
        )))
    }
}

#[derive(Deserialize)]
pub struct PreviewQuery {
    currency: Option<String>,
    mode: Option<String>,
    amount: Option<String>,
}

/// The modal's live preview: what the typed change would do to the balance as it is now.
pub async fn preview(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    path: web::Path<String>,
    query: web::Query<PreviewQuery>,
) -> Result<HttpResponse, AppError> {
    admin.require_credit_adjuster()?;
    let user_id = parse_user_id(&path)?;
    let currency = field(&query.currency).trim().to_owned();
    let (config, account) = {
        let currency = currency.clone();
        with_conn(&state.pool, move |conn| {
            form_context(conn, user_id, &currency)
        })
        .await?
    };
    let figures = AccountFigures::from(account.as_ref());
    let mut form = blank_form(&admin, user_id, &currency);
    form.preview = match &config {
        Some(config) => Preview::of(
            field(&query.mode),
            field(&query.amount),
            figures.balance,
            config.exchange_rate_e4,
            &config.currency,
        ),
        None => Some(Preview {
            text: LedgerError::CurrencyNotOffered(currency.clone()).to_string(),
            class: "refused",
            large: false,
        }),
    };
    ok(&PreviewFragment { form })
}
