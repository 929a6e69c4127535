use uuid::Uuid;

use crate::helpers::{backends, APPROVE};

#[tokio::test]
async fn ledger_verify_passes_on_a_sound_ledger_and_names_a_corrupted_entry() {
    for app in backends().await {
        let gdt = app.agency_key("GDT").await;
        let fine = app.bill(&gdt, "traffic-fines", "850101234", "8.000").await;
        let paid = app.pay_with_card(&[(&fine, "8.000")], APPROVE).await;
        assert_eq!(paid["state"], "captured");
        app.assert_ledger_ok().await;

        // Entries cannot be edited in place...
        let edit = app.exec("UPDATE postings SET amount_fils = 1").await;
        assert!(edit.is_err(), "{}: the ledger is append-only", app.label);

        // ...but a rogue posting appended to an entry unbalances it.
        let corrupt = "INSERT INTO postings (entry_id, account, side, amount_fils) \
                       SELECT MIN(id), 'agency:GDT:payable', 'credit', 1 FROM journal_entries";
        app.exec(corrupt).await.unwrap();
        let out = app.cli(&["ledger", "verify"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{}: {stdout}", app.label);
        assert!(
            stdout.contains("entry 1 does not balance"),
            "{}: {stdout}",
            app.label
        );
        assert!(
            stdout.contains("account agency:GDT:payable"),
            "{}: {stdout}",
            app.label
        );
        let _ = Uuid::nil();
    }
}
