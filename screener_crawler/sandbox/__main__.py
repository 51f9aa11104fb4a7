"""``python -m screener_crawler.sandbox``: serve the Polygon-compatible sandbox until stopped."""

import argparse
import os
import signal
import sys
import threading

from .cli import add_arguments, options_from_args
from .server import SandboxServer


def _exit_on_eof():
    """Exit as soon as stdin closes, i.e. when the parent process is gone."""
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)


def run(options, exit_on_stdin_eof=False):
    server = SandboxServer(options)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if exit_on_stdin_eof:
        threading.Thread(target=_exit_on_eof, daemon=True).start()
    print(f"Polygon sandbox listening on {server.url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m screener_crawler.sandbox", description=__doc__)
    add_arguments(parser)
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="exit when stdin reaches end of file (the parent died)")
    args = parser.parse_args(argv)
    run(options_from_args(args), args.exit_on_stdin_eof)


if __name__ == "__main__":
    main()
