use tracing_subscriber::EnvFilter;

/// Logs to stderr. `RUST_LOG` wins over `GATEHOUSE_LOG` when set.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
