//! The JSON API's handlers (docs/api.md), one module per resource, and the OpenAPI document
//! built from their annotations, so it lists exactly the routes `API_ROUTES` registers.

pub mod credits;
pub mod customers;
pub mod invoices;

use actix_web::dev::ResourceDef;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi};

use crate::api::views::ErrorJson;
use crate::api::ApiError;

/// The `Idempotency-Key` header every write takes (docs/api.md, "Idempotency").
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdempotencyHeader {
    /// Up to 255 characters; a retry with the same key and body gets the first answer with
    /// `Idempotent-Replayed: true` and writes nothing. Kept 24 hours per API key and route.
    #[param(
        rename = "Idempotency-Key",
        min_length = 1,
        max_length = 255,
        pattern = "^[!-~]([ -~]*[!-~])?$"
    )]
    idempotency_key: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Creditdesk API",
        description = "Promo credits for a merchant's checkout and back office: customers, \
            accounts, adjustments, and credits on invoices. Credits are integers; money is a \
            decimal string with the currency's minor units."
    ),
    paths(
        customers::create,
        customers::find,
        customers::show,
        credits::accounts,
        credits::transactions,
        credits::adjust,
        credits::preview,
        invoices::pay,
        invoices::refund,
    ),
    components(schemas(ErrorJson)),
    modifiers(&Conventions),
    security(("api_key" = [])),
)]
pub struct ApiDoc;

/// What every route shares: the bearer key, and the errors any request can meet.
struct Conventions;

/// The errors every API route can answer with, beside its own.
const COMMON_ERRORS: [(&str, &str); 6] = [
    ("400", "`validation_failed`: the body is not JSON"),
    ("401", "`unauthorized`: no API key, or a revoked one"),
    ("413", "`validation_failed`: the body is over 16 KB"),
    ("415", "`validation_failed`: the body is not application/json"),
    ("422", "`validation_failed` (naming the field), `insufficient_credits`, `currency_disabled`, `usage_disabled`, `idempotency_mismatch`, `nothing_to_refund`"),
    ("429", "`rate_limited`: over the key's requests per minute; see Retry-After"),
];

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post];
            for operation in operations.into_iter().flatten() {
                add_common_errors(operation);
            }
        }
    }
}

fn add_common_errors(operation: &mut Operation) {
    for (status, description) in COMMON_ERRORS {
        let response = ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(RefOr::Ref(Ref::from_schema_name("ErrorJson"))))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert(RefOr::T(response));
    }
}

/// `GET /api/openapi.json`: public, so tools can read it before they have a key.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ApiDoc::openapi().to_json().unwrap_or_default())
}

/// A request under `/api/v1` that no route took, once its key is good: 405 with `Allow` when
/// the path is a route's and only the method is wrong, else 404.
pub async fn unmatched(request: HttpRequest) -> HttpResponse {
    let mut allowed: Vec<String> = super::API_ROUTES
        .iter()
        .filter(|route| ResourceDef::new(route.path).is_match(request.path()))
        .map(|route| route.method.to_ascii_uppercase())
        .collect();
    allowed.sort();
    if allowed.is_empty() {
        return ApiError::not_found_route().error_response();
    }
    let allow = allowed.join(", ");
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("This route answers {allow} only."),
    )
    .error_response();
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}
