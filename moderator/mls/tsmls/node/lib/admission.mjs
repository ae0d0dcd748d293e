// The admission hook: ts-mls asks its AuthenticationService about every
// credential it meets (key packages in an Add, every leaf of a joined tree,
// the committer's new leaf in an UpdatePath). The peer records each question
// with the command that caused it and refuses identities it was told to.

import { toBase64 } from "./params.mjs";

export class Admission {
  constructor() {
    this.records = [];
    this.refused = new Set();
    this.context = { command: "", group: "" };
  }

  // service is the object handed to ts-mls as ClientConfig.authService.
  get service() {
    return {
      validateCredential: async (credential, signaturePublicKey) =>
        this.validate(credential, signaturePublicKey),
    };
  }

  validate(credential, signaturePublicKey) {
    const basic = credential.credentialType === "basic";
    const identity = basic ? credential.identity : (credential.certificates?.[0] ?? new Uint8Array());
    const accepted = !(basic && this.refused.has(toBase64(identity)));
    this.records.push({
      command: this.context.command,
      group: this.context.group,
      credential_type: credential.credentialType,
      identity: toBase64(identity),
      signature_public_key: toBase64(signaturePublicKey),
      accepted,
    });
    return accepted;
  }

  refuse(identities) {
    this.refused = new Set(identities.map(toBase64));
  }
}
