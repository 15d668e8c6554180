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

/// A packet the server sent: redacted as [`packet`] does, but only parsed when the text names a
/// secret's key at all (a seat map or a position never does, and a rush sends thousands).
pub(crate) fn sent_packet(text: &str) -> String {
    let names_a_secret = SECRET_KEYS.iter().any(|key| {
        text.match_indices(key)
            .any(|(i, _)| quoted_at(text, i, key.len()))
    });
    if names_a_secret {
        packet(text)
    } else {
        text.to_string()
    }
}

/// Whether the `len` bytes at `i` of `text` are a whole JSON string (`"key"`).
fn quoted_at(text: &str, i: usize, len: usize) -> bool {
    i > 0 && text.as_bytes()[i - 1] == b'"' && text.as_bytes().get(i + len) == Some(&b'"')
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

    #[test]
    fn what_the_server_sent_is_redacted_when_it_names_a_secret_and_kept_as_is_otherwise() {
        let ack = r#"3/queue,1[{"ok":true,"resume":"r-123","token":"t"}]"#;
        assert_eq!(sent_packet(ack), packet(ack));
        assert!(!sent_packet(ack).contains("r-123"));
        // A key ending in a secret's name is no secret, nor is the word inside a value.
        let seats = r#"2/event-1,["seats",{"areaId":3,"tokenCount":2,"note":"resume at 5"}]"#;
        assert_eq!(sent_packet(seats), seats);
        assert_eq!(
            sent_packet(r#"2["x",{"access_token":"eyJ"}]"#),
            r#"2["x",{"access_token":"[redacted]"}]"#
        );
    }
}
