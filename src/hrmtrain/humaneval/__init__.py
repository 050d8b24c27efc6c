"""Human evaluation of helpfulness and safety adherence: rating studies over evaluation runs (store,
study set-up, statistics, exchange with CSV/JSON Lines/Label Studio)."""
