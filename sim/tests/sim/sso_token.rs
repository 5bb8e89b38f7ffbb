//! `POST /oauth/token` with `grant_type=authorization_code`: the answer, the `id_token`, and every
//! refusal (code, client, redirect URI, PKCE), plus the `id_token` tamper knobs.

use crate::helpers::*;
use crate::sso_helpers::*;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::sign::Verifier;
use serde_json::{json, Value};
use talkdesk_sim::{jose::parse_jwt, Alg, IdTokenFault, Simulator, ID_TOKEN_TTL_SECS};

/// Verifies an RS256 JWT with the key the simulator publishes at `/oauth/jwks`.
async fn verifies_with_published_key(sim: &Simulator, jwt: &str) -> bool {
    let (status, jwks) = api(sim, "GET", "/oauth/jwks", None, None).await;
    assert_eq!(status, 200);
    let parsed = parse_jwt(jwt).unwrap();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == parsed.header["kid"])
        .expect("the token's kid is published");
    assert_eq!(
        (key["kty"].as_str(), key["alg"].as_str()),
        (Some("RSA"), Some("RS256"))
    );
    let n = |name: &str| {
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap()).unwrap()
    };
    let public = PKey::from_rsa(Rsa::from_public_components(n("n"), n("e")).unwrap()).unwrap();
    let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    v.verify_oneshot(&parsed.signature, parsed.signing_input.as_bytes())
        .unwrap()
}

fn claims(jwt: &str) -> Value {
    parse_jwt(jwt).unwrap().claims
}

#[tokio::test]
async fn a_code_exchanges_for_a_user_token_a_refresh_token_and_an_id_token() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[1].id).await;
    let form = exchange_form(
        &sim,
        &inst,
        &code,
        &[
            ("redirect_uri", REDIRECT),
            ("code_verifier", &flow.verifier),
        ],
    );
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, headers, body) = post_token_raw(
        &sim,
        Some("application/x-www-form-urlencoded"),
        None,
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert_eq!(body["scope"], "openid account:read");
    for k in ["access_token", "refresh_token", "id_token"] {
        assert!(
            body[k].as_str().is_some_and(|s| s.len() > 20),
            "{k}: {body}"
        );
    }
    let issued = sim.issued_user_tokens(&inst.installation_id);
    assert_eq!(issued.len(), 1);
    assert_eq!(
        issued[0].access_token,
        body["access_token"].as_str().unwrap()
    );
    assert_eq!(
        issued[0].refresh_token,
        body["refresh_token"].as_str().unwrap()
    );
    assert_eq!(issued[0].id_token, body["id_token"].as_str().unwrap());
    assert_eq!(issued[0].user_id, inst.users[1].id);
    assert_eq!(issued[0].client_id, inst.client_id);
    assert!(!issued[0].revoked);
    // a user token is not an app token
    assert!(sim.issued_tokens(&inst.installation_id).is_empty());
    // it carries the granted scopes only
    let (status, _) = api(
        &sim,
        "GET",
        &inst_path(&sim, &inst),
        body["access_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = api(&sim, "GET", "/account", body["access_token"].as_str(), None).await;
    assert_eq!(status, 200);
    let log = sim.token_requests_for(&inst.installation_id);
    assert_eq!(log.last().unwrap().status, Some(200));
}

#[tokio::test]
async fn the_id_token_is_signed_by_the_published_key_and_names_the_user_for_this_client() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let before = now();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let (_, body) = exchange(&sim, &inst, &flow, &code).await;
    let jwt = body["id_token"].as_str().unwrap();
    assert!(verifies_with_published_key(&sim, jwt).await);
    assert_eq!(parse_jwt(jwt).unwrap().header["alg"], "RS256");
    let c = claims(jwt);
    assert_eq!(c["iss"], json!(sim.base_url()));
    assert!(!sim.issuer().ends_with('/'));
    assert_eq!(c["iss"], json!(sim.issuer()));
    assert_eq!(c["sub"], json!(inst.users[0].id));
    assert_eq!(c["aud"], json!(inst.client_id));
    assert_eq!(c["nonce"], json!(flow.nonce));
    assert_eq!(c["email"], json!(inst.users[0].email));
    assert_eq!(c["name"], json!(inst.users[0].name));
    let iat = c["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= now());
    assert_eq!(c["exp"].as_i64().unwrap(), iat + ID_TOKEN_TTL_SECS);
    let auth_time = c["auth_time"].as_i64().unwrap();
    assert!(auth_time >= before && auth_time <= iat);
    assert_eq!(
        sim.jwks(),
        api(&sim, "GET", "/oauth/jwks", None, None).await.1
    );
}

#[tokio::test]
async fn a_remembered_sign_in_keeps_its_auth_time_and_a_request_without_nonce_gets_none() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, done) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let first = claims(
        exchange(&sim, &inst, &flow, &code).await.1["id_token"]
            .as_str()
            .unwrap(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let again = Flow::new();
    let q = get_authorize(
        &sim,
        &with(again.params(&inst), "nonce", None),
        Some(&done.cookie()),
    )
    .await
    .redirect_query();
    let second = claims(
        exchange(&sim, &inst, &again, &q["code"]).await.1["id_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(second["auth_time"], first["auth_time"]);
    assert!(second["iat"].as_i64() > first["iat"].as_i64());
    assert!(second.get("nonce").is_none(), "{second}");
}

#[tokio::test]
async fn a_code_works_once_and_a_second_use_revokes_what_the_first_issued() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let (status, body) = exchange(&sim, &inst, &flow, &code).await;
    assert_eq!(status, 200);
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        api(&sim, "GET", "/users/me", Some(token), None).await.0,
        200
    );
    let (status, again) = exchange(&sim, &inst, &flow, &code).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(description(&again).contains("already used"), "{again}");
    let (status, me) = api(&sim, "GET", "/users/me", Some(token), None).await;
    assert_eq!(status, 401);
    assert!(
        description(&me).contains("authorization code was used twice"),
        "{me}"
    );
    assert!(sim.issued_user_tokens(&inst.installation_id)[0].revoked);
}

#[tokio::test]
async fn an_unknown_missing_or_expired_code_is_refused() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (status, body) = exchange(&sim, &inst, &flow, "never-issued").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(description(&body).starts_with("code: unknown"));
    let form = exchange_form(&sim, &inst, "", &[("redirect_uri", REDIRECT)]);
    let (status, body) = post_token_form(&sim, &form).await;
    assert_eq!((status, description(&body)), (400, "code: missing"));

    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    sim.expire_codes(&inst.installation_id);
    let (status, body) = exchange(&sim, &inst, &flow, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(description(&body).starts_with("code: expired"), "{body}");
}

#[tokio::test]
async fn a_code_is_refused_to_any_other_client_even_of_the_same_installation() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let rotated = sim.rotate(&inst.installation_id).await.unwrap();
    let new = talkdesk_sim::Installed {
        client_id: rotated.client_id.clone(),
        key_id: rotated.key_id.clone(),
        private_key: rotated.private_key.clone(),
        ..inst.clone()
    };
    let (status, body) = exchange(&sim, &new, &flow, &code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        description(&body).contains("issued to another client"),
        "{body}"
    );

    let other = sso_install(&sim).await;
    let flow2 = Flow::new();
    let (code2, _) = sign_in(&sim, &inst, &flow2, &inst.users[0].id).await;
    let (status, body) = exchange(&sim, &other, &flow2, &code2).await;
    assert_eq!(status, 400);
    assert!(
        description(&body).contains("issued to another client"),
        "{body}"
    );
}

#[tokio::test]
async fn the_exchange_authenticates_the_client_as_strictly_as_client_credentials() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let rest = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", flow.verifier.as_str()),
    ];
    // no client authentication at all, even with the client_id
    let mut bare = rest.to_vec();
    bare.push(("client_id", &inst.client_id));
    let (status, body) = post_form(&sim, &bare, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // a wrong audience, an expired assertion, a replayed jti
    for jwt in [
        assertion(&sim, &inst, |_, c| c["aud"] = json!(sim.base_url())),
        assertion(&sim, &inst, |_, c| c["exp"] = json!(now() - 1)),
    ] {
        let mut form = rest.to_vec();
        form.extend([
            ("client_assertion_type", talkdesk_sim::JWT_BEARER),
            ("client_assertion", &jwt),
        ]);
        let (status, body) = post_form(&sim, &form, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
    }
    // none of these refusals touched the code: Basic credentials exchange it
    let (status, body) = post_form(&sim, &rest, Some((&inst.client_id, &inst.client_secret))).await;
    assert_eq!(status, 200, "{body}");
    let jwt = assertion(&sim, &inst, |_, _| {});
    let mut form = rest.to_vec();
    form.extend([
        ("client_assertion_type", talkdesk_sim::JWT_BEARER),
        ("client_assertion", &jwt),
    ]);
    post_form(&sim, &form, None).await;
    let (status, body) = post_form(&sim, &form, None).await;
    assert_eq!(status, 401);
    assert!(description(&body).contains("jti: already used"), "{body}");
}

#[tokio::test]
async fn the_redirect_uri_must_be_repeated_exactly() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let form = exchange_form(&sim, &inst, &code, &[("code_verifier", &flow.verifier)]);
    let (status, body) = post_token_form(&sim, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(description(&body).starts_with("redirect_uri: missing"));

    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let wrong = format!("{REDIRECT}/");
    let form = exchange_form(
        &sim,
        &inst,
        &code,
        &[("redirect_uri", &wrong), ("code_verifier", &flow.verifier)],
    );
    let (status, body) = post_token_form(&sim, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(description(&body).starts_with("redirect_uri: not the one"));
}

#[tokio::test]
async fn the_pkce_verifier_must_match_the_challenge_and_only_when_one_was_sent() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let cases: Vec<(Option<String>, u16, &str, &str)> = vec![
        (
            Some(Flow::new().verifier),
            400,
            "invalid_grant",
            "does not match the code_challenge",
        ),
        (None, 400, "invalid_grant", "code_verifier: missing"),
        (
            Some("short".into()),
            400,
            "invalid_request",
            "43 to 128 unreserved",
        ),
        (
            Some(format!("{}!", "a".repeat(50))),
            400,
            "invalid_request",
            "43 to 128 unreserved",
        ),
    ];
    for (verifier, status, error, rule) in cases {
        let flow = Flow::new();
        let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
        let mut extra = vec![("redirect_uri", REDIRECT)];
        if let Some(v) = &verifier {
            extra.push(("code_verifier", v));
        }
        let (got, body) = post_token_form(&sim, &exchange_form(&sim, &inst, &code, &extra)).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{verifier:?}"
        );
        assert!(description(&body).contains(rule), "{body}");
    }
    // no challenge at authorize: a verifier is refused, none is fine
    let flow = Flow::new();
    let no_pkce = with(
        with(flow.params(&inst), "code_challenge", None),
        "code_challenge_method",
        None,
    );
    let q = post_authorize(&sim, &no_pkce, &[("user_id", &inst.users[0].id)], None)
        .await
        .redirect_query();
    let (status, body) = exchange(&sim, &inst, &flow, &q["code"]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(description(&body).contains("sent no code_challenge"));
    let q = post_authorize(&sim, &no_pkce, &[("user_id", &inst.users[0].id)], None)
        .await
        .redirect_query();
    let form = exchange_form(&sim, &inst, &q["code"], &[("redirect_uri", REDIRECT)]);
    assert_eq!(post_token_form(&sim, &form).await.0, 200);
}

#[tokio::test]
async fn a_refused_exchange_consumes_the_code() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let form = exchange_form(
        &sim,
        &inst,
        &code,
        &[
            ("redirect_uri", REDIRECT),
            ("code_verifier", &Flow::new().verifier),
        ],
    );
    assert_eq!(post_token_form(&sim, &form).await.0, 400);
    let (status, body) = exchange(&sim, &inst, &flow, &code).await;
    assert_eq!(status, 400);
    assert!(description(&body).contains("already used"), "{body}");
}

#[tokio::test]
async fn scope_is_not_accepted_with_the_code() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let form = exchange_form(
        &sim,
        &inst,
        &code,
        &[
            ("redirect_uri", REDIRECT),
            ("code_verifier", &flow.verifier),
            ("scope", "openid"),
        ],
    );
    let (status, body) = post_token_form(&sim, &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(description(&body).starts_with("scope: not accepted"));
    // the code was not touched
    assert_eq!(exchange(&sim, &inst, &flow, &code).await.0, 200);
}

#[tokio::test]
async fn each_id_token_fault_spoils_the_next_token_only() {
    let sim = sso_sim();
    let inst = install(&sim, Alg::PS256).await;
    let faults = [
        IdTokenFault::WrongIssuer,
        IdTokenFault::WrongAudience,
        IdTokenFault::Expired,
        IdTokenFault::WrongNonce,
        IdTokenFault::MissingNonce,
        IdTokenFault::BadSignature,
        IdTokenFault::OtherSubject,
    ];
    for fault in faults {
        sim.tamper_next_id_token(fault);
        let flow = Flow::new();
        let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
        let (status, body) = exchange(&sim, &inst, &flow, &code).await;
        assert_eq!(status, 200, "{body}");
        let jwt = body["id_token"].as_str().unwrap();
        let c = claims(jwt);
        let signed = verifies_with_published_key(&sim, jwt).await;
        let now = now();
        match fault {
            // a prefix of the right issuer: only an exact comparison refuses it
            IdTokenFault::WrongIssuer => {
                assert_eq!(
                    c["iss"],
                    json!(format!("{}.attacker.example", sim.issuer()))
                )
            }
            IdTokenFault::WrongAudience => assert_ne!(c["aud"], json!(inst.client_id)),
            IdTokenFault::Expired => assert!(c["exp"].as_i64().unwrap() < now),
            IdTokenFault::WrongNonce => {
                assert!(c["nonce"].is_string() && c["nonce"] != json!(flow.nonce))
            }
            IdTokenFault::MissingNonce => assert!(c.get("nonce").is_none()),
            IdTokenFault::BadSignature => assert!(!signed),
            IdTokenFault::OtherSubject => assert_ne!(c["sub"], json!(inst.users[0].id)),
        }
        if fault != IdTokenFault::BadSignature {
            assert!(signed, "{fault:?}: every other defect is signed properly");
        }
        // the next one is sound
        let good = user_tokens(&sim, &inst, &inst.users[0].id).await;
        let jwt = good["id_token"].as_str().unwrap();
        let c = claims(jwt);
        assert_eq!(
            (c["iss"].as_str(), c["aud"].as_str()),
            (Some(sim.issuer().as_str()), Some(inst.client_id.as_str()))
        );
        assert!(c["exp"].as_i64().unwrap() > now && c["nonce"].is_string());
        assert!(verifies_with_published_key(&sim, jwt).await);
    }
}

#[tokio::test]
async fn an_exchange_naming_no_client_is_logged_for_the_codes_installation() {
    let sim = sso_sim();
    let inst = sso_install(&sim).await;
    let flow = Flow::new();
    let (code, _) = sign_in(&sim, &inst, &flow, &inst.users[0].id).await;
    let (status, _) = post_form(
        &sim,
        &[("grant_type", "authorization_code"), ("code", &code)],
        None,
    )
    .await;
    assert_eq!(status, 401);
    let log = sim.token_requests_for(&inst.installation_id);
    assert_eq!(log.len(), 1);
    assert!(log[0]
        .error
        .as_deref()
        .unwrap()
        .contains("client authentication: missing"));
}
