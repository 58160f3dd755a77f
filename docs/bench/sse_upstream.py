# SSE upstream for the streaming probe (BENCHMARKS.md §1): 30 chunks 20 ms apart, then [DONE], TCP_NODELAY on.
# python3 sse_upstream.py   (listens on 127.0.0.1:18096)
import http.server, json, time, socket
class H(http.server.BaseHTTPRequestHandler):
    protocol_version='HTTP/1.1'
    def do_POST(self):
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        n=int(self.headers.get('content-length',0)); self.rfile.read(n)
        self.send_response(200); self.send_header('content-type','text/event-stream'); self.send_header('transfer-encoding','chunked'); self.end_headers(); self.wfile.flush()
        for i in range(30):
            d=('data: '+json.dumps({"choices":[{"delta":{"content":"t%d"%i}}]})+'\n\n').encode()
            self.wfile.write(b'%x\r\n%s\r\n'%(len(d),d)); self.wfile.flush(); time.sleep(0.02)
        d=b'data: [DONE]\n\n'; self.wfile.write(b'%x\r\n%s\r\n0\r\n\r\n'%(len(d),d)); self.wfile.flush()
    def log_message(self,*a): pass
http.server.ThreadingHTTPServer(('127.0.0.1',18096),H).serve_forever()
