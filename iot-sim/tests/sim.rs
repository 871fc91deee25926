//! `iot-sim` (the built binary) against the real `app-ecs` app on a real socket, on the in-memory
//! store and on a fresh PostgreSQL database: what it reports matches what the API stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use test_support::postgres::TestDatabase;

struct Server {
    url: String,
    task: tokio::task::JoinHandle<()>,
    database: Option<TestDatabase>,
}

impl Server {
    async fn stop(self) {
        self.task.abort();
        if let Some(database) = self.database {
            database.drop().await;
        }
    }
}

async fn app_ecs(database: Option<TestDatabase>) -> Server {
    let mut args = vec!["app-ecs".to_string()];
    if let Some(db) = &database {
        args.extend(["--database-url".to_string(), db.url.clone()]);
    }
    let config = app_ecs::Config::from_args_without_env(&args).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        app_ecs::serve(&config, listener).await.unwrap();
    });
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if client.get(format!("{url}/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Server {
        url,
        task,
        database,
    }
}

async fn iot_sim(args: Vec<String>) -> (Output, Value) {
    let dir = std::env::temp_dir().join(format!("iot-sim-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, html) = (dir.join("r.json"), dir.join("r.html"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iot-sim"));
    cmd.args(&args)
        .arg("--json")
        .arg(&json)
        .arg("--html")
        .arg(&html)
        .stdin(Stdio::null());
    let output = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap_or_default())
        .unwrap_or_else(|e| {
            panic!(
                "no JSON report ({e}); stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<svg") && page.contains("Latency CDF") && !page.contains("src=\"http"));
    std::fs::remove_dir_all(&dir).ok();
    (output, report)
}

async fn stored(url: &str, run_id: &str) -> (Value, usize) {
    let client = reqwest::Client::new();
    let run: Value = client
        .get(format!("{url}/api/runs/{run_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csv = client
        .get(format!("{url}/api/runs/{run_id}/readings"))
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    (run, csv.lines().count() - 1)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(ToString::to_string).collect()
}

async fn two_targets_closed_and_batched(server: &Server) {
    let mut args = strings(&[
        "run",
        "--sensors",
        "3",
        "--readings",
        "7",
        "--concurrency",
        "3",
        "--parallel",
    ]);
    args.extend(["--target".into(), format!("a={}", server.url)]);
    args.extend(["--target".into(), format!("b={}", server.url)]);
    let (output, report) = iot_sim(args).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report["schema"], "iot-sim/1");
    let targets = report["scenarios"][0]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    for t in targets {
        assert_eq!(
            (t["requests"].as_u64(), t["readings"].as_u64()),
            (Some(21), Some(21))
        );
        assert_eq!(
            (t["errors"].as_u64(), t["status"].as_str()),
            (Some(0), Some("SUCCESS"))
        );
        assert_eq!(t["statuses"]["201"], 21);
        assert!(t["latencyMs"]["p50"].as_f64().unwrap() > 0.0);
        assert!(t["latencyMs"]["p50"].as_f64() <= t["latencyMs"]["max"].as_f64());
        assert_eq!(
            t["backend"]["requestsWithTiming"], 21,
            "every answer had Server-Timing"
        );
        let (run, readings) = stored(&server.url, t["runId"].as_str().unwrap()).await;
        assert_eq!((run["status"].as_str(), readings), (Some("SUCCESS"), 21));
    }
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("p99.9") && table.contains("break-even"),
        "{table}"
    );
    assert!(
        report["scenarios"][0]["cost"]["ecs"]["perMillionReadings"]
            .as_f64()
            .unwrap()
            > 0.0
    );
}

async fn open_loop_batches(server: &Server) {
    let mut args = strings(&[
        "run",
        "--sensors",
        "4",
        "--readings",
        "10",
        "--batch",
        "6",
        "--rate",
        "20",
    ]);
    args.extend(["--target".into(), format!("ecs={}", server.url)]);
    let (output, report) = iot_sim(args).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let t = &report["scenarios"][0]["targets"][0];
    assert_eq!(report["scenarios"][0]["workload"]["pace"]["kind"], "open");
    assert_eq!(
        (t["requests"].as_u64(), t["readings"].as_u64()),
        (Some(7), Some(40))
    );
    // 7 requests due every 50 ms: the run lasts at least 300 ms.
    assert!(t["durationSecs"].as_f64().unwrap() >= 0.3);
    let (_, readings) = stored(&server.url, t["runId"].as_str().unwrap()).await;
    assert_eq!(readings, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drives_app_ecs_on_the_in_memory_store() {
    let server = app_ecs(None).await;
    two_targets_closed_and_batched(&server).await;
    open_loop_batches(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drives_app_ecs_on_postgres() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let server = app_ecs(Some(database)).await;
    two_targets_closed_and_batched(&server).await;
    open_loop_batches(&server).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_finishes_the_runs_failed_and_reports_what_was_measured() {
    let server = app_ecs(None).await;
    let dir = std::env::temp_dir().join(format!("iot-sim-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let child = Command::new(env!("CARGO_BIN_EXE_iot-sim"))
        .args([
            "run",
            "--sensors",
            "2",
            "--readings",
            "1000",
            "--rate",
            "20",
            "--target",
        ])
        .arg(format!("ecs={}", server.url))
        .arg("--json")
        .arg(&json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "interrupted runs are no success"
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let t = &report["scenarios"][0]["targets"][0];
    assert_eq!(
        (t["interrupted"].as_bool(), t["status"].as_str()),
        (Some(true), Some("FAILED"))
    );
    let sent = t["requests"].as_u64().unwrap();
    assert!(sent > 0 && sent < 2000, "{sent}");
    let (run, readings) = stored(&server.url, t["runId"].as_str().unwrap()).await;
    assert_eq!(run["status"], "FAILED");
    assert!(
        run["errorMessage"]
            .as_str()
            .unwrap()
            .contains("interrupted")
    );
    assert_eq!(readings as u64, t["readings"].as_u64().unwrap());
    std::fs::remove_dir_all(&dir).ok();
    server.stop().await;
}
