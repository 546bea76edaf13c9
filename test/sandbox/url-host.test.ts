import { describe, expect, it } from "vitest";
import { urlHost } from "../../sandbox/url-host.js";

describe("urlHost", () => {
  it("points URLs for wildcard listeners at loopback, and brackets IPv6 addresses", () => {
    expect(urlHost("127.0.0.1")).toBe("127.0.0.1");
    expect(urlHost("localhost")).toBe("localhost");
    expect(urlHost("0.0.0.0")).toBe("127.0.0.1");
    expect(urlHost("::")).toBe("127.0.0.1");
    expect(urlHost("::1")).toBe("[::1]");
    // Every URL the sandbox prints for an IPv6 listener parses (dynalite's endpoint once did not).
    expect(new URL(`http://${urlHost("::1")}:8000`).port).toBe("8000");
  });
});
