//! What a run's summary must be: the fold of its stored readings per sensor and type.

use std::collections::BTreeMap;

use iot_core::model::{SensorReading, SensorSummary};

/// The summary of `readings` as [`SensorSummary::fold`] gives it, ordered by sensor, then type.
pub fn expected(readings: &[SensorReading]) -> Vec<SensorSummary> {
    let mut groups: BTreeMap<(&str, &str), Vec<&SensorReading>> = BTreeMap::new();
    for r in readings {
        groups
            .entry((r.sensor_id.as_str(), r.kind.as_str()))
            .or_default()
            .push(r);
    }
    groups
        .into_values()
        .filter_map(SensorSummary::fold)
        .collect()
}

/// Asserts that `actual` (in any order) is `expected`, averages within rounding: a store may add
/// the values in another order.
///
/// # Panics
/// When they differ.
pub fn assert_same(actual: &[SensorSummary], expected: &[SensorSummary]) {
    let mut actual = actual.to_vec();
    actual.sort_by(|a, b| {
        (a.sensor_id.as_str(), a.kind.as_str()).cmp(&(b.sensor_id.as_str(), b.kind.as_str()))
    });
    assert_eq!(actual.len(), expected.len(), "{actual:?}\n{expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a.avg - e.avg).abs() <= 1e-9 * e.avg.abs().max(1.0),
            "summary {a:?}, expected {e:?}"
        );
        let exact = |s: &SensorSummary| SensorSummary {
            avg: 0.0,
            ..s.clone()
        };
        assert_eq!(exact(a), exact(e), "summary vs expected");
    }
}
