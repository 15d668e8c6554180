//! What every adapter (HTTP routes, Socket.IO namespaces, the sweeper, warm-up) reaches: the
//! settings, the storage engines, token handling, the news port and the attempt limits. It lives on its own so that
//! `app.rs`, `http/`, `realtime/` and `warmup.rs` depend on it and never on each other.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::Auth;
use crate::config::Settings;
use crate::domain::ids::SessionId;
use crate::domain::seats::TicketLimit;
use crate::domain::time::Millis;
use crate::domain::waiting_room::Rules;
use crate::service::attempts::AttemptLimits;
use crate::service::estimate::Estimator;
use crate::service::fair::Draws;
use crate::service::news::Newsroom;
use crate::service::resume::Graces;
use crate::storage::Store;
use crate::storage::model::HoldTerms;

/// What every handler can reach: settings, engines, token keys, the news port.
#[derive(Clone)]
pub(crate) struct AppState {
    /// The settings the server started with.
    pub settings: Arc<Settings>,
    /// The storage engines.
    pub store: Store,
    /// Token and password handling.
    pub auth: Arc<Auth>,
    /// Renders the process's metrics.
    pub metrics: PrometheusHandle,
    /// Where the use cases publish what changed (delivered by the realtime adapter).
    pub news: Newsroom,
    /// Sign-in attempts per account and per address.
    pub sign_in_attempts: Arc<AttemptLimits>,
    /// Sign-up attempts per email and per address (each costs a bcrypt hash too).
    pub sign_up_attempts: Arc<AttemptLimits>,
    /// Departures deferred by dropped app connections (the resume grace).
    pub graces: Graces,
    /// The observed pace of every line, for wait estimates.
    pub estimator: Estimator,
    /// Sessions whose fair-start draw this instance has seen run.
    pub draws: Draws,
    /// Where visits are recorded, when recording is on (`TICKETCLUB_RECORD_DIR`). Shared:
    /// the state is cloned for every request and socket event, and a `Recorder` clone is a
    /// channel sender's (two atomic counts up, and down again when dropped).
    pub recorder: Option<Arc<crate::record::Recorder>>,
    image_base: Arc<str>,
}

impl AppState {
    /// Assembles the state; `image_base` is the URL prefix of event pictures.
    pub(crate) fn new(settings: Settings, store: Store, auth: Auth, image_base: String) -> Self {
        let limits = &settings.limits;
        let attempts = || {
            Arc::new(AttemptLimits::per_minute(
                limits.signin_per_account,
                limits.signin_per_address,
            ))
        };
        let (sign_in_attempts, sign_up_attempts) = (attempts(), attempts());
        Self {
            settings: Arc::new(settings),
            store,
            auth: Arc::new(auth),
            metrics: crate::metrics::install(),
            news: Newsroom::default(),
            sign_in_attempts,
            sign_up_attempts,
            graces: Graces::default(),
            estimator: Estimator::default(),
            draws: Draws::default(),
            recorder: None,
            image_base: image_base.into(),
        }
    }

    /// The waiting-room rules in force for `session` (the operator's settings over the
    /// environment's).
    pub(crate) fn rules(&self, session: SessionId) -> Rules {
        self.store.controls.rules(session)
    }

    /// Tickets per account in `session`.
    pub(crate) fn ticket_limit(&self, session: SessionId) -> TicketLimit {
        TicketLimit(self.store.controls.effective(session).ticket_limit)
    }

    /// The most tickets an account may take in any session: a bound on a seat list's length
    /// before its session is looked at.
    pub(crate) fn most_tickets(&self) -> u32 {
        self.store.controls.most_tickets()
    }

    /// The purchase window of `session` (ms).
    pub(crate) fn window_ms(&self, session: SessionId) -> Millis {
        self.store.controls.effective(session).window_ms
    }

    /// Terms of a new seat hold in `session` taken at `now`: the ticket limit, and a deadline
    /// one visit long (the backstop that frees seats even if the visit's end goes unnoticed).
    pub(crate) fn hold_terms(&self, session: SessionId, now: Millis) -> HoldTerms {
        let e = self.store.controls.effective(session);
        HoldTerms {
            limit: TicketLimit(e.ticket_limit),
            until: now + e.lifetime_ms,
        }
    }

    /// The public URL of an image file name stored in the catalog.
    pub(crate) fn image_url(&self, file: &str) -> String {
        format!("{}/{file}", self.image_base)
    }
}
