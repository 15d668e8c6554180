//! The README is a newcomer's only document: its route table and socket-event table must name
//! what the server really serves, in both directions.

use std::path::Path;

use reqwest::{Method, StatusCode};

use crate::helpers::spawn_app_with;

fn repo_file(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The README's "API at a glance" section.
fn api_section() -> String {
    let readme = repo_file("README.md");
    let start = readme
        .find("## API at a glance")
        .expect("README has an `API at a glance` section");
    let rest = &readme[start + 3..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i);
    rest[..end].to_string()
}

/// Every `` `METHOD /path` `` in the first cell of the section's table rows.
fn documented_routes() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for row in api_section().lines().filter(|l| l.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).unwrap_or_default();
        for quoted in first_cell.split('`').skip(1).step_by(2) {
            if let Some((method, path)) = quoted.split_once(' ')
                && ["GET", "POST"].contains(&method)
                && !path.contains('…')
            {
                routes.push((method.to_string(), path.to_string()));
            }
        }
    }
    routes
}

/// Every `.route("/path", method(` of the HTTP adapter.
fn served_routes() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src/http") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).unwrap_or_default();
        for call in text.split(".route(\"").skip(1) {
            let Some((path, rest)) = call.split_once('"') else {
                continue;
            };
            let method = rest
                .trim_start_matches([',', ' '])
                .split('(')
                .next()
                .unwrap_or_default()
                .to_uppercase();
            routes.push((method, path.to_string()));
        }
    }
    routes
}

#[test]
fn every_route_the_server_serves_is_in_the_readme() {
    let documented = api_section();
    for (method, path) in served_routes() {
        // `/demo/{*path}` is listed as `/demo/…`.
        let shown = path.replace("{*path}", "…");
        let named = documented.contains(&format!("`{method} {shown}`"))
            || documented.contains(&format!(
                "`{method} {}",
                shown.replace("{session}", "{sessionId}")
            ))
            || documented.contains(&format!(
                "`{method} {}",
                shown.replace("{id}", "{sessionId}")
            ));
        assert!(named, "README's API section lacks `{method} {path}`");
    }
}

#[tokio::test]
async fn every_route_in_the_readme_is_served() {
    let app = spawn_app_with(|s| s.admin_token = Some("readme-check".into())).await;
    let routes = documented_routes();
    assert!(routes.len() >= 15, "too few routes parsed: {routes:?}");
    for (method, path) in routes {
        let concrete = path
            .replace("{id}", "1")
            .replace("{sessionId}", "1")
            .replace("{file}", "1.png");
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        let reply = app.call(method.clone(), &concrete, None, None).await;
        // The fallback answers 404 for a route that does not exist; a real route answers
        // anything else here (a body or token error at worst).
        assert_ne!(
            reply.status,
            StatusCode::NOT_FOUND,
            "README lists `{method} {path}`, the server does not serve it"
        );
    }
}

#[test]
fn every_socket_event_in_the_readme_is_handled() {
    let section = api_section();
    let legacy = repo_file("src/realtime/legacy/mod.rs");
    let table: Vec<&str> = section
        .lines()
        .skip_while(|l| !l.starts_with("| Client → server"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .collect();
    assert!(table.len() >= 7, "the README's event table: {table:?}");
    for row in table {
        let event = row.split('`').nth(1).expect("an event name");
        assert!(
            legacy.contains(&format!("s.on(\"{event}\"")),
            "README lists `{event}`, the default namespace does not handle it"
        );
    }
    for handled in legacy.split("s.on(\"").skip(1) {
        let event = handled.split('"').next().unwrap_or_default();
        assert!(
            section.contains(&format!("| `{event}` |")),
            "the default namespace handles `{event}`, README's event table lacks it"
        );
    }
}
