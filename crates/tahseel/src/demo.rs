//! Demo data: the agencies and services of the 2018 H1 collections report,
//! and open bills for a few demo payers. Loading it twice changes nothing.

use chrono::NaiveDate;
use tahseel_core::agency::{parse_iban, AgencyCode, Names, ServiceCode, ServiceKind, ServiceTerms};
use tahseel_core::payer::PayerId;
use tahseel_core::Fils;

use crate::error::Result;
use crate::store::{BillRecord, NewAgency, NewBill, NewService, Store};

struct DemoAgency {
    code: &'static str,
    en: &'static str,
    ar: &'static str,
    iban: &'static str,
    services: &'static [DemoService],
}

struct DemoService {
    code: &'static str,
    en: &'static str,
    ar: &'static str,
    fee_fils: Option<i64>,
    partial: bool,
}

const AGENCIES: &[DemoAgency] = &[
    DemoAgency {
        code: "GDT",
        en: "General Directorate of Traffic",
        ar: "الإدارة العامة للمرور",
        iban: "BH97NBOB00000099000101",
        services: &[
            DemoService {
                code: "vehicle-registration",
                en: "New vehicle registration",
                ar: "تسجيل المركبات الجديدة",
                fee_fils: Some(15_000),
                partial: false,
            },
            DemoService {
                code: "traffic-fines",
                en: "Traffic fines",
                ar: "المخالفات المرورية",
                fee_fils: None,
                partial: false,
            },
        ],
    },
    DemoAgency {
        code: "MOJ",
        en: "Ministry of Justice, Islamic Affairs and Endowments",
        ar: "وزارة العدل والشؤون الإسلامية والأوقاف",
        iban: "BH28BBKU00000099000102",
        services: &[DemoService {
            code: "enforcement-file",
            en: "Enforcement file dues",
            ar: "دفع المستحقات لملف التنفيذ",
            fee_fils: None,
            partial: true,
        }],
    },
    DemoAgency {
        code: "EWA",
        en: "Electricity and Water Authority",
        ar: "هيئة الكهرباء والماء",
        iban: "BH60BMAG00000099000103",
        services: &[DemoService {
            code: "electricity-water",
            en: "Electricity and water bill",
            ar: "فاتورة الكهرباء والماء",
            fee_fils: None,
            partial: true,
        }],
    },
    DemoAgency {
        code: "MOE",
        en: "Ministry of Education",
        ar: "وزارة التربية والتعليم",
        iban: "BH95AUBB00000099000104",
        services: &[DemoService {
            code: "education-fees",
            en: "Education fees",
            ar: "الرسوم الدراسية",
            fee_fils: None,
            partial: false,
        }],
    },
    DemoAgency {
        code: "IGA",
        en: "Information & eGovernment Authority",
        ar: "هيئة المعلومات والحكومة الإلكترونية",
        iban: "BH54KFHB00000099000105",
        services: &[DemoService {
            code: "id-card",
            en: "Identity card",
            ar: "البطاقة الذكية (الهوية)",
            fee_fils: Some(2_000),
            partial: false,
        }],
    },
];

/// (agency, service, reference, payer, amount in fils or None for the fee, due date)
type DemoBill = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Option<i64>,
    &'static str,
);

const BILLS: &[DemoBill] = &[
    (
        "GDT",
        "traffic-fines",
        "TF-2026-000101",
        "850101234",
        Some(20_000),
        "2026-12-31",
    ),
    (
        "GDT",
        "traffic-fines",
        "TF-2026-000102",
        "850101234",
        Some(10_000),
        "2026-12-31",
    ),
    (
        "GDT",
        "vehicle-registration",
        "VR-2026-000201",
        "850101234",
        None,
        "2026-12-31",
    ),
    (
        "EWA",
        "electricity-water",
        "EWA-2026-11-3301",
        "850101234",
        Some(42_750),
        "2026-12-15",
    ),
    (
        "MOJ",
        "enforcement-file",
        "ENF-2026-7781",
        "900612345",
        Some(350_000),
        "2027-01-31",
    ),
    (
        "EWA",
        "electricity-water",
        "EWA-2026-11-3302",
        "900612345",
        Some(18_125),
        "2026-12-15",
    ),
    (
        "MOE",
        "education-fees",
        "MOE-2026-T2-5521",
        "771203456",
        Some(120_000),
        "2027-01-15",
    ),
    (
        "IGA",
        "id-card",
        "ID-2026-88812",
        "771203456",
        None,
        "2026-12-31",
    ),
    (
        "GDT",
        "traffic-fines",
        "TF-2026-000103",
        "12345-1",
        Some(50_000),
        "2026-12-31",
    ),
];

/// Loads the demo catalog and bills and returns the bills.
pub async fn load(store: &Store) -> Result<Vec<BillRecord>> {
    for a in AGENCIES {
        let agency = NewAgency {
            code: AgencyCode::parse(a.code)?,
            name: Names::new(a.en, a.ar)?,
            iban: Some(parse_iban(a.iban)?),
        };
        store.add_agency(agency).await?;
        for s in a.services {
            let kind = if s.fee_fils.is_some() {
                ServiceKind::Fee
            } else {
                ServiceKind::Bill
            };
            store
                .add_service(NewService {
                    agency: AgencyCode::parse(a.code)?,
                    code: ServiceCode::parse(s.code)?,
                    name: Names::new(s.en, s.ar)?,
                    terms: ServiceTerms::new(kind, s.fee_fils.map(Fils::new), s.partial)?,
                })
                .await?;
        }
    }
    let mut bills = Vec::new();
    for (agency, service, reference, payer, amount, due) in BILLS {
        let agency = store.agency_by_code(agency).await?;
        let new = NewBill {
            service: (*service).to_owned(),
            reference: (*reference).to_owned(),
            payer: PayerId::parse(payer)?,
            amount: amount.map(Fils::new),
            due_date: NaiveDate::parse_from_str(due, "%Y-%m-%d").expect("demo dates are valid"),
            expires_at: None,
        };
        bills.push(store.create_bill(agency.id, new).await?.0);
    }
    Ok(bills)
}
