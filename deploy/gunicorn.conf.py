# gunicorn settings for a coopfed node behind nginx: `gunicorn -c deploy/gunicorn.conf.py 'node.wsgi:create()'`
bind = "127.0.0.1:8000"
workers = 4
threads = 4
worker_class = "gthread"
timeout = 30
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
raw_env = ["COOPFED_WORKER_IN_PROCESS=false"]
