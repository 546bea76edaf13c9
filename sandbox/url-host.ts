/**
 * The host to put in a URL for a server listening on `host`: a wildcard address becomes loopback (where clients on
 * this machine reach it), and an IPv6 address gets the brackets a URL needs.
 */
export const urlHost = (host: string): string =>
  host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
