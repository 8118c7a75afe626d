"""kanna-bootstrap: what must exist before kanna-infra can run, applied from the management account."""
