#!/usr/bin/env python3
"""A local HTTP server for the pull tests: model_file_server.py DIR PORT_FILE [CERT KEY].

Serves the files in DIR (listening on a free loopback port written to
PORT_FILE) with what a model download meets on the Internet:
  /files/NAME            the file; honours "Range: bytes=N-" with 206
  /files/NAME?etag=good  ... and sends X-Linked-Etag: "<its sha256>" (as Hugging Face does)
  /files/NAME?etag=bad   ... and a wrong one
  /cut/NAME              without a Range header: sends half the file, then closes
                         (Content-Length says the whole); with one: like /files
  /slow/NAME             like /files, 64 KiB every 0.1 s
  /norange/NAME          ignores Range (always 200 with the whole file)
  /redirect/NAME         302 to /files/NAME
  /hf/ORG/REPO/resolve/main/NAME  302 to /files/NAME?etag=good (Hugging Face's layout)
  anything else          404
With CERT and KEY (PEM files) it speaks HTTPS.
"""
import hashlib
import http.server
import os
import re
import ssl
import sys
import time
import urllib.parse

ROOT = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def not_found(self):
        body = b"not found\n"
        self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        parts = url.path.split("/")
        if len(parts) == 3 and parts[1] == "redirect":
            return self.redirect("/files/" + parts[2])
        if len(parts) == 7 and parts[1] == "hf" and parts[4:6] == ["resolve", "main"]:
            return self.redirect("/files/" + parts[6] + "?etag=good")
        if len(parts) != 3 or parts[1] not in ("files", "cut", "norange", "slow"):
            return self.not_found()
        path = os.path.join(ROOT, os.path.basename(parts[2]))
        if not os.path.isfile(path):
            return self.not_found()
        with open(path, "rb") as f:
            data = f.read()
        rng = self.headers.get("Range")
        start = 0
        m = re.fullmatch(r"bytes=(\d+)-", rng or "")
        if m and parts[1] != "norange":
            start = int(m.group(1))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        else:
            self.send_response(200)
        etag = query.get("etag", [""])[0]
        if etag:
            digest = hashlib.sha256(data).hexdigest()
            if etag == "bad":
                digest = "0" * 64
            self.send_header("X-Linked-Etag", '"%s"' % digest)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        if parts[1] == "cut" and not m:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        try:
            if parts[1] == "slow":
                for i in range(start, len(data), 65536):
                    self.wfile.write(data[i : i + 65536])
                    self.wfile.flush()
                    time.sleep(0.1)
                return
            self.wfile.write(data[start:])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (a test of exactly that)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if len(sys.argv) > 4:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    server.socket = context.wrap_socket(server.socket, server_side=True)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
