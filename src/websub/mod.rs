//! WebSub (W3C Recommendation, 23 January 2018): push instead of polling.
//! `hub.rs` is the built-in hub our topic feeds advertise: readers'
//! servers subscribe to it and get each new version of a topic feed the
//! moment it changes. `subscriber.rs` is the other direction: we subscribe
//! to the hubs of the feeds we poll and take what they push through the
//! same refresh path as a polled document.

pub mod hub;
pub mod subscriber;

use hmac::{Hmac, KeyInit, Mac};
use thiserror::Error;

/// Why pushed content's `X-Hub-Signature` was not accepted (WebSub 8).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error(
        "no X-Hub-Signature header: unsigned content is discarded, as we gave the hub a secret"
    )]
    Missing,
    #[error("X-Hub-Signature {0:?} is not METHOD=HEX")]
    Malformed(String),
    #[error("X-Hub-Signature method {0:?} is not one of sha1, sha256, sha384, sha512")]
    Unsupported(String),
    #[error(
        "the content is signed with sha1, which [websub] reject_sha1 = true refuses: ask the hub for sha256, or allow sha1"
    )]
    Sha1Refused,
    #[error("the signature does not match the content: it is not from the hub, or was altered")]
    Mismatch,
}

/// Checks `header` (the `X-Hub-Signature` value, `method=hex`) against the
/// HMAC of `body` under `secret`. The comparison is constant-time (the
/// `hmac` crate's `verify_slice`), so timing tells a forger nothing.
pub fn check_signature(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    reject_sha1: bool,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let (method, hex) = header
        .split_once('=')
        .ok_or_else(|| SignatureError::Malformed(header.chars().take(80).collect()))?;
    let expected =
        unhex(hex).ok_or_else(|| SignatureError::Malformed(header.chars().take(80).collect()))?;
    let key = secret.as_bytes();
    let ok = match method.to_ascii_lowercase().as_str() {
        "sha1" if reject_sha1 => return Err(SignatureError::Sha1Refused),
        "sha1" => verify::<Hmac<sha1::Sha1>>(key, body, &expected),
        "sha256" => verify::<Hmac<sha2::Sha256>>(key, body, &expected),
        "sha384" => verify::<Hmac<sha2::Sha384>>(key, body, &expected),
        "sha512" => verify::<Hmac<sha2::Sha512>>(key, body, &expected),
        other => {
            return Err(SignatureError::Unsupported(
                other.chars().take(20).collect(),
            ));
        }
    };
    if ok {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

fn verify<M: Mac + KeyInit>(key: &[u8], body: &[u8], expected: &[u8]) -> bool {
    match <M as KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(body);
            mac.verify_slice(expected).is_ok()
        }
        Err(_) => false,
    }
}

/// Bytes from lower- or upper-case hex; None when it is not hex.
fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The `X-Hub-Signature` header of a delivery of `body` to a subscriber
/// whose secret is `secret` (WebSub 8: `method=signature`, the HMAC of
/// the body; sha256, as sha1 is deprecated for new hubs).
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length (longer ones are hashed first), so
    // this never fails; a failure would be an empty signature, which
    // every subscriber refuses.
    match Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            format!("sha256={}", crate::text::hex(&mac.finalize().into_bytes()))
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{SignatureError, check_signature};

    /// RFC 4231 test case 2 in every method a hub may use, and the ways a
    /// signature is refused.
    #[test]
    fn pushed_signatures_are_checked() {
        let (key, body) = ("Jefe", b"what do ya want for nothing?".as_slice());
        let sha256 = super::signature(key, body);
        assert_eq!(check_signature(key, Some(&sha256), body, true), Ok(()));
        let upper = sha256.to_uppercase().replacen("SHA256", "sha256", 1);
        assert_eq!(check_signature(key, Some(&upper), body, true), Ok(()));
        let sha512 = "sha512=164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737";
        assert_eq!(check_signature(key, Some(sha512), body, false), Ok(()));
        let sha1 = "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        assert_eq!(check_signature(key, Some(sha1), body, false), Ok(()));
        assert_eq!(
            check_signature(key, Some(sha1), body, true),
            Err(SignatureError::Sha1Refused)
        );
        assert_eq!(
            check_signature(key, None, body, false),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            check_signature("other", Some(&sha256), body, false),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check_signature(key, Some(&sha256), b"what do ya want for something?", false),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            check_signature(key, Some("md5=00"), body, false),
            Err(SignatureError::Unsupported(_))
        ));
        assert!(matches!(
            check_signature(key, Some("sha256=zz"), body, false),
            Err(SignatureError::Malformed(_))
        ));
    }

    /// RFC 4231, test case 2: HMAC-SHA-256 with key "Jefe".
    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
