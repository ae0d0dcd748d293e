// Commands on an existing group. Each one replaces the group's state only
// after ts-mls succeeded, and wipes the secrets ts-mls reports as consumed.

import {
  acceptAll,
  createApplicationMessage,
  createCommit,
  makePskIndex,
  mlsExporter,
  processMessage,
  zeroOutUint8Array,
} from "ts-mls";
import { RequestError, boolean, bytes, bytesList, integer, integerList, string, toBase64 } from "./params.mjs";
import { cipherSuite } from "./suites.mjs";
import { decode, encodeMessage, encodePrivateMessage, encodeWelcome } from "./wire.mjs";

function wipe(consumed) {
  for (const secret of consumed) zeroOutUint8Array(secret);
}

function epochOf(group) {
  return Number(group.state.groupContext.epoch);
}

async function commit(group, proposals, publicCommit) {
  const cs = await cipherSuite(group.suite);
  const result = await createCommit(
    { state: group.state, cipherSuite: cs },
    { extraProposals: proposals, ratchetTreeExtension: true, wireAsPublicMessage: publicCommit },
  );
  group.state = result.newState;
  wipe(result.consumed);
  return result;
}

export async function add(session, params) {
  const group = session.group(params);
  const keyPackages = bytesList(params, "key_packages").map(
    (kp, i) => decode(`key_packages[${i}]`, kp, "mls_key_package").keyPackage,
  );
  const proposals = keyPackages.map((keyPackage) => ({ proposalType: "add", add: { keyPackage } }));
  const result = await commit(group, proposals, boolean(params, "public_commit"));
  return {
    commit: toBase64(encodeMessage(result.commit)),
    welcome: toBase64(encodeWelcome(result.welcome)),
    epoch: epochOf(group),
  };
}

export async function remove(session, params) {
  const group = session.group(params);
  const leaves = integerList(params, "leaf_indices", { max: 0xffffffff });
  const proposals = leaves.map((removed) => ({ proposalType: "remove", remove: { removed } }));
  const result = await commit(group, proposals, boolean(params, "public_commit"));
  return { commit: toBase64(encodeMessage(result.commit)), epoch: epochOf(group) };
}

export async function process(session, params) {
  const group = session.group(params);
  const message = decode("message", bytes(params, "message"), "mls_public_message", "mls_private_message");
  const contentType =
    message.wireformat === "mls_private_message"
      ? message.privateMessage.contentType
      : message.publicMessage.content.contentType;
  const cs = await cipherSuite(group.suite);
  const result = await processMessage(message, group.state, makePskIndex(group.state, {}), acceptAll, cs);
  if (result.kind !== "applicationMessage" && result.actionTaken !== "accept") {
    throw new RequestError(`${contentType} was rejected`);
  }
  group.state = result.newState;
  wipe(result.consumed);
  const reply = { kind: contentType, epoch: epochOf(group) };
  if (result.kind === "applicationMessage") {
    reply.kind = "application";
    reply.plaintext = toBase64(result.message);
  }
  reply.removed = group.state.groupActiveState.kind === "removedFromGroup";
  return reply;
}

export async function send(session, params) {
  const group = session.group(params);
  const plaintext = bytes(params, "plaintext", { allowEmpty: true });
  const cs = await cipherSuite(group.suite);
  const result = await createApplicationMessage(group.state, plaintext, cs);
  group.state = result.newState;
  wipe(result.consumed);
  return { message: toBase64(encodePrivateMessage(result.privateMessage)) };
}

export function epoch(session, params) {
  return { epoch: epochOf(session.group(params)) };
}

export function epochAuthenticator(session, params) {
  const group = session.group(params);
  return { epoch_authenticator: toBase64(group.state.keySchedule.epochAuthenticator), epoch: epochOf(group) };
}

export async function exportSecret(session, params) {
  const group = session.group(params);
  const label = string(params, "label");
  const context = bytes(params, "context", { optional: true, allowEmpty: true }) ?? new Uint8Array();
  const length = integer(params, "length", { min: 1, max: 0xffff });
  const cs = await cipherSuite(group.suite);
  const secret = await mlsExporter(group.state.keySchedule.exporterSecret, label, context, length, cs);
  return { secret: toBase64(secret), epoch: epochOf(group) };
}

export function members(session, params) {
  const group = session.group(params);
  const list = [];
  group.state.ratchetTree.forEach((node, nodeIndex) => {
    if (node?.nodeType !== "leaf") return;
    const { credential, signaturePublicKey } = node.leaf;
    list.push({
      leaf_index: nodeIndex / 2,
      credential_type: credential.credentialType,
      identity: toBase64(credential.credentialType === "basic" ? credential.identity : new Uint8Array()),
      signature_public_key: toBase64(signaturePublicKey),
    });
  });
  return { members: list, epoch: epochOf(group), own_leaf_index: group.state.privatePath.leafIndex };
}
