//! The bench's yardsticks, measured on the same machine and in the same run as the console so
//! throughput is compared rather than quoted (bench/run.sh, bench/RESULTS.md):
//!
//! - `GET /` answers `ok`: the smallest actix-web handler;
//! - `GET /customers/{id}` reads one customer by primary key through the console's own pool
//!   (same connection settings, one blocking call) and renders a small askama template: the
//!   least a database-backed page can cost.
//!
//! `cargo run --release --example yardstick -- 127.0.0.1:18501 DATABASE_URL`

use actix_web::{web, App, HttpResponse, HttpServer};
use askama::Template;

use creditdesk::db::{self, Pool, PoolOptions};
use creditdesk::error::AppError;
use creditdesk::store::customers;
use creditdesk::web::with_conn;

#[derive(Template)]
#[template(
    ext = "html",
    source = "<!doctype html><title>{{ email }}</title><h1>{{ name }}</h1><p>{{ email }} · {{ country }}</p>"
)]
struct CustomerCard {
    name: String,
    email: String,
    country: String,
}

async fn customer(pool: web::Data<Pool>, id: web::Path<i64>) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let found = with_conn(&pool, move |conn| Ok(customers::find(conn, id)?)).await?;
    let Some(user) = found else {
        return Ok(HttpResponse::NotFound().body("no such customer"));
    };
    let card = CustomerCard {
        name: user.full_name(),
        email: user.email,
        country: user.country.unwrap_or_default(),
    };
    let body = card.render().map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:18501".to_owned());
    let database_url = args.next().unwrap_or_else(|| "creditdesk.db".to_owned());
    let pool = web::Data::new(db::connect(&database_url, PoolOptions::new(10))?);
    HttpServer::new(move || {
        App::new()
            .app_data(pool.clone())
            .route(
                "/",
                web::get().to(|| async { HttpResponse::Ok().body("ok") }),
            )
            .route("/customers/{id}", web::get().to(customer))
    })
    .bind(bind)?
    .run()
    .await?;
    Ok(())
}
