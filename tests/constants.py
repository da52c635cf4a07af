"""Values the test suites share, defined once and imported where used (fixtures live in conftest.py files)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from beacon.domain.auth import client_id_key
from beacon.domain.entities import Caller, ClientType, RequestMeta

ROOT = Path(__file__).resolve().parent.parent  # the repository
TEMPLATE = ROOT / "template.yaml"

# The fixed present of the tests that need one; tests whose dates matter (the read API's windows, sessions
# around midnight) use November's.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOVEMBER_NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

# User agents, as browsers and crawlers send them.
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/17.4 Safari/605.1.15"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

# A write client of project-a, authenticated with its secret, and a request of its user.
CLIENT_ID = "3f1f0c1e-8c9a-4c1e-9d55-7a0c2d6e5b11"
CALLER = Caller("project-a", CLIENT_ID, ClientType.WRITE, secret_auth=True)
META = RequestMeta("r", "203.0.113.7", FIREFOX)

# The method API Gateway asks the authorizer about.
METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/POST/track"

# The key that signs client ids in tests that need no stack (a stack's own key is read from its Secrets Manager).
CLIENT_ID_KEY = client_id_key(b"tests-stack-secret")
