//! The exposition: the registry rendered in the Prometheus text format 0.0.4.

use std::collections::HashSet;
use std::time::Instant;

use super::PrometheusMetrics;

/// Content type of [`PrometheusMetrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

impl PrometheusMetrics {
    /// The exposition in the Prometheus text format 0.0.4 ([`CONTENT_TYPE`]), after a
    /// [`Self::prune`] at the current instant.
    pub fn render(&self) -> String {
        self.prune(Instant::now());
        let mut open_metrics = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut open_metrics, &self.registry)
        {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        to_text_format(&open_metrics)
    }
}

/// Turns prometheus-client's OpenMetrics text into the Prometheus text format 0.0.4 that
/// `promtool check metrics` and every Prometheus version read: counter families are named after
/// their `_total` samples, and the OpenMetrics-only `# UNIT` and `# EOF` lines go.
fn to_text_format(open_metrics: &str) -> String {
    let counters: HashSet<&str> = open_metrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len() + 16 * counters.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let descriptor = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match descriptor {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) && !name.ends_with("_total") {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    //! The text format conversion.

    use super::*;

    #[test]
    fn text_format_renames_counter_families() {
        let om = "# HELP a_seconds X.\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total 1\n# HELP b Y.\n# TYPE b gauge\nb 2\n# EOF\n";
        assert_eq!(
            to_text_format(om),
            "# HELP a_seconds_total X.\n# TYPE a_seconds_total counter\na_seconds_total 1\n# HELP b Y.\n# TYPE b gauge\nb 2\n"
        );
    }
}
