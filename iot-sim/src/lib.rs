//! # iot-sim
//!
//! The load driver of iot-playground: the same simulated fleet sent to any number of backends
//! through the public API only (start a run, send readings, finish), with latency in HDR
//! histograms, throughput, errors and retries, the backends' own cost drivers read from
//! `Server-Timing`, and the cost model ([`cost`]) that the web page shares.
//!
//! ```text
//! iot-sim run --target ecs=http://127.0.0.1:8080 --target serverless=http://127.0.0.1:9000/lambda-url/app-lambda \
//!     --sensors 10 --readings 100 --concurrency 8 --parallel --json run.json --html run.html
//! iot-sim compare --target ecs=… --target serverless=… --json compare.json --html compare.html
//! ```
//!
//! It sits outside the hexagon: a client of the HTTP API, like the web page.

pub mod cli;
pub mod cost;
pub mod drive;
pub mod report;
pub mod timing;
