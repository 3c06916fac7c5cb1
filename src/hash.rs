//! SHA-256 for every checksum zrm records (files, binlogs, segments).
//!
//! Backed by aws-lc (already linked for TLS): its assembly runs about twice as fast as a
//! pure-Rust SHA-256 on CPUs without SHA instructions, and every archived or backed-up byte
//! goes through here.

use aws_lc_rs::digest;

pub struct Sha256(digest::Context);

impl Sha256 {
    pub fn new() -> Self {
        Sha256(digest::Context::new(&digest::SHA256))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest as lowercase hex.
    pub fn finish_hex(self) -> String {
        hex::encode(self.0.finish().as_ref())
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256 of a byte slice, as hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(bytes);
    h.finish_hex()
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_digest() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
