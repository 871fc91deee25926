//! The SDK's HTTP client with the trust store the endpoint needs. The SDK's default client
//! (rustls on aws-lc, proxies from the environment) trusts the system's CA store, which it reads
//! and parses in full (about 150 certificates on Debian) before its first request: a large part
//! of a Lambda cold start. DynamoDB's endpoints all chain to the Amazon Trust Services roots, so
//! AWS needs only those five (`certs/amazon-roots.pem`); a plain-HTTP emulator needs none; a
//! custom HTTPS endpoint keeps the system store.

use aws_sdk_dynamodb::config::SharedHttpClient;
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};

/// The roots of Amazon Trust Services, PEM.
pub(crate) const AMAZON_ROOTS: &[u8] = include_bytes!("../certs/amazon-roots.pem");

/// Which certificates the client trusts for `endpoint` (`None`: AWS).
pub(crate) fn trust_store(endpoint: Option<&str>) -> TrustStore {
    match endpoint {
        None => TrustStore::empty().with_pem_certificate(AMAZON_ROOTS),
        Some(url) if url.starts_with("http://") => TrustStore::empty(),
        Some(_) => TrustStore::default(),
    }
}

/// The SDK's default HTTPS client as `aws-config` builds it for the latest behaviour version
/// (proxies from the environment), trusting [`trust_store`]`(endpoint)`.
pub(crate) fn http_client(endpoint: Option<&str>) -> SharedHttpClient {
    let context = TlsContext::builder()
        .with_trust_store(trust_store(endpoint))
        .build();
    let Ok(context) = context else {
        return Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
    };
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;

    use super::*;

    #[test]
    fn the_amazon_bundle_holds_five_parsable_roots() {
        let roots = CertificateDer::pem_slice_iter(AMAZON_ROOTS)
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(roots.len(), 5);
    }

    #[test]
    fn the_trust_store_follows_the_endpoint() {
        let aws = format!("{:?}", trust_store(None));
        assert!(aws.contains("enable_native_roots: false"), "{aws}");
        assert_eq!(aws.matches("CertificatePEM").count(), 1, "{aws}");
        let emulator = format!("{:?}", trust_store(Some("http://127.0.0.1:4566")));
        assert!(
            emulator.contains("enable_native_roots: false"),
            "{emulator}"
        );
        assert_eq!(emulator.matches("CertificatePEM").count(), 0, "{emulator}");
        let custom = format!("{:?}", trust_store(Some("https://dynamodb.internal")));
        assert!(custom.contains("enable_native_roots: true"), "{custom}");
    }
}
