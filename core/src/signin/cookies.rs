//! The two cookies of single sign-on, and how they are written.
//!
//! - the **session** cookie: a random id (the database keeps only its SHA-256);
//! - the **binding** cookie: a random value set at launch whose hash the sealed `state` holds,
//!   so only the browser that started a sign-in can finish it.
//!
//! `SameSite=None` (with `Secure` and `Partitioned`) on https, because the app must work both
//! in its own tab and framed inside Talkdesk. In a frame the app is a third party: a `Lax` or
//! `Strict` cookie is not sent there at all, so sign-in would loop. `Partitioned` (CHIPS) keeps
//! the cookie working in browsers that block unpartitioned third-party cookies: a session opened
//! inside Talkdesk lives in Talkdesk's partition only. Since `SameSite` then protects nothing,
//! every state-changing form carries a CSRF token and its `Origin` is checked
//! (`session::csrf_token`). `__Host-` pins the cookie to this exact origin over https, path `/`.
//!
//! The same attributes hold on a plain-http loopback origin (`make dev`, the tests): browsers
//! treat loopback as a secure context and keep `Secure` and `__Host-` cookies there.

/// The cookies of single sign-on: names, attributes, and reading them back.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cookies;

pub const SESSION: &str = "appconnect_session";
pub const BINDING: &str = "appconnect_signin";

impl Cookies {
    /// The cookie's name as the browser holds it.
    pub fn name(&self, cookie: &str) -> String {
        format!("__Host-{cookie}")
    }

    /// `Set-Cookie` for `cookie` = `value`, living `max_age_secs`.
    pub fn set(&self, cookie: &str, value: &str, max_age_secs: u64) -> String {
        format!(
            "{}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=None; \
             Partitioned",
            self.name(cookie)
        )
    }

    /// `Set-Cookie` that removes `cookie`.
    pub fn clear(&self, cookie: &str) -> String {
        self.set(cookie, "", 0)
    }

    /// The value of `cookie` in a `Cookie` header (the first, if the browser sent several).
    pub fn read<'h>(&self, header: Option<&'h str>, cookie: &str) -> Option<&'h str> {
        let name = self.name(cookie);
        header?
            .split(';')
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| is_token(v))
    }
}

/// Whether `value` has the shape of our random values (base64url, 43 characters for 32 bytes).
/// Anything else is ignored as if absent.
pub fn is_token(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_prefixed_secure_http_only_partitioned_and_same_site_none() {
        let set = Cookies.set(SESSION, "v", 60);
        assert!(set.starts_with("__Host-appconnect_session=v; Path=/; Max-Age=60;"));
        for attribute in ["HttpOnly", "Secure", "SameSite=None", "Partitioned"] {
            assert!(
                set.split("; ").any(|a| a == attribute),
                "{attribute}: {set}"
            );
        }
        assert!(!set.contains("Domain="), "{set}");
    }

    #[test]
    fn a_cookie_is_read_by_its_exact_name_and_only_in_our_shape() {
        let c = Cookies;
        let v = "a".repeat(43);
        let header = format!("appconnect_session=x; __Host-appconnect_session={v}; other=1");
        assert_eq!(c.read(Some(&header), SESSION), Some(v.as_str()));
        assert_eq!(
            c.read(Some("__Host-appconnect_session=short"), SESSION),
            None
        );
        assert_eq!(
            c.read(Some(&format!("appconnect_session={v}")), SESSION),
            None
        );
        assert_eq!(c.read(None, SESSION), None);
    }

    #[test]
    fn clearing_a_cookie_sets_it_empty_with_no_age() {
        let clear = Cookies.clear(BINDING);
        assert!(clear.starts_with("__Host-appconnect_signin=; Path=/; Max-Age=0;"));
    }
}
