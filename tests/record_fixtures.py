"""Record the sandbox answers of the spider fixture tests where no real Polygon response is
recorded: ``.venv/bin/python -m tests.record_fixtures`` from the project root rewrites them
(the sandbox is deterministic, so a re-recording changes only their ``request_id``)."""

import json
import urllib.request
from pathlib import Path

from screener_crawler.sandbox import SANDBOX_API_KEY, SandboxProcess

FIXTURE_ROOT = Path(__file__).parent / "fixtures"

SANDBOX = {"universe_size": 8, "delisted": 2, "as_of": "2024-04-05"}
"""Eight active stocks: the eighth has warrants, which the grouped daily bars hold and the
common-stock universe does not."""

RECORDINGS = {
    "universe/tickers_v3_active_false__sandbox.json":
        "/v3/reference/tickers?market=stocks&type=CS&active=false&limit=1000&sort=ticker&order=asc",
    "prices/grouped_daily_2024-03-27__sandbox.json": "/v2/aggs/grouped/locale/us/market/stocks/2024-03-27?adjusted=false",
    "prices/grouped_daily_2024-03-28__sandbox.json": "/v2/aggs/grouped/locale/us/market/stocks/2024-03-28?adjusted=false",
}


def served(sandbox, path_and_query):
    request = urllib.request.Request(sandbox.url + path_and_query,
                                     headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def main():
    with SandboxProcess(**SANDBOX) as sandbox:
        for name, path_and_query in RECORDINGS.items():
            target = FIXTURE_ROOT / name
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_suffix(".tmp")
            temporary.write_text(json.dumps(served(sandbox, path_and_query), indent=2) + "\n")
            temporary.replace(target)
            print(f"recorded {name}")


if __name__ == "__main__":
    main()
