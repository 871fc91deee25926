//! The run lifecycle: start under capacity, finish, interrupt, list, timeout sweep.
//!
//! The service and its settings live here; its requests, commands, queries and sweep each have a
//! module of their own.

use std::sync::Arc;

use crate::model::Username;
use crate::ports::{CapacityLimits, Clock, IdGenerator, Metrics, RunStore};

mod commands;
mod queries;
mod request;
mod sweep;

pub use queries::Capacity;
pub use request::{FinishRun, StartRun};
pub use sweep::Swept;

/// Settings of the run lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// Capacity limits.
    pub limits: CapacityLimits,
    /// Seconds after `duration` before a run times out.
    pub timeout_grace_secs: u32,
    /// Users whose interrupt-all cancels every user's runs.
    pub admins: Vec<Username>,
    /// URL of the Grafana dashboard of a run; a run's link adds `?var-user=…&var-run=…`.
    pub grafana_url: Option<String>,
    /// Days a run and its readings are kept after its deadline; `None` keeps them forever.
    pub retention_days: Option<u32>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            limits: CapacityLimits {
                global: 5,
                per_user: 5,
            },
            timeout_grace_secs: 120,
            admins: Vec::new(),
            grafana_url: None,
            retention_days: None,
        }
    }
}

/// Run lifecycle: start under capacity, finish, interrupt, list, timeout sweep.
#[derive(Clone)]
pub struct RunService {
    runs: Arc<dyn RunStore>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    config: Arc<RunConfig>,
}

impl std::fmt::Debug for RunService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RunService {
    /// Wires the service to its ports.
    pub fn new(
        runs: Arc<dyn RunStore>,
        metrics: Arc<dyn Metrics>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        config: RunConfig,
    ) -> Self {
        Self {
            runs,
            metrics,
            clock,
            ids,
            config: Arc::new(config),
        }
    }

    /// The metrics and clock handles, for a service working beside this one.
    pub(in crate::service) fn shared_ports(&self) -> (Arc<dyn Metrics>, Arc<dyn Clock>) {
        (self.metrics.clone(), self.clock.clone())
    }

    /// The configuration in force.
    pub fn config(&self) -> &RunConfig {
        &self.config
    }
}
