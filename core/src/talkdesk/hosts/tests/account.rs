use super::*;

#[test]
fn hostile_account_names_are_refused() {
    let long = "a".repeat(MAX_ACCOUNT_NAME_LEN + 1);
    for bad in [
        "",
        "acme.evil",
        "acme.talkdeskid.com",
        "acme/x",
        "a@b",
        "Acme",
        "ACME",
        "..",
        ".",
        "-acme",
        " acme",
        "acme ",
        "ac me",
        "acme\n",
        "a%2eb",
        "acme_co",
        "acme:443",
        "ácme",
        "xn--80ak6aa92e",
        &long,
    ] {
        assert!(AccountName::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn good_account_names_are_accepted() {
    let longest = "a".repeat(MAX_ACCOUNT_NAME_LEN);
    for good in ["acme", "a", "0", "123", "acme-2", "a--b", "acme-", &longest] {
        assert_eq!(AccountName::parse(good).unwrap().as_str(), good);
    }
}

#[test]
fn account_names_deserialize_only_when_valid() {
    let name: AccountName = serde_json::from_str("\"acme\"").unwrap();
    assert_eq!(name, acme());
    assert_eq!(serde_json::to_string(&name).unwrap(), "\"acme\"");
    assert!(serde_json::from_str::<AccountName>("\"evil.com\"").is_err());
}
