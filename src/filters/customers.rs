//! The customer list's search and page (`/users?q=&page=`).

use serde::Deserialize;

use super::{search_text, whole_number};
use crate::forms::FieldErrors;

/// Pages beyond this are refused rather than computed (50 a page: 50 million customers).
pub const MAX_PAGE: i64 = 1_000_000;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RawCustomerSearch {
    pub q: String,
    pub page: String,
}

/// A checked search: the text (if any) and the page, from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSearch {
    pub q: Option<String>,
    pub page: i64,
}

impl RawCustomerSearch {
    pub fn parse(&self) -> Result<CustomerSearch, FieldErrors> {
        let mut errors = FieldErrors::default();
        let q = errors.take(search_text("q", &self.q));
        let page = errors
            .take(whole_number("page", &self.page, 1, MAX_PAGE, "the page"))
            .unwrap_or(1);
        errors.finish(|| Some(CustomerSearch { q, page }))
    }
}
