//! `/api/docs`: the browsable API page, served from the copy of Redoc compiled into the binary.

use crate::common::*;

#[tokio::test]
async fn the_api_page_and_its_script_come_from_the_binary_itself() {
    let app = Running::start(&config()).await;
    let c = client();

    let page = c.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"spec-url="openapi.json""#), "{html}");
    assert!(html.contains(r#"src="docs/redoc.standalone.js""#), "{html}");
    assert!(
        !html.contains("https://"),
        "no third-party URL in the page: {html}"
    );

    let script = c
        .get(app.url("/api/docs/redoc.standalone.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(
        script.bytes().await.unwrap().len() > 500_000,
        "the whole Redoc bundle"
    );
}

#[test]
fn the_startup_url_is_one_a_person_can_click() {
    let url = |a: &str| app_ecs::browsable_url(a.parse().unwrap());
    assert_eq!(url("0.0.0.0:8080"), "http://localhost:8080/");
    assert_eq!(url("[::]:8080"), "http://localhost:8080/");
    assert_eq!(url("127.0.0.1:3000"), "http://localhost:3000/");
    assert_eq!(url("192.0.2.7:8080"), "http://192.0.2.7:8080/");
}

/// The request examples of the OpenAPI document are accepted by the API itself, and the response
/// examples have the shape the API answers with.
#[tokio::test]
async fn the_openapi_examples_are_requests_the_api_accepts() {
    let app = Running::start(&config()).await;
    let c = client();
    let doc: serde_json::Value = c
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let example = |name: &str| doc["components"]["schemas"][name]["example"].clone();
    for name in [
        "RunJson",
        "RunPage",
        "ReadingJson",
        "ReadingPage",
        "BatchJson",
        "CanStartJson",
        "SummaryJson",
        "ErrorJson",
    ] {
        assert!(example(name).is_object(), "{name} has an example");
    }

    let post = |path: String, body: serde_json::Value| {
        c.post(app.url(&path)).header("x-user", "alice").json(&body)
    };
    let start = post("/api/runs/start".into(), example("StartRunBody"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 201);
    let run: serde_json::Value = start.json().await.unwrap();
    let id = run["id"].as_str().unwrap().to_string();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&run),
        keys(&example("RunJson")),
        "the run example has the run's fields"
    );

    let one = post("/api/sensors/data".into(), example("ReadingBody"))
        .header("x-run-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 201);
    let batch = post(format!("/api/runs/{id}/readings"), example("BatchBody"))
        .send()
        .await
        .unwrap();
    assert_eq!(batch.status(), 201, "{:?}", batch.text().await);
    let finish = post(format!("/api/runs/{id}/finish"), example("FinishRunBody"))
        .send()
        .await
        .unwrap();
    assert_eq!(finish.status(), 200);
    let finished: serde_json::Value = finish.json().await.unwrap();
    assert_eq!(finished["status"], "FAILED");
}
