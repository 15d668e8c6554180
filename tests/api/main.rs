//! Integration tests: the real application on port 0, one test binary.

mod api_docs;
mod app_clients;
mod app_rust;
mod balancer;
mod browser;
mod ci_parity;
mod databases;
mod estimates;
mod fair_start;
mod hardening;
mod helpers;
mod http_contract;
mod js_flows;
mod multi_instance;
mod ops;
mod own_redis;
mod redis_faults;
mod resume;
mod slow_clients;
mod startup;
mod storage_contract;
mod waiting_room_contract;
