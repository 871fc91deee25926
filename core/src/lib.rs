//! # iot-core
//!
//! The domain of iot-playground, at the centre of the hexagon: what a simulation [`Run`] and a
//! [`SensorReading`] are, the rules they obey (validation, capacity, lazy timeout, idempotent
//! ingestion), the two services that apply them, and the [ports] that adapters implement.
//! It knows nothing of HTTP, SQL or AWS.
//!
//! ```
//! use std::sync::Arc;
//! use iot_core::{memory::InMemoryStore, ports::*, service::*, model::Username};
//!
//! # tokio_test_block_on(async {
//! let store = Arc::new(InMemoryStore::new());
//! let runs = RunService::new(
//!     store.clone(), Arc::new(NoMetrics), Arc::new(SystemClock), Arc::new(RandomIds),
//!     RunConfig::default(),
//! );
//! let readings = ReadingService::new(runs.clone(), store);
//! let alice = Username::parse("alice")?;
//! let run = runs.start(&alice, StartRun::new(vec!["s1".into()], Some(60), Some(1.0))?).await?;
//! let reading = NewReading::new("s1", "temperature", 21.5, None)?;
//! readings.ingest(&alice, run.id, reading).await?;
//! assert_eq!(readings.summary(run.id).await?[0].count, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

pub mod clock;
pub mod cursor;
pub mod error;
pub mod memory;
pub mod meter;
pub mod model;
pub mod ports;
pub mod service;

pub use error::{ServiceError, StoreError, ValidationError};
pub use model::{Run, RunId, RunStatus, SensorReading, Timestamp, Username};
