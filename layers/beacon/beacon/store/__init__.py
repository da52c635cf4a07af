"""One module per AWS dependency; each turns the service's errors into domain errors."""
