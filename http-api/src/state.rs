//! [`AppState`]: the services the handlers share, wired on the stores.

use std::sync::Arc;

use iot_core::meter::MeteredMetrics;
use iot_core::ports::{Metrics, RandomIds, ReadingStore, RunStore, SystemClock};
use iot_core::service::{ReadingService, RunConfig, RunService};

use crate::identity::IdentitySource;

/// What the handlers share: one reference-counted [`Services`], so the clone every request
/// makes of the state is a single counter increment.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Services>);

/// The services behind an [`AppState`] (reached through it: `state.runs`, `state.readings`).
#[derive(Debug)]
pub struct Services {
    /// Run lifecycle.
    pub runs: RunService,
    /// Reading ingestion.
    pub readings: ReadingService,
    /// Where the caller's identity comes from.
    pub identity: Arc<dyn IdentitySource>,
}

impl AppState {
    /// Wires the services on a store (as both ports), with the system clock and random run ids.
    pub fn new(
        runs: Arc<dyn RunStore>,
        readings: Arc<dyn ReadingStore>,
        metrics: Arc<dyn Metrics>,
        config: RunConfig,
        identity: Arc<dyn IdentitySource>,
    ) -> Self {
        // Every store call the services time also lands in the request's meter (Server-Timing).
        let metrics: Arc<dyn Metrics> = Arc::new(MeteredMetrics::new(metrics));
        let runs = RunService::new(
            runs,
            metrics,
            Arc::new(SystemClock),
            Arc::new(RandomIds),
            config,
        );
        Self(Arc::new(Services {
            readings: ReadingService::new(runs.clone(), readings),
            runs,
            identity,
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}
