// The in-namespace half of test/env/netns.ts's forwardIntoNetns: started inside a network
// namespace, it accepts connections on a unix socket and relays each to HOST:PORT there.
// Usage: node netns-relay.ts SOCKET HOST PORT
import net from "node:net";

const [socketPath, host, port] = process.argv.slice(2);
if (!socketPath || !host || !port) {
  console.error("usage: netns-relay.ts SOCKET HOST PORT");
  process.exit(2);
}
const server = net.createServer((client) => {
  const upstream = net.connect(Number(port), host);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
  client.pipe(upstream).pipe(client);
});
server.listen(socketPath);
process.on("SIGTERM", () => server.close(() => process.exit(0)));
