// bench measures ts-mls itself, inside this process, with performance.now():
// creating a group and adding n members in one commit, then one joiner
// processing the Welcome. Key packages are made before the clock starts, and
// the admission hook is left out so that it neither costs time nor records.

import {
  createCommit,
  createGroup,
  defaultAuthenticationService,
  defaultCapabilities,
  defaultLifetime,
  generateKeyPackageWithKey,
  joinGroup,
  makePskIndex,
} from "ts-mls";
import { integer } from "./params.mjs";
import { cipherSuite, suiteParam } from "./suites.mjs";
import { encodeMessage, encodeWelcome } from "./wire.mjs";

async function keyPackage(cs, name) {
  const signature = await cs.signature.keygen();
  return generateKeyPackageWithKey(
    { credentialType: "basic", identity: new TextEncoder().encode(name) },
    defaultCapabilities(),
    defaultLifetime,
    [],
    signature,
    cs,
  );
}

export async function bench(session, params) {
  const suite = suiteParam(params);
  const n = integer(params, "n", { min: 1, max: 5000 });
  const cs = await cipherSuite(suite);
  const config = { ...session.clientConfig, authService: defaultAuthenticationService };
  const creator = await keyPackage(cs, "bench-creator");
  const members = [];
  for (let i = 0; i < n; i++) members.push(await keyPackage(cs, `bench-member-${i}`));
  const proposals = members.map((m) => ({ proposalType: "add", add: { keyPackage: m.publicPackage } }));
  const groupId = cs.rng.randomBytes(16);

  const started = performance.now();
  const state = await createGroup(groupId, creator.publicPackage, creator.privatePackage, [], cs, config);
  const created = performance.now();
  const result = await createCommit({ state, cipherSuite: cs }, { extraProposals: proposals, ratchetTreeExtension: true });
  const committed = performance.now();
  const joiner = members[members.length - 1];
  await joinGroup(
    result.welcome,
    joiner.publicPackage,
    joiner.privatePackage,
    makePskIndex(undefined, {}),
    cs,
    undefined,
    undefined,
    config,
  );
  const joined = performance.now();

  return {
    suite,
    n,
    create_group_ms: created - started,
    add_ms: committed - created,
    total_ms: committed - started,
    join_ms: joined - committed,
    commit_bytes: encodeMessage(result.commit).length,
    welcome_bytes: encodeWelcome(result.welcome).length,
  };
}
