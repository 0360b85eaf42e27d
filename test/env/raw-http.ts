// Raw HTTP for tests that send what a client library would refuse to (a malformed request
// target): writes `raw` on `socket` and resolves with everything the server wrote back
// before it closed the connection, or before 5 s of silence (a server whose handler threw
// never answers).
import type net from "node:net";

export function rawHttpExchange(socket: net.Socket, raw: string, silenceMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    socket.setEncoding("utf8");
    socket.setTimeout(silenceMs, () => {
      socket.destroy();
      resolve(out);
    });
    socket.on("data", (d: string) => (out += d));
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
    socket.write(raw);
  });
}
