"""gunicorn settings read from the working directory (Procfile and the benchmarks start gunicorn
here); command-line options still override them.

limit_request_line: gunicorn's default (4094 bytes) answers longer request lines itself, with an
HTML 414 the API's schema does not promise. 8190 is gunicorn's largest finite value: the app answers
/api/ URLs up to rules.API_URL_MAX_BYTES and a JSON 414 beyond, below that ceiling.
"""

limit_request_line = 8190
