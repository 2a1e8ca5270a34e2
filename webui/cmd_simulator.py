"""``panjereh simulator``: run the agency registry simulator in the foreground.

It answers every inquiry service of the catalog over HTTP from a seeded
synthetic population (see :mod:`engine.simulator`), until interrupted. Point
an engine at it with ``PANJEREH_INQUIRY_BASE_URL=<printed URL>``.

Exit codes: 0 after Ctrl-C or SIGTERM; 1 when the address cannot be bound; 2 usage error.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any

from engine.simulator import FAILURE_MODES, start_simulator


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return value


def register(subparsers: Any) -> None:
    """Add the ``simulator`` subcommand to the ``panjereh`` parser."""
    p = subparsers.add_parser("simulator", help="run the agency registry simulator (synthetic population over HTTP)",
                              description=__doc__.split("\n\n")[1] if __doc__ else None)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    p.add_argument("--port", type=_port, default=0, help="port (default 0: any free port, printed)")
    p.add_argument("--latency-ms", type=_non_negative, default=0, help="delay before each answer")
    p.add_argument("--jitter-ms", type=_non_negative, default=0, help="extra random delay, up to this much")
    p.add_argument("--failure-rate", type=_rate, default=0.0, help="fraction of requests that fail (0..1)")
    p.add_argument("--failure-mode", choices=FAILURE_MODES, default="503",
                   help="how requests fail: 503 answers, hanging connections (timeout), or both")
    p.add_argument("--seed", type=int, default=1405, help="population seed (same seed, same people)")
    p.set_defaults(func=_cmd_simulator)


def _cmd_simulator(args: argparse.Namespace, out: Any, *, stop: threading.Event | None = None) -> int:
    try:
        handle = start_simulator(args.host, args.port, args.latency_ms, args.failure_rate, args.seed,
                                 failure_mode=args.failure_mode, jitter_ms=args.jitter_ms)
    except OSError as exc:
        print(f"panjereh simulator: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print("panjereh simulator: warning: listening beyond loopback; its control endpoint is unauthenticated",
              file=sys.stderr)
    pop = handle.state.population
    out.write(f"registry simulator listening on {handle.url}\n"
              f"  {len(handle.state.catalog.services)} inquiry services, {len(pop.persons)} people (seed {args.seed})\n"
              f"  try: curl {handle.url}/services\n")
    out.flush()
    waiter = stop or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        # SIGTERM (service managers, `kill`) stops as cleanly as Ctrl-C does.
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: waiter.set())
    try:
        while not waiter.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    out.write("registry simulator stopped\n")
    return 0
