//! Structured logging set-up shared by every binary.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// JSON logs for CloudWatch, filtered by `RUST_LOG` (default `info`); safe to call twice.
///
/// `RUST_LOG` takes `level` and `target=level` directives, comma-separated. A `Targets`
/// filter rather than `EnvFilter`: it needs no regex engine, which keeps about a megabyte
/// out of every function.
pub fn init() {
    let _ = tracing_subscriber::registry()
        .with(json_lines(std::io::stdout))
        .with(filter_from(std::env::var("RUST_LOG").ok().as_deref()))
        .try_init();
}

/// [`init`], writing to `writer` instead of stdout: the tests keep the logs of a whole run
/// in a file, which is then searched for secrets.
pub fn init_to<W>(writer: W)
where
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::registry()
        .with(json_lines(writer))
        .with(filter_from(std::env::var("RUST_LOG").ok().as_deref()))
        .try_init();
}

/// One JSON object a line, written by `writer`.
fn json_lines<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'writer> tracing_subscriber::fmt::MakeWriter<'writer> + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        // JSON lines are read by CloudWatch and log files, never by a terminal, and
        // this crate builds without the `ansi` feature (`with_ansi(true)` would
        // panic in a debug build). Without this, any binary that also links the
        // feature (the dev server) would write colour codes into the log.
        .with_ansi(false)
        // Each line carries its spans' fields: the Lambda runtime's span with the
        // invocation's `requestId`, and ours with the request, command, workspace and
        // tenant it is about.
        .with_current_span(false)
        .with_span_list(true)
        .without_time()
        .with_target(false)
        .with_writer(writer)
}

/// The filter `RUST_LOG` names; unset or unreadable, `info`.
fn filter_from(directives: Option<&str>) -> Targets {
    directives
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_the_request_id_and_the_ids_of_its_spans() {
        let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = lines.clone();
        let writer = move || SharedBuffer(sink.clone());
        let subscriber = tracing_subscriber::registry().with(json_lines(writer));
        tracing::subscriber::with_default(subscriber, || {
            let invoke = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _invoke = invoke.enter();
            let record = tracing::info_span!(
                "record",
                approval_id = tracing::field::Empty,
                command_id = "T1:U1:1.0:apr_1"
            );
            record.record("approval_id", "apr_1");
            let _record = record.enter();
            tracing::info!(outcome = "counted", "decision command done");
        });
        let written = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(written.trim()).unwrap();
        assert_eq!(line["fields"]["message"], "decision command done");
        assert_eq!(line["spans"][0]["requestId"], "req-1");
        assert_eq!(line["spans"][1]["approval_id"], "apr_1");
        assert_eq!(line["spans"][1]["command_id"], "T1:U1:1.0:apr_1");
    }

    /// A writer into memory the test reads back.
    struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedBuffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn rust_log_directives_set_levels_and_garbage_falls_back_to_info() {
        let filter = filter_from(Some("warn,approvals_core=debug"));
        assert_eq!(filter.default_level(), Some(LevelFilter::WARN));
        assert!(filter.would_enable("approvals_core::usecases", &tracing::Level::DEBUG));
        assert_eq!(
            filter_from(Some("approvals=loud")).default_level(),
            Some(LevelFilter::INFO)
        );
        assert_eq!(filter_from(None).default_level(), Some(LevelFilter::INFO));
    }
}
