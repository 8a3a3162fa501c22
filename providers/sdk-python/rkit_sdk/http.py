"""Outgoing HTTP from inside the sandbox (wasi:http), blocking, one request at a time.

The host's gate decides what leaves: a request to an origin the user did not grant fails with
an `Error` of kind `denied` naming it. A request whose answer never came (reset, timeout after
it left) is `outcome-unknown`: the engine finds out what happened before repeating anything
(the provider does not retry; the engine owns retries).

Needs the `provider-http` world (wit/provider.wit), which imports wasi:http/outgoing-handler.
"""

import json as _json
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as h

from .errors import Error

_METHODS = {
    "GET": h.Method_Get,
    "HEAD": h.Method_Head,
    "POST": h.Method_Post,
    "PUT": h.Method_Put,
    "DELETE": h.Method_Delete,
    "PATCH": h.Method_Patch,
}

# The most a response body may hold (the sandbox's memory limit applies anyway).
MAX_BODY = 16 * 1024 * 1024


@dataclass
class Response:
    status: int
    headers: Dict[str, str]
    body: bytes

    def json(self):
        try:
            return _json.loads(self.body or b"null")
        except ValueError as e:
            raise Error.other(f"the answer (HTTP {self.status}) is not JSON: {e}")


def request(
    method: str,
    url: str,
    body: Optional[bytes] = None,
    headers: Optional[List[Tuple[str, str]]] = None,
) -> Response:
    """Sends one request and reads the whole answer."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Error.invalid("", f"{url!r} is not an http(s) URL")
    fields = h.Fields.from_list([(k, v.encode()) for k, v in (headers or [])])
    req = h.OutgoingRequest(fields)
    req.set_method(_METHODS[method]())
    req.set_scheme(h.Scheme_Https() if parts.scheme == "https" else h.Scheme_Http())
    req.set_authority(parts.netloc)
    path = parts.path or "/"
    req.set_path_with_query(path + ("?" + parts.query if parts.query else ""))
    outgoing = req.body()
    if body:
        stream = outgoing.write()
        for at in range(0, len(body), 4096):
            stream.blocking_write_and_flush(body[at : at + 4096])
        stream.__exit__(None, None, None)
    h.OutgoingBody.finish(outgoing, None)

    future = outgoing_handler.handle(req, None)
    pollable = future.subscribe()
    pollable.block()
    answer = future.get()
    if answer is None or isinstance(answer, Err) or isinstance(answer.value, Err):
        code = None if answer is None or isinstance(answer, Err) else answer.value.value
        name = type(code).__name__ if code is not None else "no answer"
        detail = getattr(code, "value", None)
        text = f"{method} {url}: {name}" + (f" ({detail})" if detail else "")
        if name == "ErrorCode_HttpRequestDenied":
            raise Error.denied(f"{text}: the sandbox does not grant this origin")
        if name in ("ErrorCode_DnsError", "ErrorCode_ConnectionRefused", "ErrorCode_DestinationNotFound"):
            # Nothing was sent: safe to try again later.
            raise Error.transient(text)
        raise Error.outcome_unknown(text)
    response = answer.value.value
    status = response.status()
    response_headers = {k.lower(): v.decode(errors="replace") for k, v in response.headers().entries()}
    incoming = response.consume()
    stream = incoming.stream()
    chunks, size = [], 0
    while True:
        try:
            chunk = stream.blocking_read(65536)
        except Err as e:
            if isinstance(e.value, streams.StreamError_Closed):
                break
            raise Error.outcome_unknown(f"{method} {url}: the answer was cut off")
        size += len(chunk)
        if size > MAX_BODY:
            raise Error.other(f"{method} {url}: the answer is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return Response(status=status, headers=response_headers, body=b"".join(chunks))


def post_json(url: str, document) -> Response:
    """POSTs `document` as JSON."""
    return request(
        "POST",
        url,
        _json.dumps(document).encode(),
        [("content-type", "application/json")],
    )
