"""The edge: Route 53, ACM, CloudFront and the one ALB, shared by every environment.

Traffic path: viewer -> CloudFront (CLOUDFRONT web ACL, TLS 1.2+) -> VPC origin -> https://origin.<domain> ->
internal ALB in the private subnets (REGIONAL web ACL, TLS 1.2/1.3) -> listener rule per environment and service
-> tasks. Calls between services take the same ALB, listener and rules, at the callee's internal host
(`PlatformSettings.service_host`, records here), so they follow CodeDeploy's traffic shift like users do
(docs/service-to-service.md). A request that matches no rule gets a 404 from the listener's default action.

The ALB has no public address: CloudFront reaches it through a VPC origin (an AWS-managed path into the VPC),
so nothing on the internet can bypass CloudFront and its web ACL, and no shared-secret header is needed
("you don't have to implement ... secret shared headers": CloudFront Developer Guide, Restrict access with
VPC origins). Its groups admit CloudFront's origin-facing prefix list on 443 (the VPC origin's traffic, as
that guide's security-group step says) and, in the callers group, the task groups of calling services.

The hosted zone of the stack's domain (example.com, dev.example.com) is bootstrap's (bootstrap/dns.py), made and
delegated before the first deploy, so that the certificates' DNS validation can resolve; the edge looks it up
by name and only adds records to it. One certificate (the domain and one level of wildcard) covers every host, in
the stack's region for the ALB and in us-east-1 for CloudFront.

Disaster recovery (docs/disaster-recovery.md): a standby (prod-dr) has the ALB, its regional web ACL and a VPC
origin, but no distribution of its own (an alternate domain name can be on one distribution only), no CloudFront
certificate and none of its primary's records. Its primary's distribution carries the standby's VPC origin as a
second origin, read from the standby's outputs, and `dr.active` says which one the requests go to: failing over
is a settings change and an `up` of the primary (CloudFront's control plane is global, not in the lost region).
CloudFront origin groups would fail over by themselves, but only for GET, HEAD and OPTIONS requests, and a
behavior that allows POST can't use one
(https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/high_availability_origin_failover.html);
a pilot light at zero tasks couldn't serve them anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.buckets import secure_bucket
from components.lib.context import InContext
from components.lib.contracts import InternalAuth
from settings import regions
from settings.platform import idp_response_url

TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
CLOUDFRONT_PREFIX_LIST = "com.amazonaws.global.cloudfront.origin-facing"
CLOUDFRONT_ZONE_ID = "Z2FDTNDATAQYW2"  # the hosted zone of every CloudFront distribution, for alias records
# AWS managed CloudFront policies: nothing is cached (the apps set their own caching later, per path),
# and the viewer's Host header reaches the ALB, whose rules route on it.
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER = "216adef6-5c7f-47e4-b989-5492eafa07d3"
PROD_LOG_DAYS = 400  # prod's ALB and CloudFront logs (and their replicas in its standby's region)


def origin_host(domain: str, standby: str | None = None) -> str:
    """The host CloudFront reaches an ALB at (a host of the zone, so TLS matches the ALB's certificate): the
    primary's at origin.<domain>, a standby's at origin-<standby stack>.<domain>. Both stacks call this."""
    return f"origin-{standby}.{domain}" if standby else f"origin.{domain}"


@dataclass(frozen=True, kw_only=True)
class StandbyOrigin:
    """A primary's view of its standby's ALB: the standby's VPC origin (its output) and whether it takes the requests."""

    vpc_origin_id: pulumi.Input[str]
    host: str  # origin_host(domain, standby stack)
    active: bool


@dataclass(frozen=True, kw_only=True)
class EdgeArgs(InContext):
    domain: str
    hosts: list[str]  # every public hostname of every environment
    admin_hosts: list[str]  # hosts behind internal authentication: the ALB reaches the IdP for them
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    private_subnet_ids: list[pulumi.Output[str]]  # the internal ALB's (CloudFront reaches it through a VPC origin)
    regional_acl_arn: pulumi.Input[str]
    cloudfront_acl_arn: pulumi.Input[str] | None  # none on a standby, which has no distribution
    global_provider: aws.Provider
    prod: bool  # the ALB's access logs are written by its region's Elastic Load Balancing account (context.region)
    internal_auth: InternalAuth | None = None  # the security baseline's Cognito pool; None: a minimal one here
    test_listener_port: int | None = None  # blue/green: CodeDeploy's test listener, reachable from the VPC only
    service_hosts: tuple[str, ...] = ()  # internal hosts of calls between services: records to the ALB, never CDN aliases
    standby_of: str | None = None  # a standby: its primary stack, whose distribution fronts this ALB
    standby_origin: StandbyOrigin | None = None  # a primary: its standby's ALB, once the standby is up


class Edge(pulumi.ComponentResource):
    alb: aws.lb.LoadBalancer
    alb_security_group: aws.ec2.SecurityGroup
    callers_security_group: aws.ec2.SecurityGroup  # environments add one ingress rule per calling service
    https_listener: aws.lb.Listener
    http_listener: aws.lb.Listener
    test_listener: aws.lb.Listener | None
    distribution: aws.cloudfront.Distribution | None  # none on a standby
    vpc_origin: aws.cloudfront.VpcOrigin
    internal_auth: InternalAuth

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:edge:Edge", name, None, opts)
        self._args = args
        env = args.env
        child = pulumi.ResourceOptions(parent=self)
        us_east_1 = pulumi.ResourceOptions(parent=self, provider=args.global_provider)

        # Looked up, not created: bootstrap/ creates and delegates the zone first (docs/first-deploy.md). Without it the
        # first preview stops here ("no matching Route 53 Hosted Zone found"), before any resource, instead of an up
        # whose certificate validation waits for a delegation that doesn't exist yet.
        zone = aws.route53.get_zone_output(name=args.domain, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=self))
        self.zone_id = zone.zone_id
        standby = args.standby_of is not None
        regional_cert = self._certificate("alb", child)
        global_cert = None if standby else self._certificate("cloudfront", us_east_1)
        self.log_bucket = logs = self._log_bucket()

        # --- the ALB: CloudFront's prefix list in, the VPC out --------------------------------------
        def group(name: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{env}-{name}-sg", vpc_id=args.vpc_id, description=description, tags={"Name": f"{env}-{name}"}, opts=child
            )

        self.alb_security_group = group("alb", "ALB: HTTPS from CloudFront only")
        prefix_list = aws.ec2.get_managed_prefix_list_output(name=CLOUDFRONT_PREFIX_LIST, opts=pulumi.InvokeOutputOptions(parent=self))
        # Only 443: the prefix list weighs ~55 entries against the group's 60-rule quota, so one rule is all
        # it fits, and CloudFront talks HTTPS to the origin anyway.
        aws.vpc.SecurityGroupIngressRule(
            f"{env}-alb-https-from-cloudfront",
            security_group_id=self.alb_security_group.id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            prefix_list_id=prefix_list.id,
            description="HTTPS from CloudFront origin-facing servers",
            opts=child,
        )

        def egress(name: str, ports: tuple[int, int], cidr: str, description: str) -> None:
            aws.vpc.SecurityGroupEgressRule(
                f"{env}-alb-to-{name}",
                security_group_id=self.alb_security_group.id,
                ip_protocol="tcp",
                from_port=ports[0],
                to_port=ports[1],
                cidr_ipv4=cidr,
                description=description,
                opts=child,
            )

        egress("tasks", (1024, 65535), args.vpc_cidr, "To tasks in the VPC (their groups admit only this group)")
        if args.admin_hosts:
            # authenticate-cognito: the ALB itself calls the user pool's token and userinfo endpoints over HTTPS.
            # They are public and have no fixed address ranges, so without this rule every login ends in HTTP 500
            # (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/listener-authenticate-users.html,
            # https://repost.aws/knowledge-center/elb-configure-authentication-alb: "HTTP 500 ... outbound 443 to the IdP").
            egress("idp", (443, 443), "0.0.0.0/0", "HTTPS to the Cognito token and userinfo endpoints (authenticate-cognito)")
        # A group of its own: one rule per calling service per environment would not fit next to the prefix list
        # (settings/deploy.py SG_INBOUND_RULES). No egress rules: the ALB's egress is the first group's.
        self.callers_security_group = group("alb-callers", "ALB: HTTPS from the tasks of services that call other services")
        self.alb = aws.lb.LoadBalancer(
            f"{env}-alb",
            internal=True,
            load_balancer_type="application",
            subnets=args.private_subnet_ids,
            security_groups=[self.alb_security_group.id, self.callers_security_group.id],
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.prod,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(bucket=logs.bucket, prefix="alb", enabled=True),
            opts=child,
        )
        aws.wafv2.WebAclAssociation(f"{env}-alb-waf", resource_arn=self.alb.arn, web_acl_arn=args.regional_acl_arn, opts=child)
        self.http_listener = aws.lb.Listener(
            f"{env}-alb-http",
            load_balancer_arn=self.alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect", redirect=aws.lb.ListenerDefaultActionRedirectArgs(protocol="HTTPS", port="443", status_code="HTTP_301")
                )
            ],
            opts=child,
        )

        def https_listener(name: str, port: int) -> aws.lb.Listener:
            # Only listener rules serve anything: an unmatched host or path gets a 404 from the ALB itself.
            return aws.lb.Listener(
                name,
                load_balancer_arn=self.alb.arn,
                port=port,
                protocol="HTTPS",
                ssl_policy=TLS_POLICY,
                certificate_arn=regional_cert.certificate_arn,
                default_actions=[
                    aws.lb.ListenerDefaultActionArgs(
                        type="fixed-response",
                        fixed_response=aws.lb.ListenerDefaultActionFixedResponseArgs(
                            content_type="text/plain", message_body="Not found", status_code="404"
                        ),
                    )
                ],
                opts=child,
            )

        self.https_listener = https_listener(f"{env}-alb-https", 443)
        self.test_listener = None
        if args.test_listener_port is not None:
            # Blue/green test traffic: a validation hook or test runner in the VPC reaches the green tasks here
            # before CodeDeploy moves users. Only the VPC may connect; CloudFront's prefix list stays on 443 alone.
            port = args.test_listener_port
            aws.vpc.SecurityGroupIngressRule(
                f"{env}-alb-test-from-vpc",
                security_group_id=self.alb_security_group.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                cidr_ipv4=args.vpc_cidr,
                description="Blue/green test listener, from inside the VPC only",
                opts=child,
            )
            self.test_listener = https_listener(f"{env}-alb-test", port)
        # The origin's name is a host of the zone, so TLS from CloudFront matches the ALB's certificate.
        origin = origin_host(args.domain, args.env if standby else None)
        self._alias(origin, self.alb.dns_name, self.alb.zone_id)
        # Internal hosts: private addresses only (the ALB is internal); callers get them as <SERVICE>_URL.
        for host in args.service_hosts:
            if standby:
                self._private_alias(host)
            else:
                self._alias(host, self.alb.dns_name, self.alb.zone_id)

        # --- CloudFront ------------------------------------------------------------------------------
        # A VPC origin needs an internal ALB and an internet gateway on the VPC (the network has one for NAT); the
        # origin's own traffic never uses the gateway. https-only with TLS 1.2, as the custom origin had it.
        self.vpc_origin = vpc_origin = aws.cloudfront.VpcOrigin(
            f"{env}-vpc-origin",
            vpc_origin_endpoint_config=aws.cloudfront.VpcOriginVpcOriginEndpointConfigArgs(
                name=f"kanna-{env}-alb",
                arn=self.alb.arn,
                http_port=80,
                https_port=443,
                origin_protocol_policy="https-only",
                origin_ssl_protocols=aws.cloudfront.VpcOriginVpcOriginEndpointConfigOriginSslProtocolsArgs(items=["TLSv1.2"], quantity=1),
            ),
            opts=child,
        )
        self.internal_auth = args.internal_auth or self._minimal_internal_auth()
        self.distribution = None
        if global_cert is None:
            self.register_outputs({"albArn": self.alb.arn, "vpcOriginId": vpc_origin.id, "zoneId": self.zone_id})
            return
        origins = [
            aws.cloudfront.DistributionOriginArgs(
                origin_id="alb",
                domain_name=origin,
                vpc_origin_config=aws.cloudfront.DistributionOriginVpcOriginConfigArgs(vpc_origin_id=vpc_origin.id, origin_read_timeout=60),
            )
        ]
        standby_origin = args.standby_origin
        if standby_origin is not None:
            origins.append(
                aws.cloudfront.DistributionOriginArgs(
                    origin_id="standby",
                    domain_name=standby_origin.host,
                    vpc_origin_config=aws.cloudfront.DistributionOriginVpcOriginConfigArgs(
                        vpc_origin_id=standby_origin.vpc_origin_id, origin_read_timeout=60
                    ),
                )
            )
        self.distribution = aws.cloudfront.Distribution(
            f"{env}-cdn",
            enabled=True,
            comment=f"kanna {env}",
            aliases=args.hosts,
            http_version="http2and3",
            is_ipv6_enabled=True,
            price_class="PriceClass_200",  # includes Japan, where the users are
            web_acl_id=args.cloudfront_acl_arn,
            origins=origins,
            default_cache_behavior=aws.cloudfront.DistributionDefaultCacheBehaviorArgs(
                # The fail-over: every request to the standby's ALB (dr.active).
                target_origin_id="standby" if standby_origin is not None and standby_origin.active else "alb",
                # Content is only ever served over HTTPS; plain-HTTP requests get a redirect, never content.
                viewer_protocol_policy="redirect-to-https",
                allowed_methods=["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"],
                cached_methods=["GET", "HEAD"],
                cache_policy_id=CACHING_DISABLED,
                origin_request_policy_id=ALL_VIEWER,
                compress=True,
            ),
            viewer_certificate=aws.cloudfront.DistributionViewerCertificateArgs(
                acm_certificate_arn=global_cert.certificate_arn, ssl_support_method="sni-only", minimum_protocol_version="TLSv1.2_2021"
            ),
            restrictions=aws.cloudfront.DistributionRestrictionsArgs(
                geo_restriction=aws.cloudfront.DistributionRestrictionsGeoRestrictionArgs(restriction_type="none")
            ),
            logging_config=aws.cloudfront.DistributionLoggingConfigArgs(
                bucket=logs.bucket_regional_domain_name, prefix="cloudfront/", include_cookies=False
            ),
            opts=child,
        )
        for host in args.hosts:
            self._alias(host, self.distribution.domain_name, CLOUDFRONT_ZONE_ID)

        self.register_outputs(
            {
                "albArn": self.alb.arn,
                "albSecurityGroupId": self.alb_security_group.id,
                "albCallersSecurityGroupId": self.callers_security_group.id,
                "httpsListenerArn": self.https_listener.arn,
                "testListenerArn": self.test_listener.arn if self.test_listener else None,
                "distributionDomainName": self.distribution.domain_name,
                "zoneId": self.zone_id,
            }
        )

    def _certificate(self, purpose: str, opts: pulumi.ResourceOptions) -> aws.acm.CertificateValidation:
        env, domain = self._args.env, self._args.domain
        cert = aws.acm.Certificate(
            f"{env}-{purpose}-cert",
            domain_name=domain,
            subject_alternative_names=[f"*.{domain}"],
            validation_method="DNS",
            opts=opts,
        )
        if self._args.standby_of is not None:
            # ACM's validation record is the same for a name in one account, in every region (it derives from the
            # name and the account: https://dev.classmethod.jp/articles/tsnote-acm-dns-validation-cname-check/), so
            # the primary's record validates this certificate too; a record of the standby's own would be deleted
            # with the standby, and the primary's renewals with it.
            return aws.acm.CertificateValidation(f"{env}-{purpose}-cert-validated", certificate_arn=cert.arn, opts=opts)
        # The domain and its wildcard share one validation record, and so do both regions' certificates:
        # the record is the same for a name in one account, hence allow_overwrite.
        option = cert.domain_validation_options.apply(lambda options: next(o for o in options if o.domain_name == domain))
        record = aws.route53.Record(
            f"{env}-{purpose}-cert-validation",
            zone_id=self.zone_id,
            name=option.apply(lambda o: o.resource_record_name or ""),
            type=option.apply(lambda o: o.resource_record_type or "CNAME"),
            records=[option.apply(lambda o: o.resource_record_value or "")],
            ttl=300,
            allow_overwrite=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.acm.CertificateValidation(
            f"{env}-{purpose}-cert-validated", certificate_arn=cert.arn, validation_record_fqdns=[record.fqdn], opts=opts
        )

    def _alias(self, host: str, target: pulumi.Input[str], zone_id: pulumi.Input[str]) -> None:
        aws.route53.Record(
            f"{host}-a",
            zone_id=self.zone_id,
            name=host,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(name=target, zone_id=zone_id, evaluate_target_health=False)],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _private_alias(self, host: str) -> None:
        """A standby's service host: the primary owns the public record (a second CREATE of it fails, and an overwrite
        would send the primary's calls to the standby's idle ALB), so the standby answers it only inside its own VPC,
        from a private zone named exactly the host. Route 53 Resolver answers from the most specific matching zone
        ("Public and private hosted zones that have overlapping namespaces",
        https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/hosted-zone-private-considerations.html; the VPC needs
        enableDnsHostnames and enableDnsSupport, which the network sets), so the standby's tasks reach its own ALB."""
        args = self._args
        zone = aws.route53.Zone(
            f"{host}-private-zone",
            name=host,
            comment=f"{host} inside {args.env}'s VPC only (its primary has the public record)",
            vpcs=[aws.route53.ZoneVpcArgs(vpc_id=args.vpc_id, vpc_region=args.region)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        aws.route53.Record(
            f"{host}-private-a",
            zone_id=zone.zone_id,
            name=host,
            type="A",
            aliases=[aws.route53.RecordAliasArgs(name=self.alb.dns_name, zone_id=self.alb.zone_id, evaluate_target_health=False)],
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _log_bucket(self) -> aws.s3.Bucket:
        env, protect = self._args.env, self._args.protect
        logs = secure_bucket(
            f"{env}-edge-logs",
            parent=self,
            # ALB access logs support only SSE-S3; the bucket holds request metadata, never bodies.
            kms_key_arn=None,
            protect=protect,
            statements=lambda arn: [
                {
                    "Sid": "AlbAccessLogs",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{regions.region(self._args.region).elb_log_account}:root"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/alb/*",
                }
            ],
            # CloudFront's standard logs are written through a bucket ACL, which needs ObjectWriter-or-preferred.
            object_ownership="BucketOwnerPreferred",
            expire_days=PROD_LOG_DAYS if self._args.prod else 30,
        )
        return logs.bucket

    def _minimal_internal_auth(self) -> InternalAuth:
        """A small Cognito pool for the admin route, until the security baseline's pool is passed in."""
        env, protect = self._args.env, self._args.protect
        child = pulumi.ResourceOptions(parent=self)
        pool = aws.cognito.UserPool(
            f"{env}-internal-users",
            admin_create_user_config=aws.cognito.UserPoolAdminCreateUserConfigArgs(allow_admin_create_user_only=True),
            mfa_configuration="ON",
            software_token_mfa_configuration=aws.cognito.UserPoolSoftwareTokenMfaConfigurationArgs(enabled=True),
            password_policy=aws.cognito.UserPoolPasswordPolicyArgs(
                minimum_length=14, require_lowercase=True, require_uppercase=True, require_numbers=True, require_symbols=True
            ),
            deletion_protection="ACTIVE" if protect else "INACTIVE",
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        client = aws.cognito.UserPoolClient(
            f"{env}-internal-alb",
            user_pool_id=pool.id,
            generate_secret=True,  # the ALB's authenticate-cognito action needs a confidential client
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=["openid", "email"],
            supported_identity_providers=["COGNITO"],
            callback_urls=[idp_response_url(host) for host in self._args.admin_hosts],
            opts=child,
        )
        domain = aws.cognito.UserPoolDomain(f"{env}-internal-domain", domain=f"kanna-{env}-internal", user_pool_id=pool.id, opts=child)
        return InternalAuth(user_pool_arn=pool.arn, user_pool_client_id=client.id, user_pool_domain=domain.domain)
