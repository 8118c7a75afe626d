"""The edge: WAF, CloudFront and the public ALB."""
