//! Account names: the one piece of an event that we put into a host name ourselves.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{HostError, MAX_ACCOUNT_NAME_LEN};

/// A Talkdesk account name, safe to put in a host name as one DNS label.
///
/// The contract's rule is `^[a-z0-9][a-z0-9-]*$` (§1), at most [`MAX_ACCOUNT_NAME_LEN`]
/// characters. We also refuse the `xn--` prefix: such a label is punycode, which the URL parser
/// decodes and validates, so it could name a look-alike host or fail to parse at all.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountName(String);

impl AccountName {
    pub fn parse(value: &str) -> Result<AccountName, HostError> {
        let why = if value.is_empty() {
            Some("is empty")
        } else if value.len() > MAX_ACCOUNT_NAME_LEN {
            Some("is longer than 63 characters")
        } else if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Some("may hold only lower-case letters, digits and '-'")
        } else if value.starts_with('-') {
            Some("must start with a lower-case letter or a digit")
        } else if value.starts_with("xn--") {
            Some("must not start with 'xn--' (punycode)")
        } else {
            None
        };
        match why {
            None => Ok(AccountName(value.to_owned())),
            Some(why) => Err(HostError::AccountName { why }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AccountName {
    type Error = HostError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        AccountName::parse(&value)
    }
}

impl From<AccountName> for String {
    fn from(name: AccountName) -> String {
        name.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
