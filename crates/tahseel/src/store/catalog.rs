//! Agencies, services and API keys.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tahseel_core::agency::{AgencyCode, Names, ServiceCode, ServiceKind, ServiceTerms};
use tahseel_core::Fils;
use uuid::Uuid;

use super::rows::{AgencyRow, ServiceRow};
use super::{now, on_db, Store};
use crate::auth;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct Agency {
    pub id: Uuid,
    pub code: String,
    pub name: Names,
    pub iban: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub id: Uuid,
    pub agency_id: Uuid,
    pub agency: String,
    pub code: String,
    pub name: Names,
    pub kind: ServiceKind,
    pub fee: Option<Fils>,
    pub allow_partial: bool,
    /// The agency's endpoint that presents this service's bills on lookup
    /// (kept out of public listings).
    #[serde(skip_serializing)]
    pub fetch_url: Option<String>,
}

pub struct NewAgency {
    pub code: AgencyCode,
    pub name: Names,
    pub iban: Option<String>,
}

pub struct NewService {
    pub agency: AgencyCode,
    pub code: ServiceCode,
    pub name: Names,
    pub terms: ServiceTerms,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub role: String,
    pub agency: Option<String>,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a request's API key speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Admin,
    Agency { id: Uuid, code: String },
}

impl From<AgencyRow> for Agency {
    fn from(r: AgencyRow) -> Self {
        Agency {
            id: r.id,
            code: r.code,
            name: Names {
                en: r.name_en,
                ar: r.name_ar,
            },
            iban: r.iban,
            created_at: r.created_at,
        }
    }
}

impl TryFrom<ServiceRow> for Service {
    type Error = Error;
    fn try_from(r: ServiceRow) -> Result<Self> {
        let kind = ServiceKind::parse(&r.kind)
            .ok_or_else(|| Error::Invalid(format!("stored service kind {:?}", r.kind)))?;
        Ok(Service {
            id: r.id,
            agency_id: r.agency_id,
            agency: r.agency_code,
            code: r.code,
            name: Names {
                en: r.name_en,
                ar: r.name_ar,
            },
            kind,
            fee: r.fee_fils.map(Fils::new),
            allow_partial: r.allow_partial,
            fetch_url: r.fetch_url,
        })
    }
}

const SERVICE_SELECT: &str = "SELECT s.id, s.agency_id, a.code AS agency_code, s.code, s.name_en, s.name_ar, s.kind, s.fee_fils, s.allow_partial, s.fetch_url FROM services s JOIN agencies a ON a.id = s.agency_id";

impl Store {
    /// Adds an agency, or returns the existing one with the same code and
    /// names (so that loading the demo twice changes nothing).
    pub async fn add_agency(&self, new: NewAgency) -> Result<Agency> {
        let id = Uuid::now_v7();
        let at = now();
        on_db!(pool self, |c, pg| {
            sqlx::query("INSERT INTO agencies (id, code, name_en, name_ar, iban, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (code) DO NOTHING")
                .bind(id)
                .bind(new.code.as_str())
                .bind(&new.name.en)
                .bind(&new.name.ar)
                .bind(&new.iban)
                .bind(at)
                .execute(c)
                .await?;
        });
        let agency = self.agency_by_code(new.code.as_str()).await?;
        if agency.name != new.name || agency.iban != new.iban {
            return Err(Error::Conflict(format!(
                "agency {} already exists with other details",
                new.code.as_str()
            )));
        }
        Ok(agency)
    }

    pub async fn agency_by_code(&self, code: &str) -> Result<Agency> {
        let row: Option<AgencyRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as("SELECT id, code, name_en, name_ar, iban, created_at FROM agencies WHERE code = $1")
                .bind(code)
                .fetch_optional(c)
                .await?
        });
        row.map(Agency::from).ok_or(Error::NotFound("agency"))
    }

    pub async fn agencies(&self) -> Result<Vec<Agency>> {
        let rows: Vec<AgencyRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as("SELECT id, code, name_en, name_ar, iban, created_at FROM agencies ORDER BY code")
                .fetch_all(c)
                .await?
        });
        Ok(rows.into_iter().map(Agency::from).collect())
    }

    /// Adds a service, or returns the existing identical one.
    pub async fn add_service(&self, new: NewService) -> Result<Service> {
        let agency = self.agency_by_code(new.agency.as_str()).await?;
        let id = Uuid::now_v7();
        let at = now();
        on_db!(pool self, |c, pg| {
            sqlx::query("INSERT INTO services (id, agency_id, code, name_en, name_ar, kind, fee_fils, allow_partial, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (agency_id, code) DO NOTHING")
                .bind(id)
                .bind(agency.id)
                .bind(new.code.as_str())
                .bind(&new.name.en)
                .bind(&new.name.ar)
                .bind(new.terms.kind.as_str())
                .bind(new.terms.fee.map(Fils::as_i64))
                .bind(new.terms.allow_partial)
                .bind(at)
                .execute(c)
                .await?;
        });
        let service = self.service(agency.id, new.code.as_str()).await?;
        let same = service.name == new.name
            && service.kind == new.terms.kind
            && service.fee == new.terms.fee
            && service.allow_partial == new.terms.allow_partial;
        if !same {
            return Err(Error::Conflict(format!(
                "service {}/{} already exists with other terms",
                agency.code,
                new.code.as_str()
            )));
        }
        Ok(service)
    }

    pub async fn service(&self, agency_id: Uuid, code: &str) -> Result<Service> {
        let row: Option<ServiceRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SERVICE_SELECT} WHERE s.agency_id = $1 AND s.code = $2")))
                .bind(agency_id)
                .bind(code)
                .fetch_optional(c)
                .await?
        });
        row.ok_or(Error::NotFound("service"))?.try_into()
    }

    pub async fn services(&self, agency: Option<&str>) -> Result<Vec<Service>> {
        let rows: Vec<ServiceRow> = on_db!(pool self, |c, pg| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{SERVICE_SELECT} WHERE ($1 IS NULL OR a.code = $1) ORDER BY a.code, s.code")))
                .bind(agency)
                .fetch_all(c)
                .await?
        });
        rows.into_iter().map(Service::try_from).collect()
    }

    /// Issues a key and returns it in clear, once; only its hash is kept.
    pub async fn create_api_key(&self, agency: Option<&str>) -> Result<(ApiKeyRecord, String)> {
        let agency = match agency {
            Some(code) => Some(self.agency_by_code(code).await?),
            None => None,
        };
        let key = auth::generate_key();
        let record = ApiKeyRecord {
            id: Uuid::now_v7(),
            role: if agency.is_some() { "agency" } else { "admin" }.to_owned(),
            agency: agency.as_ref().map(|a| a.code.clone()),
            prefix: auth::display_prefix(&key),
            created_at: now(),
            revoked_at: None,
        };
        on_db!(pool self, |c, pg| {
            sqlx::query("INSERT INTO api_keys (id, role, agency_id, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(record.id)
                .bind(&record.role)
                .bind(agency.as_ref().map(|a| a.id))
                .bind(auth::hash_key(&key))
                .bind(&record.prefix)
                .bind(record.created_at)
                .execute(c)
                .await?;
        });
        Ok((record, key))
    }

    /// Sets (or clears) the endpoint a service's bills are fetched from.
    pub async fn set_fetch_url(&self, service_id: Uuid, url: Option<&str>) -> Result<()> {
        on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE services SET fetch_url = $1 WHERE id = $2").bind(url).bind(service_id).execute(c).await?;
        });
        Ok(())
    }

    /// True once any administrator key that is not revoked exists.
    pub async fn has_admin_key(&self) -> Result<bool> {
        let n: i64 = on_db!(pool self, |c, pg| {
            sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL").fetch_one(c).await?
        });
        Ok(n > 0)
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>> {
        type Row = (
            Uuid,
            String,
            Option<String>,
            String,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = on_db!(pool self, |c, pg| {
            sqlx::query_as("SELECT k.id, k.role, a.code, k.prefix, k.created_at, k.revoked_at FROM api_keys k LEFT JOIN agencies a ON a.id = k.agency_id ORDER BY k.created_at")
                .fetch_all(c)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(id, role, agency, prefix, created_at, revoked_at)| ApiKeyRecord {
                    id,
                    role,
                    agency,
                    prefix,
                    created_at,
                    revoked_at,
                },
            )
            .collect())
    }

    pub async fn revoke_api_key(&self, id: Uuid) -> Result<()> {
        let done = on_db!(pool self, |c, pg| {
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now())
                .bind(id)
                .execute(c)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(Error::NotFound("active API key"));
        }
        Ok(())
    }

    /// Finds who a presented key belongs to; `None` for unknown or revoked keys.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Principal>> {
        let row: Option<(String, Option<Uuid>, Option<String>)> = on_db!(pool self, |c, pg| {
            sqlx::query_as("SELECT k.role, k.agency_id, a.code FROM api_keys k LEFT JOIN agencies a ON a.id = k.agency_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL")
                .bind(auth::hash_key(key))
                .fetch_optional(c)
                .await?
        });
        Ok(
            row.and_then(|(role, id, code)| match (role.as_str(), id, code) {
                ("admin", _, _) => Some(Principal::Admin),
                ("agency", Some(id), Some(code)) => Some(Principal::Agency { id, code }),
                _ => None,
            }),
        )
    }
}
