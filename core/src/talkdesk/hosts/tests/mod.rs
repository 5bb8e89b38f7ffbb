//! The tests of the host rules, one file per concept; the helpers they share are here.

use super::*;

mod account;
mod allowlist;
mod endpoints;
mod error;
mod region;
mod url;

fn extra(host: &str, port: PortRule) -> ExtraHost {
    ExtraHost {
        host: host.into(),
        port,
    }
}

/// The allowlist of a development setup: the simulator on loopback, plus one https test host.
fn dev_allowlist() -> Allowlist {
    Allowlist::new(&[
        extra("127.0.0.1", PortRule::Exact(8790)),
        extra("localhost", PortRule::Exact(8790)),
        extra("[::1]", PortRule::Any),
        extra("td.example.test", PortRule::Default),
    ])
}

fn acme() -> AccountName {
    AccountName::parse("acme").unwrap()
}
