use super::*;

#[test]
fn errors_echo_at_most_a_hundred_characters_of_the_input() {
    let host = format!("{}.example", "x".repeat(300));
    let e = Allowlist::default()
        .check(&format!("https://{host}/"))
        .unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains(&"x".repeat(MAX_ECHO)));
    assert!(!shown.contains(&"x".repeat(MAX_ECHO + 1)), "{shown}");
    let e = Allowlist::default()
        .check(&format!("{}://h/", "s".repeat(500)))
        .unwrap_err();
    assert!(!e.to_string().contains(&"s".repeat(MAX_ECHO + 1)));
    let e = Allowlist::default().check(&"y".repeat(5000)).unwrap_err();
    assert!(!e.to_string().contains("yy"));
}

#[test]
fn errors_escape_control_characters_they_echo() {
    let e = Region::Us
        .token_url(&acme())
        .join_path(&["a\nb"])
        .unwrap_err();
    assert!(!e.to_string().contains('\n'), "{e}");
}
