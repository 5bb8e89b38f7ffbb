//! The `/_sim` control API and the CLI, against an in-process simulator.

use crate::helpers::*;
use serde_json::{json, Value};
use std::process::Command;
use talkdesk_sim::Alg;

async fn control(
    sim: &talkdesk_sim::Simulator,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/_sim/{path}", sim.base_url());
    let req = if method == "GET" {
        http().get(url)
    } else if method == "DELETE" {
        http().delete(url)
    } else {
        http().post(url).json(&body.unwrap_or(json!({})))
    };
    let resp = req.send().await.unwrap();
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn install_through_the_control_api_then_approve_through_the_real_api() {
    let rx = Receiver::start().await;
    let sim = sim();
    let (status, _) = control(
        &sim,
        "POST",
        "config",
        Some(json!({"callback_url": rx.url})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, inst) = control(
        &sim,
        "POST",
        "install",
        Some(json!({"account_name": "acme", "algorithm": "PS256", "users": 2})),
    )
    .await;
    assert_eq!(status, 200, "{inst}");
    let inst: talkdesk_sim::Installed = serde_json::from_value(inst).unwrap();
    assert!(inst.delivery.ok());
    assert_eq!(rx.received().len(), 1);
    let (_, view) = control(
        &sim,
        "GET",
        &format!("installations/{}", inst.installation_id),
        None,
    )
    .await;
    assert_eq!(view["state"], "pending");
    let token = mint(&sim, &inst, None).await;
    api(
        &sim,
        "POST",
        &format!("{}/state", inst_path(&sim, &inst)),
        Some(&token),
        Some(json!({"state": "approve"})),
    )
    .await;
    let (_, view) = control(
        &sim,
        "GET",
        &format!("installations/{}", inst.installation_id),
        None,
    )
    .await;
    assert_eq!(view["state"], "approved");
    assert_eq!(view["history"].as_array().unwrap().len(), 1);

    let (status, _) = control(
        &sim,
        "POST",
        "faults",
        Some(json!({"endpoint": "token", "fault": {"kind": "status", "status": 429}, "times": 1})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None)
            .await
            .0,
        429
    );
    let (_, reqs) = control(&sim, "GET", "requests", None).await;
    assert!(reqs
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !r["path"].as_str().unwrap().starts_with("/_sim")));
    let (status, forged) = control(
        &sim,
        "POST",
        "forge",
        Some(json!({"type": "app.updated", "data": {"installation_id": inst.installation_id}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(forged["deliveries"][0]["attempt"]["status"], 200);
    assert_eq!(control(&sim, "GET", "nope", None).await.0, 404);
}

#[tokio::test]
async fn the_cli_installs_and_reports_through_the_control_api() {
    let rx = Receiver::start().await;
    let sim = sim();
    sim.set_callback_url(rx.url.clone());
    let port = sim.port().to_string();
    let bin = env!("CARGO_BIN_EXE_talkdesk-sim");
    let out = tokio::task::spawn_blocking({
        let (bin, port) = (bin.to_string(), port.clone());
        move || {
            Command::new(bin)
                .args([
                    "--port",
                    &port,
                    "install",
                    "--alg",
                    "ES384",
                    "--account",
                    "globex",
                    "--users",
                    "4",
                ])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("delivered (200)"), "{stdout}");
    let view = sim.installations().remove(0);
    assert_eq!(
        (view.account_name.as_str(), view.users.len()),
        ("globex", 4)
    );
    assert!(stdout.contains(&view.id));

    let id = view.id.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .args(["--port", &port, "status", &id])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("state pending"), "{stdout}");
    assert!(stdout.contains("app.installed attempt 1: 200"), "{stdout}");
}

#[test]
fn the_simulator_works_from_sync_code_and_two_runtimes_and_stops_on_drop() {
    let sim = sim();
    let port = sim.port();
    let rt1 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inst = rt1
        .block_on(sim.install(talkdesk_sim::InstallSpec::default()))
        .unwrap();
    drop(rt1);
    let rt2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt2.block_on(async {
        mint(&sim, &inst, None).await;
    });
    drop(sim);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server stopped"
    );
    // the port can be taken again
    let again = talkdesk_sim::Simulator::start(talkdesk_sim::SimConfig {
        port: Some(port),
        ..Default::default()
    });
    assert_eq!(again.port(), port);
}

#[tokio::test]
async fn script_errors_answer_400_for_bad_input_and_404_for_unknown_names() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let id = &inst.installation_id;
    let cases = [
        (
            "install".to_string(),
            json!({"account_name": ""}),
            400,
            "account_name is required".to_string(),
        ),
        (
            "installations/nope/update".into(),
            json!({}),
            404,
            "unknown installation nope".into(),
        ),
        (
            format!("installations/{id}/update"),
            json!({"remove_users": ["ghost"]}),
            404,
            format!("installation {id} has no user ghost"),
        ),
        (
            format!("installations/{id}/logout"),
            json!({"user": "ghost@acme.example"}),
            404,
            format!("installation {id} has no user ghost@acme.example"),
        ),
        (
            format!("installations/{id}/credentials/nope/revoke"),
            json!({}),
            404,
            format!("installation {id} has no credentials nope"),
        ),
        (
            "events/nope/redeliver".into(),
            json!({}),
            404,
            "no genuine event nope".into(),
        ),
    ];
    for (path, body, status, text) in cases {
        let (got, answer) = control(&sim, "POST", &path, Some(body)).await;
        assert_eq!(
            (got, description(&answer)),
            (status, text.as_str()),
            "{path}"
        );
    }
    let (got, answer) = control(&sim, "GET", "installations/nope", None).await;
    assert_eq!(
        (got, description(&answer)),
        (404, "unknown installation nope")
    );
    // The refused calls changed nothing.
    assert_eq!(sim.installations().len(), 1);
    assert_eq!(sim.installation(id).unwrap().users, inst.users);
}

#[tokio::test]
async fn the_control_api_sets_the_read_path_and_the_token_rate_limit() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let (status, settings) = control(
        &sim,
        "POST",
        "config",
        Some(json!({"event_reads": {"status": 503}, "token_rate_limit": 1})),
    )
    .await;
    assert_eq!(status, 200, "{settings}");
    assert_eq!(
        (&settings["event_reads"], &settings["token_rate_limit"]),
        (&json!({"status": 503}), &json!(1))
    );
    let token = mint(&sim, &inst, None).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 429);
    let path = self_path(&sim, &inst.event);
    assert_eq!(api(&sim, "GET", &path, Some(&token), None).await.0, 503);
    // an absent member leaves its setting alone; null lifts the limit
    let (_, settings) = control(
        &sim,
        "POST",
        "config",
        Some(json!({"event_reads": "by_envelope_id"})),
    )
    .await;
    assert_eq!(settings["token_rate_limit"], json!(1));
    let (_, settings) = control(
        &sim,
        "POST",
        "config",
        Some(json!({"token_rate_limit": null})),
    )
    .await;
    assert_eq!(
        (&settings["event_reads"], &settings["token_rate_limit"]),
        (&json!("by_envelope_id"), &Value::Null)
    );
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
    let by_envelope = format!("/apps/{}/events/{}", sim.app_id(), inst.event_id);
    assert_eq!(
        api(&sim, "GET", &by_envelope, Some(&token), None).await.0,
        200
    );
    let (_, health) = control(&sim, "GET", "health", None).await;
    assert_eq!(health["event_reads"], json!("by_envelope_id"));
    let (status, _) = control(
        &sim,
        "POST",
        "config",
        Some(json!({"event_reads": "sometimes"})),
    )
    .await;
    assert_eq!(status, 400);
}
