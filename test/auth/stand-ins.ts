import { createServer, type IncomingHttpHeaders, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2 } from "aws-lambda";

export interface RecordedRequest {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface StandIn {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

/** A loopback HTTP server that records every request and answers with `answer(request)` as JSON. */
export async function standIn(answer: (request: RecordedRequest) => unknown): Promise<StandIn> {
  const requests: RecordedRequest[] = [];
  const listener: RequestListener = (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      requests.push(request);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(answer(request)));
    });
  };
  const server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * The SuperTokens core cannot run here (a Java service fetched from outside). This stand-in answers the calls a
 * sign-in with an unknown email makes: the API version, then the lookup of users by email, which finds none.
 */
export const superTokensCore = () =>
  standIn(({ url }) => {
    if (url?.startsWith("/apiversion")) return { versions: ["5.4"] };
    if (url?.includes("/users/by-accountinfo")) return { status: "OK", users: [] };
    return { status: "WRONG_CREDENTIALS_ERROR" };
  });

/** A sign-in with an email the core does not know, as CloudFront forwards it to the HTTP API (payload 2.0). */
export const signInEvent = () =>
  httpEvent("POST", "/auth/signin", {
    formFields: [
      { id: "email", value: "ada@example.com" },
      { id: "password", value: "not-her-password-1" },
    ],
  });

/** An HTTP API (payload 2.0) event on the $default stage. */
export function httpEvent(method: string, path: string, body?: unknown): APIGatewayProxyEventV2 {
  return {
    version: "2.0",
    routeKey: "ANY /auth/{proxy+}",
    rawPath: path,
    rawQueryString: "",
    headers: { "content-type": "application/json", "x-forwarded-proto": "https", rid: "emailpassword" },
    requestContext: {
      stage: "$default",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "192.0.2.1", userAgent: "test" },
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
}
