//! A hub node killed with SIGKILL between the acquirer's approval and its
//! notice: after a restart the payment ends captured exactly once.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tahseel::simulator::Faults;
use uuid::Uuid;

use crate::helpers::{backends, TestApp, APPROVE, SIM_SECRET};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `tahseel serve` as its own process over the test's database.
async fn spawn_node(app: &TestApp, port: u16) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tahseel"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--acquirer",
            &format!("sim={}", app.sim_base),
            "--acquirer-secret",
            &format!("sim={SIM_SECRET}"),
            "--reconcile-every-ms",
            "200",
            "--reconcile-after-ms",
            "300",
        ])
        .env("DATABASE_URL", &app.db_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if let Ok(r) = app
            .client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if r.status() == StatusCode::OK {
                return child;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("tahseel serve did not become ready");
}

#[tokio::test]
async fn a_node_killed_before_the_notice_arrives_captures_exactly_once_after_restart() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "60.000").await;
        let port = free_port();
        let mut node = spawn_node(&app, port).await;
        let node_url = format!("http://127.0.0.1:{port}");

        let created = app
            .client
            .post(format!("{node_url}/api/v1/payments"))
            .header("Idempotency-Key", Uuid::new_v4().to_string())
            .json(&json!({"channel": "kiosk", "method": "debit", "lines": [{"bill_id": fine, "amount": "60.000"}]}))
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap();
        let id = created["id"].as_str().unwrap().to_owned();

        // The acquirer approves now and sends its notice a little later.
        app.sim.set_faults(Faults {
            delay_callback_ms: 300,
            ..Faults::default()
        });
        assert_eq!(
            app.submit_card(created["next_url"].as_str().unwrap(), APPROVE)
                .await,
            StatusCode::SEE_OTHER
        );
        node.kill().unwrap(); // SIGKILL
        node.wait().unwrap();
        assert_eq!(
            app.payment(&id).await["state"],
            "pending",
            "{}: nothing was applied before the kill",
            app.label
        );

        // The notice finds the node down; its retries and the restarted
        // node's reconciler race to apply the approval.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut node = spawn_node(&app, port).await;
        let mut state = String::new();
        for _ in 0..100 {
            state = app.payment(&id).await["state"].as_str().unwrap().to_owned();
            if state == "captured" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(state, "captured", "{}", app.label);
        // Let any late retry of the notice arrive, then count.
        tokio::time::sleep(Duration::from_secs(2)).await;
        node.kill().unwrap();
        node.wait().unwrap();
        assert_eq!(
            app.balance("acquirer:sim:clearing").await,
            60_000,
            "{}: captured exactly once",
            app.label
        );
        assert_eq!(app.bill_as(&gdt, &fine).await["amount_paid"], "60.000");
        app.assert_ledger_ok().await;
    }
}
