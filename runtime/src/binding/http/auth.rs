//! Who may use the HTTP binding: HTTP Basic with argon2-hashed passwords, and bearer tokens (API keys).
//!
//! ```
//! use thingwire::binding::http::HttpAuth;
//! // Store the hash, not the password (e.g. in the lab's configuration file):
//! let hash = HttpAuth::hash_password("correct horse");
//! let auth = HttpAuth::new().user("alice", &hash).unwrap().token("a-long-random-api-key");
//! # let _ = auth;
//! ```
//!
//! Every route but the Thing Descriptions (`/<thing>/resources/…`, which say what a client must present) and
//! `/liveness`, `/readiness` needs credentials; a request without valid ones gets `401` with a
//! `WWW-Authenticate` header (a browser then asks for a username and password). argon2 is slow on purpose, so a
//! verified `Authorization` header is remembered (as a SHA-256 digest) for [`REMEMBER`]; tokens are kept and
//! compared as SHA-256 digests, never in clear.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::core::HashMap;
use crate::td::SecurityScheme;

/// How long a verified `Authorization` header is remembered.
pub const REMEMBER: Duration = Duration::from_secs(300);

/// Most headers remembered at once.
const REMEMBERED: usize = 1024;

/// Why [`HttpAuth::user`] refused a password hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the password hash of `{user}` is not an argon2 PHC string ({reason}); make one with HttpAuth::hash_password")]
pub struct PasswordHashError {
    /// The user.
    pub user: String,
    /// What is wrong with it.
    pub reason: String,
}

/// The HTTP binding's users and tokens ([`HttpOptions::auth`](super::HttpOptions::auth)). Cheap to clone.
#[derive(Clone, Default)]
pub struct HttpAuth {
    users: HashMap<String, String>,
    tokens: Vec<[u8; 32]>,
    remembered: Arc<Mutex<HashMap<[u8; 32], Instant>>>,
}

impl std::fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut users: Vec<&String> = self.users.keys().collect();
        users.sort();
        f.debug_struct("HttpAuth").field("users", &users).field("tokens", &self.tokens.len()).finish()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl HttpAuth {
    /// No users, no tokens (nobody gets in until some are added).
    pub fn new() -> Self {
        Self::default()
    }

    /// An argon2id hash of `password` with a fresh salt, as a PHC string (`$argon2id$v=19$…`), for
    /// [`user`](Self::user).
    pub fn hash_password(password: &str) -> String {
        let salt_bytes: Vec<u8> = crate::util::random_hex(32)
            .as_bytes()
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap_or("0"), 16).unwrap_or(0))
            .collect();
        let salt =
            SaltString::encode_b64(&salt_bytes).unwrap_or_else(|_| SaltString::from_b64("c2FsdHNhbHQ").expect("valid"));
        argon2::Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
    }

    /// Admits `user` with the password whose argon2 hash (a PHC string) is `hash`.
    pub fn user(mut self, user: &str, hash: &str) -> Result<Self, PasswordHashError> {
        PasswordHash::new(hash).map_err(|e| PasswordHashError { user: user.to_owned(), reason: e.to_string() })?;
        self.users.insert(user.to_owned(), hash.to_owned());
        Ok(self)
    }

    /// Admits requests that present `token` as `Authorization: Bearer <token>`.
    pub fn token(mut self, token: impl AsRef<str>) -> Self {
        self.tokens.push(digest(token.as_ref().as_bytes()));
        self
    }

    /// What the Thing Descriptions say this binding requires.
    pub(crate) fn scheme(&self) -> SecurityScheme {
        match (self.users.is_empty(), self.tokens.is_empty()) {
            (false, false) => SecurityScheme::HttpBasicOrBearer,
            (true, false) => SecurityScheme::Bearer,
            _ => SecurityScheme::HttpBasic,
        }
    }

    /// The `WWW-Authenticate` challenge of a refusal.
    pub(crate) fn challenge(&self) -> &'static str {
        if self.users.is_empty() { "Bearer" } else { "Basic realm=\"thingwire\", charset=\"UTF-8\"" }
    }

    /// Checks a request's `Authorization` header; `Err` says why it is refused.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err("this server needs credentials: send an Authorization header (Basic or Bearer)");
        };
        let value = value.to_str().map_err(|_| "the Authorization header is not text")?;
        let key = digest(value.as_bytes());
        {
            let remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
            if remembered.get(&key).is_some_and(|at| at.elapsed() < REMEMBER) {
                return Ok(());
            }
        }
        let (kind, credentials) = value.split_once(' ').unwrap_or((value, ""));
        let admitted = if kind.eq_ignore_ascii_case("bearer") {
            let presented = digest(credentials.trim().as_bytes());
            self.tokens.contains(&presented)
        } else if kind.eq_ignore_ascii_case("basic") {
            self.basic(credentials.trim())
        } else {
            return Err("the Authorization header is neither Basic nor Bearer");
        };
        if !admitted {
            return Err("the credentials were refused");
        }
        let mut remembered = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if remembered.len() >= REMEMBERED {
            remembered.retain(|_, at| at.elapsed() < REMEMBER);
            if remembered.len() >= REMEMBERED {
                remembered.clear();
            }
        }
        remembered.insert(key, Instant::now());
        Ok(())
    }

    fn basic(&self, encoded: &str) -> bool {
        let Some(decoded) = base64_decode(encoded) else { return false };
        let Ok(text) = std::str::from_utf8(&decoded) else { return false };
        let Some((user, password)) = text.split_once(':') else { return false };
        let Some(hash) = self.users.get(user) else { return false };
        let Ok(hash) = PasswordHash::new(hash) else { return false };
        argon2::Argon2::default().verify_password(password.as_bytes(), &hash).is_ok()
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, value.parse().expect("header"));
        headers
    }

    #[test]
    fn passwords_and_tokens_are_checked() {
        let auth = HttpAuth::new().user("alice", &HttpAuth::hash_password("s3cret")).expect("hash").token("key-1");
        // alice:s3cret, alice:wrong
        assert_eq!(auth.check(&with("Basic YWxpY2U6czNjcmV0")), Ok(()));
        assert_eq!(auth.check(&with("Basic YWxpY2U6czNjcmV0")), Ok(()), "remembered");
        assert!(auth.check(&with("Basic YWxpY2U6d3Jvbmc=")).is_err());
        assert_eq!(auth.check(&with("Bearer key-1")), Ok(()));
        assert!(auth.check(&with("Bearer key-2")).is_err());
        assert!(auth.check(&HeaderMap::new()).is_err());
        assert!(auth.check(&with("Digest x")).is_err());
        assert_eq!(auth.scheme(), SecurityScheme::HttpBasicOrBearer);
        assert!(HttpAuth::new().user("bob", "plain text").is_err(), "a password is not a hash");
    }

    #[test]
    fn base64_decodes_the_standard_alphabet() {
        assert_eq!(base64_decode("YWxpY2U6czNjcmV0").as_deref(), Some(&b"alice:s3cret"[..]));
        assert_eq!(base64_decode("Zg==").as_deref(), Some(&b"f"[..]));
        assert_eq!(base64_decode("Zm8=").as_deref(), Some(&b"fo"[..]));
        assert_eq!(base64_decode("!!"), None);
    }
}
