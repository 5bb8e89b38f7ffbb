//! The pages that say why someone is not (or no longer) in the app, and what to do about it.
//! Each names the problem in plain words; none repeats a code, token or state.

use super::{esc, Page};
use crate::signin::session::FormRefusal;
use crate::signin::{Refusal, StateProblem};

/// What to do after most refusals.
const OPEN_FROM_TALKDESK: &str =
    "Open the app from Talkdesk again: you will be signed in with your Talkdesk account.";

fn notice(status: u16, title: &str, lines: &[String]) -> Page {
    let class = if status >= 400 {
        "notice bad"
    } else {
        "notice"
    };
    let paragraphs: String = lines.iter().map(|l| format!("<p>{l}</p>")).collect();
    Page {
        status,
        title: title.to_owned(),
        main: format!(
            "<section class=\"{class}\" role=\"{role}\"><h1>{}</h1>{paragraphs}</section>",
            esc(title),
            // Not `alert`: the page is the message, read in order, not an interruption.
            role = "status",
        ),
        script: None,
    }
}

fn text(s: &str) -> String {
    esc(s)
}

/// The page for a launch or sign-in that did not go through.
pub fn refusal(r: &Refusal) -> Page {
    match r {
        Refusal::NotConfigured => notice(
            503,
            "Single sign-on is not set up yet",
            &[text(
                "The app's operator has not set PUBLIC_BASE_URL, the address Talkdesk sends you \
                 back to after signing in. Please let your Talkdesk admin know.",
            )],
        ),
        Refusal::NotFromTalkdesk => sign_in_required(),
        Refusal::BadParameter { name, problem } => notice(
            400,
            "This link is not valid",
            &[
                format!("The link's <code>{}</code> {}.", esc(name), esc(problem)),
                text(OPEN_FROM_TALKDESK),
            ],
        ),
        Refusal::UnknownInstallation => notice(
            404,
            "The app is not installed for your account",
            &[text(
                "Ask your Talkdesk admin to install it from AppConnect. If they just did, wait a \
                 minute and open it again.",
            )],
        ),
        Refusal::Installing => notice(
            503,
            "Almost ready",
            &[text(
                "The app is being set up for your Talkdesk account. This usually takes less \
                 than a minute: reload this page shortly.",
            )],
        ),
        Refusal::NeedsAttention => notice(
            503,
            "The app needs attention",
            &[text(
                "Setting the app up for your account did not finish. Ask your Talkdesk admin \
                 to contact the app's provider.",
            )],
        ),
        Refusal::Uninstalled => notice(
            410,
            "The app was uninstalled",
            &[text(
                "It is no longer installed for your Talkdesk account. Ask your Talkdesk admin \
                 to install it again from AppConnect.",
            )],
        ),
        Refusal::State(problem) => notice(
            400,
            "Sign-in could not be completed",
            &[text(state_problem(*problem)), text(OPEN_FROM_TALKDESK)],
        ),
        Refusal::Denied { error } if error == "access_denied" => notice(
            403,
            "Sign-in was cancelled",
            &[
                text("Talkdesk did not sign you in: the sign-in was cancelled or refused."),
                text(OPEN_FROM_TALKDESK),
            ],
        ),
        Refusal::Denied { error } => notice(
            400,
            "Talkdesk did not sign you in",
            &[
                format!("Talkdesk answered <code>{}</code>.", esc(error)),
                text(OPEN_FROM_TALKDESK),
            ],
        ),
        Refusal::CodeRefused { error } => notice(
            400,
            "Talkdesk did not accept the sign-in",
            &[
                format!(
                    "Talkdesk refused to complete it (<code>{}</code>): the sign-in link was \
                     used already or is too old.",
                    esc(error)
                ),
                text(OPEN_FROM_TALKDESK),
            ],
        ),
        Refusal::Untrusted(why) => notice(
            400,
            "Sign-in could not be verified",
            &[
                format!("Talkdesk's answer did not check out: {}.", esc(why)),
                text(OPEN_FROM_TALKDESK),
            ],
        ),
        Refusal::Unlicensed { name } => notice(
            403,
            "You don't have a licence for this app",
            &[
                match name {
                    Some(n) => format!(
                        "{}, you are signed in to Talkdesk, but your user holds no licence for \
                         this app in your account.",
                        esc(n)
                    ),
                    None => text(
                        "You are signed in to Talkdesk, but your user holds no licence for this \
                         app in your account.",
                    ),
                },
                text(
                    "Ask your Talkdesk admin for a licence (AppConnect → the app → Users), then \
                     open the app from Talkdesk again. If you were given one in the last \
                     minute, try again in a minute.",
                ),
            ],
        ),
        Refusal::TalkdeskUnavailable => notice(
            502,
            "Talkdesk is not answering",
            &[text(
                "We could not finish signing you in because Talkdesk did not answer as \
                 expected. Try again in a minute.",
            )],
        ),
        Refusal::Busy => notice(
            429,
            "Too many sign-ins right now",
            &[text(
                "Many people are signing in to this app for your account at once. Try again in \
                 a minute.",
            )],
        ),
        Refusal::Internal => internal(),
    }
}

fn state_problem(p: StateProblem) -> &'static str {
    match p {
        StateProblem::Missing => "The sign-in link is incomplete: it has no state.",
        StateProblem::Tampered => "The sign-in link was altered, or was not made by this app.",
        StateProblem::Expired => "The sign-in took too long (more than 10 minutes).",
        StateProblem::OtherBrowser => {
            "The sign-in was started in another browser, or this browser's cookies were cleared \
             on the way."
        }
        StateProblem::Replayed => "This sign-in link was used already.",
    }
}

/// For a page that only a signed-in agent may see, when nobody is.
pub fn sign_in_required() -> Page {
    notice(
        401,
        "Open the app from Talkdesk",
        &[text(
            "You are not signed in. In Talkdesk, open the app from the apps menu: Talkdesk \
             signs you in here with your Talkdesk account.",
        )],
    )
}

pub fn signed_out() -> Page {
    notice(
        200,
        "You have signed out",
        &[text("To come back, open the app from Talkdesk.")],
    )
}

pub fn form_refused(r: FormRefusal) -> Page {
    notice(
        403,
        "This form has expired",
        &[text(match r {
            FormRefusal::CrossOrigin => "It was sent from another site, so it was not accepted.",
            FormRefusal::BadToken => {
                "It does not belong to your current session. Reload the page and try again."
            }
        })],
    )
}

pub fn not_integration_admin() -> Page {
    notice(
        403,
        "Only integration admins can issue the key",
        &[text(
            "Ask the app's provider to add your email to this account's integration admins.",
        )],
    )
}

pub fn not_a_form() -> Page {
    notice(
        415,
        "This form was not sent as a form",
        &[text("Use the button on the app's page.")],
    )
}

/// The page for an error status met before any handler ran.
pub fn for_status(status: u16) -> Page {
    match status {
        405 => notice(
            405,
            "This page cannot be used that way",
            &[text(OPEN_FROM_TALKDESK)],
        ),
        413 => notice(
            413,
            "That was too much to send",
            &[text(OPEN_FROM_TALKDESK)],
        ),
        404 => notice(404, "There is nothing here", &[text(OPEN_FROM_TALKDESK)]),
        s if s < 500 => notice(
            s,
            "This request was not understood",
            &[text(OPEN_FROM_TALKDESK)],
        ),
        _ => internal(),
    }
}

pub fn internal() -> Page {
    notice(
        500,
        "Something went wrong",
        &[text(
            "Try again in a minute. If it keeps happening, ask your Talkdesk admin to contact \
             the app's provider.",
        )],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unlicensed_user_is_told_to_ask_their_admin_for_a_licence() {
        let page = refusal(&Refusal::Unlicensed {
            name: Some("Ann <script>".into()),
        });
        assert_eq!(page.status, 403);
        assert!(page.main.contains("Ann &lt;script&gt;, you are signed in"));
        assert!(page.main.contains("Ask your Talkdesk admin for a licence"));
    }

    #[test]
    fn every_state_problem_is_a_400_that_names_it() {
        for (p, words) in [
            (StateProblem::Missing, "no state"),
            (StateProblem::Tampered, "altered"),
            (StateProblem::Expired, "too long"),
            (StateProblem::OtherBrowser, "another browser"),
            (StateProblem::Replayed, "used already"),
        ] {
            let page = refusal(&Refusal::State(p));
            assert_eq!(page.status, 400);
            assert!(page.main.contains(words), "{p:?}");
        }
    }

    #[test]
    fn each_installation_state_has_its_own_status() {
        for (r, status) in [
            (Refusal::UnknownInstallation, 404),
            (Refusal::Installing, 503),
            (Refusal::NeedsAttention, 503),
            (Refusal::Uninstalled, 410),
            (Refusal::NotFromTalkdesk, 401),
        ] {
            assert_eq!(refusal(&r).status, status, "{r:?}");
        }
    }
}
