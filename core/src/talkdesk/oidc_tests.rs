use serde_json::json;

use super::*;
use crate::crypto::b64url;
use crate::talkdesk::hosts::Allowlist;

fn id_token(claims: serde_json::Value) -> SecretString {
    SecretString::new(format!(
        "{}.{}.c2lnbmF0dXJl",
        b64url(br#"{"alg":"RS256"}"#),
        b64url(claims.to_string().as_bytes())
    ))
}

fn good_claims() -> serde_json::Value {
    json!({
        "iss": "https://acme.talkdeskid.com",
        "aud": "client-1",
        "sub": "user-1",
        "exp": 2_000,
        "iat": 1_000,
        "nonce": "n-1",
    })
}

fn expected() -> Expected<'static> {
    Expected {
        issuer: "https://acme.talkdeskid.com",
        client_id: "client-1",
        nonce: "n-1",
        now: 1_500,
    }
}

fn with(key: &str, value: serde_json::Value) -> SecretString {
    let mut claims = good_claims();
    claims[key] = value;
    id_token(claims)
}

#[test]
fn a_token_naming_our_issuer_client_and_nonce_gives_its_subject() {
    assert_eq!(
        check_id_token(&id_token(good_claims()), &expected()),
        Ok("user-1".into())
    );
}

#[test]
fn another_issuer_is_refused() {
    let t = with("iss", json!("https://evil.talkdeskid.com"));
    assert_eq!(check_id_token(&t, &expected()), Err(IdTokenError::Issuer));
}

#[test]
fn another_audience_is_refused_and_a_shared_one_needs_azp() {
    let t = with("aud", json!("client-2"));
    assert_eq!(check_id_token(&t, &expected()), Err(IdTokenError::Audience));
    let t = with("aud", json!(["client-1", "client-2"]));
    assert_eq!(check_id_token(&t, &expected()), Err(IdTokenError::Audience));
    let mut claims = good_claims();
    claims["aud"] = json!(["client-1", "client-2"]);
    claims["azp"] = json!("client-1");
    assert!(check_id_token(&id_token(claims), &expected()).is_ok());
    assert!(check_id_token(&with("aud", json!(["client-1"])), &expected()).is_ok());
}

#[test]
fn an_expired_token_is_refused_after_the_clock_skew() {
    let t = with("exp", json!(1_500 - CLOCK_SKEW_SECS));
    assert_eq!(check_id_token(&t, &expected()), Err(IdTokenError::Expired));
    let t = with("exp", json!(1_500 - CLOCK_SKEW_SECS + 1));
    assert!(check_id_token(&t, &expected()).is_ok());
}

#[test]
fn a_token_issued_in_the_future_is_refused() {
    let t = with("iat", json!(1_500 + CLOCK_SKEW_SECS + 1));
    assert_eq!(
        check_id_token(&t, &expected()),
        Err(IdTokenError::IssuedInFuture)
    );
}

#[test]
fn a_missing_or_other_nonce_is_refused() {
    let t = with("nonce", json!("n-2"));
    assert_eq!(check_id_token(&t, &expected()), Err(IdTokenError::Nonce));
    let mut claims = good_claims();
    claims.as_object_mut().unwrap().remove("nonce");
    assert_eq!(
        check_id_token(&id_token(claims), &expected()),
        Err(IdTokenError::Nonce)
    );
}

#[test]
fn a_token_without_a_subject_or_not_a_jwt_is_refused() {
    assert_eq!(
        check_id_token(&with("sub", json!("")), &expected()),
        Err(IdTokenError::NoSubject)
    );
    for bad in ["", "a.b", "a.!!!.c", "a.b.c.d"] {
        assert!(matches!(
            check_id_token(&SecretString::new(bad), &expected()),
            Err(IdTokenError::Malformed(_))
        ));
    }
}

#[test]
fn the_issuer_is_the_token_urls_origin() {
    let url = Allowlist::default()
        .check("https://acme.talkdeskid.com/oauth/token")
        .unwrap();
    assert_eq!(issuer_of(&url), "https://acme.talkdeskid.com");
}

#[test]
fn the_authorize_location_carries_every_parameter_encoded() {
    let url = Allowlist::default()
        .check("https://acme.talkdeskid.com/oauth/authorize")
        .unwrap();
    let location = authorize_location(
        &url,
        &AuthorizeRequest {
            client_id: "client 1",
            redirect_uri: "https://app.example.com/oauth/callback",
            state: "v1.k.a.b",
            nonce: "n",
            code_challenge: "c",
        },
    );
    let parsed = url::Url::parse(&location).unwrap();
    assert_eq!(
        parsed.origin().ascii_serialization(),
        "https://acme.talkdeskid.com"
    );
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("response_type"), Some("code"));
    assert_eq!(get("client_id"), Some("client 1"));
    assert_eq!(
        get("redirect_uri"),
        Some("https://app.example.com/oauth/callback")
    );
    assert_eq!(get("scope"), Some("openid"));
    assert_eq!(get("state"), Some("v1.k.a.b"));
    assert_eq!(get("nonce"), Some("n"));
    assert_eq!(get("code_challenge"), Some("c"));
    assert_eq!(get("code_challenge_method"), Some("S256"));
}

#[test]
fn the_code_request_is_the_authorization_code_grant_with_the_assertion() {
    let req = code_request(
        "https://acme.talkdeskid.com/oauth/token",
        &SecretString::new("jwt"),
        &SecretString::new("the-code"),
        "https://app.example.com/oauth/callback",
        &SecretString::new("verifier"),
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(req.body.expose().as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("grant_type"), Some("authorization_code"));
    assert_eq!(get("code"), Some("the-code"));
    assert_eq!(
        get("redirect_uri"),
        Some("https://app.example.com/oauth/callback")
    );
    assert_eq!(get("code_verifier"), Some("verifier"));
    assert_eq!(get("client_assertion_type"), Some(ASSERTION_TYPE));
    assert_eq!(get("client_assertion"), Some("jwt"));
    assert!(
        !format!("{req:?}").contains("the-code"),
        "the code never prints"
    );
}

fn response(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        body: body.to_string().into_bytes(),
    }
}

#[test]
fn a_code_answer_without_an_id_token_is_refused() {
    let answer = json!({"access_token": "t", "token_type": "Bearer", "expires_in": 60});
    assert!(matches!(
        parse_code_answer(&response(200, answer)),
        Err(TokenError::Permanent { .. })
    ));
    let answer =
        json!({"access_token": "t", "token_type": "Bearer", "expires_in": 60, "id_token": "x.y.z"});
    assert_eq!(
        parse_code_answer(&response(200, answer))
            .unwrap()
            .id_token
            .expose(),
        "x.y.z"
    );
    let refused = json!({"error": "invalid_grant", "error_description": "code used"});
    assert!(matches!(
        parse_code_answer(&response(400, refused)),
        Err(TokenError::Permanent { error, .. }) if error == "invalid_grant"
    ));
}

#[test]
fn users_me_names_the_user_and_matches_the_subject_by_id_or_sub() {
    let me = parse_me(&response(
        200,
        json!({"id": "u-1", "sub": "s-1", "name": "Ann", "email": "a@x"}),
    ))
    .unwrap();
    assert_eq!(me.name.as_deref(), Some("Ann"));
    assert!(me.is_subject("u-1") && me.is_subject("s-1") && !me.is_subject("u-2"));
    assert!(parse_me(&response(200, json!({"name": "no id"}))).is_err());
    assert_eq!(
        parse_me(&response(401, json!({}))).unwrap_err(),
        ApiError::Unauthorized
    );
}
