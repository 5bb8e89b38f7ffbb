//! Punycode (RFC 3492), decoded only to check an `xn--` label the way the `url` crate's parser
//! does without Unicode's tables: it must decode, to something that is not plain ASCII, with
//! no U+FFFD and no joiner first. The label is kept as written. (A browser, with the tables,
//! refuses more, such as upper-case letters: such a host passes here and fails at `fetch`.)

const BASE: u32 = 36;
const T_MIN: u32 = 1;
const T_MAX: u32 = 26;

/// How many code points the label decodes to, if it is valid punycode for a non-ASCII name.
pub(super) fn decode(label: &str) -> Option<usize> {
    // A label ending in `-` has no digits after its delimiter; a leading `-` is not a delimiter.
    if label.ends_with('-') || label.len() > 2000 {
        return None;
    }
    let (basic, extended) = match label.rfind('-') {
        Some(at) if at > 0 => (&label[..at], &label[at + 1..]),
        _ => ("", label),
    };
    let mut len = basic.len() as u32;
    let (mut n, mut i, mut bias) = (128u32, 0u32, 72u32);
    let mut decoded: Vec<char> = basic.chars().collect();
    let mut digits = extended.bytes().peekable();
    let mut first = true;
    while digits.peek().is_some() {
        let old_i = i;
        let (mut w, mut k) = (1u32, BASE);
        loop {
            let digit = match digits.next()? {
                c @ b'a'..=b'z' => u32::from(c - b'a'),
                c @ b'0'..=b'9' => u32::from(c - b'0') + 26,
                _ => return None,
            };
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = k.saturating_sub(bias).clamp(T_MIN, T_MAX);
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
        }
        len += 1;
        bias = adapt(i - old_i, len, first);
        first = false;
        n = n.checked_add(i / len)?;
        i %= len;
        decoded.insert(i as usize, char::from_u32(n)?);
        i += 1;
    }
    // U+FFFD marks a failed decoding, and a joiner needs a character before it (with Unicode's
    // tables, a virama: the url crate's parser without them, like ours, takes any).
    let refused =
        decoded.contains(&'\u{FFFD}') || matches!(decoded.first(), Some('\u{200C}' | '\u{200D}'));
    (len as usize > basic.len() && !refused).then_some(len as usize)
}

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - T_MIN) * T_MAX) / 2 {
        delta /= BASE - T_MIN;
        k += BASE;
    }
    k + (BASE - T_MIN + 1) * delta / (delta + 38)
}
