// Ciphersuites the peer offers. ts-mls 1.6.4 also implements suite 2, but it
// emits 33-byte compressed P-256 signature keys, which RFC 9420 forbids, so
// the peer refuses it rather than produce objects no conforming peer accepts.

import { getCiphersuiteFromName, getCiphersuiteImpl } from "ts-mls";
import { RequestError, integer } from "./params.mjs";

const names = new Map([
  [1, "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"],
  [3, "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519"],
]);

const impls = new Map();

export function suiteParam(params, name = "suite") {
  const id = integer(params, name, { min: 0, max: 0xffff });
  if (!names.has(id)) {
    throw new RequestError(`suite ${id} is not offered: use 1 or 3`);
  }
  return id;
}

export function suiteId(name) {
  for (const [id, n] of names) if (n === name) return id;
  throw new RequestError(`ciphersuite ${name} is not offered: use 1 or 3`);
}

// cipherSuite resolves a suite id to its ts-mls implementation, built once.
export function cipherSuite(id) {
  let impl = impls.get(id);
  if (impl === undefined) {
    impl = getCiphersuiteImpl(getCiphersuiteFromName(names.get(id)));
    impls.set(id, impl);
    impl.catch(() => impls.delete(id));
  }
  return impl;
}
