"""A keep-alive front for the moto emulator (a diagnostic for bench/lambda's warm figures).

    python3 bench/keepalive_proxy.py LISTEN_PORT UPSTREAM_URL

moto answers every request with `Connection: close`, so each DynamoDB call of a warm Lambda
invocation opens a new TCP connection, which DynamoDB itself would not make the SDK do. This
proxy keeps the function's connections open (HTTP/1.1, `Content-Length` on every answer) and
forwards each request to the emulator on a connection of its own. Point one bootstrap at it
(`DYNAMODB_ENDPOINT=http://127.0.0.1:LISTEN_PORT`) and the other at the emulator, then compare
them with `python3 bench/lambda_runtime.py`: the difference is what the emulator's closed
connections cost the function. The proxy's own CPU is in neither process.
"""

import http.client
import sys
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Headers that describe one hop's connection, not the message.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def main():
    listen_port, upstream = int(sys.argv[1]), urllib.parse.urlsplit(sys.argv[2])

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive towards the function

        def log_message(self, *args):
            pass

        def forward(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
            try:
                connection.request(self.command, self.path, body, headers)
                answer = connection.getresponse()
                payload = answer.read()
            finally:
                connection.close()
            self.send_response(answer.status)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = forward

    server = ThreadingHTTPServer(("127.0.0.1", listen_port), Forward)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
