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

/// Properties as a type declares them, and which keys a spec wrote inside the type's
/// [`crate::Resource::PROPERTY_WRAPPER`] (empty when it used the flat form).
#[derive(Debug)]
pub struct Wrapped<T> {
    pub value: T,
    pub wrapped_keys: Vec<String>,
}

/// Parses properties that may come in the flat form or (when `wrapper` is set) wrapped as
/// `{wrapper: {...}}`, the form InfraKit specs use (`"CreateVpcInput": {"CidrBlock": ...}`).
/// Wrapped keys are lifted to the top level; an error inside names the wrapped path
/// (`CreateVpcInput.CidrBlock`).
pub fn parse_wrapped<T: DeserializeOwned>(json: &str, wrapper: Option<&str>) -> Result<Wrapped<T>> {
    let Some(wrapper) = wrapper else {
        return Ok(Wrapped {
            value: parse(json)?,
            wrapped_keys: Vec::new(),
        });
    };
    let mut value: serde_json::Value = parse(json)?;
    let mut wrapped_keys = Vec::new();
    if let Some(object) = value.as_object_mut()
        && let Some(inner) = object.remove(wrapper)
    {
        let serde_json::Value::Object(inner) = inner else {
            return Err(Error::invalid(wrapper, "must be an object"));
        };
        for (key, v) in inner {
            if object.contains_key(&key) {
                return Err(Error::invalid(
                    format!("{wrapper}.{key}"),
                    format!("{key} is set both inside {wrapper} and beside it"),
                ));
            }
            wrapped_keys.push(key.clone());
            object.insert(key, v);
        }
    }
    let value = serde_path_to_error::deserialize(&value).map_err(|err| {
        let path = err.path().to_string();
        let top = path.split(['.', '[']).next().unwrap_or_default();
        let field = match path.as_str() {
            "." => String::new(),
            _ if wrapped_keys.iter().any(|k| k == top) => format!("{wrapper}.{path}"),
            _ => path,
        };
        Error::invalid(field, err.into_inner().to_string())
    })?;
    Ok(Wrapped {
        value,
        wrapped_keys,
    })
}

/// Puts `keys` of the properties object `value` back inside `wrapper`: the inverse of
/// [`parse_wrapped`], so what a provider reads back has the shape the spec wrote.
pub fn rewrap(value: &mut serde_json::Value, wrapper: &str, keys: &[String]) {
    let Some(object) = value.as_object_mut() else {
        return;
    };
    let inner: serde_json::Map<String, serde_json::Value> = keys
        .iter()
        .filter_map(|k| object.remove(k).map(|v| (k.clone(), v)))
        .collect();
    object.insert(wrapper.to_string(), inner.into());
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
    fn wrapped_properties_are_lifted_and_errors_name_the_wrapped_path() {
        let flat = parse_wrapped::<Group>(r#"{"Name":"web","Rules":[]}"#, Some("In")).unwrap();
        assert!(flat.wrapped_keys.is_empty());
        let wrapped =
            parse_wrapped::<Group>(r#"{"In":{"Name":"web"},"Rules":[]}"#, Some("In")).unwrap();
        assert_eq!(wrapped.value.name, "web");
        assert_eq!(wrapped.wrapped_keys, ["Name"]);
        let err =
            parse_wrapped::<Group>(r#"{"In":{"Name":"w","Rules":[{"Port":"x"}]}}"#, Some("In"))
                .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("In.Rules[0].Port"));
        let err =
            parse_wrapped::<Group>(r#"{"In":{"Name":"w"},"Name":"v","Rules":[]}"#, Some("In"))
                .unwrap_err();
        assert_eq!(err.field.as_deref(), Some("In.Name"));
    }

    #[test]
    fn rewrap_restores_the_shape_the_spec_wrote() {
        let mut v = serde_json::json!({"Name": "web", "Rules": []});
        rewrap(&mut v, "In", &["Name".to_string()]);
        assert_eq!(v, serde_json::json!({"In": {"Name": "web"}, "Rules": []}));
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
