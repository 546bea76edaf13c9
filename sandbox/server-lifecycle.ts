import type { Server } from "node:http";
import type { AddressInfo, Server as NetServer } from "node:net";

/** Listens on `port` (0: a free one) and `host`; resolves to the port, rejects with the listen error. */
export function listenOn(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Stops accepting, drops kept-alive connections (which would hold `close` open), and resolves once closed. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
