//! The counters of each invocation, printed after it as CloudWatch EMF documents: one JSON
//! line per label set, which CloudWatch turns into metrics without an API call.

use approvals_core::counters::NAMESPACE;
use metrics_cloudwatch_embedded::{Builder, Collector};

/// The installed recorder; `None` where another one was installed first.
#[derive(Clone, Copy)]
pub struct Emf(Option<&'static Collector>);

impl Emf {
    /// Installs the recorder for the process, every metric dimensioned by `function`.
    pub fn install(function: &'static str) -> Self {
        match collector(function, None) {
            Ok(collector) => Self(Some(collector)),
            Err(error) => {
                tracing::warn!(%error, "metrics are not recorded");
                Self(None)
            }
        }
    }

    /// Prints what was counted since the last flush; a failed write loses only metrics.
    pub fn flush(self) {
        if let Some(collector) = self.0 {
            if let Err(error) = collector.flush(std::io::stdout().lock()) {
                tracing::warn!(%error, "could not print the invocation's metrics");
            }
        }
    }
}

fn collector(
    function: &'static str,
    timestamp: Option<u64>,
) -> Result<&'static Collector, metrics_cloudwatch_embedded::Error> {
    let builder = Builder::new()
        .cloudwatch_namespace(NAMESPACE)
        .with_dimension("Function", function);
    match timestamp {
        Some(at) => builder.with_timestamp(at),
        None => builder,
    }
    .init()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approvals_core::counters::{DECISIONS, SLACK_RATE_LIMITED};

    #[test]
    fn counters_print_as_emf_documents_one_per_label_set() {
        let collector = collector("decision-worker", Some(1_764_000_000_000)).unwrap();
        metrics::counter!(DECISIONS, "outcome" => "counted").increment(2);
        metrics::counter!(SLACK_RATE_LIMITED, "method" => "chat.update").increment(1);

        let mut printed = Vec::new();
        collector.flush(&mut printed).unwrap();

        let documents: Vec<serde_json::Value> = String::from_utf8(printed)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(documents.len(), 2, "{documents:?}");
        let decisions = documents
            .iter()
            .find(|d| d.get(DECISIONS).is_some())
            .unwrap();
        let spec = &decisions["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(decisions["_aws"]["Timestamp"], 1_764_000_000_000u64);
        assert_eq!(spec["Namespace"], "SlackApprovals");
        assert_eq!(
            spec["Dimensions"],
            serde_json::json!([["Function", "outcome"]])
        );
        assert_eq!(spec["Metrics"][0]["Name"], DECISIONS);
        assert_eq!(decisions["Function"], "decision-worker");
        assert_eq!(decisions["outcome"], "counted");
        assert_eq!(decisions[DECISIONS], 2);
        let limited = documents
            .iter()
            .find(|d| d.get(SLACK_RATE_LIMITED).is_some())
            .unwrap();
        assert_eq!(limited["method"], "chat.update");

        let mut again = Vec::new();
        collector.flush(&mut again).unwrap();
        assert!(again.is_empty(), "each count is printed once");
    }
}
