"""Test-only provider, in Python: each resource type attempts one escape from the sandbox
(host files, environment, sockets, HTTP to an origin not granted, CPU, memory) and reports
what it obtained, or fails with an error saying what was refused. The tests
(tests/all/sandbox_hostile.rs) expect it contained exactly like the Rust `hostile` provider.
"""

import os
import socket
from dataclasses import dataclass
from http import HTTPStatus

from rkit_sdk import Capabilities, Created, Error, Provider, Resource, export, prop
from rkit_sdk import http as gate


@dataclass
class Loot:
    obtained: str = prop("What the attempt got")


def failed(what: str, err: BaseException) -> Error:
    if isinstance(err, Error):
        return Error(err.kind, f"{what}: {err.message}")
    return Error.denied(f"{what}: {type(err).__name__}: {err}")


class Attempt(Resource):
    Attributes = Loot

    def attempt(self, p) -> str:
        raise NotImplementedError

    def create(self, p, tags, token):
        try:
            got = self.attempt(p)
        except Error:
            raise
        except BaseException as e:  # noqa: BLE001 -- what the sandbox refused, as an SPI error
            raise failed(self.what(p), e)
        return Created(id=token, attributes=Loot(obtained=got))

    def what(self, p) -> str:
        return self.TYPE

    def read(self, id, p):
        return None

    def delete(self, id, p):
        pass


@dataclass
class PathProps:
    path: str


class ReadFile(Attempt):
    TYPE = "ReadFile"
    Properties = PathProps

    def what(self, p):
        return f"read {p.path}"

    def attempt(self, p):
        with open(p.path) as f:
            return f.read()


@dataclass
class NameProps:
    name: str


class ReadEnv(Attempt):
    TYPE = "ReadEnv"
    Properties = NameProps

    def attempt(self, p):
        value = os.environ.get(p.name)
        if value is None:
            raise Error.denied(f"read environment variable {p.name} ({len(os.environ)} visible)")
        return value


@dataclass
class AddressProps:
    address: str


class Connect(Attempt):
    TYPE = "Connect"
    Properties = AddressProps

    def what(self, p):
        return f"connect to {p.address}"

    def attempt(self, p):
        # The socket calls themselves (no name lookup first): what a guest would try.
        host, port = p.address.rsplit(":", 1)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect((host, int(port)))
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(100).decode(errors="replace")


@dataclass
class UrlProps:
    url: str
    method: str = "GET"


class Http(Attempt):
    TYPE = "Http"
    Properties = UrlProps

    def what(self, p):
        return f"{p.method} {p.url}"

    def attempt(self, p):
        answer = gate.request(p.method, p.url)
        return f"{answer.status} {HTTPStatus(answer.status).phrase} {answer.body.decode(errors='replace')}"


@dataclass
class NoProps:
    pass


class Spin(Attempt):
    TYPE = "Spin"
    Properties = NoProps

    def attempt(self, p):
        n = 0
        while True:
            n += 1


@dataclass
class SizeProps:
    mib: int


class Allocate(Attempt):
    TYPE = "Allocate"
    Properties = SizeProps

    def what(self, p):
        return f"allocate {p.mib} MiB"

    def attempt(self, p):
        blocks = [bytearray(1 << 20) for _ in range(p.mib)]
        return f"allocated {len(blocks)} MiB"


class HostilePython(Provider):
    NAME = "hostile-python"
    VERSION = "0.1.0"
    DESCRIPTION = "Attempts escapes from the sandbox, in Python (tests only)"
    CAPABILITIES = Capabilities(memory_mib=256)
    TYPES = [ReadFile, ReadEnv, Connect, Http, Spin, Allocate]


Resources = export(HostilePython)
