"""A small traffic generator for the demo shop: one round requests every route the shop has (demo/endpoints.json).

python -m demo.traffic http://127.0.0.1:8001 --rounds 10 --interval 0.5
"""

import argparse
import http.client
import json
import time
from urllib.parse import urlsplit

# (method, path, content type, body): a round covers each endpoint, with a few ids so the model finds {item_id}
ROUND: list[tuple[str, str, str, str]] = [
    ("GET", "/api/items?limit=2&tag=tools&tag=small", "", ""),
    ("POST", "/api/items", "application/json", json.dumps({"name": "rope", "tags": ["outdoor"], "price": 9.99})),
    ("GET", "/api/items/1", "", ""),
    ("GET", "/api/items/2", "", ""),
    ("GET", "/api/items/42", "", ""),
    ("GET", "/api/items/7", "", ""),  # 404 from the view
    ("POST", "/api/login", "application/x-www-form-urlencoded", "user=ada&remember=1"),
    ("GET", "/api/old-items", "", ""),  # 302, not followed
]


def send_round(base_url: str, timeout: float = 10.0) -> list[int]:
    """Send one round; the status of each request, in order."""
    parts = urlsplit(base_url)
    statuses = []
    for method, path, content_type, body in ROUND:
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
        headers = {"Authorization": "Bearer demo-token-not-secret"}
        if content_type:
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body.encode() or None, headers)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        finally:
            connection.close()
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the shop, e.g. http://127.0.0.1:8001")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between rounds")
    args = parser.parse_args()
    for number in range(args.rounds):
        print(f"round {number + 1}: {send_round(args.url)}", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
