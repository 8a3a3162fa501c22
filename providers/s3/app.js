// The `s3` provider, in JavaScript: S3 buckets (versioning, tags, policy) and objects (content,
// content type), through S3's REST API with `fetch`.
//
// It never holds a secret: it asks for `aws` credentials, rkit resolves them and signs each
// request at its HTTP gate, which lets through only the S3 actions declared below (and
// approved by the user) to the endpoint rkit resolved (`configure` gets `Endpoints.S3`).
//
// Exactly once: a bucket's name and an object's bucket and key are their identity. A create
// that finds its bucket already there adopts it only when its tags name the same stack and
// resource (a create whose answer was lost); anything else is a conflict, never taken over.
import { RkitError, provider, resource, t } from "./rkit-sdk.js";

const cfg = { endpoint: "", region: "us-east-1" };

const xmlEscape = (s) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]);
const xmlUnescape = (s) =>
  s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e]);
const first = (xml, name) => {
  const m = xml.match(new RegExp(`<${name}>([^<]*)</${name}>`));
  return m ? xmlUnescape(m[1]) : undefined;
};
const all = (xml, name) =>
  [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, "g"))].map((m) => m[1]);
const path = (bucket, key) =>
  `/${encodeURIComponent(bucket)}${key === undefined ? "" : "/" + key.split("/").map(encodeURIComponent).join("/")}`;

// One request; the answer's status and text (what failed is the caller's to judge).
async function s3(method, target, { query = "", body, headers = {} } = {}) {
  const url = `${cfg.endpoint}${target}${query ? "?" + query : ""}`;
  let answer;
  try {
    answer = await fetch(url, { method, body, headers });
  } catch (e) {
    // The request may have left: the engine finds out before repeating it (a denial by the
    // sandbox is reported by rkit as such).
    throw RkitError.outcomeUnknown(`${method} ${target}${query ? "?" + query : ""}: ${e.message}`);
  }
  const text = method === "HEAD" ? "" : await answer.text();
  return { status: answer.status, text, headers: answer.headers };
}

// Throws the error an S3 answer means.
function failed(what, answer) {
  const code = first(answer.text, "Code") || `HTTP ${answer.status}`;
  const message = `${what}: ${code}: ${first(answer.text, "Message") || answer.text.slice(0, 200)}`;
  if (answer.status === 404) return RkitError.notFound(message);
  if (answer.status === 409) return RkitError.conflict(message);
  if (answer.status === 403) return RkitError.denied(message);
  if (answer.status >= 500 || code === "SlowDown" || answer.status === 429) return RkitError.transient(message);
  return RkitError.other(message);
}

async function ok(what, method, target, options) {
  const answer = await s3(method, target, options);
  if (answer.status >= 300) throw failed(what, answer);
  return answer;
}

// The tags of a bucket or object ({} if none).
async function tagsOf(target, what) {
  const answer = await s3("GET", target, { query: "tagging" });
  if (answer.status === 404) {
    if (first(answer.text, "Code") === "NoSuchTagSet") return {};
    throw failed(what, answer);
  }
  if (answer.status >= 300) throw failed(what, answer);
  return Object.fromEntries(all(answer.text, "Tag").map((x) => [first(x, "Key"), first(x, "Value") ?? ""]));
}

const tagging = (tags) =>
  `<Tagging><TagSet>${Object.entries(tags)
    .map(([k, v]) => `<Tag><Key>${xmlEscape(k)}</Key><Value>${xmlEscape(v)}</Value></Tag>`)
    .join("")}</TagSet></Tagging>`;

const own = (tags) => Object.fromEntries(Object.entries(tags).filter(([k]) => !k.startsWith("rkit:")));
const sameResource = (theirs, ours) => ["rkit:stack", "rkit:name"].every((k) => theirs[k] !== undefined && theirs[k] === ours[k]);

const Bucket = resource({
  type: "Bucket",
  description: "An S3 bucket with its versioning, tags and policy",
  properties: {
    Name: t.string("The bucket's name (S3's rules: 3 to 63 lowercase letters, digits, - and .)"),
    Versioning: t.withDefault(t.boolean("Keep every version of its objects (off: suspended)"), false),
    Tags: t.withDefault(t.map(t.string(), "Its tags, besides rkit's"), {}),
    Policy: t.optional(t.any("Its bucket policy, as a JSON object")),
    ForceDestroy: t.withDefault(
      t.boolean("Deleting it deletes every object and old version in it first (else a bucket not empty is not deleted)"),
      false,
    ),
  },
  attributes: { Arn: t.string("arn:aws:s3:::NAME") },
  forceNew: ["Name"],
  validate(p) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(p.Name)) {
      return [{ field: "Name", message: "not an S3 bucket name (3 to 63 lowercase letters, digits, - and .)" }];
    }
    return [];
  },
  async create(p, tags) {
    const what = `create bucket ${p.Name}`;
    const body =
      cfg.region === "us-east-1"
        ? undefined
        : `<CreateBucketConfiguration><LocationConstraint>${xmlEscape(cfg.region)}</LocationConstraint></CreateBucketConfiguration>`;
    // A bucket already there is this resource's only if its tags say so (S3 answers a
    // create of one's own bucket with success in us-east-1: ask first).
    const claim = async () => {
      const theirs = await tagsOf(path(p.Name), what);
      if (!sameResource(theirs, tags)) {
        throw RkitError.conflict(
          `bucket ${p.Name} already exists (owned by ${theirs["rkit:name"] || "nobody known"}): import it or choose another name`,
        );
      }
    };
    const head = await s3("HEAD", path(p.Name));
    if (head.status < 300) {
      await claim();
    } else {
      const answer = await s3("PUT", path(p.Name), { body });
      if (answer.status >= 300) {
        if (first(answer.text, "Code") !== "BucketAlreadyOwnedByYou") throw failed(what, answer);
        await claim();
      }
    }
    await configure(p, tags);
    return { id: p.Name, attributes: { Arn: `arn:aws:s3:::${p.Name}` } };
  },
  async read(id, p) {
    const head = await s3("HEAD", path(id));
    if (head.status === 404) return undefined;
    if (head.status >= 300) throw failed(`read bucket ${id}`, head);
    const versioning = await ok(`read bucket ${id}`, "GET", path(id), { query: "versioning" });
    const tags = await tagsOf(path(id), `read bucket ${id}`);
    const policy = await s3("GET", path(id), { query: "policy" });
    if (policy.status >= 300 && policy.status !== 404) throw failed(`read bucket ${id}`, policy);
    return {
      id,
      properties: {
        Name: id,
        Versioning: first(versioning.text, "Status") === "Enabled",
        Tags: own(tags),
        Policy: policy.status === 404 ? undefined : JSON.parse(policy.text),
        // Not stored in S3: what rkit does on delete.
        ForceDestroy: p ? p.ForceDestroy : false,
      },
      attributes: { Arn: `arn:aws:s3:::${id}` },
      tags,
    };
  },
  async update(id, oldP, newP, tags) {
    await configure(newP, tags, oldP);
    return { Arn: `arn:aws:s3:::${id}` };
  },
  async delete(id, p) {
    if (p.ForceDestroy) await empty(id);
    const answer = await s3("DELETE", path(id));
    if (first(answer.text, "Code") === "BucketNotEmpty") {
      throw RkitError.conflict(
        `bucket ${id} is not empty (objects, or old versions of them): delete them, or set ForceDestroy`,
      );
    }
    if (answer.status >= 300 && answer.status !== 404) throw failed(`delete bucket ${id}`, answer);
  },
  async list(wanted) {
    const answer = await ok("list buckets", "GET", "/");
    const found = [];
    for (const name of all(answer.text, "Name")) {
      const tags = await tagsOf(path(name), `list bucket ${name}`).catch(() => ({}));
      if (Object.entries(wanted).every(([k, v]) => tags[k] === v)) {
        const o = await Bucket.read(name, undefined);
        if (o) found.push(o);
      }
    }
    return found;
  },
});

// Deletes every object version and delete marker of a bucket.
async function empty(bucket) {
  let marker = "";
  for (;;) {
    const answer = await s3("GET", path(bucket), { query: `versions${marker}` });
    if (answer.status === 404) return;
    if (answer.status >= 300) throw failed(`empty bucket ${bucket}`, answer);
    const entries = [...all(answer.text, "Version"), ...all(answer.text, "DeleteMarker")];
    for (const entry of entries) {
      const key = first(entry, "Key");
      const version = first(entry, "VersionId");
      // `null` names the version written while versioning was off or suspended.
      const query = version ? `versionId=${encodeURIComponent(version)}` : "";
      const gone = await s3("DELETE", path(bucket, key), { query });
      if (gone.status >= 300 && gone.status !== 404) throw failed(`empty bucket ${bucket}: ${key}`, gone);
    }
    if (first(answer.text, "IsTruncated") !== "true") return;
    marker = `&key-marker=${encodeURIComponent(first(answer.text, "NextKeyMarker") || "")}` +
      `&version-id-marker=${encodeURIComponent(first(answer.text, "NextVersionIdMarker") || "")}`;
  }
}

// Brings a bucket's versioning, tags and policy to `p` (only what differs from `old`).
async function configure(p, tags, old) {
  const target = path(p.Name);
  const what = `configure bucket ${p.Name}`;
  if (!old || old.Versioning !== p.Versioning) {
    if (p.Versioning || old) {
      const status = p.Versioning ? "Enabled" : "Suspended";
      await ok(what, "PUT", target, {
        query: "versioning",
        body: `<VersioningConfiguration><Status>${status}</Status></VersioningConfiguration>`,
      });
    }
  }
  await ok(what, "PUT", target, { query: "tagging", body: tagging({ ...p.Tags, ...tags }) });
  if (p.Policy !== undefined) {
    await ok(what, "PUT", target, { query: "policy", body: JSON.stringify(p.Policy) });
  } else if (old && old.Policy !== undefined) {
    await ok(what, "DELETE", target, { query: "policy" });
  }
}

const ObjectType = resource({
  type: "Object",
  description: "An object in a bucket: its content and content type",
  properties: {
    Bucket: t.string("The bucket"),
    Key: t.string("Its key"),
    Content: t.string("Its content (text)"),
    ContentType: t.withDefault(t.string("Its Content-Type"), "text/plain"),
  },
  attributes: { ETag: t.string("Its entity tag") },
  forceNew: ["Bucket", "Key"],
  async create(p, tags) {
    const existing = await s3("GET", path(p.Bucket, p.Key), { query: "tagging" });
    if (existing.status < 300) {
      const theirs = Object.fromEntries(all(existing.text, "Tag").map((x) => [first(x, "Key"), first(x, "Value") ?? ""]));
      if (!sameResource(theirs, tags)) {
        throw RkitError.conflict(`s3://${p.Bucket}/${p.Key} already exists (owned by ${theirs["rkit:name"] || "nobody known"}): import it or choose another key`);
      }
    }
    return { id: `${p.Bucket}/${p.Key}`, attributes: await put(p, tags) };
  },
  async read(id, p) {
    const answer = await s3("GET", path(p.Bucket, p.Key));
    if (answer.status === 404) return undefined;
    if (answer.status >= 300) throw failed(`read s3://${id}`, answer);
    const tags = await tagsOf(path(p.Bucket, p.Key), `read s3://${id}`);
    return {
      id,
      properties: { Bucket: p.Bucket, Key: p.Key, Content: answer.text, ContentType: answer.headers.get("content-type") || "" },
      attributes: { ETag: (answer.headers.get("etag") || "").replaceAll('"', "") },
      tags,
    };
  },
  update: (id, oldP, newP, tags) => put(newP, tags),
  async delete(id, p) {
    const answer = await s3("DELETE", path(p.Bucket, p.Key));
    if (answer.status >= 300 && answer.status !== 404) throw failed(`delete s3://${id}`, answer);
  },
});

async function put(p, tags) {
  const query = Object.entries(tags).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  const answer = await ok(`put s3://${p.Bucket}/${p.Key}`, "PUT", path(p.Bucket, p.Key), {
    body: p.Content,
    headers: { "content-type": p.ContentType, "x-amz-tagging": query },
  });
  return { ETag: (answer.headers.get("etag") || "").replaceAll('"', "") };
}

export const resources = provider({
  name: "s3",
  version: "0.1.0",
  description: "S3 buckets and objects, in JavaScript, signed by rkit",
  config: {
    Region: t.optional(t.string("The region (rkit fills it from your AWS settings)")),
    Endpoints: t.withDefault(t.map(t.string(), "Service endpoints (rkit fills them)"), {}),
  },
  capabilities: {
    credentials: ["aws"],
    memoryMib: 128,
    apiActions: [
      "s3:ListAllMyBuckets", "s3:CreateBucket", "s3:DeleteBucket", "s3:ListBucket",
      "s3:GetBucketVersioning", "s3:PutBucketVersioning", "s3:GetBucketTagging", "s3:PutBucketTagging",
      "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging", "s3:PutObjectTagging",
      "s3:ListBucketVersions", "s3:DeleteObjectVersion",
    ],
  },
  types: [Bucket, ObjectType],
  configure(config) {
    if (!config.Endpoints.S3) {
      throw RkitError.invalid("Endpoints.S3", "no S3 endpoint: give the aws credentials a region (AWS_REGION) or an endpoint");
    }
    cfg.endpoint = config.Endpoints.S3.replace(/\/$/, "");
    cfg.region = config.Region || "us-east-1";
  },
});
