"""The GCP side: APIs, Firebase, BigQuery analytics, keyless identity, and the AWS side of the log export to BigQuery."""
