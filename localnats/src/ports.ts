import net from 'node:net';

/**
 * Asks the OS for `count` distinct free TCP ports on `host`, by listening on port 0 with all of them
 * open at once (so none repeats), then closing them.
 *
 * Cluster nodes need their route ports fixed before any of them starts (every config lists every
 * route), so `port: -1` cannot be used for them. Another process may take a port between this and the
 * server's bind; callers retry with fresh ports when a server reports "address already in use".
 */
export async function reservePorts(host: string, count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port: 0, exclusive: true }, () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}
