//! Reading the flat arrays the Lua scripts return.

use fred::types::Value;

use crate::domain::ids::UserId;
use crate::domain::time::Millis;

/// A script's answer, read front to back.
pub(super) struct Reply {
    values: Vec<Value>,
    cursor: usize,
}

/// A value as text (members, kinds); empty for nil.
pub(super) fn text(v: &Value) -> String {
    v.as_string().unwrap_or_default()
}

/// A value as an integer; accepts Redis integers and numeric strings such as ZSET scores.
pub(super) fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .or_else(|| text(v).parse::<f64>().ok().map(|f| f as i64))
        .unwrap_or(0)
}

static NIL: Value = Value::Null;

impl Reply {
    /// Wraps the raw values.
    pub(super) fn new(values: Vec<Value>) -> Self {
        Self { values, cursor: 0 }
    }

    /// The first value as text (the scripts' answer kind).
    pub(super) fn kind(&self) -> String {
        text(self.at(0))
    }

    /// The value at an absolute index, nil past the end.
    pub(super) fn at(&self, index: usize) -> &Value {
        self.values.get(index).unwrap_or(&NIL)
    }

    /// Moves the cursor forward.
    pub(super) fn skip(&mut self, n: usize) {
        self.cursor += n;
    }

    /// The value under the cursor, then advances.
    pub(super) fn next_value(&mut self) -> &Value {
        self.cursor += 1;
        self.at(self.cursor - 1)
    }

    /// A count followed by that many entry times.
    pub(super) fn times(&mut self) -> Vec<Millis> {
        let n = int(self.next_value()).max(0) as usize;
        (0..n).map(|_| int(self.next_value())).collect()
    }

    /// A count followed by that many user ids.
    pub(super) fn users(&mut self) -> Vec<UserId> {
        let n = int(self.next_value()).max(0) as usize;
        (0..n).map(|_| UserId(int(self.next_value()))).collect()
    }

    /// Everything after the cursor as (user, queue index) pairs, in order.
    pub(super) fn ranked(&mut self) -> Vec<(UserId, usize)> {
        let rest = &self.values[self.cursor.min(self.values.len())..];
        let pairs = rest
            .chunks_exact(2)
            .filter_map(|pair| {
                let user = text(&pair[0]).parse().ok()?;
                Some((UserId(user), int(&pair[1]).max(0) as usize))
            })
            .collect();
        self.cursor = self.values.len();
        pairs
    }

    /// Everything after the cursor, as text.
    pub(super) fn rest(&mut self) -> Vec<String> {
        let rest = self.values[self.cursor.min(self.values.len())..]
            .iter()
            .map(text)
            .collect();
        self.cursor = self.values.len();
        rest
    }
}
