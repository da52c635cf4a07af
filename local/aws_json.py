"""What the local emulators of AWS JSON-1.1 services (local/athena.py, local/firehose.py) share: the answer's
framing and a server on a background thread."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AwsJsonHandler(BaseHTTPRequestHandler):
    """A request handler that answers in AWS's JSON 1.1 protocol and logs nothing."""

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


def serve_in_background(handler: type[BaseHTTPRequestHandler], port: int, name: str) -> ThreadingHTTPServer:
    """`handler` served on 127.0.0.1:`port` by a daemon thread named `name`."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server
