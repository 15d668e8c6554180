//! Two instances behind HAProxy with the shipped example config (`deploy/haproxy/`): the
//! behaviour suite passes through the balancer with the frontend's default transports (polling,
//! then the websocket upgrade), the clients spread over both instances by source address.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::js_flows::run_node_scenario;
use crate::multi_instance::{Cluster, start_cluster};

/// Loopback source addresses the test clients use, so `balance source` spreads them.
const SOURCES: &str = "127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5,127.0.0.6,127.0.0.7,127.0.0.8";

/// A running HAProxy in front of a cluster.
pub struct Balancer {
    _child: Child,
    pub base: String,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("address").port()
}

fn host_port(base: &str) -> &str {
    base.trim_start_matches("http://")
}

/// Starts HAProxy (installed by scripts/services.sh) and waits until it routes to a ready instance.
pub async fn start_balancer(cluster: &Cluster) -> Balancer {
    start_balancer_over(&cluster.instances[0].base, &cluster.instances[1].base).await
}

/// HAProxy with the shipped config over the instances at `a` and `b` (may be the same one).
async fn start_balancer_over(a: &str, b: &str) -> Balancer {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/haproxy/ticketclub.cfg");
    let bind = format!("127.0.0.1:{}", free_port());
    let child = Command::new("haproxy")
        .args(["-f", &config.display().to_string(), "-db"])
        .env("TC_LB_BIND", &bind)
        .env("TC_A", host_port(a))
        .env("TC_B", host_port(b))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("haproxy starts (scripts/services.sh installs it)");
    let base = format!("http://{bind}");
    let client = reqwest::Client::new();
    for _ in 0..100 {
        let ready = client.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            return Balancer {
                _child: child,
                base,
            };
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("HAProxy did not route to a ready instance at {base}");
}

/// How many `check limit` events an instance served (from its own metrics).
async fn check_limits_served(base: &str) -> f64 {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    text.lines()
        .find(|l| {
            l.starts_with("ticketclub_socket_event_duration_seconds_count{event=\"check limit\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn through_balancer(scenario: &str) {
    let cluster = start_cluster(2, &[("TICKETCLUB_QUEUE_LIMIT", "3")]).await;
    let lb = start_balancer(&cluster).await;
    let env = [("TC_SOURCE_ADDRESSES", SOURCES.to_string())];
    run_node_scenario(scenario, &lb.base, None, "default", None, &env).await;
    let a = check_limits_served(&cluster.instances[0].base).await;
    let b = check_limits_served(&cluster.instances[1].base).await;
    assert!(
        a > 0.0 && b > 0.0,
        "{scenario}: clients should reach both instances (a: {a}, b: {b})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_flows_pass_through_the_balancer_spread_over_two_instances() {
    through_balancer("arrive7").await;
    through_balancer("page-leave").await;
    through_balancer("queued-leave").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seat_room_flow_passes_through_the_balancer() {
    through_balancer("seat-room").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_restarted_behind_the_balancer_loses_no_queue_place() {
    let env = [
        ("TICKETCLUB_QUEUE_LIMIT", "1"),
        ("TICKETCLUB_LEASE_TTL", "3"),
    ];
    let cluster = start_cluster(2, &env).await;
    let lb = start_balancer(&cluster).await;
    let env = [
        ("TC_SOURCE_ADDRESSES", SOURCES.to_string()),
        ("TC_INSTANCE1_PID", cluster.instances[0].pid().to_string()),
    ];
    run_node_scenario("lb-restart", &lb.base, None, "default", None, &env).await;
}

/// Wrong sign-ins from `source` through the balancer; the last status.
async fn failed_sign_ins(base: &str, source: &str, attempts: u32) -> reqwest::StatusCode {
    let client = reqwest::Client::builder()
        .local_address(source.parse::<std::net::IpAddr>().ok())
        .build()
        .expect("a client");
    let mut status = reqwest::StatusCode::OK;
    for i in 0..attempts {
        status = client
            .post(format!("{base}/user/signin"))
            .json(
                &serde_json::json!({"email": format!("nobody{i}@test.com"), "password": "wrong1"}),
            )
            .send()
            .await
            .expect("an answer through the balancer")
            .status();
    }
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_the_balancer_per_address_limits_see_each_client_not_the_balancer() {
    // The shipped config must forward the client's address (`option forwardfor`), and the
    // server trusts it from the balancer: one address over its sign-in limit does not lock out
    // another. Both backends are the same instance, so one limiter sees every attempt.
    let cluster = start_cluster(
        1,
        &[
            ("TICKETCLUB_TRUSTED_PROXIES", "127.0.0.1"),
            ("TICKETCLUB_SIGNIN_PER_ADDRESS", "3"),
        ],
    )
    .await;
    let only = &cluster.instances[0].base;
    let lb = start_balancer_over(only, only).await;
    assert_eq!(
        failed_sign_ins(&lb.base, "127.0.0.2", 4).await,
        reqwest::StatusCode::TOO_MANY_REQUESTS,
        "the fourth attempt from one address is over its limit"
    );
    assert_eq!(
        failed_sign_ins(&lb.base, "127.0.0.3", 1).await,
        reqwest::StatusCode::FORBIDDEN,
        "another address is not limited by the first one's attempts"
    );
}
