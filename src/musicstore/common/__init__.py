"""Code the services share: settings, database, errors, health, metrics, logging, auth."""
