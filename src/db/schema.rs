//! Diesel table definitions, written by hand to match both migration folders. Only types the
//! `MultiConnection` enum can carry are used: BigInt, Text, Bool, Timestamp.

diesel::table! {
    users (id) {
        id -> BigInt,
        external_id -> Nullable<Text>,
        email -> Text,
        email_lower -> Text,
        first_name -> Text,
        last_name -> Text,
        country -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    promo_credit_configs (currency) {
        currency -> Text,
        enabled -> Bool,
        exchange_rate_e4 -> BigInt,
        allow_with_discount_code -> Bool,
        auto_apply_next_invoice -> Bool,
        preview_default_used -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        low_balance_threshold -> Nullable<BigInt>,
        expiring_notice_days -> Integer,
    }
}

diesel::table! {
    credit_accounts (id) {
        id -> BigInt,
        user_id -> BigInt,
        currency -> Text,
        balance -> BigInt,
        enabled -> Bool,
        total_added -> BigInt,
        total_deducted -> BigInt,
        version -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    credit_transactions (id) {
        id -> BigInt,
        account_id -> BigInt,
        user_id -> BigInt,
        currency -> Text,
        kind -> Text,
        reason -> Nullable<Text>,
        delta -> BigInt,
        balance_before -> BigInt,
        balance_after -> BigInt,
        exchange_rate_e4 -> BigInt,
        currency_value -> Text,
        note -> Text,
        actor_kind -> Text,
        actor_id -> Nullable<BigInt>,
        invoice_id -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Nullable<Date>,
    }
}

diesel::table! {
    credit_grants (id) {
        id -> BigInt,
        account_id -> BigInt,
        transaction_id -> Nullable<BigInt>,
        expires_at -> Nullable<Date>,
        granted -> BigInt,
        remaining -> BigInt,
        closed -> Bool,
        created_at -> Timestamp,
        expiring_notified -> Bool,
    }
}

diesel::table! {
    credit_draws (transaction_id, grant_id) {
        transaction_id -> BigInt,
        grant_id -> BigInt,
        credits -> BigInt,
    }
}

diesel::table! {
    job_leases (name) {
        name -> Text,
        holder -> Text,
        held_until -> Timestamp,
    }
}

diesel::table! {
    admins (id) {
        id -> BigInt,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sessions (id) {
        id -> BigInt,
        token_hash -> Text,
        admin_id -> BigInt,
        csrf_token -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    api_keys (id) {
        id -> BigInt,
        name -> Text,
        prefix -> Text,
        secret_hash -> Text,
        created_by -> Nullable<BigInt>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    activity_log (id) {
        id -> BigInt,
        created_at -> Timestamp,
        actor -> Text,
        action -> Text,
        target -> Text,
        details -> Text,
        ip -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
        record_id -> Nullable<BigInt>,
    }
}

diesel::table! {
    promo_credit_rates (id) {
        id -> BigInt,
        currency -> Text,
        exchange_rate_e4 -> BigInt,
        changed_at -> Timestamp,
        changed_by -> Text,
    }
}

diesel::table! {
    credit_daily_totals (day, currency, kind, reason, slot) {
        day -> Date,
        currency -> Text,
        kind -> Text,
        reason -> Text,
        row_count -> BigInt,
        added -> BigInt,
        deducted -> BigInt,
        holders_delta -> BigInt,
        slot -> BigInt,
    }
}

diesel::joinable!(credit_accounts -> users (user_id));
diesel::joinable!(credit_transactions -> credit_accounts (account_id));
diesel::joinable!(credit_transactions -> users (user_id));
diesel::joinable!(sessions -> admins (admin_id));
diesel::joinable!(credit_grants -> credit_accounts (account_id));
diesel::joinable!(credit_draws -> credit_grants (grant_id));
diesel::joinable!(credit_draws -> credit_transactions (transaction_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    promo_credit_configs,
    credit_accounts,
    credit_transactions,
    admins,
    sessions,
    api_keys,
    activity_log,
    credit_daily_totals,
    login_throttle,
    promo_credit_rates,
    invoice_payments,
    idempotency_keys,
    credit_grants,
    credit_draws,
    webhook_endpoints,
    webhook_events,
    webhook_deliveries,
);

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        url -> Text,
        description -> Text,
        events -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        enabled -> Bool,
        disabled_reason -> Nullable<Text>,
        disabled_at -> Nullable<Timestamp>,
        failing_since -> Nullable<Timestamp>,
        claimed_by -> Nullable<Text>,
        claimed_until -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> BigInt,
        event_id -> Text,
        kind -> Text,
        payload -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> BigInt,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_attempt_at -> Nullable<Timestamp>,
        response_code -> Nullable<Integer>,
        response_excerpt -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_throttle (key) {
        key -> Text,
        window_started_at -> Timestamp,
        attempts -> BigInt,
    }
}

diesel::table! {
    invoice_payments (invoice_id) {
        invoice_id -> Text,
        user_id -> BigInt,
        currency -> Text,
        request_hash -> Text,
        invoice_amount -> Text,
        credits_applied -> BigInt,
        discount_amount -> Text,
        credits_refunded -> BigInt,
        amount_refunded -> Text,
        transaction_id -> Nullable<BigInt>,
        reasons -> Text,
        api_key_id -> Nullable<BigInt>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (api_key_id, route, key) {
        api_key_id -> BigInt,
        route -> Text,
        key -> Text,
        request_hash -> Text,
        status -> BigInt,
        response -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customer_imports (id) {
        id -> BigInt,
        file_name -> Text,
        content -> Text,
        sha256 -> Text,
        byte_size -> BigInt,
        row_count -> BigInt,
        planned_create -> BigInt,
        planned_update -> BigInt,
        planned_unchanged -> BigInt,
        planned_refused -> BigInt,
        planned_openings -> BigInt,
        checked_by -> Text,
        checked_at -> Timestamp,
        status -> Text,
        skipped_refused -> Bool,
        applied_by -> Nullable<Text>,
        applied_at -> Nullable<Timestamp>,
        outcome -> Text,
    }
}

diesel::table! {
    customer_import_rows (import_id, line) {
        import_id -> BigInt,
        line -> BigInt,
        outcome -> Text,
        user_id -> Nullable<BigInt>,
        external_id -> Text,
        email -> Text,
        details -> Text,
    }
}
