//! Tracing setup shared by both binaries: JSON lines by default, readable
//! text with `LOG_FORMAT=pretty`, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let pretty = std::env::var("LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("pretty"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    // A second init (tests starting several apps) keeps the first subscriber.
    let _ = if pretty {
        builder.try_init()
    } else {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    };
}
