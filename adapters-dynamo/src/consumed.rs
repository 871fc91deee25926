//! Consumed capacity: every SDK call that reads or writes items asks for
//! `ReturnConsumedCapacity::Total` and hands what DynamoDB answers to the request's meter
//! ([`iot_core::meter`]), which the HTTP adapter shows as `rcu`/`wcu` in `Server-Timing`.

use aws_sdk_dynamodb::types::ConsumedCapacity;
use iot_core::meter;

/// What to ask DynamoDB for on each call.
pub(crate) const TOTAL: aws_sdk_dynamodb::types::ReturnConsumedCapacity =
    aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total;

/// Whether a call reads or writes (DynamoDB reports `CapacityUnits` only, for some operations).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Units {
    Read,
    Write,
}

/// Reports the capacity of one call's answer into the current request's meter.
pub(crate) fn report<'a>(units: Units, consumed: impl IntoIterator<Item = &'a ConsumedCapacity>) {
    let (mut read, mut write) = (0.0, 0.0);
    for c in consumed {
        let total = c.capacity_units().unwrap_or_default();
        match (c.read_capacity_units(), c.write_capacity_units()) {
            (None, None) => match units {
                Units::Read => read += total,
                Units::Write => write += total,
            },
            (r, w) => {
                read += r.unwrap_or_default();
                write += w.unwrap_or_default();
            }
        }
    }
    meter::record_capacity(read, write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use iot_core::meter::RequestMeter;

    #[test]
    fn total_units_count_as_the_calls_kind_and_split_units_as_given() {
        let meter = RequestMeter::new();
        let total = ConsumedCapacity::builder().capacity_units(2.0).build();
        let split = ConsumedCapacity::builder()
            .capacity_units(1.5)
            .read_capacity_units(0.5)
            .write_capacity_units(1.0)
            .build();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        runtime.block_on(meter.instrument(async {
            report(Units::Write, [&total]);
            report(Units::Read, [&split]);
        }));
        let totals = meter.totals();
        assert_eq!((totals.read_units, totals.write_units), (0.5, 3.0));
    }
}
