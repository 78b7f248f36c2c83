"""A sandboxed program calls an HTTP API with a token it never sees.

The example starts a small JSON API on 127.0.0.1 (an inventory that answers only requests
carrying ``Authorization: Bearer <token>``), puts the token in an environment variable, and gives
a sandbox ``fetch()`` under a network policy: the API's origin is allowed, its admin path is
denied, and the host attaches the token to requests for that origin only. The program lists the
inventory, totals it, tries the admin path and another host, and looks for the token everywhere
it can. Then approvals: with ``approve_unsafe_methods`` a POST waits until the host approves it.

    python examples/fetch_api.py
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import quickbox
from quickbox import Network, Secret

TOKEN = secrets.token_urlsafe(24)
INVENTORY = [{"sku": "tea-01", "name": "Green tea", "stock": 12, "price": 4.5},
             {"sku": "tea-02", "name": "Black tea", "stock": 3, "price": 3.9},
             {"sku": "cup-01", "name": "Cup", "stock": 40, "price": 7.0}]


class InventoryApi(BaseHTTPRequestHandler):
    """GET /api/items, POST /api/orders; everything needs the bearer token."""

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        self._send(401, {"error": "a valid bearer token is required"})
        return False

    def do_GET(self) -> None:
        if self._authorized():
            self._send(200, INVENTORY) if self.path == "/api/items" else self._send(404, {"error": "no such path"})

    def do_POST(self) -> None:
        if self._authorized():
            order = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            self._send(201, {"order": 1001, **order})


PROGRAM = """
const api = globalThis.API;
const items = await (await fetch(`${api}/api/items`)).json();
const value = items.reduce((sum, item) => sum + item.stock * item.price, 0);
console.log(`${items.length} items in stock, worth ${value.toFixed(2)}`);

const refused = [];
for (const url of [`${api}/api/admin/users`, 'https://example.com/'])
  await fetch(url).catch((e) => refused.push(e.message));

// The token is attached on the way out: nothing the program can read holds it.
const request = new Request(`${api}/api/items`);
({ low: items.filter((item) => item.stock < 5).map((item) => item.name),
   refused,
   authorizationSeenByTheProgram: request.headers.get('authorization') })
"""


async def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), InventoryApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    os.environ["INVENTORY_TOKEN"] = TOKEN
    network = Network(allow=[f"{origin}/api/"], deny=[f"{origin}/api/admin"],
                      secrets=[Secret(host=origin + "/", header="Authorization", prefix="Bearer ",
                                      value_env="INVENTORY_TOKEN")],
                      approve_unsafe_methods=True)
    try:
        with quickbox.Runtime(network=network) as rt, rt.new_context() as ctx:
            ctx.globals["API"] = origin
            result = await ctx.eval_async(PROGRAM)
            for line in ctx.console:
                print("[console]", line.text)
            print("low stock:", ", ".join(result["low"]))
            for message in result["refused"]:
                print("refused:", message)
            print("Authorization seen by the program:", result["authorizationSeenByTheProgram"])
            for entry in ctx.audit_log:
                for r in entry.requests:
                    print(f"[audit] {r.method} {r.url} -> {r.status or r.error}")
            everything = repr(result) + repr(ctx.console) + repr(ctx.audit_log)
            print("token visible anywhere:", TOKEN in everything)

            # An order changes the world: it waits for the host's approval.
            paused = await ctx.start(f"(await fetch('{origin}/api/orders', "
                                     "{method: 'POST', body: JSON.stringify({sku: 'tea-02', quantity: 10})})).json()")
            [call] = paused.pending
            print(f"waiting for approval: {call.args[0]['method']} {call.args[0]['url']}")
            ctx.approve(call.id)
            print("order placed:", (await ctx.resume()).value)
    finally:
        server.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
