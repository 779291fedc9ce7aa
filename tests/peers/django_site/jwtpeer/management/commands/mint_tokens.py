"""manage.py mint_tokens --type access|refresh [--user NAME] [--count N] [--expired]
[--out FILE]: tokens signed with the site's own settings, one a line (stdout or FILE).
--expired backdates them (exp 60 s in the past). Refresh tokens are recorded as
outstanding, as a login would, so they can be refreshed and blacklisted."""

from datetime import timedelta

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken
from rest_framework_simplejwt.utils import aware_utcnow


class Command(BaseCommand):
    help = "mint access or refresh tokens for a user"

    def add_arguments(self, parser):
        parser.add_argument("--type", choices=["access", "refresh"], default="access")
        parser.add_argument("--user", default="testuser")
        parser.add_argument("--count", type=int, default=1)
        parser.add_argument("--expired", action="store_true")
        parser.add_argument("--out")

    def handle(self, *args, **opts):
        user = User.objects.get(username=opts["user"])
        cls = RefreshToken if opts["type"] == "refresh" else AccessToken
        out = []
        for _ in range(opts["count"]):
            if opts["expired"]:
                tok = cls()  # not recorded: an expired token cannot be used anyway
                tok["user_id"] = user.id
                past = aware_utcnow() - timedelta(seconds=60)
                tok.set_iat(at_time=past - tok.lifetime)
                tok.set_exp(from_time=past, lifetime=timedelta(0))
            else:
                tok = cls.for_user(user)
            out.append(str(tok))
        text = "\n".join(out) + "\n"
        if opts["out"]:
            with open(opts["out"], "w") as f:
                f.write(text)
        else:
            self.stdout.write(text, ending="")
