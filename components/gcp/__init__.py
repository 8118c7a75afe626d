"""The GCP side: APIs, Firebase, BigQuery analytics, keyless identity, and the AWS side of the log export to BigQuery."""

from components.gcp.side import gcp_side

__all__ = ["gcp_side"]
