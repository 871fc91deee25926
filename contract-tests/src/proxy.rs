//! A TCP proxy on loopback that a test can cut and restore, to take a store away from a running
//! app and give it back: outages without touching the shared PostgreSQL or emulator.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Forwards `127.0.0.1:port` to an upstream address while it is up.
#[derive(Debug)]
pub struct TcpProxy {
    port: u16,
    upstream: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl TcpProxy {
    /// Starts forwarding a free local port to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let upstream = tokio::net::lookup_host(upstream)
            .await
            .expect("resolve upstream")
            .next()
            .expect("an upstream address");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let proxy = Self {
            port,
            upstream,
            tasks: Arc::new(Mutex::new(Vec::new())),
        };
        proxy.serve(listener);
        proxy
    }

    /// The local port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("proxy tasks").push(forward);
            }
        });
        self.tasks.lock().expect("proxy tasks").push(accept);
    }

    /// The outage: stops listening and drops every open connection (clients see resets, new
    /// connections are refused).
    pub fn cut(&self) {
        for task in self.tasks.lock().expect("proxy tasks").drain(..) {
            task.abort();
        }
    }

    /// The recovery: listens again on the same port.
    pub async fn restore(&self) {
        let mut tries = 0;
        let listener = loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => break listener,
                // The aborted accept task may not have released the port yet.
                Err(_) if tries < 100 => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("cannot listen again on {}: {e}", self.port),
            }
        };
        self.serve(listener);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
    }
}
