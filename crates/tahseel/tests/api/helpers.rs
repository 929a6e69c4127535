use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tahseel::app::{AcquirerSetting, HubConfig};
use tahseel::hub::{Hub, ReconcileConfig};
use tahseel::simulator::Simulator;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tahseel::store::Store;
use uuid::Uuid;

pub const APPROVE: &str = "4111111111111111";
pub const DECLINE: &str = "4000000000000002";

pub struct TestApp {
    pub label: &'static str,
    pub base: String,
    pub sim_base: String,
    pub hub: Arc<Hub>,
    pub sim: Arc<Simulator>,
    pub client: reqwest::Client,
    pub store: Store,
    pub db_url: String,
    pub admin_key: String,
    _dir: Option<tempfile::TempDir>,
}

/// One app per backend under test: SQLite always, PostgreSQL when
/// `TAHSEEL_TEST_DATABASE_URL` is set.
pub async fn backends() -> Vec<TestApp> {
    backends_with(|_| {}).await
}

/// Like [`backends`], with the hub's configuration adjusted by `adjust`.
pub async fn backends_with(adjust: impl Fn(&mut HubConfig)) -> Vec<TestApp> {
    let mut apps = vec![sqlite_app(&adjust).await];
    if let Ok(url) = std::env::var("TAHSEEL_TEST_DATABASE_URL") {
        if !url.is_empty() {
            apps.push(postgres_app(&url, &adjust).await);
        }
    }
    apps
}

async fn sqlite_app(adjust: &impl Fn(&mut HubConfig)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tahseel.db").display());
    start("sqlite", url, Some(dir), adjust).await
}

/// Creates a fresh database on the server named by `url`.
async fn postgres_app(url: &str, adjust: &impl Fn(&mut HubConfig)) -> TestApp {
    use sqlx::ConnectOptions;
    let name = format!("tahseel_t_{}", Uuid::new_v4().simple());
    let mut admin = sqlx::postgres::PgConnectOptions::from_str(url)
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (url, String::new()),
    };
    let base = head.rsplit_once('/').map(|(b, _)| b).unwrap_or(head);
    start("postgres", format!("{base}/{name}{query}"), None, adjust).await
}

/// The secret the test acquirer and the hub share.
pub const SIM_SECRET: &str = "test-acquirer-secret";

async fn start(
    label: &'static str,
    url: String,
    dir: Option<tempfile::TempDir>,
    adjust: &impl Fn(&mut HubConfig),
) -> TestApp {
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    tahseel::demo::load(&store).await.unwrap();
    let (_, admin_key) = store.create_api_key(None).await.unwrap();
    // The acquirer is a separate HTTP peer with its own port and state.
    let (sim_addr, sim, _) = tahseel::simulator::start(
        "127.0.0.1:0".parse().unwrap(),
        SIM_SECRET.into(),
        Duration::from_secs(900),
        None,
    )
    .await
    .unwrap();
    let mut config = HubConfig {
        acquirers: vec![AcquirerSetting {
            name: "sim".into(),
            url: format!("http://{sim_addr}"),
            secret: SIM_SECRET.into(),
        }],
        // The tests run the reconciler themselves, one pass at a time.
        reconcile_every: None,
        acquirer_timeout: Some(Duration::from_secs(2)),
        // As `serve` runs: notices share capture transactions.
        group_commit: Some(64),
        ..HubConfig::default()
    };
    adjust(&mut config);
    let running = tahseel::app::start(
        store.clone(),
        "127.0.0.1:0".parse().unwrap(),
        config,
        std::future::pending(),
    )
    .await
    .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        label,
        base: format!("http://{}", running.addr),
        sim_base: format!("http://{sim_addr}"),
        client,
        store,
        db_url: url,
        admin_key,
        hub: running.hub,
        sim,
        _dir: dir,
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The stable error code of an error reply.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        idem: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(i) = idem {
            req = req.header("Idempotency-Key", i);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None, None).await
    }

    pub async fn agency_key(&self, code: &str) -> String {
        self.store.create_api_key(Some(code)).await.unwrap().1
    }

    /// Creates a bill through the agency API and returns its id.
    pub async fn bill(&self, key: &str, service: &str, payer: &str, amount: &str) -> String {
        let reference = format!("REF-{}", Uuid::new_v4().simple());
        let r = self
            .call(
                Method::POST,
                "/api/v1/agency/bills",
                Some(key),
                None,
                Some(json!({"service": service, "reference": reference, "payer": payer, "amount": amount, "due_date": "2030-12-31"})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}: {:?}",
            self.label,
            r.body
        );
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn pay(&self, channel: &str, lines: &[(&str, &str)], idem: &str) -> Reply {
        let lines: Vec<Value> = lines
            .iter()
            .map(|(b, a)| json!({"bill_id": b, "amount": a}))
            .collect();
        self.call(
            Method::POST,
            "/api/v1/payments",
            None,
            Some(idem),
            Some(json!({"channel": channel, "method": "debit", "lines": lines})),
        )
        .await
    }

    /// Submits a card on the acquirer's page and follows nothing: returns the status.
    pub async fn submit_card(&self, next_url: &str, card: &str) -> StatusCode {
        self.client
            .post(next_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("card_number={card}&expiry=12%2F39&cvv=123"))
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Creates a payment and pays it with `card`; returns the payment as it ends.
    pub async fn pay_with_card(&self, lines: &[(&str, &str)], card: &str) -> Value {
        let created = self.pay("portal", lines, &Uuid::new_v4().to_string()).await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{}: {:?}",
            self.label,
            created.body
        );
        assert_eq!(created.body["state"], "pending");
        let next_url = created.body["next_url"].as_str().unwrap();
        assert_eq!(
            self.submit_card(next_url, card).await,
            StatusCode::SEE_OTHER
        );
        self.get(&format!(
            "/api/v1/payments/{}",
            created.body["id"].as_str().unwrap()
        ))
        .await
        .body
    }

    pub async fn bill_as(&self, key: &str, id: &str) -> Value {
        let r = self
            .call(
                Method::GET,
                &format!("/api/v1/agency/bills/{id}"),
                Some(key),
                None,
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}: {:?}", self.label, r.body);
        r.body
    }

    /// The ledger must balance after every scenario: checked through the
    /// admin API and through the `tahseel ledger verify` command.
    pub async fn assert_ledger_ok(&self) {
        let r = self
            .call(
                Method::GET,
                "/api/v1/admin/ledger/verify",
                Some(&self.admin_key),
                None,
                None,
            )
            .await;
        assert_eq!(r.body["ok"], true, "{}: {:?}", self.label, r.body);
        let out = self.cli(&["ledger", "verify"]);
        assert!(
            out.status.success(),
            "{}: {}",
            self.label,
            String::from_utf8_lossy(&out.stdout)
        );
    }

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_tahseel"))
            .args(args)
            .env("DATABASE_URL", &self.db_url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    }

    /// Runs raw SQL on the test's database, as an intruder or a bug would.
    pub async fn exec(&self, sql: &'static str) -> Result<(), sqlx::Error> {
        match &self.store {
            Store::Sqlite(p, _) => sqlx::query(sql).execute(p).await.map(|_| ()),
            Store::Postgres(p, _) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
    }

    /// One reconciler pass that looks at everything waiting, however recent.
    pub async fn reconcile(&self) -> tahseel::hub::ReconcileSummary {
        let now = ReconcileConfig {
            pending_after: Duration::ZERO,
            created_after: Duration::ZERO,
        };
        self.hub.reconcile_once(now).await.unwrap()
    }

    pub async fn payment(&self, id: &str) -> Value {
        self.get(&format!("/api/v1/payments/{id}")).await.body
    }

    /// The net debit of a ledger account, in fils.
    pub async fn balance(&self, account: &str) -> i64 {
        let r = self
            .call(
                Method::GET,
                "/api/v1/admin/ledger/balances",
                Some(&self.admin_key),
                None,
                None,
            )
            .await;
        r.body["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["account"] == account)
            .map(|a| {
                tahseel_core::Fils::parse(a["net_debit"].as_str().unwrap())
                    .unwrap()
                    .as_i64()
            })
            .unwrap_or(0)
    }
}
