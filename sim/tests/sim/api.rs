//! The Apps and Accounts API: shapes, approval history, paging, and every refusal.

use crate::helpers::*;
use serde_json::json;
use std::time::Duration;
use talkdesk_sim::{Alg, InstallSpec, SimUser, Users};

#[tokio::test]
async fn a_pending_installation_is_approved_and_the_history_records_it() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let path = inst_path(&sim, &inst);
    let (status, body) = api(&sim, "GET", &path, Some(&token), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], json!(inst.installation_id));
    assert_eq!(body["app_id"], "dev-app-0000");
    assert_eq!(body["account_id"], json!(inst.account_id));
    assert_eq!(body["_embedded"]["state"]["state"], "pending");
    assert_eq!(
        body["_links"]["users"]["href"],
        json!(format!("{}{path}/users", sim.base_url()))
    );
    assert!(body["scopes"]
        .as_array()
        .unwrap()
        .contains(&json!("apps:write")));

    let (status, body) = api(
        &sim,
        "POST",
        &format!("{path}/state"),
        Some(&token),
        Some(json!({"state": "approve", "reason": "provisioned"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "approved");
    assert_eq!(body["reason"], "provisioned");
    assert!(body["updated_at"].is_string() && body["_links"]["self"].is_object());
    let view = sim
        .wait_for_state(&inst.installation_id, "approved", Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(view.history.len(), 1);
    assert_eq!(view.history[0].action, "approve");
    assert_eq!(view.history[0].confirms.as_deref(), Some("app.installed"));

    let (status, _) = api(
        &sim,
        "POST",
        &format!("{path}/state"),
        Some(&token),
        Some(json!({"state": "reject", "reason": "no"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = api(
        &sim,
        "POST",
        &format!("{path}/state"),
        Some(&token),
        Some(json!({"state": "maybe"})),
    )
    .await;
    assert_eq!(status, 400);
    let view = sim.installation(&inst.installation_id).unwrap();
    assert_eq!(view.state, "rejected");
    assert_eq!(view.history.len(), 2);
}

#[tokio::test]
async fn users_are_paged_with_a_next_link_only_while_there_is_more() {
    let sim = sim();
    let inst = sim
        .install(InstallSpec {
            users: Users::Count(5),
            ..InstallSpec::new("acme", Alg::ES256)
        })
        .await
        .unwrap();
    let token = mint(&sim, &inst, None).await;
    let base = format!("{}/users", inst_path(&sim, &inst));
    let mut seen = vec![];
    for page in 1..=3 {
        let (status, body) = api(
            &sim,
            "GET",
            &format!("{base}?page={page}&per_page=2"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["total"], 5);
        assert_eq!(body["page"], page);
        assert_eq!(body["per_page"], 2);
        let users = body["_embedded"]["users"].as_array().unwrap();
        assert_eq!(users.len(), if page < 3 { 2 } else { 1 });
        seen.extend(users.iter().map(|u| u["id"].as_str().unwrap().to_string()));
        assert_eq!(body["_links"]["next"].is_object(), page < 3, "{body}");
        if page < 3 {
            assert!(body["_links"]["next"]["href"]
                .as_str()
                .unwrap()
                .ends_with(&format!("page={}&per_page=2", page + 1)));
        }
    }
    let expected: Vec<String> = inst.users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(seen, expected);
    let (_, body) = api(&sim, "GET", &base, Some(&token), None).await;
    assert_eq!(
        (body["per_page"].as_u64(), body["_links"]["next"].is_null()),
        (Some(50), true)
    );
    let (_, body) = api(
        &sim,
        "GET",
        &format!("{base}?per_page=1000"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(body["per_page"], 100);
    assert_eq!(
        api(&sim, "GET", &format!("{base}?page=0"), Some(&token), None)
            .await
            .0,
        400
    );
    assert_eq!(
        api(&sim, "GET", &format!("{base}?page=x"), Some(&token), None)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn subscription_account_and_acknowledgement_answer_as_documented() {
    let sim = sim();
    let inst = sim
        .install(InstallSpec {
            users: Users::List(vec![SimUser::new("u1", "a@acme.example", "A")]),
            ..InstallSpec::new("acme", Alg::ES256)
        })
        .await
        .unwrap();
    let token = mint(&sim, &inst, None).await;
    let path = inst_path(&sim, &inst);
    let (status, body) = api(
        &sim,
        "GET",
        &format!("{path}/subscription"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"type": "paid", "license_type": "per_user", "name": "Standard", "total_licenses": 1})
    );
    let (status, body) = api(&sim, "GET", "/account", Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], json!(inst.account_id));
    assert_eq!(body["name"], "acme");
    for k in ["company_name", "timezone", "created_at"] {
        assert!(body[k].is_string(), "{k}");
    }
    let ack = format!("{path}/credentials/{}/state", inst.client_id);
    let (status, _) = api(
        &sim,
        "POST",
        &ack,
        Some(&token),
        Some(json!({"state": "acknowledged"})),
    )
    .await;
    assert_eq!(status, 202);
    let (status, _) = api(
        &sim,
        "POST",
        &format!("{path}/credentials/nope/state"),
        Some(&token),
        Some(json!({"state": "acknowledged"})),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = api(
        &sim,
        "POST",
        &ack,
        Some(&token),
        Some(json!({"state": "other"})),
    )
    .await;
    assert_eq!(status, 400);
    let view = sim.installation(&inst.installation_id).unwrap();
    assert_eq!(view.acknowledgements.len(), 1);
    assert_eq!(view.acknowledgements[0].client_id, inst.client_id);
}

#[tokio::test]
async fn missing_garbage_and_expired_tokens_are_401() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let path = inst_path(&sim, &inst);
    let (status, body) = api(&sim, "GET", &path, None, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert_eq!(api(&sim, "GET", &path, Some("made-up"), None).await.0, 401);
    let token = mint(&sim, &inst, None).await;
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 200);
    sim.expire_tokens(&inst.installation_id);
    let (status, body) = api(&sim, "GET", &path, Some(&token), None).await;
    assert_eq!(
        (status, body["error_description"].as_str()),
        (401, Some("access token expired"))
    );
}

#[tokio::test]
async fn a_short_token_ttl_is_honoured() {
    let sim = sim();
    sim.set_token_ttl(1);
    let inst = install(&sim, Alg::ES256).await;
    let (_, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None).await;
    assert_eq!(body["expires_in"], 1);
    let token = body["access_token"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        api(&sim, "GET", &inst_path(&sim, &inst), Some(token), None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn a_token_of_another_installation_is_403_and_unknown_ones_are_404() {
    let sim = sim();
    let a = install(&sim, Alg::ES256).await;
    let b = install(&sim, Alg::ES256).await;
    let token_a = mint(&sim, &a, None).await;
    for suffix in ["", "/users", "/subscription"] {
        let (status, body) = api(
            &sim,
            "GET",
            &format!("{}{suffix}", inst_path(&sim, &b)),
            Some(&token_a),
            None,
        )
        .await;
        assert_eq!(status, 403, "{suffix}: {body}");
    }
    let (status, _) = api(
        &sim,
        "POST",
        &format!("{}/state", inst_path(&sim, &b)),
        Some(&token_a),
        Some(json!({"state": "approve"})),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        sim.installation(&b.installation_id).unwrap().state,
        "pending"
    );
    let unknown = format!(
        "/apps/{}/installations/000000000000000000000000",
        sim.app_id()
    );
    assert_eq!(
        api(&sim, "GET", &unknown, Some(&token_a), None).await.0,
        404
    );
    let other_app = format!("/apps/other-app/installations/{}", a.installation_id);
    assert_eq!(
        api(&sim, "GET", &other_app, Some(&token_a), None).await.0,
        404
    );
    // events are readable only by the installation they are about
    let (status, _) = api(
        &sim,
        "GET",
        &self_path(&sim, &b.event),
        Some(&token_a),
        None,
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn a_token_without_the_needed_scope_is_403() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let read_only = mint(&sim, &inst, Some("apps:read")).await;
    let path = inst_path(&sim, &inst);
    assert_eq!(api(&sim, "GET", &path, Some(&read_only), None).await.0, 200);
    let (status, body) = api(
        &sim,
        "POST",
        &format!("{path}/state"),
        Some(&read_only),
        Some(json!({"state": "approve"})),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("insufficient_scope"))
    );
    assert_eq!(
        api(&sim, "GET", "/account", Some(&read_only), None).await.0,
        403
    );
    let write_only = mint(&sim, &inst, Some("apps:write")).await;
    assert_eq!(
        api(&sim, "GET", &path, Some(&write_only), None).await.0,
        403
    );
}

#[tokio::test]
async fn an_uninstall_is_readable_until_approved_then_every_credential_stops_working() {
    let sim = sim();
    let inst = install(&sim, Alg::PS256).await;
    let token = mint(&sim, &inst, None).await;
    sim.uninstall(&inst.installation_id, "user", "bye")
        .await
        .unwrap();
    let path = inst_path(&sim, &inst);
    let (status, body) = api(&sim, "GET", &path, Some(&token), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["_embedded"]["state"]["state"], "uninstalled");
    let fresh = mint(&sim, &inst, None).await;
    let (status, body) = api(
        &sim,
        "POST",
        &format!("{path}/state"),
        Some(&fresh),
        Some(json!({"state": "approve", "reason": "deprovisioned"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let view = sim.installation(&inst.installation_id).unwrap();
    assert!(view.removed);
    assert_eq!(
        view.history.last().unwrap().confirms.as_deref(),
        Some("app.uninstalled")
    );
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 401);
    assert_eq!(api(&sim, "GET", &path, Some(&fresh), None).await.0, 401);
    let (status, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn a_forced_removal_kills_tokens_too() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    sim.uninstall(&inst.installation_id, "user", "bye")
        .await
        .unwrap();
    sim.remove(&inst.installation_id).unwrap();
    assert_eq!(
        api(&sim, "GET", &inst_path(&sim, &inst), Some(&token), None)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn json_bodies_need_a_json_content_type() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let state = format!("{}/state", inst_path(&sim, &inst));
    let ack = format!(
        "{}/credentials/{}/state",
        inst_path(&sim, &inst),
        inst.client_id
    );
    let approve = r#"{"state":"approve","reason":"ok"}"#;
    let acknowledged = r#"{"state":"acknowledged"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let (status, body) = post_raw(&sim, &state, &token, ct, approve).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (415, Some("unsupported_media_type"))
        );
        let (status, _) = post_raw(&sim, &ack, &token, ct, acknowledged).await;
        assert_eq!(status, 415, "{ct:?}");
    }
    let view = sim.installation(&inst.installation_id).unwrap();
    assert_eq!(
        (view.state.as_str(), view.acknowledgements.len()),
        ("pending", 0)
    );
    let json = Some("application/json; charset=utf-8");
    assert_eq!(post_raw(&sim, &state, &token, json, approve).await.0, 200);
    assert_eq!(
        post_raw(&sim, &ack, &token, json, acknowledged).await.0,
        202
    );
}

#[tokio::test]
async fn the_state_body_is_validated_member_by_member() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let state = format!("{}/state", inst_path(&sim, &inst));
    let json = Some("application/json");
    for (bad, rule) in [
        (r#"{"state":"approve","reason":42}"#, "reason"),
        (r#"{"state":"approve","reason":null}"#, "reason"),
        (r#"{"state":"approve","reasons":"typo"}"#, "body"),
        (r#"{"state":"approved"}"#, "state"),
        (r#"{"state":"APPROVE"}"#, "state"),
        (r#"{"reason":"no state"}"#, "state"),
        (r#"["approve"]"#, "body"),
        (r#""approve""#, "body"),
        ("", "body"),
        ("{", "body"),
    ] {
        let (status, body) = post_raw(&sim, &state, &token, json, bad).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
        assert!(description(&body).starts_with(rule), "{bad}: {body}");
    }
    assert_eq!(
        sim.installation(&inst.installation_id)
            .unwrap()
            .history
            .len(),
        0
    );
    assert_eq!(
        post_raw(&sim, &state, &token, json, r#"{"state":"approve"}"#)
            .await
            .0,
        200
    );
    let (status, body) = post_raw(
        &sim,
        &state,
        &token,
        json,
        r#"{"state":"reject","reason":"nope"}"#,
    )
    .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("rejected")));
}

#[tokio::test]
async fn the_credentials_state_body_must_be_exactly_acknowledged() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let ack = format!(
        "{}/credentials/{}/state",
        inst_path(&sim, &inst),
        inst.client_id
    );
    let json = Some("application/json");
    for bad in [
        r#"{"state":"acknowledged","extra":true}"#,
        r#"{"state":"Acknowledged"}"#,
        r#"{"state":"acknowledge"}"#,
        r#"{}"#,
        r#"["acknowledged"]"#,
    ] {
        let (status, _) = post_raw(&sim, &ack, &token, json, bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(
        sim.installation(&inst.installation_id)
            .unwrap()
            .acknowledgements
            .len(),
        0
    );
    assert_eq!(
        post_raw(&sim, &ack, &token, json, r#"{"state":"acknowledged"}"#)
            .await
            .0,
        202
    );
}

#[tokio::test]
async fn credentials_of_another_installation_or_unknown_are_404() {
    let sim = sim();
    let a = install(&sim, Alg::ES256).await;
    let b = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &a, None).await;
    let body = Some(json!({"state": "acknowledged"}));
    for client_id in [b.client_id.as_str(), "0000", "nope"] {
        let path = format!("{}/credentials/{client_id}/state", inst_path(&sim, &a));
        let (status, _) = api(&sim, "POST", &path, Some(&token), body.clone()).await;
        assert_eq!(status, 404, "{client_id}");
    }
    let own = format!("{}/credentials/{}/state", inst_path(&sim, &a), a.client_id);
    assert_eq!(api(&sim, "POST", &own, Some(&token), body).await.0, 202);
}

#[tokio::test]
async fn an_acknowledgement_records_which_credentials_made_the_call() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let rotated = sim.rotate(&inst.installation_id).await.unwrap();
    let new = talkdesk_sim::Installed {
        client_id: rotated.client_id.clone(),
        client_secret: rotated.client_secret.clone(),
        key_id: rotated.key_id.clone(),
        private_key: rotated.private_key.clone(),
        ..inst.clone()
    };
    let ack = format!(
        "{}/credentials/{}/state",
        inst_path(&sim, &inst),
        new.client_id
    );
    let body = Some(json!({"state": "acknowledged"}));
    // a worker that has not switched yet acknowledges with the old set's token...
    let old_token = mint(&sim, &inst, None).await;
    assert_eq!(
        api(&sim, "POST", &ack, Some(&old_token), body.clone())
            .await
            .0,
        202
    );
    // ...one that has switched, with a token minted by the new set
    let new_token = mint(&sim, &new, None).await;
    assert_eq!(api(&sim, "POST", &ack, Some(&new_token), body).await.0, 202);
    let acks = sim
        .installation(&inst.installation_id)
        .unwrap()
        .acknowledgements;
    let seen: Vec<(&str, &str)> = acks
        .iter()
        .map(|a| (a.client_id.as_str(), a.token_client_id.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (new.client_id.as_str(), inst.client_id.as_str()),
            (new.client_id.as_str(), new.client_id.as_str())
        ]
    );
}

#[tokio::test]
async fn paging_parameters_are_validated() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let base = format!("{}/users", inst_path(&sim, &inst));
    for bad in [
        "page=1&page=2",
        "per_page=2&per_page=3",
        "page=-1",
        "page=1.5",
        "per_page=0",
        "per_page=",
        "page=99999999999999999999999",
    ] {
        let (status, body) = api(&sim, "GET", &format!("{base}?{bad}"), Some(&token), None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
    // a page past the end is empty, not an error, and a huge one does not overflow
    for page in ["4", &usize::MAX.to_string()] {
        let (status, body) = api(
            &sim,
            "GET",
            &format!("{base}?page={page}"),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}: {body}");
        assert_eq!(body["_embedded"]["users"], json!([]));
        assert!(body["_links"]["next"].is_null());
    }
    let (status, body) = api(
        &sim,
        "GET",
        &format!("{base}?page=1&per_page=3"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        (status, body["_embedded"]["users"].as_array().unwrap().len()),
        (200, 3)
    );
}

#[tokio::test]
async fn paths_are_matched_exactly() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let path = inst_path(&sim, &inst);
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 200);
    for bad in [
        format!("{path}/"),
        path.replacen("/installations/", "//installations/", 1),
        format!("/{path}"),
        "/account/".to_string(),
    ] {
        assert_eq!(
            api(&sim, "GET", &bad, Some(&token), None).await.0,
            404,
            "{bad}"
        );
    }
    let (status, body) = post_form_to(&sim, "/oauth/token/").await;
    assert_eq!(status, 404, "{body}");
}

async fn post_form_to(sim: &talkdesk_sim::Simulator, path: &str) -> (u16, serde_json::Value) {
    let resp = http()
        .post(format!("{}{path}", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn the_bearer_scheme_is_checked() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let token = mint(&sim, &inst, None).await;
    let url = format!("{}{}", sim.base_url(), inst_path(&sim, &inst));
    for (auth, want) in [
        (format!("Bearer {token}"), 200),
        (format!("bearer {token}"), 200),
        (format!("Token {token}"), 401),
        (format!("Bearer{token}"), 401),
        (format!("Bearer {token}x"), 401),
        (token.clone(), 401),
    ] {
        let resp = http()
            .get(&url)
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), want, "{auth}");
    }
    // a token in the query string is not a bearer token
    let resp = http()
        .get(format!("{url}?access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
