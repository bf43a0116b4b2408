//! `/users/{id}/promo-credits`: the Promo Credits tab of a billing profile, the Update Promo
//! Credit form with its live preview, and the credit-use switch. Every change goes through
//! `crate::ledger`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::parse_user_id;
use crate::auth::{CurrentAdmin, Signed};
use crate::db::models::CreditTransaction;
use crate::domain::Permission;
use crate::error::AppError;
use crate::filters::from_query;
use crate::filters::tab::{RawPreviewQuery, RawTabQuery, TabQuery};
use crate::forms::adjustment::{refusal, AdjustmentFields};
use crate::forms::usage::UsageFields;
use crate::forms::FieldErrors;
use crate::ledger;
use crate::startup::AppState;
use crate::store::credits::{self, AccountContext};
use crate::views::users::promo_credits::{
    confirmation, tab_href, usage_confirmation, AccountFigures, Panel, PanelFragment, Preview,
    PreviewFragment, PromoCreditsPage, UpdateForm, UpdateModal, UpdatePage,
};
use crate::views::users::CustomerView;
use crate::views::Layout;
use crate::web::{html, is_htmx, ok, see_other, with_conn};

pub async fn tab(
    state: web::Data<AppState>,
    request: HttpRequest,
    signed: Signed,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let parsed = parse_user_id(&path).and_then(|user_id| {
        let query = from_query::<RawTabQuery>(request.query_string())?.parse()?;
        Ok((user_id, query))
    });
    match parsed {
        Ok((user_id, query)) => {
            respond_with_tab(&state, &request, signed, user_id, query, None).await
        }
        // Only a signed-in admin hears what is wrong with the address.
        Err(error) => {
            signed.with_conn(&state, |_, _| Ok(())).await?;
            Err(error)
        }
    }
}

/// The tab as a full page, or its panel alone for htmx: the session and the page read in
/// one blocking call. The confirmation is `said`, or the one the query asks for (after a
/// redirect).
async fn respond_with_tab(
    state: &AppState,
    request: &HttpRequest,
    signed: Signed,
    user_id: i64,
    query: TabQuery,
    said: Option<String>,
) -> Result<HttpResponse, AppError> {
    let code = query.currency.as_ref().map(|c| c.to_string());
    let (before, updated) = (query.before, query.updated);
    let (admin, tab) = signed
        .with_conn(state, move |conn, admin| {
            admin.require(Permission::View)?;
            credits::tab(conn, user_id, code.as_deref(), before, updated)?
                .ok_or_else(|| AppError::not_found("This customer"))
        })
        .await?;
    let credits::Tab {
        context,
        reads,
        updated,
    } = tab;
    let said = said.or_else(|| confirmation_of(&context, &query, updated.as_ref()));
    let can_adjust = Permission::AdjustCredits.allows(admin.role);
    let panel = Panel::new(
        &admin.csrf_token,
        can_adjust,
        &context,
        reads,
        query.before,
        said,
    );
    if is_htmx(request) {
        return ok(&PanelFragment { panel });
    }
    ok(&PromoCreditsPage {
        layout: Layout::new(&admin, "customers"),
        customer: CustomerView::from(&context.customer),
        tab: "credits",
        panel,
    })
}

/// What the tab confirms after a redirect: the change just made (when it is this account's)
/// or the credit-use switch.
fn confirmation_of(
    context: &AccountContext,
    query: &TabQuery,
    updated: Option<&CreditTransaction>,
) -> Option<String> {
    let config = context.config.as_ref()?;
    let mine = |row: &&CreditTransaction| {
        row.user_id == context.customer.id && row.currency == config.currency
    };
    updated.filter(mine).map(confirmation).or_else(|| {
        query
            .usage
            .map(|on| usage_confirmation(on, &config.currency))
    })
}

/// The form as the htmx modal or, without JavaScript, a full page.
fn respond_with_form(
    request: &HttpRequest,
    admin: &CurrentAdmin,
    context: &AccountContext,
    status: StatusCode,
    form: UpdateForm,
) -> Result<HttpResponse, AppError> {
    if !is_htmx(request) {
        let page = UpdatePage {
            layout: Layout::new(admin, "customers"),
            customer: CustomerView::from(&context.customer),
            tab: "credits",
            form,
        };
        return html(status, &page);
    }
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
}

/// The customer and their account in `currency` (or the first configured), for a form.
async fn context_of(
    state: &AppState,
    user_id: i64,
    currency: Option<String>,
    or_first: bool,
) -> Result<AccountContext, AppError> {
    with_conn(&state.pool, move |conn| {
        credits::account_context(conn, user_id, currency.as_deref(), or_first)?
            .ok_or_else(|| AppError::not_found("This customer"))
    })
    .await
}

pub async fn update_form(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::AdjustCredits)?;
    let user_id = parse_user_id(&path)?;
    let query = from_query::<RawTabQuery>(request.query_string())?.parse()?;
    let currency = query.currency.map(|c| c.to_string());
    let context = context_of(&state, user_id, currency, true).await?;
    let Some(config) = &context.config else {
        return Err(AppError::Unprocessable(
            "Promo credits are not enabled for any currency yet.".into(),
        ));
    };
    let mut form = UpdateForm::blank(&admin.csrf_token, &context);
    if !config.enabled {
        let disabled = ledger::LedgerError::CurrencyDisabled(config.currency.clone());
        form.errors = refusal(disabled)?.1.into();
    }
    respond_with_form(&request, &admin, &context, StatusCode::OK, form)
}

pub async fn update(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
    web::Form(fields): web::Form<AdjustmentFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::AdjustCredits)?;
    let user_id = parse_user_id(&path)?;
    let (status, errors) = match fields.parse(crate::db::now_utc().date()) {
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
        Ok(input) => {
            let adjustment = input.by_admin(user_id, admin.admin_id, admin.audit.clone());
            let result = with_conn(&state.pool, move |conn| {
                Ok(ledger::adjust(conn, adjustment))
            });
            match result.await? {
                Ok(posted) => return changed(&state, &request, admin, posted.transaction).await,
                Err(refused) => {
                    let (status, error) = refusal(refused)?;
                    (status, FieldErrors::from(error))
                }
            }
        }
    };
    let context = context_of(&state, user_id, Some(fields.currency.clone()), false).await?;
    let mut fields = fields;
    if status == StatusCode::CONFLICT {
        // The form now carries the version it was refused for, and shows its balance.
        fields.expected_version = AccountFigures::from(context.account.as_ref())
            .version
            .to_string();
    }
    let form = UpdateForm::refilled(&admin.csrf_token, &context, fields, errors);
    respond_with_form(&request, &admin, &context, status, form)
}

/// After a change: the tab's panel with the confirmation (htmx), or a redirect to the tab.
async fn changed(
    state: &AppState,
    request: &HttpRequest,
    admin: CurrentAdmin,
    row: CreditTransaction,
) -> Result<HttpResponse, AppError> {
    if !is_htmx(request) {
        let location = format!(
            "{}&updated={}",
            tab_href(row.user_id, &row.currency),
            row.id
        );
        return Ok(see_other(&location));
    }
    let query = TabQuery {
        currency: crate::domain::CurrencyCode::parse(&row.currency).ok(),
        ..TabQuery::default()
    };
    respond_with_tab(
        state,
        request,
        Signed::resolved(admin),
        row.user_id,
        query,
        Some(confirmation(&row)),
    )
    .await
}

pub async fn usage(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
    web::Form(fields): web::Form<UsageFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::AdjustCredits)?;
    let user_id = parse_user_id(&path)?;
    let input = fields.parse()?;
    let (currency, audit) = (input.currency, admin.audit.clone());
    with_conn(&state.pool, move |conn| {
        Ok(ledger::set_usage(
            conn,
            user_id,
            &currency,
            input.enabled,
            &audit,
        )?)
    })
    .await?;
    if !is_htmx(&request) {
        let word = if input.enabled { "on" } else { "off" };
        let tab = tab_href(user_id, input.currency.as_str());
        return Ok(see_other(&format!("{tab}&usage={word}")));
    }
    let said = usage_confirmation(input.enabled, input.currency.as_str());
    let query = TabQuery {
        currency: Some(input.currency),
        ..TabQuery::default()
    };
    respond_with_tab(
        &state,
        &request,
        Signed::resolved(admin),
        user_id,
        query,
        Some(said),
    )
    .await
}

/// The modal's live preview: what the typed change would do to the balance as it is now.
pub async fn preview(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::AdjustCredits)?;
    let user_id = parse_user_id(&path)?;
    let typed: RawPreviewQuery = from_query(request.query_string())?;
    let context = context_of(&state, user_id, Some(typed.currency.clone()), false).await?;
    let fields = AdjustmentFields {
        currency: typed.currency.clone(),
        mode: typed.mode.clone(),
        amount: typed.amount.clone(),
        expires_at: typed.expires_at.clone(),
        ..AdjustmentFields::default()
    };
    let today = crate::db::now_utc().date();
    let mut form = UpdateForm::refilled(
        &admin.csrf_token,
        &context,
        fields.clone(),
        FieldErrors::default(),
    );
    form.preview = match &context.config {
        Some(config) => Preview::of(&fields, form.balance, config, today),
        None => Preview::not_offered(typed.currency.trim()),
    };
    ok(&PreviewFragment { form })
}
