//! Delivering agency events to their webhooks: signed with HMAC-SHA256 over
//! `timestamp.body` with every secret the agency has active (so a rotation
//! loses nothing), retried on a schedule, dead-lettered after the last try.
//! Every node runs the dispatcher; an event is leased to one node at a time.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use crate::error::Result;
use crate::hub::Hub;
use crate::simulator::protocol::sign;
use crate::store::DueEvent;

pub const EVENT_ID_HEADER: &str = "tahseel-event-id";
pub const TIMESTAMP_HEADER: &str = "tahseel-timestamp";
pub const SIGNATURE_HEADER: &str = "tahseel-signature";

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The wait before each retry; after the last, the event is dead.
    pub retry_after: Vec<Duration>,
    pub timeout: Duration,
    /// Events taken per pass.
    pub batch: i64,
}

impl Default for WebhookConfig {
    /// At least what GOV.UK Pay does: 1 min, 5 min, 1 h, 1 day, 2 days.
    fn default() -> Self {
        WebhookConfig {
            retry_after: [60, 300, 3600, 86_400, 172_800]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
            timeout: Duration::from_secs(10),
            batch: 100,
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct DeliverySummary {
    pub delivered: u32,
    pub retrying: u32,
    pub dead: u32,
}

/// The body an agency receives.
#[derive(Serialize)]
struct Delivery<'a> {
    id: uuid::Uuid,
    seq: i64,
    kind: &'a str,
    agency: &'a str,
    bill_id: Option<uuid::Uuid>,
    created_at: chrono::DateTime<Utc>,
    data: &'a serde_json::Value,
}

pub struct Dispatcher {
    client: reqwest::Client,
    config: WebhookConfig,
}

impl Dispatcher {
    pub fn new(config: WebhookConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .expect("HTTP client builds");
        Dispatcher { client, config }
    }

    async fn send(&self, hub: &Hub, due: &DueEvent) -> std::result::Result<(), String> {
        let e = &due.event;
        let body = serde_json::to_vec(&Delivery {
            id: e.id,
            seq: e.seq,
            kind: &e.kind,
            agency: &due.agency,
            bill_id: e.bill_id,
            created_at: e.created_at,
            data: &e.data,
        })
        .expect("delivery serializes");
        let timestamp = Utc::now().timestamp().to_string();
        let secrets = hub
            .store
            .webhook_secrets(due.agency_id, Utc::now())
            .await
            .map_err(|e| e.to_string())?;
        if secrets.is_empty() {
            return Err("the agency has no webhook secret".into());
        }
        let signature: Vec<String> = secrets
            .iter()
            .map(|s| format!("v1={}", sign(s.as_bytes(), &timestamp, &body)))
            .collect();
        let resp = self
            .client
            .post(&due.url)
            .header(EVENT_ID_HEADER, e.id.to_string())
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(SIGNATURE_HEADER, signature.join(","))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("the webhook answered {}", resp.status()))
        }
    }

    /// One pass: every due event is sent once; failures are rescheduled.
    pub async fn deliver_once(&self, hub: &Hub) -> Result<DeliverySummary> {
        let mut summary = DeliverySummary::default();
        let now = Utc::now();
        // Long enough for one delivery to finish before another node may try.
        let lease = now + self.config.timeout * 3;
        for due in hub.store.due_events(now, self.config.batch).await? {
            if !hub.store.claim_event(due.event.seq, now, lease).await? {
                continue;
            }
            match self.send(hub, &due).await {
                Ok(()) => {
                    hub.store.event_delivered(due.event.seq).await?;
                    summary.delivered += 1;
                }
                Err(error) => {
                    let retry = self
                        .config
                        .retry_after
                        .get(due.event.attempts as usize)
                        .map(|wait| Utc::now() + *wait);
                    if retry.is_some() {
                        summary.retrying += 1;
                    } else {
                        summary.dead += 1;
                        tracing::warn!(event = %due.event.id, agency = %due.agency, %error, "webhook event dead-lettered");
                    }
                    hub.store.event_failed(due.event.seq, &error, retry).await?;
                }
            }
        }
        Ok(summary)
    }

    /// Runs a pass every `every` until the process ends.
    pub async fn run(self, hub: Arc<Hub>, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = self.deliver_once(&hub).await {
                tracing::warn!(error = %e, "webhook pass failed");
            }
        }
    }
}
