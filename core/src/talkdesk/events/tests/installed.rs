//! `app.installed` and `app.credentials_rotated`: the account name and the credential set.

use super::*;

use crate::crypto::keys::{KeyError, PrivateKey};

/// The two events that carry a full credential set.
fn with_credentials() -> [Value; 2] {
    [installed(), rotated()]
}

#[test]
fn a_valid_app_installed_parses_every_field() {
    let event = accepted(&installed());
    let EventData::Installed {
        installation_id,
        account_id,
        account_name,
        credentials,
    } = event.data
    else {
        panic!("not Installed: {:?}", event.data)
    };
    assert_eq!(installation_id, "inst-1");
    assert_eq!(account_id, "acc-1");
    assert_eq!(account_name.as_str(), "acme");
    assert_eq!(credentials.client_id, "client-1");
    assert_eq!(credentials.client_secret.expose(), "s3cret-value");
    assert_eq!(credentials.key_id, "key-1");
    let expected = PrivateKey::import(KeyAlgorithm::ES256, &key_text(KeyAlgorithm::ES256));
    assert_eq!(Ok(credentials.private_key), expected);
}

#[test]
fn a_valid_app_credentials_rotated_parses_its_new_set() {
    let event = accepted(&rotated());
    let EventData::CredentialsRotated {
        installation_id,
        account_id,
        credentials,
    } = event.data
    else {
        panic!("not CredentialsRotated: {:?}", event.data)
    };
    assert_eq!(
        (installation_id.as_str(), account_id.as_str()),
        ("inst-1", "acc-1")
    );
    assert_eq!(credentials.client_id, "client-2");
    assert_eq!(credentials.client_secret.expose(), "n3w-secret");
    assert_eq!(credentials.key_id, "key-2");
    assert_eq!(credentials.private_key.algorithm(), KeyAlgorithm::ES384);
}

#[test]
fn a_rotation_needs_no_account_name() {
    // The account is known from the installation; a rotation does not repeat its name.
    let event = set(&rotated(), "/data/account_name", json!("Not A Valid Name!"));
    accepted(&event);
}

#[test]
fn every_key_algorithm_is_accepted_with_a_key_of_its_kind() {
    for alg in KeyAlgorithm::ALL {
        for event in with_credentials() {
            let event = set(&event, "/data/key_algorithm", json!(alg.as_str()));
            let event = set(&event, "/data/private_key", json!(key_text(alg)));
            let (EventData::Installed { credentials, .. }
            | EventData::CredentialsRotated { credentials, .. }) = accepted(&event).data
            else {
                panic!("{alg}: no credentials")
            };
            assert_eq!(credentials.private_key.algorithm(), alg);
        }
    }
}

#[test]
fn a_missing_or_null_account_name_is_refused_naming_data_account_name() {
    let path = "data.account_name";
    assert_refused(
        &without(&installed(), "/data/account_name"),
        path,
        "is missing",
    );
    let event = set(&installed(), "/data/account_name", Value::Null);
    assert_refused(&event, path, "is missing");
}

#[test]
fn an_account_name_of_another_json_type_is_refused_naming_data_account_name() {
    for bad in [
        json!(1),
        json!(false),
        json!(["acme"]),
        json!({ "name": "acme" }),
    ] {
        let event = set(&installed(), "/data/account_name", bad);
        assert_refused(&event, "data.account_name", "must be a string");
    }
}

#[test]
fn an_account_name_that_is_not_one_dns_label_is_refused_naming_data_account_name() {
    // The problem is the host rules' own wording (`HostError::AccountName`).
    for (bad, problem) in [
        ("", "the account name is empty"),
        (
            &"a".repeat(64),
            "the account name is longer than 63 characters",
        ),
        (
            "acme.evil",
            "the account name may hold only lower-case letters, digits and '-'",
        ),
        (
            "Acme",
            "the account name may hold only lower-case letters, digits and '-'",
        ),
        (
            "acme\n",
            "the account name may hold only lower-case letters, digits and '-'",
        ),
        (
            "-acme",
            "the account name must start with a lower-case letter or a digit",
        ),
        (
            "xn--80ak6aa92e",
            "the account name must not start with 'xn--' (punycode)",
        ),
    ] {
        let event = set(&installed(), "/data/account_name", json!(bad));
        assert_refused(&event, "data.account_name", problem);
    }
    let longest = "a".repeat(63);
    accepted(&set(&installed(), "/data/account_name", json!(longest)));
}

#[test]
fn data_client_id_is_an_identifier_in_both_credential_events() {
    for event in with_credentials() {
        assert_identifier(&event, "/data/client_id", "data.client_id");
    }
}

#[test]
fn data_key_id_is_an_identifier_in_both_credential_events() {
    for event in with_credentials() {
        assert_identifier(&event, "/data/key_id", "data.key_id");
    }
}

#[test]
fn data_client_secret_is_required_text_of_at_most_1024_characters() {
    for event in with_credentials() {
        assert_required_text(&event, "/data/client_secret", "data.client_secret", 1024);
    }
}

#[test]
fn a_missing_or_null_key_algorithm_is_refused_naming_data_key_algorithm() {
    for event in with_credentials() {
        let path = "data.key_algorithm";
        assert_refused(&without(&event, "/data/key_algorithm"), path, "is missing");
        let event = set(&event, "/data/key_algorithm", Value::Null);
        assert_refused(&event, path, "is missing");
    }
}

#[test]
fn a_key_algorithm_of_another_json_type_is_refused_naming_data_key_algorithm() {
    for bad in [json!(256), json!(true), json!(["ES256"]), json!({})] {
        for event in with_credentials() {
            let event = set(&event, "/data/key_algorithm", bad.clone());
            assert_refused(&event, "data.key_algorithm", "must be a string");
        }
    }
}

#[test]
fn a_key_algorithm_outside_the_six_is_refused_naming_data_key_algorithm() {
    // Exact JOSE names only: a near miss must not pick some other algorithm.
    let problem = "must be one of ES256 ES384 ES512 PS256 PS384 PS512";
    for bad in [
        "", "es256", "ES256 ", "RS256", "HS256", "none", "EdDSA", "ES256K",
    ] {
        for event in with_credentials() {
            let event = set(&event, "/data/key_algorithm", json!(bad));
            assert_refused(&event, "data.key_algorithm", problem);
        }
    }
}

#[test]
fn a_missing_or_null_private_key_is_refused_naming_data_private_key() {
    for event in with_credentials() {
        let path = "data.private_key";
        assert_refused(&without(&event, "/data/private_key"), path, "is missing");
        assert_refused(
            &set(&event, "/data/private_key", Value::Null),
            path,
            "is missing",
        );
    }
}

#[test]
fn a_private_key_of_another_json_type_is_refused_naming_data_private_key() {
    for bad in [json!(1), json!(true), json!(["k"]), json!({ "pem": "k" })] {
        for event in with_credentials() {
            let event = set(&event, "/data/private_key", bad.clone());
            assert_refused(&event, "data.private_key", "must be a string");
        }
    }
}

#[test]
fn a_private_key_that_is_not_pkcs8_is_refused_naming_data_private_key() {
    let problem = KeyError::Unparsable.to_string();
    let too_long = "A".repeat(crate::crypto::keys::MAX_KEY_TEXT + 4);
    for bad in ["", "not base64!", "AAAA", too_long.as_str()] {
        for event in with_credentials() {
            let event = set(&event, "/data/private_key", json!(bad));
            assert_refused(&event, "data.private_key", &problem);
        }
    }
}

#[test]
fn a_private_key_that_does_not_fit_key_algorithm_is_refused_naming_data_private_key() {
    for (declared, key_of) in [
        (KeyAlgorithm::ES256, KeyAlgorithm::ES384),
        (KeyAlgorithm::ES512, KeyAlgorithm::ES256),
        (KeyAlgorithm::PS256, KeyAlgorithm::ES256),
        (KeyAlgorithm::ES256, KeyAlgorithm::PS256),
    ] {
        let event = set(
            &installed(),
            "/data/key_algorithm",
            json!(declared.as_str()),
        );
        let event = set(&event, "/data/private_key", json!(key_text(key_of)));
        let e = refused(&event);
        assert_eq!(e.path, "data.private_key");
        assert!(
            e.problem.contains("does not match key_algorithm"),
            "{declared} with a {key_of} key: {e}"
        );
    }
}

#[test]
fn refusals_of_credentials_never_repeat_the_secret_or_the_key() {
    let secret = "hunter2-very-secret";
    let cases = [
        set(
            &installed(),
            "/data/client_secret",
            json!(format!("{secret}\u{7}")),
        ),
        set(
            &installed(),
            "/data/client_secret",
            json!(secret.repeat(60)),
        ),
        set(
            &installed(),
            "/data/private_key",
            json!(format!("{secret}==")),
        ),
        set(&installed(), "/data/key_algorithm", json!("PS512")),
    ];
    let key = key_text(KeyAlgorithm::ES256);
    for event in cases {
        let shown = format!("{} {:?}", refused(&event), refused(&event));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(&key[..24]), "{shown}");
    }
}

#[test]
fn a_parsed_credential_set_prints_no_secret() {
    let shown = format!("{:?}", accepted(&installed()));
    assert!(!shown.contains("s3cret-value"), "{shown}");
    assert!(
        !shown.contains(&key_text(KeyAlgorithm::ES256)[..24]),
        "{shown}"
    );
}
