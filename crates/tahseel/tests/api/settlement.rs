//! The acquirer's daily settlement file matched against the ledger.

use reqwest::{Method, StatusCode};
use serde_json::json;
use tahseel_core::time::to_local;
use uuid::Uuid;

use crate::helpers::{backends, APPROVE, SIM_SECRET};

#[tokio::test]
async fn a_settlement_file_is_reconciled_line_by_line() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let a = app.bill(&gdt, "traffic-fines", "850101234", "11.000").await;
        let b = app.bill(&gdt, "traffic-fines", "850101234", "22.000").await;
        let pa = app.pay_with_card(&[(&a, "11.000")], APPROVE).await;
        let pb = app.pay_with_card(&[(&b, "22.000")], APPROVE).await;
        let refund = app
            .call(
                Method::POST,
                &format!(
                    "/api/v1/agency/payments/{}/refunds",
                    pb["id"].as_str().unwrap()
                ),
                Some(&gdt),
                Some(&Uuid::new_v4().to_string()),
                Some(json!({"amount": "2.000", "reason": "overcharge"})),
            )
            .await;
        assert_eq!(refund.body["state"], "refunded");

        let day = to_local(chrono::Utc::now()).date_naive();
        let csv = app
            .client
            .get(format!("{}/api/settlements/{day}", app.sim_base))
            .bearer_auth(SIM_SECRET)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "{csv}");

        let dir = tempfile::tempdir().unwrap();
        let clean = dir.path().join("clean.csv");
        std::fs::write(&clean, &csv).unwrap();
        let out = app.cli(&[
            "reconcile",
            "settlement",
            clean.to_str().unwrap(),
            "--acquirer",
            "sim",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}: {stdout}", app.label);
        assert!(stdout.contains("3 matched, 0 mismatched"), "{stdout}");

        // One of each kind of mismatch.
        let a_ref = pa["id"].as_str().unwrap();
        let b_ref = pb["id"].as_str().unwrap();
        let mut tampered = vec![lines[0].to_owned()];
        for line in &lines[1..] {
            if line.contains(a_ref) {
                continue; // the acquirer "forgot" payment A
            }
            if line.contains(",capture,") && line.contains(b_ref) {
                tampered.push(line.replace("22.000", "21.999"));
            } else {
                tampered.push((*line).to_owned());
            }
        }
        tampered.push(format!(
            "{day},capture,sim_unknown,{},5.000,BHD",
            Uuid::new_v4()
        ));
        let bad = dir.path().join("bad.csv");
        std::fs::write(&bad, tampered.join("\n")).unwrap();
        let out = app.cli(&[
            "reconcile",
            "settlement",
            bad.to_str().unwrap(),
            "--acquirer",
            "sim",
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{}: {stdout}", app.label);
        let has = |kind: &str, what: &str| {
            stdout
                .lines()
                .any(|l| l.starts_with(kind) && l.contains(what))
        };
        assert!(has("MATCHED", "refund"), "{stdout}");
        assert!(
            has("AMOUNT MISMATCH", "acquirer 21.999 ledger 22.000"),
            "{stdout}"
        );
        assert!(has("MISSING ON OUR SIDE", "sim_unknown"), "{stdout}");
        assert!(has("MISSING AT ACQUIRER", "11.000"), "{stdout}");
        assert!(stdout.contains("1 matched, 3 mismatched"), "{stdout}");

        let kept = app
            .call(
                Method::GET,
                "/api/v1/admin/reconciliations",
                Some(&app.admin_key),
                None,
                None,
            )
            .await;
        assert_eq!(kept.status, StatusCode::OK);
        let newest = &kept.body["reconciliations"][0];
        assert_eq!(newest["mismatched"], 3, "{}: {:?}", app.label, kept.body);
        let one = app
            .call(
                Method::GET,
                &format!(
                    "/api/v1/admin/reconciliations/{}",
                    newest["id"].as_str().unwrap()
                ),
                Some(&app.admin_key),
                None,
                None,
            )
            .await;
        assert_eq!(one.body["report"]["amount_mismatches"][0]["line"], 2);
        app.assert_ledger_ok().await;
    }
}
