//! Limits that keep one abusive client from costing everyone else: how long a request body may
//! take, how often an account or an address may try to sign in or sign up, whose
//! `X-Forwarded-For` is believed, and how many bcrypt hashes run at once.

use std::time::Duration;

use clap::Args;
use ipnet::IpNet;

/// Connections served fully, and connections past those that still get the health, metrics
/// and admin routes (more than both are closed at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimit {
    /// Connections served every route.
    pub served: usize,
    /// Connections past `served` served the reserved routes only.
    pub reserve: usize,
}

/// Abuse limits, flattened into [`super::Settings`].
#[derive(Clone, Debug, Args)]
pub struct Limits {
    /// Seconds a request may take to send its body once its headers are in; a slower body is
    /// answered 408 and its connection closed (a trickled body would otherwise hold a
    /// connection and its buffers for ever).
    #[arg(long, env = "TICKETCLUB_BODY_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout: u64,

    /// Sign-in (and sign-up) attempts per minute for one email address; 0 turns the limit off.
    #[arg(long, env = "TICKETCLUB_SIGNIN_PER_ACCOUNT", default_value_t = 10)]
    pub signin_per_account: u32,

    /// Sign-in (and sign-up) attempts per minute from one client address; 0 turns it off.
    #[arg(long, env = "TICKETCLUB_SIGNIN_PER_ADDRESS", default_value_t = 60)]
    pub signin_per_address: u32,

    /// Proxies (addresses or CIDR blocks, comma separated) whose `X-Forwarded-For` names the
    /// client. Unset: the peer address is the client, and the header is ignored (anyone could
    /// write it).
    #[arg(long, env = "TICKETCLUB_TRUSTED_PROXIES", value_delimiter = ',', value_parser = proxy)]
    pub trusted_proxies: Vec<IpNet>,

    /// bcrypt hashes computed at once (each holds a CPU for its whole cost); waiting clients take
    /// turns by address. Unset: one per CPU.
    #[arg(long, env = "TICKETCLUB_BCRYPT_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..))]
    pub bcrypt_concurrency: Option<u32>,

    /// Socket.IO events per second one socket may send, on every namespace; the excess is
    /// answered with an error, and a socket that keeps flooding is disconnected. 0: off.
    #[arg(long, env = "TICKETCLUB_SOCKET_EVENT_RATE", default_value_t = 50)]
    pub socket_event_rate: u32,

    /// Events one socket may send at once before [`Limits::socket_event_rate`] applies.
    #[arg(long, env = "TICKETCLUB_SOCKET_EVENT_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub socket_event_burst: u32,

    /// Socket.IO connections one account may hold at once on this instance, all namespaces
    /// together; one more is refused at connect. 0: no limit.
    #[arg(long, env = "TICKETCLUB_SOCKETS_PER_ACCOUNT", default_value_t = 20)]
    pub sockets_per_account: u32,

    /// Socket.IO connections one client address may hold at once on this instance (behind a
    /// balancer, see `TICKETCLUB_TRUSTED_PROXIES`); generous, as many buyers can share a NAT
    /// address. 0: no limit.
    #[arg(long, env = "TICKETCLUB_SOCKETS_PER_ADDRESS", default_value_t = 500)]
    pub sockets_per_address: u32,

    /// Open connections (TCP) served fully; past it a connection gets only the health, metrics
    /// and admin routes (others: 503, then closed), so the server stays observable. Unset: the
    /// process's open-file limit minus `TICKETCLUB_FD_RESERVE`.
    #[arg(long, env = "TICKETCLUB_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,

    /// File descriptors kept free of client connections (database and Redis pools, logs, and
    /// health checks at the limit) when the connection limit comes from the open-file limit.
    #[arg(long, env = "TICKETCLUB_FD_RESERVE", default_value_t = 256)]
    pub fd_reserve: u32,
}

/// The soft open-file limit in `/proc/self/limits` (`Max open files  <soft>  <hard>  files`).
fn open_file_limit(limits: &str) -> Option<usize> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Connections served within `files` descriptors, keeping `reserve` free; a reserve of more
/// than half the files (a small `ulimit -n`) is cut to half, so clients are still served.
fn served_within(files: usize, reserve: usize) -> usize {
    files.saturating_sub(reserve.min(files / 2)).max(1)
}

/// A trusted proxy: a CIDR block, or a bare address (a block of one).
fn proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{text:?} is neither an IP address nor a CIDR block"))
}

impl Limits {
    /// Generous limits for tests: harness scenarios sign hundreds of accounts in from one
    /// address. Tests of the limits themselves lower them.
    pub fn for_tests() -> Self {
        Self {
            body_timeout: 10,
            signin_per_account: 1_000,
            signin_per_address: 100_000,
            trusted_proxies: Vec::new(),
            bcrypt_concurrency: None,
            socket_event_rate: 50,
            socket_event_burst: 100,
            sockets_per_account: 20,
            // Harness scenarios open hundreds of sockets from one address.
            sockets_per_address: 0,
            max_connections: None,
            fd_reserve: 256,
        }
    }

    /// The body timeout as a duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout)
    }

    /// How many connections are served fully, and how many more are let in for the reserved
    /// routes only: the setting, else the open-file limit less the reserve; half the reserve's
    /// descriptors may hold such connections, the other half stays for pools and files. `None`
    /// where the open-file limit is unknown or unlimited and nothing is set.
    pub fn connection_limit(&self) -> Option<ConnectionLimit> {
        let (served, reserve) = match self.max_connections {
            Some(max) => (max as usize, self.fd_reserve as usize),
            None => {
                let files = std::fs::read_to_string("/proc/self/limits").ok()?;
                let soft = open_file_limit(&files)?;
                let served = served_within(soft, self.fd_reserve as usize);
                (served, soft - served)
            }
        };
        Some(ConnectionLimit {
            served,
            reserve: (reserve / 2).max(1),
        })
    }

    /// How many bcrypt hashes may run at once.
    pub fn bcrypt_permits(&self) -> usize {
        match self.bcrypt_concurrency {
            Some(n) => n as usize,
            None => std::thread::available_parallelism().map_or(2, usize::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{open_file_limit, proxy, served_within};

    #[test]
    fn the_reserve_comes_off_the_open_file_limit_but_never_more_than_half() {
        assert_eq!(served_within(65_536, 256), 65_280);
        assert_eq!(served_within(256, 256), 128);
        assert_eq!(served_within(1, 256), 1);
    }

    #[test]
    fn the_open_file_limit_is_the_soft_one() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(open_file_limit(limits), Some(1024));
        assert_eq!(
            open_file_limit("Max open files  unlimited  unlimited  files"),
            None
        );
    }

    #[test]
    fn a_trusted_proxy_is_an_address_or_a_block() {
        assert_eq!(
            proxy("127.0.0.1").map(|n| n.to_string()),
            Ok("127.0.0.1/32".into())
        );
        assert_eq!(
            proxy("10.0.0.0/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert_eq!(proxy(" ::1").map(|n| n.to_string()), Ok("::1/128".into()));
        assert!(proxy("proxy.local").is_err());
    }
}
