//! The integration's one configuration, `integration/integration.json`: what Talkdesk shows
//! (names, logo, authentication field), the interaction types, the actions and their inputs.
//! It is compiled in and checked by a unit test, so a broken file fails `make check`; the
//! manifest (`GET /integration/manifest`, `make manifest`) and the bridge's own checks are made
//! from it, so they cannot disagree.

use serde::Serialize;
use serde_json::Value;

use super::connector::ConnectorConfig;
use crate::json::Reader;

/// The file, as compiled in.
pub const INTEGRATION_JSON: &str = include_str!("../../../integration/integration.json");

/// The one authentication field the bridge reads from each request's `auth`.
pub const KEY_FIELD: &str = "integration_key";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntegrationConfig {
    pub name: String,
    pub display_name: String,
    pub description: String,
    pub logo_url: String,
    pub icon_url: String,
    pub authentication: Authentication,
    pub interaction_types: Vec<String>,
    /// Records per page of a sync (1 to 1,000).
    pub page_size: u32,
    /// Country calling code for phone numbers written without one (E.164 needs one).
    pub default_country_code: String,
    pub actions: Vec<Action>,
    /// How the partner's own REST backend is read, when the deployment uses it
    /// (`PARTNER_API_BASE_URL`): paths and field mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<ConnectorConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    #[serde(rename = "type")]
    pub kind: String,
    pub fields: Vec<AuthField>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthField {
    pub key: String,
    pub display: String,
    pub description: String,
    pub mandatory: bool,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub name: String,
    pub display: String,
    pub description: String,
    pub inputs: Vec<Input>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Input {
    pub key: String,
    pub name: String,
    pub mandatory: bool,
    /// `string` (one line), `text`, `number`, `boolean`, `date` (RFC 3339 date) or `choice`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

impl Action {
    fn read(r: &mut Reader, value: &Value, path: &str) -> Action {
        let a = r.object(value, path, &["name", "display", "description", "inputs"]);
        Action {
            name: r.text(&a, "name"),
            display: r.text(&a, "display"),
            description: r.text(&a, "description"),
            inputs: r.list(&a, "inputs", |r, v, path| {
                let known = ["key", "name", "mandatory", "type", "max_length", "choices"];
                let i = r.object(v, path, &known);
                Input {
                    key: r.text(&i, "key"),
                    name: r.text(&i, "name"),
                    mandatory: r.flag(&i, "mandatory"),
                    kind: r.text(&i, "type"),
                    max_length: r
                        .opt_number(&i, "max_length", u32::MAX.into())
                        .map(|n| n as usize),
                    choices: r.opt_list(&i, "choices", |r, v, path| r.as_text(v, path)),
                }
            }),
        }
    }
}

const INPUT_KINDS: &[&str] = &["string", "text", "number", "boolean", "date", "choice"];

fn is_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl IntegrationConfig {
    /// The compiled-in configuration. It is checked by a unit test, so this cannot fail in a
    /// build that passed `make check`.
    pub fn load() -> IntegrationConfig {
        IntegrationConfig::parse(INTEGRATION_JSON).expect("integration/integration.json is valid")
    }

    /// Parses and checks a configuration; the error names the field.
    pub fn parse(text: &str) -> Result<IntegrationConfig, String> {
        let value = crate::json::parse(text).map_err(|e| e.to_string())?;
        let mut r = Reader::new();
        let c = IntegrationConfig::read(&mut r, &value);
        let c = r.finish(c)?;
        c.check()?;
        Ok(c)
    }

    /// Reads the document's fields (the rules are [`crate::json`]'s); `check` comes after.
    fn read(r: &mut Reader, value: &Value) -> IntegrationConfig {
        let known = [
            "name",
            "display_name",
            "description",
            "logo_url",
            "icon_url",
            "authentication",
            "interaction_types",
            "page_size",
            "default_country_code",
            "actions",
            "connector",
        ];
        let o = r.object(value, "", &known);
        let auth = r.child(&o, "authentication", &["type", "fields"]);
        IntegrationConfig {
            name: r.text(&o, "name"),
            display_name: r.text(&o, "display_name"),
            description: r.text(&o, "description"),
            logo_url: r.text(&o, "logo_url"),
            icon_url: r.text(&o, "icon_url"),
            authentication: Authentication {
                kind: r.text(&auth, "type"),
                fields: r.list(&auth, "fields", |r, v, path| {
                    let known = ["key", "display", "description", "mandatory", "type"];
                    let f = r.object(v, path, &known);
                    AuthField {
                        key: r.text(&f, "key"),
                        display: r.text(&f, "display"),
                        description: r.text(&f, "description"),
                        mandatory: r.flag(&f, "mandatory"),
                        kind: r.text(&f, "type"),
                    }
                }),
            },
            interaction_types: r.list(&o, "interaction_types", |r, v, path| r.as_text(v, path)),
            page_size: r.number(&o, "page_size", u32::MAX.into()) as u32,
            default_country_code: r.text(&o, "default_country_code"),
            actions: r.list(&o, "actions", Action::read),
            connector: r.opt_with(&o, "connector", ConnectorConfig::read),
        }
    }

    fn check(&self) -> Result<(), String> {
        if !is_name(&self.name) {
            return Err("name: 1 to 64 of [a-z0-9_]".into());
        }
        for (field, url) in [("logo_url", &self.logo_url), ("icon_url", &self.icon_url)] {
            if !url.starts_with("https://") {
                return Err(format!("{field}: must be an https URL"));
            }
        }
        let a = &self.authentication;
        if a.kind != "custom" || a.fields.len() != 1 || a.fields[0].key != KEY_FIELD {
            return Err(format!(
                "authentication: must be type custom with the one field {KEY_FIELD}"
            ));
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err("page_size: 1 to 1000".into());
        }
        if !(1..=3).contains(&self.default_country_code.len())
            || !self
                .default_country_code
                .bytes()
                .all(|b| b.is_ascii_digit())
        {
            return Err("default_country_code: 1 to 3 digits".into());
        }
        if self.interaction_types.is_empty() || !self.interaction_types.iter().all(|t| is_name(t)) {
            return Err("interaction_types: names of [a-z0-9_]".into());
        }
        if let Some(connector) = &self.connector {
            connector.check()?;
        }
        // Uniqueness by looking back over the few before: a hash set would bring hashing and
        // its random keys into the wasm for a list of a handful.
        for (i, action) in self.actions.iter().enumerate() {
            if !is_name(&action.name) || self.actions[..i].iter().any(|a| a.name == action.name) {
                return Err(format!(
                    "actions.{}: name must be unique [a-z0-9_]",
                    action.name
                ));
            }
            for (j, input) in action.inputs.iter().enumerate() {
                let at = format!("actions.{}.inputs.{}", action.name, input.key);
                let repeated = action.inputs[..j].iter().any(|k| k.key == input.key);
                if !is_name(&input.key) || repeated {
                    return Err(format!("{at}: key must be unique [a-z0-9_]"));
                }
                if !INPUT_KINDS.contains(&input.kind.as_str()) {
                    return Err(format!(
                        "{at}: type must be one of {}",
                        crate::json::quoted_list(INPUT_KINDS)
                    ));
                }
                if (input.kind == "choice") == input.choices.is_empty() {
                    return Err(format!(
                        "{at}: choices go with type choice, and only with it"
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn action(&self, name: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repositorys_configuration_is_valid() {
        let c = IntegrationConfig::load();
        assert_eq!(c.authentication.fields[0].key, KEY_FIELD);
        assert!(c.action("create_note").is_some());
    }

    #[test]
    fn a_broken_configuration_names_its_field() {
        let mut v: serde_json::Value = serde_json::from_str(INTEGRATION_JSON).unwrap();
        v["page_size"] = 5000.into();
        assert_eq!(
            IntegrationConfig::parse(&v.to_string()).unwrap_err(),
            "page_size: 1 to 1000"
        );
        let mut v: serde_json::Value = serde_json::from_str(INTEGRATION_JSON).unwrap();
        v["actions"][0]["inputs"][0]["type"] = "color".into();
        assert!(IntegrationConfig::parse(&v.to_string())
            .unwrap_err()
            .starts_with("actions.create_note.inputs.subject: type"));
        let mut v: serde_json::Value = serde_json::from_str(INTEGRATION_JSON).unwrap();
        v["surprise"] = 1.into();
        assert!(IntegrationConfig::parse(&v.to_string()).is_err());
    }

    #[test]
    fn an_action_name_or_an_input_key_given_twice_is_refused() {
        let mut v: serde_json::Value = serde_json::from_str(INTEGRATION_JSON).unwrap();
        let first = v["actions"][0].clone();
        v["actions"].as_array_mut().unwrap().push(first);
        let err = IntegrationConfig::parse(&v.to_string()).unwrap_err();
        assert_eq!(err, "actions.create_note: name must be unique [a-z0-9_]");
        let mut v: serde_json::Value = serde_json::from_str(INTEGRATION_JSON).unwrap();
        let input = v["actions"][0]["inputs"][0].clone();
        v["actions"][0]["inputs"]
            .as_array_mut()
            .unwrap()
            .push(input);
        let err = IntegrationConfig::parse(&v.to_string()).unwrap_err();
        assert_eq!(
            err,
            "actions.create_note.inputs.subject: key must be unique [a-z0-9_]"
        );
    }
}
