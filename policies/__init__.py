"""kanna-infra's CrossGuard policies, one module per concern. Importing a module never starts a server."""
