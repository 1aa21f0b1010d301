import http.server, sys, time, os
n = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        n[0] += 1
        with open(f'/tmp/amcmp/body{n[0]}.json', 'wb') as f: f.write(body)
        with open('/tmp/amcmp/log.txt', 'a') as f: f.write(f"{time.time():.3f} {self.path} {len(body)} UA={self.headers.get('User-Agent')}\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', 15001), H).serve_forever()
