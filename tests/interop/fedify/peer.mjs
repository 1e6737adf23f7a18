// A Fedify federation used as an independent test peer by tests/interop (see conftest.py there).
//
// One actor, /users/fedi, WebFinger acct:fedi@127.0.0.1:PORT (a Person with an RSA key for HTTP and LD signatures and an Ed25519
// key for FEP-8b32 proofs), served on 127.0.0.1 by node:http. Fedify does everything the way it
// does for real servers: it parses every inbound activity as JSON-LD, verifies signatures and
// proofs, signs what it sends with RFC 9421 first and draft-cavage after an error (double knock).
//
// Control API (JSON over HTTP on the same port, under /_control/):
//   GET  /_control/state            {actor, inbox, followers, following, received, errors}
//   POST /_control/follow   {target, spec?}        follow the actor at IRI `target`
//   POST /_control/undo     {target, follow, spec?} undo that follow
//   POST /_control/create   {content, spec?}       Create(Note) to our followers
//   POST /_control/lookup   {url}                  fetch and parse a document the Fedify way
//   POST /_control/verify   {document}             verifyObject() on a JSON-LD activity
// `spec` is the first knock: "rfc9421" (Fedify's default) or "draft-cavage-http-signatures-12".
// Errors come back as {error: "<Fedify's own message>"} with status 500, and everything Fedify
// logs at warning level or above is kept in `errors`.
//
// Usage: node peer.mjs [PORT]   — prints one line {"ready": true, "port": N, ...} on stdout.

import http from "node:http";
import process from "node:process";

import { Temporal } from "@js-temporal/polyfill";
import { configure } from "@logtape/logtape";
import {
  createFederation,
  detachSignature,
  generateCryptoKeyPair,
  MemoryKvStore,
  verifyObject,
} from "@fedify/fedify";
import {
  Accept,
  Activity,
  Announce,
  Create,
  Delete,
  Endpoints,
  Follow,
  Note,
  PUBLIC_COLLECTION,
  Person,
  Reject,
  Undo,
  Update,
} from "@fedify/vocab";

const USER = "fedi";
const received = []; // every activity an inbox listener got, parsed by Fedify
const posts = []; // every POST to an inbox: status, proof verification, signature scheme
const errors = []; // Fedify's own log records, warning and above
const followers = new Map(); // follower IRI -> actor object
const following = new Map(); // followed IRI -> {follow id, state}

await configure({
  sinks: {
    keep: (record) => {
      const message = record.message
        .map((part) => (typeof part === "string" ? part : describe(part)))
        .join("");
      errors.push({ level: record.level, category: record.category.join("."), message });
    },
  },
  loggers: [
    { category: ["fedify"], sinks: ["keep"], lowestLevel: "warning" },
    { category: ["logtape", "meta"], sinks: [], lowestLevel: "warning" },
  ],
});

function describe(value) {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  if (typeof value === "object") {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return String(value);
}

const rsa = await generateCryptoKeyPair("RSASSA-PKCS1-v1_5");
const ed25519 = await generateCryptoKeyPair("Ed25519");

// Everything a listener can read from an object, forced: Fedify parses lazily, and a value that
// does not fit its declared type (a bare date for xsd:dateTime) only throws when read.
async function snapshot(object) {
  if (object == null) return null;
  const out = {
    type: object.constructor.name,
    id: object.id?.href ?? null,
    compact: await object.toJsonLd({ format: "compact" }),
    expanded: await object.toJsonLd({ format: "expand" }),
  };
  for (const name of ["name", "summary", "content", "startTime", "endTime", "published"]) {
    if (name in object && object[name] != null) out[name] = String(object[name]);
  }
  return out;
}

async function record(ctx, activity) {
  let object = null;
  let objectError = null;
  try {
    object = await snapshot(await activity.getObject({ crossOrigin: "trust" }));
  } catch (error) {
    objectError = describe(error);
  }
  received.push({
    type: activity.constructor.name,
    id: activity.id?.href ?? null,
    actor: activity.actorId?.href ?? null,
    objectId: activity.objectId?.href ?? null,
    object,
    objectError,
    activity: await activity.toJsonLd({ format: "compact" }),
  });
}

function build(firstKnock) {
  const federation = createFederation({
    kv: new MemoryKvStore(),
    allowPrivateAddress: true,
    firstKnock,
  });
  federation
    .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
      if (identifier !== USER) return null;
      const keys = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: "Fedify peer",
        summary: "An independent implementation used by coopfed's interop tests.",
        inbox: ctx.getInboxUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        followers: ctx.getFollowersUri(identifier),
        publicKey: keys[0].cryptographicKey,
        assertionMethods: keys.map((key) => key.multikey),
      });
    })
    .setKeyPairsDispatcher(async (_ctx, identifier) =>
      identifier === USER ? [rsa, ed25519] : []
    )
    // WebFinger (acct:fedi@127.0.0.1:PORT): the handle is the identifier.
    .mapHandle((_ctx, username) => (username === USER ? USER : null));
  federation.setFollowersDispatcher("/users/{identifier}/followers", async () => ({
    items: [...followers.values()],
  }));
  federation
    .setInboxListeners("/users/{identifier}/inbox", "/inbox")
    .on(Follow, async (ctx, follow) => {
      await record(ctx, follow);
      const follower = await follow.getActor();
      if (follower == null) throw new Error("the Follow has no resolvable actor");
      followers.set(follower.id.href, follower);
      await ctx.sendActivity(
        { identifier: USER },
        follower,
        new Accept({
          id: new URL(`#accepts/${crypto.randomUUID()}`, ctx.getActorUri(USER)),
          actor: ctx.getActorUri(USER),
          object: follow,
        }),
      );
    })
    .on(Accept, async (ctx, accept) => {
      await record(ctx, accept);
      const entry = following.get(accept.actorId?.href);
      if (entry) entry.state = "accepted";
    })
    .on(Reject, async (ctx, reject) => {
      await record(ctx, reject);
      const entry = following.get(reject.actorId?.href);
      if (entry) entry.state = "rejected";
    })
    .on(Undo, async (ctx, undo) => {
      await record(ctx, undo);
      const object = await undo.getObject();
      if (object instanceof Follow) followers.delete(undo.actorId?.href);
    })
    .on(Activity, async (ctx, activity) => {
      // Create, Announce, Update, Delete and anything else: parse and keep.
      await record(ctx, activity);
    })
    .onError(async (_ctx, error) => {
      errors.push({ level: "error", category: "inbox listener", message: describe(error) });
    });
  return federation;
}

const federations = {
  rfc9421: build("rfc9421"),
  "draft-cavage-http-signatures-12": build("draft-cavage-http-signatures-12"),
};
const inbound = federations.rfc9421;

function contextFor(origin, spec) {
  const federation = federations[spec ?? "rfc9421"];
  if (federation == null) throw new Error(`unknown signature spec ${spec}`);
  return federation.createContext(new URL(origin), undefined);
}

async function lookupActor(ctx, iri) {
  const actor = await ctx.lookupObject(iri);
  if (actor == null) throw new Error(`Fedify could not fetch or parse ${iri}`);
  if (actor.inboxId == null) throw new Error(`${iri} parsed as ${actor.constructor.name} without inbox`);
  return actor;
}

const control = {
  async state(ctx) {
    return {
      actor: ctx.getActorUri(USER).href,
      inbox: ctx.getInboxUri(USER).href,
      followers: [...followers.keys()],
      following: Object.fromEntries(following),
      received,
      posts,
      errors,
    };
  },
  async follow(ctx, { target }) {
    const actor = await lookupActor(ctx, target);
    const follow = new Follow({
      id: new URL(`/follows/${crypto.randomUUID()}`, ctx.getActorUri(USER)),
      actor: ctx.getActorUri(USER),
      object: actor.id,
    });
    following.set(actor.id.href, { follow: follow.id.href, state: "pending" });
    await ctx.sendActivity({ identifier: USER }, actor, follow);
    return { follow: follow.id.href, target: actor.id.href, type: actor.constructor.name };
  },
  async undo(ctx, { target, follow }) {
    const actor = await lookupActor(ctx, target);
    const undo = new Undo({
      id: new URL(`/undos/${crypto.randomUUID()}`, ctx.getActorUri(USER)),
      actor: ctx.getActorUri(USER),
      object: new Follow({ id: new URL(follow), actor: ctx.getActorUri(USER), object: actor.id }),
    });
    await ctx.sendActivity({ identifier: USER }, actor, undo);
    following.delete(actor.id.href);
    return { undo: undo.id.href };
  },
  async create(ctx, { content }) {
    const id = crypto.randomUUID();
    const note = new Note({
      id: new URL(`/notes/${id}`, ctx.getActorUri(USER)),
      attribution: ctx.getActorUri(USER),
      content,
      to: PUBLIC_COLLECTION,
      cc: ctx.getFollowersUri(USER),
      published: Temporal.Now.instant(),
    });
    const create = new Create({
      id: new URL(`/creates/${id}`, ctx.getActorUri(USER)),
      actor: ctx.getActorUri(USER),
      object: note,
      tos: [PUBLIC_COLLECTION],
      ccs: [ctx.getFollowersUri(USER)],
    });
    await ctx.sendActivity({ identifier: USER }, [...followers.values()], create);
    return { create: create.id.href, note: note.id.href, to: [...followers.keys()] };
  },
  async lookup(ctx, { url }) {
    const object = await ctx.lookupObject(url);
    if (object == null) throw new Error(`Fedify could not fetch or parse ${url}`);
    return await snapshot(object);
  },
  async verify(ctx, { document }) {
    const activity = await verifyObject(Activity, detachSignature(document), {
      documentLoader: ctx.documentLoader,
      contextLoader: ctx.contextLoader,
    });
    return { verified: activity != null };
  },
};

// Observe each inbox POST: what Fedify answered, which signature scheme it carried, and whether
// its FEP-8b32 proof verifies in Fedify on its own (verifyObject, as the inbox does first).
async function observeInbox(request, body, response) {
  const entry = {
    path: new URL(request.url).pathname,
    status: response.status,
    scheme: request.headers.has("signature-input") ? "rfc9421" : "draft-cavage",
    answer: response.status >= 300 ? await response.clone().text() : null,
  };
  try {
    const json = JSON.parse(body);
    entry.type = json.type ?? null;
    entry.id = json.id ?? null;
    entry.hasProof = json.proof != null;
    entry.hasLdSignature = json.signature != null;
    if (entry.hasProof) {
      const ctx = inbound.createContext(request, undefined);
      const verified = await verifyObject(Activity, detachSignature(json), {
        documentLoader: ctx.documentLoader,
        contextLoader: ctx.contextLoader,
      });
      entry.proofVerified = verified != null;
    }
  } catch (error) {
    entry.proofError = describe(error);
  }
  posts.push(entry);
}

async function handle(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  const url = new URL(req.url, `http://${req.headers.host}`);
  let response;
  if (url.pathname.startsWith("/_control/")) {
    const name = url.pathname.slice("/_control/".length);
    const args = body.length ? JSON.parse(body.toString("utf8")) : {};
    const handler = control[name];
    const ctx = contextFor(url.origin, args.spec);
    try {
      if (handler == null) throw new Error(`no control command ${name}`);
      response = Response.json(await handler(ctx, args));
    } catch (error) {
      response = Response.json({ error: describe(error), errors }, { status: 500 });
    }
  } else {
    const request = new Request(url, {
      method: req.method,
      headers: Object.entries(req.headers).flatMap(([k, v]) =>
        Array.isArray(v) ? v.map((x) => [k, x]) : [[k, v]]
      ),
      body: ["GET", "HEAD"].includes(req.method) ? undefined : body,
    });
    response = await inbound.fetch(request, { contextData: undefined });
    if (req.method === "POST") await observeInbox(request, body.toString("utf8"), response);
  }
  res.writeHead(response.status, Object.fromEntries(response.headers));
  res.end(Buffer.from(await response.arrayBuffer()));
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    errors.push({ level: "fatal", category: "peer", message: describe(error) });
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(describe(error));
  });
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  const { port } = server.address();
  const origin = `http://127.0.0.1:${port}`;
  process.stdout.write(
    JSON.stringify({ ready: true, port, actor: `${origin}/users/${USER}` }) + "\n",
  );
});
process.stdin.on("end", () => server.close(() => process.exit(0)));
process.stdin.resume();
