"""The observability layer: the Datadog integration, monitors, SLOs, the dashboard and synthetics."""

from components.observability.observability import Observability, ObservabilityArgs, observed

__all__ = ["Observability", "ObservabilityArgs", "observed"]
