"""Operator access through SSM Session Manager only: no SSH, no bastion, no inbound management port.

- The account's session preferences (the `SSM-SessionManagerRunShell` document) encrypt every session with the
  logs key and record it to an encrypted CloudWatch log group and an encrypted S3 bucket.
- ECS Exec sessions are logged to the same places: `exec_logging` is what the platform's cluster sets in its
  `execute_command_configuration`, and the policy its task roles attach.
- Operators get one managed policy: sessions only on this stack's instances and tasks (by the `Stack` tag every
  resource carries), only with the logged preferences document, and ending or resuming only their own sessions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.lib.buckets import SecureBucket, secure_bucket
from components.lib.context import InContext
from components.lib.contracts import ExecLogging

SESSION_DOCUMENT = "SSM-SessionManagerRunShell"  # the name Session Manager reads its account preferences from
EXEC_PREFIX = "ecs-exec/"


@dataclass(frozen=True, kw_only=True)
class OperatorAccessArgs(InContext):
    access_log_bucket: pulumi.Input[str]
    retention_days: int


class OperatorAccess(pulumi.ComponentResource):
    log_group: aws.cloudwatch.LogGroup
    bucket: SecureBucket
    document: aws.ssm.Document
    operator_policy: aws.iam.Policy
    exec_logging: ExecLogging

    def __init__(self, name: str, args: OperatorAccessArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("kanna:security:OperatorAccess", name, None, opts)
        env, account, region = args.env, args.account_id, args.region
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{env}-sessions",
            name=f"/kanna/{env}/sessions",
            retention_in_days=args.retention_days,
            kms_key_id=args.logs_key_arn,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        self.bucket = secure_bucket(
            f"{env}-sessions", parent=self, kms_key_arn=args.logs_key_arn, protect=args.protect, access_log_bucket=args.access_log_bucket
        )
        self.document = aws.ssm.Document(
            f"{env}-session-preferences",
            name=SESSION_DOCUMENT,
            document_type="Session",
            document_format="JSON",
            content=pulumi.Output.all(self.bucket.id, self.log_group.name, args.logs_key_arn).apply(
                lambda values: json.dumps(
                    {
                        "schemaVersion": "1.0",
                        "description": f"kanna {env}: sessions are encrypted with the logs key and recorded to CloudWatch Logs and S3",
                        "sessionType": "Standard_Stream",
                        "inputs": {
                            "s3BucketName": values[0],
                            "s3KeyPrefix": "ssm/",
                            "s3EncryptionEnabled": True,
                            "cloudWatchLogGroupName": values[1],
                            "cloudWatchEncryptionEnabled": True,
                            "cloudWatchStreamingEnabled": True,
                            "kmsKeyId": values[2],
                            "runAsEnabled": False,
                            "idleSessionTimeout": "20",
                            "maxSessionDuration": "60",
                            "shellProfile": {"linux": "", "windows": ""},
                        },
                    }
                )
            ),
            opts=child,
        )
        own_stack = {"StringEquals": {"aws:ResourceTag/Stack": env}}
        document_arn = f"arn:aws:ssm:{region}:{account}:document/{SESSION_DOCUMENT}"
        self.operator_policy = aws.iam.Policy(
            f"{env}-operator-sessions",
            description=f"kanna {env}: SSM sessions and ECS Exec on this stack's instances and tasks only, logged",
            policy=pulumi.Output.from_input(args.logs_key_arn).apply(
                lambda key_arn: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "SessionsOnThisStacksInstances",
                                "Effect": "Allow",
                                "Action": "ssm:StartSession",
                                "Resource": f"arn:aws:ec2:{region}:{account}:instance/*",
                                "Condition": {
                                    "StringEquals": {"ssm:resourceTag/Stack": env},
                                    # Refuse sessions that skip the logged preferences document.
                                    "BoolIfExists": {"ssm:SessionDocumentAccessCheck": "true"},
                                },
                            },
                            {"Sid": "OnlyTheLoggedPreferences", "Effect": "Allow", "Action": "ssm:StartSession", "Resource": document_arn},
                            {
                                "Sid": "EcsExecOnThisStacksTasks",
                                "Effect": "Allow",
                                "Action": "ecs:ExecuteCommand",
                                "Resource": [f"arn:aws:ecs:{region}:{account}:cluster/*", f"arn:aws:ecs:{region}:{account}:task/*"],
                                "Condition": own_stack,
                            },
                            {
                                "Sid": "OwnSessionsOnly",
                                "Effect": "Allow",
                                "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
                                "Resource": f"arn:aws:ssm:*:{account}:session/${{aws:userid}}-*",
                            },
                            {
                                "Sid": "SeeWhatToConnectTo",
                                "Effect": "Allow",
                                "Action": [
                                    "ssm:DescribeSessions",
                                    "ssm:GetConnectionStatus",
                                    "ssm:DescribeInstanceInformation",
                                    "ssm:DescribeInstanceProperties",
                                    "ec2:DescribeInstances",
                                    "ecs:DescribeTasks",
                                    "ecs:ListTasks",
                                    "ecs:DescribeClusters",
                                ],
                                "Resource": "*",
                            },
                            {"Sid": "EncryptTheSession", "Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key_arn},
                        ],
                    }
                )
            ),
            opts=child,
        )
        task_policy = aws.iam.Policy(
            f"{env}-exec-logging-task",
            description=f"kanna {env}: lets a task's ECS Exec agent open sessions and write their logs",
            policy=pulumi.Output.all(self.log_group.arn, self.bucket.arn, args.logs_key_arn).apply(
                lambda values: json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Sid": "SessionChannels",
                                "Effect": "Allow",
                                "Action": [
                                    "ssmmessages:CreateControlChannel",
                                    "ssmmessages:CreateDataChannel",
                                    "ssmmessages:OpenControlChannel",
                                    "ssmmessages:OpenDataChannel",
                                ],
                                "Resource": "*",
                            },
                            {"Sid": "FindTheLogGroup", "Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"},
                            {
                                "Sid": "WriteSessionLogs",
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                                "Resource": f"{values[0]}:*",
                            },
                            {
                                "Sid": "WriteSessionObjects",
                                "Effect": "Allow",
                                "Action": "s3:PutObject",
                                "Resource": f"{values[1]}/{EXEC_PREFIX}*",
                            },
                            {
                                "Sid": "CheckBucketEncryption",
                                "Effect": "Allow",
                                "Action": "s3:GetEncryptionConfiguration",
                                "Resource": values[1],
                            },
                            {
                                "Sid": "SessionKey",
                                "Effect": "Allow",
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                                "Resource": values[2],
                            },
                        ],
                    }
                )
            ),
            opts=child,
        )
        self.exec_logging = ExecLogging(self.log_group.name, self.bucket.id, EXEC_PREFIX, args.logs_key_arn, task_policy.arn)
        self.register_outputs(
            {
                "sessionLogGroup": self.log_group.name,
                "sessionBucket": self.bucket.id,
                "operatorPolicyArn": self.operator_policy.arn,
                "execTaskPolicyArn": task_policy.arn,
            }
        )
