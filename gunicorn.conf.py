"""gunicorn settings read from the working directory (Procfile and the benchmarks start gunicorn
here); command-line options still override them.

limit_request_line: gunicorn's default (4094 bytes) answers longer request lines itself, with an
HTML 414 the API's schema does not promise. 8190 is gunicorn's largest finite value: the app answers
/api/ URLs up to rules.API_URL_MAX_BYTES and a JSON 414 beyond, below that ceiling.

post_worker_init: each worker loads the active data before its first request, then freezes what
it loaded out of the garbage collector's walks (forecasts.active_data.freeze_loaded).
"""

limit_request_line = 8190


def post_worker_init(worker):
    """Each worker loads the active data and the default model's calibration while it boots,
    before it takes a request (forecasts.services.warm_up): a fresh worker's first forecast
    then costs what any other does. It says so in the log (at --log-level info)."""
    import time

    from forecasts.active_data import freeze_loaded
    from forecasts.services.warm_up import warm_up

    started = time.perf_counter()
    loaded = warm_up()
    freeze_loaded()  # what it loaded stays: no garbage collection walks it again
    if worker is not None:
        worker.log.info(
            "Worker %s warmed up in %.0f ms (%s)",
            worker.pid,
            (time.perf_counter() - started) * 1000,
            "data loaded" if loaded else "no data loaded",
        )
