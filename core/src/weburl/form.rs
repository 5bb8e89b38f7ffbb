//! `application/x-www-form-urlencoded` (WHATWG URL standard §5) and the percent-encoding of a
//! path segment.

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn push_escaped(byte: u8, out: &mut String) {
    out.push('%');
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 15)]));
}

/// `text` as one path segment: what a WHATWG parser percent-encodes in a path of an `http(s)`
/// URL, and `/`, `\` and `%` so that it can neither add a segment nor decode to anything else.
pub fn encode_segment(text: &str, out: &mut String) {
    encode_path(text, b"/%\\", out);
}

/// What a WHATWG parser percent-encodes in a path (`^` included, as browsers do), and `extra`.
pub fn encode_path(text: &str, extra: &[u8], out: &mut String) {
    for b in text.bytes() {
        let kept = b.is_ascii_graphic() && !b"\"#<>?`{}^".contains(&b) && !extra.contains(&b);
        match kept {
            true => out.push(char::from(b)),
            false => push_escaped(b, out),
        }
    }
}

/// Appends `name=value` to a form body or query, with `&` first when it is not empty.
pub fn append_pair(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push('&');
    }
    encode_component(name, out);
    out.push('=');
    encode_component(value, out);
}

/// A form body from its fields, in order.
pub fn serialize(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, value) in pairs {
        append_pair(&mut out, name, value);
    }
    out
}

/// Letters, digits and `*-._` as they are, a space as `+`, every other byte as `%XX`.
fn encode_component(text: &str, out: &mut String) {
    for b in text.bytes() {
        match b {
            b' ' => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"*-._".contains(&b) => out.push(char::from(b)),
            b => push_escaped(b, out),
        }
    }
}

/// The fields of a form body or query: split at `&` (empty pieces skipped), then at the first
/// `=`, `+` read as a space, `%XX` decoded (any other `%` kept), invalid UTF-8 replaced.
pub fn parse(input: &[u8]) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for piece in input.split(|b| *b == b'&') {
        if piece.is_empty() {
            continue;
        }
        let (name, value) = match piece.iter().position(|b| *b == b'=') {
            Some(at) => (&piece[..at], &piece[at + 1..]),
            None => (piece, &[][..]),
        };
        fields.push((decode(name), decode(value)));
    }
    fields
}

fn decode(text: &[u8]) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        let hex = |at: usize| text.get(at).and_then(|h| char::from(*h).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                bytes.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
            (b'+', _, _) => bytes.push(b' '),
            (b, _, _) => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}
