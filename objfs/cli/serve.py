"""CLI: ``objfs serve`` — the S3-compatible HTTP API over the store.

Owns argument checking and the start-up message (the endpoint and how to
point the aws cli at it); the server itself is ``objfs.s3api.server``, its
worker processes (``--workers``) ``objfs.s3api.workers``. The store is
opened before anything listens (a store that cannot open fails first); with
several workers it is closed again before they fork, and each opens its own.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable

from objfs.cli.app import CliApp
from objfs.cli.args import CliError
from objfs.cli.builder import Builder


def _listen(text: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535 or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:9000)")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1e6:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return value


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < 1e12:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of bytes per second (0: none)")
    return value


def _workers(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 256:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of processes from 1 to 256")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 1_000_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of connections above 0")
    return int(text)


def cmd_serve(app: CliApp, args: argparse.Namespace) -> int:
    from objfs.s3api.connections import Limits
    from objfs.s3api.server import bound_urls, open_listeners, serve
    from objfs.s3api.workers import Supervisor, WorkerError, default_count

    if (args.tls_cert is None) != (args.tls_key is None):
        raise CliError("--tls-cert and --tls-key go together")
    host = args.listen.rpartition(":")[0].strip("[]")
    try:
        public = not ipaddress.ip_address(host).is_loopback
    except ValueError:
        public = host != "localhost"
    if public and args.tls_cert is None:
        print(
            f"objfs serve: warning: {host} is not a loopback address and there is no TLS: "
            "requests and SSE-C keys would cross the network in clear text",
            file=sys.stderr,
        )
    workers = args.workers or default_count()
    limits = Limits(
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        body_min_rate=args.body_min_rate,
        max_connections=args.max_connections,
    )

    def ready(binds: list[str]) -> None:
        endpoint = binds[0] if binds else args.listen
        many = f", {workers} workers" if workers > 1 else ""
        print(
            f"objfs serve: S3 API on {endpoint} "
            f"(store {app.store_path}, region {args.region}{many})"
        )
        print(f"  aws --endpoint-url {endpoint} s3 ls")
        print(
            "  credentials: `objfs user keys create USER` prints an access key for "
            "`aws configure`; unsigned requests are anonymous"
        )
        sys.stdout.flush()

    def serve_here(on_ready: Callable[[list[str]], None], *, timer_here: bool) -> None:
        timer = None
        store = app.store
        if args.lifecycle_interval and timer_here:
            from objfs.store.expiry import LifecycleTimer

            timer = LifecycleTimer(store, args.lifecycle_interval).start()
        try:
            serve(
                store, config, sockets, region=args.region, domain=args.domain,
                on_ready=on_ready, limits=limits, sigv2=not args.no_sigv2,
            )  # fmt: skip
        finally:
            if timer is not None:
                timer.stop()

    app.store  # noqa: B018 - opened now: a store that cannot open fails before listening
    config, sockets = open_listeners(args.listen, args.tls_cert, args.tls_key, limits)
    if workers == 1:
        serve_here(ready, timer_here=True)
        return 0  # the CLI closes the store
    # Several workers, each a full server over its own store handle: none is
    # open (nor any of its threads running) across the fork.
    app.close()

    def work(index: int, worker_ready: Callable[[], None]) -> None:
        try:  # one lifecycle timer, in the first worker
            serve_here(lambda binds: worker_ready(), timer_here=index == 0)
        finally:
            app.close()

    try:
        return Supervisor(workers, work).run(lambda: ready(bound_urls(sockets)))
    except WorkerError as err:  # the worker's own message is on stderr already
        raise CliError(f"serve: {err}") from None


def register(build: Builder) -> None:
    p = build.add(
        "serve",
        cmd_serve,
        "serve the store over an S3-compatible HTTP API",
        "objfs serve --listen 127.0.0.1:9000\naws --endpoint-url http://127.0.0.1:9000 s3 ls",
    )
    p.add_argument(
        "--listen",
        type=_listen,
        default="127.0.0.1:9000",
        metavar="HOST:PORT",
        help="address to listen on (default 127.0.0.1:9000; port 0 picks a free one)",
    )
    p.add_argument("--tls-cert", metavar="FILE", help="TLS certificate (PEM) for HTTPS")
    p.add_argument("--tls-key", metavar="FILE", help="TLS private key (PEM) for HTTPS")
    p.add_argument(
        "--region", default="local", metavar="R", help="region of new buckets (default local)"
    )
    p.add_argument(
        "--domain",
        metavar="D",
        help="serve virtual-hosted-style requests too: BUCKET.D addresses bucket BUCKET",
    )
    p.add_argument(
        "--lifecycle-interval",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="apply the buckets' lifecycle rules every SECONDS (default: never; "
        "`objfs lifecycle run` from the contrib/ timer does it instead)",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="server processes sharing the listening socket, each a full server over "
        "the store (default: one per core; 1: serve in this process)",
    )
    limits = p.add_argument_group("limits (what slow or many clients may hold)")
    limits.add_argument(
        "--max-connections",
        type=_count,
        default=512,
        metavar="N",
        help="connections open at once; more wait to be accepted (default 512)",
    )
    limits.add_argument(
        "--header-timeout",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="seconds to send a request's head, from the connection's start or the "
        "previous response; an idle keep-alive connection closes after it too (default 10)",
    )
    limits.add_argument(
        "--body-timeout",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="a request body that sends nothing for S seconds, or a client that reads "
        "nothing of its answer for S seconds, is cut off (default 30)",
    )
    limits.add_argument(
        "--body-min-rate",
        type=_rate,
        default=1024.0,
        metavar="BYTES",
        help="a request body slower than BYTES/s on average after its first --body-timeout "
        "seconds is cut off (default 1024; 0: no minimum)",
    )
    p.add_argument(
        "--no-sigv2",
        action="store_true",
        help="refuse AWS Signature Version 2 (header and pre-signed URL; "
        "by default both SigV2 and SigV4 are accepted)",
    )
