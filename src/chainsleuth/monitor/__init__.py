"""Watch: transaction monitoring rules, features, models and trigger warnings (alerts)."""
