"""Each stack's public hosted zone, created before the stack's first deploy so that it can be delegated first.

The platform's certificates validate by DNS: their validation records only resolve once the parent domain
points at the zone's name servers. A zone created in the same run as its certificates never gets there (the
validation waits until it times out), so the zones live here, one step earlier (docs/first-deploy.md):
1. `pulumi up` of this program creates the zones and exports their ids and name servers (`zones`);
2. the parent domain is delegated to those name servers: automatically when the parent is another stack's
   zone (dev.example.com in example.com, below), at the registrar for the apex domain;
3. the stack's settings name the zone (`kanna-infra:platform.zoneId`), and the platform only adds records to it.

Each zone sits in its stack's workload account (the platform's records and ACM validation are written there).
A zone that already exists (prod's, created by kanna-infra before this step moved here) is adopted with
`adoptZoneIds` (an `import`), never recreated: its name servers, and so the delegation, stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

DELEGATION_TTL = 172800  # two days: the TTL registrars and Route 53 use for NS records


@dataclass(frozen=True)
class PublicZonesArgs:
    domains: dict[str, str]  # kanna-infra stack -> its domain
    providers: dict[str, aws.Provider]  # kanna-infra stack -> the provider of its workload account
    adopt: dict[str, str]  # kanna-infra stack -> the id of an existing zone to import instead of creating one


class PublicZones(pulumi.ComponentResource):
    zones: dict[str, aws.route53.Zone]

    def __init__(self, name: str, args: PublicZonesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:bootstrap:PublicZones", name, None, opts)
        self.zones = {}
        for stack, domain in args.domains.items():
            self.zones[stack] = aws.route53.Zone(
                f"{stack}-zone",
                name=domain,
                comment=f"kanna {stack}",  # as kanna-infra created it: an import must match the existing zone
                opts=pulumi.ResourceOptions(parent=self, provider=args.providers[stack], protect=True, import_=args.adopt.get(stack)),
            )
        # A stack whose domain sits under another stack's (dev.example.com under example.com) is delegated here.
        for stack, domain in args.domains.items():
            for parent, parent_domain in args.domains.items():
                if domain.endswith(f".{parent_domain}"):
                    aws.route53.Record(
                        f"{stack}-zone-delegation",
                        zone_id=self.zones[parent].zone_id,
                        name=domain,
                        type="NS",
                        ttl=DELEGATION_TTL,
                        records=self.zones[stack].name_servers,
                        opts=pulumi.ResourceOptions(parent=self, provider=args.providers[parent]),
                    )
        self.register_outputs({stack: zone.zone_id for stack, zone in self.zones.items()})
