"""Small typed values passed between components, so no component looks another one up."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi


@dataclass(frozen=True)
class InternalAuth:
    """What the ALB's `authenticate-cognito` action needs to put a route behind the internal user pool."""

    user_pool_arn: pulumi.Input[str]
    user_pool_client_id: pulumi.Input[str]
    user_pool_domain: pulumi.Input[str]
