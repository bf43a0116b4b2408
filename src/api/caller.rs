//! The API key a request came with, as the guard (`crate::auth::api`) found it.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::ApiError;
use crate::ledger::Actor;
use crate::store::activity::Audit;

/// The caller of an API route: its key and how the activity log records it (by the key's
/// name, from the client's address).
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: i64,
    pub audit: Audit,
}

impl Caller {
    pub fn actor(&self) -> Actor {
        Actor::ApiKey(self.key_id)
    }

    /// How the rows this key writes name their author (`by`): the key's name.
    pub fn label(&self) -> String {
        self.audit.actor.clone()
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            request
                .extensions()
                .get::<Caller>()
                .cloned()
                .ok_or_else(ApiError::unauthorized),
        )
    }
}
