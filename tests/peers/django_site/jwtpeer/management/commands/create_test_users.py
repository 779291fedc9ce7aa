"""manage.py create_test_users [--bulk N]: testuser (id 1 in a fresh database, password
testpass123, test@example.com, Test User) and user00001..userNNNNN (same password, email
userNNNNN@example.com, first name Bulk). Existing users are left alone."""

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

PASSWORD = "testpass123"


class Command(BaseCommand):
    help = "create testuser and N bulk users (password testpass123)"

    def add_arguments(self, parser):
        parser.add_argument("--bulk", type=int, default=0)

    def handle(self, *args, **opts):
        if not User.objects.filter(username="testuser").exists():
            User.objects.create_user("testuser", "test@example.com", PASSWORD,
                                     first_name="Test", last_name="User")
        # one PBKDF2 hash for every bulk user: hashing thousands would take minutes
        hashed = make_password(PASSWORD)
        have = set(User.objects.filter(username__startswith="user").values_list(
            "username", flat=True))
        new = [User(username="user%05d" % i, email="user%05d@example.com" % i,
                    first_name="Bulk", last_name="%05d" % i, password=hashed)
               for i in range(1, opts["bulk"] + 1) if "user%05d" % i not in have]
        User.objects.bulk_create(new, batch_size=500)
        self.stdout.write("%d users" % User.objects.count())
