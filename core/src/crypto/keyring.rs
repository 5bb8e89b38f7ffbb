//! The keys that seal secrets at rest (`SEALING_KEY`).

use crate::secret::SecretKey;

fn msg(problem: impl Into<String>) -> String {
    problem.into()
}

/// The AES-256 keys that seal secrets at rest. The first seals; every one opens, so a key can be
/// rotated by putting a new one first and dropping the old one once nothing sealed with it is
/// left. Format: `id:base64key[,id:base64key…]`, each key 32 bytes (standard or URL-safe base64),
/// each id 1 to 16 of `[A-Za-z0-9_-]` and unique; the id is stored beside each ciphertext.
#[derive(Debug, Clone)]
pub struct SealingKeys {
    keys: Vec<(String, SecretKey<32>)>,
}

impl SealingKeys {
    /// Parses the `SEALING_KEY` form; the error says which entry breaks which rule, never a key.
    pub fn parse(value: &str) -> Result<SealingKeys, String> {
        let mut keys: Vec<(String, SecretKey<32>)> = Vec::new();
        for (i, entry) in value.split(',').enumerate() {
            let n = i + 1;
            let (id, b64) = entry
                .trim()
                .split_once(':')
                .ok_or_else(|| msg(format!("entry {n} is not id:base64key")))?;
            let id_ok = (1..=16).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !id_ok {
                return Err(msg(format!(
                    "entry {n}: the key id must be 1 to 16 of letters, digits, '-', '_'"
                )));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(msg(format!("entry {n}: key id {id} is repeated")));
            }
            let bytes = decode_base64(b64)
                .ok_or_else(|| msg(format!("entry {n} (key id {id}) is not valid base64")))?;
            let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                msg(format!(
                    "entry {n} (key id {id}) is {} bytes, not 32",
                    b.len()
                ))
            })?;
            keys.push((id.to_owned(), SecretKey::new(key)));
        }
        Ok(SealingKeys { keys })
    }

    /// The id and key that seal new values.
    pub fn current(&self) -> (&str, &SecretKey<32>) {
        let (id, key) = &self.keys[0];
        (id, key)
    }

    /// The key with this id, to open a value sealed with it.
    pub fn by_id(&self, id: &str) -> Option<&SecretKey<32>> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use super::base64::{decode, Alphabet, Padding};
    let s = s.trim();
    decode(s, Alphabet::Standard, Padding::Required)
        .or_else(|| decode(s, Alphabet::UrlSafe, Padding::Required))
        .or_else(|| decode(s, Alphabet::UrlSafe, Padding::Forbidden))
}
