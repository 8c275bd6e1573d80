"""Every read model (queries that only read), for the CLI, the dashboard and the services."""
