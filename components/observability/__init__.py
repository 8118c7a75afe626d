"""The observability layer: the account's Datadog integration (account/), and each stack's monitors, SLOs, dashboard
and synthetics."""

from components.observability.integration import DatadogIntegration, DatadogIntegrationArgs
from components.observability.observability import Observability, ObservabilityArgs, observed

__all__ = ["DatadogIntegration", "DatadogIntegrationArgs", "Observability", "ObservabilityArgs", "observed"]
