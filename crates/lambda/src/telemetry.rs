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
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                // JSON lines are read by CloudWatch and log files, never by a terminal, and
                // this crate builds without the `ansi` feature (`with_ansi(true)` would
                // panic in a debug build). Without this, any binary that also links the
                // feature (the dev server) would write colour codes into the log.
                .with_ansi(false)
                .with_current_span(false)
                .without_time()
                .with_target(false),
        )
        .with(filter_from(std::env::var("RUST_LOG").ok().as_deref()))
        .try_init();
}

/// The filter `RUST_LOG` names; unset or unreadable, `info`.
fn filter_from(directives: Option<&str>) -> Targets {
    directives
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO))
}

#[cfg(test)]
mod tests {
    use super::*;

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
