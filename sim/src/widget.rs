//! The Talkdesk header widget (`_links.widget_url` of `app.installed`): a script the app's pages
//! load to show Talkdesk's header bar. It inserts `<div id="talkdesk-header">` at the top of
//! `document.body`, built with DOM calls only: no `eval`, no `Function`, no `innerHTML`, no
//! inline style or handler attributes, so an app whose CSP allows the script's origin (and no
//! `'unsafe-inline'`/`'unsafe-eval'`) shows the bar. Style is set through the CSSOM
//! (`element.style.x = …`), which CSP does not restrict.

use crate::http::Reply;

pub const HEADER_SCRIPT: &str = r##"(function () {
  "use strict";
  function mount() {
    if (document.getElementById("talkdesk-header")) {
      return;
    }
    var bar = document.createElement("div");
    bar.id = "talkdesk-header";
    bar.setAttribute("role", "banner");
    bar.style.display = "block";
    bar.style.boxSizing = "border-box";
    bar.style.width = "100%";
    bar.style.padding = "8px 16px";
    bar.style.background = "#1f1b4d";
    bar.style.color = "#ffffff";
    bar.style.fontFamily = "sans-serif";
    bar.style.fontSize = "14px";
    bar.textContent = "Talkdesk (simulated header)";
    document.body.insertBefore(bar, document.body.firstChild);
  }
  if (document.body) {
    mount();
  } else {
    document.addEventListener("DOMContentLoaded", mount);
  }
})();
"##;

/// `GET /widget/header.js`.
pub fn header_script() -> Reply {
    let mut r = Reply::text(
        200,
        "application/javascript; charset=utf-8",
        HEADER_SCRIPT.to_string(),
    );
    // Browsers refuse a script served with the wrong media type under nosniff: so would a real
    // widget host, so the app meets that here too.
    r.headers
        .push(("x-content-type-options", "nosniff".to_string()));
    r.headers.push(("cache-control", "no-cache".to_string()));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_uses_nothing_a_strict_csp_blocks() {
        for banned in [
            "eval(",
            "Function(",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "setAttribute(\"style\"",
            "setAttribute('style'",
            "cssText",
            "setAttribute(\"on",
            "setTimeout(\"",
        ] {
            assert!(!HEADER_SCRIPT.contains(banned), "{banned}");
        }
        assert!(HEADER_SCRIPT.contains("talkdesk-header") && HEADER_SCRIPT.contains("Talkdesk"));
    }
}
