//! The closed vocabularies of docs/concepts.md: transaction types, reasons, admin roles and
//! what each role may do.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value {}", super::quoted(.0))]
pub struct UnknownValue(pub String);

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $text:literal / $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and exported form.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The words shown to people.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(input: &str) -> Result<Self, UnknownValue> {
                match input { $($text => Ok($name::$variant),)+ other => Err(UnknownValue(other.to_owned())) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What made a ledger row.
    TransactionType {
        AdminAdded = "admin_added" / "Added by admin",
        AdminReduced = "admin_reduced" / "Reduced by admin",
        ApiAdded = "api_added" / "Added by API",
        ApiReduced = "api_reduced" / "Reduced by API",
        InvoiceApplied = "invoice_applied" / "Applied to invoice",
        InvoiceRefunded = "invoice_refunded" / "Refunded from invoice",
        Imported = "imported" / "Imported",
        Expired = "expired" / "Expired",
    }
}

impl TransactionType {
    /// Rows that give an account new credits: a grant, which may expire (docs/concepts.md,
    /// "Expiry").
    pub fn is_grant(self) -> bool {
        matches!(
            self,
            TransactionType::AdminAdded | TransactionType::ApiAdded | TransactionType::Imported
        )
    }
}

vocabulary! {
    /// Why a change was made, for reporting.
    Reason {
        Goodwill = "goodwill" / "Goodwill",
        Promotion = "promotion" / "Promotion",
        Compensation = "compensation" / "Compensation",
        Referral = "referral" / "Referral",
        Migration = "migration" / "Migration",
        Correction = "correction" / "Correction",
        Other = "other" / "Other",
    }
}

vocabulary! {
    /// A console user's role (docs/concepts.md, "Admins and roles").
    Role {
        Owner = "owner" / "Owner",
        BillingAdmin = "billing_admin" / "Billing admin",
        Support = "support" / "Support",
        Operator = "operator" / "Operator",
    }
}

/// What an admin may do. Which roles may do it is the permission table of
/// docs/concepts.md ("Admins and roles"), written here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Customers, balances, the ledger and its notes.
    View,
    /// Adjust credits and switch a customer's credit use.
    AdjustCredits,
    /// Export the credit list, balances and summary as CSV.
    Export,
    ViewSettings,
    EditSettings,
    /// Read and export the activity log.
    ViewActivity,
    /// Admins, API keys, webhooks and customer imports.
    ManageAccess,
    ViewWebhookDeliveries,
    ChangeOwnPassword,
}

impl Permission {
    /// The roles that have this permission.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::View
            | Permission::Export
            | Permission::ViewSettings
            | Permission::ChangeOwnPassword => &[Owner, BillingAdmin, Support, Operator],
            Permission::AdjustCredits => &[Owner, BillingAdmin],
            Permission::EditSettings | Permission::ManageAccess => &[Owner],
            Permission::ViewActivity | Permission::ViewWebhookDeliveries => {
                &[Owner, BillingAdmin, Operator]
            }
        }
    }

    pub fn allows(self, role: Role) -> bool {
        self.roles().contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for t in TransactionType::ALL {
            assert_eq!(TransactionType::parse(t.as_str()), Ok(*t));
        }
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Ok(*r));
        }
        assert_eq!(Role::parse("billing_admin"), Ok(Role::BillingAdmin));
        assert!(Role::parse("root").is_err());
        assert!(Permission::AdjustCredits.allows(Role::BillingAdmin));
        assert!(!Permission::AdjustCredits.allows(Role::Support));
        assert!(!Permission::AdjustCredits.allows(Role::Operator));
        assert!(Permission::ViewActivity.allows(Role::Operator));
        assert!(!Permission::ViewActivity.allows(Role::Support));
        assert_eq!(Permission::ManageAccess.roles(), &[Role::Owner]);
    }

    /// The API and its OpenAPI document name each value as the database and CSV do.
    fn names_alike<T>(all: &[T], as_str: impl Fn(&T) -> &'static str)
    where
        T: serde::Serialize + utoipa::PartialSchema,
    {
        let texts: Vec<&str> = all.iter().map(&as_str).collect();
        for (value, text) in all.iter().zip(&texts) {
            assert_eq!(serde_json::to_value(value).unwrap(), *text);
        }
        let schema = serde_json::to_value(T::schema()).unwrap();
        assert_eq!(schema["enum"], serde_json::json!(texts));
    }

    #[test]
    fn json_names_are_the_stored_names() {
        names_alike(TransactionType::ALL, |t| t.as_str());
        names_alike(Reason::ALL, |r| r.as_str());
        names_alike(Role::ALL, |r| r.as_str());
    }
}
