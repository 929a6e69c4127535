//! API keys: random, shown once, stored as a SHA-256 hash.
//!
//! Keys carry 256 bits of randomness, so a fast hash is enough to make a
//! stolen table useless and still lets a request find its key by an index
//! lookup; argon2 is for low-entropy passwords, which these are not.

use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "tsk_";

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::fill(&mut bytes[..]);
    bytes
}

/// A new key: `tsk_` then 64 hex digits.
pub fn generate_key() -> String {
    format!("{KEY_PREFIX}{}", hex::encode(random_bytes::<32>()))
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// What may be shown of a key after it is issued.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 8).collect()
}

/// A stable hash of a request body, stored with its idempotency key.
pub fn request_hash(canonical: &[u8]) -> String {
    hex::encode(Sha256::digest(canonical))
}
