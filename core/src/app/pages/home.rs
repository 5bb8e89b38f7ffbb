//! `/app`: the signed-in agent's first page. Who they are, their account and plan, how many
//! users hold a licence, what Talkdesk last confirmed, and what happens next.

use super::{esc, Page};
use crate::calendar::{civil_from_days, days_from_civil};
use crate::signin::session::Agent;
use crate::store::records::{Installation, InstallationState};

/// What the first page shows.
pub struct Home<'a> {
    pub agent: &'a Agent,
    pub inst: &'a Installation,
    /// The latest event Talkdesk confirmed and the app applied: type and arrival (ms).
    pub last_applied: Option<(String, u64)>,
    /// Changes from Talkdesk still being applied.
    pub pending: u64,
    pub now_ms: u64,
    /// Whether the agent is one of the account's integration admins (they may issue the
    /// Talkdesk Integrations key).
    pub integration_admin: bool,
    /// The partner's line for this page (`Hooks::home_summary`), plain text.
    pub partner_summary: Option<String>,
}

const MS_PER_DAY: i64 = 86_400_000;

pub fn page(h: &Home<'_>) -> Page {
    let inst = h.inst;
    let name = h.agent.name.as_deref().unwrap_or(&h.agent.user_id);
    let signed_in_as = h
        .agent
        .email
        .as_deref()
        .map_or_else(String::new, |e| format!(" as {}", esc(e)));
    let main = format!(
        "<div class=\"top\"><div><h1>Welcome, <span id=\"agent-name\">{name}</span></h1>\
         <p class=\"muted\">Signed in with Talkdesk{signed_in_as} · \
         <span id=\"account-name\">{account}</span></p></div>\
         <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" \
         value=\"{csrf}\"><button type=\"submit\" id=\"sign-out\">Sign out</button></form></div>\
         {partner}<div class=\"cards\">{account_card}{plan_card}{health_card}</div>\
         <section class=\"card\" aria-labelledby=\"next-title\">\
         <h2 id=\"next-title\">What happens next</h2><ul class=\"next\">{next}</ul></section>\
         {integration}",
        name = esc(name),
        account = esc(&inst.account_name),
        csrf = esc(&h.agent.csrf),
        partner = h
            .partner_summary
            .as_deref()
            .map_or_else(String::new, |line| format!(
                "<p class=\"card\" id=\"partner-summary\">{}</p>",
                esc(line)
            )),
        account_card = account_card(inst),
        plan_card = plan_card(inst, h.now_ms),
        health_card = health_card(h),
        next = next_steps(h),
        integration = if h.integration_admin {
            integration_card(&h.agent.csrf)
        } else {
            String::new()
        },
    );
    Page {
        status: 200,
        title: "Home".into(),
        main,
        script: inst.widget_url.clone(),
    }
}

/// For integration admins: issue the key Talkdesk Integrations authenticates with.
fn integration_card(csrf: &str) -> String {
    format!(
        "<section class=\"card\" aria-labelledby=\"integration-title\" id=\"integration\">\
         <h2 id=\"integration-title\">Talkdesk Integrations</h2>\
         <p>Talkdesk reads your contacts, agents and interactions with an integration key. \
         Issue one, then enter it in Talkdesk's integration settings. A new key replaces the \
         old one at once; it is shown only when issued.</p>\
         <form method=\"post\" action=\"/app/integration-key\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\" id=\"issue-key\">Issue a new integration key</button></form>\
         </section>",
        esc(csrf)
    )
}

/// The page that shows a newly issued key, once.
pub fn issued_key(key: &str) -> Page {
    Page {
        status: 200,
        title: "Your integration key".into(),
        main: format!(
            "<section class=\"notice\" role=\"status\"><h1>Your new integration key</h1>\
             <p>Copy it into Talkdesk's integration settings now: it is not shown again, and \
             the previous key no longer works.</p>\
             <p><label for=\"integration-key\">Integration key</label><br>\
             <input id=\"integration-key\" readonly size=\"64\" value=\"{}\"></p>\
             <p><a class=\"button\" href=\"/app\">Back to the app</a></p></section>",
            esc(key)
        ),
        script: None,
    }
}

fn card(id: &str, title: &str, rows: &[(&str, String)]) -> String {
    let rows: String = rows
        .iter()
        .map(|(k, v)| format!("<dt>{}</dt><dd>{v}</dd>", esc(k)))
        .collect();
    format!(
        "<section class=\"card\" aria-labelledby=\"{id}\"><h2 id=\"{id}\">{}</h2>\
         <dl>{rows}</dl></section>",
        esc(title)
    )
}

fn or_dash(v: Option<&str>) -> String {
    v.map_or_else(|| "—".to_owned(), esc)
}

fn account_card(inst: &Installation) -> String {
    card(
        "account-title",
        "Your account",
        &[
            ("Account", esc(&inst.account_name)),
            ("Company", or_dash(inst.company_name.as_deref())),
            ("Time zone", or_dash(inst.timezone.as_deref())),
        ],
    )
}

fn plan_card(inst: &Installation, now_ms: u64) -> String {
    let plan = match (&inst.plan.name, &inst.plan.kind) {
        (Some(n), Some(k)) => format!("{} ({})", esc(n), esc(k)),
        (Some(n), None) => esc(n),
        (None, Some(k)) => esc(k),
        (None, None) => "—".into(),
    };
    let licensed = match inst.plan.total_licenses {
        Some(total) => format!("{} of {total}", inst.users_count),
        None => inst.users_count.to_string(),
    };
    let mut rows = vec![
        ("Plan", plan),
        (
            "Licensed users",
            format!("<span id=\"licensed-users\">{licensed}</span>"),
        ),
    ];
    if let Some(trial) = trial_text(inst, now_ms) {
        rows.push(("Trial", format!("<span id=\"trial\">{trial}</span>")));
    }
    card("plan-title", "Plan", &rows)
}

/// The trial in words: days left, or when it ended.
fn trial_text(inst: &Installation, now_ms: u64) -> Option<String> {
    let t = &inst.trial;
    match t.state.as_deref()? {
        "ended" => Some(match t.ended_at.as_deref().and_then(date_of_stamp) {
            Some(day) => format!("ended {}", esc(&day)),
            None => "ended".into(),
        }),
        _ => {
            let expires = t.expires_at.as_deref()?;
            let end_day = days_of_stamp(expires)?;
            let today = (now_ms as i64).div_euclid(MS_PER_DAY);
            let left = (end_day - today).max(0);
            Some(format!(
                "{left} day{} left (ends {})",
                if left == 1 { "" } else { "s" },
                esc(&date_of_stamp(expires).unwrap_or_default())
            ))
        }
    }
}

fn health_card(h: &Home<'_>) -> String {
    let inst = h.inst;
    let status = match inst.state {
        InstallationState::Active if inst.last_error.is_none() => {
            "<span class=\"status ok\" id=\"health\">Connected</span>"
        }
        InstallationState::Active => {
            "<span class=\"status warn\" id=\"health\">Connected, with a warning</span>"
        }
        _ => "<span class=\"status bad\" id=\"health\">Needs attention</span>",
    };
    let mut rows = vec![("Status", status.to_owned())];
    if let Some(at) = inst.approved_at {
        rows.push(("Approved", esc(&date_time(at))));
    }
    if let Some((event_type, at)) = &h.last_applied {
        rows.push((
            "Last confirmed",
            format!(
                "{} · {}",
                esc(event_label(event_type)),
                esc(&date_time(*at))
            ),
        ));
    }
    rows.push((
        "In progress",
        match h.pending {
            0 => "nothing".to_owned(),
            1 => "1 change from Talkdesk".to_owned(),
            n => format!("{n} changes from Talkdesk"),
        },
    ));
    card("health-title", "Connection with Talkdesk", &rows)
}

fn next_steps(h: &Home<'_>) -> String {
    let mut steps: Vec<String> = Vec::new();
    if h.pending > 0 {
        steps.push(
            "Changes Talkdesk sent are being applied; this page shows them within a minute.".into(),
        );
    }
    if let Some(trial) = trial_text(h.inst, h.now_ms).filter(|t| !t.starts_with("ended")) {
        steps.push(format!(
            "Your trial has {trial}: an admin can choose a plan in Talkdesk AppConnect."
        ));
    }
    steps.push(
        "Everyone in your team with a licence opens the app the same way, from Talkdesk, \
         already signed in."
            .into(),
    );
    steps
        .push("Licences an admin gives or takes away in Talkdesk apply here automatically.".into());
    steps.iter().map(|s| format!("<li>{s}</li>")).collect()
}

fn event_label(event_type: &str) -> &'static str {
    match event_type {
        "app.installed" => "Installation",
        "app.updated" => "Users or plan changed",
        "app.credentials_rotated" => "Credentials rotated",
        "app.trial_started" | "app.trial_extended" | "app.trial_ended" => "Trial changed",
        "user.logout" => "A user signed out",
        "app.uninstalled" => "Uninstalled",
        _ => "Change",
    }
}

/// Days since 1970-01-01 of an RFC 3339 stamp's date (`YYYY-MM-DD…`).
fn days_of_stamp(stamp: &str) -> Option<i64> {
    let date = stamp.get(..10)?;
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    Some(days_from_civil(y, m, d))
}

fn date_of_stamp(stamp: &str) -> Option<String> {
    days_of_stamp(stamp).map(date_of_days)
}

/// `27 Nov 2026 14:05 UTC` for a time in ms.
fn date_time(ms: u64) -> String {
    let ms = ms as i64;
    let days = ms.div_euclid(MS_PER_DAY);
    let minutes = ms.rem_euclid(MS_PER_DAY) / 60_000;
    format!(
        "{} {:02}:{:02} UTC",
        date_of_days(days),
        minutes / 60,
        minutes % 60
    )
}

fn date_of_days(days: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d) = civil_from_days(days);
    format!("{d} {} {y}", MONTHS[(m - 1) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_for_people() {
        assert_eq!(
            date_time(20_784 * 86_400_000 + 14 * 3_600_000 + 5 * 60_000),
            "27 Nov 2026 14:05 UTC"
        );
        assert_eq!(days_of_stamp("2026-12-01T00:00:00Z"), Some(20_788));
        assert_eq!(days_of_stamp("soon"), None);
    }
}
