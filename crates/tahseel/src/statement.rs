//! Daily settlement statements: per agency and Bahrain business day, what
//! was collected (by service and channel), refunded and netted, with the
//! payable balance before and after — as JSON, CSV and ISO 20022
//! camt.053.001.02 — and `settle`, which pays each day out once.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use serde::Serialize;
use tahseel_core::agency::{AgencyCode, Names};
use tahseel_core::time::{to_local, HUB_TIME_ZONE};
use tahseel_core::Fils;

use crate::error::{Error, Result};
use crate::store::{PayableMovement, Store};

#[derive(Debug, Clone, Serialize)]
pub struct ServiceChannelTotal {
    pub service: String,
    pub channel: String,
    pub collections_count: i64,
    pub collections: Fils,
    pub refunds_count: i64,
    pub refunds: Fils,
}

#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub agency: String,
    pub agency_name: Names,
    pub iban: Option<String>,
    pub business_day: NaiveDate,
    pub opening_balance: Fils,
    pub collections: Fils,
    pub refunds: Fils,
    /// Fees are charged to payers on top of their bills, never taken from an agency.
    pub fees_deducted: Fils,
    /// Collections less refunds: what this day adds to what is owed.
    pub net_payable: Fils,
    /// Payouts to the agency's bank booked this day (settlements of earlier days).
    pub settled: Fils,
    pub closing_balance: Fils,
    pub by_service_channel: Vec<ServiceChannelTotal>,
    pub entries: Vec<PayableMovement>,
}

fn day_bounds(day: NaiveDate) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let start = HUB_TIME_ZONE
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("no DST in Bahrain")
        .to_utc();
    (start, start + chrono::Duration::days(1))
}

pub async fn build(store: &Store, agency_code: &str, day: NaiveDate) -> Result<Statement> {
    let agency = store.agency_by_code(agency_code).await?;
    let code = AgencyCode::parse(&agency.code)?;
    let (start, end) = day_bounds(day);
    let opening = store.payable_before(&code, start).await?;
    let entries = store.payable_movements(&code, start, end).await?;
    let mut collections = Fils::ZERO;
    let mut refunds = Fils::ZERO;
    let mut settled = Fils::ZERO;
    let mut groups: BTreeMap<(String, String), ServiceChannelTotal> = BTreeMap::new();
    for m in &entries {
        let key = (
            m.service.clone().unwrap_or_default(),
            m.channel.clone().unwrap_or_default(),
        );
        let group = groups
            .entry(key.clone())
            .or_insert_with(|| ServiceChannelTotal {
                service: key.0.clone(),
                channel: key.1.clone(),
                collections_count: 0,
                collections: Fils::ZERO,
                refunds_count: 0,
                refunds: Fils::ZERO,
            });
        match (m.kind.as_str(), m.side.as_str()) {
            ("capture", "credit") => {
                collections = collections.checked_add(m.amount)?;
                group.collections_count += 1;
                group.collections = group.collections.checked_add(m.amount)?;
            }
            ("refund_requested", "debit") => {
                refunds = refunds.checked_add(m.amount)?;
                group.refunds_count += 1;
                group.refunds = group.refunds.checked_add(m.amount)?;
            }
            // A refund the acquirer refused comes back to the agency.
            ("refund_reversed", "credit") => {
                refunds = refunds.checked_sub(m.amount)?;
                group.refunds_count -= 1;
                group.refunds = group.refunds.checked_sub(m.amount)?;
            }
            ("settlement", "debit") => settled = settled.checked_add(m.amount)?,
            (kind, side) => {
                return Err(Error::Invalid(format!(
                    "unexpected {side} of a {kind} entry on a payable account"
                )))
            }
        }
    }
    groups.retain(|_, g| g.collections_count != 0 || g.refunds_count != 0);
    let net = collections.checked_sub(refunds)?;
    Ok(Statement {
        agency: agency.code,
        agency_name: agency.name,
        iban: agency.iban,
        business_day: day,
        opening_balance: opening,
        collections,
        refunds,
        fees_deducted: Fils::ZERO,
        net_payable: net,
        settled,
        closing_balance: opening.checked_add(net)?.checked_sub(settled)?,
        by_service_channel: groups.into_values().collect(),
        entries,
    })
}

impl Statement {
    /// Totals by service and channel, then the day's figures.
    pub fn csv(&self) -> String {
        let mut w = csv::Writer::from_writer(vec![]);
        let _ = w.write_record([
            "agency",
            "business_day",
            "service",
            "channel",
            "collections_count",
            "collections",
            "refunds_count",
            "refunds",
        ]);
        let day = self.business_day.to_string();
        for g in &self.by_service_channel {
            let _ = w.write_record([
                self.agency.as_str(),
                &day,
                &g.service,
                &g.channel,
                &g.collections_count.to_string(),
                &g.collections.to_string(),
                &g.refunds_count.to_string(),
                &g.refunds.to_string(),
            ]);
        }
        let mut out = String::from_utf8(w.into_inner().expect("in memory")).expect("UTF-8");
        for (name, value) in [
            ("opening_balance", self.opening_balance),
            ("collections", self.collections),
            ("refunds", self.refunds),
            ("fees_deducted", self.fees_deducted),
            ("net_payable", self.net_payable),
            ("settled", self.settled),
            ("closing_balance", self.closing_balance),
        ] {
            out.push_str(&format!("{},{day},total,{name},,{value},,\n", self.agency));
        }
        out
    }

    /// ISO 20022 bank-to-customer statement, camt.053.001.02: the agency's
    /// payable account at the hub, one entry per posting of the day.
    pub fn camt053(&self) -> String {
        fn esc(s: &str) -> String {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        }
        let day = self.business_day;
        let created = to_local(Utc::now()).format("%Y-%m-%dT%H:%M:%S%:z");
        let balance = |code: &str, amount: Fils| {
            let (amt, ind) = if amount.is_negative() {
                (amount.checked_neg().unwrap_or(amount), "DBIT")
            } else {
                (amount, "CRDT")
            };
            format!(
                "<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"BHD\">{amt}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
            )
        };
        let gross = Fils::sum(self.entries.iter().map(|e| e.amount)).unwrap_or(Fils::ZERO);
        let net = self
            .closing_balance
            .checked_sub(self.opening_balance)
            .unwrap_or(Fils::ZERO);
        let (net_abs, net_ind) = if net.is_negative() {
            (net.checked_neg().unwrap_or(net), "DBIT")
        } else {
            (net, "CRDT")
        };
        let mut x = String::new();
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.push_str("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">");
        x.push_str("<BkToCstmrStmt>");
        x.push_str(&format!(
            "<GrpHdr><MsgId>TAHSEEL-{a}-{d}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>",
            a = esc(&self.agency),
            d = day.format("%Y%m%d")
        ));
        x.push_str(&format!(
            "<Stmt><Id>{}-{day}</Id><ElctrncSeqNb>{}</ElctrncSeqNb><CreDtTm>{created}</CreDtTm>",
            esc(&self.agency),
            day.format("%Y%m%d")
        ));
        x.push_str(&format!("<FrToDt><FrDtTm>{day}T00:00:00+03:00</FrDtTm><ToDtTm>{day}T23:59:59+03:00</ToDtTm></FrToDt>"));
        x.push_str("<Acct><Id>");
        match &self.iban {
            Some(iban) => x.push_str(&format!("<IBAN>{}</IBAN>", esc(iban))),
            None => x.push_str(&format!("<Othr><Id>{}</Id></Othr>", esc(&self.agency))),
        }
        x.push_str(&format!(
            "</Id><Ccy>BHD</Ccy><Nm>{}</Nm></Acct>",
            esc(&self.agency_name.en)
        ));
        x.push_str(&balance("OPBD", self.opening_balance));
        x.push_str(&balance("CLBD", self.closing_balance));
        x.push_str(&format!(
            "<TxsSummry><TtlNtries><NbOfNtries>{}</NbOfNtries><Sum>{gross}</Sum><TtlNetNtryAmt>{net_abs}</TtlNetNtryAmt><CdtDbtInd>{net_ind}</CdtDbtInd></TtlNtries></TxsSummry>",
            self.entries.len()
        ));
        for e in &self.entries {
            let ind = if e.side == "credit" { "CRDT" } else { "DBIT" };
            let (family, sub) = match e.kind.as_str() {
                "capture" => ("RCDT", "OTHR"),
                "settlement" => ("ICDT", "OTHR"),
                _ => ("RRCT", "OTHR"),
            };
            let booked = to_local(e.posted_at).date_naive();
            let reference = e
                .reference
                .clone()
                .unwrap_or_else(|| format!("ENTRY-{}", e.entry_id));
            let info = [
                e.kind.as_str(),
                e.service.as_deref().unwrap_or(""),
                e.channel.as_deref().unwrap_or(""),
                e.method.as_deref().unwrap_or(""),
            ]
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join(" ");
            x.push_str(&format!(
                "<Ntry><Amt Ccy=\"BHD\">{amt}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>{booked}</Dt></BookgDt><ValDt><Dt>{booked}</Dt></ValDt>\
                 <AcctSvcrRef>{id}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn></BkTxCd>\
                 <NtryDtls><TxDtls><Refs><EndToEndId>{reference}</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy=\"BHD\">{amt}</Amt></TxAmt></AmtDtls>\
                 <RmtInf><Ustrd>{info}</Ustrd></RmtInf></TxDtls></NtryDtls><AddtlNtryInf>{info}</AddtlNtryInf></Ntry>",
                amt = e.amount,
                id = e.entry_id,
                reference = esc(&reference),
                info = esc(&info),
            ));
        }
        x.push_str("</Stmt></BkToCstmrStmt></Document>\n");
        x
    }
}

/// What `settle` did for one agency.
#[derive(Debug, Clone, Serialize)]
pub struct Settled {
    pub agency: String,
    pub amount: Fils,
    /// False when the day was settled before; nothing was posted again.
    pub posted: bool,
}

/// Settles a finished business day for every agency: what the day's
/// collections less refunds added to each agency's payable goes to the
/// bank, once per agency and day.
pub async fn settle(store: &Store, day: NaiveDate) -> Result<Vec<Settled>> {
    let today = to_local(Utc::now()).date_naive();
    if day >= today {
        return Err(Error::Invalid(format!(
            "{day} is not over yet in Bahrain; settle a day once it has ended"
        )));
    }
    let mut out = Vec::new();
    for agency in store.agencies().await? {
        let statement = build(store, &agency.code, day).await?;
        let code = AgencyCode::parse(&agency.code)?;
        let amount = statement.net_payable.max(Fils::ZERO);
        let posted = store
            .settle_day(agency.id, &code, day, amount)
            .await?
            .is_some();
        out.push(Settled {
            agency: agency.code,
            amount,
            posted,
        });
    }
    Ok(out)
}
