"""The wire contract: pydantic models for requests, responses and errors."""
