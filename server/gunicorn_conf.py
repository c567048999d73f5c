"""gunicorn settings for production; every value can be overridden on the command line."""

import multiprocessing
import os

bind = os.environ.get("DCC_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("DCC_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("DCC_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = 30
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so that a slow leak can never take a node down.
max_requests = 10_000
max_requests_jitter = 1_000
# Request logs are written by the application (structured, with request ids, no query strings).
accesslog = None
errorlog = "-"
forwarded_allow_ips = os.environ.get("DCC_FORWARDED_ALLOW_IPS", "127.0.0.1")
limit_request_line = 8190
