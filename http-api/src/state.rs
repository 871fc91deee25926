//! [`AppState`]: the services the handlers share, wired on the stores.

use std::sync::Arc;

use iot_core::meter::MeteredMetrics;
use iot_core::ports::{Metrics, RandomIds, ReadingStore, RunStore, SystemClock};
use iot_core::service::{ReadingService, RunConfig, RunService};

use crate::identity::IdentitySource;

/// What the handlers share.
#[derive(Clone, Debug)]
pub struct AppState {
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
        Self {
            readings: ReadingService::new(runs.clone(), readings),
            runs,
            identity,
        }
    }
}
