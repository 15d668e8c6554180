//! How many Socket.IO connections one account and one client address may hold on this
//! instance at once (issue 15, item 8: one account opened some 20,000).
//!
//! A connection takes a [`QuotaSlot`] in its connect middleware, once its account is known, and
//! keeps it in its extensions; the slot is given back when the socket is dropped. The address is
//! the one [`PeerAddress`] names: the wiring puts it on the handshake request, read from
//! `X-Forwarded-For` only behind a trusted proxy.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use crate::config::Limits;
use crate::domain::ids::UserId;

/// The client address of a Socket.IO handshake, as far as it can be trusted; a request
/// extension set by the wiring (`app.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeerAddress(pub IpAddr);

/// Which quota a refused connection is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum OverQuota {
    /// The account holds as many connections as it may.
    #[error("too many connections for this account")]
    Account,
    /// The address holds as many connections as it may.
    #[error("too many connections from this address")]
    Address,
}

/// The connection quotas of this instance, shared by every namespace.
#[derive(Clone)]
pub(crate) struct SocketQuota(Arc<Inner>);

struct Inner {
    per_account: Option<u32>,
    per_address: Option<u32>,
    held: Mutex<Held>,
}

#[derive(Default)]
struct Held {
    accounts: HashMap<UserId, u32>,
    addresses: HashMap<IpAddr, u32>,
}

impl SocketQuota {
    /// The quotas of [`Limits`] (0 turns one off).
    pub(crate) fn from_limits(limits: &Limits) -> Self {
        let quota = |n: u32| (n > 0).then_some(n);
        Self(Arc::new(Inner {
            per_account: quota(limits.sockets_per_account),
            per_address: quota(limits.sockets_per_address),
            held: Mutex::new(Held::default()),
        }))
    }

    /// Takes a slot for one more connection of `user` from `address`, or says which quota is
    /// full (the address is checked first: it is the wider abuse).
    pub(crate) fn take(
        &self,
        user: UserId,
        address: Option<IpAddr>,
    ) -> Result<QuotaSlot, OverQuota> {
        let mut held = self.0.held.lock().unwrap_or_else(|e| e.into_inner());
        if let (Some(ip), Some(max)) = (address, self.0.per_address)
            && held.addresses.get(&ip).copied().unwrap_or(0) >= max
        {
            return Err(OverQuota::Address);
        }
        if let Some(max) = self.0.per_account
            && held.accounts.get(&user).copied().unwrap_or(0) >= max
        {
            return Err(OverQuota::Account);
        }
        *held.accounts.entry(user).or_default() += 1;
        if let Some(ip) = address {
            *held.addresses.entry(ip).or_default() += 1;
        }
        Ok(QuotaSlot(Arc::new(Slot {
            quota: self.clone(),
            user,
            address,
        })))
    }
}

/// Takes a slot for the connection `s` of `user` and keeps it in the socket's extensions (it is
/// given back when the socket is dropped), or says which quota is full.
pub(crate) fn claim<A: Adapter>(
    s: &SocketRef<A>,
    quota: &SocketQuota,
    user: UserId,
) -> Result<(), OverQuota> {
    let address = s
        .req_parts()
        .extensions
        .get::<PeerAddress>()
        .map(|peer| peer.0);
    let slot = quota.take(user, address)?;
    s.extensions.insert(slot);
    Ok(())
}

/// One connection's place in the quotas; given back when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct QuotaSlot(#[allow(dead_code)] Arc<Slot>);

struct Slot {
    quota: SocketQuota,
    user: UserId,
    address: Option<IpAddr>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.quota.0.held.lock().unwrap_or_else(|e| e.into_inner());
        release(&mut held.accounts, &self.user);
        if let Some(ip) = &self.address {
            release(&mut held.addresses, ip);
        }
    }
}

/// One fewer held under `key`; the entry goes when none is left, so the maps hold only
/// connected keys.
fn release<K: Hash + Eq>(counts: &mut HashMap<K, u32>, key: &K) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(per_account: u32, per_address: u32) -> SocketQuota {
        SocketQuota::from_limits(&Limits {
            sockets_per_account: per_account,
            sockets_per_address: per_address,
            ..Limits::for_tests()
        })
    }

    const HOME: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));

    #[test]
    fn an_account_holds_at_most_its_quota_and_gets_places_back() {
        let q = quota(2, 0);
        let a = q.take(UserId(1), HOME).expect("first");
        let _b = q.take(UserId(1), HOME).expect("second");
        assert_eq!(q.take(UserId(1), HOME).err(), Some(OverQuota::Account));
        assert!(
            q.take(UserId(2), HOME).is_ok(),
            "another account is not limited"
        );
        drop(a);
        assert!(
            q.take(UserId(1), HOME).is_ok(),
            "a closed connection gives its place back"
        );
    }

    #[test]
    fn an_address_holds_at_most_its_quota_whoever_signs_in() {
        let q = quota(0, 2);
        let _a = q.take(UserId(1), HOME).expect("first");
        let _b = q.take(UserId(2), HOME).expect("second");
        assert_eq!(q.take(UserId(3), HOME).err(), Some(OverQuota::Address));
        let elsewhere = Some("10.0.0.9".parse().expect("ip"));
        assert!(q.take(UserId(3), elsewhere).is_ok());
    }
}
