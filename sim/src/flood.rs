//! Talkdesk ID under a flood: at most [`crate::SimConfig::token_rate_limit`] token requests per
//! account per second. Talkdesk ID is one host per account (`{account}.talkdeskid.com`), so the
//! limit is per account name: the account of the installation the request names (by Basic user,
//! assertion `iss`/`sub` or form `client_id`, as in the request log); requests that name no known
//! client share one bucket of their own. The window slides over the last second and counts the
//! requests let through (whatever their outcome); a refused one does not count, so after
//! `Retry-After` seconds a request goes through. Requests answered by an injected fault never
//! reach the limit.

use crate::client_auth;
use crate::clock::now_millis;
use crate::http::Reply;
use crate::state::State;

const WINDOW_MS: i64 = 1000;

/// Lets a token request through (and counts it), or answers 429 `slow_down` with `Retry-After`.
pub fn admit(
    st: &mut State,
    limit: Option<u32>,
    authorization: Option<&str>,
    body: &[u8],
) -> Result<(), Reply> {
    let Some(limit) = limit else { return Ok(()) };
    let installation_id = client_auth::attribute(st, authorization, body);
    let account = installation_id
        .as_deref()
        .and_then(|i| st.inst(i))
        .map(|i| i.account_name.clone())
        .unwrap_or_default();
    let now = now_millis();
    let window = st.token_windows.entry(account.clone()).or_default();
    while window.front().is_some_and(|&t| t <= now - WINDOW_MS) {
        window.pop_front();
    }
    if window.len() < limit as usize {
        window.push_back(now);
        return Ok(());
    }
    let free_at = window.front().map_or(now + WINDOW_MS, |t| t + WINDOW_MS);
    let retry_after = ((free_at - now + 999) / 1000).max(1);
    let who = if account.is_empty() {
        "unknown clients".to_string()
    } else {
        format!("account {account}")
    };
    let mut reply = Reply::error(
        429,
        "slow_down",
        format!(
            "rate limit: more than {limit} token requests per second for {who}; retry after {retry_after} s"
        ),
    );
    reply.headers.push(("retry-after", retry_after.to_string()));
    reply.installation_id = installation_id;
    Err(reply)
}
