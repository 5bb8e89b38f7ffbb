//! The token endpoint: for every verification rule, a correct request passes and one mutation
//! fails with the OAuth error a real server would give, naming the rule.

use crate::helpers::*;
use serde_json::{json, Value};
use talkdesk_sim::{sign_jwt, Alg, Endpoint, InstallSpec, KeyPair, JWT_BEARER};

/// Mints once with a correct assertion, then checks that the mutated one is refused.
async fn refuses(
    alg: Alg,
    mutate: impl FnOnce(&mut Value, &mut Value),
    status: u16,
    error: &str,
    rule: &str,
) {
    let sim = sim();
    let inst = install(&sim, alg).await;
    let (ok, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None).await;
    assert_eq!(ok, 200, "the correct assertion must pass: {body}");
    let (got, body) = post_assertion(&sim, &assertion(&sim, &inst, mutate), None).await;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(
        desc.starts_with(rule),
        "description {desc:?} should name rule {rule:?}"
    );
}

#[tokio::test]
async fn every_algorithm_mints_a_token_with_a_correct_assertion() {
    let sim = sim();
    for alg in Alg::ALL {
        let inst = install(&sim, alg).await;
        let (status, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None).await;
        assert_eq!(status, 200, "{alg}: {body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(
            body["scope"],
            "apps:read apps:write account:read users:read openid"
        );
        assert!(body["access_token"].as_str().unwrap().len() >= 32);
        assert_eq!(sim.token_requests_for(&inst.installation_id).len(), 1);
    }
}

#[tokio::test]
async fn an_assertion_signed_by_another_key_is_refused() {
    let other = KeyPair::generate(Alg::ES256);
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let (h, c) = good_parts(&inst, &sim.token_url());
    let jwt = sign_jwt(Alg::ES256, &other.private_b64(), &h, &c);
    let (status, body) = post_assertion(&sim, &jwt, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("signature"));
}

#[tokio::test]
async fn a_tampered_payload_is_refused_for_rsa_pss_too() {
    let sim = sim();
    let inst = install(&sim, Alg::PS256).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    let parts: Vec<&str> = jwt.split('.').collect();
    let (_, c) = good_parts(&inst, &sim.token_url());
    use base64::Engine;
    let forged_payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let (status, body) = post_assertion(&sim, &tampered, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("signature"));
}

#[tokio::test]
async fn a_header_alg_other_than_the_installations_is_refused() {
    refuses(
        Alg::ES256,
        |h, _| h["alg"] = json!("ES384"),
        401,
        "invalid_client",
        "alg",
    )
    .await;
    refuses(
        Alg::PS256,
        |h, _| h["alg"] = json!("none"),
        401,
        "invalid_client",
        "alg",
    )
    .await;
}

#[tokio::test]
async fn a_missing_kid_is_refused() {
    refuses(
        Alg::ES384,
        |h, _| {
            h.as_object_mut().unwrap().remove("kid");
        },
        401,
        "invalid_client",
        "kid",
    )
    .await;
}

#[tokio::test]
async fn a_wrong_kid_is_refused() {
    refuses(
        Alg::ES256,
        |h, _| h["kid"] = json!("another-key"),
        401,
        "invalid_client",
        "kid",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_iss_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| {
            c["iss"] = json!("nobody");
            c["sub"] = json!("nobody");
        },
        401,
        "invalid_client",
        "iss",
    )
    .await;
}

#[tokio::test]
async fn sub_different_from_iss_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| c["sub"] = json!("someone-else"),
        401,
        "invalid_client",
        "sub",
    )
    .await;
}

#[tokio::test]
async fn an_aud_that_is_not_exactly_the_token_url_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| c["aud"] = json!(format!("{}/", c["aud"].as_str().unwrap())),
        401,
        "invalid_client",
        "aud",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["aud"] = json!("http://127.0.0.1:1/oauth/token"),
        401,
        "invalid_client",
        "aud",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["aud"] = json!("https://acme.talkdeskid.com/oauth/token"),
        401,
        "invalid_client",
        "aud",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| {
            c.as_object_mut().unwrap().remove("aud");
        },
        401,
        "invalid_client",
        "aud",
    )
    .await;
}

#[tokio::test]
async fn an_expired_assertion_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| {
            c["iat"] = json!(now() - 400);
            c["exp"] = json!(now() - 100);
        },
        401,
        "invalid_client",
        "exp",
    )
    .await;
}

#[tokio::test]
async fn an_assertion_living_longer_than_300_seconds_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| c["exp"] = json!(c["iat"].as_i64().unwrap() + 301),
        401,
        "invalid_client",
        "lifetime",
    )
    .await;
}

#[tokio::test]
async fn an_iat_in_the_future_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| {
            c["iat"] = json!(now() + 120);
            c["exp"] = json!(now() + 300);
        },
        401,
        "invalid_client",
        "iat",
    )
    .await;
}

#[tokio::test]
async fn a_small_clock_skew_on_iat_is_tolerated() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let jwt = assertion(&sim, &inst, |_, c| {
        c["iat"] = json!(now() + 10);
        c["exp"] = json!(now() + 300);
    });
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn a_missing_jti_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| {
            c.as_object_mut().unwrap().remove("jti");
        },
        401,
        "invalid_client",
        "jti",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_jti_is_refused() {
    let sim = sim();
    let inst = install(&sim, Alg::ES512).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
    let (status, body) = post_assertion(&sim, &jwt, None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_description"], "jti: already used (replay)");
}

#[tokio::test]
async fn only_scopes_the_installation_was_given_are_granted() {
    let sim = sim();
    let inst = sim
        .install(InstallSpec {
            scopes: vec!["apps:read".into(), "apps:write".into()],
            ..InstallSpec::new("acme", Alg::ES256)
        })
        .await
        .unwrap();
    let (status, body) =
        post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), Some("apps:read")).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("apps:read")));
    let (status, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None).await;
    assert_eq!(
        (status, body["scope"].as_str()),
        (200, Some("apps:read apps:write"))
    );
    let (status, body) = post_assertion(
        &sim,
        &assertion(&sim, &inst, |_, _| {}),
        Some("apps:read account:read"),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("account:read"));
}

#[tokio::test]
async fn basic_credentials_work_and_a_bad_secret_or_unknown_client_does_not() {
    let sim = sim();
    let inst = install(&sim, Alg::PS384).await;
    let form = [("grant_type", "client_credentials")];
    let (status, body) = post_form(&sim, &form, Some((&inst.client_id, &inst.client_secret))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_form(&sim, &form, Some((&inst.client_id, "wrong"))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .starts_with("client_secret"));
    let (status, body) =
        post_form(&sim, &form, Some(("unknown-client", &inst.client_secret))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn malformed_requests_are_invalid_requests() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &jwt),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &jwt),
            ],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:other"),
                ("client_assertion", &jwt),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", "not-a-jwt"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![("grant_type", "client_credentials")],
            401,
            "invalid_client",
        ),
    ];
    for (form, status, error) in cases {
        let (got, body) = post_form(&sim, &form, None).await;
        assert_eq!(
            (got, body["error"].as_str()),
            (status, Some(error)),
            "{form:?}: {body}"
        );
    }
    // JSON instead of a form
    let resp = http()
        .post(sim.token_url())
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // the good assertion still works: none of the above consumed its jti
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn after_rotation_both_sets_work_until_the_old_one_is_revoked() {
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
    mint(&sim, &inst, None).await;
    let new_token = mint(&sim, &new, None).await;
    sim.revoke(&inst.installation_id, &inst.client_id).unwrap();
    let (status, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error_description"], "client: credentials revoked");
    mint(&sim, &new, None).await;
    let (status, _) = api(&sim, "GET", &inst_path(&sim, &inst), Some(&new_token), None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_request_log_shows_decoded_claims_not_the_assertion() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    mint(&sim, &inst, None).await;
    let reqs = sim.requests_to(Endpoint::Token);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.status, Some(200));
    assert_eq!(
        r.installation_id.as_deref(),
        Some(inst.installation_id.as_str())
    );
    assert_eq!(
        r.body["client_assertion"]["claims"]["iss"],
        json!(inst.client_id)
    );
    assert_eq!(
        r.body["client_assertion"]["header"]["kid"],
        json!(inst.key_id)
    );
    assert!(!serde_json::to_string(&r.body)
        .unwrap()
        .contains(&inst.client_secret));
}

// ---- the form, the HTTP envelope and the client authentication method ----------------------------

#[tokio::test]
async fn a_repeated_form_parameter_is_refused() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    let form = "application/x-www-form-urlencoded";
    for (extra, rule) in [
        (("grant_type", "client_credentials"), "grant_type"),
        (("client_assertion", jwt.as_str()), "client_assertion"),
        (
            ("client_assertion_type", JWT_BEARER),
            "client_assertion_type",
        ),
    ] {
        let (status, _, body) =
            post_token_raw(&sim, Some(form), None, assertion_form(&jwt, &[extra])).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request"))
        );
        assert_eq!(description(&body), format!("{rule}: parameter is repeated"));
    }
    let (status, _, body) = post_token_raw(&sim, Some(form), None, assertion_form(&jwt, &[])).await;
    assert_eq!(
        status, 200,
        "the same request without the repeat passes: {body}"
    );
}

#[tokio::test]
async fn client_assertion_type_must_be_exactly_the_jwt_bearer_urn() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let upper = JWT_BEARER.to_ascii_uppercase();
    let spaced = format!("{JWT_BEARER} ");
    for wrong in [
        upper.as_str(),
        spaced.as_str(),
        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let jwt = assertion(&sim, &inst, |_, _| {});
        let (status, body) = post_form(
            &sim,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", wrong),
                ("client_assertion", &jwt),
            ],
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{wrong}"
        );
        assert!(description(&body).starts_with("client_assertion_type"));
    }
    mint(&sim, &inst, None).await;
}

#[tokio::test]
async fn grant_type_must_be_exactly_client_credentials() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    for wrong in [
        "Client_Credentials",
        "client_credentials ",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "password",
    ] {
        let jwt = assertion(&sim, &inst, |_, _| {});
        let (status, body) = post_form(
            &sim,
            &[
                ("grant_type", wrong),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &jwt),
            ],
            None,
        )
        .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type")),
            "{wrong:?}"
        );
    }
    mint(&sim, &inst, None).await;
}

#[tokio::test]
async fn the_token_endpoint_needs_a_form_content_type() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/json"),
        Some("multipart/form-data"),
    ] {
        let jwt = assertion(&sim, &inst, |_, _| {});
        let (status, _, body) = post_token_raw(&sim, ct, None, assertion_form(&jwt, &[])).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{ct:?}"
        );
        assert!(description(&body).starts_with("content-type"));
    }
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, headers, body) = post_token_raw(
        &sim,
        Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
        None,
        assertion_form(&jwt, &[]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
}

#[tokio::test]
async fn a_form_client_id_must_name_the_authenticated_client() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let other = install(&sim, Alg::ES256).await;
    let form = "application/x-www-form-urlencoded";
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, _, body) = post_token_raw(
        &sim,
        Some(form),
        None,
        assertion_form(&jwt, &[("client_id", &other.client_id)]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(description(&body).starts_with("client_id"));
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, _, body) = post_token_raw(
        &sim,
        Some(form),
        None,
        assertion_form(&jwt, &[("client_id", &inst.client_id)]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // the same rule for Basic
    let basic = [
        ("grant_type", "client_credentials"),
        ("client_id", other.client_id.as_str()),
    ];
    let (status, body) =
        post_form(&sim, &basic, Some((&inst.client_id, &inst.client_secret))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let basic = [
        ("grant_type", "client_credentials"),
        ("client_id", inst.client_id.as_str()),
    ];
    let (status, body) =
        post_form(&sim, &basic, Some((&inst.client_id, &inst.client_secret))).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn one_authentication_method_and_only_basic_for_the_secret() {
    let sim = sim();
    let inst = install(&sim, Alg::PS256).await;
    // the secret in the form (client_secret_post) is not Talkdesk's documented variant
    let (status, body) = post_form(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &inst.client_id),
            ("client_secret", &inst.client_secret),
        ],
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(description(&body).starts_with("client_secret"));
    // the secret beside an assertion is two methods
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, _, body) = post_token_raw(
        &sim,
        Some("application/x-www-form-urlencoded"),
        None,
        assertion_form(&jwt, &[("client_secret", &inst.client_secret)]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // Basic and an assertion together
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, body) = post_form(
        &sim,
        &[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", &jwt),
        ],
        Some((&inst.client_id, &inst.client_secret)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // a Bearer header is no client authentication at all
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (status, _, body) = post_token_raw(
        &sim,
        Some("application/x-www-form-urlencoded"),
        Some("Bearer something"),
        assertion_form(&jwt, &[]),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(description(&body).starts_with("authorization"));
    // Basic alone passes; a wrong secret is a 401 that names the Basic scheme (RFC 6749 §5.2)
    let form = [("grant_type", "client_credentials")];
    assert_eq!(
        post_form(&sim, &form, Some((&inst.client_id, &inst.client_secret)))
            .await
            .0,
        200
    );
    let auth = {
        use base64::Engine;
        let b =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:wrong", inst.client_id));
        format!("Basic {b}")
    };
    let (status, headers, _) = post_token_raw(
        &sim,
        Some("application/x-www-form-urlencoded"),
        Some(&auth),
        "grant_type=client_credentials".into(),
    )
    .await;
    assert_eq!(status, 401);
    assert!(headers["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
}

#[tokio::test]
async fn a_malformed_scope_is_refused_and_an_empty_one_means_all() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    for bad in [
        "apps:read  apps:write",
        " apps:read",
        "apps:read ",
        "apps:read\tapps:write",
        "apps\"read",
    ] {
        let (status, body) =
            post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), Some(bad)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope")),
            "{bad:?}"
        );
        assert!(description(&body).starts_with("scope"));
    }
    let (status, body) = post_assertion(&sim, &assertion(&sim, &inst, |_, _| {}), Some("")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["scope"],
        "apps:read apps:write account:read users:read openid"
    );
    let (_, body) = post_assertion(
        &sim,
        &assertion(&sim, &inst, |_, _| {}),
        Some("apps:read apps:read"),
    )
    .await;
    assert_eq!(body["scope"], "apps:read");
}

// ---- the assertion's structure, header and claims ----------------------------------------------

#[tokio::test]
async fn an_assertion_with_extra_segments_or_whitespace_is_refused() {
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let jwt = assertion(&sim, &inst, |_, _| {});
    let (h, rest) = jwt.split_once('.').unwrap();
    for bad in [
        format!("{jwt}.e30"),
        format!("{jwt}."),
        format!(" {jwt}"),
        format!("{jwt}\n"),
        format!("{h}. {rest}"),
        format!("{h}.\n{rest}"),
        format!("{h}=.{rest}"),
    ] {
        let (status, body) = post_assertion(&sim, &bad, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad:?}"
        );
    }
    // none of the above consumed the jti
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn alg_none_and_hs256_signed_with_the_public_key_are_refused() {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let public_b64 = inst.event["data"]["public_key"].as_str().unwrap();
    let public_der = STANDARD.decode(public_b64).unwrap();
    let (mut h, c) = good_parts(&inst, &sim.token_url());
    let enc = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    // alg none, no signature
    h["alg"] = json!("none");
    let unsigned = format!("{}.{}.", enc(&h), enc(&c));
    let (status, body) = post_assertion(&sim, &unsigned, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(description(&body).starts_with("alg"));
    // HS256 keyed with the public key (the classic algorithm-confusion forgery)
    h["alg"] = json!("HS256");
    let input = format!("{}.{}", enc(&h), enc(&c));
    let key = openssl::pkey::PKey::hmac(&public_der).unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &key).unwrap();
    let mac = signer.sign_oneshot_to_vec(input.as_bytes()).unwrap();
    let forged = format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac));
    let (status, body) = post_assertion(&sim, &forged, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(description(&body).starts_with("alg"));
    mint(&sim, &inst, None).await;
}

#[tokio::test]
async fn a_typ_other_than_jwt_is_refused_and_a_missing_one_is_fine() {
    refuses(
        Alg::ES256,
        |h, _| h["typ"] = json!("at+jwt"),
        401,
        "invalid_client",
        "typ",
    )
    .await;
    refuses(
        Alg::PS384,
        |h, _| h["typ"] = json!("JOSE"),
        401,
        "invalid_client",
        "typ",
    )
    .await;
    refuses(
        Alg::ES256,
        |h, _| h["typ"] = json!(1),
        401,
        "invalid_client",
        "typ",
    )
    .await;
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let jwt = assertion(&sim, &inst, |h, _| {
        h.as_object_mut().unwrap().remove("typ");
    });
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn a_critical_header_extension_is_refused() {
    refuses(
        Alg::ES256,
        |h, _| {
            h["crit"] = json!(["b64"]);
            h["b64"] = json!(false);
        },
        401,
        "invalid_client",
        "crit",
    )
    .await;
}

#[tokio::test]
async fn an_nbf_in_the_future_is_refused_and_one_in_the_past_is_fine() {
    refuses(
        Alg::ES256,
        |_, c| c["nbf"] = json!(now() + 120),
        401,
        "invalid_client",
        "nbf",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["nbf"] = json!("0"),
        401,
        "invalid_client",
        "nbf",
    )
    .await;
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let jwt = assertion(&sim, &inst, |_, c| c["nbf"] = json!(now() - 5));
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn dates_must_be_integer_numeric_dates() {
    refuses(
        Alg::ES256,
        |_, c| c["exp"] = json!((now() + 300).to_string()),
        401,
        "invalid_client",
        "exp",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["iat"] = json!(now().to_string()),
        401,
        "invalid_client",
        "iat",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["exp"] = json!(now() as f64 + 200.5),
        401,
        "invalid_client",
        "exp",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["iat"] = json!(null),
        401,
        "invalid_client",
        "iat",
    )
    .await;
}

#[tokio::test]
async fn absurd_dates_are_refused_without_harming_the_server() {
    refuses(
        Alg::ES256,
        |_, c| c["iat"] = json!(i64::MIN),
        401,
        "invalid_client",
        "lifetime",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["exp"] = json!(u64::MAX),
        401,
        "invalid_client",
        "exp",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| {
            c["iat"] = json!(now() + 20);
            c["exp"] = json!(now() + 10);
        },
        401,
        "invalid_client",
        "lifetime",
    )
    .await;
}

#[tokio::test]
async fn an_assertion_with_several_audiences_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| c["aud"] = json!([c["aud"].clone(), "https://elsewhere.example/token"]),
        401,
        "invalid_client",
        "aud",
    )
    .await;
    let sim = sim();
    let inst = install(&sim, Alg::ES256).await;
    let jwt = assertion(&sim, &inst, |_, c| c["aud"] = json!([c["aud"].clone()]));
    assert_eq!(post_assertion(&sim, &jwt, None).await.0, 200);
}

#[tokio::test]
async fn a_non_string_jti_or_iss_is_refused() {
    refuses(
        Alg::ES256,
        |_, c| c["jti"] = json!(12345),
        401,
        "invalid_client",
        "jti",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["jti"] = json!(""),
        401,
        "invalid_client",
        "jti",
    )
    .await;
    refuses(
        Alg::ES256,
        |_, c| c["iss"] = json!([c["iss"].clone()]),
        401,
        "invalid_client",
        "iss",
    )
    .await;
}

#[tokio::test]
async fn after_revocation_the_old_sets_tokens_stop_working_but_the_new_sets_do_not() {
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
    let old_token = mint(&sim, &inst, None).await;
    let new_token = mint(&sim, &new, None).await;
    let path = inst_path(&sim, &inst);
    assert_eq!(api(&sim, "GET", &path, Some(&old_token), None).await.0, 200);
    sim.revoke(&inst.installation_id, &inst.client_id).unwrap();
    let (status, body) = api(&sim, "GET", &path, Some(&old_token), None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(description(&body).contains("revoked"));
    assert_eq!(api(&sim, "GET", &path, Some(&new_token), None).await.0, 200);
    // Basic with the revoked set is refused too
    let (status, body) = post_form(
        &sim,
        &[("grant_type", "client_credentials")],
        Some((&inst.client_id, &inst.client_secret)),
    )
    .await;
    assert_eq!(
        (status, description(&body)),
        (401, "client: credentials revoked")
    );
}
