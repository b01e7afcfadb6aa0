#!/usr/bin/env python3
"""A fake quote service for the stock benchmark (the real one is unreachable here): serves the
CSV the bot expects for any symbol on /q/l/?s=SYMBOL and two months of daily history on
/q/d/l/?s=SYMBOL, like stooq.com. Prints its port.

    python3 bench/quotes.py            # listens on a free loopback port
"""
import datetime
import http.server
import socketserver
import sys
from urllib.parse import parse_qs, urlparse

QUOTES = {
    "aapl.us": "AAPL.US,2023-09-08,22:00:10,178.35,180.239,177.79,93.42,65602066",
    "msft.us": "MSFT.US,2023-09-08,22:00:10,331.29,336.85,331.17,334.27,17843230",
}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        url = urlparse(self.path)
        symbol = parse_qs(url.query).get("s", [""])[0].lower()
        if url.path.startswith("/q/d/l"):
            body = history().encode()
        else:
            row = QUOTES.get(symbol, f"{symbol.upper()},N/D,N/D,N/D,N/D,N/D,N/D,N/D")
            body = f"Symbol,Date,Time,Open,High,Low,Close,Volume\r\n{row}\r\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def history():
    """60 days up to the day before the quotes' date, as stooq writes it."""
    end = datetime.date(2023, 9, 7)
    rows = ["Date,Open,High,Low,Close,Volume"]
    for i in range(60, 0, -1):
        day = end - datetime.timedelta(days=i - 1)
        close = 90 + (i % 7) * 0.5
        rows.append(f"{day},{close:.2f},{close + 1:.2f},{close - 1:.2f},{close:.2f},1000000")
    return "\r\n".join(rows) + "\r\n"


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


if __name__ == "__main__":
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    sys.stdout.close()
    server.serve_forever()
