"""The observability layer: the Datadog integration, monitors, SLOs, the dashboard and synthetics."""
