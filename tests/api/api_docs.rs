//! The API documents for app developers (issue 11, item 7): `docs/openapi.yaml` (HTTP) and
//! `docs/asyncapi.yaml` (the Socket.IO namespaces). They are validated with official parsers
//! (`tests/docs-lint`), and checked against the code both ways, so neither can drift: every
//! route the server defines is documented and every documented path is served; every event
//! name the server handles or sends is a documented message and every documented message
//! name is one the server uses.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::js_flows::npm_ci_once;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).expect("source folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found
}

/// The string literal right after each `marker` in `text`.
fn literals_after(text: &str, marker: &str) -> Vec<String> {
    text.match_indices(marker)
        .filter_map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            rest.split('"').next().map(str::to_owned)
        })
        .collect()
}

/// `(METHOD, path)` of every route in the HTTP adapter and the Socket.IO mount, with axum's
/// `{*rest}` written as OpenAPI's `{rest}`.
fn routes_in_code() -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut files = sources(&root().join("src/http"));
    files.push(root().join("src/app.rs"));
    for file in files {
        let text = read(&file);
        for (at, _) in text.match_indices(".route(\"") {
            let rest = &text[at + 8..];
            let Some((path, after)) = rest.split_once('"') else {
                continue;
            };
            let call = after.split(')').next().unwrap_or_default();
            let mut methods: Vec<&str> = ["get(", "post(", "put(", "delete("]
                .into_iter()
                .filter(|m| call.contains(m))
                .collect();
            if path == "/socket.io/" {
                methods = vec!["get(", "post("];
            }
            for m in methods {
                let path = path.replace("{*", "{");
                routes.insert((m.trim_end_matches('(').to_owned(), path));
            }
        }
    }
    routes
}

/// `(method, path)` of every operation in the OpenAPI document.
fn routes_in_openapi(doc: &str) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    let mut path = None;
    let in_paths = doc.split_once("\npaths:\n").expect("a paths section").1;
    for line in in_paths.lines() {
        if let Some(p) = line.strip_prefix("  /") {
            path = Some(format!("/{}", p.trim_end_matches(':')));
        } else if let (Some(p), Some(m)) = (&path, line.strip_prefix("    ")) {
            let m = m.trim_end_matches(':');
            if ["get", "post", "put", "delete"].contains(&m) {
                routes.insert((m.to_owned(), p.clone()));
            }
        }
    }
    routes
}

/// Every event name the realtime adapter handles or sends.
fn events_in_code() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in sources(&root().join("src/realtime")) {
        let text = read(&file);
        names.extend(literals_after(&text, ".on(\""));
        names.extend(literals_after(&text, "emit(\""));
        names.extend(literals_after(&text, "WINDOW_EXPIRED: &str = \""));
        // Pushes sent through a helper name their event in a constant.
        names.extend(literals_after(&text, "_EVENT: &str = \""));
    }
    names.retain(|n| n != "disconnect");
    names
}

/// Every message `name:` in the AsyncAPI document, but the acks (and the license's name).
fn events_in_asyncapi(doc: &str) -> BTreeSet<String> {
    doc.match_indices("name: ")
        // A key of its own (not `pathname:`).
        .filter(|(at, _)| !doc[..*at].ends_with(|c: char| c.is_ascii_alphabetic()))
        .map(|(at, _)| {
            let rest = &doc[at + "name: ".len()..];
            let value = rest.split([',', '}', '\n']).next().unwrap_or_default();
            value.trim().trim_matches('"').to_owned()
        })
        .filter(|n| n != "ack" && n != "MIT")
        .collect()
}

/// Every string literal in the realtime adapter (documented names must be among them).
fn literals_in_realtime() -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    for file in sources(&root().join("src/realtime")) {
        let text = read(&file);
        for (i, part) in text.split('"').enumerate() {
            if i % 2 == 1 {
                all.insert(part.to_owned());
            }
        }
    }
    all
}

#[test]
fn every_route_is_documented_and_every_documented_route_is_served() {
    let doc = read(&root().join("docs/openapi.yaml"));
    let (code, documented) = (routes_in_code(), routes_in_openapi(&doc));
    assert!(code.len() >= 15, "the scan found the routes: {code:?}");
    let missing: Vec<_> = code.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&code).collect();
    assert!(
        missing.is_empty(),
        "routes missing from docs/openapi.yaml: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "docs/openapi.yaml documents routes the server lacks: {stale:?}"
    );
}

#[test]
fn every_event_is_documented_and_every_documented_event_is_used() {
    let doc = read(&root().join("docs/asyncapi.yaml"));
    let (code, documented) = (events_in_code(), events_in_asyncapi(&doc));
    for name in [
        "join",
        "watch",
        "check limit",
        "position",
        "seats",
        "window expired",
    ] {
        assert!(code.contains(name), "the scan found {name:?}: {code:?}");
    }
    let missing: Vec<_> = code.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "events missing from docs/asyncapi.yaml: {missing:?}"
    );
    let used = literals_in_realtime();
    let stale: Vec<_> = documented.iter().filter(|n| !used.contains(*n)).collect();
    assert!(
        stale.is_empty(),
        "docs/asyncapi.yaml names events the server never uses: {stale:?}"
    );
}

#[test]
fn both_documents_pass_the_official_validators() {
    let dir = root().join("tests/docs-lint");
    npm_ci_once(&dir);
    let output = std::process::Command::new("node")
        .arg(dir.join("lint.mjs"))
        .output()
        .expect("node runs (Node 20 is required)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("PASSED 2 checks"),
        "the API documents are not valid:\n{text}"
    );
}
