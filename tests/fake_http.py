"""An in-process network at requests' transport seam (HTTPAdapter.send): requests' own auth classes, hooks
and redirect rules run as they would over a socket, and every request sent is recorded."""

import io
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import requests
import urllib3

Reply = tuple[int, Any]
Handler = Callable[[requests.PreparedRequest], Reply]


def reply(status: int, body: Any) -> Reply:
    """An answer: `body` as JSON, or as it is when it is bytes (for answers that are not JSON)."""
    return status, body


def _body_of(request: requests.PreparedRequest) -> Any:
    """A JSON body as its value, a form body (RFC 6749's token requests) as a dict of its fields."""
    if not request.body:
        return None
    if request.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        return dict(parse_qsl(request.body))
    return json.loads(request.body)


class FakeNetwork:
    """Answers each request with the handler of the first route its URL contains, in order added."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, Any, dict[str, str]]] = []
        self.routes: list[tuple[str, Handler]] = []

    def route(self, fragment: str, handler: Handler) -> None:
        self.routes.append((fragment, handler))

    def send(self, adapter: requests.adapters.HTTPAdapter, request: requests.PreparedRequest, **kwargs: Any):
        assert kwargs.get("timeout"), "every call needs a timeout"
        body = _body_of(request)
        self.requests.append((request.url, body, dict(request.headers)))
        handler = next(handler for fragment, handler in self.routes if fragment in request.url)
        status, content = handler(request)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(content if isinstance(content, bytes) else json.dumps(content).encode()),
            status=status,
            headers={"Content-Type": "application/json"},
            preload_content=False,
        )
        return adapter.build_response(request, raw)

    def calls_to(self, fragment: str) -> list[tuple[str, Any, dict[str, str]]]:
        return [call for call in self.requests if fragment in call[0]]


def install(monkeypatch, network: FakeNetwork) -> FakeNetwork:
    monkeypatch.setattr(
        requests.adapters.HTTPAdapter,
        "send",
        lambda adapter, request, **kwargs: network.send(adapter, request, **kwargs),
    )
    return network
