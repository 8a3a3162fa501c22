//! JSON in and out of the SPI, with errors that name the property at fault.

use crate::error::{Error, Result};
use schemars::JsonSchema;
use serde::{Serialize, de::DeserializeOwned};

/// Parses `json` into `T`; a failure names the path of the offending property.
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { String::new() } else { path };
        let mut message = err.into_inner().to_string();
        // The engine wrote the JSON, so serde's line and column mean nothing to a user.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        Error::invalid(field, message)
    })
}

/// Serialises `value` to JSON text.
pub fn render<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|err| Error::other(format!("serialising: {err}")))
}

/// The JSON Schema of `T`, as JSON text.
pub fn schema<T: JsonSchema>() -> String {
    schemars::schema_for!(T).as_value().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Rule {
        port: u16,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Group {
        name: String,
        rules: Vec<Rule>,
    }

    #[test]
    fn parse_error_names_the_nested_field() {
        let err =
            parse::<Group>(r#"{"Name":"web","Rules":[{"Port":80},{"Port":"x"}]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("Rules[1].Port"));
        assert!(err.message.contains("invalid type"), "{}", err.message);
    }

    #[test]
    fn parse_error_names_an_unknown_field() {
        let err = parse::<Group>(r#"{"Name":"web","Rules":[],"Nmae":1}"#).unwrap_err();
        assert!(
            err.message.contains("unknown field `Nmae`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn missing_field_is_reported_at_the_root() {
        let err = parse::<Group>(r#"{"Rules":[]}"#).unwrap_err();
        assert_eq!(err.field.as_deref(), Some(""));
        assert!(
            err.message.contains("missing field `Name`"),
            "{}",
            err.message
        );
    }
}
