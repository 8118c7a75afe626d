"""IAM documents that several components need, written once."""

from __future__ import annotations

import json
from typing import Any


def trust_policy(service: str, condition: dict[str, Any] | None = None) -> str:
    """An assume-role policy for one AWS service principal, optionally narrowed by a condition
    (for example `aws:SourceArn`/`aws:SourceAccount`, against the confused-deputy problem)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
