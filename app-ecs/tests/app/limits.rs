//! What bounds the resources one client can take: the sensor series cap of `/metrics`.

use serde_json::json;

use crate::common::*;

/// `METRICS_MAX_SERIES` holds over HTTP: runs beyond it evict the older ones, and the evictions
/// are counted.
#[tokio::test]
async fn the_series_cap_evicts_older_runs() {
    let mut config = config();
    config.metrics_max_series = 12;
    let app = Running::start(&config).await;
    let sensors = ["s-1", "s-2", "s-3", "s-4"];
    let mut runs = Vec::new();
    for _ in 0..3 {
        let run = start_run(&app, "dave", &sensors).await;
        for sensor in sensors {
            let reading = json!({"sensorId": sensor, "type": "temperature", "reading": 1.5});
            assert_eq!(post_reading(&app, "dave", &run, reading).await, 201);
        }
        finish_run(&app, "dave", &run).await;
        runs.push(run);
    }

    let text = scrape(&app, "/metrics").await;
    let exposed: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("sensor_data_"))
        .collect();
    assert_eq!(exposed.len(), 8, "{text}");
    assert!(exposed.iter().all(|l| l.contains(&runs[2])), "{text}");
    assert!(text.contains("sensor_series_evicted_total 16\n"), "{text}");
    app.stop().await;
}
