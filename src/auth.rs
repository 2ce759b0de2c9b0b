//! Credentials: argon2id password hashes (computed off the async runtime), HS256 JWTs checked
//! for algorithm, signature and expiry, and the CSRF token that goes with a cookie session.

use crate::domain::user::Role;
use crate::error::{Error, Result};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use hmac::{Hmac, Mac};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::{Arc, OnceLock};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Each argon2 computation holds 19 MiB. Running more of them at once than there are cores adds no
/// throughput, only memory the allocator keeps afterwards (32 registrations at once left the server
/// at 600+ MB), so they take turns, one per core.
async fn hashing_turn() -> Result<OwnedSemaphorePermit> {
    static TURNS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Semaphore::new(cores))
    });
    turns
        .clone()
        .acquire_owned()
        .await
        .map_err(|e| Error::Internal(e.into()))
}

pub async fn hash_password(password: String) -> Result<String> {
    let turn = hashing_turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| Error::Internal(anyhow::anyhow!("hashing password: {e}")))
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

/// Checks a password against a stored hash. With no hash (unknown e-mail) it still spends the time
/// of one verification, so response times do not reveal which e-mails are registered.
pub async fn verify_password(password: String, stored_hash: Option<String>) -> Result<bool> {
    let turn = hashing_turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let hash = stored_hash.unwrap_or_else(|| dummy_hash().to_string());
        let parsed = PasswordHash::new(&hash)
            .map_err(|e| Error::Internal(anyhow::anyhow!("stored hash unreadable: {e}")))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(matches)
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"not-a-real-password", &salt)
            .expect("argon2 with default parameters")
            .to_string()
    })
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// The account's session version when the token was issued; the token is refused once the
    /// stored version differs (logout, deactivation). Tokens from before versions count as 0.
    #[serde(default)]
    pub sv: i64,
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl_seconds: i64,
    /// Keyed with the JWT secret; signs a session's CSRF token.
    csrf: Hmac<Sha256>,
}

impl JwtKeys {
    pub fn new(secret: &[u8], ttl_minutes: i64) -> Self {
        // Only HS256 is accepted: a token claiming `none` or any other algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // A token that is not valid yet (`nbf` in the future) is refused like an expired one.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            ttl_seconds: ttl_minutes * 60,
            csrf: Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length"),
        }
    }

    /// How long a token lives.
    pub fn ttl_seconds(&self) -> i64 {
        self.ttl_seconds
    }

    /// A token for the user at `session_version` (the stored `users.session_version`).
    pub fn issue(&self, user_id: &str, role: Role, session_version: i64) -> Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            role,
            iat: now,
            exp: now + self.ttl_seconds,
            sv: session_version,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(anyhow::anyhow!("signing token: {e}")))
    }

    pub fn verify(&self, token: &str) -> Result<Claims> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| match err.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    Error::Unauthorized("Token has expired".into())
                }
                _ => Error::Unauthorized("Invalid token".into()),
            })
    }

    /// The CSRF token of a cookie session: hex HMAC-SHA256 of the session token under the JWT
    /// secret. A page of this origin learns it from the login answer or `GET /auth/session`; a
    /// page elsewhere can neither read those nor compute it, so it cannot forge a write.
    pub fn csrf_token(&self, session_token: &str) -> String {
        hex::encode(self.csrf_mac(session_token).finalize().into_bytes())
    }

    /// Whether `presented` is the CSRF token of `session_token` (compared in constant time).
    pub fn csrf_matches(&self, session_token: &str, presented: &str) -> bool {
        hex::decode(presented.trim())
            .is_ok_and(|raw| self.csrf_mac(session_token).verify_slice(&raw).is_ok())
    }

    fn csrf_mac(&self, session_token: &str) -> Hmac<Sha256> {
        let mut mac = self.csrf.clone();
        // Labelled, so the MAC can never double as another use of the same secret.
        mac.update(b"cartwright csrf\0");
        mac.update(session_token.as_bytes());
        mac
    }
}

/// The JWT secret: `JWT_SECRET`, or one generated once and kept in the data folder so tokens survive
/// restarts.
pub fn load_or_create_secret(
    configured: Option<&str>,
    data_dir: &std::path::Path,
) -> anyhow::Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt_secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        let existing = existing.trim();
        if existing.len() >= 32 {
            return Ok(existing.as_bytes().to_vec());
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let secret = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, &secret)?;
    Ok(secret.into_bytes())
}

fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_other_secrets() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let token = keys.issue("u1", Role::Vendor, 3).unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(claims.sub, "u1");
        assert_eq!(claims.role, Role::Vendor);
        assert_eq!(claims.sv, 3);
        let other = JwtKeys::new(b"another-secret-another-secret-xx", 60);
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn a_token_without_a_session_version_counts_as_version_zero() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let now = chrono::Utc::now().timestamp();
        let old = serde_json::json!({"sub": "u1", "role": "customer", "iat": now, "exp": now + 60});
        let token = encode(
            &Header::new(Algorithm::HS256),
            &old,
            &EncodingKey::from_secret(secret),
        )
        .unwrap();
        assert_eq!(JwtKeys::new(secret, 60).verify(&token).unwrap().sv, 0);
    }

    #[test]
    fn csrf_tokens_belong_to_one_session_and_one_secret() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let csrf = keys.csrf_token("session-a");
        assert_eq!(csrf.len(), 64);
        assert!(keys.csrf_matches("session-a", &csrf));
        assert!(!keys.csrf_matches("session-b", &csrf));
        assert!(!keys.csrf_matches("session-a", ""));
        assert!(!keys.csrf_matches("session-a", "not hex"));
        let other = JwtKeys::new(b"another-secret-another-secret-xx", 60);
        assert!(!other.csrf_matches("session-a", &csrf));
    }

    #[tokio::test]
    async fn passwords_verify() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone()))
            .await
            .unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash))
            .await
            .unwrap());
        assert!(!verify_password("x".into(), None).await.unwrap());
    }
}
