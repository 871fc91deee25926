//! `app-lambda`: configuration from the environment, one-time initialisation, then the Lambda
//! runtime loop, on a single-threaded runtime: an instance serves one request at a time, so
//! worker threads would only add start-up work and cross-thread wake-ups. Everything else lives
//! in the library.

use clap::Parser as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = app_lambda::Config::parse();
    app_lambda::init_logging(config.log_format);
    let app = match app_lambda::build(&config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "initialisation failed");
            return Err(e.into());
        }
    };
    app_lambda::run(app).await
}
