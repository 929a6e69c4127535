//! Wiring: a store, its acquirers and the HTTP server, as `serve` and the
//! tests start them.

use std::net::SocketAddr;
use std::sync::Arc;

use tahseel_core::payment::Method;

use crate::acquirer::sim::SimAcquirer;
use crate::acquirer::Acquirers;
use crate::error::Result;
use crate::hub::Hub;
use crate::store::Store;

/// Builds the hub for a store, with the simulated acquirer taking every
/// card method and its card page served under `public_url`.
pub async fn hub(store: Store, public_url: &str) -> Result<Hub> {
    let public_url = public_url.trim_end_matches('/').to_owned();
    // Shared through the database so that every node verifies what any node signed.
    let secret = store.hub_secret("sim_acquirer").await?;
    let sim = Arc::new(SimAcquirer::new(
        secret.as_bytes(),
        &format!("{public_url}/sim/acquirer"),
    ));
    let mut acquirers = Acquirers::default();
    acquirers.add(
        sim.clone(),
        &[Method::Debit, Method::Credit, Method::Wallet],
    );
    Ok(Hub {
        store,
        acquirers,
        public_url,
        sim: Some(sim),
    })
}

/// A server running in the background of this process.
pub struct Running {
    pub addr: SocketAddr,
    pub hub: Arc<Hub>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Binds `listen` (port 0 picks a free port), then serves until `shutdown`.
pub async fn start(
    store: Store,
    listen: SocketAddr,
    public_url: Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let public_url = public_url.unwrap_or_else(|| format!("http://{addr}"));
    let hub = Arc::new(hub(store, &public_url).await?);
    let task = tokio::spawn(crate::http::serve(listener, hub.clone(), shutdown));
    Ok(Running { addr, hub, task })
}
