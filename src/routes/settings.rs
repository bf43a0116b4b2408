//! `/settings/promo-credit`: the currencies promo credits exist in, and one currency's
//! settings (docs/console.md, "Promo credit settings").

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::auth::CurrentAdmin;
use crate::db::models::{PromoCreditConfig, PromoCreditRate};
use crate::domain::{CurrencyCode, Permission};
use crate::error::AppError;
use crate::filters::from_query;
use crate::filters::settings::RawSettingsQuery;
use crate::forms::settings::SettingsFields;
use crate::forms::FieldErrors;
use crate::startup::AppState;
use crate::store::{configs, liability};
use crate::views::settings::{SettingsContext, SettingsListPage, SettingsPage};
use crate::views::Layout;
use crate::web::{html, ok, see_other, with_conn};

pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ViewSettings)?;
    let query = from_query::<RawSettingsQuery>(request.query_string())?.parse()?;
    let can_edit = Permission::EditSettings.allows(admin.role);
    let layout = Layout::new(&admin, "settings");
    let Some(currency) = query.currency else {
        let (configs, outstanding) = with_conn(&state.pool, |conn| {
            Ok((configs::list(conn)?, liability::outstanding(conn)?))
        })
        .await?;
        return ok(&SettingsListPage::new(
            layout,
            &configs,
            &outstanding,
            can_edit,
        ));
    };
    let (config, outstanding, history) = settings_of(&state, currency).await?;
    if config.is_none() && !can_edit {
        let message = format!("Promo credits are not set up in {currency}.");
        return Err(AppError::NotFound(message));
    }
    let fields = config.as_ref().map_or_else(
        || SettingsFields::new_currency(currency),
        SettingsFields::of,
    );
    let context = SettingsContext {
        currency,
        config: config.as_ref(),
        outstanding,
        history: &history,
        can_edit,
    };
    let mut page = SettingsPage::new(layout, context, fields, FieldErrors::default());
    page.saved = query.saved.map(|changed| match changed {
        true => format!("Promo credit settings for {currency} saved."),
        false => format!("Nothing changed: the settings for {currency} were already these."),
    });
    ok(&page)
}

pub async fn save(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
    web::Form(fields): web::Form<SettingsFields>,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::EditSettings)?;
    let (status, errors) = match fields.parse() {
        Ok(settings) if !fields.is_preview() => {
            let (audit, currency) = (admin.audit.clone(), settings.currency);
            let saved = with_conn(&state.pool, move |conn| {
                Ok(configs::save(conn, &settings, &audit)?)
            })
            .await?;
            let outcome = if saved.changes.is_empty() {
                "unchanged"
            } else {
                "changed"
            };
            let location = format!("/settings/promo-credit?currency={currency}&saved={outcome}");
            return Ok(see_other(&location));
        }
        Ok(_) => (StatusCode::OK, FieldErrors::default()),
        Err(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors),
    };
    let currency = CurrencyCode::parse(&fields.currency)
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let (config, outstanding, history) = settings_of(&state, currency).await?;
    let context = SettingsContext {
        currency,
        config: config.as_ref(),
        outstanding,
        history: &history,
        can_edit: true,
    };
    html(
        status,
        &SettingsPage::new(Layout::new(&admin, "settings"), context, fields, errors),
    )
}

/// A currency's settings (none before it is set up), its outstanding credits and its rates.
async fn settings_of(
    state: &AppState,
    currency: CurrencyCode,
) -> Result<(Option<PromoCreditConfig>, i64, Vec<PromoCreditRate>), AppError> {
    with_conn(&state.pool, move |conn| {
        let config = configs::find(conn, currency.as_str())?;
        let outstanding = liability::outstanding(conn)?
            .get(currency.as_str())
            .copied()
            .unwrap_or(0);
        Ok((
            config,
            outstanding,
            configs::rate_history(conn, currency.as_str())?,
        ))
    })
    .await
}
