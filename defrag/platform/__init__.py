"""Platform code that every service imports: config, logs, metrics, errors, servers."""
