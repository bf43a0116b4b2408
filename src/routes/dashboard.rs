//! `/`: the dashboard, or the first-run guide while the console has no currency or no
//! customer; `POST /demo` loads demo data into an empty console.

use actix_web::{web, HttpResponse};
use time::{Duration, OffsetDateTime};

use crate::auth::CurrentAdmin;
use crate::domain::Permission;
use crate::error::AppError;
use crate::startup::AppState;
use crate::store::activity::{self, Subject};
use crate::store::{configs, customers, expiring, liability, webhooks};
use crate::views::dashboard::{forecast_window, DashboardData, DashboardPage, FirstRunPage, DAYS};
use crate::views::Layout;
use crate::web::{ok, see_other, with_conn};

/// Customers the demo data creates.
const DEMO_CUSTOMERS: u32 = 50;

pub async fn show(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::View)?;
    let today = OffsetDateTime::now_utc().date();
    let sees_webhooks = Permission::ViewWebhookDeliveries.allows(admin.role);
    let (data, has_customers) = with_conn(&state.pool, move |conn| {
        let data = DashboardData {
            configs: configs::list(conn)?,
            outstanding: liability::outstanding(conn)?,
            customers: liability::customers_with_credit(conn)?,
            movements: liability::daily_movements(conn, today - Duration::days(DAYS - 1))?,
            expiring: expiring::by_day(conn, forecast_window(today))?,
            disabled_webhooks: match sees_webhooks {
                true => webhooks::disabled_by_server(conn)?,
                false => Vec::new(),
            },
        };
        Ok((data, customers::any(conn)?))
    })
    .await?;
    let layout = Layout::new(&admin, "dashboard");
    if data.configs.is_empty() || !has_customers {
        return ok(&FirstRunPage {
            layout,
            has_currency: !data.configs.is_empty(),
            has_customers,
            is_owner: Permission::ManageAccess.allows(admin.role),
        });
    }
    ok(&DashboardPage::new(layout, &data, today))
}

pub async fn load_demo(
    state: web::Data<AppState>,
    admin: CurrentAdmin,
) -> Result<HttpResponse, AppError> {
    admin.require(Permission::ManageAccess)?;
    let audit = admin.audit.clone();
    with_conn(&state.pool, move |conn| {
        if customers::any(conn)? {
            return Err(AppError::Unprocessable(
                "The console has customers already: demo data is only for an empty console.".into(),
            ));
        }
        let loaded = crate::demo::run(conn, DEMO_CUSTOMERS).map_err(AppError::internal)?;
        activity::record(
            conn,
            activity::Record {
                audit: &audit,
                action: "demo.load",
                target: "demo data",
                details: &format!(
                    "{} customers, {} ledger rows",
                    loaded.customers, loaded.rows
                ),
                subject: Subject::default(),
            },
        )?;
        Ok(())
    })
    .await?;
    Ok(see_other("/"))
}
