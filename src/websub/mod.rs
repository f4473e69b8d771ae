//! WebSub (W3C Recommendation, 23 January 2018): push instead of polling.
//! `hub.rs` is the built-in hub our topic feeds advertise: readers'
//! servers subscribe to it and get each new version of a topic feed the
//! moment it changes.

pub mod hub;

use hmac::{Hmac, KeyInit, Mac};

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
    /// RFC 4231, test case 2: HMAC-SHA-256 with key "Jefe".
    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
