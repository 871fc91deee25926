//! [`HttpConfig`]: the settings of the HTTP layer and their defaults.

use std::time::Duration;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Origins allowed by CORS (exact matches).
    pub cors_allowed_origins: Vec<String>,
    /// Longest a request may take before `408`.
    pub request_timeout: Duration,
    /// Static files (the web UI) served for paths no route matches; `None`: a JSON `404`.
    pub web_dir: Option<std::path::PathBuf>,
}

/// The development default of `CORS_ALLOWED_ORIGINS`.
pub const DEFAULT_CORS_ORIGINS: &str =
    "http://localhost:8080,http://127.0.0.1:8080,http://localhost:5173,http://localhost:4200";

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cors_allowed_origins: parse_origins(DEFAULT_CORS_ORIGINS),
            request_timeout: Duration::from_secs(30),
            web_dir: None,
        }
    }
}

/// Splits a comma-separated origin list, trimming blanks.
pub fn parse_origins(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect()
}
