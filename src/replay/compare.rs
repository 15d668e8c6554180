//! Comparing a recorded answer with the one the target gave, under the normalisation rules of
//! docs/har.md, and the id map learned on the way (recorded value → live value).
//!
//! - **identity** fields (`access_token`, `sid`, `resume`, `orderId`, `email`, `name`, a
//!   `user`'s `id`): only the JSON type must agree; a string pair is learned into the [`IdMap`]
//!   so later requests carry the live value;
//! - **time** fields (`serverNow`, `endsAt`, `windowEndsAt`, `opensAt`, `createdAt`, `time`,
//!   `onSale`, `iat`, `exp`): only the JSON type must agree (a time or `null`);
//! - **wait** fields (`seconds`, `low`, `high`): numbers within the tolerance; a negative
//!   recorded value (the original's meaningless `seconds` of a visitor let straight in) only
//!   needs a negative answer;
//! - everything else must be equal, objects key by key, arrays element by element.

use serde_json::Value;

/// Recorded values seen to differ on the target, applied to what the replay sends.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdMap {
    pairs: Vec<(String, String)>,
}

/// Strings shorter than this are never substituted: a short value (`"2"`, `"ok"`) would be
/// replaced inside unrelated text.
const SHORTEST_MAPPED: usize = 8;

impl IdMap {
    /// Remembers that `recorded` is `live` on the target.
    pub(crate) fn learn(&mut self, recorded: &str, live: &str) {
        // A redacted value stands for whatever the target answers; it is never sent back.
        if recorded == live || recorded.len() < SHORTEST_MAPPED || recorded == "[redacted]" {
            return;
        }
        if let Some(pair) = self.pairs.iter_mut().find(|(r, _)| r == recorded) {
            pair.1 = live.to_string();
        } else {
            self.pairs.push((recorded.to_string(), live.to_string()));
        }
    }

    /// `text` with every learned recorded value replaced by its live value.
    pub(crate) fn apply(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (recorded, live) in &self.pairs {
            if out.contains(recorded.as_str()) {
                out = out.replace(recorded.as_str(), live);
            }
        }
        out
    }
}

/// How far a wait in seconds may drift from the recording.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tolerance {
    /// Absolute seconds.
    pub seconds: f64,
}

const IDENTITY: &[&str] = &["access_token", "sid", "resume", "orderId", "email", "name"];
const TIMES: &[&str] = &[
    "serverNow",
    "endsAt",
    "windowEndsAt",
    "opensAt",
    "createdAt",
    "time",
    "onSale",
    "iat",
    "exp",
];
const WAITS: &[&str] = &["seconds", "low", "high"];

/// Compares `expected` with `received`; returns one line per difference (`path: recorded X,
/// received Y`), learning ids into `ids`.
pub(crate) fn compare(
    expected: &Value,
    received: &Value,
    tolerance: Tolerance,
    ids: &mut IdMap,
) -> Vec<String> {
    let mut out = Vec::new();
    walk(expected, received, "$", None, tolerance, ids, &mut out);
    out
}

fn same_type(a: &Value, b: &Value) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn walk(
    expected: &Value,
    received: &Value,
    path: &str,
    parent: Option<&str>,
    tolerance: Tolerance,
    ids: &mut IdMap,
    out: &mut Vec<String>,
) {
    let key = path.rsplit('.').next().unwrap_or_default();
    let differ = |out: &mut Vec<String>| {
        out.push(format!("{path}: recorded {expected}, received {received}"));
    };
    let identity = IDENTITY.contains(&key) || (key == "id" && parent == Some("user"));
    if identity || TIMES.contains(&key) {
        if !same_type(expected, received) {
            differ(out);
        } else if let (true, Value::String(e), Value::String(r)) = (identity, expected, received) {
            ids.learn(e, r);
        }
        return;
    }
    if WAITS.contains(&key)
        && let (Some(e), Some(r)) = (expected.as_f64(), received.as_f64())
    {
        let close = if e < 0.0 {
            r < 0.0
        } else {
            (e - r).abs() <= tolerance.seconds
        };
        if !close {
            differ(out);
        }
        return;
    }
    match (expected, received) {
        (Value::Object(e), Value::Object(r)) => {
            for (name, value) in e {
                let child = format!("{path}.{name}");
                match r.get(name) {
                    Some(got) => walk(value, got, &child, Some(key), tolerance, ids, out),
                    None => out.push(format!("{child}: recorded {value}, missing")),
                }
            }
            for (name, value) in r {
                if !e.contains_key(name) {
                    out.push(format!("{path}.{name}: not recorded, received {value}"));
                }
            }
        }
        (Value::Array(e), Value::Array(r)) if e.len() == r.len() => {
            for (i, (a, b)) in e.iter().zip(r).enumerate() {
                walk(a, b, &format!("{path}[{i}]"), parent, tolerance, ids, out);
            }
        }
        _ if expected == received => {}
        _ => differ(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOLERANCE: Tolerance = Tolerance { seconds: 5.0 };

    #[test]
    fn ids_and_times_compare_by_type_and_are_learned() {
        let mut ids = IdMap::default();
        let recorded = json!({"data": {"access_token": "aaaaaaaaaa", "user": {"id": 7, "name": "A"}},
                              "windowEndsAt": 1000, "ok": true});
        let live = json!({"data": {"access_token": "bbbbbbbbbb", "user": {"id": 91, "name": "B"}},
                          "windowEndsAt": 99999, "ok": true});
        assert!(compare(&recorded, &live, TOLERANCE, &mut ids).is_empty());
        assert_eq!(ids.apply(r#"{"t":"aaaaaaaaaa"}"#), r#"{"t":"bbbbbbbbbb"}"#);
        let differ = compare(
            &json!({"windowEndsAt": 1}),
            &json!({"windowEndsAt": null}),
            TOLERANCE,
            &mut ids,
        );
        assert_eq!(differ, ["$.windowEndsAt: recorded 1, received null"]);
    }

    #[test]
    fn waits_compare_within_the_tolerance_and_other_numbers_exactly() {
        let mut ids = IdMap::default();
        let recorded = json!({"pass": false, "waitPeople": 2, "seconds": 610});
        let close = json!({"pass": false, "waitPeople": 2, "seconds": 607});
        assert!(compare(&recorded, &close, TOLERANCE, &mut ids).is_empty());
        let other = json!({"pass": true, "waitPeople": 0, "seconds": -1765000000});
        assert_eq!(
            compare(&recorded, &other, TOLERANCE, &mut ids),
            [
                "$.pass: recorded false, received true",
                "$.waitPeople: recorded 2, received 0",
                "$.seconds: recorded 610, received -1765000000",
            ]
        );
        let passed = json!({"pass": true, "seconds": -1765000000});
        let passed_later = json!({"pass": true, "seconds": -1765009999});
        assert!(compare(&passed, &passed_later, TOLERANCE, &mut ids).is_empty());
    }

    #[test]
    fn missing_and_extra_fields_and_array_lengths_differ() {
        let mut ids = IdMap::default();
        let differ = compare(
            &json!({"a": 1, "seats": [1, 2]}),
            &json!({"b": 1, "seats": [1]}),
            TOLERANCE,
            &mut ids,
        );
        assert_eq!(differ.len(), 3, "{differ:?}");
    }

    #[test]
    fn short_values_are_never_substituted() {
        let mut ids = IdMap::default();
        ids.learn("12", "13");
        assert_eq!(ids.apply("[12]"), "[12]");
    }
}
