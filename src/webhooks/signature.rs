//! Webhook signatures in the Standard Webhooks scheme (docs/webhooks.md, "Signatures"): the
//! secret is `whsec_` + base64 of the key; `webhook-signature` is `v1,` + base64 of
//! HMAC-SHA256(key, "{id}.{timestamp}.{body}"), several separated by spaces while a rotated
//! secret still signs beside the new one.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// What every secret starts with.
pub const PREFIX: &str = "whsec_";
/// Bytes of a new key.
pub const KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// A signing key. Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    key: Vec<u8>,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("A signing secret is whsec_ followed by base64, as the console showed it.")]
    Shape,
}

impl Secret {
    /// A new secret of [`KEY_BYTES`] random bytes.
    pub fn generate() -> Secret {
        let mut key = vec![0u8; KEY_BYTES];
        rand::thread_rng().fill_bytes(&mut key);
        Secret { key }
    }

    /// `whsec_` + base64, as shown once to the owner and stored.
    pub fn parse(text: &str) -> Result<Secret, SecretError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Shape)?;
        match STANDARD.decode(encoded) {
            Ok(key) if !key.is_empty() => Ok(Secret { key }),
            _ => Err(SecretError::Shape),
        }
    }

    /// The secret as it is shown and stored.
    pub fn text(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.key))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// `v1,<base64>`: this secret's signature of one attempt.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }

    /// Does one of the `v1` signatures of `header` come from this secret? The comparison takes
    /// the same time whatever the bytes (HMAC's own check).
    pub fn verifies(&self, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        header.split_ascii_whitespace().any(|one| {
            let Some(encoded) = one.strip_prefix("v1,") else {
                return false;
            };
            let Ok(tag) = STANDARD.decode(encoded) else {
                return false;
            };
            self.mac(id, timestamp, body).verify_slice(&tag).is_ok()
        })
    }
}

/// The `webhook-signature` header: one signature per secret that signs (the current one, and
/// the one it replaced while their 24 hours overlap).
pub fn signature_header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    let all: Vec<String> = secrets
        .iter()
        .map(|secret| secret.sign(id, timestamp, body))
        .collect();
    all.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector the Standard Webhooks specification and its reference libraries
    /// publish: reproducing it is what says a receiver's library accepts our signatures.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn reproduces_the_published_test_vector() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        assert_eq!(
            secret.sign(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY),
            VECTOR_SIGNATURE
        );
        assert!(secret.verifies(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, VECTOR_SIGNATURE));
        assert_eq!(secret.text(), VECTOR_SECRET);
    }

    #[test]
    fn any_change_to_id_time_or_body_breaks_the_signature() {
        let secret = Secret::parse(VECTOR_SECRET).unwrap();
        let check =
            |id, timestamp, body: &[u8]| secret.verifies(id, timestamp, body, VECTOR_SIGNATURE);
        assert!(!check(
            "msg_p5jXN8AQM9LWM0D4loKWxJeK",
            VECTOR_TIMESTAMP,
            VECTOR_BODY
        ));
        assert!(!check(VECTOR_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY));
        assert!(!check(
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            br#"{"test": 2432232315}"#
        ));
        assert!(!Secret::generate().verifies(
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            VECTOR_SIGNATURE
        ));
        for broken in [
            "",
            "v1,",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,not base64!",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert!(
                !secret.verifies(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, broken),
                "{broken:?}"
            );
        }
    }

    #[test]
    fn while_a_rotated_secret_overlaps_both_sign() {
        let (old, new) = (Secret::parse(VECTOR_SECRET).unwrap(), Secret::generate());
        let header = signature_header(
            &[new.clone(), old.clone()],
            VECTOR_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
        );
        assert_eq!(header.split(' ').count(), 2);
        assert!(header.ends_with(VECTOR_SIGNATURE));
        assert!(old.verifies(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &header));
        assert!(new.verifies(VECTOR_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &header));
    }

    #[test]
    fn new_secrets_are_32_random_bytes_and_read_back() {
        let (a, b) = (Secret::generate(), Secret::generate());
        assert_ne!(a, b);
        assert!(a.text().starts_with(PREFIX));
        assert_eq!(
            STANDARD.decode(&a.text()[PREFIX.len()..]).unwrap().len(),
            KEY_BYTES
        );
        assert_eq!(Secret::parse(&a.text()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "Secret(…)");
        for bad in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_***",
            "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ] {
            assert_eq!(Secret::parse(bad), Err(SecretError::Shape), "{bad:?}");
        }
    }
}
