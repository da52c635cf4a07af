"""Operator tools: provisioning clients locally or in a deployed stack."""
