//! Reports from the rollups: period edges in Bahrain time, imports that are
//! all or nothing, totals that equal the ledger, and the article's figures.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{backends, TestApp, APPROVE};

const HEADER: &str = "paid_at,agency,service,channel,method,amount,reference";

async fn report(app: &TestApp, query: &str) -> Value {
    let r = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/reports?{query}"),
            Some(&app.admin_key),
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}: {:?}", app.label, r.body);
    r.body
}

fn write(dir: &tempfile::TempDir, name: &str, lines: &[&str]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("{HEADER}\n{}\n", lines.join("\n"))).unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test]
async fn period_edges_are_in_bahrain_time() {
    for app in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let file = write(
            &dir,
            "edges.csv",
            &[
                // 22:30 UTC on 30 June is 01:30 on 1 July in Bahrain.
                "2018-06-30T22:30:00Z,GDT,traffic-fines,portal,debit,10.000,EDGE-1",
                // 20:59:59 UTC is 23:59:59 in Bahrain: still June.
                "2018-06-30T20:59:59Z,GDT,traffic-fines,portal,debit,20.000,EDGE-2",
                "2018-01-01T00:30:00+03:00,GDT,traffic-fines,mobile,credit,5.000,EDGE-3",
                "2017-12-31T23:59:00+03:00,GDT,traffic-fines,mobile,credit,7.000,EDGE-4",
            ],
        );
        let out = app.cli(&["import", "payments", &file]);
        assert!(
            out.status.success(),
            "{}: {}",
            app.label,
            String::from_utf8_lossy(&out.stdout)
        );
        let june = report(&app, "period=2018-06").await;
        assert_eq!(june["total"]["amount"], "20.000", "{}", app.label);
        assert_eq!(june["total"]["count"], 1);
        let july = report(&app, "period=2018-07").await;
        assert_eq!(july["total"]["amount"], "10.000");
        let h1 = report(&app, "period=2018-H1&by=channel").await;
        assert_eq!(h1["total"]["amount"], "25.000");
        let y2017 = report(&app, "period=2017").await;
        assert_eq!(y2017["total"]["amount"], "7.000");
        let span = report(&app, "from=2017-12-31&to=2018-01-01").await;
        assert_eq!(span["total"]["count"], 2);
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn an_import_with_one_bad_line_imports_nothing_and_names_it() {
    for app in backends().await {
        let dir = tempfile::tempdir().unwrap();
        let good = [
            "2018-03-01T09:30:00+03:00,EWA,electricity-water,kiosk,cash,12.500,LEG-1",
            "2018-03-02T09:30:00+03:00,MOJ,enforcement-file,portal,debit,300.000,LEG-2",
        ];
        let bad_line = "2018-03-03T09:30:00+03:00,MOJ,enforcement-file,portal,debit,1.0001,LEG-3";
        let file = write(
            &dir,
            "bad.csv",
            &[
                good[0],
                bad_line,
                good[1],
                "2018-03-04,XXX,nope,fax,debit,1.000,LEG-4",
            ],
        );
        let out = app.cli(&["import", "payments", &file]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{}: {stdout}", app.label);
        assert!(
            stdout.contains("line 3: amount \"1.0001\" has more than three decimals"),
            "{stdout}"
        );
        assert!(stdout.contains("line 5:"), "{stdout}");
        assert!(
            !stdout.contains("line 2:") && !stdout.contains("line 4:"),
            "{stdout}"
        );
        assert_eq!(
            report(&app, "period=2018-03").await["total"]["count"],
            0,
            "nothing imported"
        );

        let file = write(&dir, "good.csv", &good);
        let out = app.cli(&["import", "payments", &file]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("imported 2 payment(s)"));
        let again = app.cli(&["import", "payments", &file]);
        assert!(String::from_utf8_lossy(&again.stdout)
            .contains("imported 0 payment(s); 2 were already there"));
        let march = report(&app, "period=2018-03&by=agency").await;
        assert_eq!(march["total"]["amount"], "312.500");
        assert_eq!(march["groups"][0]["key"], "MOJ");
        app.assert_ledger_ok().await;
    }
}

/// The capture credits to agency payables in [from, to), summed straight
/// from the postings: an independent check on what the rollups say.
async fn ledger_sum(app: &TestApp, from: &str, to: &str) -> i64 {
    let sql = "SELECT CAST(COALESCE(SUM(p.amount_fils), 0) AS BIGINT) FROM postings p JOIN journal_entries e ON e.id = p.entry_id \
               WHERE e.kind = 'capture' AND p.side = 'credit' AND e.posted_at >= $1 AND e.posted_at < $2";
    let from: chrono::DateTime<chrono::Utc> = from.parse().unwrap();
    let to: chrono::DateTime<chrono::Utc> = to.parse().unwrap();
    match &app.store {
        tahseel::store::Store::Sqlite(p, _) => sqlx::query_scalar(sql)
            .bind(from)
            .bind(to)
            .fetch_one(p)
            .await
            .unwrap(),
        tahseel::store::Store::Postgres(p, _) => sqlx::query_scalar(sql)
            .bind(from)
            .bind(to)
            .fetch_one(p)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn the_simulation_reproduces_the_article_and_reports_equal_the_ledger() {
    // CI runs the full scenario with the release binary; here a fiftieth of it.
    let scale = 0.02;
    for app in backends().await {
        let out = app.cli(&["simulate", "--scale", &scale.to_string(), "--seed", "7"]);
        assert!(
            out.status.success(),
            "{}: {}",
            app.label,
            String::from_utf8_lossy(&out.stderr)
        );
        let total = report(&app, "period=2018-H1").await;
        let t = &total["total"];
        let growth = t["amount_growth_pct"].as_f64().unwrap();
        assert!(
            (70.0..78.0).contains(&growth),
            "{}: about 74% more than H1 2017, got {growth}",
            app.label
        );
        let amount = tahseel_core::Fils::parse(t["amount"].as_str().unwrap())
            .unwrap()
            .as_i64();
        assert!(
            amount as f64 > 50_000_000_000.0 * scale,
            "{}: more than BHD 50 million at full size",
            app.label
        );
        assert!(t["count"].as_i64().unwrap() as f64 > 600_000.0 * scale);

        // Totals equal an independent sum over the ledger's entries (Bahrain days in UTC).
        let h1 = ledger_sum(&app, "2017-12-31T21:00:00Z", "2018-06-30T21:00:00Z").await;
        assert_eq!(amount, h1, "{}", app.label);
        let compare = tahseel_core::Fils::parse(t["compare_amount"].as_str().unwrap())
            .unwrap()
            .as_i64();
        assert_eq!(
            compare,
            ledger_sum(&app, "2016-12-31T21:00:00Z", "2017-06-30T21:00:00Z").await
        );

        let by_service = report(&app, "period=2018-H1&by=service").await;
        let multiple = |report: &Value, key: &str| {
            report["groups"]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["key"] == key)
                .unwrap()["count_multiple"]
                .as_f64()
                .unwrap()
        };
        let vehicles = multiple(&by_service, "GDT/vehicle-registration");
        assert!(
            (4.8..5.2).contains(&vehicles),
            "about five times: {vehicles}"
        );
        let enforcement = multiple(&by_service, "MOJ/enforcement-file");
        assert!(
            (1.9..2.3).contains(&enforcement),
            "about twice: {enforcement}"
        );
        let by_channel = report(&app, "period=2018-H1&by=channel").await;
        let mobile = multiple(&by_channel, "mobile");
        assert!(
            (2.8..3.2).contains(&mobile),
            "apps about three times: {mobile}"
        );
        let pairs = report(&app, "period=2018-H1&by=service,channel&format=json").await;
        assert!(pairs["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["key"] == "GDT/vehicle-registration|mobile"));

        let statement = report(&app, "period=2018-H1&statement=true&lang=en").await;
        let text = statement["statement"].as_str().unwrap();
        assert!(
            text.contains("January–June 2018") && text.contains("New vehicle registration"),
            "{text}"
        );
        let ar = report(&app, "period=2018-H1&statement=true&lang=ar").await;
        assert!(ar["statement"]
            .as_str()
            .unwrap()
            .contains("تسجيل المركبات الجديدة"));

        // Charts and the dashboard, from the same figures.
        let get = |path: String| {
            let app = &app;
            async move {
                app.client
                    .get(format!("{}{path}", app.base))
                    .bearer_auth(&app.admin_key)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let png =
            get("/api/v1/admin/charts?period=2018-H1&by=month&format=png&lang=en".into()).await;
        assert_eq!(png.headers()["content-type"], "image/png");
        assert!(png.bytes().await.unwrap().starts_with(b"\x89PNG"));
        let svg = get("/api/v1/admin/charts?period=2018-H1&by=service&lang=ar".into())
            .await
            .text()
            .await
            .unwrap();
        assert!(
            svg.starts_with("<svg") && svg.contains("تسجيل المركبات الجديدة"),
            "Arabic labels stay text in SVG"
        );
        let dashboard = get("/api/v1/admin/dashboard?period=2018-H1&lang=ar".into())
            .await
            .text()
            .await
            .unwrap();
        assert!(dashboard.contains("dir=\"rtl\"") && dashboard.matches("<svg").count() == 3);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("channels.svg");
        let out = app.cli(&[
            "report",
            "--period",
            "2018-H1",
            "--by",
            "channel",
            "--chart",
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        assert!(std::fs::read_to_string(&file)
            .unwrap()
            .contains("Smart-device apps"));

        let out = app.cli(&["rollups", "verify"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        app.assert_ledger_ok().await;
    }
}

#[tokio::test]
async fn live_captures_and_refunds_move_the_rollups_and_net_reports() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "30.000").await;
        let paid = app.pay_with_card(&[(&fine, "30.000")], APPROVE).await;
        let refund = app
            .call(
                Method::POST,
                &format!(
                    "/api/v1/agency/payments/{}/refunds",
                    paid["id"].as_str().unwrap()
                ),
                Some(&gdt),
                Some("r-1"),
                Some(serde_json::json!({"amount": "12.000", "reason": "reduced by appeal"})),
            )
            .await;
        assert_eq!(refund.body["state"], "refunded");
        let today = tahseel_core::time::to_local(chrono::Utc::now()).date_naive();
        let query = format!("from={today}&to={today}&by=service");
        let gross = report(&app, &query).await;
        assert_eq!(gross["total"]["amount"], "30.000", "{}", app.label);
        assert_eq!(gross["total"]["refunded"], "12.000");
        let net = report(&app, &format!("{query}&net=true")).await;
        assert_eq!(net["total"]["amount"], "18.000");
        assert_eq!(net["groups"][0]["key"], "GDT/traffic-fines");
        let csv = app
            .client
            .get(format!(
                "{}/api/v1/admin/reports?{query}&format=csv",
                app.base
            ))
            .bearer_auth(&app.admin_key)
            .send()
            .await
            .unwrap();
        assert!(csv
            .text()
            .await
            .unwrap()
            .starts_with("key,name_en,name_ar,amount"));

        // A rollup tampered with is found, and rebuilt from the ledger.
        let tamper = "UPDATE daily_rollups SET captured_fils = captured_fils + 1";
        app.exec(tamper).await.unwrap();
        let out = app.cli(&["rollups", "verify"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("GDT/traffic-fines"));
        assert!(app.cli(&["rollups", "rebuild"]).status.success());
        assert!(app.cli(&["rollups", "verify"]).status.success());
        assert_eq!(report(&app, &query).await["total"]["amount"], "30.000");

        let bad = app
            .call(
                Method::GET,
                "/api/v1/admin/reports?period=2018-H3",
                Some(&app.admin_key),
                None,
                None,
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        let bad = app
            .call(
                Method::GET,
                "/api/v1/admin/reports?period=2018&by=colour",
                Some(&app.admin_key),
                None,
                None,
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
}
