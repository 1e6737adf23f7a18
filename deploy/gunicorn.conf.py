# gunicorn settings for a coopfed node behind nginx:
#   gunicorn -c deploy/gunicorn.conf.py 'node.wsgi:create()'
# Every value can be overridden on the command line (the deploy test binds another port).
import os
import shutil

bind = os.environ.get("COOPFED_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("COOPFED_WEB_WORKERS", "2"))
threads = 4
worker_class = "gthread"
timeout = 30
forwarded_allow_ips = "127.0.0.1"
# The app logs every request itself (JSON with the request id when log_json is on).
accesslog = None
raw_env = ["COOPFED_WORKER_IN_PROCESS=false"]
# Build the vocabulary and the match index once, in the master, before forking: the workers
# share those pages copy-on-write (node.wsgi.create freezes them out of the collector) and are
# ready on their first request. Code upgrades then need a restart, not a HUP.
preload_app = True

# Prometheus multiprocess mode: every worker writes its counters to files in this folder and
# /metrics sums them. It must be empty when the master starts (stale files would add up).
# systemd's RuntimeDirectory= (/run/coopfed, emptied at each start), else the instance folder.
_RUNTIME = os.environ.get("RUNTIME_DIRECTORY") or os.environ.get(
    "COOPFED_INSTANCE_PATH", "instance"
)
PROMETHEUS_DIR = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", os.path.join(os.path.abspath(_RUNTIME), "prometheus")
)
# Emptied here, when the master reads this file: with preload_app the app (and its metrics)
# is loaded before gunicorn's on_starting hook runs.
shutil.rmtree(PROMETHEUS_DIR, ignore_errors=True)
os.makedirs(PROMETHEUS_DIR, mode=0o700, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_fork(server, worker):
    # The text model (profiles.text_model) loads per process, after the fork (its engine's
    # threads would not survive one): in the background, so the worker takes requests at once.
    from profiles import text_model

    text_model.warm_in_background()
