//! The HTML Talkdesk ID shows a person: the sign-in page and the error page. Plain HTML with no
//! script or style, so it works without JavaScript and under the strictest CSP; every value is
//! escaped, since all of them come from the request or the scripted account.

use crate::model::SimUser;

/// Escapes text for an HTML text node or a quoted attribute value.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    )
}

/// One member on the sign-in page.
pub(crate) struct Member<'a> {
    pub user: &'a SimUser,
    pub licensed: bool,
    /// Named by the request's `login_hint`.
    pub hinted: bool,
}

/// The page `GET /oauth/authorize` shows: one form posting back to `/oauth/authorize` that
/// carries the request's parameters as hidden inputs, one submit button per member
/// (`name="user_id"`), and a cancel button (`name="cancel" value="1"`).
pub(crate) fn sign_in(account_name: &str, members: &[Member], hidden: &[(&str, &str)]) -> String {
    let mut body = String::new();
    body.push_str("<h1>Sign in to Talkdesk</h1>\n");
    body.push_str(&format!(
        "<p>Account <strong>{}</strong>. Simulated Talkdesk ID: choose who signs in.</p>\n",
        escape(account_name)
    ));
    body.push_str("<form method=\"post\" action=\"/oauth/authorize\">\n");
    for (name, value) in hidden {
        body.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    body.push_str("<ul>\n");
    for m in members {
        let mut notes = vec![];
        if !m.licensed {
            notes.push("no licence for this app");
        }
        if m.hinted {
            notes.push("suggested by the app");
        }
        let notes = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        body.push_str(&format!(
            "<li><button type=\"submit\" name=\"user_id\" value=\"{}\">{} &lt;{}&gt;</button>{}</li>\n",
            escape(&m.user.id),
            escape(&m.user.name),
            escape(&m.user.email),
            notes
        ));
    }
    body.push_str("</ul>\n");
    body.push_str("<p><button type=\"submit\" name=\"cancel\" value=\"1\">Cancel</button></p>\n");
    body.push_str("</form>\n");
    page("Sign in to Talkdesk", &body)
}

/// The page for an error Talkdesk ID must not send to the redirect URI (RFC 6749 §4.1.2.1), or
/// that it shows instead of the sign-in page.
pub(crate) fn error(error: &str, description: &str) -> String {
    page(
        "Talkdesk sign-in error",
        &format!(
            "<h1>Talkdesk sign-in error</h1>\n<p><code>{}</code>: {}</p>\n",
            escape(error),
            escape(description)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped_everywhere() {
        let user = SimUser::new("\"><script>", "<b>@x", "O'Neil & co");
        let html = sign_in(
            "<acme>",
            &[Member {
                user: &user,
                licensed: false,
                hinted: false,
            }],
            &[("state", "\"><img src=x onerror=alert(1)>")],
        );
        assert!(!html.contains("<script>") && !html.contains("<img") && !html.contains("<b>"));
        assert!(html.contains("value=\"&quot;&gt;&lt;script&gt;\""));
        assert!(html.contains("O&#39;Neil &amp; co"));
        assert!(html.contains("&lt;acme&gt;"));
        assert!(html.contains("no licence for this app"));
        assert!(!error("x", "<i>").contains("<i>"));
    }
}
