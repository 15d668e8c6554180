//! JavaScript value semantics for the legacy protocol: the original server read request bodies
//! and socket payloads with JavaScript's notions of truthiness and of how a value prints. The
//! legacy HTTP routes and the legacy Socket.IO namespace share these, so they live here, beside
//! neither.

use serde_json::Value;

/// JavaScript truthiness: `null`, `false`, `0`, `""` (and absence) are falsy.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// A positive integer id given as a number or a string of digits; anything else is no id.
pub(crate) fn id_of(v: &Value) -> Option<i64> {
    let id = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (id > 0).then_some(id)
}

/// A text field, `None` unless it is a string.
pub(crate) fn text_of(v: &Value) -> Option<&str> {
    v.as_str()
}

/// How JavaScript prints a value inside a template string (`${value}`), for messages that echo
/// what the client sent.
pub(crate) fn js_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(js_text).collect::<Vec<_>>().join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn truthiness_follows_javascript() {
        for falsy in [json!(null), json!(false), json!(0), json!(""), json!(0.0)] {
            assert!(!truthy(&falsy), "{falsy} should be falsy");
        }
        for t in [json!("0"), json!([]), json!({}), json!(-1), json!(true)] {
            assert!(truthy(&t), "{t} should be truthy");
        }
    }

    #[test]
    fn ids_come_from_numbers_or_digit_strings_only() {
        assert_eq!(id_of(&json!(2)), Some(2));
        assert_eq!(id_of(&json!("2")), Some(2));
        assert_eq!(id_of(&json!(2.0)), Some(2));
        assert_eq!(id_of(&json!(2.5)), None);
        assert_eq!(id_of(&json!("2abc")), None);
        assert_eq!(id_of(&json!(-3)), None);
        assert_eq!(id_of(&json!([2])), None);
    }
}
