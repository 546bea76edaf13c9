import { createServer } from "node:net";

/** A port free right now on `host`, for programs that cannot be told to pick one (DynamoDB Local). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port assigned")),
      );
    });
  });
}
