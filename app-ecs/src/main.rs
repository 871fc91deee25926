//! The `app-ecs` binary: parse the configuration, install logging, bind, serve.

use anyhow::Context as _;
use app_ecs::Config;
use clap::Parser as _;

// mimalloc rather than the C library's allocator: a request makes many small, short-lived
// allocations on several worker threads, which mimalloc serves with less CPU (`BEFORE=<rev>
// bench/run` compares), and musl's allocator (the container image) is slower still. Built without
// transparent huge pages (`no_thp`): backing its arenas with huge pages made the server's resident
// memory grow by megabytes for nothing.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if config.health_check {
        let healthy = app_ecs::probe_health(config.port, std::time::Duration::from_secs(2)).await;
        std::process::exit(if healthy { 0 } else { 1 });
    }
    app_ecs::init_tracing(config.log_format)?;
    let listener = tokio::net::TcpListener::bind((config.bind_address, config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.bind_address, config.port))?;
    let result = app_ecs::serve(&config, listener).await;
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "app-ecs failed");
    }
    result
}
