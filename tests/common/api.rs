//! The JSON API as a checkout calls it, over HTTP: a client holding a fresh API key, and its
//! answers.

use std::collections::HashMap;

use creditdesk::store::activity::Audit;
use serde_json::Value;

use super::TestApp;

/// A checkout holding an API key.
#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub bearer: String,
    pub agent: ureq::Agent,
}

/// An answer: status, headers (lower-case names) and the JSON body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: String,
    pub json: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.json["error"]["field"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

impl Api {
    /// A new key named `name` on `app`.
    pub fn new(app: &TestApp, name: &str) -> Api {
        let key =
            creditdesk::store::api_keys::create(&mut app.conn(), name, None, &Audit::system())
                .unwrap();
        Api {
            base: format!("{}/api/v1", app.address),
            bearer: format!("Bearer {}", key.secret),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
        }
    }

    pub fn read(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut response = result.expect("HTTP request");
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let status = response.status().as_u16();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&body).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            json,
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        Api::read(
            self.agent
                .get(format!("{}{path}", self.base))
                .header("Authorization", &self.bearer)
                .call(),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.post_raw(path, &body.to_string(), &[])
    }

    pub fn post_once(&self, path: &str, key: &str, body: &Value) -> Answer {
        self.post_raw(path, &body.to_string(), &[("Idempotency-Key", key)])
    }

    pub fn post_raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", &self.bearer);
        if !headers.iter().any(|(name, _)| *name == "Content-Type") {
            request = request.header("Content-Type", "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Api::read(request.send(body))
    }
}
