"""The `etcd` provider, in Python: keys and owned prefixes of an etcd v3 cluster, through its
JSON gateway (`/v3/kv/…`, `/v3/lease/…`) over the host's HTTP gate.

- `Key`: one key with its value, optionally attached to a lease of `LeaseTtl` seconds (the
  key disappears when the lease expires unless kept alive: drift the next plan repairs).
- `Prefix`: everything under a prefix, owned: its `Keys` (relative names → values) are the
  whole content; a key someone else adds under it is drift, removed by the next apply, and
  destroying the prefix deletes everything under it.

Tags live beside the data, under the configured `TagPrefix` (default `/.rkit-tags/`), one key
per object holding its tags as JSON, so that `list` can find a stack's objects after a lost
state. A create that finds its key already there adopts it only when that key's tags name the
same stack and resource (a create whose answer was lost); anything else is a conflict, never
overwritten.

The provider never holds a secret and reaches nothing but the endpoint the user grants.
"""

import base64
import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from rkit_sdk import Capabilities, Created, Diagnostic, Error, Observed, Provider, Resource, export, prop
from rkit_sdk import http


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text or "").decode(errors="replace")


def range_end(prefix: str) -> str:
    """The end of the range of keys starting with `prefix` (etcd's prefix convention)."""
    raw = bytearray(prefix.encode())
    while raw:
        if raw[-1] < 0xFF:
            raw[-1] += 1
            return base64.b64encode(bytes(raw)).decode()
        raw.pop()
    return base64.b64encode(b"\0").decode()


@dataclass
class EtcdConfig:
    endpoint: str = prop("The etcd client URL, e.g. http://127.0.0.1:2379 (grant it in Grants.Http)")
    tag_prefix: str = prop("Where objects' tags are kept", default="/.rkit-tags/")


class Etcd(Provider):
    NAME = "etcd"
    VERSION = "0.1.0"
    DESCRIPTION = "etcd v3 keys and owned prefixes, through the JSON gateway"
    Config = EtcdConfig
    CAPABILITIES = Capabilities(http_hosts=["http://127.0.0.1:2379"], memory_mib=128)

    def configure(self, config: EtcdConfig) -> None:
        if not config.endpoint.startswith(("http://", "https://")):
            raise Error.invalid("Endpoint", f"{config.endpoint!r} is not an http(s) URL")
        self.endpoint = config.endpoint.rstrip("/")
        self.tag_prefix = config.tag_prefix

    # The gateway's calls.

    def call(self, path: str, document: dict) -> dict:
        answer = http.post_json(f"{self.endpoint}{path}", document)
        if answer.status >= 500 or answer.status == 429:
            raise Error.transient(f"etcd {path}: HTTP {answer.status}: {answer.body[:200]!r}")
        body = answer.json() or {}
        if answer.status != 200:
            message = body.get("message") or body.get("error") or answer.body[:200]
            raise Error.other(f"etcd {path}: HTTP {answer.status}: {message}")
        return body

    def get(self, key: str) -> Optional[dict]:
        kvs = self.call("/v3/kv/range", {"key": b64(key)}).get("kvs") or []
        return kvs[0] if kvs else None

    def scan(self, prefix: str) -> List[dict]:
        return self.call("/v3/kv/range", {"key": b64(prefix), "range_end": range_end(prefix)}).get("kvs") or []

    def put(self, key: str, value: str, lease: int = 0) -> None:
        document = {"key": b64(key), "value": b64(value)}
        if lease:
            document["lease"] = str(lease)
        self.call("/v3/kv/put", document)

    def delete(self, key: str, prefix: bool = False) -> None:
        document = {"key": b64(key)}
        if prefix:
            document["range_end"] = range_end(key)
        self.call("/v3/kv/deleterange", document)

    def grant(self, ttl: int) -> int:
        return int(self.call("/v3/lease/grant", {"TTL": str(ttl)})["ID"])

    def ttl_of(self, lease: int) -> Optional[int]:
        """The TTL a lease was granted with (None: no such lease any more)."""
        answer = self.call("/v3/lease/timetolive", {"ID": str(lease)})
        if int(answer.get("TTL", "-1")) < 0:
            return None
        return int(answer.get("grantedTTL", "0"))

    def revoke(self, lease: int) -> None:
        try:
            self.call("/v3/lease/revoke", {"ID": str(lease)})
        except Error:
            pass  # already expired: nothing to revoke

    # Tags, beside the data.

    def tags_key(self, kind: str, id: str) -> str:
        return f"{self.tag_prefix}{kind}/{id}"

    def lease_key(self, id: str) -> str:
        """Where the lease rkit granted for key `id` is recorded (beside the tags, never a
        key a user's prefix covers)."""
        return f"{self.tag_prefix}lease/Key/{id}"

    def tags_of(self, kind: str, id: str) -> Dict[str, str]:
        kv = self.get(self.tags_key(kind, id))
        if kv is None:
            return {}
        try:
            tags = json.loads(unb64(kv.get("value", "")))
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}

    def tag(self, kind: str, id: str, tags: Dict[str, str]) -> None:
        self.put(self.tags_key(kind, id), json.dumps(tags, sort_keys=True))

    def tagged(self, kind: str, wanted: Dict[str, str]) -> List[str]:
        """The IDs of `kind` whose tags carry all of `wanted`."""
        prefix = self.tags_key(kind, "")
        found = []
        for kv in self.scan(prefix):
            try:
                tags = json.loads(unb64(kv.get("value", "")))
            except ValueError:
                continue
            if isinstance(tags, dict) and all(tags.get(k) == v for k, v in wanted.items()):
                found.append(unb64(kv["key"])[len(prefix):])
        return found

    def found(self, resource: Resource, wanted: Dict[str, str]) -> List[Observed]:
        """What `list` answers for `resource`'s type: its objects tagged with `wanted`, read."""
        observed = (resource.read(id, None) for id in self.tagged(resource.TYPE, wanted))
        return [o for o in observed if o is not None]

    def claim(self, kind: str, id: str, tags: Dict[str, str], exists: bool) -> None:
        """Refuses to take over `id` when it exists and is not this resource's own."""
        if not exists:
            return
        theirs = self.tags_of(kind, id)
        same = all(theirs.get(k) == tags.get(k) for k in ("rkit:stack", "rkit:name"))
        if not theirs or not same:
            owner = theirs.get("rkit:name", "nobody known")
            raise Error.conflict(
                f"{id} already exists in etcd (owned by {owner}): import it or choose another name"
            )


@dataclass
class KeyProperties:
    key: str = prop("The key")
    value: str = prop("Its value")
    lease_ttl: Optional[int] = prop("Attach it to a lease of this many seconds", default=None)


@dataclass
class KeyAttributes:
    revision: int = prop("The revision that last changed it")
    lease: Optional[str] = prop("The lease it is attached to", default=None)


class Key(Resource):
    TYPE = "Key"
    DESCRIPTION = "An etcd key and its value, optionally with a lease"
    Properties = KeyProperties
    Attributes = KeyAttributes
    FORCE_NEW = ["Key"]

    def validate(self, p: KeyProperties):
        problems = []
        if not p.key:
            problems.append(Diagnostic(field="Key", message="must not be empty"))
        if p.lease_ttl is not None and p.lease_ttl < 1:
            problems.append(Diagnostic(field="LeaseTtl", message="must be at least 1 second"))
        return problems

    def write(self, p: KeyProperties) -> KeyAttributes:
        """Puts the key, on a new lease when it has a TTL. The lease is recorded beside the key
        before the key is put on it, so that whatever happens to the key afterwards (rewritten
        without its lease by someone else, a put that failed) the lease is found and released."""
        etcd = self.provider
        lease = etcd.grant(p.lease_ttl) if p.lease_ttl else 0
        if lease:
            etcd.put(etcd.lease_key(p.key), str(lease))
        etcd.put(p.key, p.value, lease)
        kv = etcd.get(p.key) or {}
        return KeyAttributes(revision=int(kv.get("mod_revision", "0")), lease=str(lease) if lease else None)

    def leases_of(self, id: str, kv: Optional[dict]) -> set:
        """The lease rkit granted for `id`: the one recorded beside it (even when someone
        detached the key from it), else the one the key hangs on (`kv`)."""
        etcd = self.provider
        record = etcd.get(etcd.lease_key(id))
        # Recorded: only that one (a key someone re-attached to a lease of theirs keeps
        # theirs alive). Not recorded (a key written by an older version): the one it hangs on.
        found = unb64(record.get("value", "")) if record else (kv.get("lease", "") if kv else "")
        return {found} if found.isdigit() and found != "0" else set()

    def release(self, id: str, leases: set, keep: Optional[str] = None) -> None:
        """Revokes `leases` except `keep`; forgets the record when nothing is kept."""
        etcd = self.provider
        for lease in leases - {keep}:
            etcd.revoke(int(lease))
        if keep is None:
            etcd.delete(etcd.lease_key(id))

    def create(self, p: KeyProperties, tags, token):
        etcd = self.provider
        etcd.claim("Key", p.key, tags, etcd.get(p.key) is not None)
        etcd.tag("Key", p.key, tags)
        return Created(id=p.key, attributes=self.write(p))

    def read(self, id: str, p: KeyProperties):
        etcd = self.provider
        kv = etcd.get(id)
        if kv is None:
            return None
        lease = int(kv.get("lease", "0"))
        ttl = etcd.ttl_of(lease) if lease else None
        return Observed(
            id=id,
            properties=KeyProperties(key=id, value=unb64(kv.get("value", "")), lease_ttl=ttl),
            attributes=KeyAttributes(revision=int(kv.get("mod_revision", "0")), lease=str(lease) if lease else None),
            tags=etcd.tags_of("Key", id),
        )

    def update(self, id: str, old: KeyProperties, new: KeyProperties, tags):
        etcd = self.provider
        before = self.leases_of(id, etcd.get(id))
        attributes = self.write(new)
        self.release(id, before, keep=attributes.lease)
        etcd.tag("Key", id, tags)
        return attributes

    def delete(self, id: str, p: KeyProperties) -> None:
        etcd = self.provider
        before = self.leases_of(id, etcd.get(id))
        etcd.delete(id)
        self.release(id, before)
        etcd.delete(etcd.tags_key("Key", id))

    def list(self, tags):
        return self.provider.found(self, tags)


@dataclass
class PrefixProperties:
    prefix: str = prop("The prefix owned (every key starting with it)")
    keys: Dict[str, str] = prop("Its whole content: names after the prefix → values", default_factory=dict)


@dataclass
class PrefixAttributes:
    count: int = prop("How many keys it holds")


class Prefix(Resource):
    TYPE = "Prefix"
    DESCRIPTION = "Everything under an etcd prefix, owned: keys not listed are removed"
    Properties = PrefixProperties
    Attributes = PrefixAttributes
    FORCE_NEW = ["Prefix"]

    def validate(self, p: PrefixProperties):
        tags = self.provider.tag_prefix
        if not p.prefix:
            return [Diagnostic(field="Prefix", message="must not be empty")]
        if p.prefix.startswith(tags) or tags.startswith(p.prefix):
            return [Diagnostic(field="Prefix", message=f"overlaps {tags}, where rkit keeps tags")]
        return []

    def content(self, prefix: str) -> Dict[str, str]:
        return {unb64(kv["key"])[len(prefix):]: unb64(kv.get("value", "")) for kv in self.provider.scan(prefix)}

    def sync(self, p: PrefixProperties) -> PrefixAttributes:
        etcd = self.provider
        there = self.content(p.prefix)
        for name in there:
            if name not in p.keys:
                etcd.delete(p.prefix + name)
        for name, value in p.keys.items():
            if there.get(name) != value:
                etcd.put(p.prefix + name, value)
        return PrefixAttributes(count=len(p.keys))

    def create(self, p: PrefixProperties, tags, token):
        etcd = self.provider
        etcd.claim("Prefix", p.prefix, tags, bool(self.content(p.prefix)))
        etcd.tag("Prefix", p.prefix, tags)
        return Created(id=p.prefix, attributes=self.sync(p))

    def read(self, id: str, p):
        etcd = self.provider
        tags = etcd.tags_of("Prefix", id)
        keys = self.content(id)
        if not tags and not keys:
            return None
        return Observed(
            id=id,
            properties=PrefixProperties(prefix=id, keys=keys),
            attributes=PrefixAttributes(count=len(keys)),
            tags=tags,
        )

    def update(self, id: str, old, new: PrefixProperties, tags):
        self.provider.tag("Prefix", id, tags)
        return self.sync(new)

    def delete(self, id: str, p) -> None:
        etcd = self.provider
        etcd.delete(id, prefix=True)
        etcd.delete(etcd.tags_key("Prefix", id))

    def list(self, tags):
        return self.provider.found(self, tags)


Etcd.TYPES = [Key, Prefix]

Resources = export(Etcd)
