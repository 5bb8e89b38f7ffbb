//! The pages a person sees: server-rendered HTML that reads without JavaScript, in one small
//! layout with one stylesheet, under a strict Content-Security-Policy.
//!
//! - [`notices`]: why a launch or sign-in did not go through, and what to do.
//! - [`home`]: the signed-in agent's first page (`/app`).
//!
//! Every text that is not ours goes through [`esc`]. The CSP allows nothing by default: the
//! stylesheet by its hash, Talkdesk's header script by its exact URL, forms to our own origin,
//! framing by Talkdesk's hosts only (`FRAME_ANCESTORS`).

pub mod home;
pub mod notices;

use crate::crypto::sha256;
use crate::http::Reply;

/// One page to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub title: String,
    /// The content of `<main>`, already escaped.
    pub main: String,
    /// Talkdesk's header script (an allowlisted `widget_url`), if the page shows it.
    pub script: Option<String>,
}

/// HTML-escapes text for an element or a quoted attribute.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// The one stylesheet: system fonts, high contrast (body text 15.3:1, muted 7:1 on white),
/// visible focus, readable from 320 px wide.
const STYLE: &str = "\
:root{color-scheme:light;--ink:#1b1f24;--muted:#4a5360;--line:#d8dde3;--brand:#5a2ca0;--ok:#0b6b3a;--warn:#8a4b00;--bad:#a1262b}\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--ink);background:#f6f7f9}\
header.bar{background:#fff;border-bottom:1px solid var(--line);padding:.75rem 1.5rem;display:flex;align-items:center;justify-content:space-between;gap:1rem}\
header.bar .name{font-weight:700;color:var(--brand)}\
main{max-width:56rem;margin:0 auto;padding:1.5rem}\
h1{font-size:1.6rem;margin:.25rem 0 1rem}\
h2{font-size:1.1rem;margin:0 0 .5rem}\
.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:flex-start;gap:1rem}\
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:1rem;margin:1rem 0}\
.card{background:#fff;border:1px solid var(--line);border-radius:.5rem;padding:1rem 1.25rem}\
dl{margin:0;display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}\
dt{color:var(--muted)}dd{margin:0;font-weight:600;overflow-wrap:anywhere}\
.muted{color:var(--muted)}\
.status{display:inline-block;border-radius:1rem;padding:.1rem .6rem;font-weight:600;border:1px solid currentColor}\
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}\
ul.next{margin:0;padding-left:1.25rem}\
button,a.button{font:inherit;cursor:pointer;border:1px solid var(--brand);background:#fff;color:var(--brand);border-radius:.375rem;padding:.35rem .9rem;text-decoration:none}\
button:hover,a.button:hover{background:var(--brand);color:#fff}\
:focus-visible{outline:3px solid #1a73e8;outline-offset:2px}\
.notice{background:#fff;border:1px solid var(--line);border-left:.35rem solid var(--brand);border-radius:.5rem;padding:1.25rem 1.5rem;max-width:40rem}\
.notice.bad{border-left-color:var(--bad);color:inherit}\
table{width:100%;border-collapse:collapse;font-size:.95rem}\
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}\
th{color:var(--muted);font-weight:600}\
.actions{display:flex;flex-wrap:wrap;gap:.75rem;align-items:center}\
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.75rem}\
a.tile{color:inherit;text-decoration:none}a.tile .n{display:block;font-size:1.6rem;font-weight:700}\
.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}\
button.small{padding:.1rem .5rem;font-size:.85rem}\
.legend{font-size:.85rem;margin-right:.5rem}\
";

/// The CSP source for [`STYLE`]: its SHA-256 (standard base64, as CSP wants).
fn style_hash() -> String {
    let digest = sha256(STYLE.as_bytes());
    format!(
        "'sha256-{}'",
        crate::crypto::base64::encode(
            &digest,
            crate::crypto::base64::Alphabet::Standard,
            crate::crypto::base64::Padding::Required,
        )
    )
}

/// The page's Content-Security-Policy. Talkdesk's header script is allowed by its exact URL;
/// what it may load in turn (styles, images, fonts, calls) only from its own origin.
pub fn csp(script: Option<&str>, frame_ancestors: &str) -> String {
    let script_src = script.map_or_else(|| "'none'".to_owned(), csp_source);
    let widget_origin = script
        .and_then(|s| crate::weburl::Url::parse(s).ok())
        .map(|u| format!(" {}", csp_source(u.origin())))
        .unwrap_or_default();
    format!(
        "default-src 'none'; style-src {}{widget_origin}; script-src {script_src}; \
         img-src 'self' data:{widget_origin}; font-src{fonts}; connect-src{connect}; \
         form-action 'self'; base-uri 'none'; frame-ancestors {frame_ancestors}",
        style_hash(),
        fonts = if widget_origin.is_empty() {
            " 'none'"
        } else {
            &widget_origin
        },
        connect = if widget_origin.is_empty() {
            " 'none'"
        } else {
            &widget_origin
        },
    )
}

/// A URL as a CSP source expression: it is already allowlisted, and a `;` or `,` (which
/// would end the directive) cannot survive URL parsing unencoded, but refuse them anyway.
fn csp_source(url: &str) -> String {
    if url.contains([';', ',', ' ', '\'']) {
        "'none'".to_owned()
    } else {
        url.to_owned()
    }
}

/// The page as an answer, with its security headers.
pub fn render(page: &Page, app_name: &str, frame_ancestors: &str) -> Reply {
    let script = page.script.as_deref().map_or_else(String::new, |src| {
        format!("<script src=\"{}\" defer></script>", esc(src))
    });
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · {app}</title><style>{STYLE}</style>{script}</head>\
         <body><header class=\"bar\"><span class=\"name\">{app}</span></header>\
         <main>{main}</main></body></html>",
        title = esc(&page.title),
        app = esc(app_name),
        main = page.main,
    );
    Reply {
        status: page.status,
        headers: vec![
            ("content-type", "text/html; charset=utf-8".to_owned()),
            (
                "content-security-policy",
                csp(page.script.as_deref(), frame_ancestors),
            ),
            ("cache-control", "no-store".to_owned()),
            ("x-content-type-options", "nosniff".to_owned()),
            // Not `no-referrer`: with it a browser sends `Origin: null` on the page's own forms,
            // and the form check needs the real origin. Other origins still get nothing.
            ("referrer-policy", "same-origin".to_owned()),
        ],
        body,
    }
}

/// `303 See Other` to `location`, setting `cookies`. The referrer is never sent on, so a URL
/// that carried a code leaves no trace in the next request.
pub fn redirect(location: &str, cookies: Vec<String>) -> Reply {
    let mut headers = vec![
        ("location", location.to_owned()),
        ("cache-control", "no-store".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
    ];
    headers.extend(cookies.into_iter().map(|c| ("set-cookie", c)));
    Reply {
        status: 303,
        headers,
        body: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup_or_attribute_breakout() {
        assert_eq!(
            esc("<a href=\"x\" onclick='y'>&</a>"),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_policy_allows_only_the_stylesheet_hash_and_the_one_script() {
        let policy = csp(Some("https://cdn.talkdeskapp.com/header.js"), "'self'");
        assert!(policy.starts_with("default-src 'none'; "), "{policy}");
        assert!(
            policy.contains(&format!(
                "style-src {} https://cdn.talkdeskapp.com;",
                style_hash()
            )),
            "{policy}"
        );
        assert!(
            policy.contains("script-src https://cdn.talkdeskapp.com/header.js;"),
            "{policy}"
        );
        assert!(policy.contains("form-action 'self'"), "{policy}");
        assert!(policy.contains("frame-ancestors 'self'"), "{policy}");
        assert!(!policy.contains("unsafe"), "{policy}");
        assert!(
            policy.contains("connect-src https://cdn.talkdeskapp.com;"),
            "the widget may call its own origin: {policy}"
        );
        let bare = csp(None, "'self'");
        assert!(bare.contains("script-src 'none';"), "{bare}");
        assert!(
            bare.contains(&format!("style-src {};", style_hash())),
            "{bare}"
        );
        assert!(bare.contains("connect-src 'none';"), "{bare}");
    }

    #[test]
    fn a_script_url_that_could_end_the_directive_is_not_allowed() {
        assert!(csp(Some("https://x/a;script-src *"), "'self'").contains("script-src 'none';"));
    }

    #[test]
    fn a_page_carries_its_security_headers_and_escaped_title() {
        let reply = render(
            &Page {
                status: 403,
                title: "<b>".into(),
                main: "<p>hi</p>".into(),
                script: None,
            },
            "Acme & Co",
            "'self'",
        );
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(reply.header("referrer-policy"), Some("same-origin"));
        assert!(reply.header("content-security-policy").is_some());
        assert!(reply
            .body
            .contains("<title>&lt;b&gt; · Acme &amp; Co</title>"));
        assert!(!reply.body.contains("<script"));
    }
}
