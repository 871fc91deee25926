//! Reading the backends' `Server-Timing` header (`app`, `store`, `rcu`, `wcu`, `cold`).

/// The entries of one response's `Server-Timing` header that the reports use.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerTiming {
    /// Milliseconds in the API.
    pub app_ms: Option<f64>,
    /// Milliseconds in the store.
    pub store_ms: Option<f64>,
    /// DynamoDB read units.
    pub rcu: f64,
    /// DynamoDB write units.
    pub wcu: f64,
    /// Initialisation of a cold Lambda instance, in milliseconds.
    pub cold_ms: Option<f64>,
}

impl ServerTiming {
    /// Parses a header value; unknown entries and entries without `dur` are ignored.
    pub fn parse(value: &str) -> Self {
        let mut timing = Self::default();
        for entry in value.split(',') {
            let mut fields = entry.split(';').map(str::trim);
            let name = fields.next().unwrap_or_default();
            let Some(dur) = fields
                .find_map(|f| f.strip_prefix("dur="))
                .and_then(|d| d.parse::<f64>().ok())
                .filter(|d| d.is_finite() && *d >= 0.0)
            else {
                continue;
            };
            match name {
                "app" => timing.app_ms = Some(dur),
                "store" => timing.store_ms = Some(dur),
                "rcu" => timing.rcu += dur,
                "wcu" => timing.wcu += dur,
                "cold" => timing.cold_ms = Some(dur),
                _ => {}
            }
        }
        timing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_entry_is_read_and_the_rest_ignored() {
        let t = ServerTiming::parse(
            "app;dur=3.5, store;dur=1.25, rcu;dur=0.5, wcu;dur=2, cold;dur=80, cdn;desc=hit, db;dur=x",
        );
        assert_eq!(
            t,
            ServerTiming {
                app_ms: Some(3.5),
                store_ms: Some(1.25),
                rcu: 0.5,
                wcu: 2.0,
                cold_ms: Some(80.0),
            }
        );
        assert_eq!(ServerTiming::parse(""), ServerTiming::default());
    }
}
