//! `iot-sim`: parse the command line, drive the targets, write the reports.

use clap::Parser as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = iot_sim::cli::Cli::parse();
    match iot_sim::cli::execute(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("iot-sim: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
