//! The HTTP half of a player: a recorded call sent with this user's account and token,
//! its answer compared.

use std::time::Instant;

use serde_json::{Value, json};

use super::super::compare;
use super::super::script::{HttpCall, Step};
use super::Player;

impl Player<'_> {
    /// Sends a recorded call as this user and compares the answer with the recorded one.
    pub(super) async fn http_call(
        &mut self,
        index: usize,
        step: &Step,
        call: &HttpCall,
    ) -> Result<(), String> {
        let (path, body) = self.live_request(call);
        let method = reqwest::Method::from_bytes(call.method.as_bytes())
            .map_err(|_| format!("{}: method {:?}", step.origin, call.method))?;
        let mut request = self.http.request(method, format!("{}{path}", self.base()));
        if let Some(auth) = &call.auth {
            request = request.header("authorization", self.live_auth(auth));
        }
        if let Some(kind) = &call.content_type {
            request = request.header("content-type", kind);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let started = Instant::now();
        let reply = request
            .send()
            .await
            .map_err(|e| format!("{} {path}: {e}", call.method))?;
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap_or_default();
        let label = format!("{} {}", call.method, route_of(&call.path));
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        self.report.latencies.push((label.clone(), millis));
        let received_json = serde_json::from_str::<Value>(&text).ok();
        if auth_route(&call.path).is_some() && status == 200 {
            if let Some(body) = &received_json {
                self.take_token(body);
            }
            self.account.fresh = false;
        }
        let mut differences = Vec::new();
        if status != call.status {
            differences.push(format!(
                "status: recorded {}, received {status}",
                call.status
            ));
        }
        let expected_json = call
            .response
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(&self.localise(t)).ok());
        if let (Some(e), Some(r)) = (&expected_json, &received_json) {
            let found = compare::compare(e, r, self.options.tolerance, &mut self.ids);
            differences.extend(found);
        }
        let expected = json!({"status": call.status, "body": expected_json});
        let received = json!({"status": status, "body": received_json});
        self.push(index, step, label, expected, received, differences);
        Ok(())
    }

    /// The path and body to send: a sign-up or sign-in carries this user's account (a
    /// recorded sign-up of an account that exists already becomes a sign-in); elsewhere the
    /// learned ids are mapped.
    fn live_request(&self, call: &HttpCall) -> (String, Option<String>) {
        let account = &self.account;
        match auth_route(&call.path) {
            Some(AuthRoute::SignUp) if account.fresh => {
                let body = json!({"name": account.name, "email": account.email,
                                  "password": account.password});
                (call.path.clone(), Some(body.to_string()))
            }
            Some(_) => {
                let body = json!({"email": account.email, "password": account.password});
                (
                    call.path.replace("/signup", "/signin"),
                    Some(body.to_string()),
                )
            }
            None => (
                self.ids.apply(&call.path),
                call.body.as_deref().map(|b| self.ids.apply(b)),
            ),
        }
    }
}

/// The account routes a player fills in with its own account.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AuthRoute {
    SignUp,
    SignIn,
}

pub(super) fn auth_route(path: &str) -> Option<AuthRoute> {
    let path = path.split('?').next().unwrap_or_default();
    if path.ends_with("/user/signup") {
        Some(AuthRoute::SignUp)
    } else if path.ends_with("/user/signin") {
        Some(AuthRoute::SignIn)
    } else {
        None
    }
}

/// A path with its numeric segments as `{id}`, so latencies group by route.
pub(super) fn route_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_group_numeric_segments() {
        assert_eq!(route_of("/event/12?x=1"), "/event/{id}");
        assert_eq!(route_of("/api/area/3"), "/api/area/{id}");
    }

    #[test]
    fn sign_in_routes_are_found_under_the_api_prefix_too() {
        assert_eq!(auth_route("/api/user/signup"), Some(AuthRoute::SignUp));
        assert_eq!(auth_route("/user/signin"), Some(AuthRoute::SignIn));
        assert_eq!(auth_route("/user/profile"), None);
    }
}
