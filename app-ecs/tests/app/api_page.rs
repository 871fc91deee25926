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
