"""`jwtd import-django` (issue 6, item 3) against real Django databases.

A Django project (the test site tests/peers/django_site, state in a temp dir)
creates its users with its own `manage.py` - PBKDF2 hashes, a superuser, an inactive staff
user, an unusable password, a duplicate email - in a SQLite file and, with its settings
pointed at PostgreSQL (Django's postgresql backend, Debian python3-psycopg2), in a real
PostgreSQL database. jwtd imports them and then:
  * users log in to jwtd with their Django passwords, keep their Django ids (user_id), and
    their hash is rehashed to argon2id at the first login;
  * roles follow is_superuser/is_staff; inactive and unusable-password users cannot log in;
  * re-running is idempotent (nothing duplicated; jwtd's new hash kept) and picks up changes
    made in Django (email, deactivation -> live sessions revoked);
  * --dry-run writes nothing.
The jwtd side runs on SQLite or PostgreSQL like every other test (JWTD_TEST_DB=pg).
"""

import os
import shutil
import subprocess
import tempfile

import pytest

import peers
import pgdb
from peers import TEST_PASSWORD, claims, tokens  # noqa: F401 (fixtures)


SHELL_SETUP = '''
from django.contrib.auth.models import User
User.objects.create_superuser("admin", "admin@example.com", "adminpass123")
u = User.objects.create_user("nopw", "nopw@example.com")
u.set_unusable_password(); u.save()
User.objects.create_user("staffer", "staff@example.com", "staffpass123", is_staff=True,
                         is_active=False)
User.objects.create_user("dupmail", "TEST@example.com", "duppass1234")
User.objects.create_user("유저", "unicode@example.com", "unicodepass1")
'''


class DjangoProject:
    """The test Django site with a SQLite (temp dir) or PostgreSQL database (its settings
    read DJANGO_DB_PATH / DJANGO_PG_URL); manage.py runs from the repository."""

    def __init__(self, pg_url=None):
        peers.require_packages(["python3-django", "python3-djangorestframework",
                                "python3-djangorestframework-simplejwt"] +
                               (["python3-psycopg2"] if pg_url else []))
        self.dir = tempfile.mkdtemp(prefix="jwtd-django-")
        self.tree = peers.DJANGO_SITE
        self.sqlite_path = os.path.join(self.dir, "django.sqlite3")
        self.pg_url = pg_url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("JWTD_")}
        self.env.update({"JWT_ALG": "HS256", "JWT_SECRET_KEY": peers.SHARED_SECRET,
                         "DJANGO_DB_PATH": self.sqlite_path, "PYTHONDONTWRITEBYTECODE": "1"})
        if pg_url:
            self.env["DJANGO_PG_URL"] = pg_url

    @property
    def url(self):
        """What `jwtd import-django --database` gets."""
        return self.pg_url if self.pg_url else "sqlite:" + self.sqlite_path

    def manage(self, *args, stdin=None):
        p = subprocess.run([peers.PY, "manage.py"] + list(args), cwd=self.tree, env=self.env,
                           input=stdin, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, "manage.py %s: %s%s" % (" ".join(args), p.stdout, p.stderr)
        return p.stdout

    def setup(self, bulk=3):
        self.manage("migrate", "-v0")
        self.manage("create_test_users", "--bulk", str(bulk))
        self.manage("shell", stdin=SHELL_SETUP)
        return self

    def shell(self, code):
        return self.manage("shell", stdin=code)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def django_db(request):
    pg_url = None
    if request.param == "postgresql":
        if not pgdb.available():
            pytest.skip("PostgreSQL server binaries not installed")
        srv = pgdb.server()
        pg_url = srv.url(srv.create_database("django"))
    proj = DjangoProject(pg_url).setup()
    yield proj
    proj.close()


def import_django(j, proj, *extra, check=True):
    p = j.cli("import-django", "--database", proj.url, *extra, check=False)
    if check:
        assert p.returncode == 0, "import-django: %d\n%s\n%s" % (p.returncode, p.stdout,
                                                                 p.stderr)
    return p


def user_rows(j):
    return {r[1]: r for r in pgdb.db_query(
        j.env["JWTD_DATABASE_URL"],
        "SELECT id, username, email, role, is_active, password, first_name, last_name "
        "FROM users ORDER BY id")}


def django_users(proj):
    out = proj.shell("from django.contrib.auth.models import User\n"
                     "for u in User.objects.order_by('id'): print(u.id, u.username)\n")
    return {name: int(i) for i, name in (line.split(" ", 1) for line in out.split("\n") if line)}


def login(j, username, password):
    return j.post("/api/token/", {"username": username, "password": password})


def test_import_then_login_with_django_passwords(tokens, django_db):
    j = tokens(users=())
    p = import_django(j, django_db)
    ids = django_users(django_db)
    n = len(ids)
    assert "%d users read" % n in p.stdout, p.stdout
    # dupmail's TEST@example.com collides (case-insensitively) with testuser's email
    assert "created %d, updated 0, unchanged 0, skipped 0" % n in p.stdout, p.stdout
    assert "without email (duplicate) 1, unusable passwords 1" in p.stdout, p.stdout
    assert "dupmail" in p.stderr and "imported without an email" in p.stderr

    rows = user_rows(j)
    assert {name: r[0] for name, r in rows.items()} == ids  # ids kept
    t = rows["testuser"]
    assert (t[2], t[3], t[4], t[6], t[7]) == ("test@example.com", "user", True, "Test", "User")
    assert t[5].startswith("pbkdf2_sha256$260000$")  # the Django hash, as it was
    assert rows["admin"][3] == "admin" and rows["staffer"][3] == "admin"
    assert rows["staffer"][4] is False or rows["staffer"][4] == 0
    assert rows["nopw"][5] == ""
    assert rows["dupmail"][2] == ""

    # old passwords work; ids are Django's; the hash becomes argon2id
    for name, pw in (("testuser", TEST_PASSWORD), ("admin", "adminpass123"),
                     ("user00002", TEST_PASSWORD), ("유저", "unicodepass1")):
        r = login(j, name, pw)
        assert r.status_code == 200, (name, r.text)
        c = claims(r.json()["access"])
        assert str(c["user_id"]) == str(ids[name])
        assert user_rows(j)[name][5].startswith("$argon2id$"), name
        assert j.me(r.json()["access"]).json()["id"] == ids[name]
    assert claims(login(j, "admin", "adminpass123").json()["access"]).get("role") == "admin"
    # rehashed: still the same password
    assert login(j, "testuser", TEST_PASSWORD).status_code == 200
    # wrong password, inactive user, unusable password: the usual 401
    for name, pw in (("testuser", "wrongpass123"), ("staffer", "staffpass123"),
                     ("nopw", "")):
        r = login(j, name, pw or "anything123")
        assert r.status_code == 401, (name, r.text)
        assert r.json()["code"] == "no_active_account"

    # re-run: nothing duplicated, jwtd's argon2id hashes kept
    p = import_django(j, django_db)
    assert "created 0, updated 0, unchanged %d, skipped 0" % n in p.stdout, p.stdout
    assert len(user_rows(j)) == n
    assert user_rows(j)["testuser"][5].startswith("$argon2id$")
    assert login(j, "testuser", TEST_PASSWORD).status_code == 200
    # a native jwtd user created later gets a fresh id above every imported one
    j.create_user("native", email="native@example.com")
    assert user_rows(j)["native"][0] > max(ids.values())


def test_reimport_follows_changes_in_django(tokens, django_db):
    j = tokens(users=())
    import_django(j, django_db)
    session = login(j, "user00003", TEST_PASSWORD).json()
    assert j.me(session["access"]).status_code == 200
    django_db.shell("from django.contrib.auth.models import User\n"
                    "u = User.objects.get(username='user00001'); u.email = 'new1@example.org'; "
                    "u.first_name = 'Renamed'; u.save()\n"
                    "u = User.objects.get(username='user00003'); u.is_active = False; u.save()\n")
    try:
        p = j.cli("import-django", "--database", django_db.url, "--verbose")
        assert "created 0, updated 2," in p.stdout, p.stdout
        assert "updated   %d user00001" % django_users(django_db)["user00001"] in p.stdout
        rows = user_rows(j)
        assert rows["user00001"][2] == "new1@example.org" and rows["user00001"][6] == "Renamed"
        # deactivated in Django: login refused, the live session revoked at once
        assert login(j, "user00003", TEST_PASSWORD).status_code == 401
        assert j.refresh(session["refresh"]).status_code == 401
    finally:
        django_db.shell("from django.contrib.auth.models import User\n"
                        "u = User.objects.get(username='user00001'); "
                        "u.email = 'user00001@example.com'; u.first_name = 'Bulk'; u.save()\n"
                        "User.objects.filter(username='user00003').update(is_active=True)\n")


def test_dry_run_writes_nothing(tokens, django_db):
    j = tokens(users=())
    p = import_django(j, django_db, "--dry-run")
    n = len(django_users(django_db))
    assert p.stdout.startswith("dry run: %d users read" % n), p.stdout
    assert "would create %d" % n in p.stdout and "nothing was written" in p.stdout
    assert user_rows(j) == {}
    import_django(j, django_db)
    p = import_django(j, django_db, "-n")
    assert "would create 0, would update 0, unchanged %d" % n in p.stdout, p.stdout


def test_ids_and_usernames_of_native_users_are_never_merged(tokens, django_db):
    """jwtd already has users: testuser (id 1, the same person as Django's id 1) and
    user00003 (id 2). Django's id 2 is user00001 and its user00003 has id 4: both are
    skipped and reported (exit 1); every other user is imported."""
    j = tokens(users=("testuser",))
    j.cli("user", "create", "user00003", "--password-stdin", stdin="nativepass123")
    ids = django_users(django_db)
    assert ids["user00001"] == 2 and ids["user00003"] != 2
    p = import_django(j, django_db, check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "user 2 (user00001) skipped: its id or username belongs to another user" in p.stderr
    assert "(user00003) skipped" in p.stderr
    assert "skipped 2" in p.stdout, p.stdout
    rows = user_rows(j)
    assert rows["user00003"][0] == 2 and "user00001" not in rows
    assert rows["testuser"][0] == 1 and rows["admin"][0] == ids["admin"]
    # the native user is untouched
    assert login(j, "user00003", "nativepass123").status_code == 200
    assert login(j, "user00003", TEST_PASSWORD).status_code == 401


def test_bad_arguments(tokens, tmp_path):
    j = tokens(users=())
    p = j.cli("import-django", check=False)
    assert p.returncode == 2 and "--database URL is required" in p.stderr
    p = j.cli("import-django", "--database", str(tmp_path / "missing.sqlite3"), check=False)
    assert p.returncode == 1 and "no SQLite database" in p.stderr
    p = j.cli("import-django", "--database", "postgresql://u@127.0.0.1:1/x", check=False)
    assert p.returncode == 1 and "cannot connect to the Django database" in p.stderr
    p = j.cli("import-django", "--database", "x", "--table", "auth_user; DROP", check=False)
    assert p.returncode == 2 and "plain table name" in p.stderr
    empty = tmp_path / "empty.sqlite3"
    import sqlite3
    sqlite3.connect(str(empty)).close()
    p = j.cli("import-django", "--database", str(empty), check=False)
    assert p.returncode == 1 and "no table auth_user" in p.stderr
