"""``objfs serve``: an S3-compatible HTTP API over the store (an adapter).

Routing, XML, SigV4 and headers only: every S3 rule lives in ``objfs/store``.
Modules by job: ``app`` (ASGI entry, routing), ``request`` (one request,
its response), ``auth`` (SigV4), ``body`` (streamed request bodies:
aws-chunked, checksums), ``xmldoc`` (render and parse), ``errors`` (S3
error documents), one module per group of operations (``buckets``,
``config``, ``objects``, ``listing``, ``multipart``), and ``server``
(hypercorn on trio, graceful shutdown).
"""
