"""Plain HTTP to a running app in tests (urllib: what a script without extras has)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Answer:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def call(base: str, method: str, path: str, params: dict | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None, timeout: float = 120) -> Answer:
    """One request; an error status is an answer too (never an exception)."""
    query = urllib.parse.urlencode(params or {}, doseq=True)
    url = f"{base}{path}" + (f"?{query}" if query else "")
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read())


def get(base: str, path: str, **params: Any) -> Answer:
    return call(base, "GET", path, {k: v for k, v in params.items() if v is not None})


def multipart(name: str, data: bytes, **fields: str) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body with ``file`` (and other fields), and its headers."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                 f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode()
                 + data + f"\r\n--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def upload(base: str, name: str, data: bytes, headers: dict[str, str] | None = None,
           **fields: str) -> Answer:
    body, head = multipart(name, data, **fields)
    return call(base, "POST", "/files", body=body, headers={**head, **(headers or {})})
