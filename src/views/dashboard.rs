//! `/`: the dashboard (per currency: customers with credit, the liability now, the breakage
//! forecast of the next six months, the last 30 days' movements as a chart and a table), or
//! the first-run guide on an empty console; and a warning when the server has disabled a
//! webhook endpoint.

use std::collections::HashMap;

use askama::Template;
use time::{Date, Duration, Month};

use super::webhooks::DisabledEndpoint;
use super::Layout;
use crate::db::models::{PromoCreditConfig, WebhookEndpoint};
use crate::domain::{format_credits, money_value, CurrencyCode, ExchangeRate};
use crate::store::expiring::ExpiringDay;
use crate::store::liability::DayMovement;

/// Days the chart and the "last 30 days" figures cover, today included.
pub const DAYS: i64 = 30;

/// Calendar months of the breakage forecast: this one (from today) and the five after it.
pub const FORECAST_MONTHS: usize = 6;

/// The chart's drawing area, in SVG units.
const WIDTH: i64 = 720;
const HEIGHT: i64 = 160;

/// One day's two bars.
pub struct DayBars {
    pub day: String,
    pub added: i64,
    pub used: i64,
    pub added_text: String,
    pub used_text: String,
    pub x_added: i64,
    pub x_used: i64,
    pub added_y: i64,
    pub added_h: i64,
    pub used_y: i64,
    pub used_h: i64,
}

/// One currency's figures.
pub struct CurrencyFigures {
    pub code: String,
    pub name: String,
    pub enabled: bool,
    pub customers: i64,
    pub customers_text: String,
    pub outstanding: i64,
    pub outstanding_text: String,
    pub value_text: String,
    pub rate_text: String,
    pub added_text: String,
    pub used_text: String,
    pub days: Vec<DayBars>,
    pub peak_text: String,
    pub first_day: String,
    pub last_day: String,
    pub chart_label: String,
    pub bar_width: i64,
}

/// A month of the breakage forecast.
pub struct ForecastMonth {
    /// `2026-12`.
    pub key: String,
    /// `Dec 2026`.
    pub label: String,
}

/// Credits (and their value at today's rate) expiring in one month, or in all six.
pub struct ForecastCell {
    pub month: String,
    pub credits: i64,
    pub credits_text: String,
    pub value_text: String,
}

/// One currency's line of the breakage forecast.
pub struct ForecastLine {
    pub code: String,
    pub months: Vec<ForecastCell>,
    pub total: ForecastCell,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub currencies: Vec<CurrencyFigures>,
    pub forecast_months: Vec<ForecastMonth>,
    pub forecast: Vec<ForecastLine>,
    /// Endpoints the server disabled (410 Gone, five days failing), for roles that read
    /// the delivery log.
    pub disabled_webhooks: Vec<DisabledEndpoint>,
    pub width: i64,
    pub height: i64,
}

/// Everything the dashboard is drawn from, read in one go.
pub struct DashboardData {
    pub configs: Vec<PromoCreditConfig>,
    pub outstanding: HashMap<String, i64>,
    pub customers: HashMap<String, i64>,
    pub movements: Vec<DayMovement>,
    /// Credits expiring per day and currency over [`forecast_window`].
    pub expiring: Vec<ExpiringDay>,
    /// Endpoints the server disabled; empty for a role that may not see them.
    pub disabled_webhooks: Vec<WebhookEndpoint>,
}

impl DashboardPage {
    pub fn new(layout: Layout, data: &DashboardData, today: Date) -> DashboardPage {
        let first = today - Duration::days(DAYS - 1);
        let currencies = data
            .configs
            .iter()
            .filter_map(|config| figures(config, data, first))
            .collect();
        let months = forecast_months(today);
        let forecast = data
            .configs
            .iter()
            .filter_map(|config| forecast_line(config, &data.expiring, &months))
            .collect();
        DashboardPage {
            layout,
            currencies,
            forecast_months: months
                .iter()
                .map(|(year, month)| ForecastMonth {
                    key: month_key(*year, *month),
                    label: month_label(*year, *month),
                })
                .collect(),
            forecast,
            disabled_webhooks: data
                .disabled_webhooks
                .iter()
                .map(DisabledEndpoint::new)
                .collect(),
            width: WIDTH,
            height: HEIGHT,
        }
    }
}

/// The months of the forecast, this one first.
fn forecast_months(today: Date) -> Vec<(i32, Month)> {
    let mut months = Vec::with_capacity(FORECAST_MONTHS);
    let (mut year, mut month) = (today.year(), today.month());
    for _ in 0..FORECAST_MONTHS {
        months.push((year, month));
        if month == Month::December {
            year += 1;
        }
        month = month.next();
    }
    months
}

/// The days the breakage forecast covers: from `today` (included) to the first day after
/// its last month (excluded).
pub fn forecast_window(today: Date) -> (Date, Date) {
    let (year, month) = forecast_months(today)
        .last()
        .copied()
        .unwrap_or((today.year(), today.month()));
    let (year, month) = if month == Month::December {
        (year + 1, Month::January)
    } else {
        (year, month.next())
    };
    let until = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MAX);
    (today, until)
}

fn month_key(year: i32, month: Month) -> String {
    format!("{year:04}-{:02}", u8::from(month))
}

/// `Dec 2026`.
fn month_label(year: i32, month: Month) -> String {
    let format = time::macros::format_description!("[month repr:short] [year]");
    Date::from_calendar_date(year, month, 1)
        .ok()
        .and_then(|day| day.format(&format).ok())
        .unwrap_or_else(|| month_key(year, month))
}

/// The forecast of one configured currency: the credits of `expiring` grouped by month, and
/// their value at the currency's rate today.
fn forecast_line(
    config: &PromoCreditConfig,
    expiring: &[ExpiringDay],
    months: &[(i32, Month)],
) -> Option<ForecastLine> {
    let code = CurrencyCode::parse(&config.currency).ok()?;
    let rate = ExchangeRate::from_e4(config.exchange_rate_e4).ok()?;
    let mut credits = vec![0i64; months.len()];
    for day in expiring.iter().filter(|d| d.currency == code.as_str()) {
        if let Some(at) = months
            .iter()
            .position(|(year, month)| day.day.year() == *year && day.day.month() == *month)
        {
            credits[at] += day.credits;
        }
    }
    let cell = |month: String, credits: i64| ForecastCell {
        month,
        credits,
        credits_text: format_credits(credits),
        value_text: money_value(credits, rate, &code).grouped(),
    };
    let total = credits.iter().sum();
    Some(ForecastLine {
        months: months
            .iter()
            .zip(&credits)
            .map(|((year, month), credits)| cell(month_key(*year, *month), *credits))
            .collect(),
        total: cell(String::new(), total),
        code: code.to_string(),
    })
}

fn figures(
    config: &PromoCreditConfig,
    data: &DashboardData,
    first: Date,
) -> Option<CurrencyFigures> {
    let code = CurrencyCode::parse(&config.currency).ok()?;
    let rate = ExchangeRate::from_e4(config.exchange_rate_e4).ok()?;
    let outstanding = data.outstanding.get(code.as_str()).copied().unwrap_or(0);
    let customers = data.customers.get(code.as_str()).copied().unwrap_or(0);
    let by_day: HashMap<Date, (i64, i64)> = data
        .movements
        .iter()
        .filter(|m| m.currency == code.as_str() && m.day >= first)
        .map(|m| (m.day, (m.added, m.used)))
        .collect();
    let series: Vec<(Date, i64, i64)> = (0..DAYS)
        .map(|n| {
            let day = first + Duration::days(n);
            let (added, used) = by_day.get(&day).copied().unwrap_or((0, 0));
            (day, added, used)
        })
        .collect();
    let peak = series
        .iter()
        .map(|(_, a, u)| (*a).max(*u))
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH / DAYS;
    let bar_width = (slot - 4) / 2;
    let height = |value: i64| ((value as i128 * HEIGHT as i128) / peak as i128) as i64;
    let days: Vec<DayBars> = series
        .iter()
        .enumerate()
        .map(|(i, (day, added, used))| {
            let x = i as i64 * slot + 2;
            let (added_h, used_h) = (height(*added), height(*used));
            DayBars {
                day: day.to_string(),
                added: *added,
                used: *used,
                added_text: format_credits(*added),
                used_text: format_credits(*used),
                x_added: x,
                x_used: x + bar_width,
                added_y: HEIGHT - added_h,
                added_h,
                used_y: HEIGHT - used_h,
                used_h,
            }
        })
        .collect();
    let (added_30, used_30) = series
        .iter()
        .fold((0i64, 0i64), |(a, u), (_, added, used)| {
            (a + added, u + used)
        });
    Some(CurrencyFigures {
        name: code.name(),
        enabled: config.enabled,
        customers,
        customers_text: format_credits(customers),
        outstanding,
        outstanding_text: format_credits(outstanding),
        value_text: money_value(outstanding, rate, &code).grouped(),
        rate_text: format!("{} {code}", rate.display_for(code.minor_units())),
        added_text: signed(added_30, "+"),
        used_text: signed(used_30, "−"),
        chart_label: format!(
            "Credits added and used per day in {code} over the last {DAYS} days: {} added, {} used.",
            format_credits(added_30),
            format_credits(used_30)
        ),
        peak_text: format_credits(peak),
        first_day: series.first().map(|(d, ..)| d.to_string()).unwrap_or_default(),
        last_day: series.last().map(|(d, ..)| d.to_string()).unwrap_or_default(),
        days,
        bar_width,
        code: code.to_string(),
    })
}

#[derive(Template)]
#[template(path = "first_run.html")]
pub struct FirstRunPage {
    pub layout: Layout,
    pub has_currency: bool,
    pub has_customers: bool,
    pub is_owner: bool,
}

/// `+1,200` or `−300`; a plain `0` when nothing moved.
fn signed(credits: i64, sign: &str) -> String {
    match credits {
        0 => "0".to_owned(),
        n => format!("{sign}{}", format_credits(n)),
    }
}
