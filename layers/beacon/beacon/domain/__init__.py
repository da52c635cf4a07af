"""What Beacon does, independent of Lambda, API Gateway and boto3."""
