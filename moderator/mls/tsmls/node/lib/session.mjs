// Session holds the peer's signers, unused key packages and groups, and
// implements the commands that create them. Handles are short strings
// ("s1", "kp2", "g3") that only mean something to this process.

import {
  createGroup,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetime,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  generateKeyPackageWithKey,
  joinGroup,
  makePskIndex,
} from "ts-mls";
import { makeKeyPackageRef } from "ts-mls/keyPackage.js";
import { Admission } from "./admission.mjs";
import { RequestError, bytes, integer, object, string, toBase64 } from "./params.mjs";
import { cipherSuite, suiteId, suiteParam } from "./suites.mjs";
import { decode, encodeKeyPackage } from "./wire.mjs";

export class Session {
  constructor() {
    this.signers = new Map();
    this.keyPackages = new Map();
    this.groups = new Map();
    this.admission = new Admission();
    this.clientConfig = {
      keyRetentionConfig: defaultKeyRetentionConfig,
      lifetimeConfig: defaultLifetimeConfig,
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService: this.admission.service,
    };
    this.next = 0;
  }

  handle(prefix) {
    this.next += 1;
    return `${prefix}${this.next}`;
  }

  signer(params) {
    const id = string(params, "signer_id");
    const signer = this.signers.get(id);
    if (signer === undefined) throw new RequestError(`signer_id ${id} is unknown: create one with new_signer`);
    return signer;
  }

  group(params) {
    const id = string(params, "group");
    const group = this.groups.get(id);
    if (group === undefined) throw new RequestError(`group ${id} is unknown: create_group or join first`);
    return group;
  }

  async newSigner(params) {
    const suite = suiteParam(params);
    const cs = await cipherSuite(suite);
    const { publicKey, signKey } = await cs.signature.keygen();
    const id = this.handle("s");
    this.signers.set(id, { suite, publicKey, signKey });
    return { signer_id: id, signature_public_key: toBase64(publicKey) };
  }

  // generate makes a key package for a signer; the private half stays here.
  async generate(params) {
    const signer = this.signer(params);
    if (params.suite !== undefined && suiteParam(params) !== signer.suite) {
      throw new RequestError(`suite ${params.suite} differs from the signer's suite ${signer.suite}`);
    }
    const identity = bytes(params, "identity");
    const lifetime = lifetimeParam(params);
    const cs = await cipherSuite(signer.suite);
    const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
      { credentialType: "basic", identity },
      defaultCapabilities(),
      lifetime,
      [],
      { signKey: signer.signKey, publicKey: signer.publicKey },
      cs,
    );
    const ref = await makeKeyPackageRef(publicPackage, cs.hash);
    return { suite: signer.suite, publicPackage, privatePackage, ref };
  }

  async keyPackage(params) {
    const kp = await this.generate(params);
    const id = this.handle("kp");
    this.keyPackages.set(id, kp);
    return {
      key_package_id: id,
      key_package: toBase64(encodeKeyPackage(kp.publicPackage)),
      ref: toBase64(kp.ref),
    };
  }

  async createGroup(params) {
    const groupId = bytes(params, "group_id");
    const kp = await this.generate(params);
    const cs = await cipherSuite(kp.suite);
    const state = await createGroup(groupId, kp.publicPackage, kp.privatePackage, [], cs, this.clientConfig);
    return this.addGroup(kp.suite, state);
  }

  async join(params) {
    const message = decode("welcome", bytes(params, "welcome"), "mls_welcome");
    const suite = suiteId(message.welcome.cipherSuite);
    const [id, kp] = this.findKeyPackage(params, message.welcome);
    if (kp.suite !== suite) {
      throw new RequestError(`welcome is for suite ${suite} but key package ${id} is for suite ${kp.suite}`);
    }
    const cs = await cipherSuite(suite);
    const state = await joinGroup(
      message.welcome,
      kp.publicPackage,
      kp.privatePackage,
      makePskIndex(undefined, {}),
      cs,
      undefined,
      undefined,
      this.clientConfig,
    );
    this.keyPackages.delete(id);
    return this.addGroup(suite, state);
  }

  // findKeyPackage takes the named key package, or else the one whose
  // reference the Welcome addresses.
  findKeyPackage(params, welcome) {
    const wanted = string(params, "key_package_id", { optional: true });
    if (wanted !== undefined) {
      const kp = this.keyPackages.get(wanted);
      if (kp === undefined) throw new RequestError(`key_package_id ${wanted} is unknown or already used`);
      return [wanted, kp];
    }
    const refs = new Set(welcome.secrets.map((s) => toBase64(s.newMember)));
    for (const [id, kp] of this.keyPackages) {
      if (refs.has(toBase64(kp.ref))) return [id, kp];
    }
    throw new RequestError("welcome is addressed to none of this peer's unused key packages");
  }

  addGroup(suite, state) {
    const id = this.handle("g");
    this.groups.set(id, { suite, state });
    return { group: id, epoch: Number(state.groupContext.epoch) };
  }
}

function lifetimeParam(params) {
  const lifetime = object(params, "lifetime", { optional: true });
  if (lifetime === undefined) return defaultLifetime;
  const notBefore = integer(lifetime, "not_before");
  const notAfter = integer(lifetime, "not_after");
  if (notAfter < notBefore) throw new RequestError("lifetime.not_after is before lifetime.not_before");
  return { notBefore: BigInt(notBefore), notAfter: BigInt(notAfter) };
}
