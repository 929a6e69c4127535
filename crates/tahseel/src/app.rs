//! Wiring: a store, its acquirers, the reconciler and the HTTP server, as
//! `serve` and the tests start them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tahseel_core::payment::Method;
use tahseel_core::Fils;

use crate::acquirer::simulated::SimulatedAcquirer;
use crate::acquirer::Acquirers;
use crate::error::{Error, Result};
use crate::hub::{Hub, ReconcileConfig};
use crate::store::Store;

/// How long Tahseel waits for an acquirer's answer.
pub const ACQUIRER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a payer waits at most for an agency's system to present a bill.
pub const AGENCY_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// An acquirer this node talks to.
#[derive(Debug, Clone)]
pub struct AcquirerSetting {
    pub name: String,
    pub url: String,
    pub secret: String,
}

#[derive(Debug, Clone, Default)]
pub struct HubConfig {
    /// The URL payers' browsers and acquirers reach this node at
    /// (default: `http://` and the bound address).
    pub public_url: Option<String>,
    pub acquirers: Vec<AcquirerSetting>,
    /// Method → acquirer name; methods left out go to the first acquirer.
    pub routes: Vec<(Method, String)>,
    pub fees: Vec<(Method, Fils)>,
    /// How long to wait for an agency's bill endpoint (default [`AGENCY_FETCH_TIMEOUT`]).
    pub agency_fetch_timeout: Option<Duration>,
    /// How long to wait for an acquirer's answer (default [`ACQUIRER_TIMEOUT`]).
    pub acquirer_timeout: Option<Duration>,
    /// How often webhook events are sent; `None` leaves it off.
    pub webhook_every: Option<Duration>,
    pub webhooks: crate::webhooks::WebhookConfig,
    /// How often the reconciler runs; `None` leaves it off.
    pub reconcile_every: Option<Duration>,
    pub reconcile: ReconcileConfig,
    pub portal: crate::portal::PortalConfig,
    /// Group commit: the most payment writes (new payments, payments sent
    /// to the acquirer, acquirer answers) one transaction carries; `None`
    /// gives each its own transaction.
    pub group_commit: Option<usize>,
}

/// Builds the hub: connectors for each acquirer, routes and fees.
pub fn hub(store: Store, public_url: &str, config: &HubConfig) -> Result<Hub> {
    let mut acquirers = Acquirers::default();
    for a in &config.acquirers {
        let timeout = config.acquirer_timeout.unwrap_or(ACQUIRER_TIMEOUT);
        acquirers.add(Arc::new(SimulatedAcquirer::new(
            &a.name, &a.url, &a.secret, timeout,
        )));
    }
    if let Some(first) = config.acquirers.first() {
        for method in [Method::Debit, Method::Credit, Method::Wallet] {
            acquirers.route(method, &first.name)?;
        }
    }
    for (method, name) in &config.routes {
        acquirers.route(*method, name)?;
    }
    for (method, fee) in &config.fees {
        if fee.is_negative() {
            return Err(Error::Invalid(format!(
                "fee for {method} must not be negative"
            )));
        }
        acquirers.set_fee(*method, *fee);
    }
    let agency_client = reqwest::Client::builder()
        .timeout(config.agency_fetch_timeout.unwrap_or(AGENCY_FETCH_TIMEOUT))
        .build()
        .expect("HTTP client builds");
    if let Some(max_batch) = config.group_commit {
        store.start_group_commit(max_batch);
    }
    Ok(Hub {
        store,
        acquirers,
        public_url: public_url.trim_end_matches('/').to_owned(),
        agency_client,
        portal: config.portal.clone(),
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
    config: HubConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let mut config = config;
    if config.portal.dev_idp && config.portal.oidc.is_none() {
        config.portal.oidc = Some(crate::portal::dev_idp::config(&store, &public_url).await?);
    }
    let hub = Arc::new(hub(store, &public_url, &config)?);
    if let Some(every) = config.reconcile_every {
        tokio::spawn(hub.clone().run_reconciler(every, config.reconcile));
    }
    if let Some(every) = config.webhook_every {
        tokio::spawn(
            crate::webhooks::Dispatcher::new(config.webhooks.clone()).run(hub.clone(), every),
        );
    }
    let task = tokio::spawn(crate::http::serve(listener, hub.clone(), shutdown));
    Ok(Running { addr, hub, task })
}
