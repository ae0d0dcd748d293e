// peer.mjs: a ts-mls MLS client driven by JSON lines on stdin/stdout.
// One request per line, {"id": 1, "cmd": "new_signer", "params": {...}};
// one answer per line, {"id": 1, "result": {...}} or {"id": 1, "error": "..."}.
// Requests run one at a time in arrival order. See README.md for commands.

import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { bench } from "./lib/bench.mjs";
import * as group from "./lib/group.mjs";
import { RequestError, bytesList } from "./lib/params.mjs";
import { Session } from "./lib/session.mjs";

const tsMlsVersion = JSON.parse(
  readFileSync(new URL("./node_modules/ts-mls/package.json", import.meta.url), "utf8"),
).version;

const commands = {
  version: () => ({ ts_mls: tsMlsVersion, node: process.version }),
  new_signer: (s, p) => s.newSigner(p),
  key_package: (s, p) => s.keyPackage(p),
  create_group: (s, p) => s.createGroup(p),
  join: (s, p) => s.join(p),
  add: group.add,
  remove: group.remove,
  process: group.process,
  send: group.send,
  epoch: group.epoch,
  epoch_authenticator: group.epochAuthenticator,
  export_secret: group.exportSecret,
  members: group.members,
  validations: (s) => ({ validations: s.admission.records }),
  reset_validations: (s) => {
    s.admission.records = [];
    return {};
  },
  refuse: (s, p) => {
    const identities = bytesList(p, "identities", { allowEmptyList: true });
    s.admission.refuse(identities);
    return { refused: identities.length };
  },
  bench,
};

const session = new Session();

function describe(err) {
  if (err instanceof RequestError) return err.message;
  const name = err?.name && err.name !== "Error" ? `${err.name}: ` : "";
  return `ts-mls: ${name}${err?.message ?? String(err)}`;
}

async function answer(line) {
  let request;
  try {
    request = JSON.parse(line);
  } catch (err) {
    return { id: null, error: `request is not JSON: ${err.message}` };
  }
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    return { id: null, error: "request must be a JSON object with id, cmd and params" };
  }
  const id = typeof request.id === "number" || typeof request.id === "string" ? request.id : null;
  if (id === null) return { id: null, error: "request id must be a number or a string" };
  const run = Object.hasOwn(commands, request.cmd) ? commands[request.cmd] : undefined;
  if (run === undefined) {
    return { id, error: `unknown cmd ${JSON.stringify(request.cmd)}: use one of ${Object.keys(commands).join(", ")}` };
  }
  const params = request.params ?? {};
  if (typeof params !== "object" || Array.isArray(params)) return { id, error: "params must be a JSON object" };

  const records = session.admission.records.length;
  session.admission.context = { command: request.cmd, group: typeof params.group === "string" ? params.group : "" };
  try {
    const result = await run(session, params);
    // A join learns its group handle only at the end: label what it checked.
    if (typeof result?.group === "string") {
      for (const r of session.admission.records.slice(records)) if (r.group === "") r.group = result.group;
    }
    return { id, result };
  } catch (err) {
    return { id, error: describe(err) };
  }
}

process.on("uncaughtException", (err) => console.error(`peer: uncaught: ${err?.stack ?? err}`));
process.on("unhandledRejection", (err) => console.error(`peer: unhandled rejection: ${err?.stack ?? err}`));

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
let queue = Promise.resolve();
lines.on("line", (line) => {
  if (line.trim() === "") return;
  queue = queue.then(async () => {
    const reply = await answer(line);
    process.stdout.write(JSON.stringify(reply) + "\n");
  });
});
lines.on("close", () => {
  queue.then(() => process.exit(0));
});
