//! What never reaches a recording: tokens, passwords, resume tokens and cookies. Values are
//! replaced by [`REDACTED`], so a file keeps its shape (the replay signs in again and puts its
//! own token in their place).

use serde_json::Value;

/// What a secret becomes.
pub(crate) const REDACTED: &str = "[redacted]";

/// JSON keys whose string values are secrets.
const SECRET_KEYS: &[&str] = &["password", "access_token", "token", "resume"];

/// Redacts every secret of a JSON value, at any depth.
pub(crate) fn json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) && v.is_string() {
                    *v = Value::String(REDACTED.into());
                } else {
                    json(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(json),
        _ => {}
    }
}

/// A body with its secrets redacted; a body that is not JSON is kept only if it is short
/// text (it cannot hold a field to redact, but it could hold a secret in another shape).
pub(crate) fn body(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(mut value) => {
            json(&mut value);
            value.to_string()
        }
        Err(_) if text.is_empty() => String::new(),
        Err(_) => REDACTED.to_string(),
    }
}

/// An `Authorization` value: the scheme stays, the credential goes (a logged-out `Bearer null`
/// stays as it is, it is no secret and the replay keeps it).
pub(crate) fn authorization(value: &str) -> String {
    match value.split_once(' ') {
        Some((_, "null")) => value.to_string(),
        Some((scheme, _)) => format!("{scheme} {REDACTED}"),
        None => REDACTED.to_string(),
    }
}

/// A Socket.IO packet's text (`0/queue,{"token":…}`, `2["check limit",2]`) with the secrets
/// of its JSON payload redacted; the prefix (type, namespace, ack id) is kept as it is.
pub(crate) fn packet(text: &str) -> String {
    let Some(start) = text.find(['[', '{']) else {
        return text.to_string();
    };
    let (prefix, payload) = text.split_at(start);
    format!("{prefix}{}", body(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_passwords_and_resume_tokens_are_redacted_at_any_depth() {
        let text =
            r#"{"data":{"access_token":"eyJ.x.y","user":{"id":1}},"password":"pw","resume":"r"}"#;
        let out = body(text);
        assert!(
            !out.contains("eyJ") && !out.contains("\"pw\"") && !out.contains("\"r\""),
            "{out}"
        );
        assert!(out.contains(r#""id":1"#));
        assert_eq!(authorization("Bearer eyJ.x.y"), "Bearer [redacted]");
        assert_eq!(authorization("Bearer null"), "Bearer null");
        assert_eq!(
            packet(r#"0/queue,{"token":"eyJ.x.y"}"#),
            r#"0/queue,{"token":"[redacted]"}"#
        );
        assert_eq!(packet(r#"2["check limit",2]"#), r#"2["check limit",2]"#);
        assert_eq!(body("not json with a secret"), REDACTED);
    }
}
