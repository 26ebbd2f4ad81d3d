"""Write the local development settings file ``.env`` (``make env``; ``make run`` calls it first).

Run once on a fresh clone so ``manage.py`` and gunicorn start without exporting anything: a
generated SECRET_KEY (never shared, never committed: ``.env`` is git-ignored) and DEBUG=1. An
existing file is left alone, so a key, and the sessions signed with it, survive later runs.
Variables set in the environment still win over the file (see popsite/settings.py).
"""

import secrets
import sys
from pathlib import Path

TEMPLATE = """\
# Local development settings, written by `make run` / `make env` (git-ignored: never commit it).
# Variables set in the environment win over these. Production sets its own in the environment.
SECRET_KEY={secret_key}
# DEBUG=1 shows Django's debug pages: `make run` then serves on 127.0.0.1 only.
DEBUG=1
ALLOWED_HOSTS=127.0.0.1,localhost
# DATABASE_URL=postgres://postgres@127.0.0.1:5432/popforecasts   (default: SQLite db.sqlite3)
# REDIS_URL=redis://127.0.0.1:6379/0                              (default: local memory)
"""


def main(path: Path) -> int:
    if path.exists():
        print(f"{path} exists; left as it is.")
        return 0
    path.write_text(TEMPLATE.format(secret_key=secrets.token_urlsafe(50)))
    path.chmod(0o600)
    print(f"Wrote {path} (local settings: a generated SECRET_KEY, DEBUG=1).")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".env")))
