// Request parameter decoding. Every check throws a RequestError whose message
// names the parameter and says what was expected, so a bad request is
// answered with a clear error instead of reaching ts-mls.

export class RequestError extends Error {}

const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toBase64(bytes) {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

export function bytes(params, name, { optional = false, allowEmpty = false } = {}) {
  const value = params[name];
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw new RequestError(`${name} is required: pass standard base64`);
  }
  if (typeof value !== "string" || !base64Pattern.test(value)) {
    throw new RequestError(`${name} is not standard base64 with padding`);
  }
  const decoded = new Uint8Array(Buffer.from(value, "base64"));
  if (decoded.length === 0 && !allowEmpty) {
    throw new RequestError(`${name} is empty: pass at least one byte`);
  }
  return decoded;
}

export function bytesList(params, name, { allowEmptyList = false } = {}) {
  const value = params[name];
  if (!Array.isArray(value) || (value.length === 0 && !allowEmptyList)) {
    throw new RequestError(`${name} must be a non-empty array of standard base64 strings`);
  }
  return value.map((item, i) => bytes({ [`${name}[${i}]`]: item }, `${name}[${i}]`));
}

export function string(params, name, { optional = false } = {}) {
  const value = params[name];
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw new RequestError(`${name} is required: pass a string`);
  }
  if (typeof value !== "string" || value.length === 0) {
    throw new RequestError(`${name} must be a non-empty string`);
  }
  return value;
}

export function integer(params, name, { min = 0, max = Number.MAX_SAFE_INTEGER, optional = false } = {}) {
  const value = params[name];
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw new RequestError(`${name} is required: pass an integer`);
  }
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RequestError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

export function integerList(params, name, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) {
  const value = params[name];
  if (!Array.isArray(value) || value.length === 0) {
    throw new RequestError(`${name} must be a non-empty array of integers`);
  }
  return value.map((item, i) => integer({ [`${name}[${i}]`]: item }, `${name}[${i}]`, { min, max }));
}

export function boolean(params, name) {
  const value = params[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw new RequestError(`${name} must be true or false`);
  return value;
}

export function object(params, name, { optional = false } = {}) {
  const value = params[name];
  if (value === undefined || value === null) {
    if (optional) return undefined;
    throw new RequestError(`${name} is required: pass an object`);
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new RequestError(`${name} must be an object`);
  }
  return value;
}
