//! PKCE (RFC 7636) with the S256 method only: MCP 2025-11-25 requires S256 whenever the client
//! can use it, and OAuth 2.1 forbids falling back to `plain`, so `plain` is refused outright.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Why a PKCE parameter was refused (the text is safe to return as `error_description`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PkceError {
    /// `code_challenge_method` other than `S256`.
    UnsupportedMethod(String),
    /// A challenge that is not 43 base64url characters (a SHA-256 digest).
    BadChallenge,
    /// A verifier outside 43..=128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    BadVerifier,
}

impl std::fmt::Display for PkceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PkceError::UnsupportedMethod(m) => write!(
                f,
                "code_challenge_method {m:?} is not supported: use S256 (plain is not accepted)"
            ),
            PkceError::BadChallenge => f.write_str(
                "code_challenge must be the base64url (no padding) SHA-256 of the code verifier: \
                 43 characters",
            ),
            PkceError::BadVerifier => f.write_str(
                "code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636)",
            ),
        }
    }
}

/// Checks the authorization request's `code_challenge` and `code_challenge_method`; a missing
/// method is refused too (its default would be `plain`).
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), PkceError> {
    match method {
        Some("S256") => {}
        Some(other) => return Err(PkceError::UnsupportedMethod(other.to_owned())),
        None => return Err(PkceError::UnsupportedMethod("plain (the default)".into())),
    }
    let ok = challenge.len() == 43
        && URL_SAFE_NO_PAD
            .decode(challenge)
            .is_ok_and(|d| d.len() == 32);
    if ok {
        Ok(())
    } else {
        Err(PkceError::BadChallenge)
    }
}

/// The S256 challenge of a verifier: `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` is well-formed and hashes to `challenge`. The comparison runs over
/// every byte so its time does not reveal how much of a guess matched.
pub fn verify(verifier: &str, challenge: &str) -> Result<bool, PkceError> {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !well_formed {
        return Err(PkceError::BadVerifier);
    }
    let computed = challenge_of(verifier);
    Ok(constant_time_eq(computed.as_bytes(), challenge.as_bytes()))
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        // The verifier and challenge printed in RFC 7636, Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(challenge_of(verifier), challenge);
        assert_eq!(verify(verifier, challenge), Ok(true));
        assert_eq!(check_challenge(challenge, Some("S256")), Ok(()));
    }

    #[test]
    fn wrong_verifier_plain_and_malformed_values_are_refused() {
        let challenge = challenge_of(&"a".repeat(43));
        assert_eq!(verify(&"b".repeat(43), &challenge), Ok(false));
        assert_eq!(verify("short", &challenge), Err(PkceError::BadVerifier));
        assert_eq!(
            verify(&format!("{}!", "a".repeat(43)), &challenge),
            Err(PkceError::BadVerifier)
        );
        assert_eq!(
            verify(&"a".repeat(129), &challenge),
            Err(PkceError::BadVerifier)
        );
        assert!(matches!(
            check_challenge(&challenge, Some("plain")),
            Err(PkceError::UnsupportedMethod(_))
        ));
        assert!(matches!(
            check_challenge(&challenge, None),
            Err(PkceError::UnsupportedMethod(_))
        ));
        assert_eq!(
            check_challenge("abc", Some("S256")),
            Err(PkceError::BadChallenge)
        );
        assert_eq!(
            check_challenge(&"*".repeat(43), Some("S256")),
            Err(PkceError::BadChallenge)
        );
    }
}
