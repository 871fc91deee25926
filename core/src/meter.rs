//! Per-request cost drivers: how long a request spent in the store and how many capacity units
//! it consumed, gathered without threading a handle through every port.
//!
//! The inbound adapter wraps each request's future in [`RequestMeter::instrument`]; while that
//! future is polled, [`record_store_time`] and [`record_capacity`] (called by the services' store
//! timing and by store adapters after each call) add to that request's meter. Outside an
//! instrumented future they do nothing, so background work (the timeout sweep) is never counted.
//! It works like `tracing`'s `Instrument`: the meter is installed in a thread-local for the
//! duration of each poll, so it follows the request across threads of any executor and needs no
//! particular runtime. Work spawned onto other tasks is not counted.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::model::{Run, SensorReading};
use crate::ports::Metrics;

/// What one request consumed so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeterTotals {
    /// Time spent in storage calls (summed; concurrent calls each count).
    pub store_time: Duration,
    /// Storage calls made.
    pub store_calls: u32,
    /// Read capacity units the store reported (DynamoDB; zero elsewhere).
    pub read_units: f64,
    /// Write capacity units the store reported (DynamoDB; zero elsewhere).
    pub write_units: f64,
}

/// The accumulator of one request; share it with [`Arc`] to read it after the request ran.
#[derive(Debug, Default)]
pub struct RequestMeter {
    totals: Mutex<MeterTotals>,
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<RequestMeter>>> = const { RefCell::new(None) };
}

impl RequestMeter {
    /// A meter with nothing recorded.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// What was recorded so far.
    pub fn totals(&self) -> MeterTotals {
        *self.totals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn add(&self, update: impl FnOnce(&mut MeterTotals)) {
        update(&mut self.totals.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// `future`, recording into this meter whatever it reports while it is polled.
    pub fn instrument<F: Future>(self: &Arc<Self>, future: F) -> Metered<F> {
        Metered {
            inner: Box::pin(future),
            meter: Arc::clone(self),
        }
    }
}

/// A future that records into a [`RequestMeter`]; see [`RequestMeter::instrument`].
#[derive(Debug)]
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    meter: Arc<RequestMeter>,
}

/// Puts back the meter that was current before a poll, even when the poll panics.
struct Restore(Option<Arc<RequestMeter>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let meter = Arc::clone(&self.meter);
        let _restore = Restore(CURRENT.with(|current| current.borrow_mut().replace(meter)));
        self.inner.as_mut().poll(cx)
    }
}

fn with_current(update: impl FnOnce(&mut MeterTotals)) {
    CURRENT.with(|current| {
        if let Some(meter) = current.borrow().as_ref() {
            meter.add(update);
        }
    });
}

/// Adds one storage call of `elapsed` to the current request's meter, if any.
pub fn record_store_time(elapsed: Duration) {
    with_current(|t| {
        t.store_time += elapsed;
        t.store_calls += 1;
    });
}

/// Adds consumed capacity units (as the store reports them) to the current request's meter, if any.
pub fn record_capacity(read_units: f64, write_units: f64) {
    with_current(|t| {
        t.read_units += read_units;
        t.write_units += write_units;
    });
}

/// A [`Metrics`] port that also records each storage call's time into the current request's
/// meter, then forwards everything to the port it wraps.
#[derive(Debug)]
pub struct MeteredMetrics<M: ?Sized> {
    inner: Arc<M>,
}

impl<M: Metrics + ?Sized> MeteredMetrics<M> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<M>) -> Self {
        Self { inner }
    }
}

impl<M: Metrics + ?Sized> Metrics for MeteredMetrics<M> {
    fn readings_ingested(&self, readings: &[SensorReading]) {
        self.inner.readings_ingested(readings);
    }
    fn run_started(&self, run: &Run) {
        self.inner.run_started(run);
    }
    fn run_finished(&self, run: &Run) {
        self.inner.run_finished(run);
    }
    fn store_call(&self, operation: &'static str, elapsed: Duration, ok: bool) {
        record_store_time(elapsed);
        self.inner.store_call(operation, elapsed, ok);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::NoMetrics;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
            .block_on(f)
    }

    #[test]
    fn an_instrumented_future_collects_what_it_reports_across_awaits() {
        let meter = RequestMeter::new();
        block_on(meter.instrument(async {
            record_store_time(Duration::from_millis(3));
            tokio::task::yield_now().await;
            record_store_time(Duration::from_millis(4));
            record_capacity(0.5, 2.0);
        }));
        let totals = meter.totals();
        assert_eq!(totals.store_time, Duration::from_millis(7));
        assert_eq!(totals.store_calls, 2);
        assert_eq!((totals.read_units, totals.write_units), (0.5, 2.0));
    }

    #[test]
    fn reports_outside_an_instrumented_future_go_nowhere() {
        let meter = RequestMeter::new();
        record_store_time(Duration::from_millis(3));
        block_on(meter.instrument(async {}));
        record_capacity(1.0, 1.0);
        assert_eq!(meter.totals(), MeterTotals::default());
    }

    #[test]
    fn nested_meters_are_separate_and_the_outer_one_is_restored() {
        let (outer, inner) = (RequestMeter::new(), RequestMeter::new());
        block_on(outer.instrument(async {
            inner.instrument(async { record_capacity(1.0, 0.0) }).await;
            record_capacity(0.0, 1.0);
        }));
        assert_eq!(inner.totals().read_units, 1.0);
        assert_eq!(outer.totals().read_units, 0.0);
        assert_eq!(outer.totals().write_units, 1.0);
    }

    #[test]
    fn metered_metrics_report_store_calls_into_the_meter() {
        let metrics = MeteredMetrics::new(Arc::new(NoMetrics));
        let meter = RequestMeter::new();
        block_on(meter.instrument(async {
            metrics.store_call("get_run", Duration::from_millis(2), true);
        }));
        assert_eq!(meter.totals().store_time, Duration::from_millis(2));
    }
}
