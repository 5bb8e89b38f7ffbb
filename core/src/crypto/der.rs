//! The few DER shapes of a PKCS#8 private key, read strictly: definite minimal lengths, minimal
//! integers, nothing left over. Only the structure is checked here; the runtime's WebCrypto
//! imports the key itself. A hand reader instead of the `pkcs8`/`sec1`/`pkcs1` crates, which
//! cost about 9 KB of the wasm's gzip for these three shapes.

pub const SEQUENCE: u8 = 0x30;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const BIT_STRING: u8 = 0x03;
pub const OID: u8 = 0x06;

/// DER values one after another.
#[derive(Clone, Copy)]
pub struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    pub fn new(bytes: &'a [u8]) -> Der<'a> {
        Der(bytes)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn next_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The contents of the next value, which must have tag `tag`.
    pub fn take(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (&t, rest) = self.0.split_first()?;
        if t != tag {
            return None;
        }
        let (len, rest) = match rest.split_first()? {
            (&n, rest) if n < 0x80 => (usize::from(n), rest),
            (0x81, [n, rest @ ..]) if *n >= 0x80 => (usize::from(*n), rest),
            (0x82, [hi, lo, rest @ ..]) if *hi != 0 => {
                ((usize::from(*hi) << 8) | usize::from(*lo), rest)
            }
            // Longer forms would mean a value past 64 KB: no key is that long.
            _ => return None,
        };
        if rest.len() < len {
            return None;
        }
        let (contents, rest) = rest.split_at(len);
        self.0 = rest;
        Some(contents)
    }

    /// The next value if it has tag `tag`; nothing read otherwise.
    pub fn optional(&mut self, tag: u8) -> Option<Option<&'a [u8]>> {
        if self.next_tag() == Some(tag) {
            self.take(tag).map(Some)
        } else {
            Some(None)
        }
    }

    /// The next value whatever its tag (a field this reader does not interpret).
    pub fn skip(&mut self) -> Option<()> {
        let tag = self.next_tag()?;
        self.take(tag).map(|_| ())
    }

    /// A BIT STRING's bytes, which must be whole (no unused bits), given the value's contents.
    pub fn whole_bits(contents: &[u8]) -> Option<&[u8]> {
        match contents {
            [0, bits @ ..] => Some(bits),
            _ => None,
        }
    }

    /// A non-negative INTEGER's significant bytes (minimal encoding, no sign byte).
    pub fn unsigned(&mut self) -> Option<&'a [u8]> {
        match self.take(INTEGER)? {
            [] => None,
            [0, rest @ ..] if rest.is_empty() => Some(rest),
            [0, next, ..] if *next < 0x80 => None,
            [0, rest @ ..] => Some(rest),
            [first, ..] if *first >= 0x80 => None,
            all => Some(all),
        }
    }

    /// A small non-negative INTEGER (a version).
    pub fn small(&mut self) -> Option<u8> {
        match self.unsigned()? {
            [] => Some(0),
            [n] => Some(*n),
            _ => None,
        }
    }

    /// An OBJECT IDENTIFIER's contents, checked to be well formed.
    pub fn oid(&mut self) -> Option<&'a [u8]> {
        let oid = self.take(OID)?;
        let well_formed = oid.last().is_some_and(|b| b & 0x80 == 0)
            && oid
                .iter()
                .enumerate()
                .all(|(i, &b)| b != 0x80 || (i > 0 && oid[i - 1] & 0x80 != 0));
        well_formed.then_some(oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_must_be_definite_minimal_and_inside_the_input() {
        assert_eq!(
            Der::new(&[0x04, 0x01, 0xAA]).take(OCTET_STRING),
            Some(&[0xAA][..])
        );
        for bad in [
            &[0x04, 0x81, 0x01, 0xAA][..], // long form for a short length
            &[0x04, 0x82, 0x00, 0x80],     // a leading zero length byte
            &[0x04, 0x80],                 // indefinite
            &[0x04, 0x03, 0xAA],           // past the end
            &[0x04, 0x83, 0x01, 0x00, 0x00],
            &[0x02, 0x01, 0xAA], // another tag
        ] {
            assert_eq!(Der::new(bad).take(OCTET_STRING), None, "{bad:02x?}");
        }
    }

    #[test]
    fn integers_must_be_minimal_and_not_negative() {
        let unsigned = |b: &[u8]| Der::new(b).unsigned().map(<[u8]>::to_vec);
        assert_eq!(unsigned(&[0x02, 0x02, 0x00, 0x80]), Some(vec![0x80]));
        assert_eq!(unsigned(&[0x02, 0x01, 0x00]), Some(vec![]));
        assert_eq!(unsigned(&[0x02, 0x02, 0x00, 0x7F]), None);
        assert_eq!(unsigned(&[0x02, 0x01, 0x80]), None);
        assert_eq!(unsigned(&[0x02, 0x00]), None);
    }

    #[test]
    fn object_identifiers_must_be_well_formed() {
        let p256 = [0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
        assert!(Der::new(&p256).oid().is_some());
        assert_eq!(Der::new(&[0x06, 0x02, 0x2A, 0x86]).oid(), None);
        assert_eq!(Der::new(&[0x06, 0x02, 0x80, 0x01]).oid(), None);
        assert_eq!(Der::new(&[0x06, 0x00]).oid(), None);
    }
}
