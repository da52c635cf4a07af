"""The Docker-free local stack: DynamoDB Local, a Secrets Manager emulator and a local API Gateway."""
