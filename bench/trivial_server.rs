//! The yardstick for the bench: the smallest actix-web handler, on the same machine and in the
//! same run as the console, so throughput is compared rather than quoted.
//!
//! `cargo run --release --example trivial_server -- 127.0.0.1:18501`

use actix_web::{web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18501".to_owned());
    HttpServer::new(|| {
        App::new().route(
            "/",
            web::get().to(|| async { HttpResponse::Ok().body("ok") }),
        )
    })
    .bind(bind)?
    .run()
    .await
}
