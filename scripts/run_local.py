"""Serve the site and run the task worker together for local use (``make run``).

honcho starts both from Procfile.dev and stops both on Ctrl-C (or when either stops). With DEBUG on
(the local .env) the site listens on 127.0.0.1 only, whatever HOST says: Django's debug pages show
settings and tracebacks, which must not reach other machines. With DEBUG off it may listen on HOST,
and static files are collected first (whitenoise serves them from STATIC_ROOT).
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def main() -> int:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "popsite.settings")
    from django.conf import settings  # reads .env; the environment wins

    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    if settings.DEBUG:
        if host not in LOOPBACK:
            print(f"DEBUG is on: serving on 127.0.0.1 only, not {host} (debug pages stay local).")
        host = "127.0.0.1"
    else:
        env.setdefault("ALLOWED_HOSTS", ",".join(sorted({"127.0.0.1", "localhost", host})))
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], check=True, env=env
        )
    env["WEB_ADDRESS"] = f"{host}:{port}"
    print(f"Serving http://{host}:{port}/ and running the task worker; Ctrl-C stops both.")
    sys.stdout.flush()
    honcho = bin_dir / "honcho"
    # --env /dev/null: honcho would otherwise load .env over the environment; settings read it.
    os.execve(honcho, [str(honcho), "--env", "/dev/null", "-f", "Procfile.dev", "start"], env)


if __name__ == "__main__":
    sys.exit(main())
