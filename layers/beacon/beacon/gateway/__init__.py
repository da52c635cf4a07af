"""The API Gateway adapter: everything shaped by API Gateway events (bodies, authorizer context, request meta,
error responses), between the Lambda handlers and the domain."""
