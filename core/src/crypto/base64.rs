//! Base64 (RFC 4648 §4 and §5) by hand: a few hundred bytes of wasm where the `base64` crate's
//! engine was about 5 KB. As strict as that crate's engines: with padding required, exactly the
//! canonical `=`s; with padding forbidden, none; no other byte than the alphabet's; and the
//! unused low bits of the last symbol zero, so each byte string has one encoding.

/// Which two symbols stand for 62 and 63.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// `+` and `/` (RFC 4648 §4).
    Standard,
    /// `-` and `_` (RFC 4648 §5, JOSE's).
    UrlSafe,
}

/// Whether the text ends in `=` to a multiple of four.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Required,
    Forbidden,
}

fn symbol(value: u32, alphabet: Alphabet) -> char {
    let v = (value & 63) as u8;
    char::from(match v {
        0..=25 => b'A' + v,
        26..=51 => b'a' + (v - 26),
        52..=61 => b'0' + (v - 52),
        62 if alphabet == Alphabet::Standard => b'+',
        63 if alphabet == Alphabet::Standard => b'/',
        62 => b'-',
        _ => b'_',
    })
}

fn value(c: u8, alphabet: Alphabet) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' if alphabet == Alphabet::Standard => 62,
        b'/' if alphabet == Alphabet::Standard => 63,
        b'-' if alphabet == Alphabet::UrlSafe => 62,
        b'_' if alphabet == Alphabet::UrlSafe => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

pub fn encode(bytes: &[u8], alphabet: Alphabet, padding: Padding) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(symbol(n >> (18 - 6 * i), alphabet));
            } else if padding == Padding::Required {
                out.push('=');
            }
        }
    }
    out
}

pub fn decode(text: &str, alphabet: Alphabet, padding: Padding) -> Option<Vec<u8>> {
    let all = text.as_bytes();
    let data = all
        .strip_suffix(b"==")
        .or_else(|| all.strip_suffix(b"="))
        .unwrap_or(all);
    let pads = all.len() - data.len();
    let canonical = match padding {
        Padding::Required => {
            all.len().is_multiple_of(4) && (pads == 0 || data.len() % 4 + pads == 4)
        }
        Padding::Forbidden => pads == 0,
    };
    if !canonical || data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c, alphabet)? << (18 - 6 * i);
        }
        let len = chunk.len() - 1;
        // The bits past the last whole byte must be zero (one encoding per byte string).
        if len < 3 && n & ((1 << (8 * (3 - len))) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8][..len]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, Alphabet, Padding};
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine;

    const ALL: [(Alphabet, Padding); 4] = [
        (Alphabet::Standard, Padding::Required),
        (Alphabet::Standard, Padding::Forbidden),
        (Alphabet::UrlSafe, Padding::Required),
        (Alphabet::UrlSafe, Padding::Forbidden),
    ];

    fn reference(alphabet: Alphabet, padding: Padding) -> base64::engine::GeneralPurpose {
        match (alphabet, padding) {
            (Alphabet::Standard, Padding::Required) => STANDARD,
            (Alphabet::Standard, Padding::Forbidden) => STANDARD_NO_PAD,
            (Alphabet::UrlSafe, Padding::Required) => URL_SAFE,
            (Alphabet::UrlSafe, Padding::Forbidden) => URL_SAFE_NO_PAD,
        }
    }

    /// A small deterministic generator, so a failure can be replayed.
    fn bytes(seed: &mut u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (*seed >> 33) as u8
            })
            .collect()
    }

    #[test]
    fn encoding_matches_the_base64_crate_for_every_length_and_alphabet() {
        let mut seed = 7;
        for len in 0..70 {
            let b = bytes(&mut seed, len);
            for (a, p) in ALL {
                assert_eq!(
                    encode(&b, a, p),
                    reference(a, p).encode(&b),
                    "{len} {a:?} {p:?}"
                );
                assert_eq!(decode(&encode(&b, a, p), a, p).as_deref(), Some(&b[..]));
            }
        }
    }

    #[test]
    fn decoding_accepts_and_refuses_exactly_what_the_base64_crate_does() {
        // Every text of up to 5 symbols over an alphabet that mixes both alphabets' symbols,
        // padding, and bytes of neither; and texts cut from real encodings.
        let symbols = b"AQw9+/-_=.";
        let mut texts: Vec<String> = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = texts
                .iter()
                .filter(|t| t.len() == texts.last().unwrap().len())
                .flat_map(|t| symbols.iter().map(move |&s| format!("{t}{}", s as char)))
                .collect();
            texts.extend(longer);
        }
        let mut seed = 11;
        for len in 0..40 {
            let full = STANDARD.encode(bytes(&mut seed, len));
            for cut in 0..=full.len() {
                texts.push(full[..cut].to_owned());
            }
        }
        for text in &texts {
            for (a, p) in ALL {
                let ours = decode(text, a, p);
                let theirs = reference(a, p).decode(text).ok();
                assert_eq!(ours, theirs, "{text:?} {a:?} {p:?}");
            }
        }
    }
}
