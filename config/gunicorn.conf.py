"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py config.wsgi …`.

The access log omits what may carry personal data: the query string (the call centre's
search sends ?q=<name or ticket number>, resident pages ?token=) and the Referer header (the
previous page's full URL, query included). It logs the path without the query, %(U)s, where
gunicorn's default logs the whole request line, %(r)s. Application logs go through Django's
LOGGING, which redacts them (config/logging_filters.py).
"""

# Access log to stdout, for the process manager to collect.
accesslog = "-"
# Remote address, time, method, path (no query), protocol, status, bytes, user agent, duration µs.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(D)s'
