// MLSMessage framing (RFC 9420 §6): everything the peer hands out or takes
// in is MLSMessage wire bytes.

import { decodeMlsMessage, encodeMlsMessage } from "ts-mls";
import { RequestError } from "./params.mjs";

const version = "mls10";

export function encodeKeyPackage(keyPackage) {
  return encodeMlsMessage({ version, wireformat: "mls_key_package", keyPackage });
}

export function encodeWelcome(welcome) {
  return encodeMlsMessage({ version, wireformat: "mls_welcome", welcome });
}

export function encodePrivateMessage(privateMessage) {
  return encodeMlsMessage({ version, wireformat: "mls_private_message", privateMessage });
}

export function encodeMessage(message) {
  return encodeMlsMessage(message);
}

// decode parses MLSMessage bytes and checks that they hold one of the
// expected wire formats and nothing after it.
export function decode(name, bytes, ...wireformats) {
  let decoded;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (err) {
    throw new RequestError(`${name} is not an MLSMessage: ${err.message}`);
  }
  if (decoded === undefined) {
    throw new RequestError(`${name} is not an MLSMessage: it does not decode`);
  }
  const [message, length] = decoded;
  if (length !== bytes.length) {
    throw new RequestError(`${name} has ${bytes.length - length} trailing bytes after the MLSMessage`);
  }
  if (message.version !== version) {
    throw new RequestError(`${name} has protocol version ${message.version}, want ${version}`);
  }
  if (!wireformats.includes(message.wireformat)) {
    throw new RequestError(`${name} is a ${message.wireformat}, want ${wireformats.join(" or ")}`);
  }
  return message;
}
