//! `GET /oauth/callback?code&state` (or `?error&state`): Talkdesk ID sends the browser back here.
//! The state is judged first (tampered, expired, from another browser, used), then the code is
//! exchanged with the installation's client assertion, the `id_token` checked, the user read and
//! their licence required. Only then does a session start.

use super::cookies::{Cookies, BINDING, SESSION};
use super::launch::signable;
use super::session::session_hash;
use super::state::LoginState;
use super::{single, Refusal, SignIn, StateProblem, SESSION_TTL_MS};
use crate::crypto::random_text;
use crate::lifecycle::events::find_user;
use crate::lifecycle::sealing::{open_set, CURRENT};
use crate::lifecycle::session::{api_root, Session};
use crate::lifecycle::Ports;
use crate::ports::{Cache, Clock, Log, PortError, TalkdeskHttp};
use crate::secret::SecretString;
use crate::store::records::Installation;
use crate::store::sessions::NewSession;
use crate::talkdesk::api::ApiError;
use crate::talkdesk::assertion::{new_jti, AssertionClaims};
use crate::talkdesk::oidc::{
    check_id_token, code_request, issuer_of, me_request, parse_code_answer, parse_me, Expected, Me,
    UserTokens,
};
use crate::talkdesk::token::{TokenError, DEFAULT_SCOPES};
use crate::tokens::sign_assertion;

/// The most sign-ins one installation completes per minute: far above a contact center's shift
/// start, far below what would spend the account's token-endpoint budget.
pub const MAX_SIGN_INS_PER_MINUTE: u64 = 120;

/// A signed-in agent: the cookies to set, then on to `/app`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub installation_id: String,
    pub user_id: String,
    pub set_cookies: Vec<String>,
}

pub async fn callback<P: Ports>(
    p: &P,
    s: &SignIn<'_>,
    query: &[(String, String)],
    cookie_header: Option<&str>,
) -> Result<SignedIn, Refusal> {
    let cookies = Cookies;
    let now = p.clock().now_ms();
    let sealed = single(query, "state")?.ok_or(Refusal::State(StateProblem::Missing))?;
    let state = LoginState::open(
        s.lifecycle.keys,
        sealed,
        cookies.read(cookie_header, BINDING),
        now,
    )
    .map_err(Refusal::State)?;
    let sessions = p.sessions();
    let used = sessions
        .use_state(&state.id, &state.installation_id, now, state.expires_at)
        .await
        .map_err(|e| internal(p, &state.installation_id, e))?;
    if !used {
        return Err(Refusal::State(StateProblem::Replayed));
    }
    // Anyone can launch and come back with a junk code, and each exchange costs a call to the
    // account's token endpoint, whose rate limit the lifecycle needs too.
    let recent = sessions
        .sign_ins_since(&state.installation_id, now.saturating_sub(60_000))
        .await
        .map_err(|e| internal(p, &state.installation_id, e))?;
    if recent > MAX_SIGN_INS_PER_MINUTE {
        p.log().info(
            "sign_in_busy",
            &format!("{}: {recent} sign-ins in a minute", state.installation_id),
        );
        return Err(Refusal::Busy);
    }
    if let Some(error) = single(query, "error")? {
        return Err(Refusal::Denied {
            error: error.chars().take(64).collect(),
        });
    }
    let code = single(query, "code")?.ok_or(Refusal::BadParameter {
        name: "code",
        problem: "is missing",
    })?;
    let inst = signable(p, &state.installation_id).await?;
    let user = exchange(p, s, &inst, &state, SecretString::new(code.to_owned())).await?;
    let me = identify(p, s, &inst, &user).await?;
    if !licensed(p, s, &inst, &me.id).await? {
        p.log().info(
            "sign_in_unlicensed",
            &format!("{}: user {}", inst.installation_id, me.id),
        );
        return Err(Refusal::Unlicensed { name: me.name });
    }
    let session_id = random_text::<32>();
    let replacing = cookies.read(cookie_header, SESSION).map(session_hash);
    p.sessions()
        .start(
            &NewSession {
                session_hash: &session_hash(&session_id),
                installation_id: &inst.installation_id,
                user_id: &me.id,
                user_name: me.name.as_deref(),
                user_email: me.email.as_deref(),
                created_at: now,
                expires_at: now + SESSION_TTL_MS,
            },
            replacing.as_deref(),
        )
        .await
        .map_err(|e| internal(p, &inst.installation_id, e))?;
    p.log().info(
        "signed_in",
        &format!("{}: user {}", inst.installation_id, me.id),
    );
    Ok(SignedIn {
        installation_id: inst.installation_id,
        user_id: me.id,
        // The binding cookie stays until its own expiry: another tab of this browser may be
        // signing in with it right now.
        set_cookies: vec![cookies.set(SESSION, &session_id, SESSION_TTL_MS / 1000)],
    })
}

fn internal<P: Ports>(p: &P, installation_id: &str, e: PortError) -> Refusal {
    p.log().error(
        "sign_in_storage_failed",
        &format!("{installation_id}: {}", e.0),
    );
    Refusal::Internal
}

/// Logs why a step failed against Talkdesk and answers the generic page.
fn unavailable<P: Ports>(p: &P, inst: &Installation, why: &str) -> Refusal {
    p.log().error(
        "sign_in_talkdesk_failed",
        &format!("{}: {why}", inst.installation_id),
    );
    Refusal::TalkdeskUnavailable
}

/// What the code bought, its `id_token` checked.
struct UserToken {
    access_token: SecretString,
    /// The `id_token`'s `sub`.
    subject: String,
}

/// The code for the user's tokens, at the installation's token URL.
async fn exchange<P: Ports>(
    p: &P,
    s: &SignIn<'_>,
    inst: &Installation,
    state: &LoginState,
    code: SecretString,
) -> Result<UserToken, Refusal> {
    let set = open_set(
        s.lifecycle.keys,
        &inst.installation_id,
        CURRENT,
        inst.credentials.as_ref(),
    )
    .map_err(|o| unavailable(p, inst, &o.reason()))?;
    let token_url = s
        .lifecycle
        .allowlist
        .check(&inst.token_url)
        .map_err(|e| unavailable(p, inst, &format!("stored token URL: {e}")))?;
    let claims = AssertionClaims::new(
        &set.client_id,
        token_url.as_str(),
        p.clock().now_secs(),
        new_jti(),
    );
    let assertion = sign_assertion(p.signer(), &set.private_key, &set.key_id, &claims)
        .await
        .map_err(|e| unavailable(p, inst, &format!("signing: {}", e.0)))?;
    let request = code_request(
        token_url.as_str(),
        &assertion,
        &code,
        &s.base.redirect_uri(),
        &state.verifier(),
    );
    let resp = p
        .http()
        .send(&request)
        .await
        .map_err(|e| unavailable(p, inst, &format!("token endpoint: {}", e.0)))?;
    match parse_code_answer(&resp) {
        Ok(UserTokens {
            access_token,
            id_token,
        }) => {
            let expected = Expected {
                issuer: &issuer_of(&token_url),
                client_id: &set.client_id,
                nonce: &state.nonce,
                now: p.clock().now_secs(),
            };
            let subject = check_id_token(&id_token, &expected).map_err(|e| {
                p.log().info(
                    "sign_in_untrusted",
                    &format!("{}: {e}", inst.installation_id),
                );
                Refusal::from(e)
            })?;
            Ok(UserToken {
                access_token,
                subject,
            })
        }
        Err(TokenError::Permanent { error, description }) => {
            p.log().info(
                "sign_in_code_refused",
                &format!("{}: {error}: {description}", inst.installation_id),
            );
            Err(Refusal::CodeRefused { error })
        }
        Err(TokenError::Transient(why)) => Err(unavailable(p, inst, &why)),
    }
}

/// The user the tokens belong to, by `/users/me`; it must be the `id_token`'s subject.
async fn identify<P: Ports>(
    p: &P,
    s: &SignIn<'_>,
    inst: &Installation,
    user: &UserToken,
) -> Result<Me, Refusal> {
    let root = api_root(&s.lifecycle, inst).map_err(|o| unavailable(p, inst, &o.reason()))?;
    let request = me_request(&root, &user.access_token)
        .map_err(|e| unavailable(p, inst, &format!("/users/me: {e}")))?;
    let resp = p
        .http()
        .send(&request)
        .await
        .map_err(|e| unavailable(p, inst, &format!("/users/me: {}", e.0)))?;
    let me = parse_me(&resp).map_err(|e| match e {
        ApiError::Unauthorized | ApiError::Forbidden(_) => {
            Refusal::Untrusted(format!("/users/me refused the user's token: {e}"))
        }
        other => unavailable(p, inst, &format!("/users/me: {other}")),
    })?;
    if !me.is_subject(&user.subject) {
        return Err(Refusal::Untrusted(
            "/users/me names another user than the id_token".into(),
        ));
    }
    Ok(me)
}

/// At most one look through an installation's users per this many seconds (KV's shortest
/// TTL), however many unlicensed members try to sign in: a look may page through every user.
pub const REREAD_EVERY_SECS: u64 = crate::ports::KV_MIN_TTL_SECS;

/// The KV key that marks a recent look through the installation's users.
fn reread_key(installation_id: &str) -> String {
    format!("users-reread:{installation_id}")
}

/// Whether the user holds a licence of the installation: from the stored users, or else from
/// Talkdesk's list, read once (a licence granted since the last update), unless an unlicensed
/// sign-in looked within the last [`REREAD_EVERY_SECS`].
async fn licensed<P: Ports>(
    p: &P,
    s: &SignIn<'_>,
    inst: &Installation,
    user_id: &str,
) -> Result<bool, Refusal> {
    let stored = p
        .sessions()
        .licensed(&inst.installation_id, user_id)
        .await
        .map_err(|e| internal(p, &inst.installation_id, e))?;
    if stored {
        return Ok(true);
    }
    let key = reread_key(&inst.installation_id);
    if matches!(p.cache().get(&key).await, Ok(Some(_))) {
        return Ok(false);
    }
    let look = async {
        let sess = Session::open(p, &s.lifecycle, inst, DEFAULT_SCOPES).await?;
        find_user(p, &sess, inst, user_id).await
    };
    match look.await {
        Ok(found) => {
            // Marked once the look is done: a failed one does not hold the next one back.
            let _ = p.cache().put(&key, "1", REREAD_EVERY_SECS).await;
            Ok(found.is_some_and(|u| u.active))
        }
        Err(other) => Err(unavailable(
            p,
            inst,
            &format!("reading users: {}", other.reason()),
        )),
    }
}
