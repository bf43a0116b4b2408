//! `/`: the dashboard (per currency: customers with credit, the liability now, the last 30
//! days' movements as a chart and a table), or the first-run guide on an empty console.

use std::collections::HashMap;

use askama::Template;
use time::{Date, Duration};

use super::Layout;
use crate::db::models::PromoCreditConfig;
use crate::domain::{format_credits, money_value, CurrencyCode, ExchangeRate};
use crate::store::liability::DayMovement;

/// Days the chart and the "last 30 days" figures cover, today included.
pub const DAYS: i64 = 30;

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

#[derive(Template)]
#[template(path = "dashboard.html")]
pub struct DashboardPage {
    pub layout: Layout,
    pub currencies: Vec<CurrencyFigures>,
    pub width: i64,
    pub height: i64,
}

/// Everything the dashboard is drawn from, read in one go.
pub struct DashboardData {
    pub configs: Vec<PromoCreditConfig>,
    pub outstanding: HashMap<String, i64>,
    pub customers: HashMap<String, i64>,
    pub movements: Vec<DayMovement>,
}

impl DashboardPage {
    pub fn new(layout: Layout, data: &DashboardData, today: Date) -> DashboardPage {
        let first = today - Duration::days(DAYS - 1);
        let currencies = data
            .configs
            .iter()
            .filter_map(|config| figures(config, data, first))
            .collect();
        DashboardPage {
            layout,
            currencies,
            width: WIDTH,
            height: HEIGHT,
        }
    }
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
