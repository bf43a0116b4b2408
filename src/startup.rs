//! Builds the actix application (routes, middleware, state) and binds it to a listener.

use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders, Next};
use actix_web::{web, App, HttpServer};

use crate::config::Settings;
use crate::db::Pool;
use crate::metrics::METRICS;
use crate::routes;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub settings: Settings,
}

/// A server bound to its port, not yet running.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Binds `listener` (port 0 picks a free port) and prepares the server.
    pub fn build(
        pool: Pool,
        settings: Settings,
        listener: TcpListener,
    ) -> std::io::Result<Application> {
        let port = listener.local_addr()?.port();
        let state = web::Data::new(AppState { pool, settings });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(crate::auth::guard))
                .wrap(security_headers())
                .wrap(from_fn(track_request))
                .configure(routes::configure)
        })
        .listen(listener)?
        .run();
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn server(self) -> Server {
        self.server
    }
}

/// Counts the request by route pattern and status, and times it.
async fn track_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    METRICS
        .requests
        .with_label_values(&[&route, &method, &status])
        .inc();
    METRICS
        .latency
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    Ok(response)
}

/// No inline script may run (htmx is a file, configured by a meta tag), nothing may frame
/// the console, and browsers must not sniff types or leak URLs to other sites.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        ))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "same-origin"))
        .add(("X-Frame-Options", "DENY"))
}
