//! Integration tests: the real application on port 0, one test binary.

mod app_clients;
mod balancer;
mod browser;
mod ci_parity;
mod databases;
mod hardening;
mod helpers;
mod http_contract;
mod js_flows;
mod multi_instance;
mod ops;
mod own_redis;
mod redis_faults;
mod slow_clients;
mod socket_abuse;
mod startup;
mod storage_contract;
mod waiting_room_contract;
