import { randomBytes } from "node:crypto";

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const LOWER_ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789";

/**
 * Connection, request and message ids shaped like API Gateway's ("Jy2gjcBVIAMCFNQ="): 15 characters and `=`.
 * Random, so code that assumes fixed or sequential ids fails here as it would on AWS. Letters and digits only:
 * no `/` or `+`, which AWS ids are not seen to carry either.
 */
export const gatewayId = (): string => `${randomString(ALPHANUMERIC, 15)}=`;

/** An API id as in `{apiId}.execute-api.{region}.amazonaws.com`: 10 lower-case letters and digits. */
export const apiId = (): string => randomString(LOWER_ALPHANUMERIC, 10);

function randomString(alphabet: string, length: number): string {
  // Rejection sampling keeps every character equally likely (no modulo bias).
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}
