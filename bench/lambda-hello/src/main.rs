//! `lambda-hello`: the baseline `bench/lambda` compares `app-lambda` with. The smallest
//! `lambda_http` function there is, on the same single-threaded runtime and the same release
//! profile: it answers every HTTP event with `200 {"ok":true}`, touching neither the request
//! nor any store, and sets up nothing else (no logging, no SDK).

use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        let response = Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"ok":true}"#))?;
        Ok::<_, Error>(response)
    }))
    .await
}
