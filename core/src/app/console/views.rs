//! The console's installations list and each installation's page, and the actions taken from
//! it. States are shown as Talkdesk shows them to its users.

use serde_json::Value;

use super::{field, page, sign_in_page, Operator};
use crate::app::pages::{self, esc};
use crate::app::{Handled, Head};
use crate::calendar::rfc3339_of_ms;
use crate::config::Config;
use crate::http::Reply;
use crate::lifecycle::Ports;
use crate::ports::{Clock, Log};
use crate::store::console::ListedInstallation;
use crate::store::records::Installation;

/// The colour class of a shown state (`store::console::SHOWN_STATE`).
pub fn class_of(shown: &str) -> &'static str {
    match shown {
        "active" => "ok",
        "installing" | "updating" | "trial expired" => "warn",
        "needing attention" | "failed" => "bad",
        _ => "muted",
    }
}

/// How one installation is shown: the same rule as `store::console::SHOWN_STATE`.
pub fn shown_state(inst: &Installation, pending: u64) -> &'static str {
    match inst.state.as_str() {
        "received" | "installing" => "installing",
        "active" if pending > 0 => "updating",
        "active"
            if inst.trial.state.as_deref() == Some("ended")
                && inst.trial.ended_reason.as_deref() == Some("trial_expired") =>
        {
            "trial expired"
        }
        "active" => "active",
        "attention" => "needing attention",
        "rejected" | "forged" => "failed",
        "uninstalled" => "uninstalled",
        _ => "unknown",
    }
}

/// The filters the list offers.
pub const STATES: [&str; 7] = [
    "installing",
    "active",
    "updating",
    "failed",
    "trial expired",
    "uninstalled",
    "needing attention",
];

fn query<'h>(head: &'h Head, name: &str) -> Option<&'h str> {
    head.query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn time(ms: u64) -> String {
    rfc3339_of_ms(ms)
        .chars()
        .take(16)
        .collect::<String>()
        .replace('T', " ")
}

fn badge(label: &str, class: &str) -> String {
    format!("<span class=\"status {class}\">{}</span>", esc(label))
}

/// The top of every console page: where you are, and sign-out.
pub fn nav(op: &Operator) -> String {
    format!(
        "<nav class=\"top\" aria-label=\"Console\"><p><a href=\"/admin\">Overview</a> · \
         <a href=\"/admin/console/installations\">Installations</a></p>\
         <form method=\"post\" action=\"/admin/logout\"><input type=\"hidden\" name=\"csrf\" \
         value=\"{}\"><button type=\"submit\" id=\"console-sign-out\">Sign out</button></form></nav>",
        esc(&op.csrf)
    )
}

/// `GET /admin/console/installations?state=&q=`.
pub async fn list<P: Ports>(p: &P, config: &Config, head: &Head) -> Reply {
    let op = match super::operator(p, head).await {
        Ok(Some(op)) => op,
        Ok(None) => return sign_in_page(config, 401, None),
        Err(e) => return failed(p, config, e),
    };
    let search = query(head, "q").unwrap_or_default();
    let state = query(head, "state");
    let rows = match p.store().console_list(search, state).await {
        Ok(rows) => rows,
        Err(e) => return failed(p, config, e),
    };
    let shown: Vec<(&ListedInstallation, (&str, &str))> = rows
        .iter()
        .map(|r| (r, (r.shown.as_str(), class_of(&r.shown))))
        .collect();
    let options: String = std::iter::once(("", "any state"))
        .chain(STATES.iter().map(|s| (*s, *s)))
        .map(|(v, label)| {
            let selected = if state == Some(v) || (v.is_empty() && state.is_none()) {
                " selected"
            } else {
                ""
            };
            format!(
                "<option value=\"{}\"{selected}>{}</option>",
                esc(v),
                esc(label)
            )
        })
        .collect();
    let body: String = shown
        .iter()
        .map(|(r, (label, class))| {
            format!(
                "<tr><td><a href=\"/admin/console/installations/{id}\">{account}</a><br>\
                 <span class=\"muted\">{account_id}</span></td><td>{badge}</td><td>{users}</td>\
                 <td>{updated}</td><td>{error}</td></tr>",
                id = esc(&r.installation_id),
                account = esc(&r.account_name),
                account_id = esc(&r.account_id),
                badge = badge(label, class),
                users = r.users_count,
                updated = time(r.updated_at),
                error = esc(r.last_error.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let main = format!(
        "{nav}<h1>Installations</h1>\
         <form method=\"get\" action=\"/admin/console/installations\" class=\"filters\">\
         <label for=\"q\">Account</label> <input id=\"q\" name=\"q\" value=\"{q}\" size=\"24\"> \
         <label for=\"state\">State</label> <select id=\"state\" name=\"state\">{options}</select> \
         <button type=\"submit\" id=\"filter\">Filter</button></form>\
         <p class=\"muted\" id=\"count\">{n} installation{s}</p>\
         <table id=\"installations\"><thead><tr><th scope=\"col\">Account</th>\
         <th scope=\"col\">State</th><th scope=\"col\">Users</th><th scope=\"col\">Updated (UTC)</th>\
         <th scope=\"col\">Last error</th></tr></thead><tbody>{body}</tbody></table>",
        nav = nav(&op),
        q = esc(search),
        n = shown.len(),
        s = if shown.len() == 1 { "" } else { "s" },
    );
    page(config, 200, "Installations", main)
}

fn failed<P: Ports>(p: &P, config: &Config, e: crate::ports::PortError) -> Reply {
    p.log().error("console_read_failed", &e.0);
    page(
        config,
        500,
        "Error",
        "<p>Something went wrong; try again.</p>".into(),
    )
}

fn rows(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("<dt>{}</dt><dd>{v}</dd>", esc(k)))
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::String(s) => esc(s),
        other => esc(&other.to_string()),
    }
}

/// A duration in days, hours and minutes.
fn left(ms: u64) -> String {
    format!(
        "{}d {}h {}m",
        ms / 86_400_000,
        ms / 3_600_000 % 24,
        ms / 60_000 % 60
    )
}

/// `GET /admin/console/installations/{id}`.
pub async fn installation<P: Ports>(p: &P, config: &Config, head: &Head, id: &str) -> Reply {
    let op = match super::operator(p, head).await {
        Ok(Some(op)) => op,
        Ok(None) => return sign_in_page(config, 401, None),
        Err(e) => return failed(p, config, e),
    };
    let store = p.store();
    let read = async {
        let Some(inst) = store.installation(id).await? else {
            return Ok(None);
        };
        let jobs = store.jobs_of(id).await?;
        let events = store.events_of(id, u64::MAX >> 12, 50).await?;
        let actions = store.actions_of(id, 50).await?;
        let users = store.users(id).await?;
        let account = store.account(&inst.account_id).await?;
        let decision = store.manual_decision(id).await?;
        let version = store.app_version(id).await?;
        let webhooks = store.webhooks_of(id, 20).await?;
        Ok::<_, crate::ports::PortError>(Some((
            inst, jobs, events, actions, users, account, decision, version, webhooks,
        )))
    };
    let (inst, jobs, events, actions, users, account, decision, version, webhooks) =
        match read.await {
            Ok(Some(all)) => all,
            Ok(None) => {
                return page(
                    config,
                    404,
                    "Not found",
                    format!("{}<p>No installation {}.</p>", nav(&op), esc(id)),
                )
            }
            Err(e) => return failed(p, config, e),
        };
    let now = p.clock().now_ms();
    let view = crate::app::admin::installation_view(&inst, Some(&jobs));
    let pending_jobs = jobs
        .iter()
        .filter(|j| j.state == crate::store::records::JobState::Pending)
        .count() as u64;
    let label = shown_state(
        &inst,
        jobs.iter()
            .filter(|j| {
                j.state == crate::store::records::JobState::Pending
                    && j.kind != crate::store::records::JobKind::Install
            })
            .count() as u64,
    );
    let class = class_of(label);
    let flash = query(head, "done").map_or_else(String::new, |d| {
        format!(
            "<p class=\"notice\" role=\"status\" id=\"flash\">Done: {}</p>",
            esc(d)
        )
    });
    let settings = crate::app::admin::settings_value(account.as_ref());
    let account_card = format!(
        "<section class=\"card\"><h2>Account</h2><dl>{}</dl></section>",
        rows(&[
            ("Name", esc(&inst.account_name)),
            ("Account id", esc(&inst.account_id)),
            ("Company", text(&view["account"]["company_name"])),
            ("Timezone", text(&view["account"]["timezone"])),
            (
                "Settings",
                format!("<code>{}</code>", esc(&settings.to_string()))
            ),
        ])
    );
    let plan_card = format!(
        "<section class=\"card\"><h2>Plan and trial</h2><dl>{}</dl></section>",
        rows(&[
            ("Plan", text(&view["plan"]["name"])),
            ("Type", text(&view["plan"]["type"])),
            ("Licences", text(&view["plan"]["total_licenses"])),
            ("Trial", text(&view["trial"]["state"])),
            ("Trial ends", text(&view["trial"]["expires_at"])),
            ("App version", esc(version.as_deref().unwrap_or("–"))),
        ])
    );
    let creds_card = format!(
        "<section class=\"card\"><h2>Credentials</h2><dl>{}</dl></section>",
        rows(&[
            ("Client id", text(&view["credentials"]["client_id"])),
            ("Key id", text(&view["credentials"]["key_id"])),
            ("Algorithm", text(&view["credentials"]["key_algorithm"])),
            ("Secrets stored", text(&view["credentials"]["stored"])),
            (
                "Rotation pending",
                text(&view["credentials"]["rotation_pending"])
            ),
            ("Region API", text(&view["region_api_root"])),
        ])
    );
    let pending: String = jobs
        .iter()
        .filter(|j| j.state == crate::store::records::JobState::Pending)
        .map(|j| {
            format!(
                "<tr><td>{kind}</td><td>{attempts}</td><td>{next}</td><td>{left}</td><td>{err}</td></tr>",
                kind = esc(j.kind.as_str()),
                attempts = j.attempts,
                next = time(j.next_attempt_at),
                left = left(j.deadline_at.saturating_sub(now)),
                err = esc(j.last_error.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let decision_card = decision.map_or_else(String::new, |d| {
        format!(
            "<section class=\"card\" id=\"decision\"><h2>Waiting for a person</h2><dl>{}</dl>{}</section>",
            rows(&[
                ("State", esc(&d.state)),
                ("Why", esc(&d.why_waiting)),
                ("Talkdesk's window closes", esc(&time(d.deadline_at))),
                ("Time left", esc(&left(d.deadline_at.saturating_sub(now)))),
            ]),
            if d.state == "waiting" {
                decision_forms(&op, id)
            } else {
                String::new()
            }
        )
    });
    let mut timeline: Vec<(u64, String)> = events
        .iter()
        .map(|e| {
            let at = e["received_at"].as_u64().unwrap_or(0);
            let event_id = e["event_id"].as_str().unwrap_or_default();
            (
                at,
                format!(
                    "<tr><td>{}</td><td>event</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    time(at),
                    text(&e["event_type"]),
                    text(&e["status"]),
                    text(&e["detail"]),
                    replay_form(&op, id, event_id),
                ),
            )
        })
        .collect();
    timeline.extend(actions.iter().map(|a| {
        (
            a.created_at,
            format!(
                "<tr class=\"action\"><td>{}</td><td>operator</td><td>{}</td><td>done</td><td>{}</td><td></td></tr>",
                time(a.created_at),
                esc(&a.action),
                esc(&a.detail)
            ),
        )
    }));
    timeline.extend(
        jobs.iter()
            .filter(|j| j.state != crate::store::records::JobState::Pending)
            .map(|j| {
                (
                    j.updated_at,
                    format!(
                        "<tr class=\"job\"><td>{}</td><td>job</td><td>{}</td><td>{}</td><td>{}</td><td></td></tr>",
                        time(j.updated_at),
                        esc(j.kind.as_str()),
                        esc(j.state.as_str()),
                        esc(&format!(
                            "{} attempt{}{}",
                            j.attempts,
                            if j.attempts == 1 { "" } else { "s" },
                            j.last_error
                                .as_deref()
                                .map_or_else(String::new, |e| format!(": {e}"))
                        )),
                    ),
                )
            }),
    );
    // Newest first, equal times in the order gathered. Sorted by insertion: the rows are a few
    // hundred at most, and a slice sort is code of its own in the wasm for each type it sorts.
    let mut newest_first: Vec<(u64, String)> = Vec::with_capacity(timeline.len());
    for row in timeline {
        let at = newest_first.partition_point(|r| r.0 >= row.0);
        newest_first.insert(at, row);
    }
    let timeline: String = newest_first.into_iter().map(|(_, row)| row).collect();
    let users_rows: String = users
        .iter()
        .take(100)
        .map(|u| {
            format!(
                "<li>{} <span class=\"muted\">{}</span></li>",
                esc(u.name.as_deref().unwrap_or(&u.user_id)),
                esc(u.email.as_deref().unwrap_or(""))
            )
        })
        .collect();
    let csrf = esc(&op.csrf);
    let unconfirmed: String = jobs
        .iter()
        .filter(|j| j.state == crate::store::records::JobState::Unconfirmed)
        .map(|j| {
            let form = |action: &str, label: &str, confirm: bool| {
                format!(
                    "<form method=\"post\" action=\"/admin/console/installations/{id}/{action}\">\
                     <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                     <input type=\"hidden\" name=\"event_id\" value=\"{ev}\">{confirm}\
                     <button type=\"submit\" class=\"small\">{label}</button></form>",
                    id = esc(id),
                    ev = esc(&j.event_id),
                    confirm = if confirm {
                        "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> its data goes</label> "
                    } else {
                        ""
                    },
                )
            };
            format!(
                "<tr><td>{kind}</td><td>{err}</td><td class=\"actions\">{retry}{discard}</td></tr>",
                kind = esc(j.kind.as_str()),
                err = esc(j.last_error.as_deref().unwrap_or("")),
                retry = form("retry-event", "Retry", false),
                discard = form("discard-event", "Discard", true),
            )
        })
        .collect();
    let unconfirmed = if unconfirmed.is_empty() {
        String::new()
    } else {
        format!(
            "<section class=\"card\" id=\"unconfirmed\"><h2>Unconfirmed events</h2>\
             <p class=\"muted\">Talkdesk could not be read back to prove these genuine or forged; they block nothing.</p>\
             <table><tbody>{unconfirmed}</tbody></table></section>"
        )
    };
    let webhooks: String = webhooks
        .iter()
        .map(|w| {
            format!(
                "<tr><td>{at}</td><td>{ty}</td><td>{state}</td><td>{attempts}</td><td>{err}</td><td>\
                 <form method=\"post\" action=\"/admin/console/installations/{id}/replay-webhook\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><input type=\"hidden\" name=\"webhook_id\" value=\"{wid}\">\
                 <button type=\"submit\" class=\"small\">Deliver again</button></form></td></tr>",
                at = time(w.created_at),
                ty = esc(&w.event_type),
                state = esc(&w.state),
                attempts = w.attempts,
                err = esc(w.last_error.as_deref().unwrap_or("")),
                id = esc(id),
                wid = esc(&w.webhook_id),
            )
        })
        .collect();
    let webhooks = if webhooks.is_empty() {
        String::new()
    } else {
        format!(
            "<section class=\"card\" id=\"webhooks\"><h2>Webhooks to your backend</h2><table><thead><tr>\
             <th scope=\"col\">Queued (UTC)</th><th scope=\"col\">Type</th><th scope=\"col\">State</th>\
             <th scope=\"col\">Attempts</th><th scope=\"col\">Last error</th><th scope=\"col\"></th></tr></thead>\
             <tbody>{webhooks}</tbody></table></section>"
        )
    };
    let settings_form = format!(
        "<section class=\"card\" id=\"settings\"><h2>Account settings</h2>\
         <form method=\"post\" action=\"/admin/console/installations/{id}/settings\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <p><label for=\"settings-json\">Your settings for this account (a JSON object, kept across reinstalls)</label><br>\
         <textarea id=\"settings-json\" name=\"settings\" rows=\"4\" cols=\"60\">{value}</textarea></p>\
         <button type=\"submit\" id=\"save-settings\">Save settings</button></form></section>",
        id = esc(id),
        value = esc(&settings.to_string()),
    );
    let main = format!(
        "{nav}{flash}<h1>{account} {badge}</h1>\
         <p class=\"muted\">Installation <code id=\"installation-id\">{id}</code> · \
         created {created} · {pending_jobs} pending job{s}</p>\
         <p id=\"last-error\">{last_error}</p>\
         <div class=\"cards\">{account_card}{plan_card}{creds_card}</div>{decision_card}\
         <section class=\"card\"><h2>Actions</h2><div class=\"actions\">\
         <form method=\"post\" action=\"/admin/console/installations/{id}/retry\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" id=\"retry-now\">Retry now</button></form>\
         <form method=\"post\" action=\"/admin/console/installations/{id}/verify\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" id=\"verify\">Check with Talkdesk</button></form>\
         <form method=\"post\" action=\"/admin/console/installations/{id}/integration-key\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> the old key stops working</label> \
         <button type=\"submit\" id=\"regenerate-key\">Regenerate the integration key</button></form>\
         </div></section>\
         <section class=\"card\"><h2>Pending work</h2><table id=\"pending\"><thead><tr><th scope=\"col\">Job</th>\
         <th scope=\"col\">Attempts</th><th scope=\"col\">Next attempt (UTC)</th><th scope=\"col\">Talkdesk's window left</th>\
         <th scope=\"col\">Last error</th></tr></thead><tbody>{pending}</tbody></table></section>{unconfirmed}\
         <section class=\"card\"><h2>Timeline</h2><table id=\"timeline\"><thead><tr><th scope=\"col\">When (UTC)</th>\
         <th scope=\"col\">What</th><th scope=\"col\">Kind</th><th scope=\"col\">Status</th><th scope=\"col\">Detail</th>\
         <th scope=\"col\"></th></tr></thead><tbody>{timeline}</tbody></table></section>\
         {webhooks}{settings_form}\
         <section class=\"card\"><h2>Licensed users ({users_count})</h2><ul id=\"users\">{users_rows}</ul></section>",
        nav = super::views::nav(&op),
        account = esc(&inst.account_name),
        badge = badge(label, class),
        id = esc(id),
        created = time(inst.created_at),
        s = if pending_jobs == 1 { "" } else { "s" },
        last_error = inst
            .last_error
            .as_deref()
            .map_or_else(String::new, |e| format!("Last error: {}", esc(e))),
        users_count = users.len(),
    );
    page(config, 200, &inst.account_name, main)
}

fn decision_forms(op: &Operator, id: &str) -> String {
    let csrf = esc(&op.csrf);
    let id = esc(id);
    format!(
        "<div class=\"actions\"><form method=\"post\" action=\"/admin/console/installations/{id}/approve\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><button type=\"submit\" id=\"approve\">Approve</button></form>\
         <form method=\"post\" action=\"/admin/console/installations/{id}/reject\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\"><label for=\"reason\">Reason</label> \
         <input id=\"reason\" name=\"reason\" required maxlength=\"500\"> \
         <label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> the customer is told no</label> \
         <button type=\"submit\" id=\"reject\">Reject</button></form></div>"
    )
}

fn replay_form(op: &Operator, id: &str, event_id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/admin/console/installations/{}/replay\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"event_id\" value=\"{}\">\
         <button type=\"submit\" class=\"small\">Replay</button></form>",
        esc(id),
        esc(&op.csrf),
        esc(event_id)
    )
}

/// Back to the installation's page, saying what happened.
fn back(id: &str, done: &str, run: Option<String>) -> Handled {
    let mut location = String::from("/admin/console/installations/");
    // The id is the route's own path segment, still percent-encoded: kept as it came.
    crate::weburl::form::encode_path(id, b"/", &mut location);
    location.push('?');
    location.push_str(&crate::weburl::form::serialize(&[("done", done)]));
    Handled {
        reply: pages::redirect(&location, vec![]),
        run_installation: run,
    }
}

/// What an action's JSON answer said, in words.
fn said(reply: &Reply) -> String {
    let v: Value = crate::json::parse(&reply.body).unwrap_or(Value::Null);
    v["message"]
        .as_str()
        .or(v["status"].as_str())
        .map_or_else(|| format!("status {}", reply.status), str::to_owned)
}

/// Performs a console action through the same code as the operator API.
pub async fn act<P: Ports>(
    p: &P,
    config: &Config,
    id: &str,
    action: &str,
    form: &[(String, String)],
) -> Handled {
    let confirmed = field(form, "confirm") == Some("yes");
    // An event named in the form must be this installation's (the page only offers those).
    if let Some(event_id) = field(form, "event_id") {
        match p.store().event(event_id).await {
            Ok(Some(e)) if e.installation_id.as_deref() == Some(id) => {}
            Ok(_) => return back(id, "that event is not this installation's", None),
            Err(e) => return failed(p, config, e).into(),
        }
    }
    match action {
        "retry" => {
            let h = crate::app::operator::retry_now(p, id).await;
            back(
                id,
                &format!("retry now: {}", said(&h.reply)),
                h.run_installation,
            )
        }
        "verify" => {
            let r = crate::app::operator::verify(p, config, id).await;
            let v: Value = crate::json::parse(&r.body).unwrap_or(Value::Null);
            let state = v["talkdesk"]["state"].as_str().map(str::to_owned);
            let detail = match &state {
                Some(s) => format!("Talkdesk says the installation is {s}"),
                None => format!("the check failed ({})", said(&r)),
            };
            if let Err(e) = p
                .store()
                .record_action(id, "verify", &detail, p.clock().now_ms())
                .await
            {
                p.log().error("console_action_failed", &e.0);
            }
            back(id, &detail, None)
        }
        "replay" => {
            let event_id = field(form, "event_id").unwrap_or_default();
            let h = crate::app::operator::replay_event(p, event_id).await;
            back(
                id,
                &format!("replay: {}", said(&h.reply)),
                h.run_installation,
            )
        }
        "approve" => {
            let h = crate::app::decisions::by_operator(p, id, true, b"").await;
            back(
                id,
                &format!("approve: {}", said(&h.reply)),
                h.run_installation,
            )
        }
        "reject" if confirmed => {
            let reason = field(form, "reason").unwrap_or_default();
            let body = serde_json::json!({ "reason": reason }).to_string();
            let h = crate::app::decisions::by_operator(p, id, false, body.as_bytes()).await;
            back(
                id,
                &format!("reject: {}", said(&h.reply)),
                h.run_installation,
            )
        }
        "integration-key" if confirmed => {
            let inst: Option<Installation> = match p.store().installation(id).await {
                Ok(i) => i,
                Err(e) => return failed(p, config, e).into(),
            };
            let Some(inst) = inst else {
                return page(
                    config,
                    404,
                    "Not found",
                    "<p>No such installation.</p>".into(),
                )
                .into();
            };
            let r = crate::app::bridge::issue_key(p, &inst.account_id).await;
            let v: Value = crate::json::parse(&r.body).unwrap_or(Value::Null);
            let Some(key) = v["integration_key"].as_str() else {
                return back(id, &format!("integration key: {}", said(&r)), None);
            };
            if let Err(e) = p
                .store()
                .record_action(
                    id,
                    "integration_key",
                    "a new integration key was issued",
                    p.clock().now_ms(),
                )
                .await
            {
                p.log().error("console_action_failed", &e.0);
            }
            let shown = crate::app::pages::home::issued_key(key);
            pages::render(&shown, &config.app_name, "'none'").into()
        }
        "retry-event" => {
            let event_id = field(form, "event_id").unwrap_or_default();
            let h = crate::app::operator::retry_event(p, event_id).await;
            back(
                id,
                &format!("retry: {}", said(&h.reply)),
                h.run_installation,
            )
        }
        "discard-event" if confirmed => {
            let event_id = field(form, "event_id").unwrap_or_default();
            let r = crate::app::operator::discard_event(p, event_id).await;
            back(id, &format!("discard: {}", said(&r)), None)
        }
        "replay-webhook" => {
            let webhook_id = field(form, "webhook_id").unwrap_or_default();
            let h = crate::app::decisions::replay_webhook(p, webhook_id).await;
            back(
                id,
                &format!("webhook: {}", said(&h.reply)),
                h.run_installation,
            )
        }
        "settings" => {
            let inst = match p.store().installation(id).await {
                Ok(Some(inst)) => inst,
                Ok(None) => {
                    return page(
                        config,
                        404,
                        "Not found",
                        "<p>No such installation.</p>".into(),
                    )
                    .into()
                }
                Err(e) => return failed(p, config, e).into(),
            };
            let body = field(form, "settings").unwrap_or("{}");
            let r = crate::app::operator::put_settings(p, &inst.account_id, body.as_bytes()).await;
            if r.status == 200 {
                let _ = p
                    .store()
                    .record_action(id, "settings", "account settings saved", p.clock().now_ms())
                    .await;
                back(id, "account settings saved", None)
            } else {
                back(id, &format!("settings refused: {}", said(&r)), None)
            }
        }
        "reject" | "integration-key" | "discard-event" => page(
            config,
            400,
            "Confirm",
            "<p>Tick the confirmation box to do this: it cannot be undone.</p>".into(),
        )
        .into(),
        _ => page(config, 404, "Not found", "<p>No such action.</p>".into()).into(),
    }
}

#[cfg(test)]
mod tests {
    use super::back;

    fn location(id: &str, done: &str) -> String {
        let handled = back(id, done, None);
        let (_, at) = handled
            .reply
            .headers
            .iter()
            .find(|(n, _)| *n == "location")
            .unwrap();
        at.clone()
    }

    #[test]
    fn back_keeps_the_routes_id_as_it_came_and_encodes_what_happened_as_a_form() {
        assert_eq!(
            location("i-1", "retry queued & more"),
            "/admin/console/installations/i-1?done=retry+queued+%26+more"
        );
        // The id is the route's own path segment, already percent-encoded: not encoded twice.
        assert_eq!(
            location("a%20b", "ok"),
            "/admin/console/installations/a%20b?done=ok"
        );
        assert_eq!(
            location("a\"b<c>", "ok"),
            "/admin/console/installations/a%22b%3Cc%3E?done=ok"
        );
    }
}
